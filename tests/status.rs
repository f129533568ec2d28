//! `scaleboard status` tells the truth against real servers: exit code 0 only when everything
//! is ok, 1 when something is degraded or down, and `--json` names every failing member —
//! PostgreSQL (primary + replica), Redis (a queue store is not judged as a cache) and health
//! checks served by a real nginx.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::profiles::{HealthEndpoint, PostgresEndpoint, Profile, RedisEndpoint};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::postgres::PgCluster;
use support::redis::RedisServer;
use support::web::{Nginx, free_port};

fn check(name: &str, url: String) -> HealthEndpoint {
    HealthEndpoint {
        name: name.into(),
        url,
        ..HealthEndpoint::default()
    }
}

/// Saves the profile and runs `scaleboard status --profile fleet --json`: (exit code, reports).
fn status(config: &Path, profile: &Profile) -> (i32, Vec<Value>) {
    let mut store = scaleboard::profiles::ProfileStore::load(config);
    store.upsert(profile.clone()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", config)
        .env_remove("SCALEBOARD_DATA_DIR")
        .args(["status", "--profile", "fleet", "--json", "--timeout", "15"])
        .output()
        .unwrap();
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap(),
        reports.as_array().unwrap().clone(),
    )
}

fn report<'a>(reports: &'a [Value], endpoint: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no report for {endpoint}: {reports:#?}"))
}

fn reasons(r: &Value) -> Vec<String> {
    r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn member<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no member {name}: {r:#}"))
}

#[test]
fn status_exit_codes_and_reasons_follow_the_fleet() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let nginx = Nginx::start();
    let redis = RedisServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();

    let mut profile = Profile::named("fleet");
    profile.postgres.push(PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: vec![cluster.replicas[0].dsn()],
        password: None,
        max_failover_lag_bytes: scaleboard::profiles::model::MIB,
    });
    profile.health = vec![
        check("web-a", nginx.url("/fast")),
        check("web-b", nginx.url("/fast")),
    ];
    // Used for queues only: a hit ratio of 0 % (no lookups at all) is no cache problem.
    let mut queues = RedisEndpoint {
        name: "jobs".into(),
        url: redis.url(),
        password: None,
        queues: Vec::new(),
    };
    queues.queues.push(scaleboard::profiles::model::RedisQueue {
        name: "emails".into(),
        ..Default::default()
    });
    profile.redis.push(queues);
    redis.cli(&["GET", "missing-1"]).unwrap();
    redis.cli(&["GET", "missing-2"]).unwrap();

    // 1. Everything answers and nothing crosses a threshold.
    let (code, reports) = status(&config, &profile);
    for r in &reports {
        assert_eq!(r["status"], "ok", "{r:#}");
    }
    assert_eq!(code, 0, "{reports:#?}");

    // 2. One of two health checks fails: degraded, and the failing check is named.
    let closed = free_port();
    profile.health[1] = check("web-b", format!("http://127.0.0.1:{closed}/health"));
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let health = reports
        .iter()
        .find(|r| {
            r["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "web-b")
        })
        .unwrap_or_else(|| panic!("{reports:#?}"));
    assert_eq!(health["status"], "degraded");
    assert!(
        reasons(health)[0].starts_with("1 of 2 checks DOWN: web-b ("),
        "{health:#}"
    );
    assert_eq!(member(health, "web-b")["state"], "down");
    assert_eq!(member(health, "web-a")["state"], "ok");
    profile.health[1] = check("web-b", nginx.url("/fast"));

    // 3. Connections over the profile's threshold: degraded with the numbers.
    profile.thresholds.connections_percent = 0.5;
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let pg = report(&reports, "orders");
    assert_eq!(pg["status"], "degraded", "{pg:#}");
    assert!(
        reasons(pg)
            .iter()
            .any(|r| r.starts_with("primary: ") && r.contains("connections (")),
        "{pg:#}"
    );
    profile.thresholds.connections_percent = 80.0;

    // 4. A member down: the replica stops; the endpoint answers, degraded, naming it.
    cluster.stop(&cluster.replicas[0], "fast");
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let pg = report(&reports, "orders");
    assert_eq!(pg["status"], "degraded", "{pg:#}");
    assert_eq!(member(pg, "replica_a")["state"], "down");
    assert_eq!(member(pg, "primary")["state"], "ok");

    // 5. No primary: the primary stops too and the replica answers again.
    cluster.start_again(&cluster.replicas[0]);
    cluster.stop(&cluster.primary, "fast");
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let pg = report(&reports, "orders");
    assert_eq!(pg["status"], "degraded", "{pg:#}");
    assert_eq!(reasons(pg)[0], "no primary answers", "{pg:#}");
    assert_eq!(member(pg, "primary")["state"], "down");
    assert_eq!(member(pg, "replica_a")["state"], "ok");
}
