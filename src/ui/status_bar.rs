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
            let summary = app.store.summary();
            let (short, long) = series_words(&summary, app.store.config());
            ui.weak(format!(
                "refresh {} s · store {:.1} MB",
                app.profiles.active.refresh_interval_secs,
                summary.memory_bytes as f64 / 1e6
            ));
            let label = if summary.not_recorded > 0 {
                ui.colored_label(theme::WARN, short)
            } else {
                ui.weak(short)
            };
            label.on_hover_text(long);
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

/// What the metric store keeps at which resolution, in words: a short line for the bar and
/// the whole of it for the hover (never a bare "limit reached"). Pure, so it is tested alone.
pub fn series_words(
    summary: &crate::metrics::StoreSummary,
    config: &crate::metrics::StoreConfig,
) -> (String, String) {
    let coarse_words = format!(
        "1 point per {} for {}",
        span_words(config.coarse.bucket_ms),
        span_words(config.coarse.keep_ms)
    );
    let mut short = if summary.coarse_mode {
        format!(
            "plots: full resolution: {} series ({} pinned, selected or plotted); coarse \
             ({coarse_words}): {} series",
            count_words(summary.full),
            count_words(summary.full_watched),
            count_words(summary.coarse),
        )
    } else if summary.coarse > 0 {
        format!(
            "plots: full resolution: {} series; coarse ({coarse_words}): {} series",
            count_words(summary.full),
            count_words(summary.coarse),
        )
    } else {
        format!(
            "plots: full resolution: {} series",
            count_words(summary.full)
        )
    };
    let not_recorded = if summary.not_recorded == 0 {
        short.push_str("; nothing dropped");
        String::new()
    } else {
        let n = if summary.not_recorded_more {
            format!("more than {}", count_words(summary.not_recorded))
        } else {
            count_words(summary.not_recorded)
        };
        short.push_str(&format!("; {n} series not recorded (coarse budget spent)"));
        format!(
            " Not recorded now: {n} series, for example {}; they are recorded as soon as \
             idle series leave room.",
            summary.not_recorded_examples.join(", ")
        )
    };
    let mut full = vec![format!(
        "every sample for the last {}",
        span_words(config.raw_window_ms)
    )];
    for tier in &config.tiers {
        full.push(format!(
            "one point per {} for {}",
            span_words(tier.bucket_ms),
            span_words(tier.keep_ms)
        ));
    }
    let long = format!(
        "Full resolution keeps {}. Up to {} workload series are all kept at full resolution; past \
         that, only the workloads you pin, select or see plotted on the Overview (the top {} by \
         the chosen measure and by CPU) are, and every other workload's replicas, ready, CPU and \
         memory are kept coarse: {coarse_words} (min and max), about {:.1} KB a series, within a \
         budget of {:.0} MB ({:.1} MB used). Selecting or pinning a workload switches it to full \
         resolution from then on, its coarse history kept as the older part of the plot; a \
         workload that leaves the plots goes back to coarse, its data down-sampled.{not_recorded}",
        full.join(", then "),
        count_words(config.bulk_full_max),
        crate::app::overview::TOP,
        summary.coarse_series_bytes as f64 / 1e3,
        config.coarse_budget_bytes as f64 / 1e6,
        summary.coarse_bytes as f64 / 1e6,
    );
    (short, long)
}

/// "12,028".
fn count_words(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    fn the_store_says_what_it_keeps_at_which_resolution() {
        let config = crate::metrics::StoreConfig::default();
        let small = crate::metrics::StoreSummary {
            full: 412,
            ..Default::default()
        };
        let (short, _) = series_words(&small, &config);
        assert_eq!(short, "plots: full resolution: 412 series; nothing dropped");

        let large = crate::metrics::StoreSummary {
            full: 52,
            full_watched: 40,
            coarse: 40_012,
            coarse_mode: true,
            coarse_series_bytes: 1_704,
            coarse_bytes: 70_000_000,
            ..Default::default()
        };
        let (short, long) = series_words(&large, &config);
        assert_eq!(
            short,
            "plots: full resolution: 52 series (40 pinned, selected or plotted); coarse (1 point \
             per 1 min for 3 h): 40,012 series; nothing dropped"
        );
        assert!(
            long.starts_with(
                "Full resolution keeps every sample for the last 10 min, then one point per 10 s \
                 for 1 h, then one point per 1 min for 24 h. Up to 1,000 workload series"
            ),
            "{long}"
        );
        assert!(long.contains("about 1.7 KB a series"), "{long}");
        assert!(!short.contains("limit reached") && !long.contains("limit reached"));

        let spent = crate::metrics::StoreSummary {
            not_recorded: 1_234,
            not_recorded_examples: vec!["k8s/a replicas".into(), "k8s/b ready".into()],
            ..large
        };
        let (short, long) = series_words(&spent, &config);
        assert!(
            short.ends_with("; 1,234 series not recorded (coarse budget spent)"),
            "{short}"
        );
        assert!(
            long.contains(
                "Not recorded now: 1,234 series, for example k8s/a replicas, k8s/b ready"
            ),
            "{long}"
        );
    }
}
