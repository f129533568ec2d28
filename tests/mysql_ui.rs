//! MariaDB pairs in the Databases panel: servers, topology, and Promote through the confirm
//! dialog, executed by the pipeline and audited. The demo fleet's pair (typed name, Force over
//! the "another writable server" refusal), and a real MariaDB 10.11 GTID primary + replica
//! (`support::mysql`): refused with the fence while the source answers, promoted once it stops.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use scaleboard::actions::Action;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::model::snapshot::Snapshot;
use scaleboard::profiles::{CredentialsFile, SecretRef};
use std::time::{Duration, Instant};
use support::mysql::{MariaPair, PW_PASSWORD, PW_USER};
use support::{TestApp, start};

#[test]
fn demo_mariadb_pair_is_shown_and_its_replica_promoted_through_the_confirm_dialog() {
    let mut t = start(None, None);
    t.run_until("every endpoint answered, the MariaDB pair too", |a| {
        a.fleet.endpoints.iter().all(|e| e.snapshot.is_some())
            && a.fleet.mysql_clusters().next().is_some()
    });
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    // The MySQL/MariaDB view comes after the PostgreSQL and Patroni clusters: a tall screen
    // shows it without scrolling.
    t.harness.set_size(egui::Vec2::new(1400.0, 2600.0));
    t.harness.run_steps(3);
    let db = t
        .app()
        .fleet
        .endpoints
        .iter()
        .find_map(|e| match &e.snapshot {
            Some(Snapshot::Mysql(db)) => Some(db.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(db.cluster, "accounts-db");
    assert!(
        db.topology_line()
            .starts_with("source maria-1 (MariaDB, writable) -> maria-2 lag"),
        "{}",
        db.topology_line()
    );
    t.harness.get_by_label("MariaDB cluster accounts-db");
    t.harness
        .get_by_label_contains("source maria-1 (MariaDB, writable)");
    t.harness
        .get_all_by_label("Promote…")
        .last()
        .unwrap()
        .click();
    t.run_until("dialog open", |a| a.actions.dialog.is_some());
    // Three refusals with their advice make a tall dialog: a tall screen shows all of it.
    t.harness.set_size(egui::Vec2::new(1400.0, 1800.0));
    t.harness.run_steps(2);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert!(matches!(
        &dialog.plan.action,
        Action::PromoteMysqlReplica { replica, .. } if replica == "maria-2"
    ));
    assert!(dialog.plan.refused(), "maria-1 still takes writes");
    assert!(
        dialog
            .plan
            .command
            .contains("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF;")
    );
    t.harness
        .get_by_label_contains("maria-1 still answers and accepts writes");
    t.harness
        .get_by_label_contains("Force: I understand the refusal")
        .click();
    t.harness.run_steps(2);
    assert!(t.app().actions.dialog.as_ref().unwrap().forced);
    let label = "Type \"maria-2\" to confirm:";
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .click();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .type_text("maria-2");
    t.harness.run_steps(2);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert_eq!(dialog.typed_name, "maria-2");
    assert!(
        dialog.can_confirm(),
        "plan complete: {}",
        dialog.plan_complete()
    );
    t.harness.get_by_label("Confirm (forced)").click();
    t.run_until("confirmed", |a| a.actions.dialog.is_none());
    t.advance_until("promotion finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t
        .app()
        .actions
        .running
        .iter()
        .find_map(|r| r.record.clone())
        .unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:#?}");
    assert!(record.forced);
    assert!(
        record.detail.contains("maria-2 is a writable source"),
        "{}",
        record.detail
    );
}

#[test]
fn the_profile_editor_adds_a_mysql_cluster() {
    use scaleboard::app::PanelId;
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.open_section("MySQL / MariaDB", "Add MySQL/MariaDB cluster");
    t.harness
        .get_by_label("Add MySQL/MariaDB cluster")
        .click_accesskit();
    t.run_until("cluster added", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.mysql.len() == 1)
    });
    let (_, p) = t.app().profiles.editor.as_ref().unwrap();
    assert_eq!(p.mysql[0].name, "mysql-1");
    assert_eq!(p.mysql[0].primary_url, "mysql://root@127.0.0.1:3306");
    assert_eq!(p.mysql[0].max_failover_lag_seconds, 5);
    t.harness.get_by_label("Primary URL");
    t.harness.get_by_label("Max failover lag (seconds)");
}

/// One second on the manual clock with real time for the servers to answer: a poll of the
/// real pair takes real milliseconds, and a clock racing ahead would outrun it.
fn slow_second(t: &mut TestApp) {
    t.clock.advance(Duration::from_secs(1));
    for _ in 0..5 {
        t.harness.step();
        std::thread::sleep(Duration::from_millis(40));
    }
}

/// Seconds on the manual clock (at real pace) until `cond` holds, bounded.
fn slow_until(t: &mut TestApp, what: &str, cond: impl Fn(&scaleboard::app::ScaleboardApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !cond(t.app()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for: {what}; the view has {:#?}",
            real_db(t)
        );
        slow_second(t);
    }
    t.harness.run_steps(2);
}

fn real_db(t: &TestApp) -> Option<scaleboard::model::mysql::MysqlSnapshot> {
    t.app()
        .fleet
        .endpoints
        .iter()
        .find_map(|e| match &e.snapshot {
            Some(Snapshot::Mysql(db)) if db.cluster == "accounts" => Some(db.clone()),
            _ => None,
        })
}

fn server_state(a: &scaleboard::app::ScaleboardApp, name: &str) -> Option<(bool, bool, bool)> {
    a.fleet.mysql_clusters().find_map(|(_, db)| {
        db.servers.iter().find(|s| s.name == name).map(|s| {
            let threads = s
                .replica
                .as_ref()
                .is_some_and(|r| r.io_running() && r.sql_running);
            (s.reachable, s.writable(), threads)
        })
    })
}

fn promote_dialog(t: &mut TestApp) {
    t.harness.get_by_label("Promote…").click();
    t.run_until("dialog open", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.plan_complete())
    });
    t.harness.run_steps(2);
    assert!(matches!(
        &t.app().actions.dialog.as_ref().unwrap().plan.action,
        Action::PromoteMysqlReplica { replica, .. } if replica == "replica"
    ));
}

/// Issue #14 in the window, against real servers: the password comes from `credentials.toml`
/// through `profiles::Resolver`, as in the app; Promote is refused with how to fence the source
/// while it answers, and runs, verified, once the source is stopped.
#[test]
fn real_mariadb_replica_is_refused_while_the_source_answers_and_promoted_once_it_stops() {
    let pair = MariaPair::start();
    // What `scaleboard secret set` writes on a machine without a keyring; the app names its
    // config dir the same way at start-up.
    let creds = tempfile::tempdir().unwrap();
    let secret = SecretRef::new("my/mysql/accounts");
    CredentialsFile::in_dir(creds.path())
        .set(&secret, PW_PASSWORD)
        .unwrap();
    scaleboard::profiles::secrets::use_credentials_dir(creds.path());
    let toml = format!(
        "last_used = \"my\"\n[[profile]]\nname = \"my\"\nrefresh_interval_secs = 1\n\
         [[profile.mysql]]\nname = \"accounts\"\n\
         primary_url = \"mysql://{PW_USER}@127.0.0.1:{}?name=primary\"\n\
         replica_urls = [\"mysql://{PW_USER}@127.0.0.1:{}?name=replica\"]\n\
         password = {{ account = \"{}\" }}\nmax_failover_lag_seconds = 5\n",
        pair.primary.port, pair.replica.port, secret.account
    );
    let mut t = start(Some(&toml), Some("my"));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.harness.set_size(egui::Vec2::new(1400.0, 2600.0));
    slow_until(
        &mut t,
        "source writable, replica with both threads running",
        |a| {
            server_state(a, "primary") == Some((true, true, false))
                && server_state(a, "replica") == Some((true, false, true))
        },
    );
    t.harness.get_by_label("MariaDB cluster accounts");
    let line = real_db(&t).unwrap().topology_line();
    assert!(
        line.starts_with("source primary (MariaDB, writable) -> replica lag")
            && line.ends_with("[IO Yes, SQL Yes]"),
        "{line}"
    );
    t.harness.get_by_label(line.as_str());
    t.harness.get_by_label("IO Yes, SQL Yes");
    assert_eq!(
        t.harness.query_all_by_label("Promote…").count(),
        1,
        "only the replica can be promoted"
    );

    // The source answers and takes writes: refused, and the dialog says how to fence it.
    promote_dialog(&mut t);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert!(dialog.plan.refused(), "{:#?}", dialog.plan.guards);
    assert!(!dialog.can_confirm());
    let fence = format!(
        "mariadb -h 127.0.0.1 -P {} -e \"SET GLOBAL read_only=ON\"",
        pair.primary.port
    );
    let refusal = t
        .harness
        .get_by_label_contains("primary still answers and accepts writes");
    // A label's text is its accesskit value (kittest matches labels on it too).
    let node = refusal.accesskit_node();
    let words = node.value().or(node.label()).unwrap_or_default();
    for part in ["two writable servers", fence.as_str(), "shutdown"] {
        assert!(words.contains(part), "no \"{part}\" in: {words}");
    }
    t.harness.get_by_label("Close").click();
    t.run_until("dialog closed", |a| a.actions.dialog.is_none());
    assert!(t.app().actions.running.is_empty(), "nothing ran");
    assert_eq!(pair.sql(&pair.replica, "SELECT @@read_only"), "1");

    // The source stops: the view says so, and the promotion goes through.
    pair.stop(&pair.primary);
    slow_until(&mut t, "the source seen unreachable", |a| {
        // The replica's IO thread now retries the lost source ("Connecting").
        server_state(a, "primary").is_some_and(|s| !s.0)
            && server_state(a, "replica").is_some_and(|s| s.0 && !s.1)
    });
    t.harness.get_by_label("primary, unreachable");
    t.harness
        .get_by_label_contains("No writable source answers.");
    promote_dialog(&mut t);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert!(!dialog.plan.refused(), "{:#?}", dialog.plan.guards);
    assert!(dialog.plan.dangerous, "a typed name is asked");
    assert!(
        dialog.plan.before.contains("primary: unreachable"),
        "{}",
        dialog.plan.before
    );
    confirm(&mut t);
    t.run_until("confirmed", |a| a.actions.dialog.is_none());
    slow_until(&mut t, "promotion finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t
        .app()
        .actions
        .running
        .iter()
        .find_map(|r| r.record.clone())
        .unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:#?}");
    assert!(!record.forced);
    assert!(
        record
            .detail
            .contains("replica is a writable source (read_only OFF, no replica configuration)"),
        "{}",
        record.detail
    );
    t.harness.get_by_label_contains("— Succeeded: ");
    // The real server: writable, no replica configuration, an ordinary user's write lands.
    assert_eq!(pair.sql(&pair.replica, "SELECT @@read_only"), "0");
    assert_eq!(pair.sql(&pair.replica, "SHOW SLAVE STATUS"), "");
    pair.app_sql(&pair.replica, "INSERT INTO app.t (v) VALUES (60)")
        .unwrap();
    let audit = scaleboard::actions::audit::AuditLog::new(&support::data_dir(&t.dir))
        .read_all()
        .unwrap();
    assert_eq!(
        audit.records.len(),
        2,
        "intent and outcome: {:?}",
        audit.records
    );
}

fn confirm(t: &mut TestApp) {
    let name = t
        .app()
        .actions
        .dialog
        .as_ref()
        .unwrap()
        .plan
        .action
        .target_name();
    let label = format!("Type \"{name}\" to confirm:");
    t.harness
        .get_by_role_and_label(Role::TextInput, &label)
        .click();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, &label)
        .type_text(&name);
    t.run_until("confirmable", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.get_by_label("Confirm").click();
}
