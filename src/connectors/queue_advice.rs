//! What a queue's numbers mean for its workers, in words: whether the backlog drains or grows,
//! and how many workers would drain it in the profile's target time. Pure functions, so the
//! panels and tests share one reading.

use crate::model::snapshot::Queue;

/// Backlog shrink rate in jobs per second (out minus in; negative while it grows), from measured
/// in/out rates or, when only the depth is known, from how the depth moved.
pub fn net_drain_per_sec(q: &Queue) -> Option<f64> {
    match (q.in_per_sec, q.out_per_sec) {
        (Some(i), Some(o)) => Some(o - i),
        _ => q.growth_per_sec.map(|g| -g),
    }
}

/// "at the current consume rate the backlog drains in 14 min" or
/// "grows by 120/min: workers are not keeping up".
pub fn drain_estimate(q: &Queue) -> String {
    if let Some(e) = &q.error {
        return format!("unknown: {e}");
    }
    if q.depth == 0 {
        return "empty".into();
    }
    let Some(net) = net_drain_per_sec(q) else {
        return "measuring (needs two polls)".into();
    };
    if net > 0.01 {
        format!(
            "at the current consume rate the backlog drains in {}",
            duration_words(q.depth as f64 / net)
        )
    } else if net < -0.01 {
        format!(
            "grows by {:.0}/min: workers are not keeping up",
            -net * 60.0
        )
    } else {
        "steady: as many jobs arrive as finish, the backlog does not shrink".into()
    }
}

/// "45 s", "14 min", "2.5 h".
pub fn duration_words(secs: f64) -> String {
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else if secs < 90.0 * 60.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// What the advice is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct AdviceInput {
    pub depth: u64,
    pub in_per_sec: Option<f64>,
    pub out_per_sec: Option<f64>,
    pub growth_per_sec: Option<f64>,
    /// Workers consuming now (ready replicas of the linked workload, or consumers).
    pub workers: u32,
    /// Throughput of one worker from the profile, used when it cannot be measured.
    pub configured_per_worker: Option<f64>,
    pub target_drain_secs: f64,
}

