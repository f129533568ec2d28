//! Capacity in the window, on the demo fleet (fixed seed, manual clock): the Clusters panel
//! lists the nodes with the cordoned one and the one under pressure marked on their own rows
//! and on top; the Overview has a Clusters tile; a scale plan past the cluster's room says how
//! many of the new replicas fit.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT as _, Queryable};
use scaleboard::app::{PanelId, ScaleboardApp};
use support::{TestApp, start};

fn has_capacity(app: &ScaleboardApp) -> bool {
    use scaleboard::model::snapshot::Snapshot;
    app.fleet
        .endpoints
        .iter()
        .any(|e| matches!(&e.snapshot, Some(Snapshot::Workloads(list)) if list.capacity.is_some()))
}

fn started() -> TestApp {
    let mut t = start(None, None);
    t.run_until("demo cluster with capacity", has_capacity);
    t
}

/// The vertical middle of the first widget with this exact label.
fn row_of(t: &TestApp, label: &str) -> f32 {
    t.harness.get_by_label(label).rect().center().y
}

#[test]
fn clusters_panel_marks_the_cordoned_and_the_pressured_node_first() {
    let mut t = started();
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    t.run_until("clusters panel", |a| a.view.panel == PanelId::Clusters);
    t.harness.run_steps(2);
    t.harness
        .get_by_label_contains("demo-prod (Kubernetes, DEMO) · context demo-prod");
    // Every node of the demo cluster is listed.
    for i in 1..=6 {
        t.harness.get_by_label(&format!("demo-prod-node-{i}"));
    }
    t.harness.get_by_label("demo-prod-gpu-1");
    t.harness.get_by_label("demo-prod-gpu-2");
    // The marks sit on their node's row, and only there.
    let pressure = row_of(&t, "demo-prod-node-4");
    assert!((row_of(&t, "MemoryPressure") - pressure).abs() < 2.0);
    let cordoned = row_of(&t, "demo-prod-node-6");
    assert!((row_of(&t, "cordoned") - cordoned).abs() < 2.0);
    assert_eq!(t.harness.query_all_by_label("cordoned").count(), 1);
    assert_eq!(t.harness.query_all_by_label("MemoryPressure").count(), 1);
    // Problems first: both above every healthy node.
    for i in [1, 2, 3, 5] {
        let healthy = row_of(&t, &format!("demo-prod-node-{i}"));
        assert!(
            pressure < healthy && cordoned < healthy,
            "node-{i} above a problem node"
        );
    }
    // Taints, the quota and the autoscaler are named.
    assert_eq!(
        t.harness
            .query_all_by_label("dedicated=gpu:NoSchedule")
            .count(),
        2
    );
    t.harness.get_by_label("nexus-quota");
    t.harness
        .get_by_label_contains("Cluster autoscaler: not running");
    t.harness
        .get_by_label_contains("1 cordoned, 1 under pressure");
}

#[test]
fn overview_has_a_clusters_tile() {
    let mut t = started();
    t.harness.run_steps(2);
    let tile = t
        .harness
        .get_by_role_and_label(Role::Group, "Clusters tile")
        .rect();
    let summary = t.harness.get_by_label_contains("demo-prod: CPU ").rect();
    assert!(tile.contains_rect(summary), "{summary:?} outside {tile:?}");
    assert!(
        t.harness
            .get_by_label_contains("demo-prod: CPU ")
            .accesskit_node()
            .value()
            .unwrap()
            .contains("requested")
    );
    // The demo's Docker engine is on the tile too: the share of its memory the containers hold.
    let words = t
        .harness
        .get_by_label_contains("demo-prod: CPU ")
        .accesskit_node()
        .value()
        .unwrap();
    assert!(
        words.contains(": memory ") && words.ends_with(" held"),
        "{words}"
    );
    t.harness
        .get_by_label_contains("1 cordoned, 1 under pressure");
    // Its link opens the panel.
    t.harness
        .get_by_role_and_label(Role::Link, "Clusters")
        .click();
    t.run_until("clusters panel", |a| a.view.panel == PanelId::Clusters);
}

#[test]
fn a_scale_plan_past_the_room_says_how_many_fit() {
    let mut t = started();
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    t.harness.get_by_label("search-index").click_accesskit();
    t.run_until("search-index selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.name == "search-index")
    });
    t.harness.get_by_label("Scale…").click();
    t.run_until("scale form", |a| a.actions.scale_form.is_some());
    t.harness
        .get_by_role(Role::SpinButton)
        .set_value_accesskit(6.0);
    t.run_until("replicas typed", |a| {
        a.actions
            .scale_form
            .as_ref()
            .is_some_and(|f| f.replicas == 6)
    });
    t.harness.get_by_label("Preview scale").click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
    let line = t
        .harness
        .get_by_label_contains("new replicas fit")
        .accesskit_node()
        .value()
        .unwrap();
    // Each replica asks 1.5 cores: the free room of the schedulable nodes takes some of the four,
    // the cordoned, pressured and GPU nodes none.
    assert!(
        line.starts_with("Fit of nexus/statefulset/search-index: only "),
        "{line}"
    );
    for words in [
        " of 4 new replicas fit",
        "would stay Pending (insufficient cpu: each needs 1500m",
        "1 node cordoned",
        "2 nodes untolerated taint dedicated=gpu:NoSchedule",
        "no cluster autoscaler is running",
    ] {
        assert!(line.contains(words), "{words:?} missing: {line}");
    }
}

