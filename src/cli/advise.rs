//! `scaleboard advise`: the advisor's rules judged once, for cron and scripts. Series come from
//! sampling every endpoint for up to a window (the demo and Prometheus hand over their history
//! with the first poll, so those rules are judged at once, without waiting for the window). Exit
//! code 0 = nothing firing, 1 = warnings, 2 = critical — a drop-in for the guides' alert scripts —
//! and 3 = unknown: nothing fires but a rule could not be judged because an endpoint it watches
//! was down or never answered ("nothing firing" would be a lie then).

use crate::advisor::fit_advice::{FitAdvice, index_capacity};
use crate::advisor::recommend::{CostContext, Facts, index_workloads, propose};
use crate::advisor::rules::{merge_rules, with_rule_queries};
use crate::advisor::{Advisor, AlertState, Severity, default_rules};
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use crate::model::clock::SystemClock;
use crate::model::endpoint::Area;
use crate::model::snapshot::{Queue, Snapshot, Workload};
use crate::profiles::{AppDirs, Profile};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, serde::Serialize)]
pub struct AlertReport {
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub state: String,
    pub target: String,
    pub value: f64,
    pub condition: String,
    pub proposal: String,
    /// The equivalent action, when the proposal has one (apply it in the window or with
    /// `scaleboard scale`).
    pub action: Option<String>,
    pub cost_change_minor: Option<i64>,
    /// For a scale up: whether it fits, and the nodes (count, size, monthly cost) it would
    /// take when it does not.
    pub fit: Option<FitAdvice>,
}

#[derive(Debug, serde::Serialize)]
pub struct Unjudged {
    pub rule: String,
    pub reason: String,
}

/// An endpoint whose series could not be judged: down, or no answer within the window.
#[derive(Debug, serde::Serialize)]
pub struct EndpointNotJudged {
    pub endpoint: String,
    pub reason: String,
}

#[derive(Debug, serde::Serialize)]
pub struct AdviseReport {
    pub profile: String,
    /// The --window asked for.
    pub window_secs: u64,
    /// How long it sampled: less than the window where the series came with their history.
    pub sampled_secs: u64,
    pub firing: Vec<AlertReport>,
    pub pending: Vec<AlertReport>,
    pub not_judged: Vec<Unjudged>,
    pub endpoints_not_judged: Vec<EndpointNotJudged>,
    pub exit_code: u8,
}

/// Exit code when nothing fires but a rule could not be judged on a down endpoint.
pub use crate::health::EXIT_UNKNOWN;

/// What the session heard from one endpoint.
#[derive(Debug, Clone)]
struct Heard {
    area: Area,
    answered: bool,
    /// Snapshots received.
    polls: u32,
    /// Set while its last poll failed (cleared by the next snapshot).
    down: Option<String>,
}

/// "5m", "30s", "1h", "90" (seconds).
pub fn parse_window(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("--window \"{s}\": expected e.g. 30s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => anyhow::bail!("--window \"{s}\": the unit must be s, m or h"),
    };
    Ok(Duration::from_secs(secs.max(1)))
}

/// How often sampling says on stderr how long it still takes.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Judges the rules of `profile` once every series they watch has samples over `window` (or
/// over the rule's duration when shorter): at once where the endpoints hand over their history
/// (the demo, Prometheus), else after sampling for up to `window`, telling on stderr how long
/// is left every [`PROGRESS_EVERY`].
pub fn advise(dirs: &AppDirs, profile: Profile, window: Duration) -> anyhow::Result<AdviseReport> {
    let mut session = Session::start(dirs, profile)?;
    let sampled = session.sample_until_judged(window, |left| {
        // A closed stderr must not end the command (eprintln! would panic).
        let _ = writeln!(std::io::stderr(), "{}", progress_line(window, left));
    });
    let mut report = session.report(window);
    report.sampled_secs = sampled.as_secs();
    Ok(report)
}

