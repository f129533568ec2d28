//! What "ok" means, in one place. Every endpoint and every member (a database server, a cache
//! node, a queue, a health check, a workload) is ok, degraded (it answers but something is
//! wrong: no primary, a member down, a check failing, a threshold crossed), stale (the last
//! poll failed; the last view is kept) or down, with the reason in words. The status bar, the
//! overview tiles, the tables and `scaleboard status` all derive from [`assess_endpoint`], so
//! they cannot disagree.

use crate::model::pgbouncer::PgbouncerSnapshot;
use crate::model::snapshot::{CacheNode, DatabaseSnapshot, Snapshot};
use crate::model::units::format_bytes;
use crate::profiles::Thresholds;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Ok,
    /// Not polled yet.
    Connecting,
    Degraded,
    Stale,
    Down,
}

impl HealthState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Connecting => "connecting",
            Self::Degraded => "degraded",
            Self::Stale => "stale",
            Self::Down => "down",
        }
    }
}

/// One member of an endpoint and its state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemberHealth {
    pub name: String,
    pub state: HealthState,
    /// Why it is not ok; `None` when ok.
    pub reason: Option<String>,
}

/// An endpoint's state, its reasons (worst first) and its members.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EndpointHealth {
    pub state: HealthState,
    pub reasons: Vec<String>,
    pub members: Vec<MemberHealth>,
    /// An outage although the endpoint answers: no primary/leader/writable source, two servers
    /// accepting writes, a Kubernetes context that is not watched. Decides exit code 2.
    pub critical: bool,
}

/// Exit codes of `status` and `advise`, the monitoring-plugins convention.
pub const EXIT_OK: u8 = 0;
pub const EXIT_WARNING: u8 = 1;
pub const EXIT_CRITICAL: u8 = 2;
pub const EXIT_UNKNOWN: u8 = 3;

impl EndpointHealth {
    /// 0 ok, 1 warning (degraded: a threshold crossed, a member not ok), 2 critical (down,
    /// stale, or an outage such as no primary), 3 unknown (never answered: nothing to judge).
    pub fn exit_code(&self) -> u8 {
        match self.state {
            HealthState::Down | HealthState::Stale => EXIT_CRITICAL,
            _ if self.critical => EXIT_CRITICAL,
            HealthState::Connecting => EXIT_UNKNOWN,
            HealthState::Degraded => EXIT_WARNING,
            HealthState::Ok => EXIT_OK,
        }
    }

    /// One line for the status bar and tooltips: "degraded: no primary answers; replica_b down".
    pub fn line(&self) -> String {
        if self.reasons.is_empty() {
            self.state.label().to_string()
        } else {
            format!("{}: {}", self.state.label(), self.reasons.join("; "))
        }
    }
}

/// The exit code of several judgements: critical over warning over unknown over ok.
pub fn worst_exit_code(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        EXIT_CRITICAL => 3,
        EXIT_WARNING => 2,
        EXIT_UNKNOWN => 1,
        _ => 0,
    };
    codes
        .into_iter()
        .max_by_key(|&c| rank(c))
        .unwrap_or(EXIT_OK)
}

/// How the poll loop last saw the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reachability {
    Connecting,
    Answering,
    /// The last poll(s) failed; the last snapshot is kept.
    Stale,
    Down,
}

