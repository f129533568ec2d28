//! The demo's PgBouncer in front of orders-db: an `orders/app` pool in transaction mode whose
//! demand follows the daily load with bursts every few minutes, so at busy moments clients wait
//! for a server (a newcomer sees what a saturated pool looks like), and a small `orders/reports`
//! pool in session mode that stays calm. It has its own random stream, so adding it changed
//! nothing else the demo replays for a seed.

use super::rng::Rng;
use crate::model::pgbouncer::{
    PgbouncerConfig, PgbouncerDatabase, PgbouncerPool, PgbouncerSnapshot, PgbouncerStats,
    PoolLimitSource,
};
use crate::model::snapshot::Sample;

pub const ENDPOINT: &str = "demo-pgbouncer";
const DEFAULT_POOL_SIZE: u32 = 20;
const REPORTS_POOL_SIZE: u32 = 5;

#[derive(Clone, Debug)]
pub struct SimPool {
    pub database: &'static str,
    pub user: &'static str,
    pub mode: &'static str,
    pub limit: u32,
    pub limit_source: PoolLimitSource,
    /// Server connections wanted at full daily load.
    peak_demand: f64,
    /// Server connections wanted now, smoothed so a burst builds and drains over seconds.
    demand: f64,
    pub cl_active: u32,
    pub cl_waiting: u32,
    pub sv_active: u32,
    pub sv_idle: u32,
    pub maxwait_secs: f64,
}

#[derive(Clone, Debug)]
pub struct SimPgbouncer {
    rng: Rng,
    pub pools: Vec<SimPool>,
    pub queries_per_sec: f64,
    pub avg_query_ms: f64,
    pub avg_xact_ms: f64,
    pub avg_wait_ms: f64,
}

impl SimPgbouncer {
    pub fn new(seed: u64) -> Self {
        let pool = |database, user, mode, limit, limit_source, peak_demand| SimPool {
            database,
            user,
            mode,
            limit,
            limit_source,
            peak_demand,
            demand: 0.0,
            cl_active: 0,
            cl_waiting: 0,
            sv_active: 0,
            sv_idle: 0,
            maxwait_secs: 0.0,
        };
        Self {
            rng: Rng::new(seed ^ 0x5067_426f_756e_6365),
            pools: vec![
                pool(
                    "orders",
                    "app",
                    "transaction",
                    DEFAULT_POOL_SIZE,
                    PoolLimitSource::DefaultPoolSize,
                    15.0,
                ),
                pool(
                    "orders",
                    "reports",
                    "session",
                    REPORTS_POOL_SIZE,
                    PoolLimitSource::PoolSize,
                    2.0,
                ),
            ],
            queries_per_sec: 0.0,
            avg_query_ms: 0.0,
            avg_xact_ms: 0.0,
            avg_wait_ms: 0.0,
        }
    }

    /// One simulated second at daily `load` (0..1.2).
    pub fn step(&mut self, now_ms: i64, load: f64) {
        let now_s = (now_ms / 1000) as f64;
        for i in 0..self.pools.len() {
            let noise = 1.0 + 0.12 * self.rng.noise();
            let p = &mut self.pools[i];
            // Bursts every ~6 minutes push the app pool past its 20 servers for about two.
            let burst = 1.0 + 0.75 * (now_s / 60.0 + i as f64 * 2.0).sin().max(0.0);
            let wanted = (p.peak_demand * load * burst * noise).max(0.0);
            p.demand = if p.demand == 0.0 {
                wanted
            } else {
                0.8 * p.demand + 0.2 * wanted
            };
            let demand = p.demand;
            let limit = f64::from(p.limit);
            p.sv_active = demand.min(limit).round() as u32;
            p.sv_idle = ((limit - demand).max(0.0) * 0.3).round() as u32;
            p.cl_active = p.sv_active + (demand * 0.5).round() as u32;
            let waiting = (demand - limit).max(0.0) * 1.6;
            p.cl_waiting = waiting.round() as u32;
            // The oldest waiter has waited about as long as the queue ahead of it takes to drain.
            p.maxwait_secs = if p.cl_waiting > 0 {
                f64::from(p.cl_waiting) * 0.15 * (1.0 + 0.2 * self.rng.noise())
            } else {
                0.0
            };
        }
        let app = &self.pools[0];
        self.queries_per_sec = 900.0 * load * (1.0 + 0.1 * self.rng.noise());
        let saturation = f64::from(app.sv_active) / f64::from(app.limit.max(1));
        self.avg_query_ms = 2.0 + 6.0 * saturation * saturation + 0.4 * self.rng.noise();
        self.avg_xact_ms = self.avg_query_ms * 3.2;
        self.avg_wait_ms = app.maxwait_secs * 250.0;
    }
}

