//! Scaleboard: a native desktop scaling console.
//!
//! Thread model: the UI thread (eframe) owns the window, [`app`] and every panel in [`ui`]; it never
//! awaits and never does file or network I/O. The [`engine`] runs on tokio worker threads, polls
//! every endpoint through a [`connectors`] module and carries out [`actions`]. The two talk over
//! bounded channels of [`engine::Command`] (UI -> engine) and [`engine::Event`] (engine -> UI); the
//! engine wakes the UI through a repaint callback, so only `app` and `ui` import egui.
//! Numeric samples land in the bounded [`metrics::MetricStore`]; saved connection settings live in
//! [`profiles`] (secrets in the OS keyring, never on disk).

pub mod actions;
pub mod advisor;
pub mod app;
pub mod capacity;
pub mod cli;
pub mod connectors;
pub mod cost;
pub mod csv_safe;
pub mod engine;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod profiles;
pub mod team;
pub mod ui;
