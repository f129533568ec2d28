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
