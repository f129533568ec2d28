//! The Docker connector against a real engine — a private `dockerd` each test process starts
//! (never the machine's own engine): Compose projects scaled through the engine pipeline (plan →
//! grace → re-check → execute → verify → audit), refusals in words, cancel, an unreachable
//! engine, a Swarm service, two projects with a service of the same name, and a second client
//! changing the target during the grace period. See `support/docker.rs` for the daemon and the
//! guards that clean up containers, networks, images, the Swarm and the daemon even when a test
//! fails.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::actions::audit::{AuditOutcome, AuditRecord};
use scaleboard::actions::{Action, ActionId, FleetView, GuardLevel};
use scaleboard::connectors::Connector;
use scaleboard::connectors::docker::{DockerConnector, SWARM_SCOPE};
use scaleboard::engine::{ActionStage, ConnStatus, Event};
use scaleboard::model::exec::Execution;
use scaleboard::model::snapshot::{Snapshot, Workload, WorkloadKind, WorkloadRef};
use scaleboard::profiles::ComposeEndpoint;
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
    let host = project.daemon().host.clone();
    let mut rig = Rig::start(profile(&[&project.name], &host), Duration::ZERO);

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
            "cd {dir} && DOCKER_HOST={host} {compose_cmd} -p {p} -f {dir}/docker-compose.yml up -d \
             --no-recreate --scale worker=3 worker",
            dir = project.dir.path().display(),
            p = project.name
        )
    );
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    // What ran is what was planned, approved and audited: the plan's process, its text in the
    // audit record, and the transcript of the run, all the same line.
    let line = plan.command_line.as_ref().unwrap();
    assert_eq!(line.display(), plan.command);
    assert_eq!(line.env, vec![("DOCKER_HOST".to_string(), host.clone())]);
    assert_eq!(record.command, plan.command);
    assert!(record.detail.contains(&format!("$ {}", plan.command)));
    assert!(record.detail.contains("verified: 3 desired, 3 ready"));
    assert_eq!(project.running("worker"), 3);
    assert_eq!(
        project.running("web"),
        1,
        "--no-recreate and only worker named"
    );

    // And down again, planned on what the engine now shows (a plan made on the old count would
    // be stopped by the re-check: "changed since planned").
    rig.workload_until(&id(&project, "worker"), "worker at 3", |w| w.ready == 3);
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
    // (The poll loop's view may still show the count from before the scale-down: verification
    // reads the target only, and the view follows with the loop's next poll.)
    let worker = rig.workload_until(&id(&project, "worker"), "file change seen", |w| {
        w.desired == 1
            && w.docker
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
    let host = project.daemon().host.clone();
    // A long grace period, so the cancel below lands in it.
    let mut rig = Rig::start(profile(&[&project.name], &host), Duration::from_secs(30));
    rig.workload_until(&id(&project, "writer"), "writer listed", |w| w.ready == 1);

    // Several services in one `up`, through the CLI (plan printed, --yes, engine, audit).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"docker-test\"\n[[profile.compose]]\nname = \"docker\"\n\
             docker_host = \"{host}\"\nprojects = [\"{}\"]\n",
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
    // The outcome line says the outcome and what was verified; docker compose's own output
    // (its progress lines) follows it, indented, never spliced into it.
    let succeeded = stdout
        .lines()
        .find(|l| l.starts_with("Succeeded"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        succeeded, "Succeeded: verified: api 2/2 running, writer 3/3 running",
        "{stdout}"
    );
    let after: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Succeeded"))
        .skip(1)
        .collect();
    assert!(
        after.first().is_some_and(
            |l| l.starts_with("    $ ") && l.contains("up -d --no-recreate --scale api=2")
        ),
        "{stdout}"
    );
    assert!(after.iter().all(|l| l.starts_with("    ")), "{stdout}");
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
    let mut rig = Rig::start(profile(&[], sock), Duration::ZERO);
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

/// Swarm on the private daemon: a service scaled and verified by its running tasks, a global one
/// refused, and a second client's `docker service scale` during the grace period stops our
/// write. One test, so one Swarm (Swarms are taken one at a time: see `support::docker::Swarm`).
#[test]
fn swarm_service_is_scaled_and_verified_and_a_change_during_grace_stops_the_write() {
    let image = Image::shared();
    let host = image.daemon.host.clone();
    let mut swarm = Swarm::init(image.daemon.clone());
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
    let mut rig = Rig::start(profile(&["none-wanted"], &host), Duration::ZERO);
    let svc = WorkloadRef {
        endpoint: "docker".into(),
        scope: SWARM_SCOPE.into(),
        name: name.clone(),
        kind: WorkloadKind::SwarmService,
    };
    let w = rig.workload_until(&svc, "service running", |w| w.ready == 1);
    assert_eq!(w.id.kind, WorkloadKind::SwarmService);
    assert!(
        w.revision
            .as_deref()
            .is_some_and(|r| r.starts_with("version ")),
        "{:?}",
        w.revision
    );

    let (plan, record) = rig.run(Action::ScaleWorkload {
        workload: svc.clone(),
        replicas: 3,
    });
    assert_eq!(
        plan.command,
        format!("DOCKER_HOST={host} docker service scale --detach {name}=3")
    );
    assert_eq!(record.command, plan.command);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(record.detail.contains("verified: 3 desired, 3 ready"));
    assert_eq!(swarm.running_tasks(&name), 3);

    let global_ref = WorkloadRef {
        name: global.clone(),
        ..svc.clone()
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
    drop(rig);

    // Changed since planned: planned 3 → 2; during the grace period a second client scales the
    // service to 5. Our write does not happen: the count stays the other client's.
    let mut rig = Rig::start(profile(&["none-wanted"], &host), GRACE);
    let planned = rig.workload_until(&svc, "service at 3", |w| w.ready == 3 && w.desired == 3);
    let plan = rig.plan(Action::ScaleWorkload {
        workload: svc.clone(),
        replicas: 2,
    });
    assert!(!plan.refused(), "{:?}", plan.guards);
    let action = rig.send(plan.clone(), false);
    during_grace(&mut rig, action, || {
        swarm.daemon.sh(
            &[
                "docker",
                "service",
                "scale",
                "--detach",
                &format!("{name}=5"),
            ],
            None,
        );
    });
    let record = rig.finished(action);
    let what = format!("desired replicas of {svc}: 3 when planned, 5 now");
    assert_not_run(&rig, &record, &what);
    let version = planned.revision.unwrap();
    assert!(
        record.detail.contains(&format!(
            "spec revision of {svc}: {version} when planned, version "
        )),
        "{}",
        record.detail
    );
    assert_eq!(swarm.desired(&name), 5, "our scale to 2 must not have run");
}

/// Long enough for a second client's compose command to finish inside it.
const GRACE: Duration = Duration::from_secs(12);

/// Wait until the action is in its grace period, then let `other` (a second client) act.
fn during_grace(rig: &mut Rig, action: ActionId, other: impl FnOnce()) {
    rig.until("grace period", 30, |_, e| {
        matches!(e, Event::ActionProgress { id, stage: ActionStage::Grace { .. } } if *id == action)
    });
    let started = std::time::Instant::now();
    other();
    assert!(
        started.elapsed() < GRACE - Duration::from_secs(2),
        "the second client took {:?}, too close to the grace period",
        started.elapsed()
    );
}

/// The action ended "not run", saying `what` changed; its record is in the audit file, and no
/// intent record exists for it (nothing was about to be written).
fn assert_not_run(rig: &Rig, record: &AuditRecord, what: &str) {
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{}", record.detail);
    assert!(
        record
            .detail
            .starts_with("not run: changed since planned: "),
        "{}",
        record.detail
    );
    assert!(record.detail.contains(what), "{what}\n{}", record.detail);
    assert!(
        !record.detail.contains("$ "),
        "nothing ran: {}",
        record.detail
    );
    let audit = rig.audit();
    let mine: Vec<&AuditRecord> = audit.iter().filter(|r| r.id == record.id).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].outcome, AuditOutcome::NotRun);
    assert_eq!(mine[0].detail, record.detail);
}

/// Two Compose projects, each with a service `api`: two rows, two series, and scaling one
/// changes only its own project's containers.
#[test]
fn two_projects_with_a_service_of_the_same_name_stay_apart() {
    let yaml = format!("version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}");
    let one = Project::up(&yaml);
    let two = Project::up(&yaml);
    let host = one.daemon().host.clone();
    let mut rig = Rig::start(profile(&[&one.name, &two.name], &host), Duration::ZERO);
    let (a, b) = (id(&one, "api"), id(&two, "api"));
    assert_ne!(a.target(), b.target());
    // Both rows in one snapshot, and one series per row.
    let event = rig.until("both api services with samples", 60, |v, e| {
        v.workload(&a).is_some_and(|w| w.ready == 1)
            && v.workload(&b).is_some_and(|w| w.ready == 1)
            && matches!(e, Event::Snapshot { samples, .. }
                if samples.iter().any(|s| s.target == a.target())
                    && samples.iter().any(|s| s.target == b.target()))
    });
    let Event::Snapshot {
        snapshot: Snapshot::Workloads(list),
        samples,
        ..
    } = event
    else {
        unreachable!()
    };
    let apis: Vec<&Workload> = list.iter().filter(|w| w.id.name == "api").collect();
    assert_eq!(apis.len(), 2, "{list:?}");
    for target in [a.target(), b.target()] {
        let replicas: Vec<f64> = samples
            .iter()
            .filter(|s| s.target == target && s.metric == "replicas")
            .map(|s| s.value)
            .collect();
        assert_eq!(replicas, vec![1.0], "{target}");
    }

    // Scale the second project's api: the first keeps its one container.
    let (plan, record) = rig.run(Action::ScaleWorkload {
        workload: b.clone(),
        replicas: 2,
    });
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(
        plan.command.contains(&format!("-p {} ", two.name)),
        "{}",
        plan.command
    );
    assert_eq!(record.target, plan.action.target_path());
    assert_eq!(two.running("api"), 2);
    assert_eq!(one.running("api"), 1);
    let w = rig.workload_until(&a, "first api unchanged", |w| w.desired == 1);
    assert_eq!(w.ready, 1);
    rig.workload_until(&b, "second api at 2", |w| w.ready == 2);

    // To zero: the project has no container left, and verification still reads its service
    // (at 0, from what the poll saw), not "not reported".
    let (plan, record) = rig.run(Action::ScaleWorkload {
        workload: b.clone(),
        replicas: 0,
    });
    assert!(!plan.refused(), "{:?}", plan.guards);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(
        record.detail.contains("verified: 0 desired, 0 ready"),
        "{}",
        record.detail
    );
    assert_eq!(two.running("api"), 0);
    assert_eq!(one.running("api"), 1);
}

/// A second client changes the Compose project during the grace period: first the replica
/// count (`up -d --scale api=3`), then the compose file. Each time nothing of ours runs, the
/// operator reads what changed, and the audit log has the record.
#[test]
fn compose_changed_since_planned_writes_nothing() {
    let yaml = format!("version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}");
    let project = Project::up(&yaml);
    let host = project.daemon().host.clone();
    let mut rig = Rig::start(profile(&[&project.name], &host), GRACE);
    let api = id(&project, "api");
    let planned = rig.workload_until(&api, "api listed", |w| w.ready == 1);
    assert!(
        planned
            .revision
            .as_deref()
            .is_some_and(|r| r.starts_with("files ") && r.contains("service config ")),
        "{:?}",
        planned.revision
    );

    // 1. The count: we plan 1 → 2, the other client makes it 3.
    let plan = rig.plan(Action::ScaleWorkload {
        workload: api.clone(),
        replicas: 2,
    });
    assert!(!plan.refused(), "{:?}", plan.guards);
    let action = rig.send(plan, false);
    during_grace(&mut rig, action, || {
        project.compose(&["up", "-d", "--scale", "api=3"]);
    });
    let record = rig.finished(action);
    assert_not_run(
        &rig,
        &record,
        &format!("desired replicas of {api}: 1 when planned, 3 now"),
    );
    assert!(record.detail.contains("Plan again"), "{}", record.detail);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        project.running("api"),
        3,
        "our scale to 2 must not have run"
    );

    // 2. The file: planned 3 → 4, the other client edits docker-compose.yml (an environment
    // variable our `up` would apply).
    rig.workload_until(&api, "api at 3", |w| w.ready == 3);
    let plan = rig.plan(Action::ScaleWorkload {
        workload: api.clone(),
        replicas: 4,
    });
    let action = rig.send(plan, false);
    during_grace(&mut rig, action, || {
        let text = std::fs::read_to_string(project.file()).unwrap();
        std::fs::write(
            project.file(),
            format!("{text}    environment:\n      MODE: edited\n"),
        )
        .unwrap();
    });
    let record = rig.finished(action);
    assert_not_run(&rig, &record, &format!("spec revision of {api}: files "));
    assert_eq!(
        project.running("api"),
        3,
        "our scale to 4 must not have run"
    );
}

/// The connector runs the plan's process itself: given a line that differs from what the action
/// alone would build, it runs the line (nothing is rebuilt), and without a line it runs nothing.
/// Its fresh read of the target agrees with the poll.
#[test]
fn execute_runs_the_given_line_and_the_fresh_read_matches_the_poll() {
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}  db:\n    image: IMAGE\n{STOP}"
    );
    let project = Project::up(&yaml);
    let connector = DockerConnector::new(&ComposeEndpoint {
        name: "docker".into(),
        docker_host: Some(project.daemon().host.clone()),
        projects: Vec::new(),
        docker_context: None,
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = id(&project, "api");
    let action = Action::ScaleWorkload {
        workload: api.clone(),
        replicas: 5,
    };

    // The fresh read holds the project's services only, as the poll sees them.
    let polled = rt.block_on(connector.poll()).unwrap();
    let fresh = rt.block_on(connector.read_fresh(&action)).unwrap().unwrap();
    let (Snapshot::Workloads(polled), Snapshot::Workloads(fresh)) = (polled.snapshot, fresh) else {
        panic!("not workloads")
    };
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    for w in &fresh {
        assert_eq!(w.id.scope, project.name);
        let p = polled.iter().find(|p| p.id == w.id).unwrap();
        assert_eq!((p.desired, p.ready), (w.desired, w.ready));
        assert!(w.revision.is_some());
        assert_eq!(p.revision, w.revision, "{}", w.id);
    }

    // No line: nothing runs.
    let err = rt
        .block_on(connector.execute(Execution::bare(&action)))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("nothing was run: this plan carries no command line"),
        "{err}"
    );
    assert_eq!(project.running("api"), 1);

    // A line that says 2 while the action says 5: the line runs, byte for byte.
    let w = fresh.iter().find(|w| w.id == api).unwrap();
    let compose = w.docker.as_ref().unwrap().compose.clone().unwrap();
    let target = w.docker.as_ref().unwrap().target.clone();
    let line = scaleboard::connectors::docker::command::compose_scale(
        &target,
        &project.name,
        &compose,
        &[("api".into(), 2)],
    );
    let run = Execution {
        action: &action,
        command_line: Some(&line),
        fresh: None,
    };
    let out = rt.block_on(connector.execute(run)).unwrap();
    assert!(out.starts_with(&format!("$ {}\n", line.display())), "{out}");
    assert_eq!(project.running("api"), 2);
    assert_eq!(project.running("db"), 1);

    // The compose file edited: the service's revision moves, in the poll and the fresh read.
    let before = w.revision.clone();
    let text = std::fs::read_to_string(project.file()).unwrap();
    std::fs::write(project.file(), format!("{text}# edited\n")).unwrap();
    let Snapshot::Workloads(after) = rt.block_on(connector.read_fresh(&action)).unwrap().unwrap()
    else {
        panic!("not workloads")
    };
    let after = after.iter().find(|w| w.id == api).unwrap();
    assert_ne!(after.revision, before);
    assert_eq!(after.desired, 2);

    // A failing line keeps docker's own words.
    let mut bad = line.clone();
    bad.argv.push("no-such-service".into());
    let run = Execution {
        action: &action,
        command_line: Some(&bad),
        fresh: None,
    };
    let err = rt.block_on(connector.execute(run)).unwrap_err();
    assert!(err.to_string().contains("no-such-service"), "{err}");
}
