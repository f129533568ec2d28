//! The eframe application: state, event intake (`logic`) and the frame's layout (`ui`).

pub mod about;
mod actions;
mod advisor_state;
mod audit_state;
mod cost_state;
mod discard;
mod fleet;
mod logic;
mod notifications;
pub mod overview;
pub mod sample_intake;
mod team_audit_state;
mod view;

pub use actions::{
    ActionsState, AutoscaleForm, CloseChoice, ConfirmDialog, LbChoice, ProjectScaleForm,
    RunningAction, ScaleForm,
};
pub use advisor_state::{AdvisorState, Parked};
pub use audit_state::{AuditState, PAGE_ROWS as AUDIT_PAGE_ROWS};
pub use cost_state::{CostState, live_inventory};
pub use fleet::{EndpointState, FleetState};
pub use notifications::{Level, Notification, Notifications};
pub use team_audit_state::{AuditSource, TEAM_PAGE_ROWS, TeamAuditState, outcome_key};
pub use view::{PanelId, TimeRange, ViewState};

use crate::actions::{Action, PlanPolicy, plan};
use crate::engine::files::FileJob;
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle};
use crate::metrics::MetricStore;
use crate::model::clock::Clock;
use crate::profiles::{KeyringStatus, LoadIssues, Profile, ProfileFileError, ProfileStore};
use crate::ui::charts::ChartCache;
use std::sync::{Arc, OnceLock};

/// How the app starts: which dirs, which clock, which profile.
pub struct AppOptions {
    pub engine: EngineConfig,
    pub demo_seed: u64,
    /// `--profile NAME`; otherwise the last used profile, otherwise the demo.
    pub profile: Option<String>,
    /// `--demo`: ignore saved profiles for this run.
    pub force_demo: bool,
    /// Process start, to report the time to the first frame (`SCALEBOARD_TRACE_STARTUP=1`).
    pub started: Option<std::time::Instant>,
}

pub struct ProfilesState {
    pub list: Vec<Profile>,
    pub damaged: Option<ProfileFileError>,
    /// Profiles refused on load, with line and column: listed, never connected.
    pub issues: LoadIssues,
    pub active: Profile,
    pub keyring: Option<KeyringStatus>,
    /// The profile being edited and its name before the edit (None = new profile).
    pub editor: Option<(Option<String>, Profile)>,
    pub secret_input: String,
    /// Last "test connection" outcome per endpoint, shown beside its button.
    pub test_results: std::collections::HashMap<(crate::profiles::EndpointKind, String), String>,
    /// Contexts read from a kubeconfig for the editor's picker, per kubeconfig path.
    pub kube_contexts: crate::connectors::kubernetes::ContextsByKubeconfig,
}

pub struct ScaleboardApp {
    engine: EngineHandle,
    /// The About window: version, licence, where this run keeps its files.
    pub about: about::About,
    repaint_ctx: Arc<OnceLock<egui::Context>>,
    pub clock: Arc<dyn Clock>,
    pub demo_seed: u64,
    pub fleet: FleetState,
    pub store: MetricStore,
    /// Samples received and not yet in `store` (a large fleet's poll lands over a few frames).
    pub sample_intake: sample_intake::SampleIntake,
    /// Replaced snapshots are dropped off the UI thread.
    discard: discard::Discard,
    /// Events handed in by [`Self::inject_event`] (benches), taken before the engine's.
    injected: std::collections::VecDeque<crate::engine::Event>,
    pub view: ViewState,
    pub actions: ActionsState,
    pub notifications: Notifications,
    pub audit: AuditState,
    pub profiles: ProfilesState,
    pub cost: CostState,
    pub charts: ChartCache,
    /// The scaling advisor: rules, alerts and proposals.
    pub advisor: AdvisorState,
    /// The Overview's totals and ranked workloads, recomputed when the fleet changes.
    pub overview: overview::OverviewCache,
    /// The Clusters panel's sums and node order, recomputed when a capacity view changes.
    pub clusters: crate::ui::clusters_summary::ClustersCache,
    pub selected_workload: Option<crate::model::snapshot::WorkloadRef>,
    pub selected_server: Option<String>,
    pub selected_queue: Option<String>,
    pub selected_check: Option<String>,
    pub workload_filter: String,
    pub workload_sort: crate::ui::workloads_table::WorkloadSort,
    /// The Workloads table's rows in order, made again only when they can have changed.
    pub workload_order: crate::ui::workloads_table::RowOrder,
    /// The keyring entry the secret prompt is asking for.
    pub profiles_secret_target: Option<crate::profiles::SecretRef>,
    last_prune_ms: i64,
    started: Option<std::time::Instant>,
    frames: FrameCounter,
    /// Newest poll time of the workload endpoints whose fleet totals are in the store.
    totals_at: i64,
    /// The watched workloads whose series the fleet was last searched for, and the fleet's
    /// generation then: a search of 10,000 rows is not made again for the same answer.
    watched_filled_for: Option<(u64, Vec<crate::model::snapshot::WorkloadRef>)>,
}

