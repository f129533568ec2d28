//! Live plots. Each line is downsampled by the metric store to at most two points per pixel
//! column, and the result is cached until the series changes or the plot's width or range does,
//! so a frame never walks whole series.

use crate::app::TimeRange;
use crate::metrics::{MetricStore, SeriesKey};
use egui_plot::{Corner, Legend, Line, Plot, PlotPoint, PlotPoints};
use std::collections::HashMap;

use super::chart_style::color_names;
pub use super::chart_style::{SeriesColors, nice_y_steps, series_color, y_tick_label};

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct CacheKey {
    range: i64,
    columns: usize,
}

struct CachedLine {
    version: u64,
    /// Range end the downsample was made for; data older than one column is refreshed.
    until_ms: i64,
    segments: Vec<Vec<PlotPoint>>,
}

/// Downsampled lines by (series, range, width). Bounded: entries for series no longer drawn are
/// dropped when the cache grows past its limit.
#[derive(Default)]
pub struct ChartCache {
    lines: HashMap<(SeriesKey, CacheKey), CachedLine>,
    /// Colours of the series each plot has drawn, so they survive changes of the line list.
    pub colors: SeriesColors,
    /// The advisor's thresholds and firing windows, drawn on the plots of their metrics.
    pub marks: AdvisorMarks,
}

/// What plots draw for the advisor: each enabled rule's threshold on the plots of series it
/// watches, and a shaded band from when an alert fired until now. Set by the app when the alert
/// book's version changes ([`AdvisorMarks::set`]); a plot costs one lookup per line: firing
/// bands are indexed by series, and which rules apply to a series is worked out once per set.
#[derive(Default)]
pub struct AdvisorMarks {
    rules: Vec<RuleMark>,
    /// Endpoint id -> area, to scope rules to the series of their area.
    areas: HashMap<String, crate::model::endpoint::Area>,
    /// Series -> (firing since ms, colour) of its firing alerts.
    firing: HashMap<SeriesKey, Vec<(i64, egui::Color32)>>,
    /// Series -> indexes into `rules` that apply to it (filled as plots ask; bounded).
    applies_to: HashMap<SeriesKey, Vec<usize>>,
}

pub struct RuleMark {
    pub selector: crate::advisor::Selector,
    pub threshold: f64,
    pub label: String,
    pub color: egui::Color32,
}

/// Series whose applicable rules are remembered at most (cleared past it).
const MAX_REMEMBERED_SERIES: usize = 4096;

impl AdvisorMarks {
    pub fn set(
        &mut self,
        rules: Vec<RuleMark>,
        areas: HashMap<String, crate::model::endpoint::Area>,
        firing: impl IntoIterator<Item = (SeriesKey, i64, egui::Color32)>,
    ) {
        self.rules = rules;
        self.areas = areas;
        self.firing.clear();
        for (key, since, color) in firing {
            self.firing.entry(key).or_default().push((since, color));
        }
        self.applies_to.clear();
    }

    pub fn rules(&self) -> &[RuleMark] {
        &self.rules
    }

