//! Team mode change locks against a real PostgreSQL: two consoles acting on the same target,
//! and a console killed while it holds a lock.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;
mod team_rig;

use scaleboard::actions::Action;
use scaleboard::actions::audit::{AuditOutcome, os_user};
use std::time::{Duration, Instant};
use support::postgres::PgCluster;
use team_rig::{
    CliConsole, OPERATOR, api, compose_api, console, dsn, operator_store, outcomes, psql_as,
    scale_api, team_profile,
};

fn store_rows(pg: &PgCluster) -> String {
    pg.psql(
        pg.primary.port,
        "SELECT string_agg(phase || ':' || outcome, ',' ORDER BY at, phase DESC) FROM scaleboard.audit",
    )
}

/// The store holds one intent/outcome pair (the console that wrote) and one refused record.
fn assert_one_write_and_one_refusal(pg: &PgCluster) {
    let rows = store_rows(pg);
    let mut sorted: Vec<&str> = rows.split(',').collect();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["intent:intent", "outcome:refused", "outcome:succeeded"],
        "{rows}"
    );
}

#[test]
fn two_consoles_on_one_target_one_writes_the_other_is_refused_naming_the_holder() {
    let pg = PgCluster::start(0);
    let profile = team_profile(&operator_store(&pg), true);
    let mut a = console(profile.clone());
    let mut b = console(profile);
    let before = a.replicas(&api());
    assert_eq!(
        before,
        b.replicas(&api()),
        "both consoles see the same fleet"
    );

    // Both plan 3 → 5 on what they see now; A's write is in progress (verifying: replicas
    // become ready one every 2 s) when B's reaches the lock.
    let first = a.start(scale_api(before + 2));
    a.until_running(first);
    let refused = b.run(scale_api(before + 2));
    assert_eq!(refused.outcome, AuditOutcome::Refused, "{refused:?}");
    let holder = format!(
        "in progress: {}@{} since ",
        os_user(),
        scaleboard::team::host_name()
    );
    assert!(refused.detail.contains(&holder), "{}", refused.detail);
    let what = format!(
        "scale demo-prod/nexus/deployment/api-gateway {before} replicas ({before} ready) → {} replicas",
        before + 2
    );
    assert!(refused.detail.contains(&what), "{}", refused.detail);
    // B wrote nothing: its fleet is as it was.
    b.clock.advance(Duration::from_secs(3));
    b.until("B's next poll", |_, e| {
        matches!(e, scaleboard::engine::Event::Snapshot { endpoint, .. } if endpoint == "demo-prod")
    });
    assert_eq!(b.replicas(&api()), before);

    let done = a.finished(first);
    assert_eq!(done.outcome, AuditOutcome::Succeeded, "{done:?}");
    assert_eq!(
        outcomes(&b.local_log()),
        [AuditOutcome::Refused],
        "B's refusal is in its own log"
    );
    // One intent/outcome pair and one refused record in the store.
    assert_one_write_and_one_refusal(&pg);
    // The lock's rows: taken and released by A, nothing by B.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let locks = pg.psql(
            pg.primary.port,
            "SELECT string_agg(event, ',' ORDER BY at) FROM scaleboard.locks",
        );
        if locks == "taken,released" {
            break;
        }
        assert!(Instant::now() < deadline, "lock rows: {locks}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Now free: B's view hears of the release; B plans again on what it sees and runs.
    b.until("the lock gone from B's view", |v, _| {
        v.in_progress.is_empty()
    });
    let again = b.run(scale_api(before + 1));
    assert_eq!(again.outcome, AuditOutcome::Succeeded, "{again:?}");
    // The operator role appended all of it and can change nothing.
    let update = psql_as(&pg, OPERATOR, "UPDATE scaleboard.audit SET detail = 'x'");
    assert!(update.unwrap_err().contains("permission denied"));
    let delete = psql_as(&pg, OPERATOR, "DELETE FROM scaleboard.locks");
    assert!(delete.unwrap_err().contains("permission denied"));
    assert_eq!(
        psql_as(&pg, OPERATOR, "SELECT count(*) FROM scaleboard.audit").unwrap(),
        "5"
    );
}

