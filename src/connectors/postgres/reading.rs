//! What one poll reads from one server, in one round trip: three statements sent together with
//! the simple query protocol (server facts, `pg_stat_replication`, replication slots). The same
//! text works on primaries and replicas; functions that fail in recovery sit behind `CASE`.

use crate::model::snapshot::{ReplicationSlot, ReplicationStat};
use tokio_postgres::SimpleQueryMessage;

pub const POLL_SQL: &str = "\
SELECT pg_is_in_recovery()::text,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
  pg_last_wal_receive_lsn()::text,
  pg_last_wal_replay_lsn()::text,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused()::text END,
  (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::bigint::text,
  CASE WHEN pg_is_in_recovery() THEN NULL
    ELSE (('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int)::text END,
  (SELECT status || ' from ' || coalesce(sender_host, '?') || ':' || coalesce(sender_port::text, '?')
     FROM pg_stat_wal_receiver),
  (SELECT received_tli::text FROM pg_stat_wal_receiver),
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::text,
  current_setting('max_connections'),
  (SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database)::text,
  (SELECT sum(pg_database_size(oid)) FROM pg_database
     WHERE datallowconn AND has_database_privilege(oid, 'CONNECT'))::text,
  current_setting('server_version'),
  (SELECT setting FROM pg_settings WHERE name = 'data_directory'),
  current_setting('cluster_name');
SELECT application_name, host(client_addr), state, sync_state,
  sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
  extract(epoch FROM write_lag)::text, extract(epoch FROM flush_lag)::text,
  extract(epoch FROM replay_lag)::text
FROM pg_stat_replication ORDER BY application_name, client_addr;
SELECT slot_name::text, slot_type, active::text,
  CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL
    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text END,
  wal_status
FROM pg_replication_slots ORDER BY slot_name";

/// One server's answer to [`POLL_SQL`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    pub in_recovery: bool,
    pub current_lsn: Option<u64>,
    pub receive_lsn: Option<u64>,
    pub replay_lsn: Option<u64>,
    pub replay_paused: bool,
    pub last_replay_ms: Option<i64>,
    /// See [`crate::model::snapshot::DbServer::timeline`].
    pub timeline: Option<u32>,
    pub wal_receiver: Option<String>,
    pub connections: u32,
    pub max_connections: u32,
    pub xacts: Option<u64>,
    pub size_bytes: u64,
    pub version: String,
    pub data_directory: Option<String>,
    pub cluster_name: String,
    pub replication: Vec<ReplicationStat>,
    pub slots: Vec<ReplicationSlot>,
}

/// Parse PostgreSQL's `X/Y` LSN notation.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn lsn(v: Option<&str>) -> Option<u64> {
    v.and_then(parse_lsn)
}

fn num<T: std::str::FromStr>(v: Option<&str>) -> Option<T> {
    v.and_then(|t| t.parse().ok())
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// Split the messages of the three statements into their rows.
fn result_sets(messages: &[SimpleQueryMessage]) -> Vec<Vec<&tokio_postgres::SimpleQueryRow>> {
    let mut sets = vec![Vec::new()];
    for m in messages {
        match m {
            SimpleQueryMessage::Row(row) => {
                if let Some(set) = sets.last_mut() {
                    set.push(row);
                }
            }
            SimpleQueryMessage::CommandComplete(_) => sets.push(Vec::new()),
            _ => {}
        }
    }
    sets
}

/// A primary's timeline from its current WAL file name; a replica's from its WAL receiver
/// (`received_tli`), and unknown while no receiver runs: the last restartpoint's timeline
/// (`pg_control_checkpoint()`) stays behind after a promotion upstream, so it is never shown
/// as the current one.
fn timeline(in_recovery: bool, primary: Option<&str>, receiver: Option<&str>) -> Option<u32> {
    if in_recovery {
        num(receiver).filter(|t| *t > 0)
    } else {
        num(primary)
    }
}

pub fn parse(messages: &[SimpleQueryMessage]) -> Result<Reading, String> {
    let sets = result_sets(messages);
    let row = sets
        .first()
        .and_then(|s| s.first())
        .ok_or("the server returned no status row")?;
    let g = |i: usize| row.get(i);
    let in_recovery = g(0) == Some("true");
    let mut reading = Reading {
        in_recovery,
        current_lsn: lsn(g(1)),
        receive_lsn: lsn(g(2)),
        replay_lsn: lsn(g(3)),
        replay_paused: g(4) == Some("true"),
        last_replay_ms: num(g(5)),
        timeline: timeline(in_recovery, g(6), g(8)),
        wal_receiver: text(g(7)),
        connections: num(g(9)).unwrap_or(0),
        max_connections: num(g(10)).unwrap_or(0),
        xacts: num(g(11)),
        size_bytes: num(g(12)).unwrap_or(0),
        version: g(13).unwrap_or("").to_string(),
        data_directory: text(g(14)),
        cluster_name: g(15).unwrap_or("").to_string(),
        ..Reading::default()
    };
    if let Some(rows) = sets.get(1) {
        reading.replication = rows
            .iter()
            .map(|r| ReplicationStat {
                application_name: r.get(0).unwrap_or("").to_string(),
                client_addr: text(r.get(1)),
                state: r.get(2).unwrap_or("").to_string(),
                sync_state: r.get(3).unwrap_or("").to_string(),
                sent_lsn: lsn(r.get(4)),
                write_lsn: lsn(r.get(5)),
                flush_lsn: lsn(r.get(6)),
                replay_lsn: lsn(r.get(7)),
                write_lag_seconds: num(r.get(8)),
                flush_lag_seconds: num(r.get(9)),
                replay_lag_seconds: num(r.get(10)),
            })
            .collect();
    }
    if let Some(rows) = sets.get(2) {
        reading.slots = rows
            .iter()
            .map(|r| ReplicationSlot {
                name: r.get(0).unwrap_or("").to_string(),
                slot_type: r.get(1).unwrap_or("").to_string(),
                active: r.get(2) == Some("true"),
                retained_bytes: num::<i64>(r.get(3)).map(|b| b.max(0).unsigned_abs()),
                wal_status: text(r.get(4)),
            })
            .collect();
    }
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_timeline_comes_from_its_wal_receiver_or_is_unknown() {
        assert_eq!(timeline(false, Some("3"), None), Some(3));
        assert_eq!(timeline(true, None, Some("4")), Some(4));
        assert_eq!(timeline(true, None, None), None, "no receiver: unknown");
        assert_eq!(timeline(true, Some("1"), None), None);
    }

    #[test]
    fn lsn_notation() {
        assert_eq!(parse_lsn("0/3000060"), Some(0x300_0060));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("nope"), None);
    }
}
