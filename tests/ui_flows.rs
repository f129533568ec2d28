//! UI flows on the demo fleet: fixed seed, manual clock, no network. Driven through AccessKit
//! labels and roles like an operator would, with assertions on app state and on disk.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::app::{PanelId, ScaleboardApp};
use scaleboard::model::clock::Clock;
use support::{TestApp, start};

fn writer(app: &ScaleboardApp) -> Option<(u32, u32)> {
    app.fleet
        .workloads()
        .find(|w| w.id.name == "writer-service")
        .map(|w| (w.desired, w.ready))
}

fn open_scale_dialog(t: &mut TestApp, replicas: u32) {
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    t.run_until("workloads listed", |a| writer(a).is_some());
    t.harness.get_by_label("writer-service").click_accesskit();
    t.run_until("writer selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.name == "writer-service")
    });
    t.harness.get_by_label("Scale…").click();
    t.run_until("scale form", |a| a.actions.scale_form.is_some());
    let spin = t.harness.get_by_role(Role::SpinButton);
    spin.set_value_accesskit(f64::from(replicas));
    t.run_until("replicas typed", |a| {
        a.actions
            .scale_form
            .as_ref()
            .is_some_and(|f| f.replicas == replicas)
    });
    t.harness.get_by_label("Preview scale").click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
}

fn type_confirmation(t: &mut TestApp, name: &str) {
    let label = format!("Type \"{name}\" to confirm:");
    t.harness
        .get_by_role_and_label(Role::TextInput, &label)
        .click();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, &label)
        .type_text(name);
}

#[test]
fn start_shows_live_data_on_overview() {
    let mut t = start(None, None);
    t.run_until("first snapshots", |a| {
        a.fleet.workloads().count() >= 6 && a.fleet.databases().count() == 1
    });
    assert_eq!(t.app().view.panel, PanelId::Overview);
    assert!(t.app().is_demo());
    // Tiles summarise each area and the DEMO badge is shown.
    t.harness.get_by_label_contains("workloads,");
    assert!(
        t.harness.query_all_by_label("DEMO").count() >= 1
            || t.harness.query_all_by_label(" DEMO ").count() >= 1
    );
    // More polls on the manual clock grow the series.
    t.advance(4);
    let key = scaleboard::metrics::SeriesKey::new(
        "demo-prod/nexus/deployment/writer-service",
        "replicas",
    );
    t.run_until("several samples", |a| a.store.version(&key) >= 3);
    assert!(
        t.app().store.series_count() > 40,
        "series: {}",
        t.app().store.series_count()
    );
}

