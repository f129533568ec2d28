//! A Compose service behind a real nginx upstream, scaled through the engine pipeline on a
//! private Docker daemon: up (replicas start, then the upstream lists them and traffic reaches
//! all of them), down while a client keeps requesting (drained first: zero failed requests),
//! a broken include (nginx -t fails: the old file is back, nothing reloaded, nothing stopped),
//! and the file edited during the grace period (not run). Every step is audited write-ahead
//! under the parent's id, and the file outside the upstream block stays byte for byte.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use scaleboard::actions::Action;
use scaleboard::actions::audit::{AuditOutcome, AuditRecord};
use scaleboard::connectors::nginx::parse::file_facts;
use scaleboard::connectors::nginx::replicas::running;
use scaleboard::connectors::nginx::status::docker_target;
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use scaleboard::profiles::model::QueueWorkload;
use scaleboard::profiles::{Profile, UpstreamAddressing, UpstreamLink};
use support::docker::{Project, Rig, profile};
use support::nginx::{HOSTNAME_API, LbNginx};

struct Setup {
    project: Project,
    lb: LbNginx,
    profile: Profile,
    original: String,
}

const HEAD: &str = "# api replicas, written by hand\n\n#   keep least_conn: long requests\n";
const TAIL: &str = "\n# another upstream, not ours\nupstream other {  server 127.0.0.1:9;  }\n";

fn link(project: &Project) -> UpstreamLink {
    UpstreamLink {
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
    }
}

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

/// `n` replicas behind nginx, the upstream file listing them.
fn setup(n: u32) -> Setup {
    let project = Project::up(HOSTNAME_API);
    project.compose(&["up", "-d", "--scale", &format!("api={n}")]);
    let mut p = profile(&[&project.name], &project.daemon().host);
    let l = link(&project);
    let servers: String = addresses(&p, &l)
        .iter()
        .map(|a| format!("\tserver {a} max_fails=3 fail_timeout=5s; # a replica\n"))
        .collect();
    let original =
        format!("{HEAD}upstream nexus_api {{\n\tleast_conn;\n{servers}\tkeepalive 8;\n}}\n{TAIL}");
    let lb = LbNginx::start(&original);
    p.nginx.push(lb.endpoint(vec![l]));
    Setup {
        project,
        lb,
        profile: p,
        original,
    }
}

fn id(project: &Project) -> WorkloadRef {
    WorkloadRef {
        endpoint: "docker".into(),
        scope: project.name.clone(),
        name: "api".into(),
        kind: WorkloadKind::ComposeService,
    }
}

fn scale(project: &Project, replicas: u32) -> Action {
    Action::ScaleWorkload {
        workload: id(project),
        replicas,
    }
}

/// The upstream file's active servers.
fn servers(s: &Setup) -> Vec<String> {
    let text = std::fs::read_to_string(&s.lb.upstreams).unwrap();
    let f = file_facts(&text).unwrap();
    let up = f.upstreams.iter().find(|u| u.name == "nexus_api").unwrap();
    up.servers
        .iter()
        .filter(|s| !s.down)
        .map(|s| s.address.clone())
        .collect()
}

/// The bytes before and after the upstream block are the ones written by hand.
fn outside_block_unchanged(s: &Setup) {
    let text = std::fs::read_to_string(&s.lb.upstreams).unwrap();
    assert!(
        text.starts_with(&format!("{HEAD}upstream nexus_api {{\n\tleast_conn;\n")),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("\tkeepalive 8;\n}}\n{TAIL}")),
        "{text}"
    );
}

/// The lb-step records of one action: (step id, outcome), in file order.
fn steps(audit: &[AuditRecord], parent: &str) -> Vec<(String, AuditOutcome)> {
    audit
        .iter()
        .filter(|r| r.action == "lb-step" && r.id.starts_with(&format!("{parent}/")))
        .map(|r| (r.id[parent.len() + 1..].to_string(), r.outcome))
        .collect()
}

fn parent_of(audit: &[AuditRecord], record: &AuditRecord) -> String {
    assert!(
        audit
            .iter()
            .any(|r| r.id == record.id && r.outcome == AuditOutcome::Intent)
    );
    record.id.clone()
}

