//! From per-server readings to one [`MysqlSnapshot`]: detect roles, pick the reference source,
//! compare positions (relay backlog, transactions behind the source or its last known
//! position), flag second writable servers, and make the plotted samples. Pure.

use super::gtid;
use super::reading::Reading;
use crate::model::mysql::{Grants, MysqlFlavor, MysqlServer, MysqlSnapshot};
use crate::model::snapshot::{DbRole, Sample};
use std::collections::HashMap;

/// One server as one poll saw it.
pub struct ServerPoll {
    pub name: String,
    pub address: String,
    pub user: String,
    pub profile_role: DbRole,
    pub result: Result<Reading, String>,
    /// The server refused the login (as opposed to not answering).
    pub login_refused: bool,
    pub qps: Option<f64>,
    /// The login user's privileges on this server, when `SHOW GRANTS` answered.
    pub grants: Option<Grants>,
}

/// What the connector remembers between polls.
#[derive(Debug, Default)]
pub struct Memory {
    /// The reference source's position at its last answer.
    pub last_source_position: Option<String>,
    /// Per server: the role it had at its last answer, kept while it does not answer.
    pub last_roles: HashMap<String, DbRole>,
}

/// What a writable server has written: MariaDB's binlog position (its own writes and, with
/// `log_slave_updates`, what it replicated), MySQL's executed set.
fn written_position(s: &MysqlServer) -> Option<&str> {
    match s.flavor {
        MysqlFlavor::MariaDb => s.gtid_binlog_pos.as_deref(),
        MysqlFlavor::MySql => s.gtid_executed.as_deref(),
    }
    .or_else(|| s.applied_position())
}

/// With several writable servers, the one that stays is the newest by replication position:
/// the one lacking none of the transactions the others hold. Returns it (`None` when positions
/// cannot tell: equal, forked, or not comparable) and, per writable server, how far it is
/// behind it.
fn newest_writable(servers: &[MysqlServer], writable: &[usize]) -> (Option<usize>, Vec<u64>) {
    let behind_of = |i: usize, j: usize| -> Option<u64> {
        let (a, b) = (&servers[i], &servers[j]);
        gtid::missing(a.flavor, written_position(b)?, written_position(a)?).map(|g| g.transactions)
    };
    // Per writable server: what it lacks from all the others together (None: unknown).
    let lacks: Vec<Option<u64>> = writable
        .iter()
        .map(|&i| {
            writable
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| behind_of(i, j))
                .sum::<Option<u64>>()
        })
        .collect();
    let Some(known) = lacks.iter().copied().collect::<Option<Vec<u64>>>() else {
        return (None, Vec::new());
    };
    let least = known.iter().copied().min().unwrap_or(0);
    // The newest holds everything the others wrote; when every server lacks something the
    // histories have forked, and no position says which one to fence.
    if least > 0 {
        return (None, Vec::new());
    }
    let newest: Vec<usize> = writable
        .iter()
        .zip(&known)
        .filter(|(_, n)| **n == least)
        .map(|(i, _)| *i)
        .collect();
    match newest[..] {
        [one] => {
            let behind = writable
                .iter()
                .map(|&i| {
                    if i == one {
                        0
                    } else {
                        behind_of(i, one).unwrap_or(0)
                    }
                })
                .collect();
            (Some(one), behind)
        }
        _ => (None, Vec::new()),
    }
}

