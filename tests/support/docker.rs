//! The real Docker engine of this machine, for connector tests: a tiny busybox image built
//! offline (there is no registry), Compose projects in temp dirs with unique names, a Swarm on
//! loopback — each behind a guard whose Drop removes what it created, even when a test fails.
//! A missing engine or tool fails the test with the exact error; nothing is skipped.

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

/// Run a command; panic with its output when it fails.
pub fn sh(argv: &[&str], cwd: Option<&Path>) -> String {
    let mut cmd = Process::new(argv[0]);
    cmd.args(&argv[1..]);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a command for cleanup: failures are printed, never panic (we may be unwinding).
pub fn quiet(argv: &[&str], cwd: Option<&Path>) {
    let mut cmd = Process::new(argv[0]);
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

/// `docker info` must work: otherwise fail with its exact error.
pub fn require_engine() {
    let out = Process::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .unwrap_or_else(|e| panic!("the docker CLI cannot be run: {e} (install docker.io)"));
    assert!(
        out.status.success(),
        "the Docker engine is not usable: `docker info` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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

/// The busybox test image; removed when the last test holding it lets go.
pub struct Image {
    pub tag: String,
}

impl Image {
    /// Built once per test binary (rebuilt only if every holder has dropped it).
    pub fn shared() -> Arc<Image> {
        static SHARED: Mutex<Weak<Image>> = Mutex::new(Weak::new());
        let mut slot = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(image) = slot.upgrade() {
            return image;
        }
        let image = Arc::new(Image::build());
        *slot = Arc::downgrade(&image);
        image
    }

    fn build() -> Image {
        require_engine();
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
        sh(
            &["docker", "build", "-q", "-t", &tag, "."],
            Some(dir.path()),
        );
        Image { tag }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        quiet(&["docker", "rmi", "-f", &self.tag], None);
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
        let mut argv = compose_argv();
        argv.extend(["-p", &project.name, "up", "-d"]);
        sh(&argv, Some(project.dir.path()));
        project
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
        sh(
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
        quiet(&argv, Some(self.dir.path()));
        // Belt and braces: whatever carries the project label goes too.
        let label = format!("label=com.docker.compose.project={}", self.name);
        let left = Process::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in left.split_whitespace() {
            quiet(&["docker", "rm", "-f", id], None);
        }
    }
}

/// A single-node Swarm on loopback; left (and its bridge removed) on drop.
pub struct Swarm {
    gwbridge_existed: bool,
    pub services: Vec<String>,
}

impl Swarm {
    pub fn init() -> Swarm {
        require_engine();
        let state = sh(
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
            None,
        );
        assert_eq!(
            state.trim(),
            "inactive",
            "this engine is already part of a Swarm; the test will not touch it"
        );
        let gwbridge_existed = Process::new("docker")
            .args(["network", "inspect", "docker_gwbridge"])
            .output()
            .is_ok_and(|o| o.status.success());
        let swarm = Swarm {
            gwbridge_existed,
            services: Vec::new(),
        };
        sh(
            &["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            None,
        );
        swarm
    }

    pub fn create_service(&mut self, name: &str, image: &str, extra: &[&str]) {
        self.services.push(name.to_string());
        let mut argv = vec!["docker", "service", "create", "-d", "--name", name];
        argv.extend(extra);
        argv.push(image);
        sh(&argv, None);
    }

    /// Tasks of a service whose container runs, counted by the engine.
    pub fn running_tasks(&self, service: &str) -> usize {
        let label = format!("label=com.docker.swarm.service.name={service}");
        sh(
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
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for s in &self.services {
            quiet(&["docker", "service", "rm", s], None);
        }
        // Wait for the tasks' containers to go, so the image they use can be removed after.
        for _ in 0..40 {
            let left = self.services.iter().any(|s| {
                let label = format!("label=com.docker.swarm.service.name={s}");
                Process::new("docker")
                    .args(["ps", "-aq", "--filter", &label])
                    .output()
                    .is_ok_and(|o| !o.stdout.is_empty())
            });
            if !left {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        quiet(&["docker", "swarm", "leave", "--force"], None);
        if !self.gwbridge_existed {
            // Task containers may still be going away; the bridge can be removed after them.
            for _ in 0..20 {
                let gone = Process::new("docker")
                    .args(["network", "rm", "docker_gwbridge"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                if gone {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

/// A profile with one Docker endpoint named `docker`.
pub fn profile(projects: &[&str], docker_host: Option<&str>) -> Profile {
    let mut p = Profile::named("docker-test");
    p.compose.push(ComposeEndpoint {
        name: "docker".into(),
        docker_host: docker_host.map(Into::into),
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
