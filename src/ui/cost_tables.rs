//! Cost editing tables: a scenario's lines, the live run rate with what-if replica counts, and
//! a decimal text field that keeps what is typed until it parses.

use super::theme;
use crate::app::{CostState, ScaleboardApp};
use crate::cost::money::{format_delta_minor, format_minor};
use crate::cost::{Component, CostLine, LivePrice, Scenario, Unit};
use rust_decimal::Decimal;

/// A text field for a decimal. Returns true when the value changed.
pub fn decimal_ui(ui: &mut egui::Ui, id: egui::Id, value: &mut Decimal, width: f32) -> bool {
    let mut text = ui
        .data_mut(|d| d.get_temp::<String>(id))
        .unwrap_or_else(|| value.to_string());
    let parsed = text.trim().parse::<Decimal>();
    let mut edit = egui::TextEdit::singleline(&mut text)
        .id(id)
        .desired_width(width);
    if parsed.is_err() {
        edit = edit.text_color(theme::BAD);
    }
    let response = ui.add(edit);
    let mut changed = false;
    if response.changed()
        && let Ok(v) = text.trim().parse::<Decimal>()
        && v != *value
    {
        *value = v;
        changed = true;
    }
    if response.has_focus() {
        ui.data_mut(|d| d.insert_temp(id, text));
    } else {
        ui.data_mut(|d| d.remove::<String>(id));
    }
    changed
}

fn unit_ui(ui: &mut egui::Ui, id: egui::Id, unit: &mut Unit) -> bool {
    let before = *unit;
    egui::ComboBox::from_id_salt(id)
        .selected_text(unit.label())
        .show_ui(ui, |ui| {
            for u in Unit::ALL {
                ui.selectable_value(unit, u, u.label());
            }
        });
    before != *unit
}

fn component_ui(ui: &mut egui::Ui, id: egui::Id, component: &mut Component) -> bool {
    let before = component.clone();
    egui::ComboBox::from_id_salt(id)
        .selected_text(component.label())
        .width(100.0)
        .show_ui(ui, |ui| {
            for c in Component::BUILT_IN {
                let label = c.label().to_owned();
                ui.selectable_value(component, c, label);
            }
            if ui
                .selectable_label(matches!(component, Component::Custom(_)), "Custom…")
                .clicked()
                && !matches!(component, Component::Custom(_))
            {
                *component = Component::Custom("Custom".into());
            }
        });
    if let Component::Custom(name) = component {
        ui.add(egui::TextEdit::singleline(name).desired_width(80.0));
    }
    before != *component
}

