//! From per-server readings to one [`DatabaseSnapshot`]: detect roles (never trust the profile),
//! compute lag against the primary (or its last known position when it is gone), match the
//! primary's `pg_stat_replication` rows to the profile's replicas, and flag second primaries.
//! Pure: the connector feeds it what one poll read.

use super::reading::Reading;
use crate::model::snapshot::{DatabaseSnapshot, DbRole, DbServer, ReplicationStat, Sample};
use std::collections::HashMap;

/// One server as one poll saw it.
pub struct ServerPoll {
    pub name: String,
    pub profile_role: DbRole,
    /// Host from the DSN, to match `pg_stat_replication.client_addr`.
    pub host: String,
    pub result: Result<Reading, String>,
    /// Transactions per second since the previous poll, when there was one.
    pub tps: Option<f64>,
    /// `result` is the server's previous answer: this poll's read is still running within its
    /// time-out, for the reason given.
    pub slow: Option<String>,
}

/// What the connector remembers between polls.
#[derive(Debug, Default)]
pub struct Memory {
    pub last_primary_lsn: Option<u64>,
    /// Per server: the timeline it was on when last seen in recovery.
    pub recovery_timelines: HashMap<String, u32>,
    /// Per server: the role it had at its last answer, kept while it does not answer.
    pub last_roles: HashMap<String, DbRole>,
}

pub fn assemble(
    endpoint: &str,
    polls: &[ServerPoll],
    memory: &mut Memory,
    max_failover_lag_bytes: u64,
    now_ms: i64,
) -> (DatabaseSnapshot, Vec<Sample>) {
    // The reference primary: the one that accepts writes; among several, the one on the
    // newest timeline (a promotion always starts a new one; the older primary is the stale one
    // to fence, whatever the profile's order); else the last position seen.
    let writers: Vec<&ServerPoll> = polls
        .iter()
        .filter(|p| matches!(&p.result, Ok(r) if !r.in_recovery))
        .collect();
    let newest = newest_writer(&writers);
    let reference = match writers[..] {
        [one] => Some(one),
        _ => newest,
    }
    .or_else(|| {
        writers
            .iter()
            .find(|p| p.profile_role == DbRole::Primary)
            .or_else(|| writers.first())
            .copied()
    });
    let reference_lsn = reference
        .and_then(|p| p.result.as_ref().ok())
        .and_then(|r| r.current_lsn);
    if let Some(lsn) = reference_lsn {
        memory.last_primary_lsn = Some(memory.last_primary_lsn.map_or(lsn, |l| l.max(lsn)));
    }
    let primary_lsn = reference_lsn.or(memory.last_primary_lsn);

    let mut rows: Vec<Option<ReplicationStat>> = reference
        .and_then(|p| p.result.as_ref().ok())
        .map(|r| r.replication.iter().cloned().map(Some).collect())
        .unwrap_or_default();
    let matched = match_replication_rows(polls, &mut rows);

    let mut samples = Vec::new();
    let mut servers = Vec::with_capacity(polls.len());
    for (i, p) in polls.iter().enumerate() {
        let target = format!("{endpoint}/{}", p.name);
        let mut s = DbServer {
            name: p.name.clone(),
            role: p.profile_role,
            profile_role: p.profile_role,
            ..DbServer::default()
        };
        match &p.result {
            Err(e) => {
                s.error = Some(e.clone());
                if let Some(role) = memory.last_roles.get(&p.name) {
                    s.role = *role;
                    s.role_seen = true;
                }
            }
            Ok(r) => {
                s.reachable = true;
                s.role_seen = true;
                s.slow.clone_from(&p.slow);
                s.in_recovery = r.in_recovery;
                s.role = if r.in_recovery {
                    DbRole::Replica
                } else {
                    DbRole::Primary
                };
                memory.last_roles.insert(p.name.clone(), s.role);
                s.timeline = r.timeline;
                if r.in_recovery
                    && let Some(tl) = r.timeline
                {
                    memory.recovery_timelines.insert(p.name.clone(), tl);
                }
                s.recovery_timeline = memory.recovery_timelines.get(&p.name).copied();
                s.connections = r.connections;
                s.max_connections = r.max_connections;
                s.tps = p.tps.unwrap_or(0.0);
                s.size_bytes = r.size_bytes;
                s.version = Some(r.version.clone());
                s.data_directory.clone_from(&r.data_directory);
                s.slots.clone_from(&r.slots);
                // Every writer but the newest; all of them when timelines cannot tell.
                s.second_primary =
                    !r.in_recovery && writers.len() > 1 && newest.is_none_or(|n| n.name != p.name);
                if r.in_recovery {
                    s.lsn = r.replay_lsn.unwrap_or(0);
                    s.receive_lsn = r.receive_lsn;
                    s.replay_paused = r.replay_paused;
                    s.last_replay_at = r.last_replay_ms;
                    s.wal_receiver.clone_from(&r.wal_receiver);
                    s.replication = matched.get(&i).cloned();
                    s.lag_bytes = primary_lsn.map(|p| p.saturating_sub(s.lsn));
                    s.lag_seconds = Some(lag_seconds(r, s.replication.as_ref(), now_ms));
                } else {
                    s.lsn = r.current_lsn.unwrap_or(0);
                }
                // A previous answer shown while this poll's read runs is not plotted again.
                if p.slow.is_some() {
                    servers.push(s);
                    continue;
                }
                if let Some(tps) = p.tps {
                    samples.push(Sample::new(&target, "tps", tps));
                }
                samples.push(Sample::new(
                    &target,
                    "connections",
                    f64::from(r.connections),
                ));
                if r.max_connections > 0 {
                    let percent = 100.0 * f64::from(r.connections) / f64::from(r.max_connections);
                    samples.push(Sample::new(&target, "connections_percent", percent));
                }
                if let (Some(b), Some(sec)) = (s.lag_bytes, s.lag_seconds) {
                    samples.push(Sample::new(&target, "lag_bytes", b as f64));
                    samples.push(Sample::new(&target, "lag_seconds", sec));
                }
            }
        }
        servers.push(s);
    }
    let snapshot = DatabaseSnapshot {
        cluster: endpoint.to_string(),
        servers,
        seen_by_primary: rows.into_iter().flatten().collect(),
        last_primary_lsn: memory.last_primary_lsn,
        max_failover_lag_bytes: Some(max_failover_lag_bytes),
    };
    (snapshot, samples)
}

