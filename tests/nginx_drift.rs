//! Drift between a real nginx's upstream and a Compose service's replicas on a private Docker
//! daemon: in sync, then a replica nginx does not know after a scale (library and
//! `scaleboard lb check` with its exit code), and a DNS-name upstream whose new replica is
//! behind nginx only after a reload.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use scaleboard::connectors::nginx::replicas::running;
use scaleboard::connectors::nginx::status::{check, docker_target};
use scaleboard::profiles::model::QueueWorkload;
use scaleboard::profiles::{Profile, ProfileStore, UpstreamAddressing, UpstreamLink};
use support::docker::{Project, profile};
use support::nginx::{HOSTNAME_API, LbNginx};

pub fn link(project: &Project, addressing: UpstreamAddressing) -> UpstreamLink {
    UpstreamLink {
        upstream: "nexus_api".into(),
        workload: QueueWorkload {
            endpoint: "docker".into(),
            scope: project.name.clone(),
            name: "api".into(),
            kind: None,
        },
        port: 8080,
        addressing,
        network: None,
        host: (addressing == UpstreamAddressing::Dns).then(|| "localhost".into()),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn addresses(p: &Profile, link: &UpstreamLink) -> Vec<String> {
    let target = docker_target(p, "docker").unwrap();
    rt().block_on(running(&target, link))
        .unwrap()
        .iter()
        .map(|r| r.address(link).unwrap())
        .collect()
}

#[test]
fn a_scale_outside_scaleboard_shows_as_drift() {
    let project = Project::up(HOSTNAME_API);
    project.compose(&["up", "-d", "--scale", "api=2"]);
    let mut p = profile(&[&project.name], &project.daemon().host);
    let l = link(&project, UpstreamAddressing::ContainerIp);
    let two = addresses(&p, &l);
    assert_eq!(two.len(), 2);
    let servers: String = two
        .iter()
        .map(|a| format!("    server {a} max_fails=1;\n"))
        .collect();
    let lb = LbNginx::start(&format!(
        "# the api replicas\nupstream nexus_api {{\n    least_conn;\n{servers}    keepalive 8;\n}}\n"
    ));
    // nginx reaches the containers' addresses: both answer.
    let seen: BTreeSet<String> = (0..20).map(|_| lb.get().unwrap()).collect();
    assert_eq!(seen.len(), 2, "{seen:?}");

    p.nginx.push(lb.endpoint(vec![l.clone()]));
    let reports = rt().block_on(check(&p));
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].exit_code, 0, "{reports:?}");
    assert_eq!(reports[0].summary, "LB: 2 of 2 replicas behind nexus_api");

    project.compose(&["up", "-d", "--scale", "api=3"]);
    let reports = rt().block_on(check(&p));
    let r = &reports[0];
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert_eq!(r.summary, "LB: 2 of 3 replicas behind nexus_api");
    let d = r.drift.as_ref().unwrap();
    assert_eq!(d.missing.len(), 1);
    assert!(!two.contains(&d.missing[0]));

    // The same through the command line, with its exit code and JSON.
    let dir = tempfile::tempdir().unwrap();
    let mut saved = p.clone();
    saved.name = "lbtest".into();
    let mut store = ProfileStore::load(dir.path());
    store.upsert(saved).unwrap();
    let file = std::fs::read_to_string(store.path()).unwrap();
    assert!(file.contains("[[profile.nginx.links]]"), "{file}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .args([
            "--config-dir",
            &dir.path().display().to_string(),
            "--profile",
            "lbtest",
        ])
        .args(["lb", "check", "--json"])
        .env("SCALEBOARD_KEYRING", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}\n{file}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json[0]["drift"]["behind"], 2);
    assert_eq!(json[0]["drift"]["replicas"], 3);

    // `status` warns about it too (stderr, so its JSON keeps its shape) and exits with 1.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .args([
            "--config-dir",
            &dir.path().display().to_string(),
            "--profile",
            "lbtest",
        ])
        .args(["status", "--json", "--timeout", "30"])
        .env("SCALEBOARD_KEYRING", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: front/nexus_api: LB: 2 of 3 replicas behind nexus_api"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let _: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
}

