//! From the `SHOW` tables of one poll to the snapshot and its samples: each pool gets its limit
//! (the database's `pool_size`, else `default_pool_size`, capped by `max_db_connections`), each
//! database its rates from the change of PgBouncer's counters since the previous poll.
//!
//! Series (target → metrics), for plots and for the scaling advisor:
//! - `ENDPOINT/DATABASE/USER` (one pool): `clients_active`, `clients_waiting`, `servers_active`,
//!   `servers_idle`, `servers_used`, `max_wait_seconds`, `pool_used_percent` (when its limit is
//!   known);
//! - `ENDPOINT/DATABASE` (PgBouncer keeps statistics per database, not per user):
//!   `avg_query_ms`, `avg_xact_ms`, `avg_wait_ms`, `queries_per_sec`, `xacts_per_sec`;
//! - `ENDPOINT`: `clients_waiting` (all pools), `client_connections` (`used_clients`).

use super::rows::{self, StatsRow, Table};
use crate::model::pgbouncer::{PgbouncerPool, PgbouncerSnapshot, PgbouncerStats, PoolLimitSource};
use crate::model::snapshot::Sample;
use std::collections::HashMap;
use std::time::Instant;

/// The answers of one poll, one table per `SHOW` command.
#[derive(Default)]
pub struct Reading {
    pub pools: Table,
    pub stats: Table,
    pub lists: Table,
    pub config: Table,
    pub databases: Table,
    pub version: Table,
}

/// Counters of the previous poll per database, for rates.
#[derive(Default)]
pub struct Memory {
    last: HashMap<String, (StatsRow, Instant)>,
}

pub fn assemble(
    endpoint: &str,
    address: &str,
    reading: &Reading,
    memory: &mut Memory,
    pool_warn_percent: Option<f64>,
    now: Instant,
) -> Result<(PgbouncerSnapshot, Vec<Sample>), String> {
    let config = rows::config(&reading.config)?;
    let mut databases = rows::databases(&reading.databases)?;
    let mut pools = rows::pools(&reading.pools)?;
    let stats = rows::stats(&reading.stats)?;
    for pool in &mut pools {
        set_limit(pool, &databases, &config);
    }
    let mut samples = Vec::new();
    for s in &stats {
        let previous = memory.last.insert(s.database.clone(), (s.clone(), now));
        let figures = rates(s, previous.as_ref(), now);
        let target = format!("{endpoint}/{}", s.database);
        samples.push(Sample::new(
            &target,
            "avg_query_ms",
            figures.avg_query_time_us / 1000.0,
        ));
        samples.push(Sample::new(
            &target,
            "avg_xact_ms",
            figures.avg_xact_time_us / 1000.0,
        ));
        if let Some(w) = figures.avg_wait_time_us {
            samples.push(Sample::new(&target, "avg_wait_ms", w / 1000.0));
        }
        samples.push(Sample::new(
            &target,
            "queries_per_sec",
            figures.queries_per_sec,
        ));
        samples.push(Sample::new(&target, "xacts_per_sec", figures.xacts_per_sec));
        match databases.iter_mut().find(|d| d.name == s.database) {
            Some(d) => d.stats = Some(figures),
            None => {
                // A database only in the stats (an auto-database since dropped from the list).
                databases.push(crate::model::pgbouncer::PgbouncerDatabase {
                    name: s.database.clone(),
                    stats: Some(figures),
                    ..Default::default()
                });
            }
        }
    }
    memory
        .last
        .retain(|db, _| stats.iter().any(|s| &s.database == db));
    for p in &pools {
        let target = format!("{endpoint}/{}", p.name());
        let mut add = |metric: &'static str, v: f64| samples.push(Sample::new(&target, metric, v));
        add("clients_active", f64::from(p.cl_active));
        add("clients_waiting", f64::from(p.cl_waiting));
        add("servers_active", f64::from(p.sv_active));
        add("servers_idle", f64::from(p.sv_idle));
        add("servers_used", f64::from(p.sv_used));
        add("max_wait_seconds", p.maxwait_secs);
        if let Some(pct) = p.usage_percent() {
            add("pool_used_percent", pct);
        }
    }
    let snapshot = PgbouncerSnapshot {
        address: address.to_owned(),
        version: rows::version(&reading.version),
        config,
        pools,
        databases,
        lists: rows::lists(&reading.lists),
        pool_warn_percent,
    };
    samples.push(Sample::new(
        endpoint,
        "clients_waiting",
        f64::from(snapshot.clients_waiting()),
    ));
    samples.push(Sample::new(
        endpoint,
        "client_connections",
        snapshot.clients() as f64,
    ));
    Ok((snapshot, samples))
}