/// What the demo PgBouncer reports: the same snapshot and series a real one would.
pub fn snapshot(sim: &SimPgbouncer) -> (PgbouncerSnapshot, Vec<Sample>) {
    let mut samples = Vec::new();
    let pools: Vec<PgbouncerPool> = sim
        .pools
        .iter()
        .map(|p| PgbouncerPool {
            database: p.database.into(),
            user: p.user.into(),
            cl_active: p.cl_active,
            cl_waiting: p.cl_waiting,
            sv_active: p.sv_active,
            sv_idle: p.sv_idle,
            sv_used: 0,
            sv_tested: 0,
            sv_login: 0,
            maxwait_secs: p.maxwait_secs,
            pool_mode: p.mode.into(),
            pool_limit: Some(p.limit),
            limit_source: Some(p.limit_source),
        })
        .collect();
    for p in &pools {
        let target = format!("{ENDPOINT}/{}", p.name());
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
    let db_target = format!("{ENDPOINT}/orders");
    samples.push(Sample::new(&db_target, "avg_query_ms", sim.avg_query_ms));
    samples.push(Sample::new(&db_target, "avg_xact_ms", sim.avg_xact_ms));
    samples.push(Sample::new(&db_target, "avg_wait_ms", sim.avg_wait_ms));
    samples.push(Sample::new(
        &db_target,
        "queries_per_sec",
        sim.queries_per_sec,
    ));
    samples.push(Sample::new(
        &db_target,
        "xacts_per_sec",
        sim.queries_per_sec / 3.0,
    ));
    let clients: u32 = pools.iter().map(|p| p.cl_active + p.cl_waiting).sum();
    let waiting: u32 = pools.iter().map(|p| p.cl_waiting).sum();
    samples.push(Sample::new(ENDPOINT, "clients_waiting", f64::from(waiting)));
    samples.push(Sample::new(
        ENDPOINT,
        "client_connections",
        f64::from(clients),
    ));
    let servers: u32 = pools.iter().map(PgbouncerPool::servers).sum();
    let snapshot = PgbouncerSnapshot {
        address: "pgbouncer.demo:6432".into(),
        version: Some("PgBouncer 1.18.0 (demo)".into()),
        config: PgbouncerConfig {
            default_pool_size: Some(DEFAULT_POOL_SIZE),
            max_client_conn: Some(500),
            max_db_connections: Some(0),
            max_user_connections: Some(0),
            reserve_pool_size: Some(0),
            pool_mode: Some("transaction".into()),
        },
        pools,
        databases: vec![PgbouncerDatabase {
            name: "orders".into(),
            server: "pg-main:5432/orders".into(),
            pool_size: None,
            reserve_pool: Some(0),
            max_connections: Some(0),
            current_connections: Some(servers),
            paused: false,
            disabled: false,
            stats: Some(PgbouncerStats {
                avg_query_time_us: sim.avg_query_ms * 1000.0,
                avg_xact_time_us: sim.avg_xact_ms * 1000.0,
                avg_wait_time_us: Some(sim.avg_wait_ms * 1000.0),
                queries_per_sec: sim.queries_per_sec,
                xacts_per_sec: sim.queries_per_sec / 3.0,
                total_query_count: 0,
                total_xact_count: 0,
            }),
        }],
        lists: vec![("used_clients".into(), u64::from(clients))],
        pool_warn_percent: None,
    };
    (snapshot, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_wait_at_busy_moments_and_not_at_night() {
        let mut sim = SimPgbouncer::new(7);
        let mut waited_busy = 0;
        for s in 0..1200 {
            sim.step(s * 1000, 1.0);
            if sim.pools[0].cl_waiting > 0 {
                waited_busy += 1;
            }
        }
        assert!(
            (120..700).contains(&waited_busy),
            "sometimes, not always: waited {waited_busy} s of 1200 at peak"
        );
        let mut waited_night = 0;
        for s in 0..1200 {
            sim.step(s * 1000, 0.35);
            waited_night += u32::from(sim.pools[0].cl_waiting > 0);
        }
        assert_eq!(waited_night, 0);
        assert_eq!(sim.pools[1].cl_waiting, 0, "the reports pool stays calm");
    }
}