impl AdviceInput {
    pub fn from_queue(q: &Queue, workers: u32, target_drain_secs: f64) -> Self {
        Self {
            depth: q.depth,
            in_per_sec: q.in_per_sec,
            out_per_sec: q.out_per_sec,
            growth_per_sec: q.growth_per_sec,
            workers,
            configured_per_worker: q.jobs_per_worker_per_sec,
            target_drain_secs,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Advice {
    /// The current workers drain the backlog within the target (`needed` would be enough).
    Enough { workers: u32, needed: u32 },
    /// Scale the workers from `from` to `to` to drain within the target.
    Scale {
        from: u32,
        to: u32,
        per_worker_per_sec: f64,
        target_drain_secs: f64,
    },
    /// Not enough is known; the reason in words.
    Unknown(String),
}

/// Upper bound for a proposal, so a broken measurement never proposes thousands of workers.
pub const MAX_ADVISED_WORKERS: u32 = 500;

/// Workers needed to take in what arrives and clear the backlog within the target drain time,
/// from measured per-worker throughput (out rate / workers) or the configured one.
pub fn worker_advice(input: &AdviceInput) -> Advice {
    let measured = match input.out_per_sec {
        Some(out) if input.workers > 0 && out > 1e-6 => Some(out / f64::from(input.workers)),
        _ => None,
    };
    let Some(per_worker) = measured.or(input.configured_per_worker.filter(|r| *r > 0.0)) else {
        return Advice::Unknown(if input.workers == 0 {
            "no worker is consuming, so per-worker throughput is unknown: set jobs_per_worker_per_sec in the profile".into()
        } else if input.out_per_sec.is_some() {
            "the workers finish no jobs: look at them before adding more".into()
        } else {
            "this source cannot measure finished jobs: set jobs_per_worker_per_sec in the profile"
                .into()
        });
    };
    let current_out = input
        .out_per_sec
        .unwrap_or(per_worker * f64::from(input.workers));
    let inflow = match (input.in_per_sec, input.growth_per_sec) {
        (Some(i), _) => i,
        (None, Some(g)) => (g + current_out).max(0.0),
        (None, None) => return Advice::Unknown("measuring (needs two polls)".into()),
    };
    let target = input.target_drain_secs.max(1.0);
    let required = inflow + input.depth as f64 / target;
    let needed = (required / per_worker - 1e-9).ceil().max(0.0);
    let needed = if needed > f64::from(MAX_ADVISED_WORKERS) {
        MAX_ADVISED_WORKERS
    } else {
        needed as u32
    };
    let needed = if input.depth > 0 || inflow > 0.0 {
        needed.max(1)
    } else {
        needed
    };
    if needed > input.workers {
        Advice::Scale {
            from: input.workers,
            to: needed,
            per_worker_per_sec: per_worker,
            target_drain_secs: target,
        }
    } else {
        Advice::Enough {
            workers: input.workers,
            needed,
        }
    }
}

impl Advice {
    /// "scale workers from 3 to 7 to drain in 10 min".
    pub fn words(&self) -> String {
        match self {
            Self::Enough { workers, needed } => format!(
                "{workers} worker{} keep{} up ({needed} would be enough)",
                if *workers == 1 { "" } else { "s" },
                if *workers == 1 { "s" } else { "" }
            ),
            Self::Scale {
                from,
                to,
                target_drain_secs,
                ..
            } => format!(
                "scale workers from {from} to {to} to drain in {}",
                duration_words(*target_drain_secs)
            ),
            Self::Unknown(reason) => reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(depth: u64, inp: f64, out: f64) -> Queue {
        Queue {
            consumers: Some(1),
            in_per_sec: Some(inp),
            out_per_sec: Some(out),
            ..Queue::new("q", "s", depth)
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
        let mut only_depth = Queue::new("q", "s", 100);
        assert_eq!(drain_estimate(&only_depth), "measuring (needs two polls)");
        only_depth.growth_per_sec = Some(-2.0);
        assert_eq!(
            drain_estimate(&only_depth),
            "at the current consume rate the backlog drains in 50 s"
        );
    }

    fn input(depth: u64, inp: Option<f64>, out: Option<f64>, workers: u32) -> AdviceInput {
        AdviceInput {
            depth,
            in_per_sec: inp,
            out_per_sec: out,
            growth_per_sec: None,
            workers,
            configured_per_worker: None,
            target_drain_secs: 600.0,
        }
    }

    #[test]
    fn advice_from_measured_throughput() {
        // 3 workers finish 3/s (1/s each); 2/s arrive; 2400 waiting: 2 + 2400/600 = 6/s → 6.
        let a = worker_advice(&input(2400, Some(2.0), Some(3.0), 3));
        assert_eq!(
            a,
            Advice::Scale {
                from: 3,
                to: 6,
                per_worker_per_sec: 1.0,
                target_drain_secs: 600.0
            }
        );
        assert_eq!(a.words(), "scale workers from 3 to 6 to drain in 10 min");
        // Exact fits do not round up.
        let a = worker_advice(&input(600, Some(2.0), Some(3.0), 3));
        assert_eq!(
            a,
            Advice::Enough {
                workers: 3,
                needed: 3
            }
        );
        assert_eq!(a.words(), "3 workers keep up (3 would be enough)");
    }

    #[test]
    fn advice_with_configured_throughput_and_depth_only() {
        let mut i = input(1200, None, None, 2);
        i.growth_per_sec = Some(1.0);
        assert!(matches!(worker_advice(&i), Advice::Unknown(_)));
        i.configured_per_worker = Some(0.5);
        // out ≈ 2 × 0.5 = 1/s, in ≈ 1 + 1 = 2/s, need 2 + 1200/600 = 4/s → 8 workers.
        assert_eq!(
            worker_advice(&i),
            Advice::Scale {
                from: 2,
                to: 8,
                per_worker_per_sec: 0.5,
                target_drain_secs: 600.0
            }
        );
    }

    #[test]
    fn advice_without_workers_or_progress() {
        let a = worker_advice(&input(100, Some(1.0), Some(0.0), 0));
        assert!(a.words().contains("jobs_per_worker_per_sec"), "{a:?}");
        let a = worker_advice(&input(100, Some(1.0), Some(0.0), 4));
        assert!(a.words().contains("finish no jobs"), "{a:?}");
        let mut i = input(100, Some(1.0), Some(0.0), 0);
        i.configured_per_worker = Some(1.0);
        assert_eq!(
            worker_advice(&i),
            Advice::Scale {
                from: 0,
                to: 2,
                per_worker_per_sec: 1.0,
                target_drain_secs: 600.0
            }
        );
        // Huge backlogs are capped.
        let a = worker_advice(&input(100_000_000, Some(1.0), Some(1.0), 1));
        assert!(matches!(
            a,
            Advice::Scale {
                to: MAX_ADVISED_WORKERS,
                ..
            }
        ));
    }
}