/// The race the change lock exists for: two consoles plan a scale of the same Compose service
/// within the same second. Neither has written, so both previews are clean and both would pass
/// the re-check against fresh state; both confirm. Exactly one writes; the other is refused at
/// the lock, naming the holder, and writes nothing; the store holds one intent/outcome pair and
/// one refused record.
#[test]
fn two_consoles_planning_one_compose_scale_in_the_same_second_exactly_one_writes() {
    let pg = PgCluster::start(0);
    let profile = team_profile(&operator_store(&pg), true);
    let mut a = console(profile.clone());
    let mut b = console(profile);
    let service = compose_api(&a.view);
    assert_eq!(service, compose_api(&b.view));
    let before = a.replicas(&service);
    let action = Action::ScaleWorkload {
        workload: service.clone(),
        replicas: before + 3,
    };
    let planned = Instant::now();
    let plan_a = a.plan(action.clone());
    let plan_b = b.plan(action);
    assert!(planned.elapsed() < Duration::from_secs(1));
    for p in [&plan_a, &plan_b] {
        assert!(!p.refused(), "both previews are clean: {:?}", p.guards);
    }
    // Both confirmed at once.
    let id_a = a.execute(plan_a);
    let id_b = b.execute(plan_b);
    let record_a = a.finished(id_a);
    let record_b = b.finished(id_b);
    let (winner, loser, loser_console) = match (record_a.outcome, record_b.outcome) {
        (AuditOutcome::Succeeded, AuditOutcome::Refused) => (&record_a, &record_b, &mut b),
        (AuditOutcome::Refused, AuditOutcome::Succeeded) => (&record_b, &record_a, &mut a),
        other => panic!("exactly one writes: {other:?}\n{record_a:?}\n{record_b:?}"),
    };
    assert_eq!(
        outcomes(&loser_console.local_log()),
        [AuditOutcome::Refused],
        "the refusal is in the refused console's own log"
    );
    assert!(!winner.forced);
    let holder = format!(
        "in progress: {}@{} since ",
        os_user(),
        scaleboard::team::host_name()
    );
    assert!(loser.detail.contains(&holder), "{}", loser.detail);
    assert!(
        loser.detail.contains(&format!("→ {} replicas", before + 3)),
        "the holder's action is named: {}",
        loser.detail
    );
    // The refused console wrote nothing: its service is as it was at its next poll.
    loser_console.clock.advance(Duration::from_secs(3));
    loser_console.until("the refused console's next Compose poll", |_, e| {
        matches!(e, scaleboard::engine::Event::Snapshot { endpoint, .. } if *endpoint == service.endpoint)
    });
    assert_eq!(loser_console.replicas(&service), before);
    assert_one_write_and_one_refusal(&pg);
}

