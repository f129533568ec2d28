//! The fit check of Docker scale plans against a real engine — a private `dockerd` per test
//! process (never the machine's own engine), sized by its real `docker info`: a Compose service
//! whose reservations outgrow the engine's memory, services without reservations, and a Swarm
//! service whose reservation is larger than the room left on its node. Through the CLI, without
//! `--yes`: the plan is printed and nothing runs.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::model::units::format_bytes;
use support::docker::{Daemon, Image, Project, Swarm, unique};

const STOP: &str = "    stop_signal: SIGKILL\n";
const MIB: u64 = 1024 * 1024;

fn number(daemon: &Daemon, argv: &[&str]) -> u64 {
    let out = daemon.sh(argv, None);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{argv:?} printed {out}"))
}

fn mem_total(daemon: &Daemon) -> u64 {
    number(daemon, &["docker", "info", "--format", "{{.MemTotal}}"])
}

/// `scaleboard scale --profile docker-test TARGET N` without `--yes`: the printed plan.
fn plan_text(host: &str, projects: &[&str], target: &str, replicas: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let projects: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"docker-test\"\n[[profile.compose]]\nname = \"docker\"\n\
             docker_host = \"{host}\"\nprojects = [{}]\n",
            projects.join(", ")
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
            target,
            &replicas.to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `scaleboard capacity --profile docker-test [--json]` on the same kind of profile.
fn capacity_text(host: &str, projects: &[&str], json: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let projects: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"docker-test\"\n[[profile.compose]]\nname = \"docker\"\n\
             docker_host = \"{host}\"\nprojects = [{}]\n",
            projects.join(", ")
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .args(["capacity", "--profile", "docker-test", "--timeout", "30"]);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `scaleboard capacity` shows the engine with its real size, what its one running container
/// reserves, and how many more replicas of the service fit.
#[test]
fn capacity_shows_the_engine_its_containers_and_what_fits_per_service() {
    let image = Image::shared();
    let total = mem_total(&image.daemon);
    let cpus = number(&image.daemon, &["docker", "info", "--format", "{{.NCPU}}"]);
    let each_mib = total * 2 / 5 / MIB;
    let each = each_mib * MIB;
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}    deploy:\n      \
         resources:\n        reservations:\n          memory: {each_mib}M\n"
    );
    let project = Project::up(&yaml);
    assert_eq!(project.running("api"), 1);
    let host = project.daemon().host.clone();
    let report: serde_json::Value =
        serde_json::from_str(&capacity_text(&host, &[&project.name], true)).unwrap();
    let e = &report["engines"][0];
    assert_eq!(e["engine"], format!("Docker engine {host}"), "{report:#}");
    assert_eq!(e["memory_bytes"], total);
    assert_eq!(e["cpu_milli"], cpus * 1000);
    assert_eq!(e["running_containers"], 1);
    assert_eq!(e["held_memory_bytes"], each);
    assert_eq!(e["headroom_memory_bytes"], total - each);
    let api = &e["services"][0];
    assert_eq!(api["service"], format!("{}/service/api", project.name));
    // 60 % of the memory is free, each replica reserves 40 %: one more fits.
    assert_eq!(api["more_fit"], 1, "{api:#}");
    let text = capacity_text(&host, &[&project.name], false);
    for words in [
        format!(
            "memory      {} of {} held by 1 running container, headroom {}",
            format_bytes(each),
            format_bytes(total),
            format_bytes(total - each)
        ),
        "counted     1 running container: 1 by their memory reservation".to_string(),
        format!(
            "1 replica, 1 more fit (each reserves memory {}; limited by the engine's free \
             memory, {} of {})",
            format_bytes(each),
            format_bytes(total - each),
            format_bytes(total)
        ),
    ] {
        assert!(text.contains(&words), "{words:?} missing from:\n{text}");
    }
}