#[test]
fn scale_up_puts_the_new_replica_behind_nginx() {
    let s = setup(2);
    let mut rig = Rig::start(s.profile.clone(), Duration::ZERO);
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 2);
    let (_, record) = rig.run(scale(&s.project, 3));
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(
        record
            .detail
            .contains("upstream nexus_api lists 3 server(s)"),
        "{}",
        record.detail
    );
    assert_eq!(servers(&s).len(), 3);
    assert_eq!(
        BTreeSet::from_iter(servers(&s)),
        BTreeSet::from_iter(addresses(&s.profile, &link(&s.project)))
    );
    outside_block_unchanged(&s);
    // The new line copies its neighbour's parameters.
    let text = std::fs::read_to_string(&s.lb.upstreams).unwrap();
    assert_eq!(
        text.matches("max_fails=3 fail_timeout=5s;").count(),
        3,
        "{text}"
    );
    let hosts: BTreeSet<String> = (0..30).map(|_| s.lb.get().unwrap()).collect();
    assert_eq!(hosts.len(), 3, "30 requests reach every replica: {hosts:?}");

    let audit = rig.audit();
    let parent = parent_of(&audit, &record);
    let got = steps(&audit, &parent);
    let want: Vec<(String, AuditOutcome)> = [
        ("lb-1-start-replicas", AuditOutcome::Intent),
        ("lb-1-start-replicas", AuditOutcome::Succeeded),
        ("lb-2-wait-ready", AuditOutcome::Intent),
        ("lb-2-wait-ready", AuditOutcome::Succeeded),
        ("lb-3-write-upstream", AuditOutcome::Intent),
        ("lb-3-write-upstream", AuditOutcome::Succeeded),
    ]
    .iter()
    .map(|(s, o)| ((*s).to_string(), *o))
    .collect();
    assert_eq!(got, want);
    drop(s.original);
}

#[test]
fn scale_down_drains_first_and_no_request_fails() {
    let s = setup(3);
    let mut rig = Rig::start(s.profile.clone(), Duration::ZERO);
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 3);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = {
        let (stop, ok, failed, errors) = (stop.clone(), ok.clone(), failed.clone(), errors.clone());
        let port = s.lb.port;
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match support::web::http_get(port, "/") {
                    Some((200, _)) => ok.fetch_add(1, Ordering::SeqCst),
                    other => {
                        errors.lock().unwrap().push(format!("{other:?}"));
                        failed.fetch_add(1, Ordering::SeqCst)
                    }
                };
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let (_, record) = rig.run(scale(&s.project, 2));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    client.join().unwrap();
    eprintln!(
        "scale 3 to 2: {} requests, {} failed; {}",
        ok.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
        record.detail
    );
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "{:?}",
        errors.lock().unwrap()
    );
    assert!(ok.load(Ordering::SeqCst) > 10, "the client kept requesting");
    assert_eq!(s.project.running("api"), 2);
    assert_eq!(servers(&s).len(), 2);
    let text = std::fs::read_to_string(&s.lb.upstreams).unwrap();
    assert!(
        !text.contains(" down;"),
        "the leaving line is removed after the stop: {text}"
    );
    outside_block_unchanged(&s);
    let audit = rig.audit();
    let parent = parent_of(&audit, &record);
    let names: Vec<String> = steps(&audit, &parent)
        .into_iter()
        .filter(|(_, o)| *o == AuditOutcome::Succeeded)
        .map(|(n, _)| n)
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
}

#[test]
fn a_failing_nginx_test_puts_the_old_file_back_and_reloads_nothing() {
    let s = setup(3);
    let mut rig = Rig::start(s.profile.clone(), Duration::ZERO);
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 3);
    // Planted before the write: an include nginx -t refuses.
    std::fs::write(
        s.lb.dir.path().join("extra/broken.conf"),
        "no_such_directive on;\n",
    )
    .unwrap();
    let workers = s.lb.workers();
    let (_, record) = rig.run(scale(&s.project, 2));
    assert_eq!(record.outcome, AuditOutcome::Failed, "{}", record.detail);
    assert!(
        record.detail.contains("nginx -t failed, so the previous")
            && record
                .detail
                .contains("was put back and nginx was not reloaded"),
        "{}",
        record.detail
    );
    assert_eq!(
        std::fs::read_to_string(&s.lb.upstreams).unwrap(),
        s.original
    );
    assert_eq!(s.lb.workers(), workers, "no reload");
    assert_eq!(s.project.running("api"), 3, "nothing stopped");
    let audit = rig.audit();
    let got = steps(&audit, &parent_of(&audit, &record));
    assert_eq!(
        got,
        [
            ("lb-1-mark-down".to_string(), AuditOutcome::Intent),
            ("lb-1-mark-down".to_string(), AuditOutcome::Failed)
        ]
    );
}

