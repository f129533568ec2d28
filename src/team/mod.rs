//! Team mode: one audit history and change locks shared by every operator's console, in a
//! PostgreSQL database (`[profile.team]`).
//!
//! The engine treats the store as a second audit sink after the local JSON Lines log, and the
//! change lock as one pipeline step between the re-check and the intent
//! (`engine/pipeline_team.rs`). Neither the UI nor the connectors know whether a store exists.

pub mod history;
pub mod lock;
pub mod migrations;
pub mod store;

pub use history::{LockState, PageKey, TeamQuery, TeamRow};
pub use lock::{Holder, LockError, LockHold};
pub use store::{PENDING_FILE, TeamStore, host_name};

use crate::model::action::Action;

/// The identity a change lock is taken on, so two consoles planning on the same target meet on
/// the same lock: one workload (its path names the endpoint), or for everything else (database
/// promotions, switchovers, bulk scales of a project) the whole endpoint, which is coarser but
/// never lets two such actions overlap.
pub fn lock_identity(action: &Action) -> String {
    match action {
        Action::ScaleWorkload { .. }
        | Action::SetAutoscaler { .. }
        | Action::DeleteAutoscaler { .. } => action.target_path(),
        _ => format!("{}/*", action.endpoint()),
    }
}
