//! Large values the window lets go of, dropped on a helper thread. Replacing the snapshot of
//! 3,000 workloads frees some 25,000 small allocations: 2–10 ms measured on the UI thread in the
//! churn bench (BENCHMARKS.md), a frame's whole budget, for nothing the operator sees.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// How many values may wait for the helper; past that the caller drops inline (never blocks).
const QUEUE: usize = 4;

pub struct Discard {
    tx: Option<SyncSender<Box<dyn Send>>>,
}

impl Discard {
    pub fn new() -> Self {
        let (tx, rx) = sync_channel::<Box<dyn Send>>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("sb-discard".into())
            .spawn(move || {
                // Each value is dropped as it arrives; the thread ends with the window.
                while let Ok(value) = rx.recv() {
                    drop(value);
                }
            });
        Self {
            tx: spawned.ok().map(|_| tx),
        }
    }

    /// Drops `value` on the helper thread, or here if it is busy or gone.
    pub fn later<T: Send + 'static>(&self, value: T) {
        if let Some(tx) = &self.tx {
            match tx.try_send(Box::new(value)) {
                Ok(()) => {}
                Err(TrySendError::Full(v) | TrySendError::Disconnected(v)) => drop(v),
            }
        }
    }
}

impl Default for Discard {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn values_are_dropped_elsewhere_and_never_kept() {
        let discard = Discard::new();
        let held = Arc::new(());
        for _ in 0..100 {
            discard.later(Arc::clone(&held));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&held) > 1 {
            assert!(Instant::now() < deadline, "values kept");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
