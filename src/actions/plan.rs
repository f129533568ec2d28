//! Planning: turn an [`Action`] into a preview the operator can judge — before/after, the
//! command they could have typed instead, and guards that pass, warn or refuse in plain words.
//! Pure: it reads the latest snapshots and never touches a system.

use crate::model::action::Action;
use crate::model::snapshot::{DatabaseSnapshot, DbServer, Workload, WorkloadKind, WorkloadRef};
use crate::model::units;
pub use crate::model::units::{format_bytes, format_lsn};
use serde::{Deserialize, Serialize};

/// Where planning looks up the current state of targets (the UI's fleet state, or the CLI's).
pub trait FleetView {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload>;
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot>;
    /// A MySQL/MariaDB cluster's latest snapshot; views without one say None.
    fn mysql(&self, endpoint: &str) -> Option<&crate::model::mysql::MysqlSnapshot> {
        let _ = endpoint;
        None
    }
    /// The latest snapshot of a Patroni endpoint.
    fn patroni(&self, endpoint: &str) -> Option<&crate::model::patroni::PatroniSnapshot> {
        let _ = endpoint;
        None
    }
    /// A workload endpoint's capacity view (Kubernetes: nodes, quotas, needs), for the fit
    /// check of a scale plan; views without one say None and the check is left out.
    fn capacity(&self, endpoint: &str) -> Option<&crate::model::capacity::CapacityView> {
        let _ = endpoint;
        None
    }
    /// Every Patroni cluster in view, as (endpoint, snapshot): a PostgreSQL server that is a
    /// member of one must not be promoted with `pg_promote`.
    fn patroni_clusters(&self) -> Vec<(&str, &crate::model::patroni::PatroniSnapshot)> {
        Vec::new()
    }
    /// Another console is changing this action's target right now (team mode): what it does,
    /// e.g. "in progress: alice@ops1 since 10:02:13 UTC — scale …". Views without one say None.
    fn in_progress(&self, action: &Action) -> Option<String> {
        let _ = action;
        None
    }
}

/// Profile settings that affect planning.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanPolicy {
    pub profile: String,
    pub read_only: bool,
    pub max_failover_lag_bytes: u64,
    /// Kubernetes context for the kubectl line, per endpoint name (the demo uses its own name).
    pub kube_context: Option<String>,
    /// PostgreSQL endpoints whose servers a Patroni endpoint manages (its `discover_from`):
    /// `pg_promote` on them is refused even when no address matches a member.
    pub patroni_links: Vec<PatroniLink>,
}

/// A Patroni endpoint and the PostgreSQL endpoint it names in `discover_from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatroniLink {
    pub patroni: String,
    pub postgres: String,
}

