//! One poll loop per endpoint: one poll in flight at most, a timeout, exponential backoff after
//! failures, and a connection status that reports each new error once.

use super::EventSink;
use super::types::{ConnStatus, Event};
use crate::connectors::Connector;
use crate::model::clock::Clock;
use crate::model::snapshot::Snapshot;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Failures in a row after which a previously good endpoint counts as down, not stale.
pub const DOWN_AFTER_FAILURES: u32 = 3;
/// Retries back off to at most this many refresh intervals: a server that comes back is seen
/// ok again within two intervals of answering, not a minute later.
pub const BACKOFF_INTERVALS: u32 = 2;

pub(crate) struct PollLoop {
    pub connector: Arc<dyn Connector>,
    pub sink: EventSink,
    pub clock: Arc<dyn Clock>,
    pub interval: watch::Receiver<Duration>,
    pub poll_now: Arc<Notify>,
    pub timeout: Duration,
}

/// Delay before the next poll: the refresh interval, doubled per failure in a row, capped at
/// [`BACKOFF_INTERVALS`] intervals.
pub fn next_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let factor = 1u32 << failures.min(6);
    (interval * factor)
        .min(interval * BACKOFF_INTERVALS)
        .max(interval)
}

/// Status after a poll, from whether it succeeded and the endpoint's history. `refused`: the
/// connection was refused — nothing listens there, so it is down now, not slow (a time-out
/// or a broken connection may be a slow or restarting server: stale first).
pub fn status_after(ok: bool, ever_ok: bool, failures: u32, refused: bool) -> ConnStatus {
    match (ok, ever_ok) {
        (true, _) => ConnStatus::Ok,
        (false, true) if failures < DOWN_AFTER_FAILURES && !refused => ConnStatus::Stale,
        _ => ConnStatus::Down,
    }
}

/// What the loop remembers between polls of one endpoint.
struct Health {
    failures: u32,
    ever_ok: bool,
    status: ConnStatus,
    last_error: Option<String>,
}

impl Health {
    /// After a success: the status event to send, if the status changed.
    fn ok(&mut self) -> Option<ConnStatus> {
        self.failures = 0;
        self.ever_ok = true;
        self.last_error = None;
        (self.status != ConnStatus::Ok).then(|| {
            self.status = ConnStatus::Ok;
            self.status
        })
    }

    /// After a failure: the new status, and the error text only when it differs from the last
    /// one, so the operator sees each error once.
    fn failed(&mut self, message: String, refused: bool) -> (ConnStatus, Option<String>) {
        self.failures += 1;
        self.status = status_after(false, self.ever_ok, self.failures, refused);
        let error = (self.last_error.as_deref() != Some(message.as_str())).then(|| message.clone());
        self.last_error = Some(message);
        (self.status, error)
    }
}

impl PollLoop {
    pub async fn run(self) {
        let id = self.connector.info().id.clone();
        let mut health = Health {
            failures: 0,
            ever_ok: false,
            status: ConnStatus::Connecting,
            last_error: None,
        };
        // Notices already reported by this endpoint (bounded: a connector has a handful).
        let mut told: Vec<String> = Vec::new();
        self.status(&id, ConnStatus::Connecting, None, self.clock.now_ms())
            .await;
        loop {
            let started = self.clock.now_ms();
            let result = tokio::time::timeout(self.timeout, self.connector.poll()).await;
            let at = self.clock.now_ms();
            let failure = match result {
                Ok(Ok(out)) => {
                    for notice in out.notices {
                        if !told.contains(&notice) && told.len() < 64 {
                            told.push(notice.clone());
                            let label = &self.connector.info().label;
                            self.sink
                                .emit(Event::Notice(format!("{label}: {notice}")))
                                .await;
                        }
                    }
                    // Before the snapshot: whoever waits for a poll's snapshot has its
                    // load balancers too (`scaleboard advise` stops at the second snapshot).
                    if let Some(reports) = self.connector.load_balancers() {
                        self.sink.emit(Event::LoadBalancers(reports)).await;
                    }
                    let mut snapshot = out.snapshot;
                    if let Snapshot::Workloads(list) = &mut snapshot {
                        list.sort_by_id(&id);
                    }
                    let event = Event::Snapshot {
                        endpoint: id.clone(),
                        at,
                        snapshot,
                        samples: out.samples,
                    };
                    self.sink.emit(event).await;
                    if let Some(status) = health.ok() {
                        self.status(&id, status, None, at).await;
                    }
                    None
                }
                Ok(Err(e)) => Some((e.to_string(), e.is_refused_connection())),
                Err(_) => Some((
                    format!("no answer within {} s", self.timeout.as_secs_f32()),
                    false,
                )),
            };
            if let Some((message, refused)) = failure {
                // Every failed poll is reported: the UI records a gap for it.
                let (status, error) = health.failed(message, refused);
                self.status(&id, status, error, at).await;
            }
            // Polls start on a steady beat: the time a poll took comes off the wait (but a
            // quarter of the delay is always left, so a slow endpoint is not asked back to back).
            let delay = next_delay(*self.interval.borrow(), health.failures);
            let spent = Duration::from_millis(u64::try_from(at - started).unwrap_or(0));
            let delay = delay.saturating_sub(spent).max(delay / 4);
            tokio::select! {
                () = self.clock.sleep(delay) => {}
                () = self.poll_now.notified() => {}
            }
        }
    }

