//! Consoles for the team-mode tests: an engine on the demo fleet with a manual clock and a
//! profile whose `[profile.team]` points at a real PostgreSQL (tests/support/postgres.rs).
#![allow(dead_code, clippy::unwrap_used)]

use crate::support::postgres::{BIN, PgCluster};
use scaleboard::actions::audit::{AuditOutcome, AuditRecord};
use scaleboard::actions::{Action, ActionId, FleetView, PlanPolicy, plan};
use scaleboard::engine::{
    ActionStage, Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event,
};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::{
    DatabaseSnapshot, Snapshot, Workload, WorkloadKind, WorkloadRef,
};
use scaleboard::profiles::{Profile, TeamStoreSettings};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const START: i64 = 1_793_628_000_000;
/// A role that may only read and append (the GRANTs `team init --print-sql` prints).
pub const OPERATOR: &str = "operator";

#[derive(Default)]
pub struct View {
    pub snapshots: HashMap<String, Snapshot>,
    pub statuses: HashMap<String, ConnStatus>,
    /// What the team feed said other consoles are changing (as the window keeps it).
    pub in_progress: HashMap<String, String>,
}

impl FleetView for View {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.snapshots.values().find_map(|s| match s {
            Snapshot::Workloads(list) => list.iter().find(|w| &w.id == id),
            _ => None,
        })
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Databases(db)) => Some(db),
            _ => None,
        }
    }
    fn in_progress(&self, action: &Action) -> Option<String> {
        self.in_progress.get(&action.lock_identity()).cloned()
    }
}

/// The demo profile with a team store.
pub fn team_profile(dsn: &str, require: bool) -> Profile {
    let mut p = Profile::demo_default();
    p.name = "ops".into();
    p.team = Some(TeamStoreSettings {
        dsn: dsn.into(),
        require,
        ..TeamStoreSettings::default()
    });
    p
}

/// A DSN for `user` on the cluster's primary (trust authentication in the test cluster).
pub fn dsn(pg: &PgCluster, user: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user={user} dbname=postgres sslmode=disable",
        pg.primary.port
    )
}

/// Creates the schema as the superuser with the SQL `team init --print-sql` prints (with the
/// GRANTs for [`OPERATOR`]), the way a DBA would.
pub fn init_as_dba(pg: &PgCluster, sql: &str) {
    pg.psql(
        pg.primary.port,
        &format!("CREATE ROLE {OPERATOR} LOGIN PASSWORD 'op-pass'"),
    );
    let file = pg.dir.path().join("team-init.sql");
    std::fs::write(&file, sql).unwrap();
    let out = std::process::Command::new(format!("{BIN}/psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
        .args([
            "-p",
            &pg.primary.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-f",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The store as a DBA sets it up (`team init --print-sql` with its GRANTs), and a DSN for the
/// INSERT/SELECT-only operator role that every console then uses: whatever a test does with
/// it (lock, take over, feed, history) is proven to need no more than those rights.
pub fn operator_store(pg: &PgCluster) -> String {
    init_as_dba(pg, &scaleboard::team::migrations::script("scaleboard"));
    pg.psql(
        pg.primary.port,
        &scaleboard::team::migrations::grants("scaleboard", OPERATOR),
    );
    dsn(pg, OPERATOR)
}

/// psql as `user`; Err with the server's message when it refuses.
pub fn psql_as(pg: &PgCluster, user: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new(format!("{BIN}/psql"))
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
        ])
        .args([
            "-p",
            &pg.primary.port.to_string(),
            "-U",
            user,
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

pub struct Console {
    pub engine: EngineHandle,
    pub clock: Arc<ManualClock>,
    pub view: View,
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    next_id: u64,
}

pub fn console(profile: Profile) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let data_dir = dir.path().join("data");
    let mut config = EngineConfig::new(clock.clone(), dir.path().join("config"), data_dir.clone());
    config.grace = Duration::ZERO;
    config.verify_timeout = Duration::from_secs(60);
    let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    engine
        .send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 11,
        })))
        .unwrap();
    let mut c = Console {
        engine,
        clock,
        view: View::default(),
        dir,
        data_dir,
        next_id: 1,
    };
    c.until("every demo endpoint ok", |v, _| {
        v.statuses
            .values()
            .filter(|s| **s == ConnStatus::Ok)
            .count()
            == 9
    });
    c
}

impl Console {
    /// Applies events until `cond` holds, moving the manual clock while nothing happens.
    pub fn until(&mut self, what: &str, cond: impl Fn(&View, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(50)) else {
                self.clock.advance(Duration::from_secs(1));
                continue;
            };
            match &event {
                Event::Snapshot {
                    endpoint, snapshot, ..
                } => {
                    self.view
                        .snapshots
                        .insert(endpoint.clone(), snapshot.clone());
                }
                Event::Status {
                    endpoint, status, ..
                } => {
                    self.view.statuses.insert(endpoint.clone(), *status);
                }
                Event::InProgressElsewhere(targets) => {
                    self.view.in_progress = targets.iter().cloned().collect();
                }
                _ => {}
            }
            if cond(&self.view, &event) {
                return event;
            }
        }
    }

    /// Plans `action` on what this console sees and sends it; returns its id.
    pub fn plan(&self, action: Action) -> scaleboard::actions::Plan {
        plan(action, &self.view, &policy())
    }

    pub fn start(&mut self, action: Action) -> ActionId {
        let plan = self.plan(action);
        self.execute(plan)
    }

    /// Sends a plan made earlier (confirmed as it is); returns its id.
    pub fn execute(&mut self, plan: scaleboard::actions::Plan) -> ActionId {
        let id = ActionId(self.next_id);
        self.next_id += 1;
        self.engine
            .send(Command::Execute {
                id,
                plan: Box::new(plan),
                forced: false,
            })
            .unwrap();
        id
    }

    /// Plans `action` and sends it taking over the change lock with `reason` (citing the
    /// advisor's `advice` if it came from one); its record.
    pub fn take_over(&mut self, action: Action, reason: &str, advice: Option<&str>) -> AuditRecord {
        let plan = plan(action, &self.view, &policy());
        let id = ActionId(self.next_id);
        self.next_id += 1;
        self.engine
            .send(Command::ExecuteTakingOver {
                id,
                plan: Box::new(plan),
                reason: reason.into(),
                advice: advice.map(Into::into),
            })
            .unwrap();
        self.finished(id)
    }

    /// Waits for the action to reach a stage that holds the change lock (executing or verifying).
    pub fn until_running(&mut self, id: ActionId) {
        self.until("the action executing", |_, e| {
            matches!(e, Event::ActionProgress { id: i, stage: ActionStage::Verifying { .. } } if *i == id)
        });
    }

    pub fn finished(&mut self, id: ActionId) -> AuditRecord {
        match self.until(
            "the action's outcome",
            |_, e| matches!(e, Event::ActionFinished { id: i, .. } if *i == id),
        ) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        }
    }

    pub fn run(&mut self, action: Action) -> AuditRecord {
        let id = self.start(action);
        self.finished(id)
    }

    pub fn replicas(&self, w: &WorkloadRef) -> u32 {
        self.view.workload(w).unwrap().desired
    }

    pub fn local_log(&self) -> Vec<AuditRecord> {
        scaleboard::actions::audit::AuditLog::new(&self.data_dir)
            .read_all()
            .unwrap()
            .records
    }
}