/// `SCALEBOARD_TRACE_FRAMES=1`: print the frames drawn per 10 s (for the idle-cost figures in
/// BENCHMARKS.md).
struct FrameCounter {
    enabled: bool,
    since: std::time::Instant,
    frames: u32,
}

impl Default for FrameCounter {
    fn default() -> Self {
        Self {
            enabled: std::env::var_os("SCALEBOARD_TRACE_FRAMES").is_some(),
            since: std::time::Instant::now(),
            frames: 0,
        }
    }
}

impl FrameCounter {
    fn count(&mut self) {
        if !self.enabled {
            return;
        }
        self.frames += 1;
        let elapsed = self.since.elapsed();
        if elapsed >= std::time::Duration::from_secs(10) {
            eprintln!(
                "frames: {} in {:.1} s ({:.2}/s)",
                self.frames,
                elapsed.as_secs_f64(),
                f64::from(self.frames) / elapsed.as_secs_f64()
            );
            self.frames = 0;
            self.since = std::time::Instant::now();
        }
    }
}

impl ScaleboardApp {
    /// Starts the engine and connects the starting profile. `store` was loaded before the window
    /// opened (the only file read the UI thread waits for).
    pub fn new(options: AppOptions, store: &ProfileStore) -> std::io::Result<Self> {
        let repaint_ctx: Arc<OnceLock<egui::Context>> = Arc::new(OnceLock::new());
        let cell = Arc::clone(&repaint_ctx);
        let repaint = Arc::new(move || {
            if let Some(ctx) = cell.get() {
                ctx.request_repaint();
            }
        });
        // Poll results are drawn with the next 1 s clock frame (egui keeps the earliest
        // requested repaint), so they never add frames of their own.
        let cell = Arc::clone(&repaint_ctx);
        let routine: crate::engine::Repaint = Arc::new(move || {
            if let Some(ctx) = cell.get() {
                ctx.request_repaint_after(crate::engine::DATA_REPAINT_PERIOD);
            }
        });
        let clock = Arc::clone(&options.engine.clock);
        let export_dir = options.engine.data_dir.clone();
        let about = about::About::new(&options.engine.config_dir, &options.engine.data_dir);
        let engine = EngineHandle::start_with_routine_wake(options.engine, repaint, Some(routine))?;
        let chosen = if options.force_demo {
            None
        } else {
            options
                .profile
                .as_deref()
                .and_then(|name| store.get(name))
                .or_else(|| store.last_used_profile())
                .cloned()
        };
        let mut app = Self {
            engine,
            about,
            repaint_ctx,
            clock,
            demo_seed: options.demo_seed,
            fleet: FleetState::default(),
            store: MetricStore::default(),
            sample_intake: sample_intake::SampleIntake::default(),
            discard: discard::Discard::new(),
            injected: std::collections::VecDeque::new(),
            view: ViewState::default(),
            actions: ActionsState::default(),
            notifications: Notifications::default(),
            audit: AuditState {
                export_path: export_dir.join("audit-export.csv").display().to_string(),
                ..AuditState::default()
            },
            profiles: ProfilesState {
                list: store.profiles().to_vec(),
                damaged: store.damaged().cloned(),
                issues: store.issues().clone(),
                active: chosen.clone().unwrap_or_else(Profile::demo_default),
                keyring: None,
                editor: None,
                secret_input: String::new(),
                test_results: std::collections::HashMap::new(),
                kube_contexts: std::collections::HashMap::new(),
            },
            cost: CostState::new(&export_dir),
            charts: ChartCache::default(),
            advisor: AdvisorState::default(),
            overview: overview::OverviewCache::default(),
            clusters: Default::default(),
            selected_workload: None,
            selected_server: None,
            selected_queue: None,
            selected_check: None,
            workload_filter: String::new(),
            workload_sort: Default::default(),
            workload_order: Default::default(),
            profiles_secret_target: None,
            last_prune_ms: 0,
            started: options.started,
            frames: FrameCounter::default(),
            totals_at: 0,
            watched_filled_for: None,
        };
        if let Some(damaged) = store.damaged() {
            let now = app.clock.now_ms();
            app.notifications.push(
                now,
                Level::Error,
                format!("The profile file is damaged and was left untouched: {damaged}. The demo fleet is open."),
            );
        }
        // A profile with errors is never connected: say which and why instead.
        let wanted = if options.force_demo {
            None
        } else {
            options.profile.as_deref().or(store.last_used())
        };
        let refused = wanted.and_then(|n| store.issues().rejected(n));
        if let Some(rejected) = refused
            && chosen.as_ref().map(|p| &p.name) != Some(&rejected.name)
        {
            let now = app.clock.now_ms();
            app.notifications.push(
                now,
                Level::Error,
                format!(
                    "{rejected}. It was not connected; {} is open instead.",
                    chosen
                        .as_ref()
                        .map_or("the demo fleet".to_owned(), |p| format!("\"{}\"", p.name))
                ),
            );
        } else if let Some(name) = &options.profile
            && chosen.as_ref().map(|p| &p.name) != Some(name)
        {
            let now = app.clock.now_ms();
            app.notifications.push(
                now,
                Level::Error,
                format!("No saved profile is named \"{name}\"; the demo fleet is open instead."),
            );
        }
        // Saved cost models price the advisor's proposals from the start (read on the engine's
        // file pool, never on the UI thread).
        app.cost_ensure_loaded();
        let profile = app.profiles.active.clone();
        app.connect(profile);
        // Intents with no outcome are reported at start-up (read on the engine's file pool).
        app.request_audit();
        Ok(app)
    }

