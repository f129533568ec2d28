//! The demo fleet's MariaDB pair in the Databases panel: servers, topology, and Promote through
//! the confirm dialog (typed name, Force over the "another writable server" refusal), executed
//! by the pipeline and audited.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::Action;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::model::snapshot::Snapshot;
use support::start;

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
    t.harness.get_by_label("New profile").click();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.harness.get_by_label("MySQL / MariaDB").click();
    t.harness.run_steps(2);
    t.harness.get_by_label("Add MySQL/MariaDB cluster").click();
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