/// A workloads endpoint with two contexts: `big` with `n` nodes (every 50th cordoned), and
/// `tenant` whose nodes may not be listed.
fn big_fleet(n: usize) -> Vec<scaleboard::app::EndpointState> {
    use scaleboard::engine::{Area, ConnStatus, EndpointInfo};
    use scaleboard::health::{EndpointHealth, HealthState};
    use scaleboard::model::capacity::{
        AutoscalerPresence, CapacityView, ContextCapacity, NodeInfo, NodeRoom,
    };
    use scaleboard::model::snapshot::Snapshot;
    let nodes = (0..n)
        .map(|i| NodeInfo {
            room: NodeRoom {
                name: format!("big-node-{i:05}"),
                allocatable_cpu_milli: 4000,
                allocatable_memory_bytes: 16 << 30,
                allocatable_pods: 110,
                requested_cpu_milli: 1000,
                requested_memory_bytes: 4 << 30,
                pods: 10,
                labels: Default::default(),
                taints: Vec::new(),
                unschedulable: i % 50 == 0,
                ready: true,
            },
            pressure: Vec::new(),
            used: None,
        })
        .collect();
    let context = |nodes| ContextCapacity {
        nodes,
        partial_pods: None,
        quotas: Default::default(),
        admission_unknown: None,
        limit_ranges: Default::default(),
        autoscaler: AutoscalerPresence::Unknown,
        usage_note: None,
    };
    let view = CapacityView {
        contexts: [
            ("big".to_string(), context(Ok(nodes))),
            (
                "tenant".to_string(),
                context(Err("may not list nodes".to_string())),
            ),
        ]
        .into(),
        needs: Default::default(),
        waiting: Default::default(),
        ..CapacityView::default()
    };
    let list = scaleboard::model::workloads::WorkloadList {
        capacity: Some(std::sync::Arc::new(view)),
        ..Default::default()
    };
    vec![scaleboard::app::EndpointState {
        info: EndpointInfo {
            id: "k8s".into(),
            label: "prod (Kubernetes)".into(),
            area: Area::Workloads,
            demo: false,
        },
        status: ConnStatus::Ok,
        last_error: None,
        updated_at: Some(support::START_MS),
        snapshot: Some(Snapshot::Workloads(list)),
        health: EndpointHealth {
            state: HealthState::Ok,
            reasons: Vec::new(),
            members: Vec::new(),
            critical: false,
        },
    }]
}

#[test]
fn five_thousand_nodes_lay_out_only_the_rows_in_view_and_hidden_nodes_say_why() {
    let mut t = start(
        Some("last_used = \"big\"\n\n[[profile]]\nname = \"big\"\n"),
        Some("big"),
    );
    // The engine's (empty) endpoint list arrives first and would replace the fleet.
    for _ in 0..20 {
        t.harness.state_mut().fleet.endpoints = big_fleet(5_000);
        t.harness.run_steps(5);
        if !t.app().fleet.endpoints.is_empty() {
            break;
        }
    }
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    t.run_until("clusters panel", |a| a.view.panel == PanelId::Clusters);
    t.harness.run_steps(2);
    t.harness
        .get_by_label_contains("prod (Kubernetes) · context big");
    t.harness.get_by_label("5000 nodes");
    t.harness.get_by_label("100 cordoned");
    // Cordoned nodes first; only a screenful of the 5,000 rows is laid out.
    t.harness.get_by_label("big-node-00000");
    let rows = t.harness.query_all_by_label_contains("big-node-").count();
    assert!((1..=40).contains(&rows), "{rows} rows laid out");
    t.harness
        .get_by_label("nodes not visible: may not list nodes");
}

#[test]
fn clusters_panel_shows_the_demo_docker_engine_and_what_fits_per_service() {
    let mut t = started();
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    t.run_until("clusters panel", |a| a.view.panel == PanelId::Clusters);
    t.harness.run_steps(2);
    t.harness
        .get_by_label_contains("demo-staging (Compose, DEMO) · the demo Docker engine (DEMO)");
    // Limits of the running containers against the CPUs, what they hold against the memory.
    t.harness.get_by_label_contains("limits 4500m of 8 cores");
    t.harness
        .get_by_label_contains("5.1 GiB of 15.6 GiB held, 10.5 GiB free");
    t.harness.get_by_label_contains(
        "Counted: 8 running containers: 4 by their memory reservation, 3 by their memory limit",
    );
    t.harness
        .get_by_label("Swarm: this engine is not a Swarm manager.");
    // Per service: the api reserves 256 MiB (41 more fit in 10.5 GiB), the worker nothing.
    let row = row_of(&t, "demo-staging/service/api");
    assert!((row_of(&t, "41 more fit") - row).abs() < 2.0);
    let worker = row_of(&t, "demo-staging/service/worker");
    assert!((row_of(&t, "not judged") - worker).abs() < 2.0);
    t.harness
        .get_by_label("reserves memory 256.0 MiB; limits memory 512.0 MiB, cpu 1");
}

