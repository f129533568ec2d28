//! The advisor in the window: a rule fires on a real Compose service (a private Docker engine),
//! its proposal is applied from the Alerts panel through the confirmation dialog, the service is
//! scaled, and the audit record cites the rule. Also the demo fleet's first minute.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::Action;
use scaleboard::actions::audit::AuditLog;
use scaleboard::advisor::AlertState;
use scaleboard::app::PanelId;
use support::docker::Project;
use support::{TestApp, start};

/// One second on the manual clock, with real time for the Docker engine to answer: a poll of
/// real containers takes about a second, and a manual clock racing ahead of it would space the
/// samples minutes apart, which the advisor rightly reads as gaps.
fn slow_second(t: &mut TestApp) {
    t.clock.advance(std::time::Duration::from_secs(1));
    for _ in 0..5 {
        t.harness.step();
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
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
fn a_compose_proposal_applied_from_the_alerts_panel_scales_the_service_and_is_audited() {
    let yaml =
        "version: \"3.8\"\nservices:\n  worker:\n    image: IMAGE\n    stop_signal: SIGKILL\n";
    let project = Project::up(yaml);
    project.compose(&["up", "-d", "--scale", "worker=3"]);
    assert_eq!(project.running("worker"), 3);
    let host = project.daemon().host.clone();
    // The guides' scale-down rule, shortened to "on the latest sample" and allowed down to 1.
    let toml = format!(
        "last_used = \"dock\"\n\n[[profile]]\nname = \"dock\"\nrefresh_interval_secs = 1\n\n\
         [[profile.compose]]\nname = \"docker\"\ndocker_host = \"{host}\"\nprojects = [\"{}\"]\n\n\
         [[profile.rules]]\nid = \"cpu-low\"\nduration_secs = 0\naggregation = \"last\"\nmin_replicas = 1\n",
        project.name
    );
    let mut t = start(Some(&toml), None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    t.run_until("alerts panel", |a| a.view.panel == PanelId::Alerts);
    let target = format!("docker/{}/service/worker", project.name);
    let key = ("cpu-low".to_string(), target.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let fired = |a: &scaleboard::app::ScaleboardApp| {
        a.advisor
            .advisor
            .book
            .get("cpu-low", &target)
            .is_some_and(|x| x.state == AlertState::Firing)
            && a.advisor
                .proposals
                .get(&key)
                .is_some_and(|p| p.action.is_some())
    };
    while !fired(t.app()) {
        assert!(
            std::time::Instant::now() < deadline,
            "cpu-low did not fire: alerts {:?}, proposals {:?}, cpu {:?}, workloads {:?}",
            t.app().advisor.advisor.book.sorted(),
            t.app().advisor.proposals,
            t.app()
                .store
                .latest(&scaleboard::metrics::SeriesKey::new(&target, "cpu_percent")),
            t.app()
                .fleet
                .workloads()
                .map(|w| (w.id.target(), w.desired, w.cpu_percent))
                .collect::<Vec<_>>()
        );
        slow_second(&mut t);
    }
    let proposal = t.app().advisor.proposals.get(&key).unwrap().clone();
    assert!(
        matches!(&proposal.action, Some(Action::ScaleWorkload { replicas: 1, workload }) if workload.name == "worker"),
        "{proposal:?}"
    );
    assert!(
        proposal.line.starts_with("worker 3 → 1 (--scale worker=1)"),
        "{}",
        proposal.line
    );
    assert!(proposal.line.contains("saves"), "{}", proposal.line);
    // Through AccessKit: a pointer click lands where the button was drawn, and with a poll a
    // second the panel's rows above it can move between that frame and the click (missed
    // once in a full run under load).
    t.harness.get_by_label("Apply…").click_accesskit();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
    let advice = t
        .app()
        .actions
        .dialog
        .as_ref()
        .unwrap()
        .advice
        .clone()
        .unwrap();
    assert!(advice.contains("advisor rule \"cpu-low\""), "{advice}");
    confirm(&mut t);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !t.app().actions.running.iter().any(|r| r.record.is_some()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the action did not finish"
        );
        slow_second(&mut t);
    }
    let record = t
        .app()
        .actions
        .running
        .iter()
        .find_map(|r| r.record.clone())
        .unwrap();
    assert_eq!(
        record.outcome,
        scaleboard::actions::audit::AuditOutcome::Succeeded,
        "{record:?}"
    );
    assert_eq!(
        project.running("worker"),
        1,
        "the real engine runs one container"
    );
    // Both records on disk (intent and outcome) cite the rule, the value and the cost change.
    let log = AuditLog::new(&support::data_dir(&t.dir))
        .read_all()
        .unwrap();
    assert_eq!(log.records.len(), 2, "{:?}", log.records);
    for r in &log.records {
        let advice = r.advice.as_deref().unwrap();
        assert!(
            advice.contains("cpu-low") && advice.contains("cpu_percent of "),
            "{advice}"
        );
        assert!(advice.contains("cost change"), "{advice}");
    }
}

#[test]
fn the_demo_fleet_fires_a_rule_in_its_first_minute_and_the_overview_says_so() {
    let mut t = start(None, None);
    t.run_until("queues listed", |a| a.fleet.queues().count() >= 2);
    // Other rules may fire too (a demo database's connections); the queue's is the one that
    // always does, with an action to apply.
    t.advance_until("the queue rule fires", |a| {
        a.advisor
            .advisor
            .book
            .firing()
            .any(|x| x.rule_id == "queue-length")
    });
    let alert = t
        .app()
        .advisor
        .advisor
        .book
        .firing()
        .find(|x| x.rule_id == "queue-length")
        .unwrap()
        .clone();
    let proposal = t.app().advisor.proposals.get(&alert.key()).unwrap().clone();
    assert!(proposal.action.is_some(), "{proposal:?}");
    assert!(proposal.line.contains("/month"), "{}", proposal.line);
    // The scale up of the demo cluster's workers says whether it fits.
    let fit = proposal.fit.as_ref().unwrap();
    assert!(fit.fits.is_some(), "{fit:?}");
    assert!(proposal.line.contains(&fit.words()), "{}", proposal.line);
    // An unsaved edit in the Cost panel (a replica at $9,999/month) never prices proposals: the
    // window uses the same saved-or-template model as `scaleboard advise`.
    let before = proposal.cost.clone().unwrap();
    {
        let app = t.harness.state_mut();
        app.cost.draft.live_pricing.replica =
            scaleboard::cost::LivePrice::per_month(rust_decimal::Decimal::from(9999));
        app.cost.dirty = true;
        app.advisor_invalidate_proposals();
    }
    t.harness.run_steps(3);
    let repriced = t.app().advisor.proposals.get(&alert.key()).unwrap().clone();
    assert_eq!(
        repriced.cost.as_ref().map(|c| c.before_minor),
        Some(before.before_minor),
        "{}",
        repriced.line
    );
    // The Queues tile says it and leads to the Alerts panel.
    t.harness
        .query_all_by_label_contains(" firing")
        .next()
        .unwrap()
        .click();
    t.run_until("alerts panel", |a| a.view.panel == PanelId::Alerts);
    t.harness.get_by_label(proposal.line.as_str());
}

#[test]
fn the_profile_editor_turns_a_rule_off_and_keeps_only_the_change() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.open_section("Advisor rules", "cpu-low");
    t.harness.get_by_label("cpu-low").click_accesskit();
    t.run_until("cpu-low off in the edited profile", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.rules.len() == 1)
    });
    let rules = t.app().profiles.editor.as_ref().unwrap().1.rules.clone();
    assert_eq!(rules[0].id, "cpu-low");
    assert_eq!(rules[0].enabled, Some(false));
    assert_eq!(rules[0].threshold, None, "only what changed is stored");
    // Reset takes it back to the built-in rule.
    t.harness.get_by_label("Reset").click();
    t.run_until("back to built-in", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.rules.is_empty())
    });
}