/// The endpoint's state from how it answers and what its latest snapshot says.
pub fn assess_endpoint(
    reach: Reachability,
    last_error: Option<&str>,
    snapshot: Option<&Snapshot>,
    limits: &Thresholds,
) -> EndpointHealth {
    let mut health = snapshot.map_or_else(
        || EndpointHealth {
            state: HealthState::Ok,
            reasons: Vec::new(),
            members: Vec::new(),
            critical: false,
        },
        |s| assess_snapshot(s, limits),
    );
    let error = last_error.map(str::to_owned);
    match reach {
        Reachability::Answering => {}
        Reachability::Connecting => {
            health.state = HealthState::Connecting;
            health.reasons.insert(0, "not polled yet".into());
        }
        Reachability::Stale => {
            health.state = HealthState::Stale;
            health.reasons.insert(
                0,
                error.unwrap_or_else(|| "the last poll failed".into()) + " (showing the last view)",
            );
        }
        Reachability::Down => {
            health.state = HealthState::Down;
            health
                .reasons
                .insert(0, error.unwrap_or_else(|| "does not answer".into()));
        }
    }
    // The contexts of a last view kept after every context failed are not watched now,
    // whatever that view said of them.
    if matches!(health.state, HealthState::Stale | HealthState::Down)
        && matches!(snapshot, Some(Snapshot::Workloads(_)))
    {
        for m in health
            .members
            .iter_mut()
            .filter(|m| m.name.starts_with("context "))
        {
            if m.state == HealthState::Ok || m.state == HealthState::Degraded {
                m.state = health.state;
                m.reason = Some("not answering: this is its last view".into());
            }
        }
        health.critical = true;
    }
    health
}

