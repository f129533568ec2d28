//! Unit tests of the pure model: the seed's own figures, rounding, currency, totals, deltas,
//! share of MRR, instance-hour pricing and live cost.

use super::live::{LiveInventory, LivePrice, LiveWorkload, WorkloadPrice};
use super::model::{Component, CostLine, CostModel, Scenario, Unit};
use super::money::format_minor;
use super::report::{CostReport, DataSource, ReportInput};
use super::template::seed_template;
use super::totals::{component_deltas, format_percent_exact, format_percent_seed};
use chrono::TimeZone;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn seed_template_reproduces_the_seed_totals_and_ratios() {
    let model = seed_template();
    let t = model.totals();
    let totals: Vec<i64> = t.iter().map(|s| s.total_minor).collect();
    assert_eq!(totals, [8_500, 20_000, 48_000, 105_000]);
    let shown: Vec<String> = t
        .iter()
        .map(|s| format_minor(s.total_minor, "USD"))
        .collect();
    assert_eq!(shown, ["$85.00", "$200.00", "$480.00", "$1,050.00"]);
    let seed: Vec<Option<String>> = t
        .iter()
        .map(|s| s.percent_of_mrr_exact.map(format_percent_seed))
        .collect();
    assert_eq!(
        seed,
        [
            None,
            Some("6.6".into()),
            Some("6.4".into()),
            Some("6.0".into())
        ]
    );
    let exact: Vec<Option<String>> = t
        .iter()
        .map(|s| s.percent_of_mrr_exact.map(format_percent_exact))
        .collect();
    assert_eq!(
        exact,
        [
            None,
            Some("6.6667".into()),
            Some("6.4000".into()),
            Some("6.0000".into())
        ]
    );
    assert_eq!(t[1].mrr_minor, Some(300_000));
    assert_eq!(t[3].mrr_minor, Some(1_750_000));
    assert!(t[1..].iter().all(|s| s.within_target == Some(true)));
}

#[test]
fn seed_current_lines_and_components() {
    let model = seed_template();
    let comps = model.components();
    assert_eq!(
        comps,
        [
            Component::Servers,
            Component::Database,
            Component::Storage,
            Component::Cdn,
            Component::Monitoring
        ]
    );
    let t = model.totals();
    let current: Vec<i64> = t[0].component_minor.iter().map(|(_, m)| *m).collect();
    assert_eq!(current, [5_000, 2_000, 1_000, 500, 0]);
    let phase4: Vec<i64> = t[3].component_minor.iter().map(|(_, m)| *m).collect();
    assert_eq!(phase4, [60_000, 20_000, 10_000, 5_000, 10_000]);
}

#[test]
fn deltas_between_scenarios() {
    let t = seed_template().totals();
    let deltas: Vec<Option<i64>> = t.iter().map(|s| s.delta_from_previous_minor).collect();
    assert_eq!(deltas, [None, Some(11_500), Some(28_000), Some(57_000)]);
    let per_component: Vec<i64> = component_deltas(&t[0], &t[1])
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(per_component, [5_000, 2_000, 1_500, 1_000, 2_000]);
}

#[test]
fn seed_rule_truncates_where_rounding_would_not() {
    // 2/3 % exactly: the seed rule prints 0.6, rounding would print 0.7.
    let exact = super::totals::percent_of_mrr_exact(200, 30_000).unwrap();
    assert_eq!(format_percent_seed(exact), "0.6");
    assert_eq!(format_percent_exact(exact), "0.6667");
    assert_eq!(super::totals::percent_of_mrr_exact(100, 0), None);
}

#[test]
fn instance_hour_pricing_uses_730_hours_and_rounds_once_per_line() {
    let mut model = CostModel::new("hourly");
    model.scenarios.push(Scenario {
        name: "one".into(),
        mrr_per_month: Some(d("1000")),
        notes: String::new(),
        lines: vec![
            CostLine {
                component: Component::Servers,
                description: "3 × small VM".into(),
                quantity: d("3"),
                price_per_unit: d("0.0416"),
                unit: Unit::PerInstanceHour,
            },
            CostLine {
                component: Component::Storage,
                description: "volumes".into(),
                quantity: d("125.5"),
                price_per_unit: d("0.08"),
                unit: Unit::PerGbMonth,
            },
        ],
    });
    let t = model.totals();
    // 3 × 0.0416 × 730 = 91.104 -> $91.10; 125.5 × 0.08 = 10.04.
    assert_eq!(t[0].line_minor, [9_110, 1_004]);
    assert_eq!(t[0].total_minor, 10_114);
    assert_eq!(
        format_percent_exact(t[0].percent_of_mrr_exact.unwrap()),
        "10.1140"
    );
    // The assumption is editable: 744 hours (a 31-day month).
    model.hours_per_month = d("744");
    assert_eq!(model.totals()[0].line_minor[0], 9_285); // 92.8512
}

#[test]
fn currency_decides_minor_units_and_target_flags_over_budget() {
    let mut model = CostModel::new("yen");
    model.currency = "JPY".into();
    model.scenarios.push(Scenario {
        name: "s".into(),
        mrr_per_month: Some(d("10000")),
        notes: String::new(),
        lines: vec![CostLine {
            component: Component::Custom("Licences".into()),
            description: String::new(),
            quantity: d("3"),
            price_per_unit: d("999.5"),
            unit: Unit::PerMonth,
        }],
    });
    let t = model.totals();
    assert_eq!(t[0].total_minor, 2_999); // 2998.5 rounds half away from zero
    assert_eq!(format_minor(t[0].total_minor, "JPY"), "¥2,999");
    assert_eq!(t[0].within_target, Some(false)); // 29.99 % > 20 %
    assert_eq!(model.components(), [Component::Custom("Licences".into())]);
}