    /// Indexes of the rules drawn on a plot of `lines` (each once).
    fn thresholds_for(&mut self, lines: &[PlotLine<'_>]) -> Vec<usize> {
        if self.applies_to.len() > MAX_REMEMBERED_SERIES {
            self.applies_to.clear();
        }
        let mut out = Vec::new();
        for l in lines {
            if !self.applies_to.contains_key(&l.key) {
                let ids = (0..self.rules.len())
                    .filter(|&i| self.applies(&self.rules[i], &l.key))
                    .collect();
                self.applies_to.insert(l.key.clone(), ids);
            }
            out.extend_from_slice(&self.applies_to[&l.key]);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn applies(&self, mark: &RuleMark, key: &SeriesKey) -> bool {
        mark.selector.metric == key.metric
            && mark.selector.matches_target(&key.target)
            && mark.selector.area.is_none_or(|a| {
                self.areas.get(crate::advisor::endpoint_of(&key.target)) == Some(&a)
            })
    }
}

const MAX_CACHED_LINES: usize = 512;

impl ChartCache {
    fn line(
        &mut self,
        store: &MetricStore,
        key: &SeriesKey,
        range: TimeRange,
        columns: usize,
        now_ms: i64,
    ) -> &[Vec<PlotPoint>] {
        if self.lines.len() > MAX_CACHED_LINES {
            self.lines.clear();
        }
        let cache_key = (
            key.clone(),
            CacheKey {
                range: range.millis(),
                columns,
            },
        );
        let version = store.version(key);
        let column_ms = (range.millis() / columns.max(1) as i64).max(1000);
        let entry = self.lines.entry(cache_key).or_insert(CachedLine {
            version: u64::MAX,
            until_ms: i64::MIN,
            segments: Vec::new(),
        });
        if entry.version != version || now_ms - entry.until_ms >= column_ms {
            let down = store.downsample(key, (now_ms - range.millis())..now_ms + 1, columns);
            entry.segments = down
                .segments
                .into_iter()
                .map(|seg| seg.into_iter().map(|[x, y]| PlotPoint::new(x, y)).collect())
                .collect();
            entry.version = version;
            entry.until_ms = now_ms;
        }
        &entry.segments
    }

    fn get(&self, key: &SeriesKey, range: TimeRange, columns: usize) -> &[Vec<PlotPoint>] {
        self.lines
            .get(&(
                key.clone(),
                CacheKey {
                    range: range.millis(),
                    columns,
                },
            ))
            .map_or(&[], |l| l.segments.as_slice())
    }
}

/// One series to draw: its key and the legend label.
pub struct PlotLine<'a> {
    pub key: SeriesKey,
    pub label: &'a str,
}

/// A time plot of several series over the selected range, ending now.
#[allow(clippy::too_many_arguments)]
pub fn time_plot_ui(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    unit: &str,
    lines: &[PlotLine<'_>],
    store: &MetricStore,
    cache: &mut ChartCache,
    range: TimeRange,
    now_ms: i64,
    height: f32,
) {
    let columns = (ui.available_width().max(50.0) as usize).min(4096);
    let start_s = (now_ms - range.millis()) as f64 / 1000.0;
    let end_s = now_ms as f64 / 1000.0;
    for l in lines {
        cache.line(store, &l.key, range, columns, now_ms);
    }
    let threshold_ids = cache.marks.thresholds_for(lines);
    let colors = cache.colors.assign(id, &color_names(lines));
    let cache = &*cache;
    let drawn: Vec<(usize, &str, &[Vec<PlotPoint>])> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i, l.label, cache.get(&l.key, range, columns)))
        .collect();
    let marks = &cache.marks;
    let thresholds: Vec<&RuleMark> = threshold_ids.iter().map(|&i| &marks.rules[i]).collect();
    let firing: Vec<(f64, egui::Color32)> = lines
        .iter()
        .filter_map(|l| marks.firing.get(&l.key))
        .flatten()
        .map(|(since, color)| ((*since as f64 / 1000.0).max(start_s), *color))
        .collect();
    let y_top =
        non_negative_top(drawn.iter().flat_map(|(_, _, segs)| segs.iter().flatten())).map(|top| {
            // Keep a threshold in view when the data sits just under it.
            thresholds
                .iter()
                .map(|m| m.threshold * 1.05)
                .filter(|t| *t <= top * 2.0)
                .fold(top, f64::max)
        });
    ui.label(egui::RichText::new(format!("{title} ({unit})")).strong());
    Plot::new(id)
        .height(height)
        // Newest data is on the right, so the legend sits top-left, see-through.
        .legend(
            Legend::default()
                .position(Corner::LeftTop)
                .background_alpha(0.6)
                .text_style(egui::TextStyle::Small)
                .follow_insertion_order(true),
        )
        // Every plotted metric is non-negative: keep zero in view so small changes don't look huge.
        .include_y(0.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .y_axis_min_width(44.0)
        .y_grid_spacer(egui_plot::uniform_grid_spacer(|input| nice_y_steps(&input)))
        .y_axis_formatter(|mark, _| y_tick_label(mark.value, mark.step_size))
        .x_axis_formatter(move |mark, _| clock_label(mark.value, end_s))
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds_x(start_s..=end_s);
            if let Some(top) = y_top {
                plot_ui.set_plot_bounds_y(0.0..=top);
            }
            for (since_s, color) in &firing {
                plot_ui.span(
                    egui_plot::Span::new("firing", *since_s..=end_s)
                        .fill(color.gamma_multiply(0.15))
                        .border_width(0.0),
                );
            }
            for m in &thresholds {
                plot_ui.hline(
                    egui_plot::HLine::new(&m.label, m.threshold)
                        .color(m.color)
                        .style(egui_plot::LineStyle::dashed_loose())
                        .width(1.0),
                );
            }
            for (i, label, segments) in drawn {
                let color = colors[i];
                for seg in segments {
                    plot_ui.line(
                        Line::new(label, PlotPoints::Borrowed(seg))
                            .color(color)
                            .width(1.5),
                    );
                }
            }
        });
}