/// Each replica reserves 40 % of the engine's memory: with one running, 5 replicas (4 new)
/// leave room for one more; the plan says so with the engine's own numbers.
#[test]
fn compose_reservations_past_the_engines_memory_say_how_many_fit() {
    let image = Image::shared();
    let total = mem_total(&image.daemon);
    let each_mib = total * 2 / 5 / MIB;
    let each = each_mib * MIB;
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}    deploy:\n      \
         resources:\n        reservations:\n          memory: {each_mib}M\n        limits:\n          \
         memory: {each_mib}M\n"
    );
    let project = Project::up(&yaml);
    assert_eq!(project.running("api"), 1);
    // What compose made of it: the reservation is on the container.
    let ids = project.daemon().sh(
        &[
            "docker",
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", project.name),
        ],
        None,
    );
    let reserved = number(
        project.daemon(),
        &[
            "docker",
            "inspect",
            "--format",
            "{{.HostConfig.MemoryReservation}}",
            ids.trim(),
        ],
    );
    assert_eq!(reserved, each);
    let host = project.daemon().host.clone();
    let text = plan_text(
        &host,
        &[&project.name],
        &format!("compose/{}/api", project.name),
        5,
    );
    let free = total - each;
    let fitting = free / each;
    assert_eq!(fitting, 1);
    let want = format!(
        "api: only 1 of 4 new replicas fit in Docker engine {host}'s free memory: 3 would \
         over-commit it (each reserves {}, {} free of {}).",
        format_bytes(each),
        format_bytes(free),
        format_bytes(total)
    );
    assert!(text.contains(&want), "wanted {want}\nin:\n{text}");
    assert!(text.contains("[WARN] Fit of "), "{text}");
    assert!(
        text.contains("1 running container: 1 by their memory reservation"),
        "{text}"
    );
    assert!(
        text.contains("Docker does not enforce reservations for plain containers"),
        "{text}"
    );
    // Within room, it fits.
    let text = plan_text(
        &host,
        &[&project.name],
        &format!("compose/{}/api", project.name),
        2,
    );
    assert!(
        text.contains("[ok] Fit of ") && text.contains("fits: 1 of 1 new replica"),
        "{text}"
    );
    // Nothing ran: no --yes, no confirmation.
    assert_eq!(project.running("api"), 1);
}

/// Without reservations the fit cannot be judged, and the plan says what is set instead.
#[test]
fn compose_services_without_reservations_cannot_be_judged() {
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  capped:\n    image: IMAGE\n{STOP}    deploy:\n      \
         resources:\n        limits:\n          memory: 64M\n  bare:\n    image: IMAGE\n{STOP}"
    );
    let project = Project::up(&yaml);
    let host = project.daemon().host.clone();
    let text = plan_text(
        &host,
        &[&project.name],
        &format!("compose/{}/capped", project.name),
        3,
    );
    assert!(
        text.contains(
            "capped cannot be judged: no reservations (only limits set: memory 64.0 MiB)."
        ),
        "{text}"
    );
    let text = plan_text(
        &host,
        &[&project.name],
        &format!("compose/{}/bare", project.name),
        3,
    );
    assert!(
        text.contains("cannot be judged: no reservations (nothing set)"),
        "{text}"
    );
}

