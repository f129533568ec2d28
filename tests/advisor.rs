//! The scaling advisor against real servers (thresholds and durations shortened in the test
//! profile), and `scaleboard advise`'s exit codes.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::advisor::{AlertState, RuleConfig};
use scaleboard::cli::advise::Session;
use scaleboard::profiles::model::{
    HealthEndpoint, MIB, PostgresEndpoint, QueuePreset, RedisEndpoint, RedisQueue,
};
use scaleboard::profiles::{AppDirs, Profile};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::postgres::PgCluster;
use support::redis::RedisServer;

fn dirs(dir: &tempfile::TempDir) -> AppDirs {
    AppDirs {
        config_dir: dir.path().join("config"),
        data_dir: dir.path().join("data"),
    }
}

fn profile(name: &str) -> Profile {
    let mut p = Profile::named(name);
    p.refresh_interval_secs = 1;
    p
}

/// Samples until `done` holds for the session's advisor, or panics after `timeout`.
fn sample_until(s: &mut Session, timeout: Duration, what: &str, done: impl Fn(&Session) -> bool) {
    let deadline = Instant::now() + timeout;
    while !done(s) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for: {what}; alerts: {:?}",
            s.advisor.book.sorted()
        );
        s.sample_for(Duration::from_millis(500));
    }
}

#[test]
fn a_redis_list_above_1000_jobs_fires_queue_length() {
    let server = RedisServer::start(&[]);
    let jobs: Vec<String> = (0..1200).map(|i| format!("job{i}")).collect();
    server.pipe(&format!("RPUSH celery {}\n", jobs.join(" ")));
    let mut p = profile("redis-advice");
    p.redis.push(RedisEndpoint {
        name: "jobs".into(),
        url: server.url(),
        password: None,
        queues: vec![RedisQueue {
            preset: QueuePreset::Celery,
            name: "celery".into(),
            ..RedisQueue::default()
        }],
    });
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(&dirs(&dir), p).unwrap();
    sample_until(
        &mut s,
        Duration::from_secs(20),
        "queue-length firing",
        |s| s.advisor.book.firing().any(|a| a.rule_id == "queue-length"),
    );
    let alert = s
        .advisor
        .book
        .firing()
        .find(|a| a.rule_id == "queue-length")
        .unwrap();
    assert!(alert.target.ends_with("/celery"), "{}", alert.target);
    assert_eq!(alert.value, 1200.0);
    let report = s.report(Duration::from_secs(5));
    assert_eq!(report.exit_code, 1, "a warning exits 1: {report:?}");
    assert!(report.firing.iter().any(|a| a.rule == "queue-length"));
    // Drained below the threshold (by more than the hysteresis), the alert resolves.
    server.cli(&["LTRIM", "celery", "0", "99"]).unwrap();
    sample_until(
        &mut s,
        Duration::from_secs(20),
        "queue-length resolved",
        |s| s.advisor.book.firing().all(|a| a.rule_id != "queue-length"),
    );
    assert!(
        s.advisor
            .book
            .history()
            .any(|t| t.rule_id == "queue-length" && t.state == AlertState::Resolved)
    );
}

#[test]
fn postgres_with_25_of_30_connections_held_fires_connections_above_80_percent() {
    let cluster = PgCluster::start(0);
    cluster.psql(
        cluster.primary.port,
        "ALTER SYSTEM SET max_connections = 30",
    );
    cluster.stop(&cluster.primary, "fast");
    cluster.start_again(&cluster.primary);
    assert_eq!(
        cluster.psql(cluster.primary.port, "SHOW max_connections"),
        "30"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dsn = cluster
        .primary
        .dsn()
        .replace("application_name=primary", "application_name=holder");
    let held: Vec<tokio_postgres::Client> = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..25 {
            let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            held.push(client);
        }
        held
    });
    let mut p = profile("pg-advice");
    p.postgres.push(PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: Vec::new(),
        password: None,
        max_failover_lag_bytes: MIB,
    });
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(&dirs(&dir), p).unwrap();
    sample_until(
        &mut s,
        Duration::from_secs(30),
        "db-connections firing",
        |s| {
            s.advisor
                .book
                .firing()
                .any(|a| a.rule_id == "db-connections")
        },
    );
    let alert = s
        .advisor
        .book
        .firing()
        .find(|a| a.rule_id == "db-connections")
        .unwrap();
    assert!(
        alert.value > 80.0 && alert.value <= 100.0,
        "{}",
        alert.value
    );
    let report = s.report(Duration::from_secs(5));
    assert_eq!(report.exit_code, 2, "critical exits 2: {report:?}");
    let row = report
        .firing
        .iter()
        .find(|a| a.rule == "db-connections")
        .unwrap();
    assert!(
        row.proposal
            .contains("Add a read replica or a connection pooler"),
        "{}",
        row.proposal
    );
    assert!(row.action.is_none(), "advice only, nothing to apply");
    drop(held);
}

