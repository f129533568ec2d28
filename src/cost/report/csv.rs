//! CSV: one row per line per scenario, every assumption repeated on each row so a filtered or
//! pivoted sheet keeps them. Cells that would start a formula are neutralised
//! ([`crate::csv_safe::neutralise`]); amounts are plain decimals in major units.

use super::CostReport;
use crate::csv_safe::neutralise;
use std::io::Write;

pub const CSV_HEADER: [&str; 20] = [
    "model",
    "scenario",
    "data_source",
    "component",
    "description",
    "quantity",
    "unit",
    "price_per_unit",
    "monthly_cost",
    "currency",
    "scenario_total",
    "mrr_per_month",
    "percent_of_mrr_seed_rule",
    "percent_of_mrr_exact",
    "within_target",
    "target_percent_of_mrr",
    "hours_per_month",
    "prices_as_of",
    "live_source",
    "generated_at",
];

pub fn write_csv(report: &CostReport, w: &mut dyn Write) -> Result<(), csv::Error> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(CSV_HEADER)?;
    let a = &report.assumptions;
    for s in &report.scenarios {
        for l in &s.lines {
            let row = [
                report.model.clone(),
                s.name.clone(),
                s.data_source.label().to_owned(),
                l.component.clone(),
                l.description.clone(),
                l.quantity.clone(),
                l.unit.clone(),
                l.price_per_unit.clone(),
                l.monthly_cost.clone(),
                a.currency.clone(),
                s.total.clone(),
                s.mrr_per_month.clone().unwrap_or_default(),
                s.percent_of_mrr_seed_rule.clone().unwrap_or_default(),
                s.percent_of_mrr_exact.clone().unwrap_or_default(),
                s.within_target.map(|b| b.to_string()).unwrap_or_default(),
                a.target_percent_of_mrr.clone(),
                a.hours_per_month.clone(),
                a.prices_as_of.clone(),
                a.live_source.clone().unwrap_or_default(),
                report.generated_at.clone(),
            ];
            out.write_record(row.iter().map(|c| neutralise(c)))?;
        }
    }
    out.flush()?;
    Ok(())
}
