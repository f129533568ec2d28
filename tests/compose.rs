//! The Docker connector against the real engine of this machine: Compose projects scaled through
//! the engine pipeline (plan → grace → execute → verify → audit), refusals in words, cancel,
//! an unreachable engine, and a Swarm service. See `support/docker.rs` for the guards that clean
//! up containers, networks, images and the Swarm even when a test fails.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::actions::audit::AuditOutcome;
use scaleboard::actions::{Action, GuardLevel};
use scaleboard::connectors::docker::SWARM_SCOPE;
use scaleboard::engine::{ActionStage, ConnStatus, Event};
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use std::time::Duration;
use support::docker::{Image, Project, Rig, Swarm, free_port, profile, unique};

fn id(project: &Project, service: &str) -> WorkloadRef {
    WorkloadRef {
        endpoint: "docker".into(),
        scope: project.name.clone(),
        name: service.into(),
        kind: WorkloadKind::ComposeService,
    }
}

fn refusals(plan: &scaleboard::actions::Plan) -> Vec<String> {
    plan.guards
        .iter()
        .filter(|g| g.level == GuardLevel::Refuse)
        .map(|g| g.reason.clone())
        .collect()
}

/// Services stop at once (busybox as PID 1 ignores SIGTERM, which would cost 10 s each).
const STOP: &str = "    stop_signal: SIGKILL\n";

#[test]
fn compose_service_scales_up_and_down_and_unscalable_services_are_refused() {
    let port = free_port();
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  web:\n    image: IMAGE\n{STOP}    ports:\n      - \"{port}:8080\"\n  \
         worker:\n    image: IMAGE\n{STOP}  named:\n    image: IMAGE\n{STOP}    container_name: NAMED\n  \
         agent:\n    image: IMAGE\n{STOP}    deploy:\n      mode: global\n"
    );
    let named = unique("sb-named-");
    let project = Project::up(&yaml.replace("NAMED", &named));
    assert_eq!(project.running("worker"), 1);
    let mut rig = Rig::start(profile(&[&project.name], None), Duration::ZERO);

    // Seen live, with what the labels and inspect say.
    let web = rig.workload_until(&id(&project, "web"), "web listed", |w| w.ready == 1);
    assert_eq!(web.id.kind, WorkloadKind::ComposeService);
    assert_eq!(web.fixed_host_port, Some(port));
    let details = web.docker.as_deref().unwrap();
    let compose = details.compose.as_ref().unwrap();
    assert_eq!(
        compose.working_dir,
        project.dir.path().display().to_string()
    );
    assert_eq!(
        compose.config_files,
        vec![project.file().display().to_string()]
    );
    assert!(compose.file_warnings.is_empty(), "{compose:?}");
    // CPU and memory from one-shot stats (they may miss a poll when slow: a gap, not an error).
    let worker = rig.workload_until(&id(&project, "worker"), "worker stats", |w| {
        w.docker
            .as_deref()
            .is_some_and(|d| d.memory_bytes.is_some_and(|b| b > 0))
    });
    assert!(worker.cpu_percent.is_some() && worker.memory_percent.is_some());
    let named_w = rig.workload_until(&id(&project, "named"), "named listed", |w| w.ready == 1);
    assert_eq!(
        named_w.docker.as_deref().unwrap().container_name.as_deref(),
        Some(named.as_str())
    );

    // Scale up through the pipeline: the exact command, the real container count.
    let (plan, record) = rig.run(Action::ScaleWorkload {
        workload: id(&project, "worker"),
        replicas: 3,
    });
    let compose_cmd = support::docker::compose_argv().join(" ");
    assert_eq!(
        plan.command,
        format!(
            "cd {dir} && {compose_cmd} -p {p} -f {dir}/docker-compose.yml up -d --no-recreate \
             --scale worker=3 worker",
            dir = project.dir.path().display(),
            p = project.name
        )
    );
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(record.detail.contains(&format!("$ {}", plan.command)));
    assert!(record.detail.contains("verified: 3 desired, 3 ready"));
    assert_eq!(project.running("worker"), 3);
    assert_eq!(
        project.running("web"),
        1,
        "--no-recreate and only worker named"
    );

    // And down again.
    let (_, record) = rig.run(Action::ScaleWorkload {
        workload: id(&project, "worker"),
        replicas: 1,
    });
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert_eq!(project.running("worker"), 1);

    // The fixed-port service is refused, with its port named, and nothing runs.
    let (plan, record) = rig.run(Action::ScaleWorkload {
        workload: id(&project, "web"),
        replicas: 2,
    });
    let why = refusals(&plan);
    assert!(
        why.iter()
            .any(|r| r.contains(&format!("fixed host port {port}"))),
        "{why:?}"
    );
    assert_eq!(record.outcome, AuditOutcome::Refused);
    assert_eq!(project.running("web"), 1);

    // container_name and deploy.mode: global are refused in words.
    let plan = rig.plan(Action::ScaleWorkload {
        workload: id(&project, "named"),
        replicas: 2,
    });
    assert!(
        refusals(&plan)
            .iter()
            .any(|r| r.contains(&format!("container_name \"{named}\""))),
        "{:?}",
        plan.guards
    );
    let plan = rig.plan(Action::ScaleWorkload {
        workload: id(&project, "agent"),
        replicas: 2,
    });
    assert!(
        refusals(&plan)
            .iter()
            .any(|r| r.contains("deploy.mode: global")),
        "{:?}",
        plan.guards
    );

    // A compose file edited after `up` is a warning on the next plan.
    std::thread::sleep(Duration::from_millis(20));
    let text = std::fs::read_to_string(project.file()).unwrap();
    std::fs::write(project.file(), format!("{text}# edited\n")).unwrap();
    let worker = rig.workload_until(&id(&project, "worker"), "file change seen", |w| {
        w.docker
            .as_deref()
            .and_then(|d| d.compose.as_ref())
            .is_some_and(|c| !c.file_warnings.is_empty())
    });
    assert_eq!(worker.desired, 1);
    let plan = rig.plan(Action::ScaleWorkload {
        workload: id(&project, "worker"),
        replicas: 2,
    });
    assert!(
        plan.guards
            .iter()
            .any(|g| g.level == GuardLevel::Warn && g.reason.contains("changed after")),
        "{:?}",
        plan.guards
    );
    assert!(!plan.refused());
}

