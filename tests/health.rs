//! Health probes, nginx and Prometheus against real servers (Debian nginx-light, prometheus,
//! openssl), started by tests/support/web.rs on free loopback ports.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui_kittest::kittest::Queryable;
use scaleboard::app::{AppOptions, PanelId, ScaleboardApp};
use scaleboard::connectors::http_probe::HealthConnector;
use scaleboard::connectors::prometheus::{PROMETHEUS_ENDPOINT_ID, PrometheusConnector};
use scaleboard::connectors::{Connector, PollOutput};
use scaleboard::engine::{Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::metrics::SeriesKey;
use scaleboard::model::clock::{Clock, SystemClock};
use scaleboard::model::snapshot::{HealthCheck, PromSnapshot, Sample, Snapshot};
use scaleboard::profiles::{HealthEndpoint, Profile, ProfileStore, PromQuery, PrometheusEndpoint};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::web::{CERT_DAYS, Nginx, Prometheus};

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn check(name: &str, url: String) -> HealthEndpoint {
    HealthEndpoint {
        name: name.into(),
        url,
        ..HealthEndpoint::default()
    }
}

fn checks(out: &PollOutput) -> Vec<HealthCheck> {
    match &out.snapshot {
        Snapshot::Health(list) => list.clone(),
        other => panic!("not a health snapshot: {other:?}"),
    }
}

fn by_name<'a>(list: &'a [HealthCheck], name: &str) -> &'a HealthCheck {
    list.iter().find(|h| h.name == name).unwrap()
}