/// Scenario tabs, then the selected scenario's name, MRR and lines. Returns true on any edit.
pub fn scenario_editor_ui(cost: &mut CostState, ui: &mut egui::Ui) -> bool {
    let mut changed = false;
    ui.label(egui::RichText::new("Scenarios").strong());
    ui.horizontal_wrapped(|ui| {
        for (i, s) in cost.draft.scenarios.iter().enumerate() {
            if ui
                .selectable_label(cost.selected_scenario == i, &s.name)
                .clicked()
            {
                cost.selected_scenario = i;
            }
        }
        if ui.button("+ scenario").clicked() {
            let copy = cost
                .draft
                .scenarios
                .last()
                .cloned()
                .map(|mut s| {
                    s.name = format!("Phase {}", cost.draft.scenarios.len() + 1);
                    s
                })
                .unwrap_or(Scenario {
                    name: "Current".into(),
                    mrr_per_month: None,
                    notes: String::new(),
                    lines: Vec::new(),
                });
            cost.draft.scenarios.push(copy);
            cost.selected_scenario = cost.draft.scenarios.len() - 1;
            changed = true;
        }
    });
    let model = cost.draft.clone();
    let Some(scenario) = cost.draft.scenarios.get_mut(cost.selected_scenario) else {
        return changed;
    };
    let sid = egui::Id::unique(("cost_scenario", cost.selected_scenario));
    ui.horizontal(|ui| {
        ui.label("Name");
        changed |= ui.text_edit_singleline(&mut scenario.name).changed();
        let mut has_mrr = scenario.mrr_per_month.is_some();
        if ui.checkbox(&mut has_mrr, "MRR per month").changed() {
            scenario.mrr_per_month = has_mrr.then_some(Decimal::from(1000));
            changed = true;
        }
        if let Some(mrr) = &mut scenario.mrr_per_month {
            changed |= decimal_ui(ui, sid.with("mrr"), mrr, 80.0);
        }
    });
    let mut remove: Option<usize> = None;
    egui::Grid::new(sid.with("lines"))
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for h in [
                "Component",
                "Description",
                "Quantity",
                "Price per unit",
                "Unit",
                "Per month",
                "",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for (i, line) in scenario.lines.iter_mut().enumerate() {
                let lid = sid.with(i);
                ui.horizontal(|ui| changed |= component_ui(ui, lid.with("c"), &mut line.component));
                changed |= ui
                    .add(egui::TextEdit::singleline(&mut line.description).desired_width(160.0))
                    .changed();
                changed |= decimal_ui(ui, lid.with("q"), &mut line.quantity, 60.0);
                changed |= decimal_ui(ui, lid.with("p"), &mut line.price_per_unit, 70.0);
                changed |= unit_ui(ui, lid.with("u"), &mut line.unit);
                ui.label(format_minor(
                    model.line_monthly_minor(line),
                    &model.currency,
                ));
                if ui
                    .small_button("Remove")
                    .on_hover_text("Remove this line")
                    .clicked()
                {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
    if let Some(i) = remove {
        scenario.lines.remove(i);
        changed = true;
    }
    let mut remove_scenario = false;
    ui.horizontal(|ui| {
        if ui.button("+ line").clicked() {
            scenario
                .lines
                .push(CostLine::monthly(Component::Servers, "", 0));
            changed = true;
        }
        remove_scenario = ui.button("Remove this scenario").clicked();
    });
    if remove_scenario {
        cost.draft.scenarios.remove(cost.selected_scenario);
        cost.selected_scenario = cost.selected_scenario.saturating_sub(1);
        changed = true;
    }
    changed
}

fn live_price_ui(ui: &mut egui::Ui, id: egui::Id, label: &str, price: &mut LivePrice) -> bool {
    ui.label(label);
    let mut changed = decimal_ui(ui, id.with("p"), &mut price.price_per_unit, 60.0);
    changed |= unit_ui(ui, id.with("u"), &mut price.unit);
    changed
}

/// This month's run rate from the fleet's counts, what-if replica counts and their delta, and
/// "Apply" which proposes the change through the action pipeline.
pub fn live_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    ui.label(egui::RichText::new("Live run rate").strong());
    let inventory = app.cost_live_inventory();
    ui.weak(format!(
        "Counted from {}: {} workloads, {} database servers, {} cache nodes. Changing a \
         replica count here changes nothing until you press Apply and confirm.",
        inventory.source,
        inventory.workloads.len(),
        inventory.database_servers,
        inventory.cache_nodes
    ));
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        let id = egui::Id::unique("cost_live_prices");
        let pricing = &mut app.cost.draft.live_pricing;
        changed |= live_price_ui(ui, id.with("r"), "Replica", &mut pricing.replica);
        changed |= live_price_ui(
            ui,
            id.with("d"),
            "Database server",
            &mut pricing.database_server,
        );
        changed |= live_price_ui(ui, id.with("c"), "Cache node", &mut pricing.cache_node);
        changed |= live_price_ui(ui, id.with("n"), "Cluster node", &mut pricing.node);
    });
    changed |= node_prices_ui(app, ui);
    if changed {
        app.cost.dirty = true;
    }
    let model = app.cost.draft.clone();
    let comps = model.components();
    let live = model.live_pricing.scenario(&inventory, "live");
    let what_if_inv = inventory.with_replicas(&app.cost.what_if);
    let what_if = model.live_pricing.scenario(&what_if_inv, "what-if");
    let live_t = model.scenario_totals(&live, &comps);
    let what_t = model.scenario_totals(&what_if, &comps);
    let cur = model.currency.clone();
    let mut apply: Option<String> = None;
    egui::Grid::new("cost_live")
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            for h in [
                "Workload",
                "Replicas now",
                "What-if",
                "Per month now",
                "What-if per month",
                "",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for (i, w) in inventory.workloads.iter().enumerate() {
                ui.label(format!("{} ({})", w.name, w.kind));
                ui.label(w.replicas.to_string());
                let mut r = app.cost.what_if.get(&w.name).copied().unwrap_or(w.replicas);
                if ui
                    .add(egui::DragValue::new(&mut r).range(0..=500))
                    .changed()
                {
                    if r == w.replicas {
                        app.cost.what_if.remove(&w.name);
                    } else {
                        app.cost.what_if.insert(w.name.clone(), r);
                    }
                }
                ui.label(format_minor(live_t.line_minor[i], &cur));
                ui.label(format_minor(what_t.line_minor[i], &cur));
                let pending = app.cost.what_if.contains_key(&w.name);
                if ui
                    .add_enabled(pending, egui::Button::new("Apply…"))
                    .on_hover_text("Propose this replica count: plan, confirm, then it runs")
                    .clicked()
                {
                    apply = Some(w.name.clone());
                }
                ui.end_row();
            }
            let n = inventory.workloads.len();
            for (k, (label, count)) in [
                ("Database servers", inventory.database_servers),
                ("Cache nodes", inventory.cache_nodes),
            ]
            .into_iter()
            .filter(|(_, c)| *c > 0)
            .enumerate()
            {
                ui.label(label);
                ui.label(count.to_string());
                ui.label("");
                ui.label(format_minor(live_t.line_minor[n + k], &cur));
                ui.label(format_minor(what_t.line_minor[n + k], &cur));
                ui.label("");
                ui.end_row();
            }
            ui.strong("Total");
            ui.label("");
            ui.label("");
            ui.strong(format_minor(live_t.total_minor, &cur));
            ui.strong(format_minor(what_t.total_minor, &cur));
            let delta = what_t.total_minor - live_t.total_minor;
            ui.colored_label(
                if delta > 0 { theme::WARN } else { theme::GOOD },
                format!("{} / month", format_delta_minor(delta, &cur)),
            );
            ui.end_row();
        });
    what_if_fits_ui(app, ui);
    if !app.cost.what_if.is_empty() && ui.button("Reset what-if").clicked() {
        app.cost.what_if.clear();
    }
    if let Some(name) = apply {
        app.cost_apply_what_if(&name);
    }
}

