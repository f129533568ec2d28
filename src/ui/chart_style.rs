//! How plots look, apart from their data: y tick labels that fit the axis at any magnitude, and
//! series colours that follow a series' name (remembered per plot), never its position.

use std::collections::HashMap;

/// Y tick labels short enough for the axis at any magnitude: 2,500,000,000 is "2.5G", not ten
/// digits the axis has no room for; as many decimals as the tick spacing needs ("0.25", "1.5k").
pub fn y_tick_label(value: f64, step: f64) -> String {
    const SCALES: [(f64, &str); 5] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    if !value.is_finite() {
        return String::new();
    }
    let (scale, suffix) = SCALES
        .iter()
        .copied()
        .find(|(s, _)| value.abs() >= *s)
        .unwrap_or((1.0, ""));
    // The fewest decimals that write the tick spacing exactly (0.25 needs two, 500 none).
    let scaled_step = step.abs() / scale;
    let decimals = (0..6)
        .find(|d| {
            let f = scaled_step * 10f64.powi(*d);
            (f - f.round()).abs() < 1e-6 * f.max(1.0)
        })
        .unwrap_or(6) as usize;
    let mut text = format!("{:.*}", decimals, value / scale);
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    if text == "-0" {
        text = "0".into();
    }
    format!("{text}{suffix}")
}

/// Y grid steps of 1, 2 or 5 × 10^k: the finest at least 8 points apart (grid lines), the next
/// at least 30 (labelled: egui_plot labels steps more than 20 points apart), the coarsest at least
/// 60. egui_plot's default steps are powers of ten only, so an axis running to 90,000 on a
/// 140-point plot had lines every 10,000 (too close for labels) and none at 100,000: only "0"
/// was labelled.
pub fn nice_y_steps(input: &egui_plot::GridInput) -> [f64; 3] {
    // `base_step_size` is the value of the plot's minimum grid spacing (8 points).
    let base = input.base_step_size.abs();
    let span = (input.bounds.1 - input.bounds.0).abs();
    if !(base.is_finite() && base > 0.0 && span.is_finite()) {
        let one = nice_at_least(span.max(1e-9));
        return [one; 3];
    }
    // Never more than a few hundred marks, whatever the input.
    let finest = nice_at_least(base.max(span / 500.0));
    [
        finest,
        nice_at_least(base * 30.0 / 8.0).max(finest),
        nice_at_least(base * 60.0 / 8.0).max(finest),
    ]
}

/// The smallest of 1, 2, 5 × 10^k that is at least `x` (> 0).
fn nice_at_least(x: f64) -> f64 {
    let power = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= x * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// The palette index a series prefers: a stable hash (FNV-1a) of its name, so the same member
/// gets the same colour in every plot and every run, whatever its place in the list.
fn preferred_color(name: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % super::theme::PALETTE_LEN as u64) as usize
}

/// The colour a series named `name` gets when nothing else on its plot has it (see
/// [`SeriesColors::assign`]): for drawings outside [`super::charts::time_plot_ui`] that want the same colour.
pub fn series_color(name: &str) -> egui::Color32 {
    super::theme::series_color(preferred_color(name))
}