pub fn assemble(
    endpoint: &str,
    polls: &[ServerPoll],
    memory: &mut Memory,
    max_failover_lag_seconds: u64,
) -> (MysqlSnapshot, Vec<Sample>) {
    let mut servers: Vec<MysqlServer> = polls.iter().map(server).collect();
    for s in &mut servers {
        if s.reachable {
            memory.last_roles.insert(s.name.clone(), s.role);
        } else if let Some(role) = memory.last_roles.get(&s.name) {
            s.role = *role;
            s.role_seen = true;
        }
    }
    // The reference source: the only writable server, or among several the newest by
    // replication position (never the profile's order: the stale one is what to fence).
    // Every other writable server is a second one; all of them when positions cannot tell.
    let writable: Vec<usize> = (0..servers.len())
        .filter(|&i| servers[i].writable())
        .collect();
    let reference = match writable[..] {
        [] => None,
        [one] => Some(one),
        _ => {
            let (newest, behind) = newest_writable(&servers, &writable);
            for (k, &i) in writable.iter().enumerate() {
                let s = &mut servers[i];
                s.second_writable = Some(i) != newest;
                if newest.is_some() && s.second_writable {
                    s.behind_newest = behind.get(k).copied();
                }
            }
            newest
        }
    };
    if let Some(pos) = reference
        .filter(|&i| servers[i].replica.is_none())
        .and_then(|i| servers[i].applied_position())
    {
        memory.last_source_position = Some(pos.to_string());
    }
    let source_position = memory.last_source_position.clone();
    let mut samples = Vec::new();
    for s in &mut servers {
        if !s.reachable {
            continue;
        }
        let target = format!("{endpoint}/{}", s.name);
        if let (Some(recv), Some(applied)) = (s.received_position(), s.applied_position()) {
            s.relay_backlog = gtid::missing(s.flavor, recv, applied).map(|g| g.transactions);
        }
        if s.replica.is_some()
            && let (Some(src), Some(applied)) = (&source_position, s.applied_position())
        {
            s.behind_source = gtid::missing(s.flavor, src, applied).map(|g| g.transactions);
        }
        if let Some(qps) = s.qps {
            samples.push(Sample::new(&target, "qps", qps));
        }
        samples.push(Sample::new(
            &target,
            "connections",
            f64::from(s.connections),
        ));
        // Without max_connections (0: not read) there is no share to plot.
        if let Some(pct) = s.connections_percent() {
            samples.push(Sample::new(&target, "connections_percent", pct));
        }
        if let Some(lag) = s.lag_seconds {
            samples.push(Sample::new(&target, "lag_seconds", lag));
        }
        if let Some(n) = s.relay_backlog {
            samples.push(Sample::new(&target, "relay_backlog", n as f64));
        }
    }
    let snapshot = MysqlSnapshot {
        cluster: endpoint.to_string(),
        servers,
        last_source_position: memory.last_source_position.clone(),
        max_failover_lag_seconds,
    };
    (snapshot, samples)
}

