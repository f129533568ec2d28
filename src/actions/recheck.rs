//! The re-check right before a write. A plan records the facts its verdict rested on (replica
//! counts, autoscaler, spec revision, which servers accept writes…); after the grace period the
//! engine reads the target fresh from the system, plans again on that fresh state and compares.
//! If a fact changed, or a guard now refuses that did not when the operator confirmed, nothing
//! is written and the operator is told what changed, in words.

use super::plan::{FleetView, GuardLevel, Plan, plan};
use crate::model::action::Action;
use crate::model::snapshot::{DatabaseSnapshot, Snapshot, Workload, WorkloadRef};
use serde::{Deserialize, Serialize};

/// One thing a plan's verdict rested on: `what` names it, `value` is what was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub what: String,
    pub value: String,
}

impl Fact {
    fn new(what: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            value: value.into(),
        }
    }
}

/// The facts of an action as a fleet view shows them.
pub fn facts(action: &Action, fleet: &dyn FleetView) -> Vec<Fact> {
    let mut out = Vec::new();
    match action {
        Action::ScaleWorkload { workload, .. }
        | Action::SetAutoscaler { workload, .. }
        | Action::DeleteAutoscaler { workload } => {
            workload_facts(workload, fleet.workload(workload), &mut out);
        }
        Action::ScaleWorkloads { targets, .. } => {
            for (w, _) in targets {
                workload_facts(w, fleet.workload(w), &mut out);
            }
        }
        Action::ScaleComposeServices {
            endpoint,
            project,
            services,
        } => {
            for (service, _) in services {
                let id = WorkloadRef::new(
                    endpoint,
                    project,
                    crate::model::snapshot::WorkloadKind::ComposeService,
                    service,
                );
                workload_facts(&id, fleet.workload(&id), &mut out);
            }
        }
        Action::PromoteReplica {
            endpoint, replica, ..
        } => database_facts(replica, fleet.database(endpoint), &mut out),
        Action::PromoteMysqlReplica {
            endpoint, replica, ..
        } => super::plan_mysql::facts(replica, fleet.mysql(endpoint), &mut out),
        Action::PatroniSwitchover { endpoint, .. }
        | Action::PatroniFailover { endpoint, .. }
        | Action::PatroniCancelSwitchover { endpoint, .. } => {
            super::recheck_patroni::facts(action, fleet.patroni(endpoint), &mut out);
        }
    }
    out
}

fn workload_facts(id: &WorkloadRef, w: Option<&Workload>, out: &mut Vec<Fact>) {
    let Some(w) = w else {
        out.push(Fact::new(format!("{id}"), "not found"));
        return;
    };
    out.push(Fact::new(
        format!("desired replicas of {id}"),
        w.desired.to_string(),
    ));
    let hpa = match &w.autoscaler {
        None => "none".to_string(),
        Some(h) => {
            let mut text = format!(
                "{} (min {}, max {}, CPU {} %",
                h.name, h.min_replicas, h.max_replicas, h.target_cpu_percent
            );
            for m in &h.metrics {
                text.push_str(", ");
                text.push_str(m);
            }
            text.push(')');
            text
        }
    };
    out.push(Fact::new(format!("autoscaler of {id}"), hpa));
    if let Some(revision) = &w.revision {
        out.push(Fact::new(
            format!("spec revision of {id}"),
            revision.clone(),
        ));
    }
    if let Some(compose) = w.docker.as_ref().and_then(|d| d.compose.as_ref()) {
        out.push(Fact::new(
            format!("Compose files of {}", id.scope),
            format!(
                "{} in {}",
                compose.config_files.join(", "),
                compose.working_dir
            ),
        ));
    }
}

