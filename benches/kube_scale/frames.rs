//! What the engine costs while a cluster changes, and what the window draws meanwhile: the
//! engine's runtime threads are named, so their CPU time can be read from /proc; the Workloads
//! panel runs headless (egui_kittest, no GPU) and is handed each poll's snapshot as it comes,
//! as the fleet hands it the engine's.

use scaleboard::app::{AppOptions, PanelId, ScaleboardApp};
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::connectors::{Connector, ConnectorError, PollOutput};
use scaleboard::engine::{EngineConfig, Event};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::Snapshot;
use scaleboard::profiles::ProfileStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The name of the engine runtime's threads (workers and blocking pool).
const ENGINE_THREADS: &str = "sb-engine";

/// The profile's default refresh: how often the engine polls.
pub const REFRESH: Duration = Duration::from_secs(2);

/// One frame every 1/60 s.
const FRAME_EVERY: Duration = Duration::from_micros(16_667);

/// `SB_SLOW`: describe frames over this long (16 ms when set without a number).
fn slow_threshold() -> Option<Duration> {
    let v = std::env::var("SB_SLOW").ok()?;
    Some(Duration::from_millis(v.parse().unwrap_or(16)))
}

/// A runtime like the engine's: two workers, named so their CPU time can be told apart from
/// the in-process fake server's and the window's.
pub fn engine_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(ENGINE_THREADS)
        .enable_all()
        .build()
        .unwrap()
}

/// CPU time used so far by the threads of [`engine_runtime`]s still alive (from
/// /proc/self/task/*/schedstat, in nanoseconds on a CPU).
pub fn engine_cpu() -> Duration {
    let mut total = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != ENGINE_THREADS {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// CPU time the calling thread has used so far (its CPU clock): a frame's own
/// work, without the time it waited for a core the in-process server or the engine held.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

type Poll = tokio::task::JoinHandle<(Duration, Result<PollOutput, ConnectorError>)>;

/// A poll on the engine's runtime (not on the caller's thread), timed there.
pub fn spawn_poll(rt: &tokio::runtime::Runtime, connector: &Arc<KubernetesConnector>) -> Poll {
    let connector = Arc::clone(connector);
    rt.spawn(async move {
        let t = Instant::now();
        let out = connector.poll().await;
        (t.elapsed(), out)
    })
}

/// The Workloads panel of a headless window, drawn as eframe draws it: the app's `logic` and
/// `ui` in `Context::run_ui`, then the shapes tessellated; no GPU. Not egui_kittest: its
/// harness always builds the AccessKit tree (a quarter of a frame's CPU here), which egui
/// builds in a real window only while a screen reader asks for it.
pub struct Window {
    ctx: egui::Context,
    app: ScaleboardApp,
    /// A poll's output, taken in at the start of the next frame as the app takes in the
    /// engine's events: the metric store's intake of its samples is part of that frame.
    pending: Option<Event>,
    /// Sample time of the next poll handed in (2 s apart, as the engine polls).
    next_at: i64,
    /// The app's `logic` in each frame that took a poll in (event intake, samples into the
    /// store within the frame's budget).
    pub intakes: Vec<Duration>,
    _dir: tempfile::TempDir,
}

impl Window {
    /// The app on its demo fleet (manual clock: the demo polls once and never again), showing
    /// the Workloads panel.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_793_628_000_000);
        let engine = EngineConfig::new(clock, dir.path().join("config"), dir.path().join("data"));
        let store = ProfileStore::load(&dir.path().join("config"));
        let options = AppOptions {
            engine,
            demo_seed: 7,
            profile: None,
            force_demo: true,
            started: None,
        };
        let app = ScaleboardApp::new(options, &store).unwrap();
        let mut window = Self {
            ctx: egui::Context::default(),
            app,
            pending: None,
            next_at: 1_793_628_000_000,
            intakes: Vec::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while window.app.fleet.workloads().next().is_none() {
            assert!(Instant::now() < deadline, "demo fleet did not answer");
            window.frame();
            std::thread::sleep(Duration::from_millis(5));
        }
        window.app.view.panel = PanelId::Workloads;
        window.frame();
        window
    }

    /// Show this snapshot in place of the demo's Kubernetes endpoint.
    pub fn show(&mut self, snapshot: Snapshot) {
        let app = &mut self.app;
        let demo = app
            .fleet
            .endpoints
            .iter_mut()
            .find(|e| e.info.id == scaleboard::connectors::demo::K8S_ENDPOINT)
            .unwrap();
        demo.snapshot = Some(snapshot);
        app.fleet.generation += 1;
    }

    /// A poll's snapshot and samples, as the engine sends them for the demo's Kubernetes
    /// endpoint: applied in the next frame, timed with it.
    pub fn show_poll(&mut self, out: PollOutput) {
        self.next_at += REFRESH.as_millis() as i64;
        let mut snapshot = out.snapshot;
        // What the engine's poll loop checks before it sends a snapshot.
        if let Snapshot::Workloads(list) = &mut snapshot {
            list.sort_by_id("k8s"); // the bench connector's endpoint (envelope::endpoint)
        }
        self.pending = Some(Event::Snapshot {
            endpoint: scaleboard::connectors::demo::K8S_ENDPOINT.to_string(),
            at: self.next_at,
            snapshot,
            samples: out.samples,
        });
    }

    /// One frame at 1440×900, timed: the intake of a poll handed in (the app's `logic`, with
    /// the metric store's share within its budget), layout and tessellation. With `SB_SLOW`
    /// set, a frame over 16 ms (or over `SB_SLOW`'s number of milliseconds) is described on
    /// stderr.
    pub fn frame(&mut self) -> Duration {
        self.frame_timed().0
    }

    /// [`Self::frame`], with the CPU time the frame's thread spent in it (wall, CPU).
    pub fn frame_timed(&mut self) -> (Duration, Duration) {
        let cpu = thread_cpu();
        let t = Instant::now();
        let took_in = self
            .pending
            .take()
            .map(|event| self.app.inject_event(event))
            .is_some();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1440.0, 900.0),
            )),
            ..Default::default()
        };
        let app = &mut self.app;
        let passes = self.ctx.cumulative_pass_nr();
        let (mut logic, mut ui_time) = (Duration::ZERO, Duration::ZERO);
        let out = self.ctx.run_ui(input, |ui| {
            let ctx = ui.ctx().clone();
            let a = Instant::now();
            app.logic_tick(&ctx);
            logic = a.elapsed();
            scaleboard::ui::root_ui(app, ui);
            ui_time = a.elapsed() - logic;
        });
        if took_in {
            self.intakes.push(logic);
        }
        let primitives = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        std::hint::black_box(primitives);
        let took = t.elapsed();
        let on_cpu = thread_cpu().saturating_sub(cpu);
        if slow_threshold().is_some_and(|limit| took > limit) {
            // A pass discarded and run again (a new Grid, a sizing pass) doubles a frame.
            let passes = self.ctx.cumulative_pass_nr() - passes;
            eprintln!(
                "slow frame {took:?} ({on_cpu:?} on the CPU): took a poll in {took_in}, logic \
                 {logic:?}, ui {ui_time:?} in {passes} pass(es), samples still waiting {}",
                self.app.sample_intake.waiting()
            );
        }
        (took, on_cpu)
    }
}