#[test]
fn scale_confirm_grace_verify_and_audit() {
    let mut t = start(None, None);
    open_scale_dialog(&mut t, 5);
    // Dangerous: the typed name is required before Confirm is enabled.
    assert!(!t.app().actions.dialog.as_ref().unwrap().can_confirm());
    type_confirmation(&mut t, "writer-service");
    t.run_until("name typed", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.get_by_label("Confirm").click();
    t.run_until("grace period", |a| {
        a.actions.dialog.is_none() && a.actions.in_flight().count() == 1
    });
    // Nothing changes during the grace period.
    t.advance(3);
    assert_eq!(writer(t.app()).map(|w| w.0), Some(3));
    t.advance(12);
    t.run_until("action finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t.app().actions.running[0].record.clone().unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    t.run_until("replicas 5/5", |a| writer(a) == Some((5, 5)));
    // The Audit panel lists the record read back from the file.
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num8);
    t.run_until("audit loaded", |a| {
        a.audit.loaded && !a.audit.records.is_empty()
    });
    let r = &t.app().audit.records[0];
    assert_eq!(r.action, "scale");
    assert!(r.target.ends_with("writer-service"));
    assert_eq!(r.before, "3 replicas (3 ready)");
    assert_eq!(r.after, "5 replicas");
    assert!(!r.forced);
    let text = std::fs::read_to_string(support::data_dir(&t.dir).join("audit.jsonl")).unwrap();
    // Write-ahead: the intent, synced before the write, then the outcome with the same id.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("\"outcome\":\"intent\""), "{}", lines[0]);
    assert!(
        lines[1].contains("\"outcome\":\"succeeded\""),
        "{}",
        lines[1]
    );
}

#[test]
fn cancel_during_grace_changes_nothing() {
    let mut t = start(None, None);
    open_scale_dialog(&mut t, 7);
    type_confirmation(&mut t, "writer-service");
    t.run_until("name typed", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.get_by_label("Confirm").click();
    t.run_until("grace shown", |a| {
        a.actions
            .running
            .iter()
            .any(|r| matches!(r.stage, Some(scaleboard::engine::ActionStage::Grace { .. })))
    });
    t.advance(1);
    t.harness.get_by_label("Cancel").click();
    t.run_until("cancelled", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    assert_eq!(
        t.app().actions.running[0].record.as_ref().unwrap().outcome,
        AuditOutcome::Cancelled
    );
    t.advance(10);
    t.harness.run_steps(3);
    assert_eq!(
        writer(t.app()).map(|w| w.0),
        Some(3),
        "replicas must be unchanged"
    );
}

#[test]
fn read_only_profile_offers_no_scale() {
    let toml =
        "last_used = \"watch\"\n\n[[profile]]\nname = \"watch\"\ndemo = true\nread_only = true\n";
    let mut t = start(Some(toml), None);
    assert!(t.app().profiles.active.read_only);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads listed", |a| writer(a).is_some());
    t.harness.get_by_label("writer-service").click_accesskit();
    t.run_until("writer selected", |a| a.selected_workload.is_some());
    assert!(t.harness.query_by_label("Scale…").is_none());
    assert!(t.harness.query_by_label("Autoscale…").is_none());
    t.harness.get_by_label_contains("Read-only profile");
}

#[test]
fn profile_create_edit_duplicate_delete() {
    let mut t = start(None, None);
    let file = support::config_dir(&t.dir).join("profiles.toml");
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.harness
        .state_mut()
        .profiles
        .editor
        .as_mut()
        .unwrap()
        .1
        .name = "staging".into();
    t.harness.run_steps(2);
    t.harness.get_by_label("Save profile").click();
    t.run_until("saved", |a| {
        a.profiles.list.iter().any(|p| p.name == "staging")
    });
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("name = \"staging\""), "{text}");
    // Edit: make it read-only.
    t.harness.get_by_label("Edit").click();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.harness.get_by_label("Read-only (no actions)").click();
    t.harness.run_steps(2);
    t.harness.get_by_label("Save profile").click();
    t.run_until("edited", |a| {
        a.profiles
            .list
            .iter()
            .any(|p| p.name == "staging" && p.read_only)
    });
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("read_only = true")
    );
    // Duplicate, then delete the original.
    t.harness.get_by_label("Duplicate").click();
    t.run_until("duplicated", |a| a.profiles.list.len() == 2);
    assert!(
        t.app()
            .profiles
            .list
            .iter()
            .any(|p| p.name == "staging copy")
    );
    t.harness.get_all_by_label("Delete").next().unwrap().click();
    t.run_until("deleted", |a| a.profiles.list.len() == 1);
    assert_eq!(t.app().profiles.list[0].name, "staging copy");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("name = \"staging\"\n"), "{text}");
}

#[test]
fn damaged_profile_file_is_reported_and_left_untouched() {
    // Not TOML at all (a wrong value type only rejects its profile: see tests/profiles.rs).
    let damaged = "[[profile]]\nname = \"prod\"\nrefresh_interval_secs = = 2\n";
    let mut t = start(Some(damaged), None);
    let file = support::config_dir(&t.dir).join("profiles.toml");
    // The app still opens, on the demo fleet.
    assert!(t.app().is_demo());
    let err = t.app().profiles.damaged.clone().expect("damage reported");
    assert_eq!(err.line, Some(3));
    assert!(
        t.app()
            .notifications
            .list
            .iter()
            .any(|n| n.text.contains("damaged"))
    );
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    assert!(t.harness.query_all_by_label_contains("line 3").count() >= 1);
    // Saving is refused while the file is damaged: try through the engine directly.
    t.harness
        .state_mut()
        .send(scaleboard::engine::Command::Files(
            scaleboard::engine::files::FileJob::SaveProfile {
                previous_name: None,
                profile: Box::new(scaleboard::profiles::Profile::named("new")),
            },
        ));
    t.run_until("refusal", |a| {
        a.notifications
            .list
            .iter()
            .any(|n| n.text.contains("untouched"))
    });
    assert_eq!(std::fs::read_to_string(&file).unwrap(), damaged);
}

