//! Team mode in the window, against a real PostgreSQL team store (tests/support/postgres.rs):
//! the Audit panel's Team view lists what other consoles recorded, filters it in the store and
//! says in words when the store is gone; and a window that finds a target locked by another
//! console takes the lock over with a typed reason.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;
mod team_rig;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::Action;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::app::{AuditSource, PanelId, ScaleboardApp};
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use support::postgres::PgCluster;
use support::{TestApp, start};
use team_rig::{api, console, dsn, scale_api, team_profile};

/// A window on the demo fleet with profile "ops", whose team store is `pg`.
fn window(pg: &PgCluster) -> TestApp {
    let toml = format!(
        "[[profile]]\nname = \"ops\"\ndemo = true\n\n[profile.team]\ndsn = \"{}\"\n",
        dsn(pg, "postgres")
    );
    let t = start(Some(&toml), Some("ops"));
    assert!(t.app().has_team_store());
    t
}

/// Two colleagues' records, as their consoles would have shared them.
fn colleagues_records(pg: &PgCluster) {
    let row = |id: &str, op: &str, host: &str, target: &str, phase: &str, outcome: &str| {
        format!(
            "('{id}', '{phase}', now() - interval '1 minute', '{op}', '{host}', 'ops', 'scale', \
             '{target}', '2 replicas', '4 replicas', 'kubectl scale', '{outcome}', '', false, '{{}}')"
        )
    };
    let rows = [
        row(
            "a1",
            "alice",
            "laptop-a",
            "demo-prod/nexus/deployment/cart",
            "intent",
            "intent",
        ),
        row(
            "a1",
            "alice",
            "laptop-a",
            "demo-prod/nexus/deployment/cart",
            "outcome",
            "succeeded",
        ),
        row(
            "a2",
            "alice",
            "laptop-a",
            "demo-prod/nexus/deployment/search",
            "outcome",
            "refused",
        ),
        row(
            "b1",
            "bob",
            "desk-b",
            "demo-prod/nexus/deployment/orders",
            "intent",
            "intent",
        ),
        row(
            "b1",
            "bob",
            "desk-b",
            "demo-prod/nexus/deployment/orders",
            "outcome",
            "failed",
        ),
    ];
    pg.psql(
        pg.primary.port,
        &format!(
            "INSERT INTO scaleboard.audit (action_id, phase, at, operator, host, profile, action, \
             target, before, after, command, outcome, detail, forced, record) VALUES {}",
            rows.join(", ")
        ),
    );
}

fn team_view(t: &mut TestApp) {
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num8);
    t.run_until("audit panel", |a| a.view.panel == PanelId::Audit);
    t.harness.get_by_label("Team").click();
    t.run_until("team view", |a| a.audit.source == AuditSource::Team);
}

fn operators(app: &ScaleboardApp) -> Vec<String> {
    app.audit
        .team
        .rows
        .iter()
        .map(|r| r.operator.clone())
        .collect()
}

#[test]
fn the_team_view_lists_colleagues_records_filters_them_and_says_when_the_store_is_gone() {
    let pg = PgCluster::start(0);
    // Another console (an engine of its own) shares a scale; it also creates the schema.
    let mut colleague = console(team_profile(&dsn(&pg, "postgres"), true));
    let before = colleague.replicas(&api());
    let first = colleague.run(scale_api(before + 1));
    assert_eq!(first.outcome, AuditOutcome::Succeeded, "{first:?}");
    colleagues_records(&pg);

    let mut t = window(&pg);
    team_view(&mut t);
    t.run_until("the team's history", |a| a.audit.team.rows.len() == 7);
    // Operator and host of every console are on screen.
    for label in ["alice", "laptop-a", "bob", "desk-b"] {
        assert!(
            t.harness.query_all_by_label(label).next().is_some(),
            "{label} not shown"
        );
    }
    let own = &t.app().audit.team.rows;
    assert!(
        own.iter().any(|r| r.action_id == first.id
            && r.host == scaleboard::team::host_name()
            && r.operator == scaleboard::actions::audit::os_user()),
        "{own:?}"
    );

    // The live feed: a colleague's new record refreshes the page.
    let second = colleague.run(scale_api(before));
    t.run_until("the colleague's new record", |a| {
        a.audit.team.rows.iter().any(|r| r.action_id == second.id)
    });

    // The filter runs in the store: only alice's records are left.
    t.harness
        .get_by_role_and_label(Role::TextInput, "Filter:")
        .click();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, "Filter:")
        .type_text("alice");
    t.run_until("alice's records only", |a| {
        let team = &a.audit.team;
        team.answered.as_ref().is_some_and(|q| q.text == "alice") && !team.in_flight
    });
    assert_eq!(operators(t.app()), ["alice", "alice", "alice"]);
    assert!(t.harness.query_all_by_label("bob").next().is_none());

    // The store stops: the view says so in words, keeps the last rows, and the window goes on.
    pg.stop(&pg.primary, "fast");
    t.harness.get_by_label("Reload").click();
    t.run_until("the store's trouble in words", |a| {
        a.audit.team.error.is_some() && !a.audit.team.in_flight
    });
    let error = t.app().audit.team.error.clone().unwrap();
    assert!(error.contains("team store unreachable since "), "{error}");
    t.harness
        .get_by_label_contains("The team's history could not be read: team store unreachable");
    assert_eq!(operators(t.app()), ["alice", "alice", "alice"]);
    t.harness.run_steps(5);
}

