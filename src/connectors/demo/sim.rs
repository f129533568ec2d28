//! The simulated environment behind the demo fleet. Load follows a daily curve with seeded noise;
//! actions change it plausibly (more replicas -> lower CPU per replica, faster queue drain;
//! promotion changes the topology). Advanced in whole simulated seconds so a seed replays exactly.

use super::rng::Rng;
use crate::model::snapshot::{Autoscaler, TimeMs};

pub const CLUSTER: &str = "demo-prod";
pub const NAMESPACE: &str = "nexus";
pub const COMPOSE_PROJECT: &str = "demo-staging";

#[derive(Clone, Debug)]
pub struct SimWorkload {
    pub scope: &'static str,
    pub name: &'static str,
    pub compose: bool,
    pub statefulset: bool,
    pub desired: u32,
    pub ready: u32,
    /// CPU demand at full daily load, in percent of one replica's request.
    pub demand_percent: f64,
    pub cpu_percent: f64,
    pub memory_percent: f64,
    pub autoscaler: Option<Autoscaler>,
    pub fixed_host_port: Option<u16>,
    pub(super) ready_progress_s: u32,
}

impl SimWorkload {
    pub fn kind(&self) -> crate::model::snapshot::WorkloadKind {
        use crate::model::snapshot::WorkloadKind;
        match (self.compose, self.statefulset) {
            (true, _) => WorkloadKind::ComposeService,
            (false, true) => WorkloadKind::StatefulSet,
            (false, false) => WorkloadKind::Deployment,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimDb {
    pub name: &'static str,
    pub primary: bool,
    pub reachable: bool,
    pub lsn: u64,
    pub lag_seconds: f64,
    pub connections: u32,
    pub max_connections: u32,
    pub tps: f64,
    pub timeline: u32,
    /// Replay speed relative to the primary's write rate; below 1 the replica falls behind.
    pub(super) replay_factor: f64,
    /// Smoothed replay delay in seconds, so lag drifts instead of jumping every second.
    pub(super) delay_s: f64,
}

#[derive(Clone, Debug)]
pub struct SimQueue {
    pub name: &'static str,
    pub source: &'static str,
    pub worker: &'static str,
    pub depth: f64,
    pub in_per_sec: f64,
    pub out_per_sec: f64,
    /// Jobs one worker replica finishes per second.
    pub(super) per_worker_per_sec: f64,
    /// Arrivals per second at full daily load.
    pub(super) peak_in_per_sec: f64,
}

#[derive(Clone, Debug)]
pub struct SimCache {
    pub hit_ratio: f64,
    pub used_memory_bytes: u64,
    pub max_memory_bytes: u64,
    pub evictions_per_sec: f64,
    pub ops_per_sec: f64,
    pub clients: u32,
}

#[derive(Clone, Debug)]
pub struct SimProbe {
    pub name: &'static str,
    pub url: &'static str,
    pub group: Option<&'static str>,
    pub workload: &'static str,
    pub up: bool,
    pub latency_ms: f64,
    pub p95_ms: f64,
    pub error_rate_percent: f64,
}

pub struct DemoFleet {
    pub now_ms: TimeMs,
    rng: Rng,
    pub workloads: Vec<SimWorkload>,
    pub databases: Vec<SimDb>,
    pub queues: Vec<SimQueue>,
    pub cache: SimCache,
    pub probes: Vec<SimProbe>,
    /// The PgBouncer in front of orders-db.
    pub pgbouncer: super::pgbouncer::SimPgbouncer,
    /// The MariaDB pair (clock-driven, no random numbers).
    pub mysql: super::mysql::SimMysql,
    pub patroni: super::patroni::DemoPatroni,
    /// The simulated nginx in front of demo-staging's api service.
    pub nginx: super::lb::SimNginx,
    /// Seconds between autoscaler evaluations (Kubernetes uses 15 s).
    hpa_period_s: i64,
}

fn workload(
    scope: &'static str,
    name: &'static str,
    replicas: u32,
    demand_percent: f64,
) -> SimWorkload {
    SimWorkload {
        scope,
        name,
        compose: scope == COMPOSE_PROJECT,
        statefulset: false,
        desired: replicas,
        ready: replicas,
        demand_percent,
        cpu_percent: 0.0,
        memory_percent: 40.0,
        autoscaler: None,
        fixed_host_port: None,
        ready_progress_s: 0,
    }
}

fn db(name: &'static str, primary: bool, replay_factor: f64) -> SimDb {
    SimDb {
        name,
        primary,
        reachable: true,
        lsn: 0x3_0000_0000,
        lag_seconds: 0.0,
        connections: if primary { 60 } else { 25 },
        max_connections: 200,
        tps: 0.0,
        timeline: 1,
        replay_factor,
        delay_s: 0.1,
    }
}

impl DemoFleet {
    pub fn new(seed: u64, start_ms: TimeMs) -> Self {
        let mut api = workload(NAMESPACE, "api-gateway", 3, 150.0);
        api.autoscaler = Some(Autoscaler {
            name: "api-gateway".into(),
            min_replicas: 2,
            max_replicas: 10,
            target_cpu_percent: 70,
            current_cpu_percent: None,
            last_scale_at: None,
            metrics: Vec::new(),
        });
        let mut search = workload(NAMESPACE, "search-index", 2, 90.0);
        search.statefulset = true;
        let mut web = workload(COMPOSE_PROJECT, "web", 1, 30.0);
        web.fixed_host_port = Some(8080);
        let mut fleet = Self {
            now_ms: start_ms,
            rng: Rng::new(seed),
            workloads: vec![
                api,
                workload(NAMESPACE, "writer-service", 3, 160.0),
                workload(NAMESPACE, "sheets-service", 2, 110.0),
                workload(NAMESPACE, "auth-service", 2, 60.0),
                search,
                workload(NAMESPACE, "queue-worker", 3, 120.0),
                web,
                workload(COMPOSE_PROJECT, "api", 2, 70.0),
                workload(COMPOSE_PROJECT, "worker", 2, 80.0),
            ],
            databases: vec![
                db("pg-main", true, 1.0),
                db("pg-replica-1", false, 0.995),
                db("pg-replica-2", false, 0.97),
            ],
            queues: vec![
                SimQueue {
                    name: "bull:reports",
                    source: "BullMQ (Redis)",
                    worker: "queue-worker",
                    depth: 400.0,
                    in_per_sec: 0.0,
                    out_per_sec: 0.0,
                    // Three workers (4.5/s) fall behind even the quietest inflow (6.5/s), so the
                    // backlog is past the advisor's 1,000-job rule by the time the window opens
                    // and a newcomer sees the loop: alert, proposal with its cost, Apply.
                    per_worker_per_sec: 1.5,
                    peak_in_per_sec: 22.0,
                },
                SimQueue {
                    name: "queue:mailers",
                    source: "Sidekiq (Redis)",
                    worker: "worker",
                    depth: 80.0,
                    in_per_sec: 0.0,
                    out_per_sec: 0.0,
                    per_worker_per_sec: 3.0,
                    peak_in_per_sec: 9.0,
                },
            ],
            cache: SimCache {
                hit_ratio: 0.92,
                used_memory_bytes: 700 << 20,
                max_memory_bytes: 1 << 30,
                evictions_per_sec: 0.0,
                ops_per_sec: 0.0,
                clients: 40,
            },
            probes: vec![
                probe(
                    "api-gateway /health",
                    "https://api.demo.example/health",
                    Some("api-gateway LB"),
                    "api-gateway",
                ),
                probe(
                    "api-gateway /health/ready",
                    "https://api.demo.example/health/ready",
                    Some("api-gateway LB"),
                    "api-gateway",
                ),
                probe(
                    "writer-service /health/live",
                    "http://writer.nexus.svc/health/live",
                    None,
                    "writer-service",
                ),
                probe(
                    "sheets-service /health",
                    "http://sheets.nexus.svc/health",
                    None,
                    "sheets-service",
                ),
            ],
            pgbouncer: super::pgbouncer::SimPgbouncer::new(seed),
            patroni: super::patroni::DemoPatroni::new(),
            hpa_period_s: 15,
            mysql: super::mysql::SimMysql::default(),
            nginx: super::lb::SimNginx::default(),
        };
        // Settle derived values so the very first snapshot already looks alive.
        fleet.step_second();
        fleet
    }

    /// Daily load between about 0.35 (night) and 1.0 (afternoon peak), in [0, 1.2].
    pub fn load(&self) -> f64 {
        let day_s = (self.now_ms.rem_euclid(86_400_000)) as f64 / 1000.0;
        let phase = (day_s / 86_400.0 - 0.625) * std::f64::consts::TAU;
        0.675 + 0.325 * phase.cos()
    }

    /// Advance the simulation to `now_ms` in whole seconds (bounded so a long sleep of the
    /// machine does not stall a poll).
    pub fn advance_to(&mut self, now_ms: TimeMs) {
        let mut steps = (now_ms - self.now_ms) / 1000;
        if steps > 3600 {
            self.now_ms = now_ms - 3_600_000;
            steps = 3600;
        }
        for _ in 0..steps {
            self.now_ms += 1000;
            self.step_second();
        }
    }

    fn step_second(&mut self) {
        let load = (self.load() * (1.0 + 0.08 * self.rng.noise())).clamp(0.05, 1.2);
        let now = self.now_ms;
        let hpa_tick = (now / 1000) % self.hpa_period_s == 0;
        for w in &mut self.workloads {
            // Replicas become ready one at a time, every 2 s, like a rollout.
            if w.ready < w.desired {
                w.ready_progress_s += 1;
                if w.ready_progress_s >= 2 {
                    w.ready += 1;
                    w.ready_progress_s = 0;
                }
            } else {
                w.ready = w.desired;
                w.ready_progress_s = 0;
            }
            let serving = w.ready.max(1) as f64;
            let noise = 1.0 + 0.05 * self.rng.noise();
            w.cpu_percent = if w.ready == 0 {
                0.0
            } else {
                (w.demand_percent * load * noise / serving).clamp(1.0, 100.0)
            };
            w.memory_percent = (35.0 + 25.0 * load + 3.0 * self.rng.noise()).clamp(5.0, 99.0);
            if let Some(hpa) = &mut w.autoscaler {
                hpa.current_cpu_percent = Some(w.cpu_percent);
                if hpa_tick && w.ready > 0 {
                    // The Kubernetes HPA rule: desired = ceil(current * actual / target).
                    let wanted = (f64::from(w.ready) * w.cpu_percent
                        / f64::from(hpa.target_cpu_percent))
                    .ceil() as u32;
                    let wanted = wanted.clamp(hpa.min_replicas, hpa.max_replicas);
                    let outside = w.desired < hpa.min_replicas || w.desired > hpa.max_replicas;
                    let tolerance = (f64::from(wanted) - f64::from(w.desired)).abs() >= 1.0;
                    if wanted != w.desired && (outside || tolerance) {
                        w.desired = wanted;
                        if w.ready > w.desired {
                            w.ready = w.desired;
                        }
                        hpa.last_scale_at = Some(now);
                    }
                }
            }
        }
        self.step_databases(load);
        let noise = self.rng.noise();
        self.patroni.step(load, noise);
        self.step_queues(load);
        self.step_cache(load);
        self.step_probes();
        self.pgbouncer.step(now, load);
    }

    fn step_databases(&mut self, load: f64) {
        let tps = 220.0 * load * (1.0 + 0.1 * self.rng.noise());
        let write_bytes = (tps * 1800.0) as u64;
        let primary_lsn = {
            let Some(p) = self.databases.iter_mut().find(|d| d.primary && d.reachable) else {
                return;
            };
            p.lsn += write_bytes;
            p.tps = tps;
            p.connections = (40.0 + 90.0 * load + 5.0 * self.rng.noise()) as u32;
            p.lsn
        };
        for d in self
            .databases
            .iter_mut()
            .filter(|d| !d.primary && d.reachable)
        {
            // Replay delay in seconds: grows with load, wobbles, and is worse for slow replicas.
            let slowness = (1.0 - d.replay_factor) * 40.0;
            let wanted = (0.05 + slowness * load) * (1.0 + 0.6 * self.rng.noise());
            d.delay_s = 0.92 * d.delay_s + 0.08 * wanted;
            let target = primary_lsn.saturating_sub((write_bytes as f64 * d.delay_s) as u64);
            // Replay never goes backwards.
            d.lsn = d.lsn.max(target).min(primary_lsn);
            let behind = primary_lsn - d.lsn;
            d.lag_seconds = behind as f64 / write_bytes.max(1) as f64;
            d.tps = tps * 0.6 * (1.0 + 0.1 * self.rng.noise());
            d.connections = (15.0 + 40.0 * load + 4.0 * self.rng.noise()) as u32;
        }
    }

    fn step_queues(&mut self, load: f64) {
        let now_s = (self.now_ms / 1000) as f64;
        for i in 0..self.queues.len() {
            let workers = self
                .workloads
                .iter()
                .find(|w| w.name == self.queues[i].worker)
                .map_or(0, |w| w.ready);
            let noise = 1.0 + 0.15 * self.rng.noise();
            let q = &mut self.queues[i];
            // Bursts every few minutes on top of the daily curve, so backlogs build and drain.
            let burst = 1.0 + 0.6 * ((now_s / 240.0) + i as f64).sin().max(0.0);
            q.in_per_sec = q.peak_in_per_sec * load * burst * noise;
            let capacity = q.per_worker_per_sec * f64::from(workers);
            q.out_per_sec = capacity.min(q.depth + q.in_per_sec);
            q.depth = (q.depth + q.in_per_sec - q.out_per_sec).max(0.0);
        }
    }

    fn step_cache(&mut self, load: f64) {
        let c = &mut self.cache;
        c.ops_per_sec = 4_000.0 * load * (1.0 + 0.1 * self.rng.noise());
        let growth = (load * 40_000.0) as u64;
        c.used_memory_bytes = (c.used_memory_bytes + growth).min(c.max_memory_bytes);
        let full = c.used_memory_bytes as f64 / c.max_memory_bytes as f64;
        c.evictions_per_sec = if full > 0.97 { 15.0 * load } else { 0.0 };
        if c.evictions_per_sec > 0.0 {
            // allkeys-lru frees space; evicted keys turn into misses.
            c.used_memory_bytes = (c.max_memory_bytes as f64 * 0.9) as u64;
        }
        let base = if full > 0.97 { 0.82 } else { 0.93 };
        c.hit_ratio = (base - 0.05 * load + 0.01 * self.rng.noise()).clamp(0.0, 1.0);
        c.clients = (30.0 + 50.0 * load) as u32;
    }

    fn step_probes(&mut self) {
        for i in 0..self.probes.len() {
            let (ready, cpu) = self
                .workloads
                .iter()
                .find(|w| w.name == self.probes[i].workload)
                .map_or((0, 100.0), |w| (w.ready, w.cpu_percent));
            let noise = self.rng.unit();
            let p = &mut self.probes[i];
            p.up = ready > 0;
            // Latency climbs steeply as CPU per replica nears saturation.
            let saturation = (cpu / 100.0).min(0.98);
            let base = 25.0 / (1.0 - saturation);
            p.latency_ms = base * (0.8 + 0.4 * noise);
            p.p95_ms = base * 2.2;
            p.error_rate_percent = if !p.up {
                100.0
            } else if saturation > 0.9 {
                4.0
            } else {
                0.2
            };
        }
    }

    pub fn workload_mut(&mut self, scope: &str, name: &str) -> Option<&mut SimWorkload> {
        self.workloads
            .iter_mut()
            .find(|w| w.scope == scope && w.name == name)
    }
}

fn probe(
    name: &'static str,
    url: &'static str,
    group: Option<&'static str>,
    workload: &'static str,
) -> SimProbe {
    SimProbe {
        name,
        url,
        group,
        workload,
        up: true,
        latency_ms: 0.0,
        p95_ms: 0.0,
        error_rate_percent: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_replays_exactly() {
        let mut a = DemoFleet::new(7, 0);
        let mut b = DemoFleet::new(7, 0);
        a.advance_to(600_000);
        b.advance_to(600_000);
        assert_eq!(a.cache.hit_ratio, b.cache.hit_ratio);
        assert_eq!(a.databases[1].lsn, b.databases[1].lsn);
    }

    #[test]
    fn more_workers_drain_the_queue_faster() {
        let mut few = DemoFleet::new(1, 14 * 3_600_000);
        let mut many = DemoFleet::new(1, 14 * 3_600_000);
        let w = many.workload_mut(NAMESPACE, "queue-worker").unwrap();
        w.desired = 8;
        w.ready = 8;
        few.queues[0].depth = 5_000.0;
        many.queues[0].depth = 5_000.0;
        few.advance_to(14 * 3_600_000 + 300_000);
        many.advance_to(14 * 3_600_000 + 300_000);
        assert!(many.queues[0].depth < few.queues[0].depth);
    }

    #[test]
    fn more_replicas_lower_cpu_per_replica() {
        let mut fleet = DemoFleet::new(3, 14 * 3_600_000);
        let before = fleet
            .workload_mut(NAMESPACE, "writer-service")
            .unwrap()
            .cpu_percent;
        let w = fleet.workload_mut(NAMESPACE, "writer-service").unwrap();
        w.desired = 9;
        fleet.advance_to(14 * 3_600_000 + 30_000);
        let after = fleet
            .workload_mut(NAMESPACE, "writer-service")
            .unwrap()
            .cpu_percent;
        assert!(after < before * 0.6, "cpu {before} -> {after}");
    }

    #[test]
    fn autoscaler_undoes_manual_scale() {
        let mut fleet = DemoFleet::new(5, 3 * 3_600_000);
        fleet
            .workload_mut(NAMESPACE, "api-gateway")
            .unwrap()
            .desired = 10;
        fleet.advance_to(3 * 3_600_000 + 60_000);
        let w = fleet.workload_mut(NAMESPACE, "api-gateway").unwrap();
        assert!(
            w.desired < 10,
            "HPA should have scaled back, got {}",
            w.desired
        );
    }
}
