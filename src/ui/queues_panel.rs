//! Queues: depth vs consumers, and whether the backlog drains or grows, in words.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::ScaleboardApp;
use crate::connectors::snapshot::Queue;
use crate::engine::Area;
use crate::metrics::SeriesKey;

/// "drains in 14 min" or "grows by 120/min: workers are not keeping up".
pub fn drain_estimate(q: &Queue) -> String {
    let net = q.out_per_sec - q.in_per_sec;
    if q.depth == 0 {
        "empty".into()
    } else if net > 0.01 {
        let secs = q.depth as f64 / net;
        if secs < 90.0 {
            format!("at the current consume rate the backlog drains in {secs:.0} s")
        } else {
            format!(
                "at the current consume rate the backlog drains in {:.0} min",
                secs / 60.0
            )
        }
    } else {
        format!(
            "grows by {:.0}/min: workers are not keeping up",
            (-net * 60.0).max(0.0)
        )
    }
}

pub fn queues_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Queues");
    widgets::endpoint_status_ui(ui, app, Area::Queues);
    let queues: Vec<(String, Queue)> = app
        .fleet
        .queues()
        .map(|(e, q)| (format!("{}/{}", e.info.id, q.name), q.clone()))
        .collect();
    if queues.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No queue source is polled. Redis and RabbitMQ queue connectors are not built yet (issue #6); the demo fleet shows what they will look like.",
        );
        return;
    }
    let limit = app.profiles.active.thresholds.queue_depth;
    egui::Grid::new("queue_grid").striped(true).show(ui, |ui| {
        for h in [
            "Queue",
            "Source",
            "Depth",
            "Consumers",
            "In/s",
            "Out/s",
            "Outlook",
            "Workers",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for (_, q) in &queues {
            ui.label(&q.name);
            ui.label(&q.source);
            ui.colored_label(
                if q.depth > limit {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                q.depth.to_string(),
            );
            ui.label(q.consumers.to_string());
            ui.label(format!("{:.1}", q.in_per_sec));
            ui.label(format!("{:.1}", q.out_per_sec));
            ui.label(drain_estimate(q));
            ui.label(
                q.linked_workload
                    .as_ref()
                    .map_or("—".into(), ToString::to_string),
            );
            ui.end_row();
        }
    });
    let now = app.clock.now_ms();
    let range = app.view.range;
    let plots = [
        ("q_depth", "Depth", "jobs", "depth"),
        ("q_cons", "Consumers", "count", "consumers"),
        ("q_in", "Incoming", "jobs/s", "in_per_sec"),
        ("q_out", "Processed", "jobs/s", "out_per_sec"),
    ];
    ui.columns(2, |cols| {
        for (i, (id, title, unit, metric)) in plots.iter().enumerate() {
            let lines: Vec<PlotLine<'_>> = queues
                .iter()
                .map(|(t, q)| PlotLine {
                    key: SeriesKey::new(t, *metric),
                    label: &q.name,
                })
                .collect();
            time_plot_ui(
                &mut cols[i % 2],
                id,
                title,
                unit,
                &lines,
                &app.store,
                &mut app.charts,
                range,
                now,
                150.0,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(depth: u64, inp: f64, out: f64) -> Queue {
        Queue {
            name: "q".into(),
            source: "s".into(),
            depth,
            consumers: 1,
            in_per_sec: inp,
            out_per_sec: out,
            linked_workload: None,
        }
    }

    #[test]
    fn estimate_in_words() {
        assert_eq!(
            drain_estimate(&q(840, 1.0, 2.0)),
            "at the current consume rate the backlog drains in 14 min"
        );
        assert_eq!(
            drain_estimate(&q(840, 3.0, 1.0)),
            "grows by 120/min: workers are not keeping up"
        );
        assert_eq!(drain_estimate(&q(0, 3.0, 1.0)), "empty");
    }
}
