//! Exported cost reports. [`CostReport`] is the one assembled form every writer renders: the
//! JSON writer serialises it as is (schema: `docs/cost-report-schema.md` and
//! `docs/cost-report.schema.json`), CSV, HTML and PDF lay it out for spreadsheets and people.
//!
//! Every report states its assumptions (currency, hours per month, target, prices' date, data
//! source planned / live / what-if) and when it was made.

mod csv;
mod html;
mod json;
mod pdf;

use super::live::LiveInventory;
use super::model::{Component, CostModel, Scenario};
use super::money::{self, format_minor, plain_minor};
use super::totals::{self, ScenarioTotals};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

pub use self::csv::{CSV_HEADER, write_csv};
pub use self::html::write_html;
pub use self::json::write_json;
pub use self::pdf::write_pdf;

/// The JSON schema version; bumped on any change that is not a new optional field.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Csv,
    Json,
    Html,
    Pdf,
}

impl ReportFormat {
    pub const ALL: [Self; 4] = [Self::Csv, Self::Json, Self::Html, Self::Pdf];

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Json => "JSON",
            Self::Html => "HTML",
            Self::Pdf => "PDF",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(s))
    }
}

/// Where a scenario's counts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// Written into the model by hand (a plan).
    Planned,
    /// Counted from the running fleet.
    Live,
    /// The live counts with the calculator's replica changes (not applied).
    WhatIf,
}

impl DataSource {
    pub fn label(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Live => "live",
            Self::WhatIf => "what-if",
        }
    }
}

/// What a report is made from.
#[derive(Clone, Debug)]
pub struct ReportInput {
    pub model: CostModel,
    /// The fleet as counted now; adds a "live run rate" scenario.
    pub live: Option<LiveInventory>,
    /// Replica changes to the live counts (by workload name); adds a "what-if" scenario.
    pub what_if: BTreeMap<String, u32>,
    pub generated_at: DateTime<Utc>,
}

