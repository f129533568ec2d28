//! Team mode's store against a real PostgreSQL: migrations (once, concurrent migrators), the
//! SQL for a DBA, the shared audit when the store is down (require = true / false) and the
//! records "not shared yet" delivered exactly once when it is back.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;
mod team_rig;

use scaleboard::actions::audit::{AuditLog, AuditOutcome};
use scaleboard::team::{PENDING_FILE, TeamQuery, TeamStore};
use std::time::Duration;
use support::postgres::PgCluster;
use team_rig::{
    OPERATOR, api, console, dsn, init_as_dba, outcomes, psql_as, scale_api, team_profile,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn migrations_apply_once_even_with_two_migrators_at_the_same_time() {
    let pg = PgCluster::start(0);
    let profile = team_profile(&dsn(&pg, "postgres"), true);
    let dir = tempfile::tempdir().unwrap();
    let a = TeamStore::for_profile(&profile, dir.path()).unwrap();
    let b = TeamStore::for_profile(&profile, dir.path()).unwrap();
    let (ra, rb) = runtime().block_on(async {
        let rt = tokio::runtime::Handle::current();
        let (a2, b2) = (a.clone(), b.clone());
        let ta = rt.spawn(async move { a2.migrate_now().await });
        let tb = rt.spawn(async move { b2.migrate_now().await });
        (ta.await.unwrap(), tb.await.unwrap())
    });
    let mut applied = [ra.unwrap(), rb.unwrap()];
    applied.sort();
    assert_eq!(
        applied,
        [vec![], vec![1]],
        "exactly one migrator applied version 1"
    );
    let versions = pg.psql(
        pg.primary.port,
        "SELECT string_agg(version::text, ',') FROM scaleboard.migrations",
    );
    assert_eq!(versions, "1");
    // Up to date: nothing applied again.
    assert_eq!(
        runtime().block_on(a.migrate_now()).unwrap(),
        Vec::<i32>::new()
    );
}

#[test]
fn print_sql_creates_a_schema_an_append_only_role_can_use() {
    let pg = PgCluster::start(0);
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env("SCALEBOARD_KEYRING", "off")
        .args(["team", "init", "--print-sql", "--role", OPERATOR])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(
        sql.contains("GRANT INSERT, SELECT ON scaleboard.audit, scaleboard.locks TO operator;"),
        "{sql}"
    );
    init_as_dba(&pg, &sql);
    // The operator role runs an action end to end (lock rows, intent, outcome)…
    let mut c = console(team_profile(&dsn(&pg, OPERATOR), true));
    let before = c.replicas(&api());
    let done = c.run(scale_api(before + 1));
    assert_eq!(done.outcome, AuditOutcome::Succeeded, "{done:?}");
    assert_eq!(
        psql_as(&pg, OPERATOR, "SELECT count(*) FROM scaleboard.audit").unwrap(),
        "2"
    );
    // …and cannot rewrite or remove anything, nor create tables.
    for sql in [
        "UPDATE scaleboard.audit SET outcome = 'succeeded'",
        "DELETE FROM scaleboard.audit",
        "UPDATE scaleboard.locks SET reason = 'x'",
        "TRUNCATE scaleboard.locks",
        "CREATE TABLE scaleboard.x (v int)",
    ] {
        let refused = psql_as(&pg, OPERATOR, sql).unwrap_err();
        assert!(refused.contains("permission denied"), "{sql}: {refused}");
    }
}

#[test]
fn store_down_with_require_refuses_and_writes_nothing() {
    let pg = PgCluster::start(0);
    pg.stop(&pg.primary, "fast");
    let mut c = console(team_profile(&dsn(&pg, "postgres"), true));
    let before = c.replicas(&api());
    let record = c.run(scale_api(before + 2));
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:?}");
    assert!(
        record
            .detail
            .contains("no action without a shared record: team store unreachable since "),
        "{}",
        record.detail
    );
    // Audited locally as not run; no intent, and the target untouched.
    assert_eq!(outcomes(&c.local_log()), [AuditOutcome::NotRun]);
    c.clock.advance(Duration::from_secs(3));
    c.until("the next poll", |_, e| {
        matches!(e, scaleboard::engine::Event::Snapshot { endpoint, .. } if endpoint == "demo-prod")
    });
    assert_eq!(c.replicas(&api()), before);
}