/// Members and reasons from one snapshot of an endpoint that answered.
pub fn assess_snapshot(snapshot: &Snapshot, limits: &Thresholds) -> EndpointHealth {
    let mut members = Vec::new();
    let mut reasons = Vec::new();
    match snapshot {
        Snapshot::Workloads(list) => {
            sources(&list.sources, &mut members, &mut reasons);
            // Only workloads that are not ok are listed as members: a cluster of 10,000 healthy
            // workloads costs nothing here.
            let (mut not_ready, mut stale) = (0, 0);
            for w in list {
                let (state, reason) = if w.stale_since.is_some() {
                    stale += 1;
                    (
                        HealthState::Stale,
                        "its source is not answering: this is its last view".to_string(),
                    )
                } else if w.ready < w.desired {
                    not_ready += 1;
                    let mut r = format!("{} of {} ready", w.ready, w.desired);
                    if let Some(why) = &w.pending_reason {
                        r.push_str(": ");
                        r.push_str(why);
                    }
                    (HealthState::Degraded, r)
                } else {
                    continue;
                };
                members.push(MemberHealth {
                    name: w.id.to_string(),
                    state,
                    reason: Some(reason),
                });
            }
            if stale > 0 {
                reasons.push(format!(
                    "{stale} of {} workloads show a stale view (their context is not answering)",
                    list.len()
                ));
            }
            if not_ready > 0 {
                reasons.push(format!(
                    "{not_ready} of {} workloads not fully ready",
                    list.len()
                ));
            }
            if !list.is_empty() && stale == list.len() {
                return EndpointHealth {
                    state: HealthState::Stale,
                    reasons,
                    members,
                    critical: is_critical(snapshot),
                };
            }
        }
        Snapshot::Databases(db) => database(db, limits, &mut members, &mut reasons),
        Snapshot::Pgbouncer(p) => pgbouncer(p, limits, &mut members, &mut reasons),
        Snapshot::Mysql(db) => mysql(db, limits, &mut members, &mut reasons),
        Snapshot::Cache(nodes) => {
            for n in nodes {
                let (state, reason) = cache_node(n, limits);
                if let Some(r) = &reason {
                    reasons.push(format!("{}: {r}", n.name));
                }
                members.push(MemberHealth {
                    name: n.name.clone(),
                    state,
                    reason,
                });
            }
        }
        Snapshot::Queues(list) => {
            for q in list {
                let (state, reason) = match &q.error {
                    Some(e) => (HealthState::Down, Some(e.clone())),
                    None if q.depth > limits.queue_depth => (
                        HealthState::Degraded,
                        Some(format!(
                            "{} waiting, over the backlog threshold of {}",
                            q.depth, limits.queue_depth
                        )),
                    ),
                    None => (HealthState::Ok, None),
                };
                if let Some(r) = &reason {
                    reasons.push(format!("queue {}: {r}", q.name));
                }
                members.push(MemberHealth {
                    name: q.name.clone(),
                    state,
                    reason,
                });
            }
        }
        Snapshot::Health(checks) => {
            for h in checks {
                let (state, reason) = if h.up {
                    // Up at its last answer, but its probe now runs late ("slow: …").
                    match &h.error {
                        Some(e) => (HealthState::Degraded, Some(e.clone())),
                        None => (HealthState::Ok, None),
                    }
                } else {
                    let why = h
                        .error
                        .clone()
                        .or_else(|| h.status_code.map(|c| format!("HTTP {c}")))
                        .unwrap_or_else(|| "down".into());
                    (HealthState::Down, Some(why))
                };
                members.push(MemberHealth {
                    name: h.name.clone(),
                    state,
                    reason,
                });
            }
            let down: Vec<&MemberHealth> = members
                .iter()
                .filter(|m| m.state == HealthState::Down)
                .collect();
            for m in members.iter().filter(|m| m.state == HealthState::Degraded) {
                reasons.push(format!(
                    "{}: {}",
                    m.name,
                    m.reason.as_deref().unwrap_or("slow")
                ));
            }
            if !down.is_empty() {
                reasons.insert(
                    0,
                    format!(
                        "{} of {} checks DOWN: {}",
                        down.len(),
                        checks.len(),
                        down.iter()
                            .map(|m| format!(
                                "{} ({})",
                                m.name,
                                m.reason.as_deref().unwrap_or("down")
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        Snapshot::Patroni(p) => patroni(p, &mut members, &mut reasons),
        Snapshot::Prometheus(p) => {
            for q in &p.queries {
                let (state, reason) = match &q.error {
                    Some(e) => (HealthState::Degraded, Some(e.clone())),
                    None => (HealthState::Ok, None),
                };
                if let Some(r) = &reason {
                    reasons.push(format!("query {}: {r}", q.name));
                }
                members.push(MemberHealth {
                    name: q.name.clone(),
                    state,
                    reason,
                });
            }
        }
    }
    let all_down = !members.is_empty() && members.iter().all(|m| m.state == HealthState::Down);
    let state = if all_down {
        HealthState::Down
    } else if members.iter().any(|m| m.state != HealthState::Ok) || !reasons.is_empty() {
        HealthState::Degraded
    } else {
        HealthState::Ok
    };
    EndpointHealth {
        state,
        reasons,
        members,
        critical: is_critical(snapshot),
    }
}

/// Findings that are an outage although the endpoint answers (exit code 2, not 1).
fn is_critical(snapshot: &Snapshot) -> bool {
    match snapshot {
        Snapshot::Databases(db) => {
            !db.servers.is_empty()
                && (db.primaries().next().is_none() || db.primaries().count() > 1)
        }
        Snapshot::Mysql(db) => {
            !db.servers.is_empty()
                && (db.writable().next().is_none() || db.servers.iter().any(|s| s.second_writable))
        }
        Snapshot::Patroni(p) => p.leader().is_none() || p.split_brain(),
        Snapshot::Workloads(list) => list.sources.iter().any(|s| s.state.unwatched()),
        _ => false,
    }
}

/// Kubernetes contexts: every one is a member ("context east"); when any is not ok, each is
/// also a reason line, so `status` text names all of them, the ok ones included.
fn sources(
    list: &[crate::model::workloads::Source],
    members: &mut Vec<MemberHealth>,
    reasons: &mut Vec<String>,
) {
    use crate::model::workloads::SourceState;
    let all_ok = list.iter().all(|s| s.state == SourceState::Ok);
    for s in list {
        let state = match s.state {
            SourceState::Ok => HealthState::Ok,
            SourceState::Degraded => HealthState::Degraded,
            SourceState::Stale => HealthState::Stale,
            SourceState::Down | SourceState::Missing => HealthState::Down,
        };
        // "missing" has no HealthState of its own: its reason starts with the word.
        let reason = match (s.state, &s.reason) {
            (SourceState::Ok, _) => None,
            (SourceState::Missing, Some(r)) => Some(format!("missing: {r}")),
            (_, r) => r.clone(),
        };
        if !all_ok {
            reasons.push(match &reason {
                Some(r) if s.state == SourceState::Missing => format!("{}: {r}", s.name),
                Some(r) => format!("{}: {}: {r}", s.name, s.state.label()),
                None => format!("{}: {}", s.name, s.state.label()),
            });
        }
        members.push(MemberHealth {
            name: s.name.clone(),
            state,
            reason,
        });
    }
}

/// MySQL/MariaDB: no writable source, a second writable server, replica threads stopped or
/// failing, lag over the endpoint's failover limit, connections over the threshold.
fn mysql(
    db: &crate::model::mysql::MysqlSnapshot,
    limits: &Thresholds,
    members: &mut Vec<MemberHealth>,
    reasons: &mut Vec<String>,
) {
    if db.writable().next().is_none() {
        reasons.push("no writable source answers".into());
    }
    for s in &db.servers {
        let mut why = Vec::new();
        let state = if s.reachable {
            if s.second_writable {
                why.push("second writable server".to_string());
            }
            if let Some(r) = &s.replica {
                if !r.io_running() {
                    why.push(format!("IO thread {}", r.io_running));
                }
                if !r.sql_running {
                    why.push("SQL thread stopped".into());
                }
                why.extend(r.last_io_error.iter().cloned());
                why.extend(r.last_sql_error.iter().cloned());
                match s.lag_seconds {
                    Some(l) if l > db.max_failover_lag_seconds as f64 => why.push(format!(
                        "lag {l:.0} s over {} s",
                        db.max_failover_lag_seconds
                    )),
                    None => why.push(format!("lag {}", s.lag_text())),
                    Some(_) => {}
                }
            }
            if let Some(pct) = s.connections_percent()
                && pct >= limits.connections_percent
            {
                why.push(format!(
                    "{} of {} connections ({pct:.0} %, threshold {:.0} %)",
                    s.connections, s.max_connections, limits.connections_percent
                ));
            }
            if why.is_empty() {
                HealthState::Ok
            } else {
                HealthState::Degraded
            }
        } else {
            why.push(s.error.clone().unwrap_or_else(|| "does not answer".into()));
            HealthState::Down
        };
        let reason = (!why.is_empty()).then(|| why.join(", "));
        if let Some(r) = &reason {
            reasons.push(format!("{}: {r}", s.name));
        }
        members.push(MemberHealth {
            name: s.name.clone(),
            state,
            reason,
        });
    }
}

/// A Patroni cluster: no (running) leader, members not running, lag over Patroni's own
/// `maximum_lag_on_failover`, pending restarts, maintenance mode.
fn patroni(
    p: &crate::model::patroni::PatroniSnapshot,
    members: &mut Vec<MemberHealth>,
    reasons: &mut Vec<String>,
) {
    match p.leader() {
        None => reasons.push(format!(
            "no leader: no member of {} holds the leader lock",
            p.cluster
        )),
        Some(l) if !l.is_running() => {
            reasons.push(format!("leader {} is {}", l.name, l.state));
        }
        Some(_) => {}
    }
    if p.split_brain() {
        let leader = p.leader().map_or("no member", |l| l.name.as_str());
        let writers: Vec<String> = p
            .silent_writers()
            .iter()
            .map(|s| {
                format!(
                    "{}{}",
                    s.name,
                    s.address
                        .as_deref()
                        .map_or_else(String::new, |a| format!(" ({a})"))
                )
            })
            .collect();
        reasons.insert(
            0,
            format!(
                "SPLIT BRAIN: two servers accept writes: {leader} holds the leader lock, and the \
                 PostgreSQL of {} still accepts writes outside Patroni's control. Fence {} now \
                 (stop that PostgreSQL or block it at the load balancer): its Patroni is not \
                 running to do it",
                writers.join(", "),
                writers.join(", ")
            ),
        );
    }
    if p.paused {
        reasons.push("paused (maintenance mode): Patroni will not fail over by itself".into());
    }
    let leader_timeline = p.leader().and_then(|l| l.timeline);
    for m in &p.members {
        let mut why = Vec::new();
        let mut state = HealthState::Ok;
        if !m.is_running() {
            state = HealthState::Down;
            why.push(format!("{} ({})", m.state, m.role.label()));
        } else {
            if let Some(lag) = m.lag_bytes
                && lag > p.lag_limit()
            {
                why.push(format!(
                    "lag {} over maximum_lag_on_failover {}",
                    format_bytes(lag),
                    p.lag_limit_text()
                ));
            }
            if !m.role.is_leader() {
                // A replica whose lag Patroni cannot tell is not streaming from anyone.
                if m.lag_bytes.is_none() {
                    why.push("lag unknown — not streaming".into());
                }
                if let (Some(tl), Some(leader_tl)) = (m.timeline, leader_timeline)
                    && tl < leader_tl
                {
                    why.push(format!("timeline {tl}, leader on {leader_tl}"));
                }
            }
            if m.pending_restart {
                why.push("pending restart".into());
            }
            if !why.is_empty() {
                state = HealthState::Degraded;
            }
        }
        if let Some(silent) = p.silent.iter().find(|s| s.name == m.name) {
            // Patroni still lists it (its TTL has not passed), but its own REST API is silent.
            if state == HealthState::Ok {
                state = HealthState::Degraded;
            }
            why.push(
                silent
                    .describe()
                    .trim_start_matches(&format!("{}: ", m.name))
                    .to_string(),
            );
        }
        let reason = (!why.is_empty()).then(|| why.join(", "));
        if let Some(r) = &reason {
            reasons.push(format!("{}: {r}", m.name));
        }
        members.push(MemberHealth {
            name: m.name.clone(),
            state,
            reason,
        });
    }
    // Members that dropped out of /cluster, profile URLs that do not answer, servers outside
    // Patroni that take writes: said by name, never dropped silently.
    for s in p.silent.iter().filter(|s| p.member(&s.name).is_none()) {
        let text = s.describe();
        reasons.push(text.clone());
        members.push(MemberHealth {
            name: s.name.clone(),
            // A server that takes writes answers: it is not down, it is in the wrong place.
            state: if s.writes == crate::model::patroni::WriteCheck::AcceptsWrites {
                HealthState::Degraded
            } else {
                HealthState::Down
            },
            reason: Some(
                text.trim_start_matches(&format!("{}: ", s.name))
                    .to_string(),
            ),
        });
    }
}

fn database(
    db: &DatabaseSnapshot,
    limits: &Thresholds,
    members: &mut Vec<MemberHealth>,
    reasons: &mut Vec<String>,
) {
    if db.primaries().next().is_none() {
        reasons.push("no primary answers".into());
    }
    if db.primaries().count() > 1 {
        reasons.push("more than one server accepts writes".into());
    }
    for s in &db.servers {
        let mut why = Vec::new();
        let mut state = HealthState::Ok;
        if !s.reachable {
            state = HealthState::Down;
            why.push(s.error.clone().unwrap_or_else(|| "does not answer".into()));
        } else {
            if s.second_primary {
                why.push("a second primary".into());
            }
            if let Some(lag) = s.lag_bytes
                && lag > limits.replication_lag_bytes
            {
                why.push(format!(
                    "lag {} over {}",
                    format_bytes(lag),
                    format_bytes(limits.replication_lag_bytes)
                ));
            }
            if s.max_connections > 0 {
                let pct = f64::from(s.connections) * 100.0 / f64::from(s.max_connections);
                if pct >= limits.connections_percent {
                    why.push(format!(
                        "{} of {} connections ({pct:.0} %, threshold {:.0} %)",
                        s.connections, s.max_connections, limits.connections_percent
                    ));
                }
            }
            if !why.is_empty() {
                state = HealthState::Degraded;
            }
        }
        let reason = (!why.is_empty()).then(|| why.join(", "));
        if let Some(r) = &reason {
            reasons.push(format!("{}: {r}", s.name));
        }
        members.push(MemberHealth {
            name: s.name.clone(),
            state,
            reason,
        });
    }
}

/// PgBouncer: each pool is a member. Clients waiting for a server, or a pool whose server
/// connections reach the warning level of its limit, make it degraded, named with the numbers;
/// so do a database over its `max_db_connections` level and clients near `max_client_conn`.
fn pgbouncer(
    p: &PgbouncerSnapshot,
    limits: &Thresholds,
    members: &mut Vec<MemberHealth>,
    reasons: &mut Vec<String>,
) {
    let warn = p.pool_warn_percent.unwrap_or(limits.connections_percent);
    for pool in &p.pools {
        let mut why = Vec::new();
        if pool.cl_waiting > 0 {
            why.push(format!(
                "{} clients waiting for a server (longest {:.1} s)",
                pool.cl_waiting, pool.maxwait_secs
            ));
        }
        if let (Some(pct), Some(limit)) = (pool.usage_percent(), pool.pool_limit)
            && pct >= warn
        {
            why.push(format!(
                "{} of {limit} server connections busy ({pct:.0} % of {}, threshold {warn:.0} %)",
                pool.servers_busy(),
                pool.limit_source.map_or("its limit", |s| s.setting())
            ));
        }
        let reason = (!why.is_empty()).then(|| why.join(", "));
        if let Some(r) = &reason {
            reasons.push(format!("pool {}: {r}", pool.name()));
        }
        members.push(MemberHealth {
            name: pool.name(),
            state: if reason.is_some() {
                HealthState::Degraded
            } else {
                HealthState::Ok
            },
            reason,
        });
    }
    for db in &p.databases {
        if db.paused {
            reasons.push(format!("database {} is PAUSED", db.name));
        }
        if db.disabled {
            reasons.push(format!("database {} is DISABLED", db.name));
        }
        if let (Some(max), Some(cur)) = (
            db.max_connections.filter(|m| *m > 0),
            db.current_connections,
        ) {
            let pct = f64::from(cur) * 100.0 / f64::from(max);
            if pct >= warn {
                reasons.push(format!(
                    "database {}: {cur} of {max} server connections ({pct:.0} % of max_db_connections, threshold {warn:.0} %)",
                    db.name
                ));
            }
        }
    }
    if let Some(max) = p.config.max_client_conn.filter(|m| *m > 0) {
        let clients = p.clients();
        #[allow(clippy::cast_precision_loss)] // a percentage
        let pct = clients as f64 * 100.0 / f64::from(max);
        if pct >= warn {
            reasons.push(format!(
                "{clients} of {max} client connections ({pct:.0} % of max_client_conn, threshold {warn:.0} %)"
            ));
        }
    }
}

fn cache_node(n: &CacheNode, limits: &Thresholds) -> (HealthState, Option<String>) {
    if let Some(e) = &n.error {
        return (HealthState::Down, Some(e.clone()));
    }
    let mut why = Vec::new();
    if let Some(hit) = n.hit_ratio
        && !n.queue_store
        && hit < limits.cache_hit_ratio_floor
    {
        why.push(format!(
            "hit ratio {:.0} % under the floor of {:.0} %",
            hit * 100.0,
            limits.cache_hit_ratio_floor * 100.0
        ));
    }
    if n.max_memory_bytes > 0 {
        #[allow(clippy::cast_precision_loss)] // a percentage
        let pct = n.used_memory_bytes as f64 * 100.0 / n.max_memory_bytes as f64;
        if pct >= limits.cache_memory_percent {
            why.push(format!(
                "memory {pct:.0} % of maxmemory (threshold {:.0} %)",
                limits.cache_memory_percent
            ));
        }
    }
    if why.is_empty() {
        (HealthState::Ok, None)
    } else {
        (HealthState::Degraded, Some(why.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::{DbServer, HealthCheck};

    fn check(name: &str, up: bool) -> HealthCheck {
        HealthCheck {
            name: name.into(),
            up,
            error: (!up).then(|| "connection refused".into()),
            ..HealthCheck::default()
        }
    }

    #[test]
    fn one_failing_check_of_five_is_degraded_and_named() {
        let s = Snapshot::Health(vec![
            check("a", true),
            check("b", false),
            check("c", true),
            check("d", false),
            check("e", true),
        ]);
        let h = assess_endpoint(
            Reachability::Answering,
            None,
            Some(&s),
            &Thresholds::default(),
        );
        assert_eq!(h.state, HealthState::Degraded);
        assert_eq!(
            h.reasons,
            ["2 of 5 checks DOWN: b (connection refused), d (connection refused)"]
        );
    }

    #[test]
    fn no_primary_and_connections_over_the_threshold_are_degraded() {
        let server = |name: &str, recovery: bool, conns: u32| DbServer {
            name: name.into(),
            reachable: true,
            in_recovery: recovery,
            connections: conns,
            max_connections: 30,
            ..DbServer::default()
        };
        let db = |servers| {
            Snapshot::Databases(DatabaseSnapshot {
                cluster: "c".into(),
                servers,
                seen_by_primary: Vec::new(),
                last_primary_lsn: None,
                max_failover_lag_bytes: None,
            })
        };
        let limits = Thresholds::default();
        let h = assess_snapshot(&db(vec![server("r1", true, 2)]), &limits);
        assert_eq!(h.state, HealthState::Degraded);
        assert_eq!(h.reasons[0], "no primary answers");
        let h = assess_snapshot(&db(vec![server("p", false, 25)]), &limits);
        assert_eq!(h.state, HealthState::Degraded);
        assert!(h.reasons[0].contains("25 of 30 connections (83 %"), "{h:?}");
        let h = assess_snapshot(&db(vec![server("p", false, 3)]), &limits);
        assert_eq!(h.state, HealthState::Ok);
    }

    #[test]
    fn workloads_of_a_context_that_stopped_answering_are_stale() {
        use crate::model::snapshot::{Workload, WorkloadKind, WorkloadRef};
        let w = |name: &str, stale: bool| Workload {
            id: WorkloadRef::new("k8s", "east/ns", WorkloadKind::Deployment, name),
            revision: None,
            resource_version: None,
            stale_since: stale.then_some(1),
            desired: 2,
            ready: 2,
            available: 2,
            updated: 2,
            cpu_percent: None,
            memory_percent: None,
            autoscaler: None,
            fixed_host_port: None,
            pending_reason: None,
            docker: None,
            scale_denied: None,
            autoscale_denied: None,
        };
        let limits = Thresholds::default();
        let some = assess_snapshot(
            &Snapshot::Workloads(vec![w("a", true), w("b", false)].into()),
            &limits,
        );
        assert_eq!(some.state, HealthState::Degraded);
        assert_eq!(
            some.reasons,
            ["1 of 2 workloads show a stale view (their context is not answering)"]
        );
        assert_eq!(some.members.len(), 1, "ok workloads are not listed");
        let all = assess_snapshot(&Snapshot::Workloads(vec![w("a", true)].into()), &limits);
        assert_eq!(all.state, HealthState::Stale);
    }

    #[test]
    fn pgbouncer_pools_near_their_limit_or_with_waiting_clients_are_degraded() {
        use crate::model::pgbouncer::{
            PgbouncerDatabase, PgbouncerPool, PgbouncerSnapshot, PoolLimitSource,
        };
        let pool = |user: &str, active: u32, waiting: u32| PgbouncerPool {
            database: "orders".into(),
            user: user.into(),
            cl_active: active,
            cl_waiting: waiting,
            sv_active: active,
            maxwait_secs: if waiting > 0 { 2.5 } else { 0.0 },
            pool_mode: "transaction".into(),
            pool_limit: Some(20),
            limit_source: Some(PoolLimitSource::DefaultPoolSize),
            ..PgbouncerPool::default()
        };
        let mut p = PgbouncerSnapshot {
            pools: vec![
                pool("app", 20, 4),
                pool("reports", 17, 0),
                pool("etl", 3, 0),
            ],
            ..PgbouncerSnapshot::default()
        };
        let limits = Thresholds::default();
        let h = assess_snapshot(&Snapshot::Pgbouncer(p.clone()), &limits);
        assert_eq!(h.state, HealthState::Degraded);
        assert_eq!(
            h.reasons,
            [
                "pool orders/app: 4 clients waiting for a server (longest 2.5 s), 20 of 20 \
                 server connections busy (100 % of default_pool_size, threshold 80 %)",
                "pool orders/reports: 17 of 20 server connections busy (85 % of \
                 default_pool_size, threshold 80 %)",
            ]
        );
        assert_eq!(h.members[2].state, HealthState::Ok);
        // The endpoint's own level wins over the profile's.
        p.pools.truncate(3);
        p.pools[0].cl_waiting = 0;
        p.pool_warn_percent = Some(100.0);
        p.pools[0].sv_active = 19;
        p.databases.push(PgbouncerDatabase {
            name: "orders".into(),
            paused: true,
            ..PgbouncerDatabase::default()
        });
        let h = assess_snapshot(&Snapshot::Pgbouncer(p), &limits);
        assert_eq!(h.reasons, ["database orders is PAUSED"]);
    }

    #[test]
    fn a_stale_endpoint_says_so_whatever_its_last_snapshot_said() {
        let s = Snapshot::Health(vec![check("a", true)]);
        let h = assess_endpoint(
            Reachability::Stale,
            Some("connection refused"),
            Some(&s),
            &Thresholds::default(),
        );
        assert_eq!(h.state, HealthState::Stale);
        assert_eq!(
            h.line(),
            "stale: connection refused (showing the last view)"
        );
    }

    #[test]
    fn a_patroni_replica_not_streaming_or_on_an_old_timeline_is_degraded() {
        use crate::model::patroni::{PatroniMember, PatroniRole, PatroniSnapshot};
        let m = |name: &str, role, tl, lag| PatroniMember {
            name: String::from(name),
            role,
            state: "running".into(),
            timeline: Some(tl),
            lag_bytes: lag,
            ..PatroniMember::default()
        };
        let p = PatroniSnapshot {
            cluster: "c".into(),
            members: vec![
                m("a", PatroniRole::Leader, 3, None),
                m("b", PatroniRole::Replica, 3, None),
                m("c", PatroniRole::Replica, 2, Some(0)),
                m("d", PatroniRole::Replica, 3, Some(0)),
            ],
            ..PatroniSnapshot::default()
        };
        let h = assess_snapshot(&Snapshot::Patroni(Box::new(p)), &Thresholds::default());
        assert_eq!(h.state, HealthState::Degraded, "{h:?}");
        let of = |n: &str| h.members.iter().find(|x| x.name == n).unwrap();
        assert_eq!(of("a").state, HealthState::Ok);
        assert_eq!(of("d").state, HealthState::Ok);
        assert_eq!(of("b").state, HealthState::Degraded);
        assert_eq!(
            of("b").reason.as_deref(),
            Some("lag unknown — not streaming")
        );
        assert_eq!(of("c").reason.as_deref(), Some("timeline 2, leader on 3"));
    }
}