fn writer() -> WorkloadRef {
    WorkloadRef {
        endpoint: "demo-prod".into(),
        scope: "nexus".into(),
        name: "writer-service".into(),
        kind: WorkloadKind::Deployment,
    }
}

fn open_scale_dialog(t: &mut TestApp, replicas: u32) {
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    t.run_until("workloads listed", |a| {
        a.fleet.workloads().any(|w| w.id == writer())
    });
    t.harness.get_by_label("writer-service").click_accesskit();
    t.run_until("writer selected", |a| {
        a.selected_workload.as_ref() == Some(&writer())
    });
    t.harness.get_by_label("Scale…").click();
    t.run_until("scale form", |a| a.actions.scale_form.is_some());
    t.harness
        .get_by_role(Role::SpinButton)
        .set_value_accesskit(f64::from(replicas));
    t.run_until("replicas typed", |a| {
        a.actions
            .scale_form
            .as_ref()
            .is_some_and(|f| f.replicas == replicas)
    });
    t.harness.get_by_label("Preview scale").click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
}

/// Types into a field of the modal, focused through AccessKit: the modal re-centres when it
/// grows, so a pointer click could land beside the field.
fn type_into(t: &mut TestApp, label: &str, text: &str) {
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .focus();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    t.harness.run_steps(2);
}

#[test]
fn a_window_sees_the_holder_cannot_confirm_and_takes_the_lock_over_with_a_reason() {
    let pg = PgCluster::start(0);
    // Another console's scale of writer-service holds the target's change lock: its replicas
    // get ready on that console's manual clock, which nothing moves while the window works.
    let mut holder = console(team_profile(&dsn(&pg, "postgres"), true));
    let replicas = holder.replicas(&writer());
    let held = holder.start(Action::ScaleWorkload {
        workload: writer(),
        replicas: replicas + 3,
    });
    holder.until_running(held);

    let mut t = window(&pg);
    t.run_until("the holder in the window", |a| {
        !a.fleet.in_progress.is_empty()
    });
    open_scale_dialog(&mut t, 6);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    let holder_text = dialog.held_by.clone().expect("the holder in the dialog");
    assert!(holder_text.starts_with("in progress: "), "{holder_text}");
    t.harness.get_by_label_contains(&holder_text);
    type_into(
        &mut t,
        "Type \"writer-service\" to confirm:",
        "writer-service",
    );
    t.run_until("name typed", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.name_ok())
    });
    assert!(!t.app().actions.dialog.as_ref().unwrap().can_confirm());

    t.harness.get_by_label("Take over…").click();
    t.run_until("the reason field", |a| {
        a.actions
            .dialog
            .as_ref()
            .is_some_and(|d| d.takeover_reason.is_some())
    });
    // No reason, no take-over.
    assert!(!t.app().actions.dialog.as_ref().unwrap().can_take_over());
    let reason = "their console froze during incident 42";
    type_into(&mut t, "Reason for taking over (required):", reason);
    let typed = |a: &ScaleboardApp| {
        a.actions
            .dialog
            .as_ref()
            .is_some_and(|d| d.takeover_reason() == Some(reason))
    };
    t.run_until("reason typed", typed);
    let d = t.app().actions.dialog.as_ref().unwrap();
    assert!(d.can_take_over(), "{:?} {}", d.plan.guards, d.name_ok());
    t.harness.get_by_label("Take over and run").click();
    t.run_until("the action started", |a| {
        a.actions.dialog.is_none() && a.actions.running.len() == 1
    });
    t.advance_until("the take-over's outcome", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t.app().actions.running[0].record.clone().unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert!(record.forced);
    assert!(
        record.overridden_guards.join("; ").contains(reason),
        "{record:?}"
    );
    // The store says who took it over, from whom and why, like the command line's take-over.
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
            record.id
        ),
    );
    assert!(intent.contains(reason), "{intent}");
}

/// A colleague's running action is marked where its target is shown, as the team feed reports
/// it (`FleetState::in_progress`, lock identity → holder): on the workload's row, only there,
/// and under the heading of a database cluster whose endpoint is locked (a promote).
#[test]
fn a_colleagues_running_action_is_marked_on_its_row_and_its_cluster() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads listed", |a| {
        a.view.panel == PanelId::Workloads && a.fleet.workloads().any(|w| w.id == writer())
    });
    t.harness.get_by_label("writer-service");
    assert!(
        t.harness.query_by_label_contains("in progress: ").is_none(),
        "nothing is marked before a colleague acts"
    );
    let scale = "in progress: alice@laptop-a since 10:02:13 UTC — scale demo-prod/nexus/writer-service 2 → 5";
    let promote = "in progress: bob@ops2 since 10:03:00 UTC — promote demo-postgres/pg-replica-1";
    {
        let fleet = &mut t.harness.state_mut().fleet;
        fleet.in_progress.insert(writer().target(), scale.into());
        fleet
            .in_progress
            .insert("demo-postgres/*".into(), promote.into());
    }
    t.harness.run_steps(3);
    // One row: writer-service's (the lock is on its identity, not on its neighbours').
    t.harness.get_by_label("in progress: alice@laptop-a");

    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num3);
    t.run_until("databases panel", |a| a.view.panel == PanelId::Databases);
    t.harness.run_steps(3);
    t.harness.get_by_label(promote);

    // The lock released: the marks go with it.
    t.harness.state_mut().fleet.in_progress.clear();
    t.harness.run_steps(3);
    assert!(t.harness.query_by_label_contains("in progress: ").is_none());
}