#[test]
fn keyboard_shortcuts_switch_panels_and_show_help() {
    let mut t = start(None, None);
    t.run_until("data in every area", |a| {
        a.fleet.endpoints.iter().all(|e| e.snapshot.is_some())
    });
    for (i, key) in [
        Key::Num1,
        Key::Num3,
        Key::Num4,
        Key::Num5,
        Key::Num6,
        Key::Num7,
    ]
    .into_iter()
    .enumerate()
    {
        t.harness.key_press_modifiers(Modifiers::COMMAND, key);
        t.harness.run_steps(2);
        let expected = [
            PanelId::Overview,
            PanelId::Databases,
            PanelId::Cache,
            PanelId::Queues,
            PanelId::Health,
            PanelId::Cost,
        ][i];
        assert_eq!(t.app().view.panel, expected);
    }
    t.harness.event(egui::Event::Text("?".into()));
    t.harness.run_steps(2);
    assert!(t.app().view.show_shortcuts);
    t.harness.get_by_label("Keyboard shortcuts");
    // Every panel draws with live data (no panic, e.g. on a glyph no bundled font has).
    for key in [Key::Num2, Key::Num8, Key::Num9] {
        t.harness.key_press_modifiers(Modifiers::COMMAND, key);
        t.harness.run_steps(2);
    }
    assert_eq!(t.app().view.panel, PanelId::Profiles);
}

#[test]
fn audit_export_browse_without_a_portal_keeps_the_typed_path() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num8);
    // The export row appears once the log has been read (a file job).
    t.run_until("audit loaded", |a| {
        a.view.panel == PanelId::Audit && a.audit.loaded
    });
    let typed = t.app().audit.export_path.clone();
    t.harness.get_by_label("Browse…").click();
    t.run_until("dialog asked", |a| a.audit.picking_path);
    // No desktop portal here: the dialog answers nothing, the button comes back, the path stays.
    t.run_until("dialog closed", |a| !a.audit.picking_path);
    assert_eq!(t.app().audit.export_path, typed);
}

#[test]
fn the_profile_editor_sets_prometheus_presets_and_queries() {
    use scaleboard::profiles::PromPreset;
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.harness.get_by_label("RabbitMQ and Prometheus").click();
    t.harness.run_steps(2);
    // The URL as typed into the form.
    t.harness
        .state_mut()
        .profiles
        .editor
        .as_mut()
        .unwrap()
        .1
        .prometheus = Some(scaleboard::profiles::PrometheusEndpoint {
        url: "http://127.0.0.1:9090".into(),
        ..Default::default()
    });
    t.harness.run_steps(2);
    t.harness.get_by_label("request rate").click();
    t.harness.run_steps(2);
    t.harness.get_by_label("Add query").click();
    t.run_until("preset and query", |a| {
        a.profiles
            .editor
            .as_ref()
            .and_then(|(_, p)| p.prometheus.as_ref())
            .is_some_and(|p| p.presets == [PromPreset::RequestRate] && p.queries.len() == 1)
    });
    let prom = t
        .app()
        .profiles
        .editor
        .as_ref()
        .unwrap()
        .1
        .prometheus
        .clone()
        .unwrap();
    assert_eq!(prom.name, "prometheus");
    assert_eq!(prom.queries[0].name, "query-1");
}

fn open_autoscale_form(t: &mut TestApp) {
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    t.run_until("workloads listed", |a| writer(a).is_some());
    t.harness.get_by_label("writer-service").click_accesskit();
    t.run_until("writer selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.name == "writer-service")
    });
    t.harness.get_by_label("Autoscale…").click();
    t.run_until("autoscale form", |a| a.actions.autoscale_form.is_some());
}

fn enter(t: &mut TestApp) {
    t.harness.key_press(Key::Enter);
    t.harness.step();
}

