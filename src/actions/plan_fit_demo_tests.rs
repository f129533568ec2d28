//! The demo fleet's scale plans show every fit message of issue #22 (the demo is where an
//! operator sees them without a cluster). Here, not beside the demo: connectors do not depend on
//! the action pipeline.

use crate::model::capacity::CapacityView;
use crate::model::snapshot::WorkloadRef;

/// The demo's workloads endpoint as a plan reads it.
struct Fleet(crate::model::workloads::WorkloadList);

impl crate::actions::FleetView for Fleet {
    fn workload(&self, id: &WorkloadRef) -> Option<&crate::model::snapshot::Workload> {
        self.0.iter().find(|w| &w.id == id)
    }
    fn database(&self, _: &str) -> Option<&crate::model::snapshot::DatabaseSnapshot> {
        None
    }
    fn capacity(&self, _: &str) -> Option<&CapacityView> {
        self.0.capacity.as_deref()
    }
}

/// The fit guards of scaling one demo workload to `replicas`.
fn fit_lines(name: &str, replicas: u32) -> Vec<String> {
    use crate::model::snapshot::Snapshot;
    let fleet = crate::connectors::demo::sim::DemoFleet::new(42, 14 * 3_600_000);
    let Snapshot::Workloads(list) =
        crate::connectors::demo::output(&fleet, crate::connectors::demo::K8S_ENDPOINT).snapshot
    else {
        panic!("not workloads");
    };
    let workload = list.iter().find(|w| w.id.name == name).unwrap().id.clone();
    let policy = crate::actions::plan::PlanPolicy {
        profile: "demo".into(),
        read_only: false,
        max_failover_lag_bytes: 0,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let action = crate::model::action::Action::ScaleWorkload { workload, replicas };
    crate::actions::plan::plan(action, &Fleet(list), &policy)
        .guards
        .into_iter()
        .map(|g| g.reason)
        .filter(|r| r.contains("Fit of") || r.contains("ResourceQuota"))
        .collect()
}

#[test]
fn demo_scale_plans_show_every_fit_message() {
    let fits = fit_lines("auth-service", 3);
    assert!(fits[0].contains("fits: 1 of 1 new replica"), "{fits:?}");
    let partly = fit_lines("queue-worker", 13);
    let line = &partly[0];
    for words in [
        "only 9 of 10 new replicas fit",
        "1 would stay Pending (insufficient cpu",
        "1 node cordoned",
        "2 nodes untolerated taint dedicated=gpu:NoSchedule",
        "1 node untolerated taint node.kubernetes.io/memory-pressure:NoSchedule",
        "no cluster autoscaler is running",
        "cpu request 500m from LimitRange nexus-defaults",
    ] {
        assert!(line.contains(words), "{words}: {line}");
    }
    let refused = fit_lines("writer-service", 10);
    assert!(
        refused[0].starts_with("ResourceQuota nexus-quota would be exceeded"),
        "{refused:?}"
    );
}
