//! Guards and verification of Patroni actions on hand-made clusters: every refusal Patroni
//! itself would make is said in words first.

use crate::actions::plan::{FleetView, GuardLevel, Plan, PlanPolicy, plan};
use crate::actions::verify::{Verification, check};
use crate::model::action::Action;
use crate::model::patroni::{PatroniMember, PatroniRole, PatroniSnapshot, ScheduledSwitchover};
use crate::model::snapshot::{DatabaseSnapshot, DbServer, Snapshot, Workload, WorkloadRef};

fn member(name: &str, role: PatroniRole, lag: Option<u64>) -> PatroniMember {
    PatroniMember {
        name: name.into(),
        role,
        state: "running".into(),
        api_url: Some(format!("http://{name}:8008/patroni")),
        host: name.into(),
        port: 5432,
        timeline: Some(2),
        lag_bytes: lag,
        ..PatroniMember::default()
    }
}

fn cluster() -> PatroniSnapshot {
    PatroniSnapshot {
        cluster: "c".into(),
        members: vec![
            member("a", PatroniRole::Leader, None),
            member("b", PatroniRole::Replica, Some(0)),
            member("c", PatroniRole::Replica, Some(0)),
        ],
        maximum_lag_on_failover: Some(1000),
        answered_by: "http://a:8008".into(),
        ..PatroniSnapshot::default()
    }
}

struct View(PatroniSnapshot, Option<DatabaseSnapshot>);

impl FleetView for View {
    fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
        None
    }
    fn database(&self, _: &str) -> Option<&DatabaseSnapshot> {
        self.1.as_ref()
    }
    fn patroni(&self, endpoint: &str) -> Option<&PatroniSnapshot> {
        (endpoint == "ha").then_some(&self.0)
    }
    fn patroni_clusters(&self) -> Vec<(&str, &PatroniSnapshot)> {
        vec![("ha", &self.0)]
    }
}

fn policy() -> PlanPolicy {
    PlanPolicy {
        profile: "p".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    }
}

fn so(leader: &str, candidate: Option<&str>) -> Action {
    Action::PatroniSwitchover {
        endpoint: "ha".into(),
        cluster: "c".into(),
        leader: leader.into(),
        candidate: candidate.map(Into::into),
        scheduled_at: None,
    }
}