fn database_facts(replica: &str, db: Option<&DatabaseSnapshot>, out: &mut Vec<Fact>) {
    let Some(db) = db else {
        out.push(Fact::new("database cluster", "not seen"));
        return;
    };
    let mut primaries: Vec<&str> = db.primaries().map(|s| s.name.as_str()).collect();
    primaries.sort_unstable();
    out.push(Fact::new(
        "servers accepting writes",
        if primaries.is_empty() {
            "none".to_string()
        } else {
            primaries.join(", ")
        },
    ));
    match db.servers.iter().find(|s| s.name == replica) {
        None => out.push(Fact::new(replica, "not part of the cluster")),
        Some(c) => {
            out.push(Fact::new(
                format!("state of {replica}"),
                match (c.reachable, c.in_recovery) {
                    (false, _) => "unreachable",
                    (true, true) => "in recovery",
                    (true, false) => "accepting writes",
                },
            ));
            if c.reachable {
                // The last timeline known, not "unknown" while its WAL receiver restarts
                // (it does, again and again, when the primary is gone: a failover's case).
                out.push(Fact::new(
                    format!("timeline of {replica}"),
                    c.timeline
                        .or(c.recovery_timeline)
                        .map_or_else(|| "unknown".to_string(), |t| t.to_string()),
                ));
            }
        }
    }
}

/// A fleet view over one fresh snapshot of one endpoint.
pub struct FreshView<'a> {
    pub endpoint: &'a str,
    pub snapshot: &'a Snapshot,
}

impl FleetView for FreshView<'_> {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        match self.snapshot {
            Snapshot::Workloads(list) if id.endpoint == self.endpoint => {
                list.iter().find(|w| &w.id == id)
            }
            _ => None,
        }
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        match self.snapshot {
            Snapshot::Databases(db) if endpoint == self.endpoint => Some(db),
            _ => None,
        }
    }
    fn capacity(&self, endpoint: &str) -> Option<&crate::model::capacity::CapacityView> {
        match self.snapshot {
            Snapshot::Workloads(list) if endpoint == self.endpoint => list.capacity.as_deref(),
            _ => None,
        }
    }
    fn mysql(&self, endpoint: &str) -> Option<&crate::model::mysql::MysqlSnapshot> {
        match self.snapshot {
            Snapshot::Mysql(db) if endpoint == self.endpoint => Some(db),
            _ => None,
        }
    }
    fn patroni(&self, endpoint: &str) -> Option<&crate::model::patroni::PatroniSnapshot> {
        match self.snapshot {
            Snapshot::Patroni(p) if endpoint == self.endpoint => Some(p),
            _ => None,
        }
    }
}

/// What the re-check concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recheck {
    /// Nothing the verdict rested on changed: go ahead.
    Unchanged,
    /// Something changed or a guard now refuses: write nothing. Each line says what, in words.
    Changed(Vec<String>),
}

/// Compare a confirmed plan with the same action planned again on fresh state. `forced` plans
/// were confirmed over their refusals, so only refusals they did not have then stop them.
pub fn compare(planned: &Plan, fresh: &Plan, forced: bool) -> Recheck {
    let mut changes = Vec::new();
    for now in &fresh.observed {
        match planned.observed.iter().find(|f| f.what == now.what) {
            Some(then) if then.value != now.value => changes.push(format!(
                "{}: {} when planned, {} now",
                now.what, then.value, now.value
            )),
            None => changes.push(format!(
                "{}: {} now, not seen when planned",
                now.what, now.value
            )),
            Some(_) => {}
        }
    }
    for then in &planned.observed {
        if !fresh.observed.iter().any(|f| f.what == then.what) {
            changes.push(format!(
                "{}: {} when planned, gone now",
                then.what, then.value
            ));
        }
    }
    let refused_then = planned
        .guards
        .iter()
        .filter(|g| g.level == GuardLevel::Refuse)
        .count();
    for g in fresh
        .guards
        .iter()
        .filter(|g| g.level == GuardLevel::Refuse)
    {
        // Wording of a guard carries live numbers (lag bytes), so a forced plan is judged by
        // whether it now has more refusals than the operator overrode.
        let overridden = forced
            && fresh
                .guards
                .iter()
                .filter(|g| g.level == GuardLevel::Refuse)
                .count()
                <= refused_then;
        if !overridden {
            changes.push(format!("a guard refuses now: {}", g.reason));
        }
    }
    if changes.is_empty() {
        Recheck::Unchanged
    } else {
        Recheck::Changed(changes)
    }
}

