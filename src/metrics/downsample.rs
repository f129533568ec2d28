use std::collections::VecDeque;
use std::ops::Range;

use super::TimeMs;
use super::coarse::CoarsePoint;
use super::raw::Sample;
use super::tier::Bucket;

/// A plot-ready view of one series over a time range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Downsampled {
    /// Polylines of `[x, y]`, x in seconds since the unix epoch. A new segment starts after
    /// every gap, so a plot never draws a line across one.
    pub segments: Vec<Vec<[f64; 2]>>,
    /// Width of the buckets the points came from; 0 for raw samples.
    pub tier_bucket_ms: i64,
}

impl Downsampled {
    /// Points over all segments.
    pub fn point_count(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(Vec::is_empty)
    }
}

/// One visible element once gaps are resolved: a raw sample (`lo == hi`, `spread_ms == 0`)
/// or a bucket centred on `t`, whose min and max are drawn `spread_ms` either side of it.
struct Item {
    t: TimeMs,
    lo: f64,
    hi: f64,
    spread_ms: i64,
    break_before: bool,
}

pub(crate) fn raw(
    samples: &VecDeque<Sample>,
    range: Range<TimeMs>,
    columns: usize,
    gap_ms: i64,
) -> Downsampled {
    let first = samples.partition_point(|s| s.t < range.start);
    let end = samples.partition_point(|s| s.t < range.end);
    let visible = end.saturating_sub(first);
    let mut prev_t: Option<TimeMs> = None;
    let mut pending_gap = false;
    let items = samples.range(first..end.max(first)).filter_map(|&s| {
        if s.is_gap() {
            pending_gap = true;
            return None;
        }
        let break_before = pending_gap || prev_t.is_some_and(|p| s.t - p > gap_ms);
        pending_gap = false;
        prev_t = Some(s.t);
        Some(Item {
            t: s.t,
            lo: s.v,
            hi: s.v,
            spread_ms: 0,
            break_before,
        })
    });
    Downsampled {
        segments: build(items, &range, columns, visible, visible <= 2 * columns),
        tier_bucket_ms: 0,
    }
}

pub(crate) fn buckets(
    buckets: &VecDeque<Bucket>,
    bucket_ms: i64,
    range: Range<TimeMs>,
    columns: usize,
    gap_ms: i64,
) -> Downsampled {
    // A bucket straddling range.start is visible: its later part is in range.
    let first = buckets.partition_point(|b| b.start + bucket_ms <= range.start);
    let end = buckets.partition_point(|b| b.start < range.end);
    let visible = end.saturating_sub(first);
    let mut prev: Option<Bucket> = None;
    let items = buckets.range(first..end.max(first)).map(|&b| {
        let break_before =
            prev.is_some_and(|p| p.gap_after() || b.start.saturating_sub(p.start) > gap_ms);
        prev = Some(b);
        Item {
            t: b.start + bucket_ms / 2,
            lo: f64::from(b.min),
            hi: f64::from(b.max),
            spread_ms: bucket_ms / 4,
            break_before,
        }
    });
    Downsampled {
        // Each bucket may yield two points, so "few enough to return as-is" is half as many.
        segments: build(items, &range, columns, visible, visible <= columns),
        tier_bucket_ms: bucket_ms,
    }
}

/// A coarse ring: fixed-stride buckets from `first_slot`, an empty one breaking the line.
pub(crate) fn coarse(
    points: &VecDeque<CoarsePoint>,
    first_slot: i64,
    bucket_ms: i64,
    range: Range<TimeMs>,
    columns: usize,
) -> Downsampled {
    let index = |slot: i64| {
        usize::try_from(slot - first_slot)
            .unwrap_or(0)
            .min(points.len())
    };
    let first = index(range.start.div_euclid(bucket_ms));
    let end = index((range.end - 1).div_euclid(bucket_ms) + 1);
    let visible = end.saturating_sub(first);
    let mut prev_slot: Option<i64> = None;
    let items = points
        .range(first..end.max(first))
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, p)| {
            let slot = first_slot + (first + i) as i64;
            let break_before = prev_slot.is_some_and(|s| slot - s > 1);
            prev_slot = Some(slot);
            Item {
                t: slot * bucket_ms + bucket_ms / 2,
                lo: f64::from(p.min),
                hi: f64::from(p.max),
                spread_ms: bucket_ms / 4,
                break_before,
            }
        });
    Downsampled {
        segments: build(items, &range, columns, visible, visible <= columns),
        tier_bucket_ms: bucket_ms,
    }
}

/// One extreme seen in the current column; `seq` orders extremes by occurrence.
#[derive(Clone, Copy)]
struct Extreme {
    seq: usize,
    y: f64,
}

