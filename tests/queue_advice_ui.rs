//! Worker-scaling advice on the demo fleet: the Queues panel proposes a scale of the linked
//! workload and "Apply" opens it in the action pipeline's confirm dialog.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::Action;
use scaleboard::app::PanelId;
use support::start;

#[test]
fn apply_opens_the_advised_scale_in_the_pipeline() {
    // A 6-second drain target makes the demo's backlog of 400 jobs need more workers.
    let toml = "last_used = \"demo\"\n\n[[profile]]\nname = \"demo\"\ndemo = true\n\n[profile.thresholds]\nqueue_drain_target_minutes = 0.1\n";
    let mut t = start(Some(toml), None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num5);
    t.run_until("queues panel", |a| a.view.panel == PanelId::Queues);
    t.run_until("queues listed", |a| a.fleet.queues().count() >= 2);
    t.advance(3);
    let (_, reports) = t
        .app()
        .fleet
        .queues()
        .find(|(_, q)| q.name == "bull:reports")
        .map(|(e, q)| (e.info.id.clone(), q.clone()))
        .unwrap();
    let (advice, action) = scaleboard::ui::queues_panel::queue_advice(t.app(), &reports);
    let Some(Action::ScaleWorkload { workload, replicas }) = action else {
        panic!("no proposal: {advice:?} for {reports:?}");
    };
    assert_eq!(workload.name, "queue-worker");
    let words = advice.words();
    assert!(words.starts_with("scale workers from "), "{words}");
    assert!(
        words.ends_with(&format!(" to {replicas} to drain in 6 s")),
        "{words}"
    );
    t.harness.get_by_label(words.as_str());
    t.harness
        .query_all_by_label("Apply")
        .next()
        .unwrap()
        .click();
    t.run_until("confirm dialog", |a| a.actions.dialog.is_some());
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert!(
        matches!(&dialog.plan.action, Action::ScaleWorkload { workload: w, .. } if w.name == "queue-worker"),
        "{:?}",
        dialog.plan.action
    );
}
