//! What a rule is: which series it watches, the condition, how long it must hold, how bad it is
//! and what it proposes. Built-in rules come from [`super::defaults`]; a profile's `[[rules]]`
//! entries change, disable or add rules by id ([`RuleConfig`], merged by [`merge_rules`]).

use crate::model::endpoint::Area;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Above,
    Below,
}

impl Comparison {
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Above => value > threshold,
            Self::Below => value < threshold,
        }
    }

    /// Back on the good side by at least `margin`: what ends a firing alert (hysteresis).
    pub fn cleared(self, value: f64, threshold: f64, margin: f64) -> bool {
        match self {
            Self::Above => value <= threshold - margin,
            Self::Below => value >= threshold + margin,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::Below => "<",
        }
    }
}

/// How the samples over the rule's duration become one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The mean of every sample in the duration ("3 s on average for 1 hour").
    Avg,
    /// Every sample breaches (the worst-kept one decides), like Prometheus' `for:`.
    All,
    /// The newest sample (still never the first one after a gap).
    Last,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// What a firing rule proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalKind {
    /// More replicas of the workload: the HPA formula toward `target_percent`.
    ScaleUp,
    /// Fewer replicas, never below `min_replicas`, with the savings.
    ScaleDown,
    /// Workers to drain the queue in the profile's drain target.
    DrainQueue,
    /// Words only (the rule's `advice`): nothing to apply.
    Advice,
    /// A linked nginx upstream's drift in words (which upstream, how many replicas are not
    /// behind it, how many listed servers have no replica) and what fixes it: nothing to apply.
    LoadBalancer,
}

/// Which series a rule watches: one metric of every target that matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// Series metric name, e.g. `cpu_percent`, `depth`, `latency_ms`.
    pub metric: String,
    /// Only targets of endpoints in this area (workloads, databases, …); `None` = any.
    pub area: Option<Area>,
    /// Glob over the series target (`*` matches any run of characters); `*` = all.
    pub target: String,
}

impl Selector {
    pub fn matches_target(&self, target: &str) -> bool {
        glob_match(&self.target, target)
    }
}

/// A rule, as evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    /// One line for lists and notifications, e.g. "CPU above 80 % for 30 min".
    pub title: String,
    pub enabled: bool,
    pub selector: Selector,
    /// A PromQL expression that `scaleboard advise` runs as a range query over the duration
    /// instead of sampling (each returned series is judged like a sampled one).
    pub query: Option<String>,
    pub comparison: Comparison,
    pub threshold: f64,
    pub duration_secs: u64,
    pub aggregation: Aggregation,
    pub severity: Severity,
    pub propose: ProposalKind,
    /// Words shown with the alert (and the whole proposal for [`ProposalKind::Advice`]).
    pub advice: String,
    /// Replica bounds and target load for scale proposals.
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_percent: f64,
    /// A firing alert resolves only once the value is back past the threshold by this share of
    /// it (percent), so a value hovering at the threshold does not flap.
    pub hysteresis_percent: f64,
    /// Where it came from: "built-in (…)" or "profile".
    pub source: String,
}

impl Rule {
    pub fn hysteresis_margin(&self) -> f64 {
        self.threshold.abs() * self.hysteresis_percent / 100.0
    }

