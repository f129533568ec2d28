//! The cost model: lines grouped by component, scenarios (growth phases) with an expected MRR,
//! and the assumptions (currency, hours per month, target share of MRR, prices' date).
//!
//! Quantities and unit prices are decimals; what a line costs per month is rounded once to the
//! currency's minor unit (see [`super::money`]). Totals are integer sums of those.

use super::live::LivePricing;
use super::money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Hours in an average month (365 × 24 / 12), the usual cloud-billing assumption.
pub const DEFAULT_HOURS_PER_MONTH: i64 = 730;
/// Infrastructure should stay under this share of monthly recurring revenue.
pub const DEFAULT_TARGET_PERCENT_OF_MRR: i64 = 20;

/// What a cost line is for. The five named ones come first in every table and chart, in this
/// order; any other name is a custom component, kept in the order it first appears.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Component {
    Servers,
    Database,
    Storage,
    Cdn,
    Monitoring,
    Cache,
    Custom(String),
}

impl Component {
    pub const BUILT_IN: [Self; 6] = [
        Self::Servers,
        Self::Database,
        Self::Storage,
        Self::Cdn,
        Self::Monitoring,
        Self::Cache,
    ];

    /// The name stored in files and reports: `servers`, `cdn`, or the custom name.
    pub fn key(&self) -> &str {
        match self {
            Self::Servers => "servers",
            Self::Database => "database",
            Self::Storage => "storage",
            Self::Cdn => "cdn",
            Self::Monitoring => "monitoring",
            Self::Cache => "cache",
            Self::Custom(name) => name,
        }
    }

    /// For people: `Servers`, `CDN`, the custom name as written.
    pub fn label(&self) -> &str {
        match self {
            Self::Servers => "Servers",
            Self::Database => "Database",
            Self::Storage => "Storage",
            Self::Cdn => "CDN",
            Self::Monitoring => "Monitoring",
            Self::Cache => "Cache",
            Self::Custom(name) => name,
        }
    }
}

impl From<String> for Component {
    fn from(s: String) -> Self {
        let lower = s.trim().to_ascii_lowercase();
        Self::BUILT_IN
            .into_iter()
            .find(|c| c.key() == lower || c.label().to_ascii_lowercase() == lower)
            .unwrap_or(Self::Custom(s))
    }
}

impl From<Component> for String {
    fn from(c: Component) -> Self {
        c.key().to_owned()
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What one unit of a line's quantity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A flat monthly price (a plan, a subscription).
    PerMonth,
    /// Per instance and hour; a month is the model's `hours_per_month` (730 by default).
    PerInstanceHour,
    /// Per gigabyte stored for a month.
    PerGbMonth,
    /// Per replica (container, pod) running for a month.
    PerReplicaMonth,
}

impl Unit {
    pub const ALL: [Self; 4] = [
        Self::PerMonth,
        Self::PerInstanceHour,
        Self::PerGbMonth,
        Self::PerReplicaMonth,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::PerMonth => "per_month",
            Self::PerInstanceHour => "per_instance_hour",
            Self::PerGbMonth => "per_gb_month",
            Self::PerReplicaMonth => "per_replica_month",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::PerMonth => "per month",
            Self::PerInstanceHour => "per instance-hour",
            Self::PerGbMonth => "per GB-month",
            Self::PerReplicaMonth => "per replica-month",
        }
    }
}

/// One priced item of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostLine {
    pub component: Component,
    #[serde(default)]
    pub description: String,
    pub quantity: Decimal,
    /// In the model's currency, major units (dollars), any precision.
    pub price_per_unit: Decimal,
    pub unit: Unit,
}

impl CostLine {
    pub fn monthly(component: Component, description: &str, price_per_month: i64) -> Self {
        Self {
            component,
            description: description.to_owned(),
            quantity: Decimal::ONE,
            price_per_unit: Decimal::from(price_per_month),
            unit: Unit::PerMonth,
        }
    }

    /// Exact monthly cost in major units, before rounding; `None` on overflow.
    pub fn monthly_cost_exact(&self, hours_per_month: Decimal) -> Option<Decimal> {
        let base = self.quantity.checked_mul(self.price_per_unit)?;
        match self.unit {
            Unit::PerInstanceHour => base.checked_mul(hours_per_month),
            Unit::PerMonth | Unit::PerGbMonth | Unit::PerReplicaMonth => Some(base),
        }
    }
}

/// A growth phase (or the current state): its lines and the MRR expected then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// Expected monthly recurring revenue, major units; `None` when not stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrr_per_month: Option<Decimal>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(default, rename = "line")]
    pub lines: Vec<CostLine>,
}