#[test]
fn store_down_without_require_runs_queues_and_delivers_once() {
    let pg = PgCluster::start(0);
    let profile = team_profile(&dsn(&pg, "postgres"), false);
    // The schema exists; then the store goes away.
    let dir = tempfile::tempdir().unwrap();
    runtime()
        .block_on(
            TeamStore::for_profile(&profile, dir.path())
                .unwrap()
                .migrate_now(),
        )
        .unwrap();
    pg.stop(&pg.primary, "fast");

    let mut c = console(profile.clone());
    let before = c.replicas(&api());
    let record = c.run(scale_api(before + 1));
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert!(
        record.detail.contains("not shared yet"),
        "{}",
        record.detail
    );
    let pending = AuditLog::at(c.data_dir.join(PENDING_FILE))
        .read_all()
        .unwrap()
        .records;
    assert_eq!(
        outcomes(&pending),
        [AuditOutcome::Intent, AuditOutcome::Succeeded]
    );
    assert_eq!(
        outcomes(&c.local_log()),
        [AuditOutcome::Intent, AuditOutcome::Succeeded]
    );

    pg.start_again(&pg.primary);
    let store = TeamStore::for_profile(&profile, &c.data_dir).unwrap();
    let rt = runtime();
    assert_eq!(rt.block_on(store.flush_pending()).unwrap(), 2);
    assert!(store.pending().is_empty());
    assert_eq!(rt.block_on(store.count()).unwrap(), 2);
    // A resend (a crash between the insert and emptying the queue) is ignored by the store.
    let queue = AuditLog::at(c.data_dir.join(PENDING_FILE));
    for r in &pending {
        queue.append(r).unwrap();
    }
    assert_eq!(rt.block_on(store.flush_pending()).unwrap(), 2);
    assert_eq!(
        rt.block_on(store.count()).unwrap(),
        2,
        "each record shared exactly once"
    );
    // The team history shows them, newest first, with operator, host and profile.
    let (rows, next) = rt
        .block_on(store.history(&TeamQuery {
            text: "api-gateway".into(),
            limit: 1,
            ..TeamQuery::default()
        }))
        .unwrap();
    assert_eq!(
        (
            rows.len(),
            rows[0].outcome.as_str(),
            rows[0].profile.as_str()
        ),
        (1, "succeeded", "ops")
    );
    let (rows2, last) = rt
        .block_on(store.history(&TeamQuery {
            text: "api-gateway".into(),
            limit: 1,
            after: next,
            ..TeamQuery::default()
        }))
        .unwrap();
    assert_eq!(rows2[0].outcome, "intent");
    let (rows3, _) = rt
        .block_on(store.history(&TeamQuery {
            limit: 1,
            after: last,
            ..TeamQuery::default()
        }))
        .unwrap();
    assert!(rows3.is_empty());
    let none = rt
        .block_on(store.history(&TeamQuery {
            text: "no-such-target".into(),
            limit: 10,
            ..TeamQuery::default()
        }))
        .unwrap();
    assert!(none.0.is_empty());
}

#[test]
fn the_store_password_comes_from_pgpass_like_any_endpoint() {
    use support::postgres::{PW_PASSWORD, PW_USER};
    let pg = PgCluster::start(0);
    init_as_dba(&pg, &scaleboard::team::migrations::script("scaleboard"));
    pg.psql(
        pg.primary.port,
        &scaleboard::team::migrations::grants("scaleboard", PW_USER),
    );
    let base = format!(
        "host=127.0.0.1 port={} user={PW_USER} dbname=postgres sslmode=disable",
        pg.primary.port
    );
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // No password anywhere: the error says so.
    let without = TeamStore::for_profile(&team_profile(&base, true), dir.path()).unwrap();
    let err = rt.block_on(without.count()).unwrap_err();
    assert!(err.contains("password"), "{err}");
    // The password file (mode 0600) named in the DSN, as libpq reads it.
    let pass = pg.passfile(PW_PASSWORD);
    let dsn = format!("{base} passfile={}", pass.display());
    let with = TeamStore::for_profile(&team_profile(&dsn, true), dir.path()).unwrap();
    assert_eq!(rt.block_on(with.count()).unwrap(), 0);
}
