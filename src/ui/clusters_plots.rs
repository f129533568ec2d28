//! A context's capacity over time in the Clusters panel: requested, allocatable and used CPU
//! and memory, from the series the connector sends with each poll (bounded and downsampled by
//! the metric store and the chart cache like every other plot).

use super::charts::{PlotLine, time_plot_ui};
use crate::app::ScaleboardApp;
use crate::capacity::series::{
    CPU_ALLOCATABLE, CPU_REQUESTED, CPU_USED, MEMORY_ALLOCATABLE, MEMORY_REQUESTED, MEMORY_USED,
    capacity_target,
};
use crate::metrics::SeriesKey;

pub fn capacity_plots_ui(
    app: &mut ScaleboardApp,
    ui: &mut egui::Ui,
    endpoint: &str,
    context: &str,
) {
    let target = capacity_target(endpoint, context);
    let now = app.clock.now_ms();
    let range = app.view.range;
    let line = |metric, label| PlotLine {
        key: SeriesKey::new(&target, metric),
        label,
    };
    ui.columns(2, |cols| {
        let cpu = [
            line(CPU_REQUESTED, "requested"),
            line(CPU_ALLOCATABLE, "allocatable"),
            line(CPU_USED, "used"),
        ];
        time_plot_ui(
            &mut cols[0],
            &format!("capacity_cpu_{target}"),
            "CPU",
            "cores",
            &cpu,
            &app.store,
            &mut app.charts,
            range,
            now,
            150.0,
        );
        let memory = [
            line(MEMORY_REQUESTED, "requested"),
            line(MEMORY_ALLOCATABLE, "allocatable"),
            line(MEMORY_USED, "used"),
        ];
        time_plot_ui(
            &mut cols[1],
            &format!("capacity_memory_{target}"),
            "Memory",
            "GiB",
            &memory,
            &app.store,
            &mut app.charts,
            range,
            now,
            150.0,
        );
    });
}