/// Among several servers accepting writes, the only one on the highest timeline; `None` when
/// timelines cannot tell (equal, or unknown).
fn newest_writer<'a>(writers: &[&'a ServerPoll]) -> Option<&'a ServerPoll> {
    let timeline = |p: &ServerPoll| p.result.as_ref().ok().and_then(|r| r.timeline);
    let top = writers.iter().filter_map(|p| timeline(p)).max()?;
    match writers
        .iter()
        .filter(|p| timeline(p) == Some(top))
        .collect::<Vec<_>>()[..]
    {
        [one] => Some(*one),
        _ => None,
    }
}

/// Seconds behind: the larger of the primary's `replay_lag` and, on the replica, the age of the
/// last replayed transaction while WAL waits to be replayed (a paused or stuck replay shows
/// here even when the primary's figure is stale).
fn lag_seconds(r: &Reading, row: Option<&ReplicationStat>, now_ms: i64) -> f64 {
    let waiting = match (r.receive_lsn, r.replay_lsn) {
        (Some(rx), Some(rp)) => rx > rp,
        _ => false,
    };
    let local = match (waiting, r.last_replay_ms) {
        (true, Some(at)) => (now_ms - at).max(0) as f64 / 1000.0,
        _ => 0.0,
    };
    let remote = row.and_then(|x| x.replay_lag_seconds).unwrap_or(0.0);
    local.max(remote)
}

/// Pair the primary's replication rows with the profile's replicas; matched rows are taken out
/// of `rows` (what stays is "seen by primary" only). Returns server index -> row.
fn match_replication_rows(
    polls: &[ServerPoll],
    rows: &mut [Option<ReplicationStat>],
) -> HashMap<usize, ReplicationStat> {
    let mut out = HashMap::new();
    let replicas: Vec<(usize, &ServerPoll)> = polls
        .iter()
        .enumerate()
        .filter(|(_, p)| match &p.result {
            Ok(r) => r.in_recovery,
            Err(_) => p.profile_role == DbRole::Replica,
        })
        .collect();
    // 1. By name: the walreceiver's application_name is the replica's cluster_name (or what
    //    primary_conninfo sets), which operators usually make the server's name.
    for (i, p) in &replicas {
        let names: Vec<&str> = match &p.result {
            Ok(r) if !r.cluster_name.is_empty() => vec![r.cluster_name.as_str(), p.name.as_str()],
            _ => vec![p.name.as_str()],
        };
        let hits: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                row.as_ref()
                    .is_some_and(|x| names.contains(&x.application_name.as_str()))
            })
            .map(|(j, _)| j)
            .collect();
        if let [j] = hits[..]
            && let Some(row) = rows[j].take()
        {
            out.insert(*i, row);
        }
    }
    // 2. By address, and among equals by the closest replay position.
    for (i, p) in &replicas {
        if out.contains_key(i) {
            continue;
        }
        let own = p.result.as_ref().ok().and_then(|r| r.replay_lsn);
        let best = rows
            .iter()
            .enumerate()
            .filter_map(|(j, row)| row.as_ref().map(|x| (j, x)))
            .filter(|(_, x)| {
                x.client_addr.as_deref().map(strip_mask) == Some(p.host.as_str())
                    || (p.host == "localhost" && x.client_addr.as_deref() == Some("127.0.0.1/32"))
            })
            .min_by_key(|(_, x)| match (own, x.replay_lsn) {
                (Some(a), Some(b)) => a.abs_diff(b),
                _ => u64::MAX,
            })
            .map(|(j, _)| j);
        if let Some(j) = best
            && let Some(row) = rows[j].take()
        {
            out.insert(*i, row);
        }
    }
    out
}