/// Per-cluster node prices: the clusters the fleet shows, each at the default price until it
/// is given its own. Returns true on any edit.
fn node_prices_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) -> bool {
    let clusters = app.cost_clusters();
    let pricing = &mut app.cost.draft.live_pricing;
    let mut changed = false;
    let mut remove: Option<usize> = None;
    let id = egui::Id::unique("cost_node_prices");
    for (i, o) in pricing.node_overrides.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            changed |= live_price_ui(
                ui,
                id.with(i),
                &format!("Node of {}", o.cluster),
                &mut o.price,
            );
            if ui.small_button("Use the default").clicked() {
                remove = Some(i);
            }
        });
    }
    if let Some(i) = remove {
        pricing.node_overrides.remove(i);
        changed = true;
    }
    let unpriced: Vec<&String> = clusters
        .iter()
        .filter(|c| !pricing.node_overrides.iter().any(|o| &o.cluster == *c))
        .collect();
    if !unpriced.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.weak("At the default node price:");
            for c in unpriced {
                if ui
                    .small_button(format!("Price {c} separately"))
                    .on_hover_text("What one more node of this cluster costs")
                    .clicked()
                {
                    pricing.node_overrides.push(crate::cost::ClusterNodePrice {
                        cluster: c.clone(),
                        price: pricing.node,
                    });
                    changed = true;
                }
            }
        });
    }
    changed
}

/// For each what-if scale up: whether it fits, and the nodes it would take and their cost.
fn what_if_fits_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    for (name, fit) in app.cost_what_if_fits() {
        let replicas = app.cost.what_if.get(&name).copied().unwrap_or(0);
        let text = format!("{name} at {replicas}: {}", fit.words());
        match fit.fits {
            Some(true) => ui.colored_label(theme::GOOD, text),
            Some(false) => ui.colored_label(theme::WARN, text),
            None => ui.weak(text),
        };
    }
}
