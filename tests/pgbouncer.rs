//! The PgBouncer connector, health, `scaleboard status` and the Databases panel against a real
//! PgBouncer 1.18 (`support::pgbouncer`) in front of a real PostgreSQL 15 (`support::postgres`).
//! Saturation is made for real: more clients in `pg_sleep` than `default_pool_size` allows.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::connectors::Connector;
use scaleboard::connectors::pgbouncer::PgbouncerConnector;
use scaleboard::health::{HealthState, Reachability, assess_endpoint, assess_snapshot};
use scaleboard::metrics::SeriesKey;
use scaleboard::model::error::ConnectorError;
use scaleboard::model::pgbouncer::{PgbouncerSnapshot, PoolLimitSource};
use scaleboard::model::snapshot::{Sample, Snapshot};
use scaleboard::profiles::{PgbouncerEndpoint, Profile, Thresholds};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::pgbouncer::{ADMIN_PASSWORD, ADMIN_USER, APP_DB, APP_USER, Pgbouncer};
use support::postgres::PgCluster;

const POOL: &str = "appdb/postgres";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn endpoint(bouncer: &Pgbouncer) -> PgbouncerEndpoint {
    PgbouncerEndpoint {
        name: "pgb".into(),
        dsn: bouncer.admin_dsn(),
        password: None,
        pool_warn_percent: None,
    }
}

fn connector(bouncer: &Pgbouncer, password: &'static str) -> PgbouncerConnector {
    PgbouncerConnector::new(
        endpoint(bouncer),
        Some(Arc::new(move |_: &scaleboard::profiles::SecretRef| {
            Ok(password.to_string())
        })),
    )
}

fn poll(
    rt: &tokio::runtime::Runtime,
    c: &PgbouncerConnector,
) -> Result<(PgbouncerSnapshot, Vec<Sample>), ConnectorError> {
    rt.block_on(c.poll()).map(|o| match o.snapshot {
        Snapshot::Pgbouncer(p) => (p, o.samples),
        other => panic!("not a PgBouncer snapshot: {other:?}"),
    })
}

fn sample(samples: &[Sample], target: &str, metric: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.target == target && s.metric == metric)
        .map(|s| s.value)
}

/// `n` application clients through the pool, each running `SELECT pg_sleep(secs)` at once.
fn hold_clients(
    rt: &tokio::runtime::Runtime,
    bouncer: &Pgbouncer,
    n: usize,
    secs: u32,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let config = bouncer.app_config();
            rt.spawn(async move {
                let (client, conn) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .simple_query(&format!("SELECT pg_sleep({secs})"))
                    .await
                    .unwrap();
            })
        })
        .collect()
}

/// One quick query through the pool, so PgBouncer opens the pool.
fn touch_pool(rt: &tokio::runtime::Runtime, bouncer: &Pgbouncer) {
    let config = bouncer.app_config();
    rt.block_on(async move {
        let (client, conn) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.simple_query("SELECT 1").await.unwrap();
    });
}

/// Poll until `cond` holds (bounded), returning that poll.
fn poll_until(
    rt: &tokio::runtime::Runtime,
    c: &PgbouncerConnector,
    what: &str,
    cond: impl Fn(&PgbouncerSnapshot) -> bool,
) -> (PgbouncerSnapshot, Vec<Sample>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = poll(rt, c).unwrap();
        if cond(&out.0) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:#?}",
            out.0
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_idle_pool_reads_its_limits_and_is_ok() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    touch_pool(&rt, &bouncer);
    let c = connector(&bouncer, ADMIN_PASSWORD);
    let (p, samples) = poll_until(&rt, &c, "the pool", |p| {
        p.pools.iter().any(|x| x.name() == POOL)
    });
    assert!(
        p.version
            .as_deref()
            .unwrap_or("")
            .starts_with("PgBouncer 1."),
        "{:?}",
        p.version
    );
    assert_eq!(p.address, format!("127.0.0.1:{}", bouncer.port));
    assert!(
        p.pools.iter().all(|x| x.database != "pgbouncer"),
        "the admin console's own pool is not a pool: {:#?}",
        p.pools
    );
    let pool = p.pools.iter().find(|x| x.name() == POOL).unwrap();
    assert_eq!(pool.cl_waiting, 0);
    assert_eq!(pool.pool_mode, "transaction");
    assert_eq!(pool.pool_limit, Some(2));
    assert_eq!(pool.limit_source, Some(PoolLimitSource::DefaultPoolSize));
    assert!(pool.servers() <= 2, "{pool:?}");
    assert_eq!(pool.servers_busy(), 0, "{pool:?}");
    assert_eq!(
        pool.usage_percent(),
        Some(0.0),
        "idle servers are free capacity"
    );
    assert_eq!(p.config.default_pool_size, Some(2));
    assert_eq!(p.config.max_client_conn, Some(100));
    assert_eq!(p.config.pool_mode.as_deref(), Some("transaction"));
    let db = p.database(APP_DB).unwrap();
    assert_eq!(db.server, format!("127.0.0.1:{}/postgres", pg.primary.port));
    assert!(db.stats.is_some(), "SHOW STATS joined to its database");
    assert!(p.list("used_clients").is_some(), "{:?}", p.lists);
    assert_eq!(
        sample(&samples, &format!("pgb/{POOL}"), "clients_waiting"),
        Some(0.0)
    );
    assert!(sample(&samples, "pgb/appdb", "avg_query_ms").is_some());
    // One idle server of two is 50 %: under the 80 % warning.
    let health = assess_snapshot(&Snapshot::Pgbouncer(p.clone()), &Thresholds::default());
    assert_eq!(health.state, HealthState::Ok, "{health:?}");
    let line = scaleboard::connectors::summary(&Snapshot::Pgbouncer(p));
    assert!(line.contains("PgBouncer 1."), "{line}");
    assert!(line.contains("(0 waiting)"), "{line}");
}

