//! The two message types between UI and engine, one per direction.

use crate::actions::audit::AuditRecord;
use crate::actions::{ActionId, Plan};
use crate::model::snapshot::{Sample, Snapshot, TimeMs};
use std::time::Duration;

pub use crate::model::endpoint::{Area, EndpointInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnStatus {
    Connecting,
    Ok,
    /// The last poll failed but an earlier one succeeded: the old snapshot stays visible.
    Stale,
    Down,
}

impl ConnStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Ok => "ok",
            Self::Stale => "stale",
            Self::Down => "down",
        }
    }
}

/// Where an action is in the pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionStage {
    /// Waiting before executing; the operator can still cancel.
    Grace {
        remaining: Duration,
    },
    /// Reading the target fresh from the system to compare with the plan.
    Rechecking,
    Executing,
    Verifying {
        observed: String,
    },
}

/// UI -> engine.
#[derive(Debug)]
pub enum Command {
    /// Replace the polled endpoints with those of a profile.
    Connect(Box<crate::engine::ConnectRequest>),
    SetRefresh {
        interval: Duration,
    },
    PollNow,
    Execute {
        id: ActionId,
        plan: Box<Plan>,
        forced: bool,
    },
    /// Like [`Command::Execute`], for a proposal of the scaling advisor: the audit records cite
    /// the rule, the observed values and the cost change.
    ExecuteAdvised {
        id: ActionId,
        plan: Box<Plan>,
        forced: bool,
        advice: String,
    },
    /// Like [`Command::Execute`] (forced), for a target another console holds the change lock
    /// of (team mode): the lock is taken over, with the operator's typed reason recorded in the
    /// team store and in the audit records. An empty reason is refused.
    ExecuteTakingOver {
        id: ActionId,
        plan: Box<Plan>,
        reason: String,
        /// The advisor's proposal the plan came from, cited like [`Command::ExecuteAdvised`]'s.
        advice: Option<String>,
    },
    Cancel {
        id: ActionId,
    },
    /// Run the action `id` (sent next) without its load-balancer steps: `scale --no-lb`, or the
    /// dialog's box unticked.
    SkipLoadBalancer {
        id: ActionId,
    },
    /// Show a desktop notification (freedesktop, over D-Bus), sent off the UI thread.
    DesktopNotify {
        summary: String,
        body: String,
    },
    /// Validate an action on the system without applying it (Kubernetes `dryRun=All`); the
    /// answer comes back as [`Event::DryRun`] with the same key.
    DryRun {
        key: u64,
        action: Box<crate::actions::Action>,
    },
    Files(crate::engine::files::FileJob),
    /// A page of the team's shared history (team mode), read from the profile's team store on
    /// the engine's side; answered with [`Event::TeamAuditPage`].
    QueryTeamAudit(crate::team::TeamQuery),
    /// Poll one endpoint of a (possibly unsaved) profile once and report the outcome.
    TestEndpoint {
        profile: Box<crate::profiles::Profile>,
        kind: crate::profiles::EndpointKind,
        name: String,
    },
    Shutdown,
}

/// Engine -> UI.
#[derive(Debug)]
pub enum Event {
    Endpoints(Vec<EndpointInfo>),
    Snapshot {
        endpoint: String,
        at: TimeMs,
        snapshot: Snapshot,
        samples: Vec<Sample>,
    },
    Status {
        endpoint: String,
        status: ConnStatus,
        /// Set when the error is new: the UI shows each error once.
        error: Option<String>,
        at: TimeMs,
    },
    ActionProgress {
        id: ActionId,
        stage: ActionStage,
    },
    ActionFinished {
        id: ActionId,
        record: Box<AuditRecord>,
    },
    /// The system's answer to [`Command::DryRun`]: `Ok(None)` when the endpoint has no dry run,
    /// `Ok(Some(text))` when it accepted, `Err(reason)` when it refused (or could not be asked).
    DryRun {
        key: u64,
        outcome: crate::actions::DryRunOutcome,
    },
    /// The contexts of a kubeconfig (sorted) and its current context, or why it cannot be read.
    KubeContexts {
        kubeconfig: Option<std::path::PathBuf>,
        result: Result<crate::model::endpoint::KubeconfigContexts, String>,
    },
    /// An engine-side message that belongs in the notifications list.
    Notice(String),
    /// Targets another operator's console is changing right now (team mode), as
    /// (`Action::lock_identity`, "in progress: OPERATOR@HOST since … — what"); replaces the last.
    InProgressElsewhere(Vec<(String, String)>),
    /// A colleague's action was recorded in the shared history (team mode): notify, and
    /// refresh the audit view.
    ColleagueAction(String),
    /// Every linked nginx upstream next to its workload's replicas, read each refresh.
    LoadBalancers(Vec<crate::connectors::nginx::status::LinkReport>),
    /// The answer to [`crate::engine::files::FileJob::QueryAudit`].
    AuditPage(Result<Box<crate::actions::audit::AuditPage>, String>),
    /// The answer to [`Command::QueryTeamAudit`]: the page, or why the store could not give it
    /// (in words).
    TeamAuditPage {
        query: crate::team::TeamQuery,
        result: Result<Box<crate::team::TeamPage>, String>,
    },
    /// The profile store after a write (or a refused write, with the reason).
    Profiles {
        profiles: Vec<crate::profiles::Profile>,
        damaged: Option<crate::profiles::ProfileFileError>,
        /// Profiles refused on load (shown with their errors, never connected).
        issues: crate::profiles::LoadIssues,
        result: Result<String, String>,
    },
    Keyring(crate::profiles::KeyringStatus),
    /// Outcome of a "test connection": a summary of what one poll saw, or why it failed.
    TestResult {
        kind: crate::profiles::EndpointKind,
        name: String,
        result: Result<String, String>,
    },
    /// The saved cost models after a load or a write (or a refused write, with the reason).
    CostModels {
        saved: Vec<crate::cost::CostModel>,
        damaged: Option<crate::profiles::ProfileFileError>,
        result: Result<String, String>,
    },
    /// A cost report export finished: bytes written, or why not.
    CostExported {
        format: crate::cost::ReportFormat,
        path: std::path::PathBuf,
        result: Result<u64, String>,
    },
    /// The save dialog closed: the chosen path, or `None` (cancelled or no portal).
    /// The audit export's save dialog closed: the chosen path, or `None`.
    AuditPathPicked {
        path: Option<std::path::PathBuf>,
    },
    ReportPathPicked {
        format: crate::cost::ReportFormat,
        path: Option<std::path::PathBuf>,
    },
}
