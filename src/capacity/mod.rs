//! Capacity: will a scale fit? Pure functions over snapshots of nodes, quotas and LimitRanges
//! (types in [`crate::model::capacity`]); plans, the advisor and verification all call them.

pub mod docker;
pub mod fit;
pub mod nodes_needed;
#[cfg(test)]
mod nodes_needed_tests;
pub mod quota;
pub mod rooms;
pub mod scale_fit;
pub mod series;
#[cfg(test)]
mod tests;

pub use docker::{ServiceFit, docker_service_fit};
pub use fit::{FitReport, fit_replicas};
pub use nodes_needed::{NodeSize, NodesNeeded, nodes_needed, usual_node};
pub use quota::{apply_limit_range, quota_refusal};
pub use rooms::{BoundPod, sum_bound_pods};
pub use scale_fit::{ScaleFit, scale_fit};
