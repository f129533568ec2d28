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

/// A what-if replica count the demo cluster has no room for: the Cost panel says how many nodes
/// of the cluster's usual size it would take and what they cost, at the model's node price for
/// that cluster.
#[test]
fn a_what_if_that_does_not_fit_shows_the_nodes_it_needs_and_their_cost() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num7);
    t.run_until("cost panel", |a| a.view.panel == PanelId::Cost);
    t.run_until("live workloads with capacity", |a| {
        !a.cost_clusters().is_empty() && a.cost_live_inventory().workloads.len() > 3
    });
    let (name, now) = t
        .app()
        .cost_live_inventory()
        .workloads
        .iter()
        .find(|w| w.name.starts_with("demo-prod: ") && w.name.ends_with("/search-index"))
        .map(|w| (w.name.clone(), w.replicas))
        .unwrap();
    // Three more replicas of 1.5 CPU: the demo's free nodes hold two of them at most.
    t.harness
        .state_mut()
        .cost
        .what_if
        .insert(name.clone(), now + 3);
    t.harness.run_steps(2);
    let fits = t.harness.state_mut().cost_what_if_fits();
    let (_, fit) = fits.iter().find(|(n, _)| n == &name).unwrap();
    assert_eq!(fit.fits, Some(false), "{fit:?}");
    let nodes = fit.nodes_needed.unwrap();
    assert!(nodes >= 1, "{fit:?}");
    // The default node price: $0.192 an hour × 730 h = $140.16 a node.
    assert_eq!(fit.nodes_cost_minor, Some(14_016 * nodes as i64));
    let words = fit.words();
    assert!(
        words.contains("of 3.9 CPU / 14.9 GiB (m5.xlarge): +$"),
        "{words}"
    );
    t.harness
        .get_by_label(&format!("{name} at {}: {words}", now + 3));

    // The cluster priced on its own: the line follows the model's price for it.
    t.harness
        .get_by_label("Price demo-prod separately")
        .click_accesskit();
    t.harness.run_steps(2);
    {
        let app = t.harness.state_mut();
        let o = &mut app.cost.draft.live_pricing.node_overrides;
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].cluster, "demo-prod");
        o[0].price = scaleboard::cost::LivePrice::per_month(rust_decimal::Decimal::from(100));
        assert!(app.cost.dirty);
    }
    t.harness.run_steps(2);
    let per_node = format!("+${}.00/month", 100 * nodes);
    assert!(
        t.harness
            .query_all_by_label_contains(&per_node)
            .next()
            .is_some(),
        "no line with {per_node}"
    );
    // Saved with the model, like every other price.
    t.run_until("models loaded", |a| a.cost.loaded);
    t.harness.get_by_label("Save").click();
    t.run_until("saved", |a| a.cost.is_saved("seed-phases") && !a.cost.dirty);
    let text = std::fs::read_to_string(config_dir(&t.dir).join("cost-models.toml")).unwrap();
    assert!(text.contains("cluster = \"demo-prod\""), "{text}");
}
