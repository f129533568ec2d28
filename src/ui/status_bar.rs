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
                let (short, long) = series_words(app.store.config());
                ui.colored_label(theme::WARN, short).on_hover_text(long);
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

/// What the metric store keeps once it is full, in words: a short label for the bar and the
/// whole of it for the hover (never a bare "limit reached").
fn series_words(config: &crate::metrics::StoreConfig) -> (String, String) {
    let max = config.max_series;
    let short = format!("plots: the first {max} series are kept; newer ones are not recorded");
    let mut kept = vec![format!(
        "every sample for the last {}",
        span_words(config.raw_window_ms)
    )];
    for tier in &config.tiers {
        kept.push(format!(
            "one point per {} for {}",
            span_words(tier.bucket_ms),
            span_words(tier.keep_ms)
        ));
    }
    let long = format!(
        "The fleet reports more series than the {max} kept for plots. Each kept series holds {}. \
         A new series takes the place of one idle for {}; until then it is not recorded, so \
         some workloads' plots stay empty. The selected workload's series are always recorded.",
        kept.join(", then "),
        span_words(config.evict_idle_ms)
    );
    (short, long)
}

/// "10 s", "10 min", "24 h".
fn span_words(ms: i64) -> String {
    let s = ms / 1_000;
    if s >= 3_600 && s % 3_600 == 0 {
        format!("{} h", s / 3_600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_store_says_what_it_keeps_at_which_resolution() {
        let (short, long) = series_words(&crate::metrics::StoreConfig::default());
        assert_eq!(
            short,
            "plots: the first 5000 series are kept; newer ones are not recorded"
        );
        assert!(
            long.contains(
                "Each kept series holds every sample for the last 10 min, then one point per \
                 10 s for 1 h, then one point per 1 min for 24 h."
            ),
            "{long}"
        );
        assert!(long.contains("idle for 5 min"), "{long}");
    }
}