    pub fn duration_ms(&self) -> i64 {
        i64::try_from(self.duration_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// "cpu_percent > 80 (avg over 30 min)".
    pub fn condition(&self) -> String {
        let over = match self.aggregation {
            Aggregation::Avg => format!("avg over {}", duration_words(self.duration_secs)),
            Aggregation::All => format!("for {}", duration_words(self.duration_secs)),
            Aggregation::Last => "last sample".to_string(),
        };
        format!(
            "{} {} {} ({over})",
            self.selector.metric,
            self.comparison.symbol(),
            trim_number(self.threshold)
        )
    }
}

/// "30 min", "1 h", "45 s".
pub fn duration_words(secs: u64) -> String {
    if secs == 0 {
        "0 s".into()
    } else if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// 80 → "80", 2.5 → "2.5".
pub fn trim_number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// A profile's `[[rules]]` entry: the id of a built-in rule to change (only the keys given
/// change it), or a new rule (then `metric` and `threshold` are required).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleConfig {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// `workloads`, `databases`, `cache`, `queues` or `health`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<Aggregation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propose: Option<ProposalKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hysteresis_percent: Option<f64>,
}

/// The name of the Prometheus query that serves a rule with a `query`.
pub fn query_name(rule_id: &str) -> String {
    format!("advisor-{rule_id}")
}

/// The profile as connected: every enabled rule with a `query` becomes a query of its
/// Prometheus endpoint, with enough history loaded to cover the rule's duration at once.
pub fn with_rule_queries(
    profile: &crate::profiles::Profile,
    rules: &[Rule],
) -> crate::profiles::Profile {
    let mut p = profile.clone();
    if let Some(prom) = p.prometheus.as_mut() {
        for r in rules.iter().filter(|r| r.enabled) {
            if let Some(expr) = &r.query {
                let name = query_name(&r.id);
                if prom.queries.iter().all(|q| q.name != name) {
                    prom.queries.push(crate::profiles::model::PromQuery {
                        name,
                        expr: expr.clone(),
                        unit: String::new(),
                    });
                }
                let secs = u32::try_from(r.duration_secs.saturating_add(60)).unwrap_or(u32::MAX);
                prom.history_secs = prom.history_secs.max(secs);
            }
        }
    }
    p
}

/// The advisor's profile settings (`[advisor]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdvisorSettings {
    /// A desktop notification when a rule fires while the window is not focused.
    pub notifications: bool,
}

impl Default for AdvisorSettings {
    fn default() -> Self {
        Self {
            notifications: true,
        }
    }
}

pub fn parse_area(s: &str) -> Option<Area> {
    match s {
        "workloads" => Some(Area::Workloads),
        "databases" => Some(Area::Databases),
        "cache" => Some(Area::Cache),
        "queues" => Some(Area::Queues),
        "health" => Some(Area::Health),
        _ => None,
    }
}

pub const AREA_NAMES: [&str; 5] = ["workloads", "databases", "cache", "queues", "health"];

/// Problems with a profile's rules, each in words naming the rule (for validation).
pub fn rule_config_problems(configs: &[RuleConfig], builtin: &[Rule]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        if c.id.trim().is_empty() {
            out.push((i, "a rule needs an id".to_string()));
            continue;
        }
        if seen.contains(&c.id.as_str()) {
            out.push((i, format!("rule \"{}\" appears twice", c.id)));
        }
        seen.push(&c.id);
        let is_builtin = builtin.iter().any(|r| r.id == c.id);
        if !is_builtin && (c.metric.is_none() || c.threshold.is_none()) {
            let known: Vec<&str> = builtin.iter().map(|r| r.id.as_str()).collect();
            let hint = crate::profiles::schema::suggest(&c.id, &known)
                .map(|k| format!(" (did you mean the built-in rule \"{k}\"?)"))
                .unwrap_or_default();
            out.push((
                i,
                format!(
                    "rule \"{}\" is not a built-in rule, so it needs `metric` and `threshold`{hint}",
                    c.id
                ),
            ));
        }
        if let Some(a) = &c.area
            && parse_area(a).is_none()
        {
            let hint = crate::profiles::schema::suggest(a, &AREA_NAMES)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            out.push((
                i,
                format!(
                    "rule \"{}\": area \"{a}\" is not one of {}{hint}",
                    c.id,
                    AREA_NAMES.join(", ")
                ),
            ));
        }
        // What the merged rule will be: the profile's value, else the built-in's, else a new
        // rule's default (`last`, 0 s).
        let base = builtin.iter().find(|r| r.id == c.id);
        let aggregation = c
            .aggregation
            .or(base.map(|r| r.aggregation))
            .unwrap_or(Aggregation::Last);
        let duration = c
            .duration_secs
            .or(base.map(|r| r.duration_secs))
            .unwrap_or(0);
        if aggregation == Aggregation::Last && duration > 0 {
            out.push((
                i,
                format!(
                    "rule \"{}\": `last` judges one sample: use `all` or `avg` with a duration, \
                     or duration_secs = 0",
                    c.id
                ),
            ));
        }
        if c.threshold.is_some_and(|t| !t.is_finite()) {
            out.push((i, format!("rule \"{}\": threshold must be a number", c.id)));
        }
        if let (Some(lo), Some(hi)) = (c.min_replicas, c.max_replicas)
            && lo > hi
        {
            out.push((
                i,
                format!(
                    "rule \"{}\": min_replicas {lo} is above max_replicas {hi}",
                    c.id
                ),
            ));
        }
        if c.target_percent
            .is_some_and(|t| !(t > 0.0 && t.is_finite()))
        {
            out.push((
                i,
                format!("rule \"{}\": target_percent must be above 0", c.id),
            ));
        }
        if c.hysteresis_percent
            .is_some_and(|h| !(0.0..=50.0).contains(&h))
        {
            out.push((
                i,
                format!("rule \"{}\": hysteresis_percent must be 0 to 50", c.id),
            ));
        }
    }
    out
}

