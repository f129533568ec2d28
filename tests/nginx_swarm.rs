//! A Swarm service behind Debian's nginx on this machine, scaled through the engine pipeline on
//! a private Docker daemon in swarm mode: 2 → 3 puts the new task's address in the upstream and
//! traffic reaches it; 3 → 2 marks the leaving task down, drains, stops it, then removes its
//! line, while a client requesting every 50 ms sees no failure.
//!
//! How nginx on the host reaches the tasks: the service is attached to a swarm-scoped *bridge*
//! network (`docker network create --scope swarm --driver bridge`), so each task has an address
//! on a bridge of this machine, which the host routes to — the drift's `container_ip`
//! addressing with `network` naming it. Overlay addresses live in the overlay's own namespace
//! and are not reachable from the host; a multi-node Swarm behind a host nginx needs published
//! ports (`published` addressing) instead.
//! One test, so one Swarm (Swarms are taken one at a time: see `support::docker::Swarm`).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use scaleboard::actions::Action;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::connectors::docker::SWARM_SCOPE;
use scaleboard::connectors::nginx::parse::file_facts;
use scaleboard::connectors::nginx::replicas::running;
use scaleboard::connectors::nginx::status::docker_target;
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use scaleboard::profiles::model::QueueWorkload;
use scaleboard::profiles::{Profile, UpstreamAddressing, UpstreamLink};
use support::docker::{Image, Rig, Swarm, profile, unique};
use support::nginx::LbNginx;

const HOSTNAME_CMD: &str = "/bin/busybox mkdir -p /www && /bin/busybox hostname > /www/index.html \
    && exec /bin/busybox httpd -f -p 8080 -h /www";

fn addresses(p: &Profile, l: &UpstreamLink) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(running(&docker_target(p, "docker").unwrap(), l))
        .unwrap()
        .iter()
        .map(|r| r.address(l).unwrap())
        .collect()
}

fn servers(lb: &LbNginx) -> (Vec<String>, String) {
    let text = std::fs::read_to_string(&lb.upstreams).unwrap();
    let f = file_facts(&text).unwrap();
    let up = f.upstreams.iter().find(|u| u.name == "nexus_api").unwrap();
    let active = up
        .servers
        .iter()
        .filter(|s| !s.down)
        .map(|s| s.address.clone())
        .collect();
    (active, text)
}

#[test]
fn a_swarm_service_behind_nginx_scales_up_and_drains_down() {
    let image = Image::shared();
    let host = image.daemon.host.clone();
    let mut swarm = Swarm::init(image.daemon.clone());
    let net = unique("sbnet");
    swarm.daemon.sh(
        &[
            "docker", "network", "create", "--scope", "swarm", "--driver", "bridge", &net,
        ],
        None,
    );
    let name = unique("sbapi");
    swarm.services.push(name.clone());
    swarm.daemon.sh(
        &[
            "docker",
            "service",
            "create",
            "-d",
            "--name",
            &name,
            "--network",
            &net,
            "--stop-signal",
            "SIGKILL",
            "--replicas",
            "2",
            &image.tag,
            "/bin/busybox",
            "sh",
            "-c",
            HOSTNAME_CMD,
        ],
        None,
    );
    let link = UpstreamLink {
        upstream: "nexus_api".into(),
        workload: QueueWorkload {
            endpoint: "docker".into(),
            scope: SWARM_SCOPE.into(),
            name: name.clone(),
            kind: Some(WorkloadKind::SwarmService),
        },
        port: 8080,
        addressing: UpstreamAddressing::ContainerIp,
        network: Some(net.clone()),
        host: None,
    };
    let mut p = profile(&["none-wanted"], &host);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let two = loop {
        let a = addresses(&p, &link);
        if a.len() == 2 {
            break a;
        }
        assert!(std::time::Instant::now() < deadline, "2 tasks: {a:?}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let lines: String = two.iter().map(|a| format!("    server {a};\n")).collect();
    let lb = LbNginx::start(&format!("upstream nexus_api {{\n{lines}}}\n"));
    p.nginx.push(lb.endpoint(vec![link.clone()]));
    let svc = WorkloadRef {
        endpoint: "docker".into(),
        scope: SWARM_SCOPE.into(),
        name: name.clone(),
        kind: WorkloadKind::SwarmService,
    };
    let mut rig = Rig::start(p.clone(), Duration::ZERO);
    rig.workload_until(&svc, "service at 2", |w| w.ready == 2);

    // Up: the new task's address joins the upstream and gets traffic.
    let (_, record) = rig.run(Action::ScaleWorkload {
        workload: svc.clone(),
        replicas: 3,
    });
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    let three = addresses(&p, &link);
    assert_eq!(three.len(), 3);
    let (active, text) = servers(&lb);
    assert_eq!(
        BTreeSet::from_iter(active),
        BTreeSet::from_iter(three.clone()),
        "{text}"
    );
    let hosts: BTreeSet<String> = (0..30).map(|_| lb.get().unwrap()).collect();
    assert_eq!(hosts.len(), 3, "30 requests reach every task: {hosts:?}");

    // Down while a client keeps requesting: drained first, nothing fails. Planned on a view
    // that has seen the 3.
    rig.workload_until(&svc, "service at 3", |w| w.ready == 3 && w.desired == 3);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let port = lb.port;
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match support::web::http_get(port, "/") {
                    Some((200, _)) => ok.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let (_, record) = rig.run(Action::ScaleWorkload {
        workload: svc.clone(),
        replicas: 2,
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    client.join().unwrap();
    eprintln!(
        "swarm 3 to 2: {} requests, {} failed; {}",
        ok.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
        record.detail
    );
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    assert!(ok.load(Ordering::SeqCst) > 10, "the client kept requesting");
    assert_eq!(swarm.running_tasks(&name), 2);
    let (active, text) = servers(&lb);
    assert_eq!(
        BTreeSet::from_iter(active),
        BTreeSet::from_iter(addresses(&p, &link)),
        "{text}"
    );
    assert!(!text.contains(" down;"), "the leaving line is gone: {text}");
    // The task that left is the highest slot, the one the upstream marked down.
    assert!(!text.contains(&three[2]), "{text}");
    let audit = rig.audit();
    let names: Vec<String> = audit
        .iter()
        .filter(|r| {
            r.action == "lb-step"
                && r.id.starts_with(&format!("{}/", record.id))
                && r.outcome == AuditOutcome::Succeeded
        })
        .map(|r| r.id[record.id.len() + 1..].to_string())
        .collect();
    assert_eq!(
        names,
        [
            "lb-1-mark-down",
            "lb-2-drain",
            "lb-3-stop-replicas",
            "lb-4-remove-servers"
        ]
    );
    drop(rig);
    drop(lb);
}
