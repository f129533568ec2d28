//! The built-in template: the seeds' "Scaling Cost Calculator" (scripts/scaling-cost-calculator.sh
//! in the growth roadmap), line for line. It is always available as the model named
//! [`SEED_TEMPLATE_NAME`], even when nothing is saved; a saved model of that name replaces it.

use super::live::LivePricing;
use super::model::{Component, CostLine, CostModel, Scenario};
use rust_decimal::Decimal;

pub const SEED_TEMPLATE_NAME: &str = "seed-phases";

fn scenario(name: &str, mrr: Option<i64>, dollars: [i64; 5]) -> Scenario {
    let [server, database, storage, cdn, monitoring] = dollars;
    Scenario {
        name: name.to_owned(),
        mrr_per_month: mrr.map(Decimal::from),
        notes: String::new(),
        lines: vec![
            CostLine::monthly(Component::Servers, "Server", server),
            CostLine::monthly(Component::Database, "Database", database),
            CostLine::monthly(Component::Storage, "Storage", storage),
            CostLine::monthly(Component::Cdn, "CDN", cdn),
            CostLine::monthly(Component::Monitoring, "Monitoring", monitoring),
        ],
    }
}

/// Current $85; Phase 2 $200 at $3K MRR; Phase 3 $480 at $7.5K; Phase 4 $1,050 at $17.5K.
/// The seed states no MRR for the current setup, so its ratio is left empty.
pub fn seed_template() -> CostModel {
    CostModel {
        name: SEED_TEMPLATE_NAME.to_owned(),
        currency: "USD".to_owned(),
        prices_as_of: "as given in the seed's cost calculator (undated)".to_owned(),
        scenarios: vec![
            scenario("Current", None, [50, 20, 10, 5, 0]),
            scenario("Phase 2 (1K-5K MRR)", Some(3_000), [100, 40, 25, 15, 20]),
            scenario("Phase 3 (5K-10K MRR)", Some(7_500), [250, 100, 50, 30, 50]),
            scenario(
                "Phase 4 (10K-25K MRR)",
                Some(17_500),
                [600, 200, 100, 50, 100],
            ),
        ],
        live_pricing: LivePricing::default(),
        ..CostModel::new(SEED_TEMPLATE_NAME)
    }
}

/// The built-in models, in the order they are listed.
pub fn built_in_models() -> Vec<CostModel> {
    vec![seed_template()]
}
