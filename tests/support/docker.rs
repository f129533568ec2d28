//! A real Docker engine for connector tests — a private one, started by the tests (see
//! [`Daemon`]); the machine's own engine is never touched. On it: a tiny busybox image built
//! offline (there is no registry), Compose projects in temp dirs with unique names, a Swarm on
//! loopback — each behind a guard whose Drop removes what it created, even when a test fails.
//! A missing `dockerd` or tool fails the test with the exact error; nothing is skipped.

use scaleboard::actions::audit::AuditRecord;
use scaleboard::actions::{Action, ActionId, FleetView, Plan, PlanPolicy, plan};
use scaleboard::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::model::clock::SystemClock;
use scaleboard::model::snapshot::{DatabaseSnapshot, Snapshot, Workload, WorkloadRef};
use scaleboard::profiles::{ComposeEndpoint, Profile};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Where every private daemon lives: a short path, because a unix socket path must stay under
/// 108 bytes (the daemon's containerd socket sits a few levels below it).
const BASE: &str = "/tmp/sbd";

fn output_of(cmd: &mut Process, argv: &[&str]) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

fn check(argv: &[&str], out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{argv:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Docker engine of the test's own, started for this test process and stopped when the last
/// holder drops it (when the test ends, passed or failed: the guard is dropped while unwinding).
///
/// Why one daemon per test process: nextest runs every test in a process of its own, so a
/// process-wide daemon is a per-test daemon there, and it needs no cross-process reference
/// count or lock file that a killed process could leave behind. It starts in about a second.
/// Under plain `cargo test`, the tests of one binary share it while they run side by side.
///
/// What can still leak is what a SIGKILLed test process leaves: every daemon writes its owner
/// (pid and start time) into its dir, and the next daemon to start stops the daemons of dead
/// owners and removes what they left (processes, mounts, bridges, files). dockerd runs in the
/// test's process group, so nextest's time-out signals reach it too.
///
/// The daemon has its own config file (the machine's `/etc/docker/daemon.json` is not read),
/// data root, exec root, socket and pid file, no default bridge and no iptables rules. Every
/// command of these tests reaches it through `DOCKER_HOST`, never the machine's engine.
pub struct Daemon {
    pub dir: PathBuf,
    /// `unix:///tmp/sbd/…/docker.sock`, for `DOCKER_HOST` and the endpoint's `docker_host`.
    pub host: String,
    child: Mutex<Option<std::process::Child>>,
}

impl Daemon {
    /// This process's daemon, started on first use.
    pub fn shared() -> Arc<Daemon> {
        static SHARED: Mutex<Weak<Daemon>> = Mutex::new(Weak::new());
        let mut slot = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(daemon) = slot.upgrade() {
            return daemon;
        }
        let daemon = Arc::new(Daemon::start());
        *slot = Arc::downgrade(&daemon);
        daemon
    }

    fn start() -> Daemon {
        let base = Path::new(BASE);
        std::fs::create_dir_all(base).unwrap();
        reap_stale(base);
        let dir = base.join(unique(""));
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id();
        std::fs::write(
            dir.join("owner"),
            format!("{me} {}", start_time(me).unwrap_or_default()),
        )
        .unwrap();
        std::fs::write(dir.join("daemon.json"), "{}\n").unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let socket = dir.join("docker.sock");
        // Its own address pool, so two daemons starting at once do not pick the same subnet
        // (each daemon avoids the routes it sees, not the ones another is about to add).
        let pool = format!("base=10.{}.0.0/16,size=24", 200 + me % 50);
        let mut cmd = Process::new("dockerd");
        cmd.arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--default-address-pool",
                &pool,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start a private Docker daemon: `dockerd` could not be run ({e}); \
                 install docker.io (tests never use the machine's own engine)"
            )
        });
        let daemon = Daemon {
            host: format!("unix://{}", socket.display()),
            dir,
            child: Mutex::new(Some(child)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = daemon
                .cmd("docker")
                .args(["info", "--format", "{{.ServerVersion}}"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                break;
            }
            let exited = daemon
                .child
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(daemon.dir.join("dockerd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "the private Docker daemon did not come up ({}):\n{}",
                    exited.map_or("no answer in 60 s".to_string(), |s| s.to_string()),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    /// A command whose Docker calls reach this daemon and nothing else.
    pub fn cmd(&self, program: &str) -> Process {
        let mut cmd = Process::new(program);
        cmd.env("DOCKER_HOST", &self.host)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        cmd
    }

    /// Run `argv` against this daemon; panic with its output when it fails.
    pub fn sh(&self, argv: &[&str], cwd: Option<&Path>) -> String {
        let mut cmd = self.cmd(argv[0]);
        cmd.args(&argv[1..]);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        check(argv, &output_of(&mut cmd, argv))
    }

    /// For cleanup: failures are printed, never panic (we may be unwinding).
    pub fn quiet(&self, argv: &[&str], cwd: Option<&Path>) {
        let mut cmd = self.cmd(argv[0]);
        cmd.args(&argv[1..]);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        match cmd.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "cleanup {argv:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("cleanup {argv:?}: {e}"),
        }
    }

    fn stdout(&self, argv: &[&str]) -> String {
        let mut cmd = self.cmd(argv[0]);
        cmd.args(&argv[1..]);
        cmd.output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Note the host-side bridge interfaces of this daemon's networks, so they can be removed
    /// even if the daemon dies before it removes them itself.
    pub fn record_bridges(&self) {
        let mut names = Vec::new();
        for id in self
            .stdout(&[
                "docker",
                "network",
                "ls",
                "-q",
                "--no-trunc",
                "--filter",
                "driver=bridge",
            ])
            .split_whitespace()
        {
            let named = self.stdout(&[
                "docker",
                "network",
                "inspect",
                "--format",
                "{{index .Options \"com.docker.network.bridge.name\"}}",
                id,
            ]);
            let named = named.trim();
            names.push(if named.is_empty() || named == "<no value>" {
                format!("br-{}", &id[..12.min(id.len())])
            } else {
                named.to_string()
            });
        }
        record_bridge_names(&self.dir, &names);
    }
}

/// Appends to the daemon dir's `bridges` file. Never panics: it also runs from Drop, maybe
/// while unwinding, where a second panic would abort before the daemon is stopped.
fn record_bridge_names(dir: &Path, names: &[String]) {
    use std::io::Write;
    if names.is_empty() {
        return;
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("bridges"))
        .and_then(|mut file| names.iter().try_for_each(|n| writeln!(file, "{n}")));
    if let Err(e) = written {
        eprintln!("cannot note bridges in {}: {e}", dir.display());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Everything it runs goes first, and its networks, so no bridge stays on the host.
        let state = self.stdout(&["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state.trim() != "inactive" {
            self.quiet(&["docker", "swarm", "leave", "--force"], None);
        }
        let ids = self.stdout(&["docker", "ps", "-aq"]);
        if !ids.trim().is_empty() {
            let mut argv = vec!["docker", "rm", "-f"];
            argv.extend(ids.split_whitespace());
            self.quiet(&argv, None);
        }
        self.record_bridges();
        self.quiet(&["docker", "network", "prune", "-f"], None);
        let gw = self.stdout(&[
            "docker",
            "network",
            "ls",
            "-q",
            "--filter",
            "name=docker_gwbridge",
        ]);
        if !gw.trim().is_empty() {
            self.quiet(&["docker", "network", "rm", "docker_gwbridge"], None);
        }
        if let Some(mut child) = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            stop(child.id(), Some(&mut child));
        }
        clean_dir(&self.dir);
    }
}

/// TERM, wait up to 30 s for a clean shutdown (it unmounts and stops its containerd), then KILL.
fn stop(pid: u32, child: Option<&mut std::process::Child>) {
    let pid_s = pid.to_string();
    let _ = Process::new("kill").args(["-TERM", &pid_s]).output();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut child = child;
    loop {
        let gone = match child.as_deref_mut() {
            Some(c) => c.try_wait().map_or(true, |s| s.is_some()),
            None => !Path::new(&format!("/proc/{pid}")).exists(),
        };
        if gone {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("dockerd {pid} did not stop in 30 s: killed");
            let _ = Process::new("kill").args(["-KILL", &pid_s]).output();
            if let Some(c) = child {
                let _ = c.wait();
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes what a daemon dir holds, after its daemon stopped: processes still naming the dir
/// (its containerd, container shims), mounts below it, the bridges it created, the files.
fn clean_dir(dir: &Path) {
    let needle = format!("{}/", dir.display());
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for entry in procs.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if pid != std::process::id() && cmdline.contains(&needle) {
                eprintln!(
                    "removing a leftover process of {}: {cmdline}",
                    dir.display()
                );
                let _ = Process::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .output();
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&needle))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Process::new("umount").args(["-l", point]).output();
    }
    let bridges = std::fs::read_to_string(dir.join("bridges")).unwrap_or_default();
    let mut bridges: Vec<&str> = bridges.lines().filter(|l| !l.is_empty()).collect();
    bridges.sort_unstable();
    bridges.dedup();
    for bridge in bridges {
        if Path::new("/sys/class/net").join(bridge).exists() {
            let _ = Process::new("ip").args(["link", "delete", bridge]).output();
        }
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("cannot remove {}: {e}", dir.display());
    }
}

/// A process's start time (field 22 of /proc/PID/stat), to tell it from a later one that got
/// the same pid.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(19).map(String::from)
}

/// Stops the daemons of test processes that died without stopping them (SIGKILL, a crash) and
/// removes what they left.
fn reap_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let owner = std::fs::read_to_string(dir.join("owner")).unwrap_or_default();
        let mut parts = owner.split_whitespace();
        let alive = match (
            parts.next().and_then(|p| p.parse::<u32>().ok()),
            parts.next(),
        ) {
            (Some(pid), Some(started)) => start_time(pid).as_deref() == Some(started),
            // Written right after the dir is made: missing only for a moment, or for a
            // process that died in that moment.
            _ => entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(60)),
        };
        if alive {
            continue;
        }
        eprintln!(
            "stopping the private Docker daemon a dead test left in {}",
            dir.display()
        );
        let pid = std::fs::read_to_string(dir.join("docker.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&dir.display().to_string()) {
                stop(pid, None);
            }
        }
        clean_dir(&dir);
    }
}

/// Which compose the machine has, as argv prefix: `docker compose` first, else `docker-compose`.
pub fn compose_argv() -> Vec<&'static str> {
    let v2 = Process::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if v2 {
        return vec!["docker", "compose"];
    }
    let v1 = Process::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        v1,
        "neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)"
    );
    vec!["docker-compose"]
}

/// A unique, compose-safe name: prefix, process id, counter.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The busybox test image, built on the private daemon.
pub struct Image {
    pub tag: String,
    pub daemon: Arc<Daemon>,
}

impl Image {
    /// Built once per daemon (rebuilt only if every holder has dropped it).
    pub fn shared() -> Arc<Image> {
        static SHARED: Mutex<Weak<Image>> = Mutex::new(Weak::new());
        let mut slot = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(image) = slot.upgrade() {
            return image;
        }
        let image = Arc::new(Image::build(Daemon::shared()));
        *slot = Arc::downgrade(&image);
        image
    }

    fn build(daemon: Arc<Daemon>) -> Image {
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "/bin/busybox is missing: apt-get install busybox-static"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(busybox, dir.path().join("busybox")).unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\n\
             CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\"]\n",
        )
        .unwrap();
        let tag = format!("{}:test", unique("sb-busybox-"));
        daemon.sh(
            &["docker", "build", "-q", "-t", &tag, "."],
            Some(dir.path()),
        );
        Image { tag, daemon }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        self.daemon.quiet(&["docker", "rmi", "-f", &self.tag], None);
    }
}

/// A Compose project in a temp dir; `down` on drop.
pub struct Project {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub image: Arc<Image>,
}

impl Project {
    /// Write `docker-compose.yml` (with `IMAGE` replaced by the test image) and `up -d` it.
    pub fn up(yaml: &str) -> Project {
        let image = Image::shared();
        let project = Project {
            name: unique("sbtest"),
            dir: tempfile::tempdir().unwrap(),
            image,
        };
        project.write(yaml);
        project.compose(&["up", "-d"]);
        project.daemon().record_bridges();
        project
    }

    pub fn daemon(&self) -> &Daemon {
        &self.image.daemon
    }

    /// Run this machine's compose on the project, in its dir, against the private daemon: what
    /// a second operator's shell would do.
    pub fn compose(&self, args: &[&str]) -> String {
        let mut argv = compose_argv();
        argv.extend(["-p", &self.name]);
        argv.extend(args);
        self.daemon().sh(&argv, Some(self.dir.path()))
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.yml")
    }

    pub fn write(&self, yaml: &str) {
        std::fs::write(self.file(), yaml.replace("IMAGE", &self.image.tag)).unwrap();
    }

    /// Running containers of a service, counted by the engine itself.
    pub fn running(&self, service: &str) -> usize {
        let project = format!("label=com.docker.compose.project={}", self.name);
        let service = format!("label=com.docker.compose.service={service}");
        self.daemon()
            .sh(
                &[
                    "docker",
                    "ps",
                    "-q",
                    "--filter",
                    &project,
                    "--filter",
                    &service,
                    "--filter",
                    "status=running",
                ],
                None,
            )
            .split_whitespace()
            .count()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let mut argv = compose_argv();
        argv.extend([
            "-p",
            &self.name,
            "down",
            "-v",
            "--remove-orphans",
            "-t",
            "1",
        ]);
        self.daemon().quiet(&argv, Some(self.dir.path()));
        // Belt and braces: whatever carries the project label goes too.
        let label = format!("label=com.docker.compose.project={}", self.name);
        let left = self
            .daemon()
            .stdout(&["docker", "ps", "-aq", "--filter", &label]);
        for id in left.split_whitespace() {
            self.daemon().quiet(&["docker", "rm", "-f", id], None);
        }
    }
}

/// A single-node Swarm on loopback, on the private daemon only; left on drop.
///
/// Its `docker_gwbridge` is created first with a bridge interface name of its own (the default
/// name is the same for every engine on the machine), it listens on a free loopback port, and
/// its VXLAN data path uses a free port. Swarm's gossip port (7946) cannot be chosen, so Swarms
/// are taken one at a time across test processes, under a file lock (released by the kernel
/// when a process dies).
pub struct Swarm {
    pub daemon: Arc<Daemon>,
    pub services: Vec<String>,
    bridge: String,
    _lock: std::fs::File,
}

impl Swarm {
    pub fn init(daemon: Arc<Daemon>) -> Swarm {
        std::fs::create_dir_all(BASE).unwrap();
        let lock = std::fs::File::create(Path::new(BASE).join("swarm.lock")).unwrap();
        lock.lock().unwrap();
        let state = daemon.sh(
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
            None,
        );
        assert_eq!(
            state.trim(),
            "inactive",
            "the private daemon is already part of a Swarm"
        );
        let bridge = unique("sbgw");
        assert!(bridge.len() <= 15, "interface name too long: {bridge}");
        record_bridge_names(&daemon.dir, std::slice::from_ref(&bridge));
        daemon.sh(
            &[
                "docker",
                "network",
                "create",
                "--driver",
                "bridge",
                "--opt",
                &format!("com.docker.network.bridge.name={bridge}"),
                "--opt",
                "com.docker.network.bridge.enable_icc=false",
                "--opt",
                "com.docker.network.bridge.enable_ip_masquerade=true",
                "docker_gwbridge",
            ],
            None,
        );
        let swarm = Swarm {
            daemon,
            services: Vec::new(),
            bridge,
            _lock: lock,
        };
        let listen = format!("127.0.0.1:{}", free_port());
        let data_port = free_port().to_string();
        swarm.daemon.sh(
            &[
                "docker",
                "swarm",
                "init",
                "--advertise-addr",
                &listen,
                "--listen-addr",
                &listen,
                "--data-path-port",
                &data_port,
            ],
            None,
        );
        swarm
    }

    pub fn create_service(&mut self, name: &str, image: &str, extra: &[&str]) {
        self.services.push(name.to_string());
        let mut argv = vec!["docker", "service", "create", "-d", "--name", name];
        argv.extend(extra);
        argv.push(image);
        self.daemon.sh(&argv, None);
    }

    /// Tasks of a service whose container runs, counted by the engine.
    pub fn running_tasks(&self, service: &str) -> usize {
        let label = format!("label=com.docker.swarm.service.name={service}");
        self.daemon
            .sh(
                &[
                    "docker",
                    "ps",
                    "-q",
                    "--filter",
                    &label,
                    "--filter",
                    "status=running",
                ],
                None,
            )
            .split_whitespace()
            .count()
    }

    /// The replica count in the service's spec, as the engine has it.
    pub fn desired(&self, service: &str) -> u32 {
        self.daemon
            .sh(
                &[
                    "docker",
                    "service",
                    "inspect",
                    "--format",
                    "{{.Spec.Mode.Replicated.Replicas}}",
                    service,
                ],
                None,
            )
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for s in &self.services {
            self.daemon.quiet(&["docker", "service", "rm", s], None);
        }
        // Wait for the tasks' containers to go, so the image they use can be removed after.
        for _ in 0..40 {
            let left = self.services.iter().any(|s| {
                let label = format!("label=com.docker.swarm.service.name={s}");
                !self
                    .daemon
                    .stdout(&["docker", "ps", "-aq", "--filter", &label])
                    .trim()
                    .is_empty()
            });
            if !left {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        self.daemon
            .quiet(&["docker", "swarm", "leave", "--force"], None);
        // Task containers may still be going away; the bridge can be removed after them.
        for _ in 0..20 {
            let gone = self
                .daemon
                .cmd("docker")
                .args(["network", "rm", "docker_gwbridge"])
                .output()
                .is_ok_and(|o| o.status.success());
            if gone || !Path::new("/sys/class/net").join(&self.bridge).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A profile with one Docker endpoint named `docker` on the engine at `docker_host` (the
/// private daemon's `host`: never left to the environment, so no test reaches the machine's
/// engine).
pub fn profile(projects: &[&str], docker_host: &str) -> Profile {
    let mut p = Profile::named("docker-test");
    p.compose.push(ComposeEndpoint {
        name: "docker".into(),
        docker_host: Some(docker_host.into()),
        projects: projects.iter().map(ToString::to_string).collect(),
        docker_context: None,
    });
    p
}

#[derive(Default)]
pub struct View {
    pub snapshots: HashMap<String, Snapshot>,
}

impl FleetView for View {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.snapshots.values().find_map(|s| match s {
            Snapshot::Workloads(list) => list.iter().find(|w| &w.id == id),
            _ => None,
        })
    }
    fn database(&self, _: &str) -> Option<&DatabaseSnapshot> {
        None
    }
}

/// The real engine pipeline (system clock) connected to a profile.
pub struct Rig {
    pub engine: EngineHandle,
    pub view: View,
    pub dir: tempfile::TempDir,
    next_id: u64,
}

impl Rig {
    pub fn start(profile: Profile, grace: Duration) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(
            Arc::new(SystemClock),
            dir.path().join("config"),
            dir.path().join("data"),
        );
        config.grace = grace;
        config.verify_timeout = Duration::from_secs(90);
        let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
        engine
            .send(Command::Connect(Box::new(ConnectRequest {
                profile,
                demo_seed: 1,
            })))
            .unwrap();
        Rig {
            engine,
            view: View::default(),
            dir,
            next_id: 0,
        }
    }

    /// Apply events until `cond` holds on the view or the event; panics after `secs`.
    pub fn until(&mut self, what: &str, secs: u64, cond: impl Fn(&View, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            if let Event::Snapshot {
                endpoint, snapshot, ..
            } = &event
            {
                self.view
                    .snapshots
                    .insert(endpoint.clone(), snapshot.clone());
            }
            if cond(&self.view, &event) {
                return event;
            }
        }
    }

    /// Wait until the workload is in a snapshot and `cond` holds for it; returns a copy.
    pub fn workload_until(
        &mut self,
        id: &WorkloadRef,
        what: &str,
        cond: impl Fn(&Workload) -> bool,
    ) -> Workload {
        self.until(what, 60, |v, _| v.workload(id).is_some_and(&cond));
        self.view.workload(id).cloned().unwrap()
    }

    pub fn plan(&self, action: Action) -> Plan {
        let policy = PlanPolicy {
            profile: "docker-test".into(),
            read_only: false,
            max_failover_lag_bytes: 1 << 20,
            kube_context: None,
            patroni_links: Vec::new(),
        };
        plan(action, &self.view, &policy)
    }

    /// Send a plan to the engine; returns its id.
    pub fn send(&mut self, plan: Plan, forced: bool) -> ActionId {
        self.next_id += 1;
        let id = ActionId(self.next_id);
        self.engine
            .send(Command::Execute {
                id,
                plan: Box::new(plan),
                forced,
            })
            .unwrap();
        id
    }

    pub fn finished(&mut self, id: ActionId) -> AuditRecord {
        match self.until(
            "action finished",
            180,
            |_, e| matches!(e, Event::ActionFinished { id: got, .. } if *got == id),
        ) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        }
    }

    /// Every record of the rig's audit log, as read back from the file.
    pub fn audit(&self) -> Vec<AuditRecord> {
        let log = scaleboard::actions::audit::AuditLog::new(&self.dir.path().join("data"));
        let read = log.read_all().unwrap();
        assert_eq!(read.damage.lines, 0, "{}", log.path().display());
        read.records
    }

    /// Plan, execute and wait for the audit record.
    pub fn run(&mut self, action: Action) -> (Plan, AuditRecord) {
        let plan = self.plan(action);
        let id = self.send(plan.clone(), false);
        (plan, self.finished(id))
    }
}

/// A free TCP port on loopback (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