#[test]
fn clients_beyond_the_pool_wait_and_degrade_the_endpoint() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    let c = connector(&bouncer, ADMIN_PASSWORD);
    let clients = hold_clients(&rt, &bouncer, 5, 4);
    // Both servers logged in and busy, the other three clients queued behind them.
    let (p, samples) = poll_until(&rt, &c, "clients waiting", |p| {
        p.pools
            .iter()
            .any(|x| x.name() == POOL && x.cl_waiting > 0 && x.sv_active == 2)
    });
    let pool = p.pools.iter().find(|x| x.name() == POOL).unwrap();
    assert_eq!(pool.cl_active + pool.cl_waiting, 5, "{pool:?}");
    assert_eq!(pool.usage_percent(), Some(100.0));
    // The very series the window plots.
    assert_eq!(
        sample(&samples, &format!("pgb/{POOL}"), "clients_waiting"),
        Some(f64::from(pool.cl_waiting))
    );
    assert_eq!(
        sample(&samples, &format!("pgb/{POOL}"), "servers_active"),
        Some(2.0)
    );
    assert_eq!(
        sample(&samples, "pgb", "clients_waiting"),
        Some(f64::from(pool.cl_waiting))
    );
    let health = assess_snapshot(&Snapshot::Pgbouncer(p.clone()), &Thresholds::default());
    assert_eq!(health.state, HealthState::Degraded);
    let reason = health
        .reasons
        .iter()
        .find(|r| r.starts_with(&format!("pool {POOL}: ")))
        .unwrap_or_else(|| panic!("{health:?}"));
    assert!(
        reason.contains(&format!("{} clients waiting", pool.cl_waiting)),
        "{reason}"
    );
    assert!(
        reason.contains("2 of 2 server connections busy (100 % of default_pool_size"),
        "{reason}"
    );
    // The wait grows while they wait.
    std::thread::sleep(Duration::from_millis(1200));
    let (later, samples) = poll(&rt, &c).unwrap();
    let waited = later.pools.iter().find(|x| x.name() == POOL).unwrap();
    if waited.cl_waiting > 0 {
        assert!(waited.maxwait_secs >= 1.0, "{waited:?}");
        assert!(sample(&samples, &format!("pgb/{POOL}"), "max_wait_seconds").unwrap() >= 1.0);
    }
    for h in clients {
        rt.block_on(h).unwrap();
    }
    let (p, _) = poll_until(&rt, &c, "no one waiting", |p| p.clients_waiting() == 0);
    let pool = p.pools.iter().find(|x| x.name() == POOL).unwrap();
    assert_eq!(pool.maxwait_secs, 0.0);
}