fn server(p: &ServerPoll) -> MysqlServer {
    let mut s = MysqlServer {
        name: p.name.clone(),
        address: p.address.clone(),
        user: p.user.clone(),
        role: p.profile_role,
        profile_role: p.profile_role,
        grants: p.grants.clone(),
        ..MysqlServer::default()
    };
    match &p.result {
        Err(e) => s.error = Some(e.clone()),
        Ok(r) => {
            s.reachable = true;
            s.role_seen = true;
            s.flavor = r.flavor;
            s.version = Some(r.version.clone());
            s.server_id = r.server_id;
            s.read_only = r.read_only;
            s.super_read_only = r.super_read_only;
            s.replica.clone_from(&r.replica);
            s.gtid_binlog_pos.clone_from(&r.gtid_binlog_pos);
            s.gtid_slave_pos.clone_from(&r.gtid_slave_pos);
            s.gtid_executed.clone_from(&r.gtid_executed);
            s.connections = r.connections;
            s.max_connections = r.max_connections;
            s.qps = p.qps;
            s.role = if r.replica.is_none() && !r.read_only && r.super_read_only != Some(true) {
                DbRole::Primary
            } else {
                DbRole::Replica
            };
            // NULL is unknown, and a stopped SQL thread applies nothing: never a number then.
            s.lag_seconds = r
                .replica
                .as_ref()
                .filter(|x| x.sql_running)
                .and_then(|x| x.seconds_behind)
                .map(|n| n as f64);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mysql::{MysqlFlavor, ReplicaStatus};

    fn maria(read_only: bool, binlog: &str, replica: Option<(&str, &str, bool)>) -> Reading {
        Reading {
            version: "10.11.14-MariaDB".into(),
            flavor: MysqlFlavor::MariaDb,
            read_only,
            max_connections: 100,
            connections: 90,
            gtid_binlog_pos: Some(binlog.into()),
            gtid_slave_pos: replica.map(|(_, applied, _)| applied.to_string()),
            replica: replica.map(|(io, _, sql)| ReplicaStatus {
                io_running: "Yes".into(),
                sql_running: sql,
                gtid_io_pos: Some(io.into()),
                seconds_behind: Some(0),
                ..ReplicaStatus::default()
            }),
            ..Reading::default()
        }
    }

    fn poll(name: &str, role: DbRole, result: Result<Reading, String>) -> ServerPoll {
        ServerPoll {
            name: name.into(),
            address: "127.0.0.1:3306".into(),
            user: "root".into(),
            profile_role: role,
            result,
            login_refused: false,
            qps: Some(5.0),
            grants: None,
        }
    }

    #[test]
    fn positions_compare_against_the_source_and_its_last_known_position() {
        let mut memory = Memory::default();
        let polls = [
            poll("p", DbRole::Primary, Ok(maria(false, "0-1-20", None))),
            poll(
                "r",
                DbRole::Replica,
                Ok(maria(true, "0-1-15", Some(("0-1-18", "0-1-15", false)))),
            ),
        ];
        let (db, samples) = assemble("c", &polls, &mut memory, 5);
        let r = &db.servers[1];
        assert_eq!(r.relay_backlog, Some(3));
        assert_eq!(r.behind_source, Some(5));
        assert_eq!(r.lag_seconds, None, "SQL thread stopped: lag unknown");
        assert_eq!(r.lag_text(), "unknown (SQL thread stopped)");
        assert_eq!(db.servers[0].role, DbRole::Primary);
        assert!(
            samples
                .iter()
                .any(|s| s.metric == "qps" && s.target == "c/p")
        );
        assert!(!samples.iter().any(|s| s.metric == "lag_seconds"));
        assert!(
            samples
                .iter()
                .any(|s| s.metric == "connections_percent" && s.target == "c/p" && s.value == 90.0)
        );
        let polls = [
            poll("p", DbRole::Primary, Err("connection refused".into())),
            poll(
                "r",
                DbRole::Replica,
                Ok(maria(true, "0-1-18", Some(("0-1-18", "0-1-18", true)))),
            ),
        ];
        let (db, _) = assemble("c", &polls, &mut memory, 5);
        assert_eq!(db.last_source_position.as_deref(), Some("0-1-20"));
        assert_eq!(db.servers[1].behind_source, Some(2));
        assert!(db.topology_line().contains("no writable source answers"));
    }

    #[test]
    fn the_second_writable_server_is_the_one_behind_by_gtid_not_by_profile_order() {
        let polls = [
            poll("p", DbRole::Primary, Ok(maria(false, "0-1-5", None))),
            poll("r", DbRole::Replica, Ok(maria(false, "0-1-2", None))),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 5);
        assert!(!db.servers[0].second_writable);
        assert!(db.servers[1].second_writable);
        assert_eq!(db.servers[1].behind_newest, Some(3));
        assert!(db.topology_line().contains("SECOND WRITABLE SERVER"));
        // The profile's replica was promoted and wrote on; the old primary came back behind.
        let polls = [
            poll("p", DbRole::Primary, Ok(maria(false, "0-1-5", None))),
            poll("r", DbRole::Replica, Ok(maria(false, "0-2-9", None))),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 5);
        assert!(db.servers[0].second_writable, "{db:#?}");
        assert_eq!(db.servers[0].behind_newest, Some(4));
        assert!(!db.servers[1].second_writable);
        // Equal positions tell nothing: both are named.
        let polls = [
            poll("p", DbRole::Primary, Ok(maria(false, "0-1-2", None))),
            poll("r", DbRole::Replica, Ok(maria(false, "0-1-2", None))),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 5);
        assert!(db.servers.iter().all(|s| s.second_writable));
    }

    #[test]
    fn an_unreachable_server_keeps_its_last_seen_role() {
        let mut memory = Memory::default();
        let polls = [
            poll("p", DbRole::Replica, Ok(maria(false, "0-1-5", None))),
            poll(
                "r",
                DbRole::Replica,
                Ok(maria(true, "0-1-5", Some(("0-1-5", "0-1-5", true)))),
            ),
        ];
        assemble("c", &polls, &mut memory, 5);
        let polls = [
            poll("p", DbRole::Replica, Err("connection refused".into())),
            poll(
                "r",
                DbRole::Replica,
                Ok(maria(true, "0-1-5", Some(("0-1-5", "0-1-5", true)))),
            ),
            poll("n", DbRole::Replica, Err("connection refused".into())),
        ];
        let (db, _) = assemble("c", &polls, &mut memory, 5);
        assert_eq!(db.servers[0].role_text(), "primary, unreachable");
        assert_eq!(db.servers[2].role_text(), "unreachable (profile: replica)");
        let line = db.topology_line();
        assert!(
            line.starts_with("source p (primary, unreachable), no writable source answers -> r"),
            "{line}"
        );
        assert!(line.ends_with(", n unreachable"), "{line}");
    }

    #[test]
    fn no_connection_share_while_max_connections_is_unknown() {
        let mut unknown = maria(false, "0-1-2", None);
        unknown.max_connections = 0;
        let polls = [poll("p", DbRole::Primary, Ok(unknown))];
        let (_, samples) = assemble("c", &polls, &mut Memory::default(), 5);
        assert!(
            samples
                .iter()
                .any(|s| s.metric == "connections" && s.value == 90.0)
        );
        assert!(
            !samples.iter().any(|s| s.metric == "connections_percent"),
            "{samples:?}"
        );
    }
}
