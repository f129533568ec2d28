//! The profile form's Prometheus queries: the ready-made presets to tick and queries of one's
//! own (name, PromQL, unit).

use crate::profiles::{PromPreset, PromQuery, PrometheusEndpoint};

pub fn prometheus_queries_ui(ui: &mut egui::Ui, prom: &mut PrometheusEndpoint) {
    ui.label("Preset queries");
    ui.horizontal_wrapped(|ui| {
        for preset in PromPreset::ALL {
            let mut on = prom.presets.contains(&preset);
            if ui
                .checkbox(&mut on, preset.query().name)
                .on_hover_text(preset.query().expr)
                .changed()
            {
                if on {
                    prom.presets.push(preset);
                } else {
                    prom.presets.retain(|p| *p != preset);
                }
            }
        }
    });
    ui.label("Queries of your own");
    let mut remove = None;
    for (i, q) in prom.queries.iter_mut().enumerate() {
        egui::Grid::new(("prom_query", i))
            .num_columns(2)
            .show(ui, |ui| {
                let label = ui.label("Name");
                ui.text_edit_singleline(&mut q.name).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("PromQL");
                ui.add(
                    egui::TextEdit::multiline(&mut q.expr)
                        .desired_rows(2)
                        .desired_width(360.0)
                        .code_editor(),
                )
                .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Unit");
                ui.add(egui::TextEdit::singleline(&mut q.unit).hint_text("%, ms, req/s"))
                    .labelled_by(label.id);
                ui.end_row();
            });
        if ui.small_button("Remove query").clicked() {
            remove = Some(i);
        }
    }
    if let Some(i) = remove {
        prom.queries.remove(i);
    }
    if ui.small_button("Add query").clicked() {
        prom.queries.push(PromQuery {
            name: format!("query-{}", prom.queries.len() + 1),
            ..PromQuery::default()
        });
    }
}