impl ReportInput {
    pub fn planned(model: CostModel, generated_at: DateTime<Utc>) -> Self {
        Self {
            model,
            live: None,
            what_if: BTreeMap::new(),
            generated_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostReport {
    pub schema_version: u32,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub model: String,
    pub assumptions: Assumptions,
    /// Component keys in display order; every scenario lists them all, in this order.
    pub components: Vec<String>,
    pub scenarios: Vec<ReportScenario>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    pub currency: String,
    pub currency_minor_digits: u32,
    /// Decimal string, e.g. "730".
    pub hours_per_month: String,
    pub target_percent_of_mrr: String,
    pub prices_as_of: String,
    /// "planned", "live" or "planned and live".
    pub data_source: String,
    pub live_source: Option<String>,
    pub rounding: String,
    pub ratio_rule: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportScenario {
    pub name: String,
    pub data_source: DataSource,
    pub mrr_per_month: Option<String>,
    pub mrr_minor: Option<i64>,
    pub total_minor: i64,
    /// Major units, plain decimal ("1050.00").
    pub total: String,
    pub percent_of_mrr_exact: Option<String>,
    pub percent_of_mrr_seed_rule: Option<String>,
    pub within_target: Option<bool>,
    pub delta_minor: Option<i64>,
    /// What `delta_minor` is measured from (the previous planned scenario, or the live one).
    pub delta_from: Option<String>,
    pub components: Vec<ReportComponent>,
    pub lines: Vec<ReportLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportComponent {
    pub component: String,
    pub label: String,
    pub total_minor: i64,
    pub total: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportLine {
    pub component: String,
    pub description: String,
    pub quantity: String,
    /// `per_month`, `per_instance_hour`, `per_gb_month`, `per_replica_month`.
    pub unit: String,
    pub price_per_unit: String,
    pub monthly_cost_minor: i64,
    pub monthly_cost: String,
}

impl CostReport {
    /// Computes every figure of the report. Refuses a model with problems.
    pub fn build(input: &ReportInput) -> Result<Self, String> {
        let model = &input.model;
        let problems = model.problems();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!(
                "the model \"{}\" has problems: {}",
                model.name,
                list.join("; ")
            ));
        }
        let mut planned: Vec<(Scenario, DataSource)> = model
            .scenarios
            .iter()
            .map(|s| (s.clone(), DataSource::Planned))
            .collect();
        if let Some(live) = &input.live {
            let pricing = &model.live_pricing;
            planned.push((
                pricing.scenario(live, &format!("Live run rate ({})", live.source)),
                DataSource::Live,
            ));
            if !input.what_if.is_empty() {
                let changed = live.with_replicas(&input.what_if);
                planned.push((
                    pricing.scenario(&changed, "What-if (not applied)"),
                    DataSource::WhatIf,
                ));
            }
        }
        let mut all = model.clone();
        all.scenarios = planned.iter().map(|(s, _)| s.clone()).collect();
        let components = all.components();
        let mut scenarios = Vec::new();
        let mut last_planned: Option<(String, i64)> = None;
        let mut live_total: Option<(String, i64)> = None;
        for (scenario, source) in &planned {
            let t = all.scenario_totals(scenario, &components);
            let delta_base = match source {
                DataSource::Planned => last_planned.clone(),
                DataSource::Live => None,
                DataSource::WhatIf => live_total.clone(),
            };
            match source {
                DataSource::Planned => last_planned = Some((t.name.clone(), t.total_minor)),
                DataSource::Live => live_total = Some((t.name.clone(), t.total_minor)),
                DataSource::WhatIf => {}
            }
            scenarios.push(report_scenario(&all, scenario, &t, *source, delta_base));
        }
        let has_live = input.live.is_some();
        let data_source = match (model.scenarios.is_empty(), has_live) {
            (_, false) => "planned",
            (true, true) => "live",
            (false, true) => "planned and live",
        };
        Ok(Self {
            schema_version: SCHEMA_VERSION,
            generated_at: input
                .generated_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            model: model.name.clone(),
            assumptions: Assumptions {
                currency: model.currency.to_ascii_uppercase(),
                currency_minor_digits: money::minor_digits(&model.currency),
                hours_per_month: model.hours_per_month.to_string(),
                target_percent_of_mrr: model.target_percent_of_mrr.to_string(),
                prices_as_of: if model.prices_as_of.trim().is_empty() {
                    "not stated".to_owned()
                } else {
                    model.prices_as_of.clone()
                },
                data_source: data_source.to_owned(),
                live_source: input.live.as_ref().map(|l| l.source.clone()),
                rounding: "Each line's monthly cost is rounded once to the currency's minor \
                           unit, half away from zero; totals are exact sums of those."
                    .to_owned(),
                ratio_rule: totals::RATIO_RULE.to_owned(),
            },
            components: components.iter().map(|c| c.key().to_owned()).collect(),
            scenarios,
        })
    }

    /// A human money amount in the report's currency.
    pub fn money(&self, minor: i64) -> String {
        format_minor(minor, &self.assumptions.currency)
    }

    /// Renders the report in a format.
    pub fn write(&self, format: ReportFormat, out: &mut dyn Write) -> Result<(), String> {
        match format {
            ReportFormat::Csv => write_csv(self, out).map_err(|e| e.to_string()),
            ReportFormat::Json => write_json(self, out).map_err(|e| e.to_string()),
            ReportFormat::Html => write_html(self, out).map_err(|e| e.to_string()),
            ReportFormat::Pdf => write_pdf(self, out),
        }
    }

    /// Renders the report into memory.
    pub fn render(&self, format: ReportFormat) -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        self.write(format, &mut buf)?;
        Ok(buf)
    }

    /// The assumptions as "label: value" pairs, for the human formats.
    pub fn assumption_rows(&self) -> Vec<(&'static str, String)> {
        let a = &self.assumptions;
        let mut rows = vec![
            ("Generated", self.generated_at.clone()),
            ("Currency", a.currency.clone()),
            (
                "Hours per month",
                format!("{} h (instance-hour prices)", a.hours_per_month),
            ),
            (
                "Target",
                format!("under {} % of MRR", a.target_percent_of_mrr),
            ),
            ("Prices as of", a.prices_as_of.clone()),
            ("Data source", a.data_source.clone()),
        ];
        if let Some(live) = &a.live_source {
            rows.push(("Live counts from", live.clone()));
        }
        rows.push(("Rounding", a.rounding.clone()));
        rows.push(("% of MRR", a.ratio_rule.clone()));
        rows
    }
}

fn report_scenario(
    model: &CostModel,
    scenario: &Scenario,
    t: &ScenarioTotals,
    source: DataSource,
    delta_base: Option<(String, i64)>,
) -> ReportScenario {
    let cur = &model.currency;
    ReportScenario {
        name: scenario.name.clone(),
        data_source: source,
        mrr_per_month: scenario.mrr_per_month.map(|m| m.to_string()),
        mrr_minor: t.mrr_minor,
        total_minor: t.total_minor,
        total: plain_minor(t.total_minor, cur),
        percent_of_mrr_exact: t.percent_of_mrr_exact.map(totals::format_percent_exact),
        percent_of_mrr_seed_rule: t.percent_of_mrr_exact.map(totals::format_percent_seed),
        within_target: t.within_target,
        delta_minor: delta_base
            .as_ref()
            .map(|(_, base)| t.total_minor.saturating_sub(*base)),
        delta_from: delta_base.map(|(name, _)| name),
        components: t
            .component_minor
            .iter()
            .map(|(c, m)| ReportComponent {
                component: c.key().to_owned(),
                label: c.label().to_owned(),
                total_minor: *m,
                total: plain_minor(*m, cur),
            })
            .collect(),
        lines: scenario
            .lines
            .iter()
            .zip(&t.line_minor)
            .map(|(l, m)| ReportLine {
                component: l.component.key().to_owned(),
                description: l.description.clone(),
                quantity: l.quantity.normalize().to_string(),
                unit: l.unit.key().to_owned(),
                price_per_unit: l.price_per_unit.normalize().to_string(),
                monthly_cost_minor: *m,
                monthly_cost: plain_minor(*m, cur),
            })
            .collect(),
    }
}

/// The label of a component key as stored in a report.
pub fn component_label(key: &str) -> String {
    Component::from(key.to_owned()).label().to_owned()
}
