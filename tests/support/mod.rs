//! Shared test helpers: an app on the demo fleet with a manual clock, in a temp dir.
#![allow(dead_code)]

pub mod docker;
pub mod fake_kube;
pub mod mysql;
pub mod nginx;
pub mod patroni;
pub mod pgbouncer;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;
pub mod web;

use egui_kittest::Harness;
use scaleboard::app::{AppOptions, ScaleboardApp};
use scaleboard::engine::EngineConfig;
use scaleboard::model::clock::ManualClock;
use scaleboard::profiles::ProfileStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 2026-11-02 14:00 UTC: afternoon load in the demo's daily curve.
pub const START_MS: i64 = 1_793_628_000_000;

pub struct TestApp {
    pub harness: Harness<'static, ScaleboardApp>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub fn config_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("config")
}

pub fn data_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data")
}

/// Start the app. `profiles_toml` is written to the config dir first when given.
pub fn start(profiles_toml: Option<&str>, profile: Option<&str>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config_dir(&dir)).unwrap();
    if let Some(text) = profiles_toml {
        std::fs::write(config_dir(&dir).join("profiles.toml"), text).unwrap();
    }
    let clock = ManualClock::new(START_MS);
    let engine = EngineConfig::new(clock.clone(), config_dir(&dir), data_dir(&dir));
    let store = ProfileStore::load(&config_dir(&dir));
    let options = AppOptions {
        engine,
        demo_seed: 7,
        profile: profile.map(Into::into),
        force_demo: false,
        started: None,
    };
    let app = ScaleboardApp::new(options, &store).unwrap();
    let harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_ui_state(
            |ui, app: &mut ScaleboardApp| {
                let ctx = ui.ctx().clone();
                app.logic_tick(&ctx);
                scaleboard::ui::root_ui(app, ui);
            },
            app,
        );
    TestApp {
        harness,
        clock,
        dir,
    }
}

impl TestApp {
    pub fn app(&self) -> &ScaleboardApp {
        self.harness.state()
    }

    /// Step frames until `cond` holds; the engine runs on its own threads, so this waits for
    /// its events (bounded, so a broken flow fails instead of hanging; the bound is generous
    /// because the whole suite shares two cores with real servers and Docker daemons).
    pub fn run_until(&mut self, what: &str, cond: impl Fn(&ScaleboardApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            self.harness.step();
            if cond(self.harness.state()) {
                self.harness.step();
                // Samples received reach the metric store over a few frames (a time budget
                // per frame, slow in a debug build): the store is read as of that event.
                while self.harness.state().sample_intake.waiting() > 0 {
                    assert!(
                        Instant::now() < deadline,
                        "timed out waiting for: {what} (samples)"
                    );
                    self.harness.step();
                }
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Move the manual clock forward a second at a time until `cond` holds: for flows whose
    /// progress depends on a real server (watch events arrive in real time, while the pipeline
    /// waits on the manual clock between verification checks).
    pub fn advance_until(&mut self, what: &str, cond: impl Fn(&ScaleboardApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond(self.harness.state()) {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            self.advance(1);
        }
        self.harness.step();
        while self.harness.state().sample_intake.waiting() > 0 {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for: {what} (samples)"
            );
            self.harness.step();
        }
    }

    /// Open a collapsing section of a form and step until `inside` (a label in it) is shown.
    /// The header is clicked through AccessKit, not at its on-screen position: the form's
    /// layout can still move for a frame or two (a problem list above it growing), and a
    /// pointer click would then land on a neighbour. Bounded; clicks again when the section
    /// did not open, so a lost click fails loudly instead of hanging.
    pub fn open_section(&mut self, header: &str, inside: &str) {
        use egui_kittest::kittest::Queryable;
        for _ in 0..3 {
            self.harness.get_by_label(header).click_accesskit();
            for _ in 0..30 {
                self.harness.step();
                if self.harness.query_by_label(inside).is_some() {
                    return;
                }
            }
        }
        panic!("section {header:?} never showed {inside:?}");
    }

    /// Move the manual clock forward one second at a time, letting the engine react to each.
    pub fn advance(&mut self, secs: u64) {
        for _ in 0..secs {
            self.clock.advance(Duration::from_secs(1));
            for _ in 0..3 {
                self.harness.step();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
