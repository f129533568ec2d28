//! The engine: tokio on named worker threads, a supervisor that owns one poll loop per endpoint
//! and one task per action, and the bounded channels to and from the UI.

pub mod desktop_notify;
pub mod files;
mod pipeline;
mod pipeline_lb;
mod pipeline_team;
mod poll;
mod supervisor;
mod team_audit;
mod team_feed;
pub mod types;

pub use types::{ActionStage, Area, Command, ConnStatus, EndpointInfo, Event};

use crate::model::clock::Clock;
use crate::profiles::Profile;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Wakes the UI after an event was queued. Given by the UI at start-up so the engine never
/// imports egui.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// Bounds of the two channels. Events are many small messages; commands are rare.
pub const EVENT_CAPACITY: usize = 4096;
pub const COMMAND_CAPACITY: usize = 256;

#[derive(Clone)]
pub struct EngineConfig {
    pub clock: Arc<dyn Clock>,
    /// Where profiles.toml lives.
    pub config_dir: PathBuf,
    /// Where the audit log lives.
    pub data_dir: PathBuf,
    /// Time between confirmation and execution, during which Cancel still works.
    pub grace: Duration,
    pub verify_timeout: Duration,
    pub poll_timeout: Duration,
    pub worker_threads: usize,
}

impl EngineConfig {
    pub fn new(clock: Arc<dyn Clock>, config_dir: PathBuf, data_dir: PathBuf) -> Self {
        Self {
            clock,
            config_dir,
            data_dir,
            grace: Duration::from_secs(5),
            verify_timeout: Duration::from_secs(180),
            poll_timeout: Duration::from_secs(10),
            worker_threads: 2,
        }
    }
}

#[derive(Debug)]
pub struct ConnectRequest {
    pub profile: Profile,
    /// Seed of the demo simulation (fixed in tests so runs replay).
    pub demo_seed: u64,
}