fn prom(out: &PollOutput) -> PromSnapshot {
    match &out.snapshot {
        Snapshot::Prometheus(p) => p.clone(),
        other => panic!("not a Prometheus snapshot: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_percentiles_come_from_real_responses() {
    let nginx = Nginx::start();
    let c = HealthConnector::new(
        &[
            check("fast", nginx.url("/fast")),
            check("slow", nginx.url("/slow/200")),
        ],
        clock(),
    );
    let mut last = None;
    for _ in 0..8 {
        last = Some(c.poll().await.unwrap());
    }
    let out = last.unwrap();
    let list = checks(&out);
    let slow = by_name(&list, "slow");
    let fast = by_name(&list, "fast");
    assert!(slow.up && fast.up, "{list:?}");
    assert_eq!(slow.window_probes, 8);
    let (p50, p95, p99) = (
        slow.p50_ms.unwrap(),
        slow.p95_ms.unwrap(),
        slow.p99_ms.unwrap(),
    );
    assert!(p50 >= 200.0 && p50 <= p95 && p95 <= p99, "{slow:?}");
    assert!(p99 < 1500.0, "{slow:?}");
    assert!(fast.p95_ms.unwrap() < 150.0, "{fast:?}");
    assert!(fast.p95_ms.unwrap() < p50, "{fast:?} vs {slow:?}");
    assert_eq!(slow.error_rate_percent, 0.0);
    // The plots' series: latency, p50/p95/p99 and the error rate per check.
    for metric in [
        "latency_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "error_rate_percent",
    ] {
        assert!(
            out.samples
                .iter()
                .any(|s| s.target == "health/slow" && s.metric == metric),
            "no {metric} sample"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_counts_as_an_error() {
    let nginx = Nginx::start();
    let c = HealthConnector::new(
        &[
            check("broken", nginx.url("/error")),
            HealthEndpoint {
                expected_status: 500,
                ..check("expects-500", nginx.url("/error"))
            },
            HealthEndpoint {
                body_contains: Some("\"status\":\"ok\"".into()),
                ..check("body-ok", nginx.url("/health"))
            },
            HealthEndpoint {
                body_contains: Some("ready".into()),
                ..check("body-missing", nginx.url("/health"))
            },
        ],
        clock(),
    );
    c.poll().await.unwrap();
    let list = checks(&c.poll().await.unwrap());
    let broken = by_name(&list, "broken");
    assert!(!broken.up);
    assert_eq!(broken.status_code, Some(500));
    assert_eq!(broken.error_rate_percent, 100.0);
    assert_eq!(broken.error.as_deref(), Some("status 500, expected 200"));
    assert!(broken.latency_ms.is_some(), "an answer has a latency");
    assert!(by_name(&list, "expects-500").up);
    assert!(by_name(&list, "body-ok").up);
    let missing = by_name(&list, "body-missing");
    assert!(!missing.up);
    assert!(missing.error.as_deref().unwrap().contains("\"ready\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_counts_as_down_without_stalling_the_others() {
    let nginx = Nginx::start();
    let c = HealthConnector::new(
        &[
            HealthEndpoint {
                timeout_ms: 300,
                ..check("hanging", nginx.url("/slow/5000"))
            },
            HealthEndpoint {
                timeout_ms: 300,
                ..check("fast", nginx.url("/fast"))
            },
        ],
        clock(),
    );
    let started = Instant::now();
    let out = c.poll().await.unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "the poll waited {took:?} for a probe with a 300 ms limit"
    );
    let list = checks(&out);
    let hanging = by_name(&list, "hanging");
    assert!(!hanging.up);
    assert_eq!(hanging.latency_ms, None);
    assert_eq!(hanging.error_rate_percent, 100.0);
    assert!(
        hanging.error.as_deref().unwrap().contains("no answer"),
        "{hanging:?}"
    );
    assert!(by_name(&list, "fast").up);
    // Down is plotted: `up` is 0 and no latency sample is invented.
    let hanging_samples: Vec<&Sample> = out
        .samples
        .iter()
        .filter(|s| s.target == "health/hanging")
        .collect();
    assert!(
        hanging_samples
            .iter()
            .any(|s| s.metric == "up" && s.value == 0.0)
    );
    assert!(!hanging_samples.iter().any(|s| s.metric == "latency_ms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_expiry_is_read_from_a_self_made_certificate() {
    let nginx = Nginx::start();
    let url = format!("https://127.0.0.1:{}/", nginx.https_port);
    let c = HealthConnector::new(
        &[
            HealthEndpoint {
                ca_file: Some(nginx.certs.ca_pem.clone()),
                ..check("trusted", url.clone())
            },
            check("untrusted", url.clone()),
            HealthEndpoint {
                tls_verify: false,
                ..check("unverified", url)
            },
        ],
        clock(),
    );
    let list = checks(&c.poll().await.unwrap());
    let trusted = by_name(&list, "trusted");
    assert!(trusted.up, "{trusted:?}");
    let days = trusted.cert_expiry_days.unwrap();
    let expected = f64::from(CERT_DAYS);
    assert!(
        (expected - 1.0..=expected + 0.01).contains(&days),
        "expiry {days} days, made for {CERT_DAYS}"
    );
    // Verification is on by default: an unknown CA is refused, in words.
    let untrusted = by_name(&list, "untrusted");
    assert!(!untrusted.up);
    let why = untrusted.error.as_deref().unwrap().to_lowercase();
    assert!(
        why.contains("certificate") || why.contains("issuer"),
        "{why}"
    );
    // Turned off, the probe passes and the expiry is still read.
    let unverified = by_name(&list, "unverified");
    assert!(unverified.up, "{unverified:?}");
    assert!(unverified.cert_expiry_days.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_stub_status_gives_connections_and_requests_per_second() {
    let nginx = Nginx::start();
    let c = HealthConnector::new(
        &[HealthEndpoint {
            nginx_stub_status: Some(nginx.url("/nginx_status")),
            group: Some("lb".into()),
            ..check("lb", nginx.url("/fast"))
        }],
        clock(),
    );
    let first = checks(&c.poll().await.unwrap());
    let n = first[0].nginx.clone().unwrap();
    assert_eq!(n.error, None);
    assert!(n.active >= 1 && n.requests >= 1, "{n:?}");
    assert_eq!(n.requests_per_sec, None, "no rate before a second reading");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = c.poll().await.unwrap();
    let n = checks(&out)[0].nginx.clone().unwrap();
    let rate = n.requests_per_sec.unwrap();
    assert!(rate > 0.0 && rate < 1000.0, "{rate}");
    assert!(
        out.samples
            .iter()
            .any(|s| s.target == "health/lb" && s.metric == "requests_per_sec")
    );
    assert!(out.samples.iter().any(|s| s.metric == "nginx_active"));
}

fn prom_endpoint(url: String, queries: Vec<PromQuery>) -> PrometheusEndpoint {
    PrometheusEndpoint {
        name: "main".into(),
        url,
        queries,
        history_secs: 120,
        ..PrometheusEndpoint::default()
    }
}

fn query(name: &str, expr: &str) -> PromQuery {
    PromQuery {
        name: name.into(),
        expr: expr.into(),
        unit: "x".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_range_fills_history_then_instant_queries_extend_it() {
    let p = Prometheus::shared();
    p.wait_for_scrape();
    std::thread::sleep(Duration::from_millis(1500)); // a second scrape, for two range points
    let c = PrometheusConnector::new(&prom_endpoint(p.url(), vec![query("up", "up")]), clock());
    let before = SystemClock.now_ms();
    let first = c.poll().await.unwrap();
    let snap = prom(&first);
    assert_eq!(snap.queries[0].error, None);
    let series = &snap.queries[0].series;
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(series[0].labels.starts_with("up{"), "{}", series[0].labels);
    // The range: several points, at Prometheus's timestamps one step (1 s for 120 s) apart,
    // all in the past.
    let ts: Vec<i64> = first.samples.iter().map(|s| s.at.unwrap()).collect();
    assert!(ts.len() >= 2, "range gave {ts:?}");
    assert!(ts.windows(2).all(|w| w[1] - w[0] == 1000), "{ts:?}");
    assert!(*ts.last().unwrap() <= before + 1000);
    assert!(first.samples.iter().all(|s| s.value == 1.0));
    // Then instant queries: one new point per series, not the range again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = c.poll().await.unwrap();
    assert_eq!(second.samples.len(), 1, "{:?}", second.samples);
    let t2 = second.samples[0].at.unwrap();
    assert!(t2 > *ts.last().unwrap() + 900, "{t2} after {ts:?}");
    assert_eq!(
        second.samples[0].target,
        format!("{PROMETHEUS_ENDPOINT_ID}/up/{}", series[0].labels)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_promql_query_shows_prometheus_own_error_text() {
    let p = Prometheus::shared();
    let c = PrometheusConnector::new(
        &prom_endpoint(
            p.url(),
            vec![query("good", "vector(1)"), query("bad", "sum(rate(up[1m]")],
        ),
        clock(),
    );
    let snap = prom(&c.poll().await.unwrap());
    let good = snap.queries.iter().find(|q| q.name == "good").unwrap();
    assert_eq!(good.error, None);
    assert_eq!(good.series.len(), 1);
    let bad = snap.queries.iter().find(|q| q.name == "bad").unwrap();
    let text = bad.error.as_deref().unwrap();
    // Prometheus's words, e.g. `bad_data: invalid parameter "query": 1:17: parse error: ...`.
    assert!(text.contains("parse error"), "{text}");
    assert!(text.starts_with("bad_data"), "{text}");
    let line = scaleboard::connectors::summary(&Snapshot::Prometheus(snap.clone()));
    assert!(line.contains("parse error"), "{line}");
}

/// The whole path: a saved profile with health checks, nginx counters and Prometheus queries,
/// opened in the app: samples reach the metric store at their own timestamps, a query error is
/// told once, and the health panel draws it all.
#[test]
fn a_profile_shows_live_checks_and_prometheus_series_in_the_app() {
    let nginx = Nginx::start();
    let p = Prometheus::shared();
    p.wait_for_scrape();
    std::thread::sleep(Duration::from_secs(2)); // history that predates the connection
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    let mut profile = Profile::named("web");
    profile.refresh_interval_secs = 1;
    profile.health = vec![
        HealthEndpoint {
            group: Some("lb".into()),
            nginx_stub_status: Some(nginx.url("/nginx_status")),
            ..check("front", nginx.url("/fast"))
        },
        HealthEndpoint {
            group: Some("lb".into()),
            ..check("replica-slow", nginx.url("/slow/50"))
        },
        HealthEndpoint {
            group: Some("lb".into()),
            ..check("replica-broken", nginx.url("/error"))
        },
    ];
    profile.prometheus = Some(prom_endpoint(
        p.url(),
        vec![query("up", "up"), query("bad", "rate(")],
    ));
    assert!(scaleboard::profiles::validate_profile(&profile).is_empty());
    ProfileStore::load(&config_dir).upsert(profile).unwrap();
    let store = ProfileStore::load(&config_dir);
    let connected_at = SystemClock.now_ms();
    let options = AppOptions {
        engine: EngineConfig::new(clock(), config_dir, dir.path().join("data")),
        demo_seed: 1,
        profile: Some("web".into()),
        force_demo: false,
        started: None,
    };
    let app = ScaleboardApp::new(options, &store).unwrap();
    let mut harness = egui_kittest::Harness::builder()
        .with_size([1400.0, 1400.0])
        .build_ui_state(
            |ui, app: &mut ScaleboardApp| {
                let ctx = ui.ctx().clone();
                app.logic_tick(&ctx);
                scaleboard::ui::root_ui(app, ui);
            },
            app,
        );
    harness.state_mut().view.panel = PanelId::Health;
    let deadline = Instant::now() + Duration::from_secs(20);
    let up_key = |app: &ScaleboardApp| {
        app.store
            .keys()
            .find(|k| k.target.starts_with("prometheus/up/up{"))
            .cloned()
    };
    loop {
        harness.step();
        let app = harness.state();
        let ready = up_key(app)
            .is_some_and(|k| app.store.latest(&k).is_some_and(|(t, _)| t >= connected_at))
            && app
                .store
                .latest(&SeriesKey::new("health/front", "requests_per_sec"))
                .is_some();
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "no live series in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    let app = harness.state();
    let key = up_key(app).unwrap();
    // History from the range query sits before the connection; live points after it.
    let down = app.store.downsample(
        &key,
        connected_at - 130_000..SystemClock.now_ms() + 1,
        10_000,
    );
    let xs: Vec<f64> = down.segments.iter().flatten().map(|[x, _]| *x).collect();
    assert!(
        xs.first().unwrap() * 1000.0 < (connected_at - 1000) as f64,
        "no history before {connected_at}: {xs:?}"
    );
    assert!(xs.last().unwrap() * 1000.0 >= connected_at as f64);
    // Health checks: group members, the 500 as an error, the query error told once.
    let list: Vec<HealthCheck> = app.fleet.health_checks().map(|(_, h)| h.clone()).collect();
    assert_eq!(list.len(), 3);
    assert!(!by_name(&list, "replica-broken").up);
    let told: Vec<&str> = app
        .notifications
        .list
        .iter()
        .map(|n| n.text.as_str())
        .filter(|t| t.contains("Prometheus query \"bad\""))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("parse error"), "{told:?}");
    // The panel shows the group, the nginx counters and the Prometheus plot.
    harness.step();
    harness.get_by_label("lb: 2/3 healthy");
    assert!(
        harness
            .query_all_by_label_contains("requests/s")
            .next()
            .is_some()
    );
    harness.get_by_label("up (x)");
    assert!(
        harness
            .query_all_by_label_contains("parse error")
            .next()
            .is_some()
    );
}

#[test]
fn prometheus_down_goes_stale_then_recovers() {
    let mut p = Prometheus::start();
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig::new(clock(), dir.path().join("config"), dir.path().join("data"));
    let mut engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    let mut profile = Profile::named("prom");
    profile.refresh_interval_secs = 1;
    profile.prometheus = Some(prom_endpoint(p.url(), vec![query("one", "vector(1)")]));
    engine
        .send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 1,
        })))
        .unwrap();
    let wait_status = |engine: &mut EngineHandle, want: ConnStatus| -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut error = None;
        while Instant::now() < deadline {
            if let Some(Event::Status {
                endpoint,
                status,
                error: e,
                ..
            }) = engine.recv_timeout(Duration::from_millis(200))
            {
                assert_eq!(endpoint, PROMETHEUS_ENDPOINT_ID);
                error = error.or(e);
                if status == want {
                    return error;
                }
            }
        }
        panic!("Prometheus endpoint never became {want:?}");
    };
    wait_status(&mut engine, ConnStatus::Ok);
    p.stop();
    let error = wait_status(&mut engine, ConnStatus::Stale).unwrap();
    assert!(
        error.starts_with(&format!("cannot reach {}", p.url())),
        "{error}"
    );
    p.restart();
    wait_status(&mut engine, ConnStatus::Ok);
}

/// One slow check (3 s to answer, 3.5 s time-out) does not slow the four fast ones: every poll
/// returns within the member wait with their fresh probes, the slow one is shown as slow while
/// its probe runs on, and its answer is taken by a later poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_check_does_not_slow_the_others() {
    let nginx = Nginx::start();
    let mut configs: Vec<HealthEndpoint> = (0..4)
        .map(|i| check(&format!("fast-{i}"), nginx.url("/fast")))
        .collect();
    configs.push(HealthEndpoint {
        timeout_ms: 3_500,
        ..check("slow", nginx.url("/slow/3000"))
    });
    let c = HealthConnector::new(&configs, clock());
    let started = Instant::now();
    let mut polls = 0;
    let mut saw_slow_note = false;
    let mut slow_answered = None;
    while started.elapsed() < Duration::from_secs(8) && slow_answered.is_none() {
        let t = Instant::now();
        let out = c.poll().await.unwrap();
        let took = t.elapsed();
        polls += 1;
        assert!(took < Duration::from_millis(1_500), "a poll took {took:?}");
        let list = checks(&out);
        for i in 0..4 {
            let fast = by_name(&list, &format!("fast-{i}"));
            assert!(fast.up && fast.error.is_none(), "{fast:?}");
        }
        let slow = by_name(&list, "slow");
        match &slow.error {
            Some(e) if e.starts_with("slow: no answer for") => saw_slow_note = true,
            None if slow.up => slow_answered = slow.latency_ms,
            other => panic!("unexpected slow check state {other:?}: {slow:?}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(saw_slow_note, "the slow check was never shown as slow");
    let latency = slow_answered.expect("the slow check's answer never arrived");
    assert!(latency >= 3_000.0, "{latency}");
    assert!(polls >= 4, "only {polls} polls while the slow probe ran");
}