/// An HTTP endpoint whose answers take `delay_ms` (switchable while it runs).
struct SlowServer {
    port: u16,
    delay_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl SlowServer {
    fn start(delay_ms: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay = Arc::new(AtomicU64::new(delay_ms));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, f) = (Arc::clone(&delay), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if f.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let ms = d.load(Ordering::SeqCst);
                std::thread::spawn(move || answer(conn, ms));
            }
        });
        Self {
            port,
            delay_ms: delay,
            stop,
        }
    }
}

fn answer(mut conn: TcpStream, ms: u64) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    std::thread::sleep(Duration::from_millis(ms));
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
    );
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn a_health_endpoint_answering_in_2_5_s_fires_response_time_above_2_s_then_resolves() {
    let server = SlowServer::start(2500);
    let mut p = profile("slow-web");
    p.health.push(HealthEndpoint {
        name: "api".into(),
        url: format!("http://127.0.0.1:{}/health", server.port),
        timeout_ms: 8000,
        ..HealthEndpoint::default()
    });
    // The guides' rule, shortened: response time above 2 s on average for 6 s.
    p.rules.push(RuleConfig {
        id: "response-time".into(),
        threshold: Some(2000.0),
        duration_secs: Some(6),
        ..RuleConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(&dirs(&dir), p).unwrap();
    let started = Instant::now();
    sample_until(
        &mut s,
        Duration::from_secs(40),
        "response-time pending",
        |s| {
            s.advisor
                .book
                .active()
                .any(|a| a.rule_id == "response-time")
        },
    );
    sample_until(
        &mut s,
        Duration::from_secs(40),
        "response-time firing",
        |s| {
            s.advisor
                .book
                .firing()
                .any(|a| a.rule_id == "response-time")
        },
    );
    // Not before its duration was covered by samples.
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "fired after {:?}",
        started.elapsed()
    );
    let alert = s
        .advisor
        .book
        .firing()
        .find(|a| a.rule_id == "response-time")
        .unwrap();
    assert!(alert.value > 2000.0, "{}", alert.value);
    assert!(alert.started < alert.since, "pending came before firing");
    server.delay_ms.store(0, Ordering::SeqCst);
    sample_until(
        &mut s,
        Duration::from_secs(40),
        "response-time resolved",
        |s| {
            s.advisor
                .book
                .active()
                .all(|a| a.rule_id != "response-time")
        },
    );
    let states: Vec<AlertState> = s
        .advisor
        .book
        .history()
        .filter(|t| t.rule_id == "response-time")
        .map(|t| t.state)
        .collect();
    assert_eq!(
        states,
        [
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Resolved
        ]
    );
}

#[test]
fn advise_on_the_demo_fleet_fires_within_the_first_minute_and_exits_by_severity() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .args(["advise", "--demo", "--json", "--window", "4s"])
        .env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let firing = json["firing"].as_array().unwrap();
    assert!(!firing.is_empty(), "{json:#}");
    let worst = firing
        .iter()
        .map(|a| if a["severity"] == "critical" { 2 } else { 1 })
        .max()
        .unwrap();
    assert_eq!(out.status.code(), Some(worst), "{json:#}");
    assert_eq!(json["exit_code"].as_i64(), Some(i64::from(worst)));
    // The queue's scale up of the demo cluster's queue-worker says whether it fits, with the
    // fit check's verdict; its words are in the recommendation.
    let scale_up = firing
        .iter()
        .find(|a| a["rule"] == "queue-length")
        .unwrap_or_else(|| panic!("{json:#}"));
    let fit = &scale_up["fit"];
    assert!(fit["fits"].is_boolean(), "{json:#}");
    assert!(
        fit["verdict"].as_str().unwrap().contains("new replicas"),
        "{json:#}"
    );
    assert!(
        scale_up["proposal"]
            .as_str()
            .unwrap()
            .contains(fit["fit"].as_str().unwrap()),
        "{json:#}"
    );
    // The demo's simulated nginx has a drift: a warning that names the upstream and counts.
    let drift = firing
        .iter()
        .find(|a| a["rule"] == "lb-drift")
        .unwrap_or_else(|| panic!("no lb-drift: {json:#}"));
    assert_eq!(drift["severity"], "warning", "{json:#}");
    assert_eq!(
        drift["target"],
        "demo-staging/demo-staging/service/api/staging_api"
    );
    assert!(
        drift["proposal"].as_str().unwrap().starts_with(
            "nginx demo-lb (DEMO), upstream staging_api: 1 of 2 replicas not behind it, 1 listed \
             server without a replica"
        ),
        "{json:#}"
    );
    assert!(drift["action"].is_null(), "{json:#}");
    // Rules whose duration the handed-over history cannot cover say so instead of guessing.
    assert!(
        json["not_judged"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["rule"] == "response-time"),
        "{json:#}"
    );
}

