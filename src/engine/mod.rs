//! The engine: tokio on named worker threads, a supervisor that owns one poll loop per endpoint
//! and one task per action, and the bounded channels to and from the UI.

pub mod files;
mod pipeline;
mod poll;
mod supervisor;
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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("scaleboard-engine")
            .enable_all()
            .build()?;
        let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let sink = EventSink {
            tx: event_tx,
            repaint,
        };
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

/// The engine's end of the event channel; every send wakes the UI.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<Event>,
    repaint: Repaint,
}

impl EventSink {
    pub(crate) async fn emit(&self, event: Event) {
        // Backpressure: a UI that stops draining slows the pollers instead of growing memory.
        if self.tx.send(event).await.is_ok() {
            (self.repaint)();
        }
    }
}