fn set_limit(
    pool: &mut PgbouncerPool,
    databases: &[crate::model::pgbouncer::PgbouncerDatabase],
    config: &crate::model::pgbouncer::PgbouncerConfig,
) {
    let db = databases.iter().find(|d| d.name == pool.database);
    let own = db.and_then(|d| d.pool_size);
    let (mut limit, mut source) = match (own, config.default_pool_size) {
        (Some(size), default) if Some(size) != default => {
            (Some(size), Some(PoolLimitSource::PoolSize))
        }
        (Some(size), _) => (Some(size), Some(PoolLimitSource::DefaultPoolSize)),
        (None, Some(default)) => (Some(default), Some(PoolLimitSource::DefaultPoolSize)),
        (None, None) => (None, None),
    };
    let max_db = db
        .and_then(|d| d.max_connections)
        .filter(|m| *m > 0)
        .or(config.max_db_connections.filter(|m| *m > 0));
    if let Some(max_db) = max_db
        && limit.is_none_or(|l| max_db < l)
    {
        limit = Some(max_db);
        source = Some(PoolLimitSource::MaxDbConnections);
    }
    pool.pool_limit = limit;
    pool.limit_source = source;
}

/// Rates and averages over the time since the previous poll when the counters moved; PgBouncer's
/// own averages (over its `stats_period`) on the first poll and when nothing ran since.
fn rates(
    now_row: &StatsRow,
    previous: Option<&(StatsRow, Instant)>,
    now: Instant,
) -> PgbouncerStats {
    let mut out = PgbouncerStats {
        avg_query_time_us: now_row.avg_query_time.unwrap_or(0.0),
        avg_xact_time_us: now_row.avg_xact_time.unwrap_or(0.0),
        avg_wait_time_us: now_row.avg_wait_time,
        queries_per_sec: now_row.avg_query_count.unwrap_or(0.0),
        xacts_per_sec: now_row.avg_xact_count.unwrap_or(0.0),
        total_query_count: now_row.total_query_count.unwrap_or(0),
        total_xact_count: now_row.total_xact_count.unwrap_or(0),
    };
    let Some((before, at)) = previous else {
        return out;
    };
    let secs = now.duration_since(*at).as_secs_f64();
    let delta = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if a >= b => Some(a - b),
        _ => None,
    };
    if secs > 0.0 {
        if let Some(q) = delta(now_row.total_query_count, before.total_query_count) {
            out.queries_per_sec = q as f64 / secs;
            if q > 0
                && let Some(t) = delta(now_row.total_query_time, before.total_query_time)
            {
                out.avg_query_time_us = t as f64 / q as f64;
            }
        }
        if let Some(x) = delta(now_row.total_xact_count, before.total_xact_count) {
            out.xacts_per_sec = x as f64 / secs;
            if x > 0
                && let Some(t) = delta(now_row.total_xact_time, before.total_xact_time)
            {
                out.avg_xact_time_us = t as f64 / x as f64;
            }
        }
    }
    out
}

