//! HTTP health probes: one connector for all of a profile's health endpoints. Each poll probes
//! the due checks concurrently, each under its own time limit, so one slow URL never delays the
//! others; a probe that runs out of time counts as down. Latency percentiles and the error rate
//! come from a bounded sliding window of the last [`WINDOW_PROBES`] probes per check.

use super::http::{self, TlsOptions};
use super::{Connector, ConnectorError, PollOutput};
use crate::model::clock::{BoxFuture, Clock};
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{HealthCheck, NginxStatus, Sample, Snapshot, TimeMs};
use crate::profiles::HealthEndpoint;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The endpoint id of the health connector: series targets are `health/<check name>`.
pub const HEALTH_ENDPOINT_ID: &str = "health";
/// Probes per check that the percentiles and the error rate are computed over.
pub const WINDOW_PROBES: usize = 60;
/// A probe's time limit is capped below the engine's 10 s limit for a whole poll, so a check
/// configured with a longer timeout cannot make every other check of the poll miss too.
pub const MAX_PROBE_TIMEOUT_MS: u64 = 9_000;
/// How long a poll waits for its slowest probe before showing that check as slow (the probe goes
/// on, up to the check's own time-out): one slow check must not slow the refresh of the others.
pub const MEMBER_WAIT: Duration = Duration::from_millis(750);
/// At most this much of a body is read (to look for `body_contains`).
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The last probes of one check: latency (when an answer came) and whether it failed.
#[derive(Debug, Default)]
pub struct ProbeWindow {
    probes: VecDeque<(Option<f64>, bool)>,
}

impl ProbeWindow {
    pub fn push(&mut self, latency_ms: Option<f64>, failed: bool) {
        if self.probes.len() == WINDOW_PROBES {
            self.probes.pop_front();
        }
        self.probes.push_back((latency_ms, failed));
    }

    pub fn len(&self) -> usize {
        self.probes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// Nearest-rank percentile (0..=100) of the latencies of the probes that got an answer.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let mut l: Vec<f64> = self.probes.iter().filter_map(|(l, _)| *l).collect();
        if l.is_empty() {
            return None;
        }
        l.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * l.len() as f64).ceil().max(1.0) as usize;
        l.get(rank.min(l.len()) - 1).copied()
    }

    pub fn error_rate_percent(&self) -> f64 {
        if self.probes.is_empty() {
            return 0.0;
        }
        let failed = self.probes.iter().filter(|(_, f)| *f).count();
        100.0 * failed as f64 / self.probes.len() as f64
    }
}

/// nginx `stub_status` page, parsed. Rates are filled in by the caller from deltas.
pub fn parse_stub_status(text: &str) -> Result<NginxStatus, String> {
    let bad = || format!("not an nginx stub_status page: {:?}", text.trim());
    let words: Vec<&str> = text.split_whitespace().collect();
    let after = |label: &str| -> Result<u64, String> {
        let i = words.iter().position(|w| *w == label).ok_or_else(bad)?;
        words
            .get(i + 1)
            .and_then(|w| w.parse().ok())
            .ok_or_else(bad)
    };
    let counters = words
        .iter()
        .position(|w| *w == "requests")
        .ok_or_else(bad)?;
    let number = |k: usize| -> Result<u64, String> {
        words
            .get(counters + k)
            .and_then(|w| w.parse().ok())
            .ok_or_else(bad)
    };
    Ok(NginxStatus {
        active: after("connections:")?,
        accepts: number(1)?,
        handled: number(2)?,
        requests: number(3)?,
        reading: after("Reading:")?,
        writing: after("Writing:")?,
        waiting: after("Waiting:")?,
        requests_per_sec: None,
        error: None,
    })
}

struct Check {
    config: HealthEndpoint,
    timeout: Duration,
    client: Result<reqwest::Client, String>,
}

#[derive(Default)]
struct CheckState {
    window: ProbeWindow,
    last_probe_at: Option<TimeMs>,
    last: Option<HealthCheck>,
    /// A probe still running from an earlier poll (a slow check): when it started, and the
    /// task. Polls wait for it at most [`MEMBER_WAIT`]; its result is taken when it comes.
    inflight: Option<(Instant, tokio::task::JoinHandle<ProbeResult>)>,
    /// Previous `requests` counter and when it was read, for requests/s.
    nginx_prev: Option<(Instant, u64)>,
}

/// What one probe saw, before the window's statistics are added.
struct ProbeResult {
    index: usize,
    status_code: Option<u16>,
    latency_ms: Option<f64>,
    up: bool,
    error: Option<String>,
    cert_expiry_days: Option<f64>,
    nginx: Option<(Instant, Result<NginxStatus, String>)>,
}

pub struct HealthConnector {
    info: EndpointInfo,
    checks: Vec<Check>,
    state: Mutex<Vec<CheckState>>,
    clock: Arc<dyn Clock>,
}