/// What names a line's colour: its member (series target), or target and metric when several
/// lines of the plot share a target (the fleet's desired/ready/not ready).
pub(super) fn color_names(lines: &[super::charts::PlotLine<'_>]) -> Vec<String> {
    let shared = lines
        .iter()
        .enumerate()
        .any(|(i, a)| lines[..i].iter().any(|b| b.key.target == a.key.target));
    lines
        .iter()
        .map(|l| {
            if shared {
                format!("{}#{}", l.key.target, l.key.metric)
            } else {
                l.key.target.clone()
            }
        })
        .collect()
}

/// Remembered colours per plot: a series keeps the colour it was first drawn with while others
/// come and go (a member dropping out never recolours the rest); a new series takes its
/// preferred colour, or the next one no other line of the plot is using.
#[derive(Default)]
pub struct SeriesColors {
    by_plot: HashMap<String, HashMap<String, usize>>,
}

/// Plots, and names per plot, remembered at most (forgotten past it: colours may then change).
const MAX_COLOR_PLOTS: usize = 256;
const MAX_COLOR_NAMES: usize = 256;

impl SeriesColors {
    pub fn assign(&mut self, plot: &str, names: &[String]) -> Vec<egui::Color32> {
        let len = super::theme::PALETTE_LEN;
        if self.by_plot.len() > MAX_COLOR_PLOTS {
            self.by_plot.clear();
        }
        let memory = self.by_plot.entry(plot.to_owned()).or_default();
        if memory.len() > MAX_COLOR_NAMES {
            memory.retain(|n, _| names.contains(n));
        }
        let mut used = vec![false; len];
        let mut chosen: Vec<Option<usize>> = vec![None; names.len()];
        // Remembered colours first, so a newcomer never takes one from a series still drawn.
        for (slot, name) in chosen.iter_mut().zip(names) {
            if let Some(&c) = memory.get(name)
                && !used[c]
            {
                used[c] = true;
                *slot = Some(c);
            }
        }
        for (slot, name) in chosen.iter_mut().zip(names) {
            if slot.is_none() {
                let start = preferred_color(name);
                let c = (0..len)
                    .map(|k| (start + k) % len)
                    .find(|c| !used[*c])
                    .unwrap_or(start);
                used[c] = true;
                memory.insert(name.clone(), c);
                *slot = Some(c);
            }
        }
        chosen
            .into_iter()
            .map(|c| super::theme::series_color(c.unwrap_or(0)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_ticks_keep_short_labels_for_big_values() {
        assert_eq!(y_tick_label(0.0, 5e8), "0");
        assert_eq!(y_tick_label(1e9, 5e8), "1G");
        assert_eq!(y_tick_label(1.5e9, 5e8), "1.5G");
        assert_eq!(y_tick_label(2.5e12, 5e11), "2.5T");
        assert_eq!(y_tick_label(500_000.0, 100_000.0), "500k");
        assert_eq!(y_tick_label(1_250_000.0, 250_000.0), "1.25M");
        assert_eq!(y_tick_label(42.0, 10.0), "42");
        assert_eq!(y_tick_label(0.25, 0.05), "0.25");
        assert_eq!(y_tick_label(0.9, 0.1), "0.9");
        assert_eq!(y_tick_label(-2e6, 1e6), "-2M");
        // Every tick of a 0..12 GB axis is short and non-empty.
        for i in 0..=12 {
            let label = y_tick_label(f64::from(i) * 1e9, 1e9);
            assert!(!label.is_empty() && label.len() <= 4, "{label}");
        }
    }

    #[test]
    fn y_steps_are_1_2_5_and_leave_labels_room() {
        let input = |top: f64, height: f64| egui_plot::GridInput {
            bounds: (0.0, top),
            base_step_size: top / height * 8.0,
        };
        // 0..90,000 on 140 points: labelled every 20,000 (31 points apart), not only at 0.
        assert_eq!(
            nice_y_steps(&input(90_000.0, 140.0)),
            [10_000.0, 20_000.0, 50_000.0]
        );
        // 0..3.3e9 on 140 points.
        assert_eq!(nice_y_steps(&input(3.3e9, 140.0)), [2e8, 1e9, 2e9]);
        for (top, height) in [
            (0.9, 140.0),
            (88_000.0, 150.0),
            (1.1e12, 340.0),
            (7.0, 140.0),
        ] {
            let steps = nice_y_steps(&input(top, height));
            // The labelled step is at least 30 points apart and at most 75: two labels fit.
            let apart = steps[1] / top * height;
            assert!((30.0..=75.0).contains(&apart), "{top}: {steps:?} {apart}");
        }
        // Degenerate input never yields a flood of marks.
        let flat = egui_plot::GridInput {
            bounds: (0.0, 1e12),
            base_step_size: 0.0,
        };
        assert!(nice_y_steps(&flat).iter().all(|s| *s >= 1e12));
        assert_eq!(nice_at_least(0.3), 0.5);
        assert_eq!(nice_at_least(1.0), 1.0);
        assert_eq!(nice_at_least(1.01), 2.0);
        assert_eq!(nice_at_least(6.0), 10.0);
    }

    #[test]
    fn a_series_keeps_its_colour_when_another_drops_out() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut colors = SeriesColors::default();
        let three = colors.assign("p", &names(&["pg/m1", "pg/m2", "pg/m3"]));
        // Three members, three different colours.
        assert!(three[0] != three[1] && three[1] != three[2] && three[0] != three[2]);
        // m1 drops out: m2 and m3 keep theirs.
        let two = colors.assign("p", &names(&["pg/m2", "pg/m3"]));
        assert_eq!(two, vec![three[1], three[2]]);
        // m1 comes back (last in the list now): its colour again.
        let back = colors.assign("p", &names(&["pg/m2", "pg/m3", "pg/m1"]));
        assert_eq!(back, vec![three[1], three[2], three[0]]);
        // Another plot, first sight of m3 alone: its own preferred colour, whatever the position.
        let alone = colors.assign("q", &names(&["pg/m3"]));
        assert_eq!(alone, vec![series_color("pg/m3")]);
        // More lines than colours: every line still gets one.
        let many: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
        assert_eq!(colors.assign("r", &many).len(), 12);
    }
}