/// What a stretch of frames and polls showed.
#[derive(Default)]
pub struct Run {
    pub frames: Vec<Duration>,
    /// Each frame's CPU time on its thread: over 16 ms of wall time but not of CPU is a frame
    /// that waited for a core (two cores, shared with the in-process API server here).
    pub frames_cpu: Vec<Duration>,
    pub polls: Vec<Duration>,
}

impl Run {
    /// "logic of a poll's frame (its intake): max 3.1 ms over 15" for the window's polls so far.
    pub fn intake_words(window: &Window) -> String {
        let max = window.intakes.iter().max().copied().unwrap_or_default();
        format!(
            "logic of a poll's frame (its intake): max {:.1} ms over {}",
            max.as_secs_f64() * 1e3,
            window.intakes.len()
        )
    }

    /// "frames: median 2.1 ms, 99th percentile 4.0 ms, max 9.8 ms, 0 of 1,800 over 16 ms".
    pub fn frames_words(&self) -> String {
        let mut f: Vec<f64> = self.frames.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        if f.is_empty() {
            return "no frames".into();
        }
        f.sort_by(f64::total_cmp);
        let at = |q: f64| f[((f.len() - 1) as f64 * q).round() as usize];
        let over = f.iter().filter(|ms| **ms > 16.0).count();
        let mut cpu: Vec<f64> = self
            .frames_cpu
            .iter()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        cpu.sort_by(f64::total_cmp);
        let cpu_over = cpu.iter().filter(|ms| **ms > 16.0).count();
        format!(
            "frames: median {:.1} ms, 99th percentile {:.1} ms, max {:.1} ms, {over} of {} over \
             16 ms; on the frame's CPU: max {:.1} ms, {cpu_over} over 16 ms",
            at(0.5),
            at(0.99),
            at(1.0),
            f.len(),
            cpu.last().copied().unwrap_or_default()
        )
    }

    /// "polls: 15, median 41 ms, max 63 ms".
    pub fn polls_words(&self) -> String {
        let mut p: Vec<f64> = self.polls.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        if p.is_empty() {
            return "no polls".into();
        }
        p.sort_by(f64::total_cmp);
        format!(
            "polls: {}, median {:.0} ms, max {:.0} ms",
            p.len(),
            p[p.len() / 2],
            p[p.len() - 1]
        )
    }
}

/// Frames at 60 Hz and a poll every [`REFRESH`] until `done` (asked before every frame) says
/// so; each poll's output is checked by `seen`, then taken in by the next frame (snapshot and
/// samples, as the engine's event).
pub fn frames_and_polls(
    rt: &tokio::runtime::Runtime,
    connector: &Arc<KubernetesConnector>,
    window: &mut Window,
    mut seen: impl FnMut(&PollOutput),
    mut done: impl FnMut() -> bool,
) -> Run {
    let mut run = Run::default();
    let mut next_poll = Instant::now();
    let mut pending: Option<Poll> = None;
    let mut next_frame = Instant::now();
    while !done() {
        if pending.is_none() && Instant::now() >= next_poll {
            pending = Some(spawn_poll(rt, connector));
            next_poll += REFRESH;
        }
        if pending
            .as_ref()
            .is_some_and(tokio::task::JoinHandle::is_finished)
        {
            let (took, out) = rt.block_on(pending.take().unwrap()).unwrap();
            run.polls.push(took);
            match out {
                Ok(out) => {
                    seen(&out);
                    window.show_poll(out);
                }
                Err(e) => eprintln!("a poll failed: {e}"),
            }
        }
        let (wall, cpu) = window.frame_timed();
        run.frames.push(wall);
        run.frames_cpu.push(cpu);
        next_frame += FRAME_EVERY;
        let now = Instant::now();
        if next_frame > now {
            std::thread::sleep(next_frame - now);
        } else {
            next_frame = now;
        }
    }
    if let Some(p) = pending {
        let _ = rt.block_on(p);
    }
    run
}
