//! The action pipeline. Every change to a system is an [`Action`]:
//! 1. [`plan::plan`] previews it (before/after, equivalent command, guards);
//! 2. the UI's confirm dialog shows the plan (typed name for dangerous actions, force for
//!    refused guards);
//! 3. the engine waits a grace period during which the operator can cancel, executes it through
//!    the endpoint's connector, then
//! 4. polls until [`verify::check`] reports the intent observed (or a timeout), and
//! 5. appends one [`audit::AuditRecord`] to the append-only audit log.

pub mod audit;
pub mod dry_run;
pub mod plan;
mod plan_bulk;
mod plan_docker;
mod plan_fit;
#[cfg(test)]
mod plan_fit_demo_tests;
pub mod plan_mysql;
pub mod plan_patroni;
pub mod recheck;
mod recheck_patroni;
pub mod verify;
mod verify_fit;
mod verify_patroni;

pub use crate::model::action::{Action, ActionId};
pub use dry_run::DryRunOutcome;
pub use plan::{FleetView, Guard, GuardLevel, PatroniLink, Plan, PlanPolicy, plan};