/// Swarm enforces reservations: a service whose one running task holds 60 % of the node's
/// memory has no room for a second, and the plan says the new tasks would stay Pending.
#[test]
fn swarm_reservation_over_the_nodes_room_stays_pending() {
    let image = Image::shared();
    let host = image.daemon.host.clone();
    let mut swarm = Swarm::init(image.daemon.clone());
    let node_memory = number(
        &image.daemon,
        &[
            "docker",
            "node",
            "inspect",
            "self",
            "--format",
            "{{.Description.Resources.MemoryBytes}}",
        ],
    );
    let each = node_memory * 3 / 5 / MIB * MIB;
    let name = unique("sbfit");
    swarm.create_service(
        &name,
        &image.tag,
        &[
            "--stop-signal",
            "SIGKILL",
            "--replicas",
            "1",
            "--reserve-memory",
            &each.to_string(),
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while swarm.running_tasks(&name) < 1 {
        assert!(std::time::Instant::now() < deadline, "the task never ran");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let text = plan_text(&host, &["none-wanted"], &format!("swarm/{name}"), 3);
    let want = format!(
        "none of 2 new replicas fit: 2 would stay Pending (insufficient memory: each needs {}, \
         the largest free room is {}); Swarm would show them as \"no suitable node \
         (insufficient resources on 1 node)\".",
        format_bytes(each),
        format_bytes(node_memory - each)
    );
    assert!(text.contains("[WARN] Fit of "), "{text}");
    assert!(text.contains(&want), "wanted {want}\nin:\n{text}");
    assert_eq!(swarm.desired(&name), 1, "nothing may have been scaled");

    // A constraint no node meets keeps every new task off the one node.
    let zoned = unique("sbzone");
    swarm.create_service(
        &zoned,
        &image.tag,
        &[
            "--replicas",
            "0",
            "--reserve-memory",
            "8388608",
            "--constraint",
            "node.labels.zone==eu",
        ],
    );
    let text = plan_text(&host, &["none-wanted"], &format!("swarm/{zoned}"), 1);
    assert!(
        text.contains(
            "none of 1 new replica fits: 1 would stay Pending (1 node not matching the \
             constraints); Swarm would show them as \"no suitable node\"."
        ),
        "{text}"
    );
    // A drained node takes no new task.
    let node = image
        .daemon
        .sh(&["docker", "info", "--format", "{{.Swarm.NodeID}}"], None);
    image.daemon.sh(
        &[
            "docker",
            "node",
            "update",
            "--availability",
            "drain",
            node.trim(),
        ],
        None,
    );
    let small = unique("sbsmall");
    swarm.create_service(
        &small,
        &image.tag,
        &["--replicas", "0", "--reserve-memory", "8388608"],
    );
    let text = plan_text(&host, &["none-wanted"], &format!("swarm/{small}"), 1);
    assert!(
        text.contains("1 would stay Pending (1 node drained or paused)"),
        "{text}"
    );
    // `scaleboard capacity` lists the node with its resources, its task's reservation and
    // its availability, and per service how many more tasks fit: none while it is drained.
    let hostname = image.daemon.sh(
        &[
            "docker",
            "node",
            "inspect",
            "self",
            "--format",
            "{{.Description.Hostname}}",
        ],
        None,
    );
    let text = capacity_text(&host, &["none-wanted"], false);
    let want = format!(
        "swarm node  {} (manager, ready, drained or paused): cpu ",
        hostname.trim()
    );
    assert!(text.contains(&want), "{want:?} missing from:\n{text}");
    assert!(
        text.contains(&format!(" of {} reserved", format_bytes(node_memory))),
        "{text}"
    );
    assert!(
        text.contains(&format!("(swarm)/service/{small}")) && text.contains("0 more fit"),
        "{text}"
    );
}

/// The re-check right before the write plans again on the engine as it is then: a container
/// of another project that starts meanwhile and reserves the room left turns "fits" into
/// "would over-commit". (Not fitting is a warning, as on Kubernetes: the write is not stopped
/// by it, the fresh plan says it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recheck_reads_the_engines_room_again() {
    use scaleboard::actions::recheck::{FreshView, Recheck, recheck};
    use scaleboard::actions::{Action, GuardLevel, PlanPolicy, plan};
    use scaleboard::connectors::Connector;
    use scaleboard::connectors::docker::DockerConnector;
    use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
    let image = Image::shared();
    let total = mem_total(&image.daemon);
    let each_mib = total * 2 / 5 / MIB;
    let yaml = format!(
        "version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n{STOP}    deploy:\n      \
         resources:\n        reservations:\n          memory: {each_mib}M\n"
    );
    let project = Project::up(&yaml);
    let connector = DockerConnector::new(&scaleboard::profiles::ComposeEndpoint {
        name: "docker".into(),
        docker_host: Some(project.daemon().host.clone()),
        projects: vec![project.name.clone()],
        docker_context: None,
    });
    let out = connector.poll().await.unwrap();
    let action = Action::ScaleWorkload {
        workload: WorkloadRef::new("docker", &project.name, WorkloadKind::ComposeService, "api"),
        replicas: 2,
    };
    let policy = PlanPolicy {
        profile: "cap".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let view = FreshView {
        endpoint: "docker",
        snapshot: &out.snapshot,
    };
    let planned = plan(action.clone(), &view, &policy);
    let fit = |p: &scaleboard::actions::Plan| {
        p.guards
            .iter()
            .find(|g| g.reason.starts_with("Fit of "))
            .cloned()
            .unwrap_or_else(|| panic!("no fit line: {:?}", p.guards))
    };
    assert_eq!(
        fit(&planned).level,
        GuardLevel::Pass,
        "{:?}",
        planned.guards
    );
    // Another project, not watched by this endpoint, takes the room meanwhile.
    let other = Project::up(&yaml);
    assert_eq!(other.running("api"), 1);
    let fresh = connector.read_fresh(&action).await.unwrap().unwrap();
    let (verdict, again) = recheck(&planned, &fresh, false);
    assert_eq!(verdict, Recheck::Unchanged);
    let now = fit(&again);
    assert_eq!(now.level, GuardLevel::Warn);
    assert!(
        now.reason.contains("none of 1 new replica fits in ")
            && now
                .reason
                .contains("2 running containers: 2 by their memory reservation"),
        "{}",
        now.reason
    );
}