#[test]
fn a_wrong_admin_password_is_said_in_words_and_the_endpoint_is_down() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    let c = connector(&bouncer, "not-the-password");
    let e = poll(&rt, &c).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ConnectorError::Auth(_)), "{e:?}");
    assert!(
        text.contains(&format!(
            "PgBouncer refused the password for user \"{ADMIN_USER}\" at 127.0.0.1:{}",
            bouncer.port
        )),
        "{text}"
    );
    let health = assess_endpoint(
        Reachability::Down,
        Some(&text),
        None,
        &Thresholds::default(),
    );
    assert_eq!(health.state, HealthState::Down);
    assert!(
        health.reasons[0].contains("refused the password"),
        "{health:?}"
    );
    // The password fixed in its source (`scaleboard secret set`, the keyring…) while the
    // connector runs is used at the next poll: the refused one is not kept.
    let source = Arc::new(std::sync::Mutex::new("still-wrong".to_string()));
    let current = Arc::clone(&source);
    let changing = PgbouncerConnector::new(
        endpoint(&bouncer),
        Some(Arc::new(move |_: &scaleboard::profiles::SecretRef| {
            Ok(current.lock().unwrap().clone())
        })),
    );
    assert!(matches!(poll(&rt, &changing), Err(ConnectorError::Auth(_))));
    *source.lock().unwrap() = ADMIN_PASSWORD.to_string();
    poll(&rt, &changing).unwrap();
    // A user outside admin_users/stats_users is told what to change.
    let mut ep = endpoint(&bouncer);
    ep.dsn = ep.dsn.replace(ADMIN_USER, APP_USER);
    let app_user = PgbouncerConnector::new(
        ep,
        Some(Arc::new(|_: &scaleboard::profiles::SecretRef| {
            Ok(support::pgbouncer::APP_PASSWORD.to_string())
        })),
    );
    let e = poll(&rt, &app_user).unwrap_err().to_string();
    assert!(e.contains("admin_users or stats_users"), "{e}");
}

#[test]
fn a_stopped_pgbouncer_is_unreachable_in_words() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    let c = connector(&bouncer, ADMIN_PASSWORD);
    poll(&rt, &c).unwrap();
    bouncer.stop();
    // The open connection breaks; the connector opens a new one at once, in the same poll,
    // and that is refused: down, in words.
    let first = poll(&rt, &c).unwrap_err();
    assert!(first.is_refused_connection(), "{first:?}");
    let second = poll(&rt, &c).unwrap_err().to_string();
    assert_eq!(first.to_string(), second);
    assert_eq!(
        second,
        format!(
            "cannot reach pgb: connection refused at 127.0.0.1:{}: is PgBouncer running and listening there?",
            bouncer.port
        )
    );
    // It comes back: the connector reconnects on its own.
    bouncer.start_again();
    poll(&rt, &c).unwrap();
}