/// The built-in rules with a profile's changes applied; new rules follow the built-in ones.
/// Entries that cannot make a rule (see [`rule_config_problems`]) are skipped.
pub fn merge_rules(builtin: Vec<Rule>, configs: &[RuleConfig]) -> Vec<Rule> {
    let mut rules = builtin;
    for c in configs {
        if c.id.trim().is_empty() {
            continue;
        }
        if let Some(rule) = rules.iter_mut().find(|r| r.id == c.id) {
            apply(rule, c);
            rule.source = format!("{} (changed by the profile)", rule.source);
        } else if let (Some(metric), Some(threshold)) = (&c.metric, c.threshold) {
            let mut rule = Rule {
                id: c.id.clone(),
                title: String::new(),
                enabled: true,
                selector: Selector {
                    metric: metric.clone(),
                    area: None,
                    target: "*".into(),
                },
                query: None,
                comparison: Comparison::Above,
                threshold,
                duration_secs: 0,
                aggregation: Aggregation::Last,
                severity: Severity::Warning,
                propose: ProposalKind::Advice,
                advice: String::new(),
                min_replicas: 1,
                max_replicas: 10,
                target_percent: 70.0,
                hysteresis_percent: 5.0,
                source: "profile".into(),
            };
            apply(&mut rule, c);
            if rule.title.is_empty() {
                rule.title = format!("{} ({})", rule.id, rule.condition());
            }
            rules.push(rule);
        }
    }
    rules
}

fn apply(rule: &mut Rule, c: &RuleConfig) {
    if let Some(v) = &c.title {
        rule.title.clone_from(v);
    }
    if let Some(v) = c.enabled {
        rule.enabled = v;
    }
    if let Some(v) = &c.metric {
        rule.selector.metric.clone_from(v);
    }
    if let Some(a) = c.area.as_deref().and_then(parse_area) {
        rule.selector.area = Some(a);
    }
    if let Some(v) = &c.target {
        rule.selector.target.clone_from(v);
    }
    if let Some(v) = &c.query {
        rule.query = Some(v.clone());
        // Its series come from the profile's Prometheus server, one per returned label set.
        rule.selector = Selector {
            metric: crate::connectors::prometheus::VALUE_METRIC.into(),
            area: None,
            target: format!(
                "{}/{}/*",
                crate::connectors::prometheus::PROMETHEUS_ENDPOINT_ID,
                query_name(&rule.id)
            ),
        };
    }
    if let Some(v) = c.comparison {
        rule.comparison = v;
    }
    if let Some(v) = c.threshold.filter(|t| t.is_finite()) {
        rule.threshold = v;
    }
    if let Some(v) = c.duration_secs {
        rule.duration_secs = v;
    }
    if let Some(v) = c.aggregation {
        rule.aggregation = v;
    }
    if let Some(v) = c.severity {
        rule.severity = v;
    }
    if let Some(v) = c.propose {
        rule.propose = v;
    }
    if let Some(v) = &c.advice {
        rule.advice.clone_from(v);
    }
    if let Some(v) = c.min_replicas {
        rule.min_replicas = v;
    }
    if let Some(v) = c.max_replicas {
        rule.max_replicas = v.max(rule.min_replicas);
    }
    if let Some(v) = c.target_percent.filter(|t| *t > 0.0) {
        rule.target_percent = v;
    }
    if let Some(v) = c.hysteresis_percent {
        rule.hysteresis_percent = v.clamp(0.0, 50.0);
    }
}
