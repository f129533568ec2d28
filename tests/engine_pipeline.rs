//! The engine and action pipeline without a window: demo fleet, manual clock, real audit file.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use scaleboard::actions::audit::AuditOutcome;
use scaleboard::actions::{Action, FleetView, PlanPolicy, plan};
use scaleboard::engine::{
    ActionStage, Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event,
};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::{
    DatabaseSnapshot, Snapshot, Workload, WorkloadKind, WorkloadRef,
};
use scaleboard::profiles::Profile;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const START: i64 = 1_793_628_000_000;

#[derive(Default)]
struct View {
    snapshots: HashMap<String, Snapshot>,
    statuses: HashMap<String, ConnStatus>,
}

impl FleetView for View {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.snapshots.values().find_map(|s| match s {
            Snapshot::Workloads(list) => list.iter().find(|w| &w.id == id),
            _ => None,
        })
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Databases(db)) => Some(db),
            _ => None,
        }
    }
}

struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    view: View,
    _dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
}

fn rig(profile: Profile) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let data_dir = dir.path().join("data");
    let config = EngineConfig::new(clock.clone(), dir.path().join("config"), data_dir.clone());
    let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    engine
        .send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 11,
        })))
        .unwrap();
    let mut rig = Rig {
        engine,
        clock,
        view: View::default(),
        _dir: dir,
        data_dir,
    };
    // Every demo endpoint answered once (the demo fleet has nine): the actions' targets are in
    // view before anything is planned.
    rig.until("every demo endpoint ok", |v, _| {
        v.statuses
            .values()
            .filter(|s| **s == ConnStatus::Ok)
            .count()
            == 9
    });
    rig
}

impl Rig {
    /// Apply events until `cond` holds; returns the events that matched nothing else.
    fn until(&mut self, what: &str, cond: impl Fn(&View, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(50)) else {
                // Nothing pending: let simulated time move so polls and grace periods proceed.
                self.clock.advance(Duration::from_secs(1));
                continue;
            };
            match &event {
                Event::Snapshot {
                    endpoint, snapshot, ..
                } => {
                    self.view
                        .snapshots
                        .insert(endpoint.clone(), snapshot.clone());
                }
                Event::Status {
                    endpoint, status, ..
                } => {
                    self.view.statuses.insert(endpoint.clone(), *status);
                }
                _ => {}
            }
            if cond(&self.view, &event) {
                return event;
            }
        }
    }

    fn execute(
        &mut self,
        action: Action,
        read_only: bool,
        forced: bool,
    ) -> scaleboard::actions::audit::AuditRecord {
        let policy = PlanPolicy {
            profile: "test".into(),
            read_only,
            max_failover_lag_bytes: 1 << 20,
            kube_context: None,
            patroni_links: Vec::new(),
        };
        let plan = plan(action, &self.view, &policy);
        let endpoint = plan.action.endpoint().to_string();
        let id = scaleboard::actions::ActionId(1);
        self.engine
            .send(Command::Execute {
                id,
                plan: Box::new(plan),
                forced,
            })
            .unwrap();
        let record = match self.until("action finished", |_, e| {
            matches!(e, Event::ActionFinished { .. })
        }) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        };
        // Verification reads the target alone; the view follows with the endpoint's own polls
        // (the second one surely started after the action ended).
        for _ in 0..2 {
            self.until(
                "the view after the action",
                |_, e| matches!(e, Event::Snapshot { endpoint: ep, .. } if *ep == endpoint),
            );
        }
        record
    }
}

fn api() -> WorkloadRef {
    WorkloadRef {
        endpoint: "demo-prod".into(),
        scope: "nexus".into(),
        name: "api-gateway".into(),
        kind: WorkloadKind::Deployment,
    }
}