#[test]
fn the_readme_advisor_example_loads_without_an_error() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let start = readme
        .find("## The scaling advisor")
        .expect("advisor section");
    let section = &readme[start..];
    let block = section.split("```toml\n").nth(1).unwrap();
    let block = &block[..block.find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("profiles.toml"), block).unwrap();
    let store = scaleboard::profiles::ProfileStore::load(dir.path());
    assert!(store.damaged().is_none(), "{block}");
    assert!(store.issues().is_empty(), "{:?}", store.issues());
    let p = &store.profiles()[0];
    assert_eq!(p.rules.len(), 4);
    assert!(!p.advisor.notifications);
    let rules =
        scaleboard::advisor::rules::merge_rules(scaleboard::advisor::default_rules(), &p.rules);
    assert!(
        rules
            .iter()
            .any(|r| r.id == "replica-lag" && r.threshold == 30.0)
    );
    assert!(
        rules
            .iter()
            .any(|r| r.id == "pool-queue" && r.selector.metric == "clients_waiting")
    );
    // A typo in a key is refused with a "did you mean".
    let typo = block.replace("duration_secs = 600", "duraton_secs = 600");
    std::fs::write(dir.path().join("profiles.toml"), typo).unwrap();
    let store = scaleboard::profiles::ProfileStore::load(dir.path());
    let issues = format!("{:?}", store.issues());
    assert!(issues.contains("duration_secs"), "{issues}");
}

#[test]
fn profile_rules_and_advisor_settings_survive_a_save_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = scaleboard::profiles::ProfileStore::load(dir.path());
    let mut p = Profile::named("prod");
    p.advisor.notifications = false;
    p.rules.push(RuleConfig {
        id: "cpu-high".into(),
        threshold: Some(75.0),
        aggregation: Some(scaleboard::advisor::Aggregation::All),
        ..RuleConfig::default()
    });
    store.upsert(p.clone()).unwrap();
    let text = std::fs::read_to_string(dir.path().join("profiles.toml")).unwrap();
    assert!(text.contains("[[profile.rules]]"), "{text}");
    assert!(text.contains("aggregation = \"all\""), "{text}");
    let again = scaleboard::profiles::ProfileStore::load(dir.path());
    assert_eq!(again.get("prod"), Some(&p));
}