fn refused(p: &Plan) -> String {
    p.guards
        .iter()
        .filter(|g| g.level == GuardLevel::Refuse)
        .map(|g| g.reason.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn a_healthy_switchover_passes_and_shows_both_commands() {
    let p = plan(so("a", Some("b")), &View(cluster(), None), &policy());
    assert!(!p.refused(), "{:#?}", p.guards);
    assert!(p.dangerous);
    assert!(p.command.contains(
        "patronictl -c <patroni.yml> switchover c --leader a --candidate b --scheduled now --force"
    ));
    assert!(
        p.command.contains(
            "curl -s -XPOST http://a:8008/switchover -d '{\"leader\":\"a\",\"candidate\":\"b\"}'"
        ),
        "{}",
        p.command
    );
    assert_eq!(p.action.target_name(), "b");
}

#[test]
fn lag_timeline_stopped_and_leader_mismatch_refuse_in_words() {
    let mut s = cluster();
    s.members[1].lag_bytes = Some(5000);
    s.members[2].timeline = Some(1);
    let view = View(s.clone(), None);
    let r = refused(&plan(so("a", Some("b")), &view, &policy()));
    assert!(r.contains("more than maximum_lag_on_failover"), "{r}");
    let r = refused(&plan(so("a", Some("c")), &view, &policy()));
    assert!(r.contains("timeline 1, behind the leader's 2"), "{r}");
    let r = refused(&plan(so("b", Some("c")), &view, &policy()));
    assert!(r.contains("leader name does not match"), "{r}");
    // Patroni's choice with nobody able: the 412 said before Patroni says it.
    let r = refused(&plan(so("a", None), &view, &policy()));
    assert!(r.contains("412 no good candidates"), "{r}");
    s.members[1].state = "stopped".into();
    let r = refused(&plan(so("a", Some("b")), &View(s, None), &policy()));
    assert!(r.contains("b is stopped, not running"), "{r}");
}

#[test]
fn synchronous_mode_needs_the_sync_standby_and_pause_needs_a_candidate() {
    let mut s = cluster();
    s.synchronous_mode = true;
    s.members[2].role = PatroniRole::SyncStandby;
    let view = View(s.clone(), None);
    let r = refused(&plan(so("a", Some("b")), &view, &policy()));
    assert!(r.contains("not a sync standby"), "{r}");
    assert!(!plan(so("a", Some("c")), &view, &policy()).refused());
    s.synchronous_mode = false;
    s.paused = true;
    let r = refused(&plan(so("a", None), &View(s.clone(), None), &policy()));
    assert!(r.contains("paused"), "{r}");
    let mut at = so("a", Some("b"));
    if let Action::PatroniSwitchover { scheduled_at, .. } = &mut at {
        *scheduled_at = Some("tomorrow".into());
    }
    let r = refused(&plan(at, &View(s, None), &policy()));
    assert!(
        r.contains("not a time Patroni accepts") && r.contains("cannot schedule"),
        "{r}"
    );
}

#[test]
fn failover_wants_no_healthy_leader_and_cancel_wants_a_schedule() {
    let fo = |c: &str| Action::PatroniFailover {
        endpoint: "ha".into(),
        cluster: "c".into(),
        candidate: c.into(),
    };
    let r = refused(&plan(fo("b"), &View(cluster(), None), &policy()));
    assert!(r.contains("use a switchover"), "{r}");
    let mut s = cluster();
    s.members[0].state = "stopped".into();
    assert!(!plan(fo("b"), &View(s.clone(), None), &policy()).refused());
    let cancel = Action::PatroniCancelSwitchover {
        endpoint: "ha".into(),
        cluster: "c".into(),
    };
    let p = plan(cancel.clone(), &View(cluster(), None), &policy());
    assert!(refused(&p).contains("nothing to cancel"));
    assert!(!p.dangerous);
    s.scheduled_switchover = Some(ScheduledSwitchover {
        at: "2026-12-01T03:00:00+00:00".into(),
        from: Some("a".into()),
        to: None,
    });
    let p = plan(cancel, &View(s, None), &policy());
    assert!(!p.refused());
    assert!(p.command.contains("flush c switchover"), "{}", p.command);
}

#[test]
fn pg_promote_on_a_member_is_refused_with_the_switchover_offered() {
    let db = DatabaseSnapshot {
        cluster: "pg".into(),
        servers: vec![
            DbServer {
                name: "db1".into(),
                reachable: true,
                address: Some("a:5432".into()),
                ..DbServer::default()
            },
            DbServer {
                name: "db2".into(),
                reachable: true,
                in_recovery: true,
                address: Some("b:5432".into()),
                ..DbServer::default()
            },
        ],
        ..DatabaseSnapshot::default()
    };
    let promote = Action::PromoteReplica {
        endpoint: "pg".into(),
        cluster: "pg".into(),
        replica: "db2".into(),
    };
    let p = plan(promote, &View(cluster(), Some(db)), &policy());
    assert!(
        refused(&p).contains("db2 is managed by Patroni cluster c (member b)"),
        "{}",
        refused(&p)
    );
    // The leader db1 accepts writes, but stopping it by hand is no advice here: Patroni
    // would start it again. The way is Patroni's own switchover or failover.
    let all: Vec<&str> = p.guards.iter().map(|g| g.reason.as_str()).collect();
    assert!(all.iter().all(|g| !g.contains("pg_ctl stop")), "{all:#?}");
    assert!(
        refused(&p).contains("`scaleboard switchover c --candidate b`")
            && refused(&p).contains("`scaleboard failover c --candidate b`"),
        "{}",
        refused(&p)
    );
    assert_eq!(p.alternative.unwrap().action, so("a", Some("b")));
}

#[test]
fn a_changed_leader_or_candidate_stops_the_write_but_lag_noise_does_not() {
    let view = View(cluster(), None);
    let planned = plan(so("a", Some("b")), &view, &policy());
    let mut s = cluster();
    s.members[1].lag_bytes = Some(700);
    let (verdict, _) =
        crate::actions::recheck::recheck(&planned, &Snapshot::Patroni(Box::new(s.clone())), false);
    assert_eq!(verdict, crate::actions::recheck::Recheck::Unchanged);
    s.members[1].nofailover = true;
    let (verdict, _) =
        crate::actions::recheck::recheck(&planned, &Snapshot::Patroni(Box::new(s)), false);
    let crate::actions::recheck::Recheck::Changed(why) = verdict else {
        panic!("{verdict:?}")
    };
    assert!(why.iter().any(|w| w.contains("tags of b")), "{why:?}");
}

#[test]
fn verification_waits_for_the_new_leader_and_followers_on_its_timeline() {
    let action = so("a", Some("b"));
    let mut s = cluster();
    assert!(
        matches!(check(&action, &Snapshot::Patroni(Box::new(s.clone()))), Verification::Pending(t) if t.contains("a still leads"))
    );
    s.members[0].role = PatroniRole::Replica;
    s.members[1].role = PatroniRole::Leader;
    s.switched_from_timeline = Some(2);
    // Patroni names the new leader before its promotion has moved the timeline.
    let seen = check(&action, &Snapshot::Patroni(Box::new(s.clone())));
    assert!(
        matches!(&seen, Verification::Applied(t) if t.contains("still on timeline 2")),
        "{seen:?}"
    );
    s.members[1].timeline = Some(3);
    s.members[0].state = "starting".into();
    let seen = check(&action, &Snapshot::Patroni(Box::new(s.clone())));
    assert!(
        matches!(&seen, Verification::Applied(t) if t.contains("not settled yet: c is still on timeline 2, a is starting")),
        "{seen:?}"
    );
    for m in &mut s.members {
        m.state = "running".into();
        m.timeline = Some(3);
    }
    s.members[0].lag_bytes = Some(0);
    let seen = check(&action, &Snapshot::Patroni(Box::new(s)));
    assert_eq!(
        seen,
        Verification::Done("b leads on timeline 3; a, c follow it".into())
    );
}

/// A view with the PostgreSQL endpoint only: its Patroni endpoint has not answered yet.
struct NoPatroni(DatabaseSnapshot);

impl FleetView for NoPatroni {
    fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
        None
    }
    fn database(&self, _: &str) -> Option<&DatabaseSnapshot> {
        Some(&self.0)
    }
}

fn two_servers(replica_address: &str) -> DatabaseSnapshot {
    DatabaseSnapshot {
        cluster: "pg".into(),
        servers: vec![
            DbServer {
                name: "db1".into(),
                reachable: true,
                address: Some("db1.example:5432".into()),
                ..DbServer::default()
            },
            DbServer {
                name: "db2".into(),
                reachable: true,
                in_recovery: true,
                address: Some(replica_address.into()),
                ..DbServer::default()
            },
        ],
        ..DatabaseSnapshot::default()
    }
}

fn promote_db2() -> Action {
    Action::PromoteReplica {
        endpoint: "pg".into(),
        cluster: "pg".into(),
        replica: "db2".into(),
    }
}

#[test]
fn discover_from_makes_every_server_patronis_and_unknown_state_refuses() {
    let linked = PlanPolicy {
        patroni_links: vec![crate::actions::plan::PatroniLink {
            patroni: "ha".into(),
            postgres: "pg".into(),
        }],
        ..policy()
    };
    // No member has this address: only the profile's discover_from ties them.
    let db = two_servers("db2.example:5432");
    let unlinked = refused(&plan(
        promote_db2(),
        &View(cluster(), Some(db.clone())),
        &policy(),
    ));
    assert!(!unlinked.contains("Patroni"), "{unlinked}");
    let r = refused(&plan(
        promote_db2(),
        &View(cluster(), Some(db.clone())),
        &linked,
    ));
    assert!(
        r.contains("whose servers Patroni endpoint ha (cluster c) manages"),
        "{r}"
    );
    let r = refused(&plan(promote_db2(), &NoPatroni(db), &linked));
    assert!(r.contains("the Patroni state is unknown"), "{r}");
}

#[test]
fn member_addresses_match_case_insensitively_and_localhost_as_loopback() {
    let mut s = cluster();
    s.members[1].host = "127.0.0.1".into();
    s.members[1].port = 5433;
    let db = two_servers("LOCALHOST:5433");
    let r = refused(&plan(promote_db2(), &View(s, Some(db)), &policy()));
    assert!(
        r.contains("db2 is managed by Patroni cluster c (member b)"),
        "{r}"
    );
}

#[test]
fn plans_name_the_endpoint_and_the_url_that_answered() {
    let p = plan(so("a", Some("b")), &View(cluster(), None), &policy());
    assert_eq!(p.title, "Switchover c (endpoint ha): a -> b");
    assert!(
        p.before
            .starts_with("Patroni endpoint ha, cluster c, read from http://a:8008"),
        "{}",
        p.before
    );
}

fn scheduled(at: &str, to: Option<&str>) -> Action {
    Action::PatroniSwitchover {
        endpoint: "ha".into(),
        cluster: "c".into(),
        leader: "a".into(),
        candidate: to.map(Into::into),
        scheduled_at: Some(at.into()),
    }
}

#[test]
fn a_scheduled_switchover_verifies_only_when_time_and_members_match() {
    let mut s = cluster();
    s.scheduled_switchover = Some(ScheduledSwitchover {
        at: "2026-12-01T03:00:00+00:00".into(),
        from: Some("a".into()),
        to: Some("b".into()),
    });
    let seen = |a: Action| check(&a, &Snapshot::Patroni(Box::new(s.clone())));
    assert!(matches!(
        seen(scheduled("2026-12-01T03:00:00Z", Some("b"))),
        Verification::Done(_)
    ));
    // Someone else's schedule is not this one.
    for other in [
        scheduled("2026-12-01T04:00:00+00:00", Some("b")),
        scheduled("2026-12-01T03:00:00+00:00", Some("c")),
        scheduled("2026-12-01T03:00:00+00:00", None),
    ] {
        let v = seen(other.clone());
        assert!(
            matches!(&v, Verification::Pending(t) if t.contains("not the one asked")),
            "{other:?}: {v:?}"
        );
    }
}

#[test]
fn a_schedule_that_appears_or_changes_stops_every_patroni_write() {
    let planned = plan(so("a", Some("b")), &View(cluster(), None), &policy());
    let mut s = cluster();
    s.scheduled_switchover = Some(ScheduledSwitchover {
        at: "2026-12-01T03:00:00+00:00".into(),
        from: Some("a".into()),
        to: Some("c".into()),
    });
    let (verdict, _) =
        crate::actions::recheck::recheck(&planned, &Snapshot::Patroni(Box::new(s)), false);
    let crate::actions::recheck::Recheck::Changed(why) = verdict else {
        panic!("{verdict:?}")
    };
    assert!(
        why.iter()
            .any(|w| w.contains("scheduled switchover") && w.contains("a -> c")),
        "{why:?}"
    );
}

#[test]
fn an_unread_config_is_shown_as_unknown_and_warned_about() {
    let mut s = cluster();
    s.maximum_lag_on_failover = None;
    s.config_unread = true;
    let p = plan(so("a", Some("b")), &View(s, None), &policy());
    assert!(
        !p.before.contains("maximum_lag_on_failover 1 MiB"),
        "{}",
        p.before
    );
    assert!(
        p.before
            .contains("maximum_lag_on_failover and synchronous_mode unknown"),
        "{}",
        p.before
    );
    assert!(
        p.guards
            .iter()
            .any(|g| g.level == GuardLevel::Warn && g.reason.contains("/config could not be read")),
        "{:#?}",
        p.guards
    );
}

#[test]
fn quorum_mode_switches_over_to_a_quorum_standby_only() {
    let mut s = cluster();
    s.synchronous_mode = true;
    s.quorum_mode = true;
    s.members[2].role = PatroniRole::QuorumStandby;
    let view = View(s, None);
    assert!(!plan(so("a", Some("c")), &view, &policy()).refused());
    let r = refused(&plan(so("a", Some("b")), &view, &policy()));
    assert!(r.contains("not a quorum standby"), "{r}");
}
