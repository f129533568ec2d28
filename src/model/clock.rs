//! Time source for the engine and the UI. Tests use [`ManualClock`] so data, grace periods and
//! poll intervals follow the test, not the wall clock.

use crate::model::snapshot::TimeMs;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Clock: Send + Sync {
    fn now_ms(&self) -> TimeMs;
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> TimeMs {
        chrono::Utc::now().timestamp_millis()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to. Sleepers wake when [`ManualClock::advance`] passes
/// their deadline.
pub struct ManualClock {
    now: AtomicI64,
    tick: watch::Sender<TimeMs>,
}

impl ManualClock {
    pub fn new(start_ms: TimeMs) -> Arc<Self> {
        let (tick, _) = watch::channel(start_ms);
        Arc::new(Self {
            now: AtomicI64::new(start_ms),
            tick,
        })
    }

    pub fn advance(&self, duration: Duration) {
        let step = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let now = self.now.fetch_add(step, Ordering::SeqCst) + step;
        self.tick.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> TimeMs {
        self.now.load(Ordering::SeqCst)
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let deadline = self.now_ms() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let mut rx = self.tick.subscribe();
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= deadline {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The clock is gone (test over): nothing will ever wake us.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_wakes_only_after_advance() {
        let clock = ManualClock::new(1_000);
        let sleeper = clock.sleep(Duration::from_secs(5));
        let handle = tokio::spawn(sleeper);
        clock.advance(Duration::from_secs(4));
        tokio::task::yield_now().await;
        assert!(!handle.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(2), handle)
            .await
            .expect("sleeper woke")
            .expect("no panic");
        assert_eq!(clock.now_ms(), 6_000);
    }
}