/// A profile reading `prom`, with "every scrape target up for 3 s" as a rule of its own,
/// served by PromQL (critical when it fires).
fn targets_up_profile(name: &str, prom: &support::web::Prometheus) -> Profile {
    use scaleboard::profiles::model::PrometheusEndpoint;
    let mut p = profile(name);
    p.prometheus = Some(PrometheusEndpoint {
        name: "prom".into(),
        url: prom.url(),
        ..PrometheusEndpoint::default()
    });
    p.rules.push(RuleConfig {
        id: "targets-up".into(),
        metric: Some("up".into()),
        query: Some("up".into()),
        comparison: Some(scaleboard::advisor::Comparison::Above),
        threshold: Some(0.5),
        duration_secs: Some(3),
        aggregation: Some(scaleboard::advisor::Aggregation::All),
        severity: Some(scaleboard::advisor::Severity::Critical),
        ..RuleConfig::default()
    });
    p
}

#[test]
fn a_rule_with_a_prometheus_query_is_judged_on_the_servers_series() {
    let prom = support::web::Prometheus::start();
    prom.wait_for_scrape();
    let p = targets_up_profile("prom-advice", &prom);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start(&dirs(&dir), p).unwrap();
    sample_until(&mut s, Duration::from_secs(30), "targets-up firing", |s| {
        s.advisor.book.firing().any(|a| a.rule_id == "targets-up")
    });
    let alert = s
        .advisor
        .book
        .firing()
        .find(|a| a.rule_id == "targets-up")
        .unwrap();
    assert!(
        alert.target.starts_with("prometheus/advisor-targets-up/"),
        "{}",
        alert.target
    );
    assert_eq!(alert.value, 1.0);
    assert_eq!(s.report(Duration::from_secs(5)).exit_code, 2);
}

/// A profile whose only endpoint is a dead port: nothing can fire, and "nothing firing" (exit 0)
/// would be a lie — `advise` lists the endpoint as not judged and exits 3 (unknown).
#[test]
fn advise_exits_unknown_when_the_endpoint_is_down() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut p = profile("dead");
    p.redis.push(RedisEndpoint {
        name: "jobs".into(),
        url: format!("redis://127.0.0.1:{port}"),
        password: None,
        queues: vec![RedisQueue {
            preset: QueuePreset::Celery,
            name: "celery".into(),
            ..RedisQueue::default()
        }],
    });
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(p).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .args(["advise", "--profile", "dead", "--json", "--window", "4s"])
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} / {}", String::from_utf8_lossy(&out.stderr)));
    assert!(json["firing"].as_array().unwrap().is_empty(), "{json:#}");
    assert_eq!(out.status.code(), Some(3), "{json:#}");
    assert_eq!(json["exit_code"].as_i64(), Some(3));
    let silent = json["endpoints_not_judged"].as_array().unwrap();
    assert!(!silent.is_empty(), "{json:#}");
    assert!(
        json["not_judged"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["rule"] == "queue-length"),
        "{json:#}"
    );
    // The same in words.
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .args(["advise", "--profile", "dead", "--window", "3s"])
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(3), "{words}");
    assert!(words.contains("NOT JUDGED endpoint"), "{words}");
}

/// `advise` on a Prometheus-backed rule answers from the server's history at once: it does not
/// sample for its --window (10 minutes here) when Prometheus already holds the rule's duration.
#[test]
fn advise_answers_at_once_from_prometheus_history() {
    let prom = support::web::Prometheus::start();
    prom.wait_for_scrape();
    // More than the rule's 3 s of scrapes (one a second) in Prometheus before `advise` starts.
    std::thread::sleep(Duration::from_secs(6));
    let p = targets_up_profile("prom-at-once", &prom);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(p).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .args([
            "advise",
            "--profile",
            "prom-at-once",
            "--json",
            "--window",
            "10m",
        ])
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} / {stderr}"));
    assert_eq!(out.status.code(), Some(2), "{json:#}\n{stderr}");
    assert!(
        json["firing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "targets-up"),
        "{json:#}"
    );
    // Judged on the history it was handed, not on samples it waited for.
    assert!(json["sampled_secs"].as_u64().unwrap() < 3, "{json:#}");
    assert!(!stderr.contains("sampling"), "{stderr}");
}