/// A Swarm endpoint with two nodes, the second drained, and no Kubernetes context.
fn swarm_fleet() -> Vec<scaleboard::app::EndpointState> {
    use scaleboard::model::capacity::{CapacityView, EngineCapacity, NodeRoom};
    let node = |name: &str, role: &str, drained: bool| NodeRoom {
        name: name.into(),
        allocatable_cpu_milli: 2000,
        allocatable_memory_bytes: 4 << 30,
        allocatable_pods: u64::MAX,
        requested_cpu_milli: 500,
        requested_memory_bytes: 1 << 30,
        pods: 2,
        labels: [("node.role".to_string(), role.to_string())].into(),
        taints: Vec::new(),
        unschedulable: drained,
        ready: true,
    };
    let view = CapacityView {
        engine: Some(EngineCapacity {
            name: "Docker engine unix:///run/swarm.sock".into(),
            host: None,
            swarm_nodes: Ok(vec![
                node("swarm-a", "manager", false),
                node("swarm-b", "worker", true),
            ]),
            counted: "docker info did not answer".into(),
        }),
        ..CapacityView::default()
    };
    let mut fleet = big_fleet(1);
    fleet[0].info.label = "swarm (Docker)".into();
    if let Some(scaleboard::model::snapshot::Snapshot::Workloads(list)) = &mut fleet[0].snapshot {
        list.capacity = Some(std::sync::Arc::new(view));
    }
    fleet
}

#[test]
fn clusters_panel_lists_swarm_nodes_with_their_availability() {
    let mut t = start(
        Some("last_used = \"big\"\n\n[[profile]]\nname = \"big\"\n"),
        Some("big"),
    );
    for _ in 0..20 {
        t.harness.state_mut().fleet.endpoints = swarm_fleet();
        t.harness.run_steps(5);
        if !t.app().fleet.endpoints.is_empty() {
            break;
        }
    }
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    t.run_until("clusters panel", |a| a.view.panel == PanelId::Clusters);
    t.harness.run_steps(2);
    t.harness
        .get_by_label_contains("swarm (Docker) · Docker engine unix:///run/swarm.sock");
    t.harness
        .get_by_label("size unknown: docker info did not answer");
    let b = row_of(&t, "swarm-b");
    assert!((row_of(&t, "drained or paused") - b).abs() < 2.0);
    assert!((row_of(&t, "worker") - b).abs() < 2.0);
    let a = row_of(&t, "swarm-a");
    assert!((row_of(&t, "active") - a).abs() < 2.0);
    assert_eq!(t.harness.query_all_by_label("500m / 2").count(), 2);
    assert_eq!(t.harness.query_all_by_label("1.0 GiB / 4.0 GiB").count(), 2);
}

#[test]
fn clusters_panel_shows_usage_beside_requests_and_plots_them_over_time() {
    use scaleboard::capacity::series::{CPU_ALLOCATABLE, CPU_REQUESTED, CPU_USED, MEMORY_USED};
    use scaleboard::metrics::SeriesKey;
    let mut t = started();
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    t.run_until("clusters panel", |a| a.view.panel == PanelId::Clusters);
    t.harness.run_steps(2);
    // The demo's nodes report usage (as metrics-server would): bars and per-node columns.
    t.harness.get_by_label_contains("cores used");
    // "CPU used": the bar's label and the nodes table's column.
    assert_eq!(t.harness.query_all_by_label("CPU used").count(), 2);
    t.harness.get_by_label("Memory used");
    // The node under memory pressure uses nearly all its memory.
    let row = row_of(&t, "demo-prod-node-4");
    let pressured = t
        .harness
        .query_all_by_label_contains("(96 %)")
        .map(|n| n.rect().center().y)
        .any(|y| (y - row).abs() < 2.0);
    assert!(pressured, "no 96 % memory used on node-4's row");
    // Requested, allocatable and used go into the metric store as series of the context.
    let target = scaleboard::capacity::series::capacity_target("demo-prod", "demo-prod");
    for metric in [CPU_REQUESTED, CPU_ALLOCATABLE, CPU_USED, MEMORY_USED] {
        let key = SeriesKey::new(&target, metric);
        assert!(t.app().store.contains(&key), "{target} {metric} not stored");
    }
    let (_, requested) = t
        .app()
        .store
        .latest(&SeriesKey::new(&target, CPU_REQUESTED))
        .unwrap();
    assert!((requested - 22.1).abs() < 0.1, "{requested}");
    // And the panel plots them.
    t.harness.get_by_label("CPU (cores)");
    t.harness.get_by_label("Memory (GiB)");
}
