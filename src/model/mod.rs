//! The types every layer shares: snapshots and workload identity, actions, endpoint info, the
//! clock, connector errors, units and their formatting. This module depends on nothing else in
//! the crate (a test in `tests/architecture.rs` enforces it), so connectors, the engine, the
//! action pipeline and the UI can all speak it without depending on one another.

pub mod action;
pub mod capacity;
pub mod clock;
pub mod endpoint;
pub mod error;
pub mod exec;
pub mod mysql;
pub mod patroni;
pub mod pgbouncer;
pub mod snapshot;
pub mod units;
pub mod workloads;