#[test]
fn problems_are_reported_in_words() {
    let mut model = seed_template();
    assert!(model.problems().is_empty());
    model.currency = "dollars".into();
    model.hours_per_month = Decimal::ZERO;
    model.scenarios[0].lines[0].quantity = d("-1");
    model.scenarios[1].name = "Current".into();
    let text: Vec<String> = model.problems().iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 4, "{text:?}");
    assert!(text[0].contains("currency code"));
}

fn inventory(api_replicas: u32) -> LiveInventory {
    LiveInventory {
        source: "demo fleet".into(),
        workloads: vec![
            LiveWorkload {
                name: "shop/api".into(),
                kind: "Deployment".into(),
                replicas: api_replicas,
            },
            LiveWorkload {
                name: "shop/worker".into(),
                kind: "Deployment".into(),
                replicas: 2,
            },
        ],
        database_servers: 2,
        cache_nodes: 1,
    }
}

#[test]
fn live_run_rate_and_what_if_delta() {
    let mut model = seed_template();
    model.live_pricing.workload_overrides.push(WorkloadPrice {
        workload: "shop/worker".into(),
        price: LivePrice::per_month(d("12.50")),
    });
    let live = model.live_pricing.scenario(&inventory(3), "live");
    let comps = model.components();
    let t = model.scenario_totals(&live, &comps);
    // api: 3 × 0.0416 × 730 = 91.104 -> 91.10; worker: 2 × 12.50; db: 2 × 20; cache: 1 × 15.
    assert_eq!(t.line_minor, [9_110, 2_500, 4_000, 1_500]);
    assert_eq!(t.total_minor, 17_110);

    let mut changes = BTreeMap::new();
    changes.insert("shop/api".to_owned(), 5);
    let what_if = model
        .live_pricing
        .scenario(&inventory(3).with_replicas(&changes), "what-if");
    let w = model.scenario_totals(&what_if, &comps);
    assert_eq!(w.total_minor - t.total_minor, 6_074); // 2 × 30.368 = 60.736 -> 151.84 - 91.10
}

#[test]
fn report_adds_live_and_what_if_with_their_deltas() {
    let mut input = ReportInput::planned(
        seed_template(),
        chrono::Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
    );
    input.live = Some(inventory(3));
    input.what_if.insert("shop/api".into(), 1);
    let r = CostReport::build(&input).unwrap();
    assert_eq!(r.generated_at, "2025-06-01T12:00:00Z");
    assert_eq!(r.assumptions.data_source, "planned and live");
    assert_eq!(r.assumptions.hours_per_month, "730");
    let sources: Vec<DataSource> = r.scenarios.iter().map(|s| s.data_source).collect();
    assert_eq!(
        sources,
        [
            DataSource::Planned,
            DataSource::Planned,
            DataSource::Planned,
            DataSource::Planned,
            DataSource::Live,
            DataSource::WhatIf
        ]
    );
    assert_eq!(r.scenarios[4].delta_minor, None);
    // What-if: api 3 -> 1 replica: -2 × 30.368 = -60.736; 91.10 -> 30.37.
    assert_eq!(r.scenarios[5].delta_minor, Some(-6_073));
    assert_eq!(
        r.components,
        [
            "servers",
            "database",
            "storage",
            "cdn",
            "monitoring",
            "cache"
        ]
    );
    assert_eq!(
        r.scenarios[1].percent_of_mrr_seed_rule.as_deref(),
        Some("6.6")
    );
    assert_eq!(r.scenarios[3].total, "1050.00");
}

#[test]
fn model_round_trips_through_toml() {
    let model = seed_template();
    let text = toml::to_string(&model).unwrap();
    let back: CostModel = toml::from_str(&text).unwrap();
    assert_eq!(back, model);
    assert!(text.contains("unit = \"per_month\""), "{text}");
}

#[test]
fn node_price_defaults_overrides_and_persists() {
    let mut model = seed_template();
    // Default: 0.192 an instance-hour × 730 h = 140.16 a node; two nodes rounded once.
    assert_eq!(model.nodes_monthly_minor("prod", 1), 14_016);
    assert_eq!(model.nodes_monthly_minor("prod", 2), 28_032);
    model
        .live_pricing
        .node_overrides
        .push(super::live::ClusterNodePrice {
            cluster: "prod".into(),
            price: LivePrice::per_month(d("99.99")),
        });
    assert_eq!(model.nodes_monthly_minor("prod", 3), 29_997);
    assert_eq!(model.nodes_monthly_minor("staging", 1), 14_016);
    let text = toml::to_string(&model).unwrap();
    assert!(text.contains("cluster = \"prod\""), "{text}");
    let back: CostModel = toml::from_str(&text).unwrap();
    assert_eq!(back, model);
    // A model saved before nodes were priced reads the default node price.
    let mut old: toml::Table = toml::from_str(&text).unwrap();
    let pricing = old.get_mut("live_pricing").unwrap().as_table_mut().unwrap();
    assert!(pricing.remove("node").is_some() && pricing.remove("node_overrides").is_some());
    let back: CostModel = toml::from_str(&toml::to_string(&old).unwrap()).unwrap();
    assert_eq!(back.live_pricing.node, seed_template().live_pricing.node);
    assert!(back.live_pricing.node_overrides.is_empty());
}

#[test]
fn a_negative_node_price_is_a_problem() {
    let mut model = seed_template();
    model.live_pricing.node.price_per_unit = d("-1");
    let text: Vec<String> = model.problems().iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.contains("node price")), "{text:?}");
}