    async fn status(&self, id: &str, status: ConnStatus, error: Option<String>, at: i64) {
        self.sink
            .emit(Event::Status {
                endpoint: id.to_string(),
                status,
                error,
                at,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::{ConnectorError, PollOutput};
    use crate::engine::types::{Area, EndpointInfo};
    use crate::model::clock::{BoxFuture, ManualClock};
    use crate::model::snapshot::Snapshot;
    use std::sync::Mutex;
    use tokio::sync::mpsc;

    /// Answers polls from a script: true = a snapshot, false = an error.
    struct Scripted {
        info: EndpointInfo,
        script: Mutex<Vec<bool>>,
    }

    impl Connector for Scripted {
        fn info(&self) -> &EndpointInfo {
            &self.info
        }
        fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
            let ok = {
                let mut script = self.script.lock().unwrap();
                if script.is_empty() {
                    true
                } else {
                    script.remove(0)
                }
            };
            Box::pin(async move {
                if ok {
                    Ok(PollOutput {
                        snapshot: Snapshot::Queues(Vec::new()),
                        samples: Vec::new(),
                        notices: Vec::new(),
                    })
                } else {
                    Err(ConnectorError::Failed("connection refused".into()))
                }
            })
        }
        fn execute<'a>(
            &'a self,
            _: crate::model::exec::Execution<'a>,
        ) -> BoxFuture<'a, Result<String, ConnectorError>> {
            Box::pin(async { Err(ConnectorError::Unsupported("no actions".into())) })
        }
    }

    #[tokio::test]
    async fn statuses_follow_failures_and_each_error_is_reported_once() {
        let clock = ManualClock::new(0);
        let (tx, mut rx) = mpsc::channel(64);
        let (_interval_tx, interval) = watch::channel(Duration::from_secs(1));
        let connector = Arc::new(Scripted {
            info: EndpointInfo {
                id: "e".into(),
                label: "e".into(),
                area: Area::Queues,
                demo: false,
            },
            script: Mutex::new(vec![true, false, false, false, true]),
        });
        let poll_now = Arc::new(Notify::new());
        let task = tokio::spawn(
            PollLoop {
                connector,
                sink: EventSink::new(tx, Arc::new(|| {})),
                clock: clock.clone(),
                interval,
                poll_now: Arc::clone(&poll_now),
                timeout: Duration::from_secs(5),
            }
            .run(),
        );
        let mut statuses = Vec::new();
        while statuses.len() < 6 {
            match tokio::time::timeout(Duration::from_millis(20), rx.recv()).await {
                Ok(Some(Event::Status { status, error, .. })) => statuses.push((status, error)),
                Ok(Some(_)) => {}
                Ok(None) => break,
                // Idle: move the manual clock past any backoff.
                Err(_) => clock.advance(Duration::from_secs(60)),
            }
        }
        task.abort();
        let err = Some("connection refused".to_string());
        assert_eq!(
            statuses,
            vec![
                (ConnStatus::Connecting, None),
                (ConnStatus::Ok, None),
                (ConnStatus::Stale, err),
                (ConnStatus::Stale, None),
                (ConnStatus::Down, None),
                (ConnStatus::Ok, None),
            ]
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_secs(2);
        assert_eq!(next_delay(i, 0), i);
        assert_eq!(next_delay(i, 1), Duration::from_secs(4));
        assert_eq!(next_delay(i, 2), Duration::from_secs(4));
        assert_eq!(next_delay(i, 10), Duration::from_secs(4));
        assert_eq!(
            next_delay(Duration::from_secs(1), 30),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn stale_then_down() {
        assert_eq!(status_after(false, false, 1, false), ConnStatus::Down);
        assert_eq!(status_after(false, true, 1, false), ConnStatus::Stale);
        assert_eq!(
            status_after(false, true, DOWN_AFTER_FAILURES, false),
            ConnStatus::Down
        );
        assert_eq!(status_after(true, true, 0, false), ConnStatus::Ok);
        // Refused: nothing listens, so down at once; a time-out stays stale first.
        assert_eq!(status_after(false, true, 1, true), ConnStatus::Down);
    }
}
