//! The demo's MariaDB pair: a GTID source and a replica a second or three behind, computed from
//! the simulation's clock (no random numbers, so the rest of the demo stays as seeded). A
//! promotion makes the replica the source and fences the old one, as an operator would.

use crate::model::action::Action;
use crate::model::error::ConnectorError;
use crate::model::mysql::{MysqlFlavor, MysqlServer, MysqlSnapshot, ReplicaStatus};
use crate::model::snapshot::{DbRole, Sample, Snapshot, TimeMs};

pub const MYSQL_ENDPOINT: &str = "demo-mariadb";
pub const MYSQL_CLUSTER: &str = "accounts-db";
const SOURCE: &str = "maria-1";
const REPLICA: &str = "maria-2";

#[derive(Debug, Default)]
pub struct SimMysql {
    /// The replica was promoted: maria-2 is the source, maria-1 fenced.
    pub promoted: bool,
}

/// The demo's monitoring user holds what a promotion needs (the plan checks it).
fn operator_grants() -> crate::model::mysql::Grants {
    crate::model::mysql::Grants {
        global: ["RELOAD", "REPLICATION_SLAVE_ADMIN", "READ_ONLY_ADMIN"]
            .map(String::from)
            .to_vec(),
        via_roles: false,
    }
}

pub fn output(sim: &SimMysql, now_ms: TimeMs) -> (Snapshot, Vec<Sample>) {
    let t = now_ms as f64 / 1000.0;
    let qps = 320.0 + 90.0 * (t / 140.0).sin();
    let seq = (now_ms / 1000).rem_euclid(10_000_000) as u64 * 6;
    let lag = 2.0 + 1.5 * (t / 37.0).sin();
    let behind = (lag * 6.0) as u64;
    // Connections breathe with the load, so their plot is not a flat line.
    let swing = (6.0 * (t / 53.0).sin()).round() as i64;
    let conns = |base: i64| u32::try_from(base + swing).unwrap_or(0);
    let source = MysqlServer {
        name: SOURCE.into(),
        address: "10.0.3.11:3306".into(),
        user: "scaleboard".into(),
        role: DbRole::Primary,
        profile_role: DbRole::Primary,
        reachable: !sim.promoted,
        error: sim
            .promoted
            .then(|| "DEMO: stopped (fenced after the promotion)".into()),
        flavor: MysqlFlavor::MariaDb,
        version: Some("10.11.14-MariaDB (demo)".into()),
        server_id: 1,
        gtid_binlog_pos: Some(format!("0-1-{seq}")),
        connections: conns(96),
        max_connections: 151,
        qps: Some(qps),
        role_seen: true,
        grants: Some(operator_grants()),
        ..MysqlServer::default()
    };
    let replica = if sim.promoted {
        MysqlServer {
            name: REPLICA.into(),
            address: "10.0.3.12:3306".into(),
            user: "scaleboard".into(),
            role: DbRole::Primary,
            profile_role: DbRole::Replica,
            reachable: true,
            flavor: MysqlFlavor::MariaDb,
            version: Some("10.11.14-MariaDB (demo)".into()),
            server_id: 2,
            gtid_binlog_pos: Some(format!("0-2-{seq}")),
            connections: conns(97),
            max_connections: 151,
            qps: Some(qps),
            role_seen: true,
            grants: Some(operator_grants()),
            ..MysqlServer::default()
        }
    } else {
        MysqlServer {
            name: REPLICA.into(),
            address: "10.0.3.12:3306".into(),
            user: "scaleboard".into(),
            role: DbRole::Replica,
            profile_role: DbRole::Replica,
            reachable: true,
            flavor: MysqlFlavor::MariaDb,
            version: Some("10.11.14-MariaDB (demo)".into()),
            server_id: 2,
            read_only: true,
            replica: Some(ReplicaStatus {
                source: "10.0.3.11:3306".into(),
                io_running: "Yes".into(),
                sql_running: true,
                io_state: "Waiting for master to send event".into(),
                seconds_behind: Some(lag.round() as u64),
                gtid_io_pos: Some(format!("0-1-{seq}")),
                using_gtid: Some("Slave_Pos".into()),
                ..ReplicaStatus::default()
            }),
            gtid_binlog_pos: Some(format!("0-1-{}", seq - behind)),
            gtid_slave_pos: Some(format!("0-1-{}", seq - behind)),
            role_seen: true,
            grants: Some(operator_grants()),
            connections: conns(41),
            max_connections: 151,
            qps: Some(qps * 0.6),
            lag_seconds: Some(lag.round()),
            relay_backlog: Some(behind),
            behind_source: Some(behind),
            ..MysqlServer::default()
        }
    };
    let mut samples = Vec::new();
    for s in [&source, &replica].into_iter().filter(|s| s.reachable) {
        let target = format!("{MYSQL_ENDPOINT}/{}", s.name);
        if let Some(q) = s.qps {
            samples.push(Sample::new(&target, "qps", q));
        }
        samples.push(Sample::new(
            &target,
            "connections",
            f64::from(s.connections),
        ));
        if let Some(pct) = s.connections_percent() {
            samples.push(Sample::new(&target, "connections_percent", pct));
        }
        if let Some(l) = s.lag_seconds {
            samples.push(Sample::new(&target, "lag_seconds", l));
        }
        if let Some(b) = s.relay_backlog {
            samples.push(Sample::new(&target, "relay_backlog", b as f64));
        }
    }
    let snapshot = MysqlSnapshot {
        cluster: MYSQL_CLUSTER.into(),
        last_source_position: Some(format!("0-1-{seq}")),
        servers: vec![source, replica],
        max_failover_lag_seconds: 5,
    };
    (Snapshot::Mysql(snapshot), samples)
}

pub fn apply(sim: &mut SimMysql, action: &Action) -> Result<String, ConnectorError> {
    match action {
        Action::PromoteMysqlReplica { replica, .. } if replica == REPLICA && !sim.promoted => {
            sim.promoted = true;
            Ok(format!(
                "DEMO: ran `STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF` on {replica}"
            ))
        }
        Action::PromoteMysqlReplica { replica, .. } => Err(ConnectorError::Conflict(format!(
            "DEMO: {replica} has no replica configuration: nothing was done"
        ))),
        other => Err(ConnectorError::Unsupported(format!(
            "the demo MariaDB pair cannot {}",
            other.kind()
        ))),
    }
}