/// Saves the profile and runs `scaleboard status --profile fleet` (`--json` when asked).
fn status(config: &Path, profile: &Profile, password: &str, json: bool) -> (i32, String) {
    let mut store = scaleboard::profiles::ProfileStore::load(config);
    store.upsert(profile.clone()).unwrap();
    let mut args = vec!["status", "--profile", "fleet", "--timeout", "15"];
    if json {
        args.push("--json");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", config)
        .env("SCALEBOARD_KEYRING", "off")
        .env("SCALEBOARD_SECRET_FLEET_PGB", password)
        .env_remove("PGPASSWORD")
        .env_remove("SCALEBOARD_DATA_DIR")
        .args(&args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn pgb_report(stdout: &str) -> Value {
    let reports: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["endpoint"] == "pgb")
        .cloned()
        .unwrap_or_else(|| panic!("no pgb report: {stdout}"))
}

#[test]
fn status_covers_pgbouncer_ok_waiting_and_wrong_password() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    touch_pool(&rt, &bouncer);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut profile = Profile::named("fleet");
    profile.pgbouncer.push(endpoint(&bouncer));

    let (code, out) = status(&config, &profile, ADMIN_PASSWORD, true);
    let r = pgb_report(&out);
    assert_eq!(r["status"], "ok", "{r:#}");
    assert_eq!(r["label"], "PgBouncer pgb");
    assert_eq!(code, 0, "{out}");
    assert!(
        r["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == POOL && m["state"] == "ok"),
        "{r:#}"
    );

    let clients = hold_clients(&rt, &bouncer, 5, 6);
    let c = connector(&bouncer, ADMIN_PASSWORD);
    poll_until(&rt, &c, "clients waiting", |p| p.clients_waiting() > 0);
    let (code, out) = status(&config, &profile, ADMIN_PASSWORD, false);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("PgBouncer pgb"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with("degraded"), "{out}");
    assert!(line.contains(&format!("{POOL} 2/2 servers busy")), "{out}");
    assert!(
        out.contains(&format!("- pool {POOL}: ")) && out.contains("clients waiting for a server"),
        "{out}"
    );
    let (_, out) = status(&config, &profile, ADMIN_PASSWORD, true);
    let r = pgb_report(&out);
    assert_eq!(r["status"], "degraded", "{r:#}");
    let member = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == POOL)
        .unwrap();
    assert_eq!(member["state"], "degraded");
    assert!(
        member["reason"]
            .as_str()
            .unwrap()
            .contains("clients waiting for a server"),
        "{member:#}"
    );
    for h in clients {
        rt.block_on(h).unwrap();
    }

    let (code, out) = status(&config, &profile, "wrong", true);
    // Down is critical (monitoring-plugins convention): 2, not the warning's 1.
    assert_eq!(code, 2, "{out}");
    let r = pgb_report(&out);
    assert_eq!(r["status"], "down", "{r:#}");
    assert!(
        r["reasons"][0].as_str().unwrap().contains(&format!(
            "PgBouncer refused the password for user \"{ADMIN_USER}\""
        )),
        "{r:#}"
    );
}

#[test]
fn the_databases_panel_shows_the_pool_table_and_clients_waiting() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    // The password through a password file named in the DSN (mode 0600, as libpq wants).
    let passfile = bouncer.dir.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!(
            "127.0.0.1:{}:pgbouncer:{ADMIN_USER}:{ADMIN_PASSWORD}\n",
            bouncer.port
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let toml = format!(
        "last_used = \"fleet\"\n[[profile]]\nname = \"fleet\"\nrefresh_interval_secs = 1\n\
         [[profile.pgbouncer]]\nname = \"pgb\"\ndsn = \"{}&passfile={}\"\n",
        bouncer.admin_dsn(),
        passfile.display()
    );
    let clients = hold_clients(&rt, &bouncer, 5, 8);
    let c = connector(&bouncer, ADMIN_PASSWORD);
    poll_until(&rt, &c, "clients waiting", |p| p.clients_waiting() > 0);

    let mut t = support::start(Some(&toml), Some("fleet"));
    t.advance_until("a PgBouncer snapshot with clients waiting", |a| {
        a.fleet.endpoints.iter().any(|e| match &e.snapshot {
            Some(Snapshot::Pgbouncer(p)) => p.clients_waiting() > 0,
            _ => false,
        })
    });
    let key = SeriesKey::new(format!("pgb/{POOL}"), "clients_waiting");
    let (_, waiting) = t.app().store.latest(&key).unwrap();
    assert!(waiting > 0.0, "plotted series: {waiting}");
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.harness.run_steps(3);
    for label in ["PgBouncer pgb", POOL, "Clients waiting", "Pool use"] {
        assert!(
            t.harness.query_all_by_label(label).count() >= 1,
            "no \"{label}\" in the Databases panel"
        );
    }
    t.harness
        .get_by_label_contains("clients waiting for a server connection");
    assert!(
        t.harness
            .query_all_by_label_contains(" clients waiting")
            .count()
            >= 2,
        "the row's cell and the banner"
    );
    t.harness.get_by_label_contains("(100 %)");
    for h in clients {
        rt.block_on(h).unwrap();
    }
}

#[test]
fn the_demo_fleet_has_a_pgbouncer_pool_whose_clients_sometimes_wait() {
    let mut t = support::start(None, None);
    t.run_until("the demo PgBouncer and its samples", |a| {
        a.fleet
            .endpoints
            .iter()
            .any(|e| matches!(e.snapshot, Some(Snapshot::Pgbouncer(_))))
            && a.sample_intake.waiting() == 0
    });
    // Its first poll hands over 15 simulated minutes: at afternoon load the app pool saturated
    // at least once in them.
    let key = SeriesKey::new("demo-pgbouncer/orders/app", "clients_waiting");
    let now = support::START_MS;
    let history = t
        .app()
        .store
        .downsample(&key, now - 15 * 60_000..now + 1, 300);
    let most = history
        .segments
        .iter()
        .flatten()
        .map(|[_, y]| *y)
        .fold(0.0_f64, f64::max);
    assert!(most > 0.0, "no client ever waited in the demo: {history:?}");
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.harness.run_steps(3);
    for label in [
        "PgBouncer demo-pgbouncer",
        "orders/app",
        "orders/reports",
        "Clients waiting",
    ] {
        assert!(
            t.harness.query_all_by_label(label).count() >= 1,
            "no \"{label}\" in the demo's Databases panel"
        );
    }
    t.harness
        .get_by_label_contains("orders-db pool (PgBouncer, DEMO)");
}

/// "Database connections above 80 % of the pool" read on a real PgBouncer pool: the advisor's
/// built-in pool-saturation rule fires in `scaleboard advise` (critical: exit 2) with its advice.
#[test]
fn advise_fires_pool_saturation_on_a_full_pool() {
    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let rt = runtime();
    let c = connector(&bouncer, ADMIN_PASSWORD);
    let clients = hold_clients(&rt, &bouncer, 5, 12);
    poll_until(&rt, &c, "a full pool", |p| {
        p.pools
            .iter()
            .any(|x| x.name() == POOL && x.usage_percent() == Some(100.0))
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut profile = Profile::named("fleet");
    profile.refresh_interval_secs = 1;
    profile.pgbouncer.push(endpoint(&bouncer));
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(profile).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .env("SCALEBOARD_SECRET_FLEET_PGB", ADMIN_PASSWORD)
        .env_remove("PGPASSWORD")
        .args(["advise", "--profile", "fleet", "--json", "--window", "4s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} / {}", String::from_utf8_lossy(&out.stderr)));
    let firing = report["firing"].as_array().unwrap();
    let alert = firing
        .iter()
        .find(|a| a["rule"] == "pool-saturation")
        .unwrap_or_else(|| panic!("pool-saturation not firing: {report:#}"));
    assert!(
        alert["target"].as_str().unwrap().ends_with(POOL),
        "{alert:#}"
    );
    assert!(
        alert["proposal"]
            .as_str()
            .unwrap()
            .contains("Raise the pool size"),
        "{alert:#}"
    );
    assert_eq!(out.status.code(), Some(2), "critical exits 2: {report:#}");
    for h in clients {
        rt.block_on(h).unwrap();
    }
}

/// PgBouncer killed under a running engine: the first poll after the kill finds the kept
/// connection broken, connects again and is refused — down at once (within two refresh
/// intervals on the engine's clock), not "stale" for several polls as for a slow server.
#[test]
fn a_killed_pgbouncer_is_down_within_two_intervals() {
    use scaleboard::engine::{Command as EngineCommand, ConnStatus, ConnectRequest};
    use scaleboard::engine::{EngineConfig, EngineHandle, Event};
    use scaleboard::model::clock::{Clock, ManualClock};
    const INTERVAL_MS: i64 = 1_000;

    let pg = PgCluster::start(0);
    let bouncer = Pgbouncer::start(pg.primary.port, 2);
    let dir = tempfile::tempdir().unwrap();
    let passfile = dir.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!(
            "127.0.0.1:{}:pgbouncer:{ADMIN_USER}:{ADMIN_PASSWORD}\n",
            bouncer.port
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut profile = Profile::named("fleet");
    profile.refresh_interval_secs = 1;
    profile.pgbouncer.push(PgbouncerEndpoint {
        dsn: format!("{}&passfile={}", bouncer.admin_dsn(), passfile.display()),
        ..endpoint(&bouncer)
    });
    let clock = ManualClock::new(1_793_628_000_000);
    let config = EngineConfig::new(
        clock.clone(),
        dir.path().join("config"),
        dir.path().join("data"),
    );
    let mut engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    engine
        .send(EngineCommand::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 1,
        })))
        .unwrap();
    // Every status of the endpoint until `want`, with its clock time; the manual clock moves
    // 100 ms whenever the engine is idle.
    let mut until = |want: ConnStatus| -> Vec<(ConnStatus, i64, Option<String>)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "no {want:?}; saw {seen:?}");
            match engine.recv_timeout(Duration::from_millis(50)) {
                Some(Event::Status {
                    endpoint,
                    status,
                    at,
                    error,
                }) if endpoint == "pgb" => {
                    seen.push((status, at, error));
                    if status == want {
                        return seen;
                    }
                }
                Some(_) => {}
                None => clock.advance(Duration::from_millis(100)),
            }
        }
    };
    until(ConnStatus::Ok);
    bouncer.kill();
    let killed = clock.now_ms();
    let seen = until(ConnStatus::Down);
    let (_, down_at, _) = seen.last().cloned().unwrap();
    assert!(
        down_at - killed <= 2 * INTERVAL_MS,
        "down {} ms after the kill: {seen:?}",
        down_at - killed
    );
    assert!(
        seen.iter().all(|(s, _, _)| *s != ConnStatus::Stale),
        "a refused connection is not a slow server: {seen:?}"
    );
    let error = seen
        .iter()
        .find_map(|(_, _, e)| e.clone())
        .unwrap_or_default();
    assert!(error.contains("connection refused"), "{error}");
}
