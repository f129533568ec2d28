//! Totals per component and scenario, deltas between scenarios, cost as a share of MRR.
//!
//! Two ratios are kept. `percent_of_mrr_exact` is cost × 100 / MRR as an exact decimal (28
//! significant digits). `percent_of_mrr_seed_rule` is what the seeds' calculator prints:
//! `bc` with `scale=1`, which truncates (toward zero) to one decimal — 200 / 3,000 is 6.666…%,
//! printed as 6.6 %. Tables and reports display the seed rule as the headline figure (it is what
//! the team's own numbers say) and the exact ratio, to four decimals, beside it.

use super::model::{Component, CostModel, Scenario};
use super::money;
use rust_decimal::{Decimal, RoundingStrategy};

/// The computed figures of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioTotals {
    pub name: String,
    /// Each line's monthly cost, minor units, in line order.
    pub line_minor: Vec<i64>,
    /// Total per component (every component of the model, zero when absent), minor units.
    pub component_minor: Vec<(Component, i64)>,
    pub total_minor: i64,
    pub mrr_minor: Option<i64>,
    pub percent_of_mrr_exact: Option<Decimal>,
    pub percent_of_mrr_seed_rule: Option<Decimal>,
    /// Under (or at) the model's target share of MRR.
    pub within_target: Option<bool>,
    /// Change from the scenario before it; `None` for the first.
    pub delta_from_previous_minor: Option<i64>,
}

/// cost × 100 / MRR, exact. `None` without a positive MRR.
pub fn percent_of_mrr_exact(cost_minor: i64, mrr_minor: i64) -> Option<Decimal> {
    if mrr_minor <= 0 {
        return None;
    }
    Decimal::from(cost_minor)
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(Decimal::from(mrr_minor))
}

/// The seeds' rule: `echo "scale=1; COST * 100 / MRR" | bc` — truncated to one decimal.
pub fn seed_rule(percent_exact: Decimal) -> Decimal {
    percent_exact.trunc_with_scale(1)
}

/// `6.6667` — the exact ratio shown to four decimals (rounded half away from zero).
pub fn format_percent_exact(percent: Decimal) -> String {
    format!(
        "{:.4}",
        percent.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// `6.6` — the seed rule, always one decimal.
pub fn format_percent_seed(percent: Decimal) -> String {
    format!("{:.1}", seed_rule(percent))
}

/// What the seed rule prints and what the exact ratio is, in one sentence for reports.
pub const RATIO_RULE: &str = "Cost as % of MRR is shown as the seeds' calculator prints it \
    (bc scale=1: truncated to one decimal, e.g. 200/3000 → 6.6 %); the exact ratio is shown \
    beside it to four decimals (6.6667 %).";

impl CostModel {
    pub fn scenario_totals(&self, scenario: &Scenario, components: &[Component]) -> ScenarioTotals {
        let line_minor: Vec<i64> = scenario
            .lines
            .iter()
            .map(|l| self.line_monthly_minor(l))
            .collect();
        let component_minor = components
            .iter()
            .map(|c| {
                let sum = scenario
                    .lines
                    .iter()
                    .zip(&line_minor)
                    .filter(|(l, _)| &l.component == c)
                    .fold(0_i64, |acc, (_, m)| acc.saturating_add(*m));
                (c.clone(), sum)
            })
            .collect();
        let total_minor = line_minor.iter().fold(0_i64, |a, m| a.saturating_add(*m));
        let mrr_minor = scenario
            .mrr_per_month
            .and_then(|m| money::to_minor(m, &self.currency));
        let exact = mrr_minor.and_then(|m| percent_of_mrr_exact(total_minor, m));
        ScenarioTotals {
            name: scenario.name.clone(),
            line_minor,
            component_minor,
            total_minor,
            mrr_minor,
            percent_of_mrr_exact: exact,
            percent_of_mrr_seed_rule: exact.map(seed_rule),
            within_target: exact.map(|p| p <= self.target_percent_of_mrr),
            delta_from_previous_minor: None,
        }
    }

    /// Every scenario's totals, in order, with the delta from the one before.
    pub fn totals(&self) -> Vec<ScenarioTotals> {
        let components = self.components();
        let mut out: Vec<ScenarioTotals> = self
            .scenarios
            .iter()
            .map(|s| self.scenario_totals(s, &components))
            .collect();
        for i in 1..out.len() {
            out[i].delta_from_previous_minor =
                Some(out[i].total_minor.saturating_sub(out[i - 1].total_minor));
        }
        out
    }
}

/// Per-component change from `from` to `to` (same component order), minor units.
pub fn component_deltas(from: &ScenarioTotals, to: &ScenarioTotals) -> Vec<(Component, i64)> {
    to.component_minor
        .iter()
        .map(|(c, after)| {
            let before = from
                .component_minor
                .iter()
                .find(|(fc, _)| fc == c)
                .map_or(0, |(_, m)| *m);
            (c.clone(), after.saturating_sub(before))
        })
        .collect()
}
