//! The Cost panel on the demo fleet, as a new user meets it: the seeds' phases with their totals
//! and ratios, saving a model, a what-if proposed through the action pipeline, and exporting all
//! four report formats.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::Action;
use scaleboard::app::PanelId;
use support::{config_dir, start};

#[test]
fn cost_panel_shows_the_seed_saves_proposes_and_exports() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num7);
    t.run_until("cost panel", |a| a.view.panel == PanelId::Cost);
    t.run_until("models loaded", |a| a.cost.loaded);
    t.run_until("live workloads", |a| {
        a.cost_live_inventory().workloads.len() > 3
    });
    // The seeds' figures, as the seed prints them and exactly.
    t.harness.get_by_label("$1,050.00");
    t.harness.get_by_label("6.6 %");
    t.harness.get_by_label("6.6667 %");

    // Save the built-in template to cost-models.toml.
    t.harness.get_by_label("Save").click();
    t.run_until("saved", |a| a.cost.is_saved("seed-phases"));
    let file = config_dir(&t.dir).join("cost-models.toml");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("seed-phases")
    );

    // What-if changes nothing in the fleet; Apply opens the confirm dialog with the plan.
    let name = "demo-prod: nexus/deployment/writer-service".to_owned();
    t.harness.state_mut().cost.what_if.insert(name.clone(), 5);
    t.harness.run_steps(2);
    assert!(t.app().actions.dialog.is_none());
    t.harness.state_mut().cost_apply_what_if(&name);
    t.harness.run_steps(2);
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert!(matches!(
        &dialog.plan.action,
        Action::ScaleWorkload { workload, replicas: 5 } if workload.name == "writer-service"
    ));
    t.harness.state_mut().actions.dialog = None;

    // Export all four formats from the panel.
    let out = t.dir.path().join("reports").join("costs.pdf");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    t.harness.state_mut().cost.export_path = out.display().to_string();
    t.harness.run_steps(1);
    t.harness
        .get_by_label("Export all four formats")
        .scroll_to_me();
    t.harness.run_steps(2);
    t.harness
        .get_by_label("Export all four formats")
        .click_accesskit();
    // Exports are quick: wait for their outcome rather than for the in-progress state.
    t.run_until("exports done", |a| {
        a.cost.last_export.is_some() && a.cost.exporting.is_empty()
    });
    assert!(
        matches!(t.app().cost.last_export, Some(Ok(_))),
        "{:?}",
        t.app().cost.last_export
    );
    for ext in ["csv", "json", "html", "pdf"] {
        let bytes = std::fs::read(out.with_extension(ext)).unwrap();
        assert!(!bytes.is_empty(), "{ext}");
    }
    let json = std::fs::read_to_string(out.with_extension("json")).unwrap();
    assert!(
        json.contains("\"data_source\": \"what_if\""),
        "live + what-if included"
    );
}