/// An autoscaler plan asks for no typed name, so it is the one a stray Enter could confirm:
/// the Enter that opens it from the focused "Preview autoscaler" button must not, a later
/// Enter (a keyboard user's deliberate one) does, once the plan is complete.
#[test]
fn enter_on_preview_autoscaler_opens_the_dialog_without_confirming() {
    let mut t = start(None, None);
    open_autoscale_form(&mut t);
    t.harness.get_by_label("Preview autoscaler").focus();
    t.harness.step();
    assert!(t.harness.get_by_label("Preview autoscaler").is_focused());
    enter(&mut t);
    t.run_until("dialog open", |a| a.actions.dialog.is_some());
    for _ in 0..5 {
        t.harness.step();
    }
    assert!(
        t.app().actions.dialog.is_some(),
        "the opening Enter confirmed"
    );
    assert_eq!(t.app().actions.running.len(), 0);
    // The demo has no dry run: the verdict ("not offered") completes the plan.
    t.run_until("plan complete", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.plan_complete())
    });
    enter(&mut t);
    t.run_until("confirmed by Enter", |a| a.actions.dialog.is_none());
    assert_eq!(t.app().actions.running.len(), 1);

    // Even a plan complete from its first frame (no dry run to wait for) ignores an Enter
    // that arrives in the frame that first shows it.
    let action = t.app().actions.running[0].action.clone().unwrap();
    t.harness.state_mut().propose(action);
    t.harness
        .state_mut()
        .actions
        .dialog
        .as_mut()
        .unwrap()
        .dry_run_pending = None;
    enter(&mut t);
    for _ in 0..3 {
        t.harness.step();
    }
    assert!(
        t.app().actions.dialog.is_some(),
        "the first frame's Enter confirmed"
    );
    assert_eq!(t.app().actions.running.len(), 1);
}

/// Confirm stays disabled while the server's dry run is out, Enter does nothing then, and a
/// verdict that never comes turns into a warning (not a refusal) after its own time-out.
#[test]
fn confirm_waits_for_the_dry_run_verdict_then_times_out_into_a_warning() {
    let mut t = start(None, None);
    open_scale_dialog(&mut t, 5);
    t.run_until("demo verdict in", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.plan_complete())
    });
    // A server that has not answered yet: its verdict is still awaited.
    let now = t.clock.now_ms();
    {
        let dialog = t.harness.state_mut().actions.dialog.as_mut().unwrap();
        dialog.dry_run_pending = Some(u64::MAX);
        dialog.dry_run_note = None;
        dialog.dry_run_asked_ms = now;
    }
    type_confirmation(&mut t, "writer-service");
    t.harness.step();
    assert!(
        t.harness
            .get_by_label("Confirm")
            .accesskit_node()
            .is_disabled()
    );
    t.harness
        .get_by_label_contains("waits for the server's dry-run verdict");
    enter(&mut t);
    t.harness.step();
    assert!(t.app().actions.dialog.is_some());
    assert!(t.app().actions.running.is_empty());
    // Twenty seconds without an answer: a warning, and the operator may confirm.
    t.advance(21);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert!(dialog.plan_complete());
    assert!(
        dialog
            .plan
            .guards
            .iter()
            .any(|g| g.reason.contains("gave no verdict (no answer within 20 s)")),
        "{:#?}",
        dialog.plan.guards
    );
    assert!(!dialog.plan.refused());
    assert!(
        !t.harness
            .get_by_label("Confirm")
            .accesskit_node()
            .is_disabled()
    );
}

/// Closing the window while an action runs asks first; "Wait for them" keeps the window
/// until the action has its audit record.
#[test]
fn closing_the_window_with_an_action_in_flight_asks() {
    let mut t = start(None, None);
    open_scale_dialog(&mut t, 5);
    t.run_until("plan complete", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.plan_complete())
    });
    type_confirmation(&mut t, "writer-service");
    t.harness.step();
    t.harness.get_by_label("Confirm").click();
    t.run_until("action running", |a| a.actions.in_flight().count() == 1);
    // The operator closes the window (the title bar's ×): the close is cancelled and asked.
    t.harness
        .input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    t.harness.step();
    assert!(closing(&t.harness, &egui::ViewportCommand::CancelClose));
    t.run_until("asked", |a| a.actions.close_asked);
    t.harness.get_by_label_contains("1 action is still running");
    t.harness.get_by_label("Wait for them").click();
    t.run_until("choice taken", |a| {
        a.actions.close == Some(scaleboard::app::CloseChoice::Wait)
    });
    assert_eq!(t.app().actions.in_flight().count(), 1);
    // The action runs to its end (grace on the manual clock), then the window may close.
    t.advance_until("action finished", |a| a.actions.in_flight().count() == 0);
    let record = t.app().actions.running[0].record.clone().unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    t.harness.step();
    assert!(closing(&t.harness, &egui::ViewportCommand::Close));
}