#[test]
fn several_services_at_once_from_the_cli_and_a_cancelled_scale_changes_nothing() {
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}  writer:\n    image: IMAGE\n{STOP}"
    );
    let project = Project::up(&yaml);
    // A long grace period, so the cancel below lands in it.
    let mut rig = Rig::start(profile(&[&project.name], None), Duration::from_secs(30));
    rig.workload_until(&id(&project, "writer"), "writer listed", |w| w.ready == 1);

    // Several services in one `up`, through the CLI (plan printed, --yes, engine, audit).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"docker-test\"\n[[profile.compose]]\nname = \"docker\"\n\
             projects = [\"{}\"]\n",
            project.name
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .args([
            "scale",
            "--profile",
            "docker-test",
            &format!("compose/{}", project.name),
            "--set",
            "api=2",
            "--set",
            "writer=3",
            "--yes",
            "--grace",
            "0",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("up -d --no-recreate --scale api=2 --scale writer=3 api writer"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Succeeded") && stdout.contains("api 2/2 running, writer 3/3 running"),
        "{stdout}"
    );
    assert_eq!(project.running("api"), 2);
    assert_eq!(project.running("writer"), 3);

    // The window's project form plans the same action: before and guards.
    rig.workload_until(&id(&project, "writer"), "writer at 3", |w| w.ready == 3);
    let plan = rig.plan(Action::ScaleComposeServices {
        endpoint: "docker".into(),
        project: project.name.clone(),
        services: vec![("api".into(), 1), ("writer".into(), 1)],
    });
    assert_eq!(plan.before, "api 2, writer 3");
    assert!(!plan.refused(), "{:?}", plan.guards);

    // Cancelled during the grace period: the project stays as it was.
    let cancel_plan = rig.plan(Action::ScaleWorkload {
        workload: id(&project, "writer"),
        replicas: 5,
    });
    let action = rig.send(cancel_plan, false);
    rig.until("grace period", 20, |_, e| {
        matches!(e, Event::ActionProgress { id, stage: ActionStage::Grace { .. } } if *id == action)
    });
    rig.engine
        .send(scaleboard::engine::Command::Cancel { id: action })
        .unwrap();
    let record = rig.finished(action);
    assert_eq!(record.outcome, AuditOutcome::Cancelled, "{}", record.detail);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(project.running("writer"), 3);
    assert_eq!(project.running("api"), 2);
}

#[test]
fn unreachable_engine_is_a_clear_status() {
    let sock = "unix:///nonexistent.sock";
    let mut rig = Rig::start(profile(&[], Some(sock)), Duration::ZERO);
    let event = rig.until("endpoint down", 30, |_, e| {
        matches!(
            e,
            Event::Status {
                status: ConnStatus::Down,
                error: Some(_),
                ..
            }
        )
    });
    let Event::Status { error, .. } = event else {
        unreachable!()
    };
    let error = error.unwrap();
    assert!(
        error.starts_with(&format!("cannot reach Docker engine {sock}:")),
        "{error}"
    );
    assert!(
        error.contains("Cannot connect to the Docker daemon at unix:///nonexistent.sock"),
        "{error}"
    );
}

/// The only test that touches Swarm state (init / leave): keep it that way, or serialise.
#[test]
fn swarm_service_is_scaled_and_verified_by_running_tasks() {
    let image = Image::shared();
    let mut swarm = Swarm::init();
    let name = unique("sbsvc");
    let global = unique("sbglobal");
    let fast_stop = ["--stop-signal", "SIGKILL"];
    swarm.create_service(
        &name,
        &image.tag,
        &[&fast_stop[..], &["--replicas", "1"]].concat(),
    );
    swarm.create_service(
        &global,
        &image.tag,
        &[&fast_stop[..], &["--mode", "global"]].concat(),
    );
    let mut rig = Rig::start(profile(&["none-wanted"], None), Duration::ZERO);
    let svc = WorkloadRef {
        endpoint: "docker".into(),
        scope: SWARM_SCOPE.into(),
        name: name.clone(),
        kind: WorkloadKind::SwarmService,
    };
    let w = rig.workload_until(&svc, "service running", |w| w.ready == 1);
    assert_eq!(w.id.kind, WorkloadKind::SwarmService);

    let (plan, record) = rig.run(Action::ScaleWorkload {
        workload: svc.clone(),
        replicas: 3,
    });
    assert_eq!(
        plan.command,
        format!("docker service scale --detach {name}=3")
    );
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(record.detail.contains("verified: 3 desired, 3 ready"));
    assert_eq!(swarm.running_tasks(&name), 3);

    let global_ref = WorkloadRef {
        name: global.clone(),
        ..svc
    };
    rig.workload_until(&global_ref, "global service listed", |_| true);
    let plan = rig.plan(Action::ScaleWorkload {
        workload: global_ref,
        replicas: 2,
    });
    assert!(
        refusals(&plan).iter().any(|r| r.contains("--mode global")),
        "{:?}",
        plan.guards
    );
}