#[test]
fn the_file_edited_during_the_grace_period_stops_the_action() {
    let s = setup(2);
    let mut rig = Rig::start(s.profile.clone(), Duration::from_secs(3));
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 2);
    let plan = rig.plan(scale(&s.project, 3));
    let action = rig.send(plan, false);
    std::thread::sleep(Duration::from_millis(800));
    let edited = format!("{}# touched by hand\n", s.original);
    std::fs::write(&s.lb.upstreams, &edited).unwrap();
    let record = rig.finished(action);
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{}", record.detail);
    assert!(
        record.detail.contains("changed since planned"),
        "{}",
        record.detail
    );
    assert_eq!(s.project.running("api"), 2, "nothing started");
    assert_eq!(std::fs::read_to_string(&s.lb.upstreams).unwrap(), edited);
}

#[test]
fn opted_out_the_scale_runs_alone_and_the_drift_shows() {
    let s = setup(3);
    let mut rig = Rig::start(s.profile.clone(), Duration::ZERO);
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 3);
    let plan = rig.plan(scale(&s.project, 2));
    let action = scaleboard::actions::ActionId(99);
    rig.engine
        .send(scaleboard::engine::Command::SkipLoadBalancer { id: action })
        .unwrap();
    rig.engine
        .send(scaleboard::engine::Command::Execute {
            id: action,
            plan: Box::new(plan),
            forced: false,
        })
        .unwrap();
    // Requests sent to the stopped replica fail: this is what the drain prevents.
    let mut failed = 0;
    let record = loop {
        if let Some(scaleboard::engine::Event::ActionFinished { id, record }) =
            rig.engine.recv_timeout(Duration::from_millis(50))
            && id == action
        {
            break *record;
        }
        failed += usize::from(s.lb.get().is_err());
    };
    for _ in 0..20 {
        failed += usize::from(s.lb.get().is_err());
    }
    eprintln!("requests failed without the load-balancer steps: {failed}");
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert_eq!(
        std::fs::read_to_string(&s.lb.upstreams).unwrap(),
        s.original
    );
    assert!(steps(&rig.audit(), &record.id).is_empty());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = &rt.block_on(scaleboard::connectors::nginx::status::check(&s.profile))[0];
    assert_eq!(
        r.summary,
        "LB: 2 of 2 replicas behind nexus_api; 1 listed server has no replica"
    );
    assert_eq!(r.exit_code, 1);
}

/// `scaleboard scale` on a terminal: the plan shows the upstream diff and the steps with the
/// exact nginx command lines; `--no-lb` says the upstream is left as it is.
#[test]
fn the_command_line_shows_the_upstream_diff() {
    let s = setup(3);
    let dir = tempfile::tempdir().unwrap();
    let mut saved = s.profile.clone();
    saved.name = "lbtest".into();
    scaleboard::profiles::ProfileStore::load(dir.path())
        .upsert(saved)
        .unwrap();
    let leaving = addresses(&s.profile, &link(&s.project)).pop().unwrap();
    let scale = |n: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
            .args(["--config-dir", &dir.path().display().to_string()])
            .args(["--profile", "lbtest", "scale", "--yes", "--grace", "0"])
            .arg(format!("compose/{}/api", s.project.name))
            .arg(n)
            .args(extra)
            .env("SCALEBOARD_KEYRING", "off")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let text = scale("2", &[]);
    let upstreams = s.lb.upstreams.display().to_string();
    assert!(
        text.contains(&format!(
            "Load balancer: nginx front, upstream nexus_api in {upstreams} (digest "
        )),
        "{text}"
    );
    assert!(
        text.contains("down: mark the leaving servers down → `"),
        "{text}"
    );
    assert!(
        text.contains(" -t -p "),
        "the test command as it runs: {text}"
    );
    assert!(
        text.contains(&format!(
            "- \tserver {leaving} max_fails=3 fail_timeout=5s; # a replica"
        )) && text.contains(&format!(
            "+ \tserver {leaving} max_fails=3 fail_timeout=5s down; # a replica"
        )),
        "the diff marks the replica that leaves: {text}"
    );
    assert!(!servers(&s).contains(&leaving), "{:?}", servers(&s));
    assert_eq!(servers(&s).len(), 2);

    let text = scale("3", &["--no-lb"]);
    assert!(
        text.contains("Load balancer: left as it is (--no-lb)"),
        "{text}"
    );
    assert_eq!(servers(&s).len(), 2, "the upstream was not touched");
    assert_eq!(s.project.running("api"), 3);
}