/// Whether the last frame sent this command to the root viewport.
fn closing(
    harness: &egui_kittest::Harness<'_, ScaleboardApp>,
    command: &egui::ViewportCommand,
) -> bool {
    harness
        .output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .is_some_and(|v| v.commands.contains(command))
}

/// The demo's Patroni cluster in the Databases panel: Switchover… on a member opens the same
/// confirm dialog as Promote (typed name), and the pipeline hands the leader lock over.
#[test]
fn patroni_switchover_from_the_databases_panel() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.run_until("databases panel", |a| a.view.panel == PanelId::Databases);
    t.run_until("patroni cluster", |a| {
        a.fleet.patroni_snapshots().count() == 1
    });
    t.harness
        .get_by_label_contains("Patroni cluster billing-ha");
    // pg-a leads; the first Switchover… button is pg-b's row.
    t.harness
        .query_all_by_label("Switchover…")
        .next()
        .unwrap()
        .click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
    let plan = t.app().actions.dialog.as_ref().unwrap().plan.clone();
    assert!(!plan.refused(), "{plan:#?}");
    assert!(!t.app().actions.dialog.as_ref().unwrap().can_confirm());
    // The modal takes a few frames to settle before it takes clicks.
    t.harness.run_steps(3);
    type_confirmation(&mut t, "pg-b");
    t.run_until("name typed", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.get_by_label("Confirm").click();
    t.run_until("grace period", |a| {
        a.actions.dialog.is_none() && a.actions.in_flight().count() == 1
    });
    t.advance(20);
    t.run_until("action finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t.app().actions.running[0].record.clone().unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert!(
        record.detail.contains("pg-b leads on timeline 4"),
        "{}",
        record.detail
    );
    assert_eq!(record.action, "switchover");
    t.run_until("pg-b leads in the view", |a| {
        a.fleet
            .patroni_snapshots()
            .any(|(_, p)| p.leader().is_some_and(|l| l.name == "pg-b"))
    });
}

#[test]
fn the_profile_editor_adds_a_patroni_cluster() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.open_section("Patroni", "Add Patroni cluster");
    t.harness
        .get_by_label("Add Patroni cluster")
        .click_accesskit();
    t.run_until("patroni endpoint added", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.patroni.len() == 1)
    });
    let e = t.app().profiles.editor.as_ref().unwrap().1.patroni[0].clone();
    assert_eq!(e.name, "patroni-1");
    assert_eq!(e.port, 8008);
    // No URL and nothing to discover from: the live problem list says what is missing.
    t.harness.run_steps(2);
    t.harness
        .get_by_label_contains("patroni[patroni-1].urls: name the REST API");
}

/// The Overview's Databases tile counts every kind of cluster and judges each one on its own:
/// the demo's PostgreSQL, Patroni and MariaDB clusters each have one writer, so no warning; the
/// largest lag is given in bytes (WAL) and in seconds (MariaDB).
#[test]
fn the_databases_tile_counts_every_cluster_and_judges_each_alone() {
    let mut t = start(None, None);
    t.run_until("every demo endpoint answered", |a| {
        a.fleet.endpoints.len() == 9 && a.fleet.endpoints.iter().all(|e| e.snapshot.is_some())
    });
    let node = t.harness.get_by_label_contains("3 clusters, max lag");
    let node = node.accesskit_node();
    let tile = node.value().or(node.label()).unwrap_or_default();
    assert!(tile.ends_with(" s"), "MariaDB lag in seconds: {tile}");
    assert!(
        t.harness.query_by_label_contains("TWO PRIMARIES").is_none(),
        "three clusters with one writer each"
    );
}