impl PatroniLink {
    /// The links a profile declares.
    pub fn of_profile(profile: &crate::profiles::Profile) -> Vec<Self> {
        profile
            .patroni
            .iter()
            .filter_map(|p| {
                Some(Self {
                    patroni: p.name.clone(),
                    postgres: p.discover_from.clone()?,
                })
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GuardLevel {
    Pass,
    Warn,
    Refuse,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    pub level: GuardLevel,
    pub reason: String,
}

impl Guard {
    pub fn pass(reason: impl Into<String>) -> Self {
        Self {
            level: GuardLevel::Pass,
            reason: reason.into(),
        }
    }
    pub fn warn(reason: impl Into<String>) -> Self {
        Self {
            level: GuardLevel::Warn,
            reason: reason.into(),
        }
    }
    pub fn refuse(reason: impl Into<String>) -> Self {
        Self {
            level: GuardLevel::Refuse,
            reason: reason.into(),
        }
    }
}

/// Something the dialog can offer instead of the planned action (e.g. edit the HPA).
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub label: String,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub action: Action,
    pub title: String,
    pub before: String,
    pub after: String,
    /// The command a user could type to do the same by hand.
    pub command: String,
    pub guards: Vec<Guard>,
    /// Dangerous plans ask the operator to type the target's name.
    pub dangerous: bool,
    pub alternative: Option<Alternative>,
    pub profile: String,
    /// The exact process to run, for connectors that run one (Docker): `command` is its
    /// display, and the connector runs this very value.
    pub command_line: Option<crate::model::exec::CommandLine>,
    /// What the verdict rested on, as seen when planning: compared right before the write.
    pub observed: Vec<super::recheck::Fact>,
    /// The settings it was planned with: the engine plans again with them on fresh state.
    pub policy: PlanPolicy,
}

impl Plan {
    pub fn refused(&self) -> bool {
        self.guards.iter().any(|g| g.level == GuardLevel::Refuse)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Guard> {
        self.guards.iter().filter(|g| g.level != GuardLevel::Pass)
    }

    /// The operator may confirm when nothing refuses, or when they force it; typed-name
    /// confirmation is checked separately by the dialog.
    pub fn confirmable(&self, forced: bool) -> bool {
        !self.refused() || forced
    }

    /// What is read again right before the write, in words.
    pub fn recheck_note(&self) -> &'static str {
        super::recheck::recheck_note(&self.action)
    }
}

/// Upper bound for a replica count typed by hand: anything above is a typo, not a plan.
pub const MAX_REPLICAS: u32 = 1000;

/// A new autoscaler's min and CPU target when the operator leaves them out (`kubectl
/// autoscale`'s); an existing one keeps its own values for whatever is left out.
pub const NEW_AUTOSCALER_MIN: u32 = 1;
pub const NEW_AUTOSCALER_CPU_PERCENT: u32 = 80;

pub fn plan(action: Action, fleet: &dyn FleetView, policy: &PlanPolicy) -> Plan {
    let mut plan = match &action {
        Action::ScaleWorkload { workload, replicas } => {
            plan_scale(&action, workload, *replicas, fleet, policy)
        }
        Action::SetAutoscaler {
            workload,
            min_replicas,
            max_replicas,
            target_cpu_percent,
        } => plan_autoscale(
            &action,
            workload,
            (*min_replicas, *max_replicas, *target_cpu_percent),
            fleet,
            policy,
        ),
        Action::ScaleWorkloads { endpoint, targets } => {
            super::plan_bulk::plan_scale_workloads(&action, endpoint, targets, fleet, policy)
        }
        Action::DeleteAutoscaler { workload } => {
            plan_delete_autoscaler(&action, workload, fleet, policy)
        }
        Action::PromoteReplica {
            endpoint,
            cluster,
            replica,
        } => plan_promote(&action, endpoint, cluster, replica, fleet, policy),
        Action::PromoteMysqlReplica {
            endpoint,
            cluster,
            replica,
        } => super::plan_mysql::plan_promote(&action, endpoint, cluster, replica, fleet, policy),
        Action::ScaleComposeServices {
            endpoint,
            project,
            services,
        } => super::plan_docker::plan_compose_services(
            &action, endpoint, project, services, fleet, policy,
        ),
        Action::PatroniSwitchover { .. }
        | Action::PatroniFailover { .. }
        | Action::PatroniCancelSwitchover { .. } => {
            super::plan_patroni::plan_patroni(&action, fleet, policy)
        }
    };
    plan.action = action;
    plan.observed = super::recheck::facts(&plan.action, fleet);
    if let Some(elsewhere) = fleet.in_progress(&plan.action) {
        plan.guards.insert(
            0,
            Guard::refuse(format!(
                "{elsewhere}. Wait for its outcome, then plan again."
            )),
        );
    }
    if policy.read_only {
        plan.guards.insert(
            0,
            Guard::refuse(format!(
                "Profile \"{}\" is read-only: it allows no action.",
                policy.profile
            )),
        );
    }
    plan
}

/// Kubernetes scopes are `"{context}/{namespace}"`; the demo's are a bare namespace.
pub(super) fn kubectl(policy: &PlanPolicy, w: &WorkloadRef) -> String {
    if let Some((context, namespace)) = w.scope.rsplit_once('/') {
        return format!("kubectl --context {context} -n {namespace}");
    }
    let context = policy.kube_context.as_deref().unwrap_or(&w.endpoint);
    format!("kubectl --context {context} -n {}", w.scope)
}

pub(super) fn resource(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::StatefulSet => "statefulset",
        _ => "deployment",
    }
}

fn plan_scale(
    action: &Action,
    id: &WorkloadRef,
    replicas: u32,
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let mut guards = Vec::new();
    let Some(w) = fleet.workload(id) else {
        return unknown_target(
            action,
            policy,
            format!("Workload {id} is not in the latest snapshot."),
        );
    };
    let current = w.desired;
    let (command, command_line) = match w.id.kind {
        WorkloadKind::ComposeService | WorkloadKind::SwarmService => {
            super::plan_docker::scale_command(w, replicas)
        }
        kind => (
            format!(
                "{} scale {}/{} --replicas={replicas}",
                kubectl(policy, id),
                resource(kind),
                id.name
            ),
            None,
        ),
    };
    if let Some(reason) = &w.scale_denied {
        guards.push(Guard::refuse(reason.clone()));
    }
    if replicas > MAX_REPLICAS {
        guards.push(Guard::refuse(format!(
            "{} is above the limit of {MAX_REPLICAS}; this looks like a typo.",
            units::replicas(replicas)
        )));
    }
    if replicas == current {
        guards.push(Guard::warn(format!(
            "{} already wants {}: nothing would change.",
            id.name,
            units::replicas(current)
        )));
    }
    guards.extend(super::plan_docker::capacity_guards(w, replicas));
    if let Some(d) = w.docker.as_deref() {
        guards.extend(super::plan_docker::project_guards(&id.scope, d));
    }
    let mut alternative = None;
    if let Some(hpa) = &w.autoscaler {
        guards.push(Guard::warn(format!(
            "Autoscaler {} manages {} (min {}, max {}, target CPU {} %): it will undo a manual \
             scale within seconds. Change the autoscaler's min/max instead.",
            hpa.name, id.name, hpa.min_replicas, hpa.max_replicas, hpa.target_cpu_percent
        )));
        let min = replicas.clamp(1, MAX_REPLICAS);
        alternative = Some(Alternative {
            label: format!(
                "Edit autoscaler instead: min {min}, max {}",
                hpa.max_replicas.max(min)
            ),
            action: Action::SetAutoscaler {
                workload: id.clone(),
                min_replicas: min,
                max_replicas: hpa.max_replicas.max(min),
                target_cpu_percent: hpa.target_cpu_percent,
            },
        });
    }
    if replicas == 0 {
        guards.push(Guard::warn(format!(
            "Scaling to 0 stops every replica of {}: it will serve nothing.",
            id.name
        )));
    } else if current > 0 && (replicas >= current.saturating_mul(3) || replicas + 10 <= current) {
        guards.push(Guard::warn(format!(
            "Big jump: {current} -> {}. Check capacity and cost before going on.",
            units::replicas(replicas)
        )));
    }
    let fit = super::plan_fit::fit_guards(
        fleet,
        &super::plan_fit::Target {
            id,
            current,
            replicas,
        },
    );
    if guards.is_empty() && fit.iter().all(|g| g.level == GuardLevel::Pass) {
        guards.push(Guard::pass(format!(
            "{} can be scaled to {replicas}.",
            id.name
        )));
    }
    guards.extend(fit);
    // Every manual scale asks for the typed name: a wrong target is the costly mistake.
    let dangerous = true;
    Plan {
        action: action.clone(),
        title: format!("Scale {} {}", w.id.kind.label(), id),
        before: format!("{} ({} ready)", units::replicas(current), w.ready),
        after: units::replicas(replicas),
        command,
        guards,
        dangerous,
        alternative,
        profile: policy.profile.clone(),
        command_line,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

fn plan_autoscale(
    action: &Action,
    id: &WorkloadRef,
    (min, max, cpu): (u32, u32, u32),
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let Some(w) = fleet.workload(id) else {
        return unknown_target(
            action,
            policy,
            format!("Workload {id} is not in the latest snapshot."),
        );
    };
    let mut guards = Vec::new();
    if let Some(reason) = &w.autoscale_denied {
        guards.push(Guard::refuse(reason.clone()));
    }
    if matches!(
        w.id.kind,
        WorkloadKind::ComposeService | WorkloadKind::SwarmService
    ) {
        guards.push(Guard::refuse(format!(
            "{}s have no autoscaler; scale them by hand.",
            w.id.kind.label()
        )));
    }
    if min == 0 || min > max {
        // With --min or --max alone, the other side is the autoscaler's current value.
        let kept = match &w.autoscaler {
            Some(h) if h.max_replicas == max && h.min_replicas != min => {
                format!(" (max {max} is the autoscaler's current value: change it too)")
            }
            Some(h) if h.min_replicas == min && h.max_replicas != max => {
                format!(" (min {min} is the autoscaler's current value: change it too)")
            }
            _ => String::new(),
        };
        guards.push(Guard::refuse(format!(
            "min {min} / max {max} is not a valid range: min must be at least 1 and not above \
             max{kept}."
        )));
    }
    // Limits apply to what the operator sets: a value the autoscaler already has (an HPA at
    // 150 % CPU, which Kubernetes allows) is kept, never a reason to refuse another change.
    let existing = w.autoscaler.as_ref();
    if max > MAX_REPLICAS && existing.is_none_or(|h| h.max_replicas != max) {
        guards.push(Guard::refuse(format!(
            "max {max} is above the limit of {MAX_REPLICAS}."
        )));
    }
    if !(1..=1000).contains(&cpu) && existing.is_none_or(|h| h.target_cpu_percent != cpu) {
        guards.push(Guard::refuse(format!(
            "Target CPU {cpu} % must be between 1 and 1000 (a percentage of the pods' requests)."
        )));
    }
    if let Some(h) = &w.autoscaler
        && (h.min_replicas, h.max_replicas, h.target_cpu_percent) == (min, max, cpu)
    {
        guards.push(Guard::warn(format!(
            "Autoscaler {} already has min {min}, max {max}, CPU {cpu} %: nothing would change.",
            h.name
        )));
    }
    if guards.is_empty() {
        guards.push(Guard::pass(format!(
            "The autoscaler will keep {} between {min} and {max} replicas.",
            id.name
        )));
    }
    if max <= MAX_REPLICAS {
        guards.extend(super::plan_fit::max_guards(fleet, id, w.desired, max));
    }
    let before = match &w.autoscaler {
        Some(h) => autoscaler_text(h.min_replicas, h.max_replicas, h.target_cpu_percent, h),
        None => format!("no autoscaler, {}", units::replicas(w.desired)),
    };
    let after = match &w.autoscaler {
        Some(h) => autoscaler_after(min, max, cpu, h),
        None => format!("autoscaler min {min}, max {max}, CPU {cpu} %"),
    };
    let command = match &w.autoscaler {
        // min/max alone: a merge patch of the fields that change leaves the rest as it is.
        Some(h) if h.target_cpu_percent == cpu => {
            let mut fields = Vec::new();
            if h.min_replicas != min {
                fields.push(format!("\"minReplicas\":{min}"));
            }
            if h.max_replicas != max {
                fields.push(format!("\"maxReplicas\":{max}"));
            }
            format!(
                "{} patch hpa {} --type=merge -p '{{\"spec\":{{{}}}}}'",
                kubectl(policy, id),
                h.name,
                fields.join(",")
            )
        }
        // A merge patch would replace the whole metrics list: the CPU entry is edited in place.
        Some(h) => format!(
            "{} edit hpa {}  # minReplicas {min}, maxReplicas {max}, the cpu Utilization target {cpu}; every other metric and the behavior stay as they are",
            kubectl(policy, id),
            h.name
        ),
        None => format!(
            "{} autoscale {}/{} --cpu-percent={cpu} --min={min} --max={max}",
            kubectl(policy, id),
            resource(w.id.kind),
            id.name
        ),
    };
    Plan {
        action: action.clone(),
        title: format!("Autoscale {}", id),
        before,
        after,
        command,
        guards,
        dangerous: false,
        alternative: None,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

/// An autoscaler in words with every metric it acts on, so before and after show what stays.
fn autoscaler_text(min: u32, max: u32, cpu: u32, h: &crate::model::snapshot::Autoscaler) -> String {
    let mut text = format!("autoscaler min {min}, max {max}, CPU {cpu} %");
    for m in &h.metrics {
        text.push_str("; ");
        text.push_str(m);
    }
    text
}

/// The autoscaler after an edit: each field that keeps its value says so, so the operator sees
/// what the write leaves alone ("CPU target 60 % (unchanged)").
fn autoscaler_after(
    min: u32,
    max: u32,
    cpu: u32,
    h: &crate::model::snapshot::Autoscaler,
) -> String {
    let field = |label: &str, now: u32, was: u32, unit: &str| {
        if now == was {
            format!("{label} {now}{unit} (unchanged)")
        } else {
            format!("{label} {now}{unit}")
        }
    };
    let mut text = format!(
        "autoscaler {}, {}, {}",
        field("min", min, h.min_replicas, ""),
        field("max", max, h.max_replicas, ""),
        field("CPU target", cpu, h.target_cpu_percent, " %")
    );
    for m in &h.metrics {
        text.push_str(&format!("; {m} (unchanged)"));
    }
    text
}

fn plan_delete_autoscaler(
    action: &Action,
    id: &WorkloadRef,
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let Some(w) = fleet.workload(id) else {
        return unknown_target(
            action,
            policy,
            format!("Workload {id} is not in the latest snapshot."),
        );
    };
    let (before, command, mut guards) = match &w.autoscaler {
        Some(h) => (
            format!(
                "autoscaler {} min {}, max {}, CPU {} %",
                h.name, h.min_replicas, h.max_replicas, h.target_cpu_percent
            ),
            format!("{} delete hpa {}", kubectl(policy, id), h.name),
            vec![Guard::warn(format!(
                "{} keeps its current {} and no longer follows load.",
                id.name,
                units::replicas(w.desired)
            ))],
        ),
        None => (
            "no autoscaler".to_string(),
            String::new(),
            vec![Guard::refuse(format!(
                "{} has no autoscaler to delete.",
                id.name
            ))],
        ),
    };
    if let Some(reason) = &w.autoscale_denied {
        guards.insert(0, Guard::refuse(reason.clone()));
    }
    Plan {
        action: action.clone(),
        title: format!("Delete autoscaler of {id}"),
        before,
        after: format!("no autoscaler, {}", units::replicas(w.desired)),
        command,
        guards,
        dangerous: true,
        alternative: None,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

fn plan_promote(
    action: &Action,
    endpoint: &str,
    cluster: &str,
    replica: &str,
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let Some(db) = fleet.database(endpoint) else {
        return unknown_target(
            action,
            policy,
            format!("Database cluster {cluster} has not been seen yet."),
        );
    };
    let max_lag = db
        .max_failover_lag_bytes
        .unwrap_or(policy.max_failover_lag_bytes);
    let mut guards = Vec::new();
    let candidate = db.servers.iter().find(|s| s.name == replica);
    // The last known primary position: what answers now, or what the connector saw last.
    let primary_lsn = db
        .servers
        .iter()
        .filter(|s| s.name != replica && s.reachable && !s.in_recovery)
        .map(|s| s.lsn)
        .chain(db.last_primary_lsn)
        .max();
    let before = promote_before(db, replica, primary_lsn);
    match candidate {
        None => guards.push(Guard::refuse(format!(
            "{replica} is not part of {cluster} (servers: {}).",
            db.servers
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Some(c) => {
            if !c.reachable {
                guards.push(Guard::refuse(format!(
                    "{replica} does not answer{}: a server that cannot be reached cannot be promoted.",
                    c.error
                        .as_deref()
                        .map_or(String::new(), |e| format!(" ({e})"))
                )));
            } else if !c.in_recovery {
                guards.push(Guard::refuse(format!(
                    "{replica} is not in recovery: it already accepts writes as a primary{}.",
                    if db.primaries().count() > 1 {
                        " (while another primary does too: fence one of them now)"
                    } else {
                        ""
                    }
                )));
            } else {
                if c.replay_paused {
                    guards.push(Guard::warn(format!(
                        "Replay is paused on {replica}: WAL it received is not applied yet. \
                         Resume it with SELECT pg_wal_replay_resume() and let it catch up first."
                    )));
                }
                match primary_lsn {
                    Some(p) => {
                        let behind = p.saturating_sub(c.lsn);
                        if behind > max_lag {
                            guards.push(Guard::refuse(format!(
                                "{replica} is {} behind the last known primary position {} \
                                 (replay LSN {}), more than the maximum failover lag of {}: \
                                 promoting it would lose those writes.",
                                format_bytes(behind),
                                format_lsn(p),
                                format_lsn(c.lsn),
                                format_bytes(max_lag)
                            )));
                        } else {
                            guards.push(Guard::pass(format!(
                                "{replica} is {} behind the last known primary position {} \
                                 (replay LSN {}; limit {}).",
                                format_bytes(behind),
                                format_lsn(p),
                                format_lsn(c.lsn),
                                format_bytes(max_lag)
                            )));
                        }
                    }
                    None => guards.push(Guard::warn(format!(
                        "No primary position was ever seen, so how far {replica} is behind is unknown."
                    ))),
                }
                if let Some(ahead) = db
                    .servers
                    .iter()
                    .filter(|s| s.name != replica && s.reachable && s.in_recovery)
                    .filter(|s| s.lsn > c.lsn)
                    .max_by_key(|s| s.lsn)
                {
                    guards.push(Guard::warn(format!(
                        "{} is further ahead than {replica} (replay LSN {} vs {}, {} more): \
                         promoting {} would lose less.",
                        ahead.name,
                        format_lsn(ahead.lsn),
                        format_lsn(c.lsn),
                        format_bytes(ahead.lsn - c.lsn),
                        ahead.name
                    )));
                }
            }
        }
    }
    // A Patroni member: Patroni undoes a hand-stopped leader, so no fencing advice (the
    // refusal below names the switchover or failover instead).
    let patroni =
        candidate.and_then(|c| super::plan_patroni::promote_refusal(fleet, policy, endpoint, c));
    for old in db
        .servers
        .iter()
        .filter(|s| patroni.is_none() && s.name != replica && s.reachable && !s.in_recovery)
    {
        let stop = match &old.data_directory {
            Some(dir) => format!("pg_ctl stop -D {dir} -m fast"),
            None => "pg_ctl stop -D <its data directory> -m fast".into(),
        };
        guards.push(Guard::refuse(format!(
            "The current primary {} still answers and accepts writes: promoting {replica} now \
             would leave two primaries taking writes, and the writes they split can not be merged. \
             Fence {} first: stop it on its host ({stop}) or block it at the load balancer or \
             connection pooler. Force this only once it is fenced.",
            old.name, old.name
        )));
    }
    let mut alternative = None;
    if let Some((guard, switchover)) = patroni {
        guards.insert(0, guard);
        alternative = switchover;
    }
    let data_dir = candidate
        .and_then(|c| c.data_directory.as_deref())
        .unwrap_or("<its data directory>");
    let timeline = candidate.map_or_else(|| "unknown".into(), DbServer::timeline_text);
    Plan {
        action: action.clone(),
        title: format!("Promote {replica} in {cluster}"),
        before,
        after: format!("{replica}: primary, accepting writes, on a timeline above {timeline}"),
        command: format!(
            "psql -c \"SELECT pg_promote(wait => true, wait_seconds => 60)\"  # connected to {replica}\n\
             # or, on {replica}'s host: pg_ctl promote -D {data_dir}"
        ),
        guards,
        dangerous: true,
        alternative,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

/// The topology table shown in the plan and kept in the audit record as "before".
fn promote_before(db: &DatabaseSnapshot, replica: &str, primary_lsn: Option<u64>) -> String {
    let mut lines = vec![format!(
        "last known primary position {}",
        primary_lsn.map_or("unknown".into(), format_lsn)
    )];
    for s in &db.servers {
        let state = if !s.reachable {
            format!(
                "unreachable{}",
                s.error
                    .as_deref()
                    .map_or(String::new(), |e| format!(": {e}"))
            )
        } else if s.in_recovery {
            format!(
                "replica, replay LSN {}, lag {}{}",
                format_lsn(s.lsn),
                s.lag_bytes.map_or("—".into(), format_bytes),
                if s.replay_paused {
                    ", replay paused"
                } else {
                    ""
                }
            )
        } else {
            format!("PRIMARY, WAL LSN {}", format_lsn(s.lsn))
        };
        let mark = if s.name == replica { "-> " } else { "   " };
        if s.reachable {
            lines.push(format!(
                "{mark}{} (timeline {}): {state}",
                s.name,
                s.timeline_text()
            ));
        } else {
            lines.push(format!("{mark}{}: {state}", s.name));
        }
    }
    lines.join("\n")
}

/// A server of PostgreSQL endpoint `endpoint` that Patroni manages: `pg_promote` on it is
/// always refused (a switchover through Patroni is the way), so no Promote is offered for it.
pub fn promote_belongs_to_patroni(
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
    endpoint: &str,
    server: &DbServer,
) -> bool {
    super::plan_patroni::promote_refusal(fleet, policy, endpoint, server).is_some()
}

pub(crate) fn unknown_target(action: &Action, policy: &PlanPolicy, reason: String) -> Plan {
    Plan {
        action: action.clone(),
        title: format!("{} {}", action.kind(), action.target_path()),
        before: "unknown".into(),
        after: "unknown".into(),
        command: String::new(),
        guards: vec![Guard::refuse(reason)],
        dangerous: true,
        alternative: None,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}
