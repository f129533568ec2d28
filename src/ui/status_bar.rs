//! Bottom bar: every endpoint's status and how fresh the data is.

use super::theme;
use super::widgets;
use crate::app::ScaleboardApp;

pub fn status_bar_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let now = app.clock.now_ms();
    egui::Panel::bottom("status_bar").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            if app.fleet.endpoints.is_empty() {
                ui.weak("No endpoint is polled for this profile.");
            }
            for e in &app.fleet.endpoints {
                widgets::health_dot_ui(ui, &e.health);
                let state = e.health.state;
                let text = match (state, e.updated_at) {
                    // A stale view says how old it is.
                    (crate::health::HealthState::Stale, Some(at)) => format!(
                        "{} (stale, {})",
                        e.info.id,
                        widgets::age_text(now, Some(at))
                    ),
                    _ => format!("{} ({})", e.info.id, state.label()),
                };
                ui.colored_label(theme::health_color(state), text)
                    .on_hover_text(format!("{}\n{}", e.info.label, e.health.line()));
                let contexts = (e.info.area == crate::model::endpoint::Area::Workloads)
                    .then(|| unwatched_contexts(&e.health))
                    .into_iter()
                    .flatten();
                for (label, m) in contexts {
                    ui.colored_label(theme::health_color(m.state), label)
                        .on_hover_text(m.reason.as_deref().unwrap_or_default());
                }
                if let Some(crate::model::snapshot::Snapshot::Workloads(list)) = &e.snapshot {
                    loading_ui(ui, list);
                }
            }
            ui.separator();
            ui.label(widgets::age_text(now, app.fleet.last_update()));
            ui.separator();
            ui.weak(format!(
                "refresh {} s · {} series · store {:.1} MB",
                app.profiles.active.refresh_interval_secs,
                app.store.series_count(),
                app.store.memory_bytes() as f64 / 1e6
            ));
            if app.store.refused_series() > 0 {
                ui.colored_label(theme::WARN, "series limit reached")
                    .on_hover_text(format!(
                        "The fleet reports more series than the {} kept for plots; the rest are not recorded. The selected workload's series always are.",
                        app.store.config().max_series
                    ));
            }
            let advisor = &app.advisor.advisor;
            if advisor.refused_windows() > 0 {
                ui.colored_label(
                    theme::WARN,
                    format!("advisor: {} series not watched", advisor.refused_windows()),
                )
                .on_hover_text(format!(
                    "The rules watch at most {} series; every one was still being sampled, so                      newer series were not watched ({} idle windows were dropped to make room                      before that).",
                    crate::advisor::MAX_WINDOWS,
                    advisor.evicted_windows()
                ));
            }
        });
    });
}

/// "pod details loading (1 of 3 contexts in)" while the workloads show and some context's
/// pods are still being read; the hover says, per context, what is in and what is not.
fn loading_ui(ui: &mut egui::Ui, list: &crate::model::workloads::WorkloadList) {
    let Some(words) = list.pod_details_words() else {
        return;
    };
    let per_context: Vec<String> = list
        .sources
        .iter()
        .filter_map(|s| s.progress.words().map(|w| format!("{}: {w}", s.name)))
        .collect();
    ui.weak(words).on_hover_text(format!(
        "Workloads and their replica counts are shown; restarts, why pods are stuck and \
         CPU/memory follow as each context's pods arrive.\n{}",
        per_context.join("\n")
    ));
}

/// Kubernetes contexts of an endpoint that are not ok, each with a short label: "context west
/// not watched" (stale, down or missing from the kubeconfig) or "context west degraded". A
/// context half a profile rests on must not hide behind the endpoint's own colour.
pub fn unwatched_contexts(
    health: &crate::health::EndpointHealth,
) -> impl Iterator<Item = (String, &crate::health::MemberHealth)> {
    use crate::health::HealthState;
    health
        .members
        .iter()
        .filter(|m| m.name.starts_with("context ") && m.state != HealthState::Ok)
        .map(|m| {
            let what = match m.state {
                HealthState::Degraded => "degraded",
                _ => "not watched",
            };
            (format!("{} {what}", m.name), m)
        })
}