impl HealthConnector {
    pub fn new(checks: &[HealthEndpoint], clock: Arc<dyn Clock>) -> Self {
        let checks: Vec<Check> = checks
            .iter()
            .map(|c| {
                let timeout = Duration::from_millis(c.timeout_ms.clamp(1, MAX_PROBE_TIMEOUT_MS));
                let tls = TlsOptions {
                    skip_verify: !c.tls_verify,
                    ca_file: c.ca_file.as_deref(),
                };
                Check {
                    config: c.clone(),
                    timeout,
                    client: http::client(timeout, &tls),
                }
            })
            .collect();
        let state = checks.iter().map(|_| CheckState::default()).collect();
        Self {
            info: EndpointInfo {
                id: HEALTH_ENDPOINT_ID.into(),
                label: format!("health checks ({})", checks.len()),
                area: Area::Health,
                demo: false,
            },
            checks,
            state: Mutex::new(state),
            clock,
        }
    }

    fn due(&self, now: TimeMs) -> Vec<usize> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.checks
            .iter()
            .zip(state.iter())
            .enumerate()
            .filter(|(_, (c, s))| {
                // Checks without an interval of their own are probed on every poll.
                let every = i64::from(c.config.interval_secs) * 1000;
                // Half a second of slack so a 1 s poll loop does not skip a 1 s check.
                s.inflight.is_none()
                    && s.last_probe_at
                        .is_none_or(|t| now - t >= every.saturating_sub(500))
            })
            .map(|(i, _)| i)
            .collect()
    }

    async fn poll_inner(&self) -> PollOutput {
        let now = self.clock.now_ms();
        let due = self.due(now);
        let deadline = tokio::time::Instant::now() + MEMBER_WAIT;
        // Start the due probes and take every running one out of the state (no lock is held
        // while waiting).
        let mut running = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for index in due {
                let check = &self.checks[index];
                let task = tokio::spawn(probe(
                    index,
                    check.config.clone(),
                    check.client.clone(),
                    check.timeout,
                    now,
                ));
                state[index].inflight = Some((Instant::now(), task));
            }
            for (index, s) in state.iter_mut().enumerate() {
                if let Some((started, task)) = s.inflight.take() {
                    running.push((index, started, task));
                }
            }
        }
        let mut results = Vec::new();
        let mut slow = Vec::new();
        for (index, started, mut task) in running {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(result)) => results.push(result),
                Ok(Err(_)) => {}
                Err(_) => slow.push((index, started, task)),
            }
        }
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for (index, started, task) in slow {
                let (Some(check), Some(s)) = (self.checks.get(index), state.get_mut(index)) else {
                    continue;
                };
                let note = format!(
                    "slow: no answer for {:.1} s yet (time-out {} ms)",
                    started.elapsed().as_secs_f32(),
                    check.timeout.as_millis()
                );
                let last = s.last.get_or_insert_with(|| HealthCheck {
                    name: check.config.name.clone(),
                    url: check.config.url.clone(),
                    group: check.config.group.clone(),
                    ..HealthCheck::default()
                });
                last.error = Some(note);
                last.in_flight = true;
                s.inflight = Some((started, task));
            }
        }
        let mut samples = Vec::new();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for r in results {
            let (Some(check), Some(s)) = (self.checks.get(r.index), state.get_mut(r.index)) else {
                continue;
            };
            s.window.push(r.latency_ms, !r.up);
            s.last_probe_at = Some(now);
            let nginx = r.nginx.map(|(read_at, status)| match status {
                Ok(mut n) => {
                    if let Some((prev_at, prev)) = s.nginx_prev {
                        let dt = read_at.duration_since(prev_at).as_secs_f64();
                        if dt > 0.0 && n.requests >= prev {
                            n.requests_per_sec = Some((n.requests - prev) as f64 / dt);
                        }
                    }
                    s.nginx_prev = Some((read_at, n.requests));
                    n
                }
                Err(error) => NginxStatus {
                    error: Some(error),
                    ..NginxStatus::default()
                },
            });
            let h = HealthCheck {
                name: check.config.name.clone(),
                url: check.config.url.clone(),
                group: check.config.group.clone(),
                up: r.up,
                status_code: r.status_code,
                latency_ms: r.latency_ms,
                p50_ms: s.window.percentile(50.0),
                p95_ms: s.window.percentile(95.0),
                p99_ms: s.window.percentile(99.0),
                error_rate_percent: s.window.error_rate_percent(),
                window_probes: s.window.len(),
                cert_expiry_days: r.cert_expiry_days,
                error: r.error,
                nginx,
                in_flight: false,
            };
            push_samples(&h, &mut samples);
            s.last = Some(h);
        }
        let list = state.iter().filter_map(|s| s.last.clone()).collect();
        PollOutput {
            snapshot: Snapshot::Health(list),
            samples,
            notices: Vec::new(),
        }
    }
}

