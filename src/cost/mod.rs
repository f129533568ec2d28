//! The cost calculator: a pure model (no UI, no I/O but [`store`] and the report writers' output
//! streams), the seeds' built-in template, live cost from fleet counts, and exported reports.
//!
//! Money is never a binary float: unit prices are [`rust_decimal::Decimal`]s in major units and
//! every monthly amount is rounded once to integer minor units (cents) — see [`money`].

pub mod live;
pub mod model;
pub mod money;
pub mod report;
pub mod store;
pub mod template;
pub mod totals;

#[cfg(test)]
mod tests;

pub use live::{
    ClusterNodePrice, LiveInventory, LivePrice, LivePricing, LiveWorkload, WorkloadPrice,
};
pub use model::{Component, CostLine, CostModel, ModelProblem, Scenario, Unit};
pub use report::{CostReport, ReportFormat, ReportInput};
pub use store::{CostModelStore, CostStoreError};
pub use template::{SEED_TEMPLATE_NAME, built_in_models, seed_template};
pub use totals::ScenarioTotals;