#[test]
fn a_dns_name_upstream_needs_a_reload_after_a_scale() {
    let project = Project::up(HOSTNAME_API);
    let mut p = profile(&[&project.name], &project.daemon().host);
    let l = link(&project, UpstreamAddressing::Dns);
    let lb = LbNginx::start("upstream nexus_api {\n    server localhost:8080;\n}\n");
    p.nginx.push(lb.endpoint(vec![l]));
    // The replica that ran before nginx started is behind it.
    let r = &rt().block_on(check(&p))[0];
    assert_eq!(r.exit_code, 0, "{r:?}");
    // Started after nginx resolved the name: not behind it until a reload (the clock nginx's
    // reload time is read with counts whole seconds since boot).
    std::thread::sleep(Duration::from_millis(1500));
    project.compose(&["up", "-d", "--scale", "api=2"]);
    let r = &rt().block_on(check(&p))[0];
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.summary.starts_with("LB: 1 of 2 replicas behind nexus_api; started after nginx's last reload: a reload puts them behind it (`"), "{}", r.summary);
    assert!(
        r.summary.contains("-s reload"),
        "the reload is offered: {}",
        r.summary
    );
    std::thread::sleep(Duration::from_millis(1500));
    lb.reload();
    let r = &rt().block_on(check(&p))[0];
    assert_eq!(r.exit_code, 0, "{r:?}");
}

/// A DNS-name upstream cannot be drained: the plan says so, and the scale down stops the
/// replica first and reloads nginx after it (the audit shows that order; new workers).
#[test]
fn a_dns_name_scale_down_reloads_after_the_stop_and_says_it_cannot_drain() {
    use scaleboard::actions::Action;
    use scaleboard::actions::audit::AuditOutcome;
    use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
    let project = Project::up(HOSTNAME_API);
    project.compose(&["up", "-d", "--scale", "api=2"]);
    let mut p = profile(&[&project.name], &project.daemon().host);
    let l = link(&project, UpstreamAddressing::Dns);
    let lb = LbNginx::start("upstream nexus_api {\n    server localhost:8080;\n}\n");
    p.nginx.push(lb.endpoint(vec![l]));
    let id = WorkloadRef {
        endpoint: "docker".into(),
        scope: project.name.clone(),
        name: "api".into(),
        kind: WorkloadKind::ComposeService,
    };
    let action = Action::ScaleWorkload {
        workload: id.clone(),
        replicas: 1,
    };
    let plan = scaleboard::cli::lb::preview(&p, &action)
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("  down: stop the replicas → `")
            && plan.contains("no drain: a name has no server line per replica"),
        "{plan}"
    );
    let mut rig = support::docker::Rig::start(p.clone(), Duration::ZERO);
    rig.workload_until(&id, "api listed", |w| w.ready == 2);
    let workers = lb.workers();
    let (_, record) = rig.run(action);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(
        record
            .detail
            .contains("reloaded after the stop (a name cannot be drained"),
        "{}",
        record.detail
    );
    assert_ne!(lb.workers(), workers, "nginx was reloaded");
    assert_eq!(project.running("api"), 1);
    let steps: Vec<String> = rig
        .audit()
        .iter()
        .filter(|r| {
            r.action == "lb-step"
                && r.id.starts_with(&format!("{}/", record.id))
                && r.outcome == AuditOutcome::Succeeded
        })
        .map(|r| r.id[record.id.len() + 1..].to_string())
        .collect();
    assert_eq!(steps, ["lb-1-stop-replicas", "lb-2-reload"]);
    let r = &rt().block_on(check(&p))[0];
    assert_eq!(r.exit_code, 0, "{r:?}");
}
