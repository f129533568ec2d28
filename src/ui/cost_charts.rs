//! Cost charts: stacked bars of cost per component per scenario, and cost as % of MRR across
//! the scenarios with the target drawn. Floats here are only for drawing; every figure shown as
//! text comes from the integer totals.

use super::theme;
use crate::cost::CostModel;
use crate::cost::money::minor_to_major;
use egui_plot::{Bar, BarChart, HLine, Legend, Line, Plot, PlotPoints, Points};
use rust_decimal::prelude::ToPrimitive;

pub fn cost_charts_ui(model: &CostModel, ui: &mut egui::Ui) {
    let totals = model.totals();
    if totals.is_empty() {
        return;
    }
    let comps = model.components();
    let names: Vec<String> = totals.iter().map(|t| t.name.clone()).collect();
    let currency = model.currency.clone();
    let major = |minor: i64| minor_to_major(minor, &currency).to_f64().unwrap_or(0.0);
    let mut charts: Vec<BarChart> = Vec::new();
    for (ci, c) in comps.iter().enumerate() {
        let bars = totals
            .iter()
            .enumerate()
            .map(|(si, t)| {
                Bar::new(si as f64, major(t.component_minor[ci].1))
                    .name(&t.name)
                    .width(0.6)
            })
            .collect();
        let chart = {
            let below: Vec<&BarChart> = charts.iter().collect();
            BarChart::new(c.label(), bars)
                .color(theme::series_color(ci))
                .stack_on(&below)
        };
        charts.push(chart);
    }
    let percents: Vec<[f64; 2]> = totals
        .iter()
        .enumerate()
        .filter_map(|(si, t)| {
            t.percent_of_mrr_exact
                .and_then(|p| p.to_f64())
                .map(|p| [si as f64, p])
        })
        .collect();
    let target = model.target_percent_of_mrr.to_f64().unwrap_or(20.0);
    let width = (ui.available_width() / 2.0 - 8.0).max(200.0);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.label("Monthly cost per component");
            let labels = names.clone();
            Plot::new("cost_bars")
                .height(220.0)
                .legend(Legend::default())
                .allow_scroll(false)
                .allow_drag(false)
                .allow_zoom(false)
                .x_axis_formatter(move |mark, _| scenario_label(&labels, mark.value))
                .show(ui, |plot_ui| {
                    for chart in charts {
                        plot_ui.bar_chart(chart);
                    }
                });
        });
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.label("Cost as % of MRR (exact), target dashed");
            let labels = names.clone();
            Plot::new("cost_share")
                .height(220.0)
                .legend(Legend::default())
                .allow_scroll(false)
                .allow_drag(false)
                .allow_zoom(false)
                .include_y(0.0)
                .include_y(target * 1.2)
                .include_x(0.0)
                .include_x((names.len().max(2) - 1) as f64)
                .x_axis_formatter(move |mark, _| scenario_label(&labels, mark.value))
                .show(ui, |plot_ui| {
                    plot_ui.hline(
                        HLine::new(format!("target {target} %"), target)
                            .color(theme::BAD)
                            .style(egui_plot::LineStyle::dashed_loose()),
                    );
                    plot_ui.line(
                        Line::new("% of MRR", PlotPoints::from(percents.clone()))
                            .color(theme::series_color(0))
                            .width(2.0),
                    );
                    plot_ui.points(
                        Points::new("", PlotPoints::from(percents))
                            .radius(3.5)
                            .color(theme::series_color(0)),
                    );
                });
        });
    });
}

fn scenario_label(names: &[String], x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 || x < 0.0 {
        return String::new();
    }
    names.get(x.round() as usize).cloned().unwrap_or_default()
}