fn push_samples(h: &HealthCheck, out: &mut Vec<Sample>) {
    let target = format!("{HEALTH_ENDPOINT_ID}/{}", h.name);
    let mut add = |metric: &'static str, value: Option<f64>| {
        if let Some(v) = value {
            out.push(Sample::new(target.clone(), metric, v));
        }
    };
    add("up", Some(if h.up { 1.0 } else { 0.0 }));
    add("latency_ms", h.latency_ms);
    add("p50_ms", h.p50_ms);
    add("p95_ms", h.p95_ms);
    add("p99_ms", h.p99_ms);
    add("error_rate_percent", Some(h.error_rate_percent));
    add("cert_expiry_days", h.cert_expiry_days);
    if let Some(n) = h.nginx.as_ref().filter(|n| n.error.is_none()) {
        add("nginx_active", Some(n.active as f64));
        add("nginx_reading", Some(n.reading as f64));
        add("nginx_writing", Some(n.writing as f64));
        add("nginx_waiting", Some(n.waiting as f64));
        add("requests_per_sec", n.requests_per_sec);
    }
}

/// One probe of one check (and its nginx status page), bounded by the check's timeout.
async fn probe(
    index: usize,
    config: HealthEndpoint,
    client: Result<reqwest::Client, String>,
    timeout: Duration,
    now: TimeMs,
) -> ProbeResult {
    let mut result = ProbeResult {
        index,
        status_code: None,
        latency_ms: None,
        up: false,
        error: None,
        cert_expiry_days: None,
        nginx: None,
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let nginx = async {
        let url = config.nginx_stub_status.as_deref()?;
        let status = tokio::time::timeout(timeout, fetch_text(&client, url))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())));
        Some((Instant::now(), status.and_then(|t| parse_stub_status(&t))))
    };
    let main = tokio::time::timeout(timeout, probe_url(&client, &config, now));
    let (main, nginx) = tokio::join!(main, nginx);
    result.nginx = nginx;
    match main {
        Ok(p) => {
            result.status_code = p.status_code;
            result.latency_ms = p.latency_ms;
            result.cert_expiry_days = p.cert_expiry_days;
            result.error = p.error;
            result.up = result.error.is_none();
        }
        Err(_) => {
            result.error = Some(format!("no answer within {} ms", timeout.as_millis()));
        }
    }
    result
}

struct UrlProbe {
    status_code: Option<u16>,
    latency_ms: Option<f64>,
    cert_expiry_days: Option<f64>,
    error: Option<String>,
}

async fn probe_url(client: &reqwest::Client, config: &HealthEndpoint, now: TimeMs) -> UrlProbe {
    let started = Instant::now();
    let mut out = UrlProbe {
        status_code: None,
        latency_ms: None,
        cert_expiry_days: None,
        error: None,
    };
    let mut response = match client.get(&config.url).send().await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(http::plain_error(&e));
            return out;
        }
    };
    out.cert_expiry_days = http::response_cert_expiry_days(&response, now);
    let status = response.status().as_u16();
    out.status_code = Some(status);
    let mut body: Vec<u8> = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() < MAX_BODY_BYTES {
                    body.extend_from_slice(&chunk);
                }
            }
            Ok(None) => break,
            Err(e) => {
                out.error = Some(http::plain_error(&e));
                return out;
            }
        }
    }
    out.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    if status != config.expected_status {
        out.error = Some(format!(
            "status {status}, expected {}",
            config.expected_status
        ));
    } else if let Some(needle) = &config.body_contains
        && !String::from_utf8_lossy(&body).contains(needle.as_str())
    {
        out.error = Some(format!("the response does not contain \"{needle}\""));
    }
    out
}

async fn fetch_text(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| http::plain_error(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("status page answered {status}"));
    }
    response.text().await.map_err(|e| http::plain_error(&e))
}

impl Connector for HealthConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        // A failed probe is a result (the check is down), never a failed poll.
        Box::pin(async move { Ok(self.poll_inner().await) })
    }

    fn execute<'a>(
        &'a self,
        _: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(async {
            Err(ConnectorError::Unsupported(
                "health checks only watch; they have no actions".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank_over_answered_probes() {
        let mut w = ProbeWindow::default();
        for ms in 1..=60 {
            w.push(Some(f64::from(ms)), false);
        }
        assert_eq!(w.percentile(50.0), Some(30.0));
        assert_eq!(w.percentile(95.0), Some(57.0));
        assert_eq!(w.percentile(99.0), Some(60.0));
        // Bounded: only the last WINDOW_PROBES count (41..=100 after 40 more).
        for ms in 61..=100 {
            w.push(Some(f64::from(ms)), false);
        }
        assert_eq!(w.len(), WINDOW_PROBES);
        assert_eq!(w.percentile(0.0), Some(41.0));
        assert_eq!(w.percentile(50.0), Some(70.0));
        // A failed probe without an answer counts in the error rate, not the latencies.
        w.push(None, true);
        assert!((w.error_rate_percent() - 100.0 / 60.0).abs() < 1e-9);
        assert_eq!(w.percentile(0.0), Some(42.0));
    }

    #[test]
    fn stub_status_is_parsed() {
        let text = "Active connections: 3 \nserver accepts handled requests\n 10 11 12 \nReading: 1 Writing: 2 Waiting: 0 \n";
        let n = parse_stub_status(text).unwrap();
        assert_eq!(
            (n.active, n.accepts, n.handled, n.requests),
            (3, 10, 11, 12)
        );
        assert_eq!((n.reading, n.writing, n.waiting), (1, 2, 0));
        assert!(parse_stub_status("<html>nope</html>").is_err());
    }
}
