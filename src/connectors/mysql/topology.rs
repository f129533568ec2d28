//! From per-server readings to one [`MysqlSnapshot`]: detect roles, pick the reference source,
//! compare positions (relay backlog, transactions behind the source or its last known
//! position), flag second writable servers, and make the plotted samples. Pure.

use super::gtid;
use super::reading::Reading;
use crate::model::mysql::{MysqlServer, MysqlSnapshot};
use crate::model::snapshot::{DbRole, Sample};

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
}

/// What the connector remembers between polls.
#[derive(Debug, Default)]
pub struct Memory {
    /// The reference source's position at its last answer.
    pub last_source_position: Option<String>,
}

pub fn assemble(
    endpoint: &str,
    polls: &[ServerPoll],
    memory: &mut Memory,
    max_failover_lag_seconds: u64,
) -> (MysqlSnapshot, Vec<Sample>) {
    let mut servers: Vec<MysqlServer> = polls.iter().map(server).collect();
    // The reference source: writable without a replica configuration, the profile's primary
    // first. Every other writable server is a second one.
    let reference = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| s.writable() && s.replica.is_none())
        .min_by_key(|(_, s)| s.profile_role != DbRole::Primary)
        .map(|(i, _)| i);
    let writable = servers.iter().filter(|s| s.writable()).count();
    for (i, s) in servers.iter_mut().enumerate() {
        s.second_writable = s.writable() && writable > 1 && Some(i) != reference;
    }
    if let Some(pos) = reference.and_then(|i| servers[i].applied_position()) {
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
        ..MysqlServer::default()
    };
    match &p.result {
        Err(e) => s.error = Some(e.clone()),
        Ok(r) => {
            s.reachable = true;
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
    fn a_writable_replica_is_a_second_writable_server() {
        let polls = [
            poll("p", DbRole::Primary, Ok(maria(false, "0-1-2", None))),
            poll("r", DbRole::Replica, Ok(maria(false, "0-1-2", None))),
        ];
        let (db, _) = assemble("c", &polls, &mut Memory::default(), 5);
        assert!(!db.servers[0].second_writable);
        assert!(db.servers[1].second_writable);
        assert!(db.topology_line().contains("SECOND WRITABLE SERVER"));
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