/// Plan the action again on a fresh snapshot and compare with the confirmed plan.
pub fn recheck(planned: &Plan, fresh: &Snapshot, forced: bool) -> (Recheck, Plan) {
    let view = FreshView {
        endpoint: planned.action.endpoint(),
        snapshot: fresh,
    };
    let again = plan(planned.action.clone(), &view, &planned.policy);
    (compare(planned, &again, forced), again)
}

/// What the plan says about the re-check, per action: the operator learns before confirming
/// what will be read again right before the write.
pub fn recheck_note(action: &Action) -> &'static str {
    match action {
        Action::ScaleWorkload { .. }
        | Action::ScaleWorkloads { .. }
        | Action::SetAutoscaler { .. }
        | Action::DeleteAutoscaler { .. }
        | Action::ScaleComposeServices { .. } => {
            "Right before the write, the target is read again from the server: if its replica \
             count, autoscaler or spec (revision, Compose files) changed since this plan, or a \
             guard now refuses, nothing is written."
        }
        Action::PromoteReplica { .. } => {
            "Right before promotion, every server is asked again: if another server accepts \
             writes, the candidate's timeline or state changed, or its lag is now over the \
             limit, nothing is promoted."
        }
        Action::PromoteMysqlReplica { .. } => {
            "Right before promotion, every server is asked again: if another server accepts \
             writes, the candidate's replica threads or applied/received positions changed, or \
             a guard now refuses, nothing is promoted."
        }
        Action::PatroniSwitchover { .. } | Action::PatroniFailover { .. } => {
            "Right before the request, /cluster is read again: if the leader, the candidate's \
             state, timeline, tags or lag verdict, the pause, the scheduled switchover or \
             /config changed, nothing is sent."
        }
        Action::PatroniCancelSwitchover { .. } => {
            "Right before the request, /cluster is read again: if the scheduled switchover \
             changed or ran, nothing is sent."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::plan::{Guard, PlanPolicy};

    fn plan_with(observed: Vec<Fact>, guards: Vec<Guard>) -> Plan {
        Plan {
            action: Action::PromoteReplica {
                endpoint: "pg".into(),
                cluster: "c".into(),
                replica: "r".into(),
            },
            title: String::new(),
            before: String::new(),
            after: String::new(),
            command: String::new(),
            command_line: None,
            guards,
            dangerous: true,
            alternative: None,
            profile: "p".into(),
            observed,
            policy: PlanPolicy {
                profile: "p".into(),
                read_only: false,
                max_failover_lag_bytes: 1 << 20,
                kube_context: None,
                patroni_links: Vec::new(),
            },
        }
    }

    #[test]
    fn a_changed_fact_is_named_with_both_values() {
        let then = plan_with(vec![Fact::new("servers accepting writes", "none")], vec![]);
        let now = plan_with(vec![Fact::new("servers accepting writes", "db1")], vec![]);
        assert_eq!(
            compare(&then, &now, false),
            Recheck::Changed(vec![
                "servers accepting writes: none when planned, db1 now".into()
            ])
        );
        assert_eq!(compare(&then, &then, false), Recheck::Unchanged);
    }

    #[test]
    fn a_new_refusal_stops_even_a_forced_plan_but_an_overridden_one_does_not() {
        let then = plan_with(vec![], vec![Guard::refuse("lag 2 MiB over the limit")]);
        let now = plan_with(vec![], vec![Guard::refuse("lag 3 MiB over the limit")]);
        assert_eq!(compare(&then, &now, true), Recheck::Unchanged);
        assert!(matches!(compare(&then, &now, false), Recheck::Changed(_)));
        let calm = plan_with(vec![], vec![]);
        let two = plan_with(
            vec![],
            vec![Guard::refuse("lag"), Guard::refuse("two primaries")],
        );
        assert!(matches!(compare(&calm, &two, true), Recheck::Changed(_)));
        assert!(matches!(compare(&then, &two, true), Recheck::Changed(_)));
    }
}
