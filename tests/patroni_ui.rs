//! Patroni in the window against a real cluster (Patroni 3 + etcd + three PostgreSQL 15
//! members, m3 tagged `nofailover`, REST API behind basic auth; `support::patroni`): the
//! Databases panel shows the members, the nofailover member has no Switchover…/Failover…
//! button, a Patroni member's PostgreSQL row has no Promote…, and Switchover… on the other
//! replica goes through the confirm dialog and the pipeline until the real cluster has a new
//! leader.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::Action;
use scaleboard::actions::audit::{AuditLog, AuditOutcome};
use scaleboard::app::{PanelId, ScaleboardApp};
use scaleboard::model::patroni::PatroniSnapshot;
use std::time::{Duration, Instant};
use support::patroni::{PatroniCluster, REST_PASSWORD, REST_USER, SCOPE};
use support::{TestApp, start};

/// One second on the manual clock with real time for the servers to answer: the pipeline's
/// verification sleeps on the manual clock while Patroni settles in real time, so a clock racing
/// ahead would run out the verification window before the replicas follow the new leader.
fn slow_second(t: &mut TestApp) {
    t.clock.advance(Duration::from_secs(1));
    for _ in 0..5 {
        t.harness.step();
        std::thread::sleep(Duration::from_millis(60));
    }
}

/// Slow seconds until `cond` holds, bounded in real time.
fn slowly_until(
    t: &mut TestApp,
    what: &str,
    limit: Duration,
    cond: impl Fn(&ScaleboardApp) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !cond(t.app()) {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        slow_second(t);
    }
    t.harness.step();
}

fn cluster_view(a: &ScaleboardApp) -> Option<&PatroniSnapshot> {
    a.fleet.patroni_snapshots().map(|(_, p)| p).next()
}

/// The REST password in the process's credentials file (mode 0600), under the conventional
/// entry; the connector looks it up when it writes, so after the app started is in time.
fn write_credentials(config_dir: &std::path::Path) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(config_dir.join("credentials.toml"))
        .unwrap();
    writeln!(f, "[scaleboard]\n\"pt/patroni/ha\" = \"{REST_PASSWORD}\"").unwrap();
    scaleboard::profiles::secrets::use_credentials_dir(config_dir);
}

/// Clicks the Switchover… button of `member`'s row: one per non-leader member, in the table's
/// order. The dialog it opens must name that member, so a wrong row fails here.
fn click_switchover(t: &mut TestApp, member: &str) {
    let row = cluster_view(t.app())
        .unwrap()
        .members
        .iter()
        .filter(|m| !m.role.is_leader())
        .position(|m| m.name == member)
        .unwrap_or_else(|| panic!("{member} is not a replica in the view"));
    t.harness
        .query_all_by_label("Switchover…")
        .nth(row)
        .unwrap_or_else(|| panic!("no Switchover… button for {member}"))
        .click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
    let action = t.app().actions.dialog.as_ref().unwrap().plan.action.clone();
    assert!(
        matches!(&action, Action::PatroniSwitchover { candidate: Some(c), .. } if c == member),
        "{action:?}"
    );
    // The modal takes a few frames to settle before it takes clicks.
    t.harness.run_steps(3);
}