/// "sampling 5 min: 1:20 left…"
pub fn progress_line(window: Duration, left: Duration) -> String {
    let secs = window.as_secs();
    let total = if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    };
    let left = left.as_secs();
    format!(
        "sampling {total} (no history to judge the rules on yet): {}:{:02} left…",
        left / 60,
        left % 60
    )
}

/// A connected profile whose samples feed the advisor (also what tests drive step by step).
pub struct Session {
    engine: EngineHandle,
    profile: Profile,
    pub advisor: Advisor,
    snapshots: BTreeMap<String, Snapshot>,
    heard: BTreeMap<String, Heard>,
    /// Prices proposals: [`crate::cost::store::advisor_model`] (the first saved model, else the
    /// seeds' template).
    cost_model: crate::cost::CostModel,
    /// The linked nginx upstreams as last read, and how many reads came (the drift rule needs
    /// two, like any series).
    load_balancers: Vec<crate::connectors::nginx::status::LinkReport>,
    lb_reads: u32,
}

impl Session {
    pub fn start(dirs: &AppDirs, profile: Profile) -> anyhow::Result<Self> {
        let rules = merge_rules(default_rules(), &profile.rules);
        let advisor = Advisor::new(rules.clone());
        let connected = with_rule_queries(&profile, &rules);
        let config = EngineConfig::new(
            Arc::new(SystemClock),
            dirs.config_dir.clone(),
            dirs.data_dir.clone(),
        );
        let engine = EngineHandle::start(config, Arc::new(|| {}))?;
        engine.send(Command::Connect(Box::new(ConnectRequest {
            profile: connected,
            demo_seed: 42,
        })))?;
        let store = crate::cost::CostModelStore::load(&dirs.config_dir);
        let cost_model = crate::cost::store::advisor_model(store.saved(), None);
        Ok(Self {
            engine,
            profile,
            advisor,
            snapshots: BTreeMap::new(),
            heard: BTreeMap::new(),
            cost_model,
            load_balancers: Vec::new(),
            lb_reads: 0,
        })
    }

    /// Takes in what the endpoints report until every rule's series are covered over `window`
    /// (see [`Advisor::covers`]) after every endpoint answered twice (a rate needs two polls), or
    /// until `window` has passed. `progress` hears the time left every [`PROGRESS_EVERY`].
    /// Returns how long it sampled.
    pub fn sample_until_judged(
        &mut self,
        window: Duration,
        mut progress: impl FnMut(Duration),
    ) -> Duration {
        let started = Instant::now();
        let deadline = started + window;
        let mut next_progress = started + PROGRESS_EVERY;
        let span_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if self.answered_twice() && self.advisor.covers(span_ms) {
                break;
            }
            if now >= next_progress {
                progress(deadline - now);
                next_progress = now + PROGRESS_EVERY;
            }
            let wait = deadline.min(next_progress).saturating_duration_since(now);
            if let Some(event) = self.engine.recv_timeout(wait) {
                self.take(event);
            }
        }
        started.elapsed()
    }

    /// Every endpoint reported at least two snapshots (none is down or silent), and a profile
    /// with nginx links had its upstreams read twice.
    fn answered_twice(&self) -> bool {
        (self.profile.nginx.is_empty() || self.lb_reads >= 2)
            && !self.heard.is_empty()
            && self
                .heard
                .values()
                .all(|h| h.polls >= 2 && h.down.is_none())
    }

    /// Takes in what the endpoints report for `window`.
    pub fn sample_for(&mut self, window: Duration) {
        let deadline = Instant::now() + window;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(event) = self.engine.recv_timeout(left) {
                self.take(event);
            }
        }
    }

    fn take(&mut self, event: Event) {
        match event {
            Event::Endpoints(infos) => {
                let heard = std::mem::take(&mut self.heard);
                self.heard = infos
                    .iter()
                    .map(|i| {
                        let h = heard.get(&i.id).cloned().unwrap_or(Heard {
                            area: i.area,
                            answered: false,
                            polls: 0,
                            down: None,
                        });
                        (i.id.clone(), h)
                    })
                    .collect();
                self.advisor
                    .set_endpoints(infos.into_iter().map(|i| (i.id, i.area)));
            }
            Event::Snapshot {
                endpoint,
                at,
                snapshot,
                samples,
            } => {
                for s in &samples {
                    self.advisor
                        .observe(&s.target, s.metric, s.at.unwrap_or(at), s.value);
                }
                if let Some(h) = self.heard.get_mut(&endpoint) {
                    h.answered = true;
                    h.polls = h.polls.saturating_add(1);
                    h.down = None;
                }
                self.snapshots.insert(endpoint, snapshot);
            }
            Event::LoadBalancers(reports) => {
                let now = crate::model::clock::Clock::now_ms(&SystemClock);
                for (target, value) in crate::advisor::lb_drift::samples(&reports) {
                    self.advisor
                        .observe(&target, crate::advisor::lb_drift::METRIC, now, value);
                }
                self.lb_reads = self.lb_reads.saturating_add(1);
                self.load_balancers = reports;
            }
            Event::Status {
                endpoint,
                status:
                    status @ (crate::engine::ConnStatus::Stale | crate::engine::ConnStatus::Down),
                at,
                error,
            } => {
                self.advisor.gap(&endpoint, at);
                if let Some(h) = self.heard.get_mut(&endpoint) {
                    h.down = Some(
                        error
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_else(|| status.label().to_string()),
                    );
                }
                if let Some(e) = error {
                    eprintln!("{endpoint}: {e}");
                }
            }
            _ => {}
        }
    }

    pub fn report(&self, window: Duration) -> AdviseReport {
        report(
            &self.profile,
            window,
            &self.advisor,
            &self.snapshots,
            &self.heard,
            &self.cost_model,
            &self.load_balancers,
        )
    }
}

