//! The window shows a linked upstream's drift: the Health panel's "Load balancers" line and the
//! badge on the workload's row, from a real nginx in front of a Compose service on a private
//! Docker daemon that was scaled outside Scaleboard.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui_kittest::kittest::Queryable;
use scaleboard::app::PanelId;
use scaleboard::profiles::model::QueueWorkload;
use scaleboard::profiles::{ProfileStore, UpstreamAddressing, UpstreamLink};
use support::docker::{Project, profile};
use support::nginx::{HOSTNAME_API, LbNginx};

#[test]
fn health_panel_and_workload_row_show_the_drift() {
    let project = Project::up(HOSTNAME_API);
    project.compose(&["up", "-d", "--scale", "api=2"]);
    let link = UpstreamLink {
        upstream: "nexus_api".into(),
        workload: QueueWorkload {
            endpoint: "docker".into(),
            scope: project.name.clone(),
            name: "api".into(),
            kind: None,
        },
        port: 8080,
        addressing: UpstreamAddressing::ContainerIp,
        network: None,
        host: None,
    };
    // nginx lists one replica that runs and one address nothing answers on.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut p = profile(&[&project.name], &project.daemon().host);
    let target = scaleboard::connectors::nginx::status::docker_target(&p, "docker").unwrap();
    let first = rt
        .block_on(scaleboard::connectors::nginx::replicas::running(
            &target, &link,
        ))
        .unwrap()[0]
        .address(&link)
        .unwrap();
    let lb = LbNginx::start(&format!(
        "upstream nexus_api {{\n    server {first};\n    server 10.255.255.1:8080;\n}}\n"
    ));
    p.nginx.push(lb.endpoint(vec![link]));
    p.name = "lb-ui".into();
    let dir = tempfile::tempdir().unwrap();
    let mut store = ProfileStore::load(dir.path());
    store.upsert(p).unwrap();
    let toml = std::fs::read_to_string(store.path()).unwrap();

    let mut t = support::start(Some(&toml), Some("lb-ui"));
    t.run_until("the load balancer is read", |a| {
        !a.fleet.load_balancers.is_empty()
    });
    t.harness.state_mut().view.panel = PanelId::Health;
    t.harness.run_steps(3);
    t.harness.get_by_label("Load balancers");
    t.harness
        .get_by_label("LB: 1 of 2 replicas behind nexus_api; 1 listed server has no replica");
    t.harness
        .get_by_label("    listed without a replica: 10.255.255.1:8080");

    t.harness.state_mut().view.panel = PanelId::Workloads;
    t.run_until("the api row", |a| {
        a.fleet
            .workloads()
            .any(|w| w.id.name == "api" && w.ready == 2)
    });
    t.harness.run_steps(3);
    t.harness.get_by_label("LB 1/2");
}

/// The scale dialog shows the upstream steps and diff; unticked, the scale runs alone.
#[test]
fn the_scale_dialog_offers_the_load_balancer_steps_and_an_opt_out() {
    let project = Project::up(HOSTNAME_API);
    let link = UpstreamLink {
        upstream: "nexus_api".into(),
        workload: QueueWorkload {
            endpoint: "docker".into(),
            scope: project.name.clone(),
            name: "api".into(),
            kind: None,
        },
        port: 8080,
        addressing: UpstreamAddressing::ContainerIp,
        network: None,
        host: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut p = profile(&[&project.name], &project.daemon().host);
    let target = scaleboard::connectors::nginx::status::docker_target(&p, "docker").unwrap();
    let first = rt
        .block_on(scaleboard::connectors::nginx::replicas::running(
            &target, &link,
        ))
        .unwrap()[0]
        .address(&link)
        .unwrap();
    let original = format!("upstream nexus_api {{\n    server {first} weight=2;\n}}\n");
    let lb = LbNginx::start(&original);
    p.nginx.push(lb.endpoint(vec![link]));
    p.name = "lb-ui".into();
    let dir = tempfile::tempdir().unwrap();
    let mut store = ProfileStore::load(dir.path());
    store.upsert(p).unwrap();
    let toml = std::fs::read_to_string(store.path()).unwrap();

    let mut t = support::start(Some(&toml), Some("lb-ui"));
    t.run_until("the load balancer and the api row", |a| {
        !a.fleet.load_balancers.is_empty() && a.fleet.workloads().any(|w| w.id.name == "api")
    });
    let id = t.app().fleet.load_balancers[0].workload_ref.clone();
    t.harness
        .state_mut()
        .propose(scaleboard::actions::Action::ScaleWorkload {
            workload: id,
            replicas: 2,
        });
    t.harness.run_steps(3);
    let label = "Load balancer: update nginx front, upstream nexus_api in the same action";
    t.harness.get_by_label(label);
    t.harness.get_by_label_contains(
        "up: start the replicas → wait until they answer → write the upstream",
    );
    t.harness
        .get_by_label("    +     server <replica 2>:8080 weight=2;");
    t.harness.get_by_label(label).click_accesskit();
    t.harness.run_steps(2);
    assert!(
        !t.app()
            .actions
            .dialog
            .as_ref()
            .unwrap()
            .load_balancer
            .as_ref()
            .unwrap()
            .follow
    );
    t.harness
        .get_by_label("The upstream is left as it is: the Health panel will show the drift.");
    {
        // The operator types the target's name, as the dialog asks.
        let d = t.harness.state_mut().actions.dialog.as_mut().unwrap();
        d.typed_name = d.plan.action.target_name();
    }
    for _ in 0..100 {
        t.harness.step();
        if t.app()
            .actions
            .dialog
            .as_ref()
            .is_some_and(|d| d.can_confirm())
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let d = t.app().actions.dialog.as_ref().unwrap();
    assert!(
        d.can_confirm(),
        "{:?} pending {:?} dangerous {}",
        d.plan.guards,
        d.dry_run_pending,
        d.plan.dangerous
    );
    t.harness.state_mut().confirm();
    assert!(t.app().actions.dialog.is_none(), "confirmed");
    for _ in 0..120 {
        if t.app().actions.running.iter().any(|r| r.record.is_some()) {
            break;
        }
        t.advance(1);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let record = t
        .app()
        .actions
        .running
        .iter()
        .find_map(|r| r.record.clone())
        .unwrap();
    assert_eq!(
        record.outcome,
        scaleboard::actions::audit::AuditOutcome::Succeeded,
        "{}",
        record.detail
    );
    assert_eq!(project.running("api"), 2);
    assert_eq!(
        std::fs::read_to_string(&lb.upstreams).unwrap(),
        original,
        "left as it is"
    );
    let log = scaleboard::actions::audit::AuditLog::new(&support::data_dir(&t.dir));
    let records = log.read_all().unwrap().records;
    assert!(records.iter().all(|r| r.action != "lb-step"), "{records:?}");
}