#[test]
fn a_killed_console_frees_its_lock_and_its_action_shows_as_outcome_unknown() {
    let pg = PgCluster::start(0);
    let console_cli = CliConsole::new(&pg);
    let cli = |args: &[&str]| console_cli.cmd(args);
    let out = cli(&["team", "init"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied migration(s) 1"));
    // The watchers below (a window, `team status`, `audit --team`) use the INSERT/SELECT-only
    // role a DBA grants.
    pg.psql(pg.primary.port, &format!("CREATE ROLE {OPERATOR} LOGIN"));
    pg.psql(
        pg.primary.port,
        &scaleboard::team::migrations::grants("scaleboard", OPERATOR),
    );
    let operator_cli = CliConsole::as_user(&pg, OPERATOR);
    let watch_cli = |args: &[&str]| operator_cli.cmd(args);

    // A scale that takes a while to verify (one replica ready every 2 s).
    let mut child = cli(&[
        "scale",
        "compose/demo-staging/api",
        "9",
        "--yes",
        "--grace",
        "0",
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'";
    let deadline = Instant::now() + Duration::from_secs(20);
    while pg.psql(pg.primary.port, held) != "1"
        || pg.psql(pg.primary.port, "SELECT count(*) FROM scaleboard.audit") != "1"
    {
        assert!(Instant::now() < deadline, "the child never took its lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = watch_cli(&["team", "status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("demo-staging") && text.contains("[held]"),
        "{text}"
    );

    // Another operator's window is open on the same fleet.
    let mut watcher = console(team_profile(&dsn(&pg, OPERATOR), true));
    watcher.until("the child's lock in the window", |v, _| {
        !v.in_progress.is_empty()
    });
    child.kill().unwrap(); // SIGKILL: no outcome record, no release row
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pg.psql(pg.primary.port, held) != "0" {
        assert!(
            Instant::now() < deadline,
            "the dead console's lock was not freed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The open window says so within a moment.
    watcher.until("the dead console's action as unknown", |_, e| {
        matches!(e, scaleboard::engine::Event::ColleagueAction(t)
            if t.contains("demo-staging/service/api") && t.contains("outcome unknown"))
    });
    let status = watch_cli(&["team", "status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains("scale demo-staging/demo-staging/service/api")
            && text.contains("[outcome unknown (console gone)]"),
        "{text}"
    );
    // Another console can act on the target again.
    let out = cli(&[
        "scale",
        "compose/demo-staging/api",
        "2",
        "--yes",
        "--grace",
        "0",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = watch_cli(&["audit", "--team"]).output().unwrap();
    let text = String::from_utf8_lossy(&history.stdout);
    assert!(
        text.lines().next().unwrap_or("").contains("succeeded"),
        "{text}"
    );
    assert_eq!(text.matches("intent").count(), 2, "{text}");
}

#[test]
fn taking_over_a_held_lock_needs_a_reason_and_is_audited() {
    let pg = PgCluster::start(0);
    // The INSERT/SELECT-only role: a take-over is a new row, never an UPDATE.
    let profile = team_profile(&operator_store(&pg), true);
    let mut a = console(profile.clone());
    let mut b = console(profile);
    let before = a.replicas(&api());
    let first = a.start(scale_api(before + 2));
    a.until_running(first);

    let blank = b.take_over(scale_api(before + 1), "  ", None);
    assert_eq!(blank.outcome, AuditOutcome::Refused, "{blank:?}");
    assert!(
        blank.detail.contains("take the lock over with a reason"),
        "{}",
        blank.detail
    );

    let reason = "A's console froze during incident 42";
    // From an advisor's proposal (the Alerts panel's Apply…): the record cites it as any
    // advised run's does.
    let advice = "advisor: cpu-high on api-gateway, 92 % for 5 min";
    let taken = b.take_over(scale_api(before + 1), reason, Some(advice));
    assert_eq!(taken.outcome, AuditOutcome::Succeeded, "{taken:?}");
    assert_eq!(taken.advice.as_deref(), Some(advice), "{taken:?}");
    assert!(taken.forced);
    let note = taken.overridden_guards.join("; ");
    assert!(
        note.contains("change lock taken over (in progress: "),
        "{note}"
    );
    assert!(note.contains(reason), "{note}");
    // The store says who took it over from whom, and why; the intent carries it too.
    let row = pg.psql(
        pg.primary.port,
        "SELECT reason FROM scaleboard.locks WHERE event = 'taken_over'",
    );
    assert!(
        row.starts_with(reason) && row.contains("in progress: "),
        "{row}"
    );
    let intent = pg.psql(
        pg.primary.port,
        &format!(
            "SELECT record->>'overridden_guards' FROM scaleboard.audit \
             WHERE action_id = '{}' AND phase = 'intent'",
            taken.id
        ),
    );
    assert!(intent.contains(reason), "{intent}");
    let done = a.finished(first);
    assert!(
        matches!(
            done.outcome,
            AuditOutcome::Succeeded | AuditOutcome::TimedOut
        ),
        "{done:?}"
    );
}

/// `scale --take-over REASON` on the command line: refused without it while a colleague's
/// console holds the target's lock, run with it, and the store says who took it over and why.
#[test]
fn the_command_line_takes_a_held_lock_over_with_a_reason() {
    let pg = PgCluster::start(0);
    let console_cli = CliConsole::new(&pg);
    let cli = |args: &[&str]| console_cli.cmd(args);
    assert!(cli(&["team", "init"]).output().unwrap().status.success());
    // A colleague's slow scale holds the lock (one demo replica ready every 2 s).
    let mut holder = cli(&[
        "scale",
        "compose/demo-staging/api",
        "9",
        "--yes",
        "--grace",
        "0",
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'";
    let deadline = Instant::now() + Duration::from_secs(20);
    while pg.psql(pg.primary.port, held) != "1" {
        assert!(Instant::now() < deadline, "the holder never took its lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let scale = [
        "scale",
        "compose/demo-staging/api",
        "2",
        "--yes",
        "--grace",
        "0",
    ];
    let refused = cli(&scale).output().unwrap();
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{text}");
    assert!(text.contains("in progress: "), "{text}");

    let reason = "holder's laptop went to sleep mid-scale";
    let mut args = scale.to_vec();
    args.extend(["--take-over", reason]);
    let taken = cli(&args).output().unwrap();
    let text = String::from_utf8_lossy(&taken.stdout);
    assert!(taken.status.success(), "{text}");
    let row = pg.psql(
        pg.primary.port,
        "SELECT reason FROM scaleboard.locks WHERE event = 'taken_over'",
    );
    assert!(row.starts_with(reason), "{row}");
    holder.kill().unwrap();
    holder.wait().unwrap();
}