fn confirm(t: &mut TestApp) {
    let (dangerous, name) = {
        let d = t.app().actions.dialog.as_ref().unwrap();
        (d.plan.dangerous, d.plan.action.target_name())
    };
    if dangerous {
        let label = format!("Type \"{name}\" to confirm:");
        t.harness
            .get_by_role_and_label(Role::TextInput, &label)
            .click();
        t.harness.run_steps(2);
        t.harness
            .get_by_role_and_label(Role::TextInput, &label)
            .type_text(&name);
    }
    t.run_until("confirmable", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.get_by_label("Confirm").click();
}

#[test]
fn switchover_in_the_window_on_a_real_cluster() {
    let cluster = PatroniCluster::start();
    assert_eq!(cluster.leader().as_deref(), Some("m1"));
    let urls: Vec<String> = cluster
        .members
        .iter()
        .map(|m| format!("\"{}\"", m.api_url()))
        .collect();
    let toml = format!(
        "last_used = \"pt\"\n[[profile]]\nname = \"pt\"\nrefresh_interval_secs = 1\n\
         [[profile.patroni]]\nname = \"ha\"\nurls = [{}]\nusername = \"{REST_USER}\"\n\
         patronictl_config = \"{}/patroni.yml\"\n",
        urls.join(", "),
        cluster.members[0].dir.display()
    );
    let mut t = start(Some(&toml), Some("pt"));
    write_credentials(&support::config_dir(&t.dir));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.run_until("databases panel", |a| a.view.panel == PanelId::Databases);
    slowly_until(
        &mut t,
        "the real cluster in view",
        Duration::from_secs(30),
        |a| cluster_view(a).is_some_and(|p| p.members.len() == 3 && p.leader().is_some()),
    );

    // The members table: m1 leads, m2 and m3 replicate, m3 carries its tag. The heading names
    // the endpoint too: two endpoints may hold clusters of the same scope.
    t.harness
        .get_by_label(format!("Patroni cluster {SCOPE} (ha)").as_str());
    // (The lag plot's legend names the replicas too, as checkboxes.)
    for name in ["m1", "m2", "m3"] {
        t.harness.get_by_role_and_label(Role::Label, name);
    }
    assert_eq!(t.harness.query_all_by_label("leader").count(), 1);
    assert_eq!(t.harness.query_all_by_label("replica").count(), 2);
    t.harness.get_by_role_and_label(Role::Label, "nofailover");
    let p = cluster_view(t.app()).unwrap();
    assert_eq!(p.leader().unwrap().name, "m1");
    assert!(p.member("m3").unwrap().nofailover);
    // Only m2 can take over: m3 is tagged nofailover (Patroni would answer 412), so its row
    // offers no Switchover… and says why.
    assert_eq!(t.harness.query_all_by_label("Switchover…").count(), 1);
    t.harness.get_by_label("nofailover: cannot lead");

    // Switchover… on m2: typed name, grace, re-check, Patroni switches, verified by /cluster.
    click_switchover(&mut t, "m2");
    {
        let d = t.app().actions.dialog.as_ref().unwrap();
        assert!(!d.plan.refused(), "{:#?}", d.plan.guards);
        assert!(d.plan.dangerous);
        assert!(
            d.plan
                .command
                .contains("switchover sbtest --leader m1 --candidate m2"),
            "{}",
            d.plan.command
        );
    }
    confirm(&mut t);
    t.run_until("grace period", |a| {
        a.actions.dialog.is_none() && a.actions.in_flight().count() == 1
    });
    slowly_until(&mut t, "the action record", Duration::from_secs(60), |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t
        .app()
        .actions
        .running
        .iter()
        .find_map(|r| r.record.clone())
        .unwrap();
    assert_eq!(
        record.outcome,
        AuditOutcome::Succeeded,
        "{record:#?}\n{}",
        cluster.logs()
    );
    assert_eq!(record.action, "switchover");
    assert!(
        record.detail.contains("Successfully switched over to")
            && record
                .detail
                .contains("verified: m2 leads on timeline 2; m1, m3 follow it"),
        "{}",
        record.detail
    );
    assert_eq!(cluster.leader().as_deref(), Some("m2"), "the real leader");
    let audit = AuditLog::new(&support::data_dir(&t.dir))
        .read_all()
        .unwrap();
    let outcomes: Vec<AuditOutcome> = audit.records.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [AuditOutcome::Intent, AuditOutcome::Succeeded],
        "write-ahead intent, then the outcome"
    );
    // The window follows: m2 leads in the table, and m1 now has a Switchover… button.
    slowly_until(
        &mut t,
        "m2 leads in the view",
        Duration::from_secs(20),
        |a| cluster_view(a).is_some_and(|p| p.leader().is_some_and(|l| l.name == "m2")),
    );
    assert_eq!(t.harness.query_all_by_label("leader").count(), 1);
    let replicas: Vec<String> = cluster_view(t.app())
        .unwrap()
        .members
        .iter()
        .filter(|m| !m.role.is_leader())
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(replicas, ["m1", "m3"]);
}

/// The cluster's PostgreSQL servers are in the profile too: their rows offer no Promote…
/// (pg_promote is refused on a Patroni member). Without a leader, Failover… is offered only on
/// the member that can take over: not on the nofailover one, not on the stopped old leader.
#[test]
fn buttons_are_offered_only_where_the_action_can_run() {
    let cluster = PatroniCluster::start();
    let urls: Vec<String> = cluster
        .members
        .iter()
        .map(|m| format!("\"{}\"", m.api_url()))
        .collect();
    let dsn = |name: &str, app: &str| {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable application_name={app}",
            cluster.member(name).pg_port
        )
    };
    let toml = format!(
        "last_used = \"pt\"\n[[profile]]\nname = \"pt\"\nrefresh_interval_secs = 1\n\
         [[profile.postgres]]\nname = \"pg\"\nprimary_dsn = \"{}\"\nreplica_dsns = [\"{}\", \"{}\"]\n\
         [[profile.patroni]]\nname = \"ha\"\nurls = [{}]\nusername = \"{REST_USER}\"\n",
        dsn("m1", "db1"),
        dsn("m2", "db2"),
        dsn("m3", "db3"),
        urls.join(", "),
    );
    let mut t = start(Some(&toml), Some("pt"));
    write_credentials(&support::config_dir(&t.dir));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.run_until("databases panel", |a| a.view.panel == PanelId::Databases);
    slowly_until(
        &mut t,
        "the cluster and its PostgreSQL servers in view",
        Duration::from_secs(30),
        |a| {
            cluster_view(a).is_some_and(|p| p.members.len() == 3 && p.leader().is_some())
                && a.fleet.databases().any(|(_, db)| {
                    db.servers.len() == 3
                        && db
                            .servers
                            .iter()
                            .filter(|s| s.reachable && s.in_recovery)
                            .count()
                            == 2
                })
        },
    );
    t.harness.run_steps(3);
    assert!(
        t.harness.query_all_by_label("db2").count() >= 1,
        "db2's row is drawn"
    );
    assert_eq!(
        t.harness.query_all_by_label("Promote…").count(),
        0,
        "db2 and db3 are Patroni members m2 and m3"
    );
    assert_eq!(t.harness.query_all_by_label("Switchover…").count(), 1);

    // No leader: maintenance mode, and m1's PostgreSQL stopped behind Patroni's back.
    cluster.pause();
    cluster.stop_postgres("m1");
    slowly_until(&mut t, "no leader in view", Duration::from_secs(40), |a| {
        cluster_view(a).is_some_and(|p| {
            p.leader().is_none() && p.member("m1").is_some_and(|m| !m.is_running())
        })
    });
    t.harness.run_steps(3);
    assert_eq!(
        t.harness.query_all_by_label("Failover…").count(),
        1,
        "only m2 can take over"
    );
    t.harness.get_by_label("nofailover: cannot lead");
    t.harness.get_by_label("not running");
    t.harness.get_by_label("Failover…").click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
    let action = t.app().actions.dialog.as_ref().unwrap().plan.action.clone();
    assert!(
        matches!(&action, Action::PatroniFailover { candidate, .. } if candidate == "m2"),
        "{action:?}"
    );
}