/// Min and max of the items seen so far in one pixel column.
#[derive(Clone, Copy)]
struct Column {
    min: Extreme,
    max: Extreme,
    /// Where the extremes sit on the time axis, by `seq`; kept apart from `Extreme` so the
    /// common raw path compares only two numbers per sample.
    min_at: (TimeMs, i64),
    max_at: (TimeMs, i64),
}

impl Column {
    fn new(seq: usize, item: &Item) -> Self {
        Self {
            min: Extreme { seq, y: item.lo },
            max: Extreme { seq, y: item.hi },
            min_at: (item.t, item.spread_ms),
            max_at: (item.t, item.spread_ms),
        }
    }

    fn add(&mut self, seq: usize, item: &Item) {
        if item.lo < self.min.y {
            self.min = Extreme { seq, y: item.lo };
            self.min_at = (item.t, item.spread_ms);
        }
        if item.hi > self.max.y {
            self.max = Extreme { seq, y: item.hi };
            self.max_at = (item.t, item.spread_ms);
        }
    }
}

/// Accumulates points into segments.
struct Segments {
    done: Vec<Vec<[f64; 2]>>,
    current: Vec<[f64; 2]>,
}

impl Segments {
    fn with_capacity(points: usize) -> Self {
        Self {
            done: Vec::new(),
            current: Vec::with_capacity(points),
        }
    }

    fn point(&mut self, t_ms: TimeMs, y: f64) {
        self.current.push([t_ms as f64 / 1000.0, y]);
    }

    fn split(&mut self) {
        if !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
        }
    }

    /// Emits the column's min and max in the order they occurred, at most `budget` points;
    /// returns how many it emitted.
    fn column(&mut self, col: Column, budget: usize) -> usize {
        if budget == 0 {
            return 0;
        }
        if col.min.seq == col.max.seq && col.min.y == col.max.y {
            self.point(col.min_at.0, col.min.y);
            return 1;
        }
        let min_first = if col.min.seq == col.max.seq {
            // Both from one bucket, whose inner order is unknown: continue the line from
            // where it is, so a flat-ish series does not zigzag more than it must.
            self.current
                .last()
                .is_none_or(|&[_, y]| (y - col.min.y).abs() <= (y - col.max.y).abs())
        } else {
            col.min.seq < col.max.seq
        };
        let ((first_y, (t1, s1)), (second_y, (t2, s2))) = if min_first {
            ((col.min.y, col.min_at), (col.max.y, col.max_at))
        } else {
            ((col.max.y, col.max_at), (col.min.y, col.min_at))
        };
        if col.min.seq == col.max.seq {
            self.point(t1 - s1, first_y);
            if budget > 1 {
                self.point(t2 + s2, second_y);
            }
        } else {
            self.point(t1, first_y);
            if budget > 1 {
                self.point(t2, second_y);
            }
        }
        budget.min(2)
    }

    fn finish(mut self) -> Vec<Vec<[f64; 2]>> {
        self.split();
        self.done
    }
}

/// Turns visible items into segments of at most two points per pixel column (the column's
/// min and max, in time order), or every item as-is when there are few enough.
fn build(
    items: impl Iterator<Item = Item>,
    range: &Range<TimeMs>,
    columns: usize,
    visible: usize,
    as_is: bool,
) -> Vec<Vec<[f64; 2]>> {
    if columns == 0 || visible == 0 || range.end <= range.start {
        return Vec::new();
    }
    let mut out = Segments::with_capacity(visible.min(columns).saturating_mul(2));
    if as_is {
        for (seq, item) in items.enumerate() {
            if item.break_before {
                out.split();
            }
            out.column(Column::new(seq, &item), 2);
        }
        return out.finish();
    }
    let scale = columns as f64 / (range.end - range.start) as f64;
    let last_column = columns - 1;
    let mut current: Option<(usize, Column)> = None;
    // Points still allowed in the current column; a gap inside a column spends from it too,
    // which keeps the two-per-column bound even when a column holds several segment ends.
    let mut budget = 2;
    for (seq, item) in items.enumerate() {
        let index = (((item.t - range.start).max(0) as f64 * scale) as usize).min(last_column);
        if let Some((at, col)) = current
            && at != index
        {
            out.column(col, budget);
            current = None;
            budget = 2;
        }
        if item.break_before {
            if let Some((_, col)) = current.take() {
                budget -= out.column(col, budget);
            }
            out.split();
        }
        match &mut current {
            Some((_, col)) => col.add(seq, &item),
            None => current = Some((index, Column::new(seq, &item))),
        }
    }
    if let Some((_, col)) = current {
        out.column(col, budget);
    }
    out.finish()
}