    pub fn is_demo(&self) -> bool {
        self.profiles.active.demo
    }

    /// Send a command; a full or closed channel becomes a notification, never a block.
    pub fn send(&mut self, command: Command) {
        if let Err(e) = self.engine.send(command) {
            let now = self.clock.now_ms();
            self.notifications.push(now, Level::Error, e.to_string());
        }
    }

    pub fn connect(&mut self, profile: Profile) {
        self.fleet.reset(Vec::new());
        self.store = MetricStore::default();
        self.charts = ChartCache::default();
        self.overview = overview::OverviewCache::default();
        self.totals_at = 0;
        self.selected_workload = None;
        self.actions.bulk_selected.clear();
        self.selected_server = None;
        self.profiles.active = profile;
        self.reset_team_audit();
        // The new profile's rules; windows and alerts of the old endpoints go.
        self.advisor.advisor.set_endpoints(std::iter::empty());
        self.advisor_sync_rules();
        let seed = self.demo_seed;
        let profile = crate::advisor::rules::with_rule_queries(
            &self.profiles.active,
            self.advisor.advisor.rules(),
        );
        self.send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: seed,
        })));
    }

    /// Switch to a saved profile (or the demo) and remember it as last used.
    pub fn switch_profile(&mut self, profile: Profile) {
        if !profile.demo || self.profiles.list.iter().any(|p| p.name == profile.name) {
            self.send(Command::Files(FileJob::SetLastUsed(profile.name.clone())));
        }
        self.connect(profile);
    }

    pub fn policy(&self) -> PlanPolicy {
        let p = &self.profiles.active;
        PlanPolicy {
            profile: p.name.clone(),
            read_only: p.read_only,
            max_failover_lag_bytes: p
                .postgres
                .first()
                .map_or(1 << 20, |pg| pg.max_failover_lag_bytes),
            kube_context: None,
            patroni_links: crate::actions::PatroniLink::of_profile(p),
        }
    }

    /// Step 1 of the pipeline: plan the action and open the confirmation dialog.
    pub fn propose(&mut self, action: Action) {
        let plan = plan(action, &self.fleet, &self.policy());
        // A plan the guards already refuse is not worth a round trip to the server.
        let dry_run_pending = (!plan.refused()).then(|| {
            let key = self.actions.next_dry_run_key();
            self.send(Command::DryRun {
                key,
                action: Box::new(plan.action.clone()),
            });
            key
        });
        let now = self.clock.now_ms();
        let load_balancer = self.lb_choice(&plan.action);
        let held_by = crate::actions::FleetView::in_progress(&self.fleet, &plan.action);
        let mut dialog = ConfirmDialog::new(plan, dry_run_pending, now);
        dialog.load_balancer = load_balancer;
        dialog.held_by = held_by;
        self.actions.dialog = Some(dialog);
    }

    /// The load-balancer steps of a scale whose workload sits behind a linked nginx upstream,
    /// rendered from the engine's last read (no I/O here).
    fn lb_choice(&self, action: &Action) -> Option<LbChoice> {
        let Action::ScaleWorkload { workload, replicas } = action else {
            return None;
        };
        let r = self
            .fleet
            .load_balancers
            .iter()
            .find(|r| &r.workload_ref == workload)?;
        let mut preview = r.preview.as_ref().map_or_else(
            || vec![format!("Load balancer: {}", r.summary)],
            |p| p.render(*replicas),
        );
        if self.is_demo() {
            // The demo's nginx is simulated like the rest of the fleet: the same steps and
            // diff, carried out on the simulation.
            preview.insert(
                0,
                "DEMO: a simulated nginx — the upstream below changes in the simulation only; no \
                 file is written and nothing is reloaded"
                    .into(),
            );
        }
        Some(LbChoice {
            label: format!("nginx {}, upstream {}", r.nginx, r.upstream),
            preview,
            follow: true,
        })
    }

    /// Step 2 done: hand the confirmed plan to the engine (grace, execute, verify, audit).
    pub fn confirm(&mut self) {
        let Some(dialog) = self.actions.dialog.take() else {
            return;
        };
        if !dialog.can_confirm() {
            self.actions.dialog = Some(dialog);
            return;
        }
        let id = self.actions.next_id();
        self.actions
            .started(id, dialog.plan.title.clone(), dialog.plan.action.clone());
        if dialog.load_balancer.as_ref().is_some_and(|lb| !lb.follow) {
            self.send(Command::SkipLoadBalancer { id });
        }
        let plan = Box::new(dialog.plan);
        let forced = dialog.forced;
        self.send(match dialog.advice {
            Some(advice) => Command::ExecuteAdvised {
                id,
                plan,
                forced,
                advice,
            },
            None => Command::Execute { id, plan, forced },
        });
    }

    /// "Take over…" in the dialog: run the plan taking the change lock over from the console
    /// holding it, with the operator's reason (recorded in the team store and the audit).
    pub fn take_over(&mut self) {
        let Some(dialog) = self.actions.dialog.take() else {
            return;
        };
        let Some(reason) = dialog.takeover_reason().map(str::to_owned) else {
            self.actions.dialog = Some(dialog);
            return;
        };
        if !dialog.can_take_over() {
            self.actions.dialog = Some(dialog);
            return;
        }
        let id = self.actions.next_id();
        self.actions
            .started(id, dialog.plan.title.clone(), dialog.plan.action.clone());
        if dialog.load_balancer.as_ref().is_some_and(|lb| !lb.follow) {
            self.send(Command::SkipLoadBalancer { id });
        }
        self.send(Command::ExecuteTakingOver {
            id,
            plan: Box::new(dialog.plan),
            reason,
            advice: dialog.advice,
        });
    }

    pub fn cancel_action(&mut self, id: crate::actions::ActionId) {
        self.send(Command::Cancel { id });
    }

    /// eframe's `logic`: take in what the engine sent. Also called by UI tests.
    pub fn logic_tick(&mut self, ctx: &egui::Context) {
        let _ = self.repaint_ctx.set(ctx.clone());
        let started = std::time::Instant::now();
        self.tell_store_what_is_watched();
        self.drain_events();
        // The budget counts from this frame's start: a frame that took a large poll in has
        // less left for the samples.
        let observed = self.sample_intake.drain_into(
            &mut self.store,
            &mut self.advisor.advisor,
            started + sample_intake::BUDGET,
        );
        if self.sample_intake.waiting() > 0 {
            ctx.request_repaint();
        }
        if observed > 0 {
            self.advisor.intake_samples += observed;
            self.advisor.intake_nanos += started.elapsed().as_nanos() as u64;
        }
        let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
        self.advisor_after_events(focused);
        self.record_overview_series();
        let now = self.clock.now_ms();
        if let Some(dialog) = self.actions.dialog.as_mut() {
            dialog.expire_dry_run(now);
        }
        if now - self.last_prune_ms > 10_000 {
            self.store.prune(now);
            self.last_prune_ms = now;
        }
        // "updated N s ago" and the grace countdown must tick even when no event arrives.
        ctx.request_repaint_after(std::time::Duration::from_secs(1));
    }
}

impl eframe::App for ScaleboardApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.logic_tick(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        crate::ui::root_ui(self, ui);
        self.frames.count();
        if let Some(started) = self.started {
            let with_data = self.fleet.endpoints.iter().any(|e| e.snapshot.is_some());
            log::info!(
                "first frame after {:?} (fleet data: {with_data})",
                started.elapsed()
            );
            if std::env::var_os("SCALEBOARD_TRACE_STARTUP").is_some() {
                eprintln!(
                    "first frame after {:?} (fleet data: {with_data})",
                    started.elapsed()
                );
            }
            if with_data {
                self.started = None;
            }
        }
    }
}

/// Open the window and hand the main thread to eframe until it closes.
pub fn run_window(app: ScaleboardApp) -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Scaleboard")
        .with_app_id(about::APP_ID)
        .with_inner_size([1400.0, 880.0])
        .with_min_inner_size([900.0, 600.0]);
    if let Some(icon) = about::window_icon() {
        viewport = viewport.with_icon(icon);
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native("Scaleboard", native, Box::new(move |_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
