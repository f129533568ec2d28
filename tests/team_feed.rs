//! The live team feed against a real PostgreSQL: a colleague's action reaches the other
//! console within 1 s (notification, and a refusing guard in the preview while it runs), both
//! consoles with the INSERT/SELECT-only operator role.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;
mod team_rig;

use scaleboard::actions::GuardLevel;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::actions::audit::os_user;
use scaleboard::engine::Event;
use std::time::{Duration, Instant};
use support::postgres::PgCluster;
use team_rig::{api, console, operator_store, scale_api, team_profile};

#[test]
fn a_colleagues_action_shows_within_a_second_and_blocks_the_preview_while_it_runs() {
    let pg = PgCluster::start(0);
    let profile = team_profile(&operator_store(&pg), true);
    let mut a = console(profile.clone());
    let mut b = console(profile);
    let before = a.replicas(&api());
    // Nothing in progress: B's preview has no team guard.
    let idle = b.plan(scale_api(before + 2));
    assert!(
        !idle.guards.iter().any(|g| g.reason.contains("in progress")),
        "{:?}",
        idle.guards
    );

    let id = a.start(scale_api(before + 2));
    a.until_running(id);
    let started = Instant::now();
    b.until("A's lock in B's view", |v, _| !v.in_progress.is_empty());
    let lock_seen = started.elapsed();
    b.until(
        "A's intent in B's feed",
        |_, e| matches!(e, Event::ColleagueAction(t) if t.contains("started")),
    );
    let intent_seen = started.elapsed();
    assert!(
        lock_seen <= Duration::from_secs(1),
        "lock seen after {lock_seen:?}"
    );
    assert!(
        intent_seen <= Duration::from_secs(1),
        "intent seen after {intent_seen:?}"
    );

    let blocked = b.plan(scale_api(before + 2));
    let guard = &blocked.guards[0];
    assert_eq!(guard.level, GuardLevel::Refuse, "{:?}", blocked.guards);
    let holder = format!(
        "in progress: {}@{} since ",
        os_user(),
        scaleboard::team::host_name()
    );
    assert!(guard.reason.contains(&holder), "{}", guard.reason);
    assert!(blocked.refused(), "confirm stays disabled");

    let done = a.finished(id);
    assert_eq!(done.outcome, AuditOutcome::Succeeded);
    let finished = Instant::now();
    b.until(
        "A's outcome in B's feed",
        |_, e| matches!(e, Event::ColleagueAction(t) if t.contains("succeeded")),
    );
    assert!(
        finished.elapsed() <= Duration::from_secs(1),
        "{:?}",
        finished.elapsed()
    );
    b.until("the lock gone from B's view", |v, _| {
        v.in_progress.is_empty()
    });
    let free = b.plan(scale_api(before + 3));
    assert!(!free.refused(), "{:?}", free.guards);
}