/// One line for `scaleboard status`.
pub fn summary(p: &PgbouncerSnapshot) -> String {
    let waiting = p.clients_waiting();
    let mut line = format!(
        "{}{}: {} pools, {} clients ({} waiting)",
        p.version.as_deref().unwrap_or("PgBouncer"),
        if p.address.is_empty() {
            String::new()
        } else {
            format!(" at {}", p.address)
        },
        p.pools.len(),
        p.clients(),
        waiting
    );
    let busiest: Vec<String> = p
        .pools
        .iter()
        .filter(|pool| pool.cl_waiting > 0 || pool.usage_percent().is_some_and(|u| u >= 50.0))
        .map(|pool| {
            format!(
                "{} {}/{} servers busy{}",
                pool.name(),
                pool.servers_busy(),
                pool.pool_limit.map_or("?".into(), |l| l.to_string()),
                if pool.cl_waiting > 0 {
                    format!(", {} waiting", pool.cl_waiting)
                } else {
                    String::new()
                }
            )
        })
        .collect();
    if !busiest.is_empty() {
        line.push_str(&format!("; {}", busiest.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reading(waiting: &str, total_queries: &str, pool_size: &str, max_db: &str) -> Reading {
        Reading {
            pools: Table::literal(
                &[
                    "database",
                    "user",
                    "cl_active",
                    "cl_waiting",
                    "sv_active",
                    "sv_idle",
                    "sv_used",
                    "maxwait",
                    "maxwait_us",
                    "pool_mode",
                ],
                &[&[
                    "appdb", "app", "2", waiting, "2", "0", "0", "0", "500000", "session",
                ]],
            ),
            stats: Table::literal(
                &[
                    "database",
                    "total_query_count",
                    "total_query_time",
                    "avg_query_count",
                    "avg_query_time",
                ],
                &[&["appdb", total_queries, "100000", "1", "2000"]],
            ),
            lists: Table::literal(&["list", "items"], &[&["used_clients", "5"]]),
            config: Table::literal(
                &["key", "value"],
                &[&["default_pool_size", "20"], &["max_db_connections", "0"]],
            ),
            databases: Table::literal(
                &[
                    "name",
                    "host",
                    "port",
                    "database",
                    "pool_size",
                    "max_connections",
                ],
                &[&["appdb", "127.0.0.1", "5432", "app", pool_size, max_db]],
            ),
            version: Table::literal(&["version"], &[&["PgBouncer 1.18.0"]]),
        }
    }

    #[test]
    fn limits_samples_and_rates() {
        let mut memory = Memory::default();
        let t0 = Instant::now();
        let (s, samples) = assemble(
            "pgb",
            "h:6432",
            &reading("3", "100", "2", "0"),
            &mut memory,
            None,
            t0,
        )
        .unwrap();
        let pool = &s.pools[0];
        assert_eq!(pool.pool_limit, Some(2));
        assert_eq!(pool.limit_source, Some(PoolLimitSource::PoolSize));
        assert_eq!(pool.usage_percent(), Some(100.0));
        let get = |samples: &[Sample], t: &str, m: &str| {
            samples
                .iter()
                .find(|x| x.target == t && x.metric == m)
                .map(|x| x.value)
        };
        assert_eq!(get(&samples, "pgb/appdb/app", "clients_waiting"), Some(3.0));
        assert_eq!(
            get(&samples, "pgb/appdb/app", "max_wait_seconds"),
            Some(0.5)
        );
        assert_eq!(get(&samples, "pgb", "clients_waiting"), Some(3.0));
        assert_eq!(get(&samples, "pgb/appdb", "avg_query_ms"), Some(2.0));
        assert!(
            summary(&s).contains("appdb/app 2/2 servers busy, 3 waiting"),
            "{}",
            summary(&s)
        );

        // Ten seconds later 50 more queries ran: 5/s.
        let (s, samples) = assemble(
            "pgb",
            "h:6432",
            &reading("0", "150", "20", "1"),
            &mut memory,
            None,
            t0 + Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(get(&samples, "pgb/appdb", "queries_per_sec"), Some(5.0));
        assert_eq!(s.pools[0].pool_limit, Some(1));
        assert_eq!(
            s.pools[0].limit_source,
            Some(PoolLimitSource::MaxDbConnections)
        );
    }
}