#[test]
fn autoscaler_change_is_verified_and_audited() {
    let mut rig = rig(Profile::demo_default());
    let action = Action::SetAutoscaler {
        workload: api(),
        min_replicas: 4,
        max_replicas: 12,
        target_cpu_percent: 60,
    };
    let record = rig.execute(action, false, false);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    // The CPU target changes: a merge patch would replace the whole metrics list, so the
    // equivalent command is an in-place edit of that one entry.
    assert!(
        record
            .command
            .contains("kubectl --context demo-prod -n nexus edit hpa api-gateway"),
        "{}",
        record.command
    );
    let hpa = rig
        .view
        .workload(&api())
        .unwrap()
        .autoscaler
        .clone()
        .unwrap();
    assert_eq!(
        (hpa.min_replicas, hpa.max_replicas, hpa.target_cpu_percent),
        (4, 12, 60)
    );
    let log = std::fs::read_to_string(rig.data_dir.join("audit.jsonl")).unwrap();
    assert!(log.contains("\"autoscale\""));
}

#[test]
fn read_only_profile_refuses_even_when_forced() {
    let mut profile = Profile::demo_default();
    profile.read_only = true;
    let mut rig = rig(profile);
    let w = WorkloadRef {
        name: "writer-service".into(),
        ..api()
    };
    let record = rig.execute(
        Action::ScaleWorkload {
            workload: w.clone(),
            replicas: 6,
        },
        false,
        true,
    );
    assert_eq!(record.outcome, AuditOutcome::Refused);
    assert!(record.detail.contains("read-only"), "{}", record.detail);
    rig.clock.advance(Duration::from_secs(10));
    rig.until("fresh snapshot", |v, e| {
        matches!(e, Event::Snapshot { .. }) && v.workload(&w).is_some()
    });
    assert_eq!(rig.view.workload(&w).unwrap().desired, 3);
}

#[test]
fn promotion_is_refused_while_the_primary_answers_and_recorded_when_forced() {
    let mut rig = rig(Profile::demo_default());
    let action = Action::PromoteReplica {
        endpoint: "demo-postgres".into(),
        cluster: "orders-db".into(),
        replica: "pg-replica-1".into(),
    };
    let policy = PlanPolicy {
        profile: "test".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 30,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let preview = plan(action.clone(), &rig.view, &policy);
    assert!(preview.refused());
    assert!(
        preview
            .guards
            .iter()
            .any(|g| g.reason.contains("two primaries"))
    );
    let refused = rig.execute(action.clone(), false, false);
    assert_eq!(refused.outcome, AuditOutcome::Refused);
    let forced = rig.execute(action, false, true);
    assert_eq!(forced.outcome, AuditOutcome::Succeeded, "{forced:?}");
    assert!(forced.forced);
    assert!(!forced.overridden_guards.is_empty());
    let db = rig.view.database("demo-postgres").unwrap();
    assert_eq!(db.primaries().count(), 1);
    assert_eq!(db.primaries().next().unwrap().name, "pg-replica-1");
}

#[test]
fn grace_period_counts_down_before_execution() {
    let mut rig = rig(Profile::demo_default());
    let w = WorkloadRef {
        name: "sheets-service".into(),
        ..api()
    };
    let policy = PlanPolicy {
        profile: "test".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let plan = plan(
        Action::ScaleWorkload {
            workload: w,
            replicas: 4,
        },
        &rig.view,
        &policy,
    );
    rig.engine
        .send(Command::Execute {
            id: scaleboard::actions::ActionId(9),
            plan: Box::new(plan),
            forced: false,
        })
        .unwrap();
    let first = rig.until("grace", |_, e| matches!(e, Event::ActionProgress { .. }));
    assert!(
        matches!(first, Event::ActionProgress { stage: ActionStage::Grace { remaining }, .. } if remaining == Duration::from_secs(5))
    );
    rig.until("executing", |_, e| {
        matches!(
            e,
            Event::ActionProgress {
                stage: ActionStage::Executing,
                ..
            }
        )
    });
    let done = rig.until("finished", |_, e| matches!(e, Event::ActionFinished { .. }));
    let Event::ActionFinished { record, .. } = done else {
        unreachable!()
    };
    assert_eq!(record.outcome, AuditOutcome::Succeeded);
}