/// A whole calculator: the scenarios and the assumptions they share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    pub name: String,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    pub hours_per_month: Decimal,
    pub target_percent_of_mrr: Decimal,
    /// When the prices were looked up, as written by the user (e.g. `2025-06-01`).
    #[serde(default)]
    pub prices_as_of: String,
    #[serde(default, rename = "scenario")]
    pub scenarios: Vec<Scenario>,
    #[serde(default)]
    pub live_pricing: LivePricing,
}

/// A reason a model cannot be saved or reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelProblem(pub String);

impl std::fmt::Display for ModelProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl CostModel {
    /// An empty model with the default assumptions.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            currency: "USD".to_owned(),
            hours_per_month: Decimal::from(DEFAULT_HOURS_PER_MONTH),
            target_percent_of_mrr: Decimal::from(DEFAULT_TARGET_PERCENT_OF_MRR),
            prices_as_of: String::new(),
            scenarios: Vec::new(),
            live_pricing: LivePricing::default(),
        }
    }

    /// A line's monthly cost in minor units (rounded half away from zero). Saturates on overflow;
    /// [`CostModel::problems`] reports such a line.
    pub fn line_monthly_minor(&self, line: &CostLine) -> i64 {
        line.monthly_cost_exact(self.hours_per_month)
            .and_then(|d| money::to_minor(d, &self.currency))
            .unwrap_or(i64::MAX)
    }

    /// What `count` more nodes of `cluster` cost per month, minor units (rounded once, like a
    /// line).
    pub fn nodes_monthly_minor(&self, cluster: &str, count: u64) -> i64 {
        self.line_monthly_minor(&self.live_pricing.nodes_line(cluster, count))
    }

    /// The scenario's total per month, minor units.
    pub fn scenario_total_minor(&self, scenario: &Scenario) -> i64 {
        scenario.lines.iter().fold(0_i64, |acc, l| {
            acc.saturating_add(self.line_monthly_minor(l))
        })
    }

    /// Every component used by any scenario: built-in ones in their fixed order, then custom
    /// ones in order of first appearance.
    pub fn components(&self) -> Vec<Component> {
        let mut out: Vec<Component> = Component::BUILT_IN
            .into_iter()
            .filter(|c| self.lines().any(|l| &l.component == c))
            .collect();
        for line in self.lines() {
            if matches!(line.component, Component::Custom(_)) && !out.contains(&line.component) {
                out.push(line.component.clone());
            }
        }
        out
    }

    fn lines(&self) -> impl Iterator<Item = &CostLine> {
        self.scenarios.iter().flat_map(|s| s.lines.iter())
    }

    /// Everything wrong with the model, in plain words; empty when it can be saved.
    pub fn problems(&self) -> Vec<ModelProblem> {
        let mut out = Vec::new();
        let mut p = |s: String| out.push(ModelProblem(s));
        if self.name.trim().is_empty() {
            p("the model needs a name".into());
        }
        if !money::is_currency_code(&self.currency) {
            p(format!(
                "\"{}\" is not a three-letter currency code (ISO 4217, e.g. USD)",
                self.currency
            ));
        }
        if self.hours_per_month <= Decimal::ZERO || self.hours_per_month > Decimal::from(744) {
            p(format!(
                "hours per month must be above 0 and at most 744 (31 days), not {}",
                self.hours_per_month
            ));
        }
        if self.target_percent_of_mrr <= Decimal::ZERO {
            p("the target share of MRR must be above 0 %".into());
        }
        for s in &self.scenarios {
            if s.name.trim().is_empty() {
                p("every scenario needs a name".into());
            }
            if s.mrr_per_month.is_some_and(|m| m <= Decimal::ZERO) {
                p(format!("scenario \"{}\": MRR must be above 0", s.name));
            }
            for (i, l) in s.lines.iter().enumerate() {
                if l.quantity < Decimal::ZERO || l.price_per_unit < Decimal::ZERO {
                    p(format!(
                        "scenario \"{}\", line {}: quantity and price cannot be negative",
                        s.name,
                        i + 1
                    ));
                }
                if l.monthly_cost_exact(self.hours_per_month)
                    .and_then(|d| money::to_minor(d, &self.currency))
                    .is_none()
                {
                    p(format!(
                        "scenario \"{}\", line {}: the amount is too large",
                        s.name,
                        i + 1
                    ));
                }
            }
        }
        let pricing = &self.live_pricing;
        let node_prices = std::iter::once(("default", &pricing.node)).chain(
            pricing
                .node_overrides
                .iter()
                .map(|o| (o.cluster.as_str(), &o.price)),
        );
        for (cluster, price) in node_prices {
            if price.price_per_unit < Decimal::ZERO {
                p(format!(
                    "the node price of {cluster} cannot be negative ({})",
                    price.price_per_unit
                ));
            }
        }
        let mut names: Vec<&str> = self.scenarios.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            p(format!("two scenarios are named \"{}\"", w[0]));
        }
        out
    }
}