/// Returned when the command channel is full: the engine is stuck or shutting down.
#[derive(Debug, thiserror::Error)]
#[error("the engine is not accepting commands ({0})")]
pub struct EngineBusy(&'static str);

/// The UI's (or CLI's) end of the engine.
pub struct EngineHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl EngineHandle {
    /// Start the runtime and the supervisor.
    pub fn start(config: EngineConfig, repaint: Repaint) -> std::io::Result<Self> {
        Self::start_with_routine_wake(config, repaint, None)
    }

    /// Like [`Self::start`], with a second callback for routine poll results. The window passes
    /// one that asks for a frame within [`DATA_REPAINT_PERIOD`], which egui merges with its own
    /// 1 s clock frame: however many endpoints answer, an idle window draws one frame a second.
    pub fn start_with_routine_wake(
        config: EngineConfig,
        repaint: Repaint,
        routine: Option<Repaint>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("scaleboard-engine")
            .enable_all()
            .build()?;
        let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let mut sink = EventSink::new(event_tx, repaint);
        sink.routine = routine;
        runtime.spawn(supervisor::run(config, command_rx, sink));
        Ok(Self {
            commands: command_tx,
            events: event_rx,
            runtime: Some(runtime),
        })
    }

    /// Never blocks: the UI thread calls this.
    pub fn send(&self, command: Command) -> Result<(), EngineBusy> {
        self.commands.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineBusy("queue full"),
            mpsc::error::TrySendError::Closed(_) => EngineBusy("stopped"),
        })
    }

    /// Never blocks: the UI drains events with this in `logic()`.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// For the CLI: from now on Ctrl-C (SIGINT) and SIGTERM no longer end the process; they set
    /// the returned flag, so a running action is cancelled through the pipeline and audited.
    pub fn catch_interrupts(&self) -> Arc<std::sync::atomic::AtomicBool> {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(runtime) = &self.runtime {
            let set = Arc::clone(&flag);
            // Registered before returning, so a signal right after this call is caught.
            let mut term = runtime.block_on(async {
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
            });
            let mut int = runtime.block_on(async {
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
            });
            runtime.spawn(async move {
                loop {
                    let got = tokio::select! {
                        Some(()) = async { int.as_mut()?.recv().await } => true,
                        Some(()) = async { term.as_mut()?.recv().await } => true,
                        else => false,
                    };
                    if !got {
                        break;
                    }
                    set.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        flag
    }

    /// For the CLI: wait for the next event, up to `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let runtime = self.runtime.as_ref()?;
        let events = &mut self.events;
        runtime.block_on(async { tokio::time::timeout(timeout, events.recv()).await.ok()? })
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        let _ = self.commands.try_send(Command::Shutdown);
        if let Some(runtime) = self.runtime.take() {
            // Child processes and sockets die with their tasks; don't hang the exit on them.
            runtime.shutdown_timeout(Duration::from_millis(500));
        }
    }
}

/// The engine's end of the event channel. Every send wakes the UI, but not every send at once:
/// what an operator is waiting for (an action's progress, a dry run, a file job, an error)
/// wakes it immediately, while routine poll results go to the `routine` callback when there is
/// one (the window's: "draw with the next 1 s clock frame") and are otherwise coalesced to at
/// most one wake per [`DATA_REPAINT_PERIOD`], however many endpoints answer.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<Event>,
    repaint: Repaint,
    /// Called instead of the throttled `repaint` for routine poll results, when given.
    routine: Option<Repaint>,
    throttle: Arc<std::sync::Mutex<Throttle>>,
}

/// At most one repaint for poll results per this period (the shortest refresh interval).
pub const DATA_REPAINT_PERIOD: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Throttle {
    /// When poll results last woke the UI.
    last_wake: Option<std::time::Instant>,
    /// A wake at the end of the current period is already scheduled.
    trailing: bool,
}

impl EventSink {
    pub(crate) fn new(tx: mpsc::Sender<Event>, repaint: Repaint) -> Self {
        Self {
            tx,
            repaint,
            routine: None,
            throttle: Arc::default(),
        }
    }

    pub(crate) async fn emit(&self, event: Event) {
        let routine = is_routine(&event);
        // Backpressure: a UI that stops draining slows the pollers instead of growing memory.
        if self.tx.send(event).await.is_ok() {
            if routine {
                self.wake_coalesced();
            } else {
                (self.repaint)();
            }
        }
    }

    /// Leading and trailing edge: the first poll result after a quiet period is shown at once;
    /// those that follow within the period are shown together at its end.
    fn wake_coalesced(&self) {
        if let Some(routine) = &self.routine {
            routine();
            return;
        }
        let now = std::time::Instant::now();
        let delay = {
            let Ok(mut t) = self.throttle.lock() else {
                (self.repaint)();
                return;
            };
            if t.trailing {
                return;
            }
            match t.last_wake {
                Some(last) if now.duration_since(last) < DATA_REPAINT_PERIOD => {
                    t.trailing = true;
                    DATA_REPAINT_PERIOD - now.duration_since(last)
                }
                _ => {
                    t.last_wake = Some(now);
                    Duration::ZERO
                }
            }
        };
        if delay.is_zero() {
            (self.repaint)();
            return;
        }
        let throttle = Arc::clone(&self.throttle);
        let repaint = Arc::clone(&self.repaint);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Ok(mut t) = throttle.lock() {
                t.trailing = false;
                t.last_wake = Some(std::time::Instant::now());
            }
            repaint();
        });
    }

    #[cfg(test)]
    pub(crate) fn coalescing_for_test(&self) -> bool {
        self.throttle.lock().is_ok_and(|t| t.trailing)
    }
}

/// Poll results that only refresh what is on screen; everything else is something the operator
/// waits for (or an error, shown once) and wakes the UI at once.
fn is_routine(event: &Event) -> bool {
    matches!(
        event,
        Event::Snapshot { .. } | Event::Status { error: None, .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn snapshot() -> Event {
        Event::Snapshot {
            endpoint: "e".into(),
            at: 0,
            snapshot: crate::model::snapshot::Snapshot::Workloads(Default::default()),
            samples: Vec::new(),
        }
    }

    #[tokio::test]
    async fn many_endpoints_answering_cost_one_repaint_per_period() {
        let (tx, mut rx) = mpsc::channel(1024);
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        let sink = EventSink::new(
            tx,
            Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        // 50 endpoints answer within one tick: one wake now, one at the end of the period.
        for _ in 0..50 {
            sink.emit(snapshot()).await;
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert!(sink.coalescing_for_test());
        tokio::time::sleep(DATA_REPAINT_PERIOD + Duration::from_millis(200)).await;
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        // An action's progress is never held back.
        sink.emit(Event::Notice("done".into())).await;
        assert_eq!(wakes.load(Ordering::SeqCst), 3);
        while rx.try_recv().is_ok() {}
    }
}