fn strip_mask(addr: &str) -> &str {
    addr.split_once('/').map_or(addr, |(a, _)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(in_recovery: bool, lsn: u64) -> Reading {
        Reading {
            in_recovery,
            current_lsn: (!in_recovery).then_some(lsn),
            replay_lsn: in_recovery.then_some(lsn),
            receive_lsn: in_recovery.then_some(lsn),
            timeline: Some(1),
            max_connections: 100,
            ..Reading::default()
        }
    }

    fn poll(name: &str, role: DbRole, result: Result<Reading, String>) -> ServerPoll {
        ServerPoll {
            name: name.into(),
            profile_role: role,
            host: "127.0.0.1".into(),
            result,
            tps: None,
            slow: None,
        }
    }

    #[test]
    fn lag_uses_the_last_known_primary_position_when_it_is_gone() {
        let mut memory = Memory::default();
        let polls = [
            poll("p", DbRole::Primary, Ok(reading(false, 5000))),
            poll("r", DbRole::Replica, Ok(reading(true, 4000))),
        ];
        let (db, _) = assemble("c", &polls, &mut memory, 1 << 20, 0);
        assert_eq!(db.servers[1].lag_bytes, Some(1000));
        let polls = [
            poll("p", DbRole::Primary, Err("connection refused".into())),
            poll("r", DbRole::Replica, Ok(reading(true, 4500))),
        ];
        let (db, _) = assemble("c", &polls, &mut memory, 1 << 20, 0);
        assert_eq!(db.last_primary_lsn, Some(5000));
        assert_eq!(db.servers[1].lag_bytes, Some(500));
        assert_eq!(db.servers[0].error.as_deref(), Some("connection refused"));
        assert!(!db.servers[0].reachable);
    }

    #[test]
    fn a_crashed_primary_keeps_its_role_and_a_never_seen_server_says_so() {
        let mut memory = Memory::default();
        // The profile lists "p" as a replica: it was promoted, then crashed.
        let polls = [
            poll("p", DbRole::Replica, Ok(reading(false, 5000))),
            poll("r", DbRole::Primary, Ok(reading(true, 5000))),
        ];
        assemble("c", &polls, &mut memory, 1 << 20, 0);
        let polls = [
            poll("p", DbRole::Replica, Err("connection refused".into())),
            poll("r", DbRole::Primary, Ok(reading(true, 5000))),
            poll("n", DbRole::Replica, Err("connection refused".into())),
        ];
        let (db, _) = assemble("c", &polls, &mut memory, 1 << 20, 0);
        assert_eq!(db.servers[0].role_text(), "primary, unreachable");
        assert_eq!(db.servers[2].role_text(), "unreachable (profile: replica)");
        assert_eq!(
            db.topology_line(),
            "no primary answers, primary p unreachable -> r lag 0 B, n unreachable"
        );
    }

    #[test]
    fn a_replica_that_accepts_writes_is_a_second_primary_and_unknown_rows_are_listed() {
        let mut primary = reading(false, 9000);
        primary.replication = vec![
            ReplicationStat {
                application_name: "r1".into(),
                client_addr: Some("127.0.0.1".into()),
                ..ReplicationStat::default()
            },
            ReplicationStat {
                application_name: "stranger".into(),
                client_addr: Some("10.0.0.9".into()),
                ..ReplicationStat::default()
            },
        ];
        let mut stale = reading(false, 100);
        stale.timeline = Some(1);
        let mut newer = primary;
        newer.timeline = Some(2);
        let polls = [
            poll("p", DbRole::Primary, Ok(newer)),
            poll("r1", DbRole::Replica, Ok(reading(true, 9000))),
            poll("r2", DbRole::Replica, Ok(stale.clone())),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 1 << 20, 0);
        assert!(db.servers[2].second_primary);
        assert_eq!(db.servers[2].role, DbRole::Primary);
        assert!(!db.servers[0].second_primary);
        assert_eq!(
            db.servers[1]
                .replication
                .as_ref()
                .map(|r| r.application_name.as_str()),
            Some("r1")
        );
        assert_eq!(db.seen_by_primary.len(), 1);
        assert_eq!(db.seen_by_primary[0].application_name, "stranger");
        // By timeline, not by the profile's order: the profile's primary on the older one is
        // the stale one.
        let mut promoted = reading(false, 200);
        promoted.timeline = Some(2);
        let polls = [
            poll("p", DbRole::Primary, Ok(stale.clone())),
            poll("r2", DbRole::Replica, Ok(promoted)),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 1 << 20, 0);
        assert!(db.servers[0].second_primary && !db.servers[1].second_primary);
        // Equal timelines tell nothing: both are named.
        let polls = [
            poll("p", DbRole::Primary, Ok(stale.clone())),
            poll("r2", DbRole::Replica, Ok(stale)),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 1 << 20, 0);
        assert!(db.servers.iter().all(|s| s.second_primary));
    }
}
