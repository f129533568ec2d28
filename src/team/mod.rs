//! Team mode: one audit history and change locks shared by every operator's console, in a
//! PostgreSQL database (`[profile.team]`).
//!
//! The engine treats the store as a second audit sink after the local JSON Lines log, and the
//! change lock as one pipeline step between the re-check and the intent
//! (`engine/pipeline_team.rs`). Neither the UI nor the connectors know whether a store exists.

pub mod feed;
pub mod history;
pub mod lock;
pub mod migrations;
pub mod store;

pub use history::{LockState, PageKey, TeamPage, TeamQuery, TeamRow};
pub use lock::{Holder, LockError, LockHold};
pub use store::{PENDING_FILE, TeamStore, host_name};