#[test]
fn alerts_with_nothing_to_apply_fold_into_one_row_on_the_demo_fleet() {
    use scaleboard::app::Parked;
    let mut t = start(None, None);
    t.run_until("queues listed", |a| a.fleet.queues().count() >= 2);
    // Idle demo workloads already at the rule's minimum (2) raise cpu-low; the queue rule fires
    // with a scale to apply.
    t.advance_until("idle workloads at their minimum and the queue rule", |a| {
        a.advisor
            .parked
            .values()
            .filter(|p| **p == Parked::AtMinimum)
            .count()
            >= 2
            && a.advisor
                .advisor
                .book
                .firing()
                .any(|x| x.rule_id == "queue-length")
    });
    let (parked, total) = {
        let a = t.app();
        let parked: Vec<(String, String)> = a
            .advisor
            .parked
            .iter()
            .filter(|(_, p)| **p == Parked::AtMinimum)
            .map(|(k, _)| k.clone())
            .collect();
        (parked, a.advisor.advisor.book.active().count())
    };
    for key in &parked {
        let line = &t.app().advisor.proposals[key].line;
        assert!(line.contains("the rule's min is"), "{line}");
        assert!(t.app().advisor.proposals[key].action.is_none());
    }
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    t.run_until("alerts panel", |a| a.view.panel == PanelId::Alerts);
    // One summary row for all of them, folded: none of their proposals is listed.
    let summary = format!("{} workloads idle but at their minimum", parked.len());
    t.harness.get_by_label(&summary);
    assert!(
        t.harness
            .query_by_label_contains("the rule's min is")
            .is_none(),
        "a folded alert is listed"
    );
    // The actionable one keeps its row and its Apply button.
    let queue = t
        .app()
        .advisor
        .advisor
        .book
        .firing()
        .find(|x| x.rule_id == "queue-length")
        .unwrap()
        .key();
    let line = t.app().advisor.proposals[&queue].line.clone();
    t.harness.get_by_label(&line);
    assert!(t.harness.query_all_by_label("Apply…").next().is_some());
    assert!(parked.len() < total, "only folded alerts: {total}");
    // Unfolded, each is listed with its proposal.
    t.harness.get_by_label(&summary).click();
    t.harness.run_steps(3);
    assert_eq!(
        t.harness
            .query_all_by_label_contains("the rule's min is")
            .count(),
        parked.len()
    );
}