fn report(
    profile: &Profile,
    window: Duration,
    advisor: &Advisor,
    snapshots: &BTreeMap<String, Snapshot>,
    heard: &BTreeMap<String, Heard>,
    model: &crate::cost::CostModel,
    load_balancers: &[crate::connectors::nginx::status::LinkReport],
) -> AdviseReport {
    let workloads: Vec<&Workload> = snapshots
        .values()
        .filter_map(|s| match s {
            Snapshot::Workloads(list) => Some(list.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    let queues: Vec<(&str, &Queue)> = snapshots
        .iter()
        .filter_map(|(e, s)| match s {
            Snapshot::Queues(list) => Some(list.iter().map(move |q| (e.as_str(), q))),
            _ => None,
        })
        .flatten()
        .collect();
    let inventory = crate::cost::LiveInventory::from_snapshots(&profile.name, snapshots.values());
    let facts = Facts {
        workloads: index_workloads(workloads),
        queues: &queues,
        drain_target_secs: profile.thresholds.queue_drain_target_minutes * 60.0,
        cost: Some(CostContext::new(model, &inventory, None)),
        capacity: index_capacity(snapshots.iter().map(|(e, s)| (e.as_str(), s))),
        load_balancers,
    };
    let mut firing = Vec::new();
    let mut pending = Vec::new();
    for alert in advisor.book.sorted() {
        let Some(rule) = advisor.rule(&alert.rule_id) else {
            continue;
        };
        let p = propose(rule, alert, &facts);
        let row = AlertReport {
            rule: alert.rule_id.clone(),
            title: alert.title.clone(),
            severity: alert.severity.label().into(),
            state: alert.state.label().into(),
            target: alert.target.clone(),
            value: alert.value,
            condition: alert.condition.clone(),
            proposal: p.line.clone(),
            action: p
                .action
                .as_ref()
                .map(|a| format!("{} {}", a.kind(), a.target_path())),
            cost_change_minor: p.cost.as_ref().map(|c| c.delta_minor()),
            fit: p.fit.clone(),
        };
        match alert.state {
            AlertState::Firing => firing.push(row),
            _ => pending.push(row),
        }
    }
    let unjudged = advisor.unjudged();
    let silent: Vec<(&String, &Heard)> = heard
        .iter()
        .filter(|(_, h)| !h.answered || h.down.is_some())
        .collect();
    let endpoints_not_judged = silent
        .iter()
        .map(|(id, h)| EndpointNotJudged {
            endpoint: (*id).clone(),
            reason: match (&h.down, h.answered) {
                (Some(why), true) => format!("down at the end of the window: {why}"),
                (Some(why), false) => format!("down: {why}"),
                (None, _) => "never answered within the window".into(),
            },
        })
        .collect();
    // A rule not judged that could watch a silent endpoint: its verdict is unknown.
    let blind = unjudged.iter().any(|(rule, _)| {
        silent.iter().any(|(id, h)| {
            rule.selector.area.is_none_or(|a| a == h.area) && {
                let first = crate::advisor::endpoint_of(&rule.selector.target);
                first.contains('*') || first == id.as_str()
            }
        })
    });
    let not_judged = unjudged
        .into_iter()
        .map(|(r, reason)| Unjudged {
            rule: r.id.clone(),
            reason,
        })
        .collect();
    let worst = advisor.book.firing().map(|a| a.severity).max();
    AdviseReport {
        profile: profile.name.clone(),
        window_secs: window.as_secs(),
        sampled_secs: window.as_secs(),
        firing,
        pending,
        not_judged,
        endpoints_not_judged,
        exit_code: match worst {
            None if blind => EXIT_UNKNOWN,
            None => 0,
            Some(Severity::Warning) => 1,
            Some(Severity::Critical) => 2,
        },
    }
}

/// "300 s sampled", or "judged on the endpoints' history after 2 s" when it answered early.
fn sampled_words(report: &AdviseReport) -> String {
    if report.sampled_secs < report.window_secs {
        format!(
            "judged on the endpoints' history after {} s of the {} s window",
            report.sampled_secs, report.window_secs
        )
    } else {
        format!("{} s sampled", report.window_secs)
    }
}

pub fn print_advice(report: &AdviseReport, json: bool, mut out: impl Write) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    if report.exit_code == EXIT_UNKNOWN {
        writeln!(
            out,
            "UNKNOWN: no rule fires, but some could not be judged ({}).",
            sampled_words(report)
        )?;
    } else if report.firing.is_empty() {
        writeln!(out, "No rule is firing ({}).", sampled_words(report))?;
    }
    for (label, list) in [("FIRING", &report.firing), ("PENDING", &report.pending)] {
        for a in list {
            writeln!(
                out,
                "{label:<8} {:<8} {:<15} {}: {} ({})",
                a.severity,
                a.rule,
                a.target,
                crate::advisor::rules::trim_number(a.value),
                a.condition
            )?;
            writeln!(out, "         Recommendation: {}", a.proposal)?;
            if let Some(verdict) = a
                .fit
                .as_ref()
                .filter(|f| f.fits == Some(false))
                .and_then(|f| f.verdict.as_ref())
            {
                writeln!(out, "         Fit check: {verdict}")?;
            }
        }
    }
    for u in &report.not_judged {
        writeln!(out, "NOT JUDGED {}: {}", u.rule, u.reason)?;
    }
    for e in &report.endpoints_not_judged {
        writeln!(out, "NOT JUDGED endpoint {}: {}", e.endpoint, e.reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_says_the_window_and_the_time_left() {
        assert_eq!(
            progress_line(Duration::from_secs(300), Duration::from_secs(80)),
            "sampling 5 min (no history to judge the rules on yet): 1:20 left…"
        );
        assert_eq!(
            progress_line(Duration::from_secs(45), Duration::from_secs(5)),
            "sampling 45 s (no history to judge the rules on yet): 0:05 left…"
        );
        assert_eq!(
            progress_line(Duration::from_secs(7200), Duration::from_secs(3599)),
            "sampling 2 h (no history to judge the rules on yet): 59:59 left…"
        );
    }
}