pub fn policy() -> PlanPolicy {
    PlanPolicy {
        profile: "ops".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    }
}

pub fn api() -> WorkloadRef {
    WorkloadRef {
        endpoint: "demo-prod".into(),
        scope: "nexus".into(),
        name: "api-gateway".into(),
        kind: WorkloadKind::Deployment,
    }
}

/// The demo's Compose service `api` (project demo-staging), as this console sees it.
pub fn compose_api(view: &View) -> WorkloadRef {
    view.snapshots
        .values()
        .find_map(|s| match s {
            Snapshot::Workloads(list) => list
                .iter()
                .find(|w| w.id.kind == WorkloadKind::ComposeService && w.id.name == "api"),
            _ => None,
        })
        .map(|w| w.id.clone())
        .expect("the demo's Compose service api")
}

pub fn scale_api(replicas: u32) -> Action {
    Action::ScaleWorkload {
        workload: api(),
        replicas,
    }
}

pub fn outcomes(records: &[AuditRecord]) -> Vec<AuditOutcome> {
    records.iter().map(|r| r.outcome).collect()
}

/// The `scaleboard` binary on a demo profile "ops" with a team store at `pg` (as the superuser,
/// or as [`CliConsole::as_user`]), in its own config dir: a console in another process, for locks held by a process that can be
/// killed. Keep the returned dir alive as long as the commands run.
pub struct CliConsole {
    pub dir: tempfile::TempDir,
}

impl CliConsole {
    pub fn new(pg: &PgCluster) -> Self {
        Self::as_user(pg, "postgres")
    }

    pub fn as_user(pg: &PgCluster, user: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("profiles.toml"),
            format!(
                "[[profile]]\nname = \"ops\"\ndemo = true\n\n[profile.team]\ndsn = \"{}\"\n",
                dsn(pg, user)
            ),
        )
        .unwrap();
        Self { dir }
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"));
        c.env("SCALEBOARD_CONFIG_DIR", self.dir.path().join("config"))
            .env("SCALEBOARD_KEYRING", "off")
            .env_remove("SCALEBOARD_DATA_DIR")
            .args(["--profile", "ops"])
            .args(args);
        c
    }
}