/// Every plotted measure (replicas, lag, depth, ratio, latency, percent) cannot be negative:
/// the y axis runs from 0 to a little above the highest point, and a flat zero line (no lag)
/// gets 0..1 instead of egui_plot's symmetric −100..100. `None` when a value is negative.
pub fn non_negative_top<'a>(points: impl Iterator<Item = &'a PlotPoint>) -> Option<f64> {
    let mut top = 0.0_f64;
    for p in points {
        if p.y < 0.0 {
            return None;
        }
        if p.y.is_finite() {
            top = top.max(p.y);
        }
    }
    Some(if top > 0.0 { top * 1.1 } else { 1.0 })
}

/// Axis labels as minutes/seconds before now, which reads better on a live plot than a clock.
fn clock_label(x_s: f64, end_s: f64) -> String {
    let ago = (end_s - x_s).round() as i64;
    match ago {
        i64::MIN..=0 => "now".into(),
        1..=119 => format!("-{ago}s"),
        120..=7199 => format!("-{}m", ago / 60),
        _ => format!("-{}h", ago / 3600),
    }
}

/// One plot of a metric grid: (plot id, title, unit, metric name).
pub type MetricPlot<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Several metrics plotted in two columns, one line per target; `targets(metric)` gives the
/// (series target, legend label) pairs each plot draws.
pub fn metric_grid_ui(
    ui: &mut egui::Ui,
    app: &mut crate::app::ScaleboardApp,
    plots: &[MetricPlot<'_>],
    targets: &dyn Fn(&str) -> Vec<(String, String)>,
) {
    let now = app.clock.now_ms();
    let range = app.view.range;
    ui.columns(2, |cols| {
        for (i, (id, title, unit, metric)) in plots.iter().enumerate() {
            let pairs = targets(metric);
            let lines: Vec<PlotLine<'_>> = pairs
                .iter()
                .map(|(target, label)| PlotLine {
                    key: SeriesKey::new(target, *metric),
                    label,
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
    use crate::advisor::Selector;
    use crate::model::endpoint::Area;

    fn mark(metric: &str, area: Option<Area>, target: &str) -> RuleMark {
        RuleMark {
            selector: Selector {
                metric: metric.into(),
                area,
                target: target.into(),
            },
            threshold: 1.0,
            label: metric.into(),
            color: egui::Color32::RED,
        }
    }

    #[test]
    fn marks_are_indexed_once_per_set_and_looked_up_per_line() {
        let mut marks = AdvisorMarks::default();
        let cpu = SeriesKey::new("k/prod/deployment/api", "cpu_percent");
        let depth = SeriesKey::new("q/jobs", "depth");
        marks.set(
            vec![
                mark("cpu_percent", Some(Area::Workloads), "*"),
                mark("depth", None, "q/*"),
                mark("cpu_percent", Some(Area::Databases), "*"),
            ],
            [
                ("k".to_string(), Area::Workloads),
                ("q".to_string(), Area::Queues),
            ]
            .into_iter()
            .collect(),
            [(cpu.clone(), 5_000, egui::Color32::RED)],
        );
        let lines = [
            PlotLine {
                key: cpu.clone(),
                label: "cpu",
            },
            PlotLine {
                key: depth.clone(),
                label: "depth",
            },
        ];
        assert_eq!(marks.thresholds_for(&lines), vec![0, 1]);
        assert_eq!(marks.applies_to.len(), 2, "remembered per series");
        assert_eq!(marks.firing.get(&cpu).map(Vec::len), Some(1));
        assert!(!marks.firing.contains_key(&depth));
        // A new set (the book changed) forgets what applied.
        marks.set(Vec::new(), HashMap::new(), []);
        assert!(marks.applies_to.is_empty());
        assert!(marks.thresholds_for(&lines).is_empty());
    }
}
