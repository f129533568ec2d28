use super::recommend::{
    CostContext, Facts, hpa_replicas, index_wanted_workloads, index_workloads, propose,
};
use super::*;
use crate::cost::live::{LiveInventory, LivePrice, LiveWorkload};
use crate::cost::{CostModel, Scenario};
use crate::model::endpoint::Area;
use crate::model::snapshot::{Autoscaler, Workload, WorkloadKind, WorkloadRef};
use rust_decimal::Decimal;

const S: i64 = 1000;

fn rule(metric: &str, threshold: f64, duration_secs: u64, agg: Aggregation) -> Rule {
    Rule {
        id: "r".into(),
        title: "test".into(),
        enabled: true,
        selector: Selector {
            metric: metric.into(),
            area: None,
            target: "*".into(),
        },
        query: None,
        comparison: Comparison::Above,
        threshold,
        duration_secs,
        aggregation: agg,
        severity: Severity::Warning,
        propose: ProposalKind::ScaleUp,
        advice: "add instances".into(),
        min_replicas: 2,
        max_replicas: 10,
        target_percent: 70.0,
        hysteresis_percent: 5.0,
        source: "test".into(),
    }
}

fn advisor(r: Rule) -> Advisor {
    let mut a = Advisor::new(vec![r]);
    a.set_endpoints([("e".to_string(), Area::Workloads)]);
    a
}

fn state(a: &Advisor) -> Option<AlertState> {
    a.book.get("r", "e/x").map(|x| x.state)
}

#[test]
fn never_fires_on_the_first_sample() {
    let mut a = advisor(rule("depth", 1000.0, 0, Aggregation::Last));
    a.observe("e/x", "depth", 0, 5000.0);
    assert_eq!(state(&a), None);
    a.observe("e/x", "depth", 2 * S, 5000.0);
    assert_eq!(state(&a), Some(AlertState::Firing));
}

#[test]
fn duration_must_be_covered_before_firing() {
    let mut a = advisor(rule("cpu_percent", 80.0, 60, Aggregation::All));
    for i in 0..30 {
        a.observe("e/x", "cpu_percent", i * 2 * S, 95.0);
    }
    assert_eq!(state(&a), Some(AlertState::Pending));
    let pending_since = a.book.get("r", "e/x").unwrap().since;
    assert_eq!(pending_since, 2 * S);
    a.observe("e/x", "cpu_percent", 60 * S, 95.0);
    assert_eq!(state(&a), Some(AlertState::Firing));
    assert_eq!(a.book.get("r", "e/x").unwrap().started, 2 * S);
}

#[test]
fn a_gap_restarts_the_window_and_never_fires() {
    let mut a = advisor(rule("cpu_percent", 80.0, 60, Aggregation::All));
    for i in 0..20 {
        a.observe("e/x", "cpu_percent", i * 2 * S, 95.0);
    }
    assert_eq!(state(&a), Some(AlertState::Pending));
    // A missed poll: pending starts over, with "not enough data".
    a.gap("e", 41 * S);
    assert_eq!(state(&a), None);
    a.observe("e/x", "cpu_percent", 42 * S, 95.0);
    assert_eq!(state(&a), None, "first sample after a gap is not judged");
    // 60 s after the gap (but 100 s after the first sample) it is still only pending.
    for i in 22..=50 {
        a.observe("e/x", "cpu_percent", i * 2 * S, 95.0);
    }
    assert_eq!(state(&a), Some(AlertState::Pending));
    a.observe("e/x", "cpu_percent", 102 * S, 95.0);
    assert_eq!(state(&a), Some(AlertState::Firing));
}

#[test]
fn a_silent_pause_is_a_gap_too() {
    let mut w = Window::new(60 * S);
    w.push(0, 1.0);
    w.push(2 * S, 1.0);
    w.push(3 * 60 * S, 1.0);
    assert!(matches!(
        w.judge(Aggregation::Avg, Comparison::Above, 0.5),
        Verdict::NotEnoughData(why) if why.contains("no sample for")
    ));
}

#[test]
fn firing_alerts_stay_through_a_gap_marked_without_data() {
    let mut a = advisor(rule("depth", 1000.0, 0, Aggregation::Last));
    a.observe("e/x", "depth", 0, 5000.0);
    a.observe("e/x", "depth", 2 * S, 5000.0);
    a.gap("e", 4 * S);
    let alert = a.book.get("r", "e/x").unwrap();
    assert_eq!(alert.state, AlertState::Firing);
    assert!(alert.note.as_deref().unwrap().contains("not enough data"));
}

#[test]
fn aggregations_differ() {
    let mut w = Window::new(60 * S);
    for (i, v) in [70.0, 70.0, 100.0, 100.0, 100.0].into_iter().enumerate() {
        w.push(i as i64 * 15 * S, v);
    }
    // mean 88 > 80; not every sample above; last above.
    let avg = w.judge(Aggregation::Avg, Comparison::Above, 80.0);
    assert_eq!(
        avg,
        Verdict::Full {
            value: 88.0,
            breached: true
        }
    );
    let all = w.judge(Aggregation::All, Comparison::Above, 80.0);
    assert_eq!(
        all,
        Verdict::Full {
            value: 70.0,
            breached: false
        }
    );
    let last = w.judge(Aggregation::Last, Comparison::Above, 80.0);
    assert_eq!(
        last,
        Verdict::Full {
            value: 100.0,
            breached: true
        }
    );
    let below = w.judge(Aggregation::All, Comparison::Below, 101.0);
    assert_eq!(
        below,
        Verdict::Full {
            value: 100.0,
            breached: true
        }
    );
}

#[test]
fn old_samples_leave_the_window() {
    let mut w = Window::new(60 * S);
    for i in 0..100 {
        w.push(i * S, if i < 50 { 0.0 } else { 100.0 });
    }
    // The last 60 s hold 50 samples of 100 and ~10 of 0 (one bucket of slack at the edge).
    let Verdict::Full { value, .. } = w.judge(Aggregation::Avg, Comparison::Above, 1.0) else {
        panic!()
    };
    assert!((80.0..=100.0).contains(&value), "{value}");
    assert!(w.len() <= eval::BUCKETS as usize + 1);
}

#[test]
fn windows_stay_bounded_at_any_poll_rate() {
    let mut w = Window::new(3600 * S);
    for i in 0..100_000 {
        w.push(i * 100, 1.0);
    }
    assert!(w.len() <= eval::BUCKETS as usize + 1, "{}", w.len());
}

#[test]
fn hysteresis_keeps_a_hovering_value_from_flapping() {
    let mut a = advisor(rule("cpu_percent", 80.0, 0, Aggregation::Last));
    a.observe("e/x", "cpu_percent", 0, 85.0);
    a.observe("e/x", "cpu_percent", 2 * S, 85.0);
    assert_eq!(state(&a), Some(AlertState::Firing));
    let transitions = a.book.history().count();
    for i in 0..50 {
        let v = if i % 2 == 0 { 79.0 } else { 81.0 };
        a.observe("e/x", "cpu_percent", (4 + 2 * i) * S, v);
        assert_eq!(state(&a), Some(AlertState::Firing), "flapped at {v}");
    }
    assert_eq!(a.book.history().count(), transitions);
    // 5 % of 80 = 4: at 76 it resolves.
    a.observe("e/x", "cpu_percent", 104 * S, 76.0);
    assert_eq!(state(&a), None);
    let last = a.book.history().last().unwrap();
    assert_eq!(last.state, AlertState::Resolved);
    assert_eq!(last.at, 104 * S);
}

#[test]
fn area_and_target_scope_a_rule() {
    let mut r = rule("memory_percent", 85.0, 0, Aggregation::Last);
    r.selector.area = Some(Area::Workloads);
    r.selector.target = "e/prod/*".into();
    let mut a = Advisor::new(vec![r]);
    a.set_endpoints([
        ("e".to_string(), Area::Workloads),
        ("redis".to_string(), Area::Cache),
    ]);
    for t in [0, 2 * S] {
        a.observe("redis/n1", "memory_percent", t, 99.0);
        a.observe("e/dev/deployment/x", "memory_percent", t, 99.0);
        a.observe("e/prod/deployment/x", "memory_percent", t, 99.0);
    }
    let targets: Vec<&str> = a.book.active().map(|x| x.target.as_str()).collect();
    assert_eq!(targets, ["e/prod/deployment/x"]);
}

#[test]
fn hpa_formula_with_clamps() {
    // ceil(3 × 90 / 70) = ceil(3.857) = 4
    assert_eq!(hpa_replicas(3, 90.0, 70.0, 2, 10), 4);
    // ceil(4 × 95 / 70) = ceil(5.43) = 6
    assert_eq!(hpa_replicas(4, 95.0, 70.0, 2, 10), 6);
    // clamped to max
    assert_eq!(hpa_replicas(8, 100.0, 70.0, 2, 10), 10);
    // scale-down never below min: ceil(4 × 10 / 70) = 1 -> 2
    assert_eq!(hpa_replicas(4, 10.0, 70.0, 2, 10), 2);
    // ceil(6 × 20 / 70) = ceil(1.71) = 2
    assert_eq!(hpa_replicas(6, 20.0, 70.0, 1, 10), 2);
    // a broken measurement keeps the current count
    assert_eq!(hpa_replicas(5, f64::NAN, 70.0, 2, 10), 5);
}

fn workload(name: &str, kind: WorkloadKind, desired: u32) -> Workload {
    Workload {
        id: WorkloadRef::new("e", "prod", kind, name),
        revision: None,
        resource_version: None,
        stale_since: None,
        desired,
        ready: desired,
        available: desired,
        updated: desired,
        cpu_percent: None,
        memory_percent: None,
        autoscaler: None,
        fixed_host_port: None,
        pending_reason: None,
        docker: None,
        scale_denied: None,
        autoscale_denied: None,
    }
}

/// $32 per replica-month, MRR $1,500 in the phase "Phase 2".
fn cost_model() -> (CostModel, LiveInventory) {
    let mut m = CostModel::new("t");
    m.live_pricing.replica = LivePrice::per_month(Decimal::from(32));
    m.scenarios.push(Scenario {
        name: "Phase 2".into(),
        mrr_per_month: Some(Decimal::from(1500)),
        notes: String::new(),
        lines: Vec::new(),
    });
    let inv = LiveInventory {
        source: "test".into(),
        workloads: vec![LiveWorkload {
            name: "e: prod/service/writer-service".into(),
            kind: "Compose service".into(),
            replicas: 3,
        }],
        database_servers: 0,
        cache_nodes: 0,
    };
    (m, inv)
}

fn firing(target: &str, value: f64, r: &Rule) -> Alert {
    Alert {
        rule_id: r.id.clone(),
        title: r.title.clone(),
        severity: r.severity,
        target: target.into(),
        metric: r.selector.metric.clone(),
        state: AlertState::Firing,
        started: 0,
        since: 0,
        value,
        threshold: r.threshold,
        comparison: r.comparison,
        condition: r.condition(),
        note: None,
        advice: r.advice.clone(),
    }
}

#[test]
fn scale_up_proposal_with_hand_computed_cost() {
    let (model, inv) = cost_model();
    let w = workload("writer-service", WorkloadKind::ComposeService, 3);
    let r = rule("cpu_percent", 80.0, 0, Aggregation::Avg);
    // ceil(3 × 105 / 70) = ceil(4.5) = 5
    let alert = firing(&w.id.target(), 105.0, &r);
    let facts = Facts {
        workloads: index_workloads([&w]),
        queues: &[],
        drain_target_secs: 600.0,
        cost: Some(CostContext::new(&model, &inv, None)),
        capacity: Default::default(),
        load_balancers: &[],
    };
    let p = propose(&r, &alert, &facts);
    assert_eq!(
        p.action,
        Some(crate::actions::Action::ScaleWorkload {
            workload: w.id.clone(),
            replicas: 5
        })
    );
    let c = p.cost.as_ref().unwrap();
    // 3 × $32 = $96 → 5 × $32 = $160: +$64; 96/1500 = 6.4 %, 160/1500 = 10.66… → 10.6 %.
    assert_eq!((c.before_minor, c.after_minor), (9600, 16000));
    assert_eq!(
        p.line,
        "writer-service 3 → 5 (--scale writer-service=5): +$64.00/month, 6.4 % → 10.6 % of MRR; \
         fit not checked: no capacity data for its endpoint"
    );
    assert!(p.citation(&alert).contains("advisor rule \"r\""));
}

#[test]
fn scale_down_never_below_min_and_shows_savings() {
    let (model, inv) = cost_model();
    let w = workload("writer-service", WorkloadKind::ComposeService, 3);
    let mut r = rule("cpu_percent", 30.0, 0, Aggregation::Avg);
    r.comparison = Comparison::Below;
    r.propose = ProposalKind::ScaleDown;
    let alert = firing(&w.id.target(), 5.0, &r);
    let facts = Facts {
        workloads: index_workloads([&w]),
        queues: &[],
        drain_target_secs: 600.0,
        cost: Some(CostContext::new(&model, &inv, Some("Phase 2"))),
        capacity: Default::default(),
        load_balancers: &[],
    };
    let p = propose(&r, &alert, &facts);
    // ceil(3 × 5 / 70) = 1, but min is 2.
    assert!(matches!(
        p.action,
        Some(crate::actions::Action::ScaleWorkload { replicas: 2, .. })
    ));
    assert!(
        p.line.contains("-$32.00/month (saves $32.00/month)"),
        "{}",
        p.line
    );
    assert!(p.line.contains("6.4 % → 4.2 % of MRR"), "{}", p.line);
}

#[test]
fn hpa_managed_workloads_get_a_raised_max() {
    let mut w = workload("api", WorkloadKind::Deployment, 4);
    w.autoscaler = Some(Autoscaler {
        name: "api".into(),
        min_replicas: 2,
        max_replicas: 4,
        target_cpu_percent: 60,
        current_cpu_percent: Some(90.0),
        last_scale_at: None,
        metrics: Vec::new(),
    });
    let r = rule("cpu_percent", 80.0, 0, Aggregation::Avg);
    let alert = firing(&w.id.target(), 90.0, &r);
    let facts = Facts {
        workloads: index_workloads([&w]),
        queues: &[],
        drain_target_secs: 600.0,
        cost: None,
        capacity: Default::default(),
        load_balancers: &[],
    };
    let p = propose(&r, &alert, &facts);
    // ceil(4 × 90 / 60) = 6 > max 4.
    assert!(matches!(
        p.action,
        Some(crate::actions::Action::SetAutoscaler {
            max_replicas: 6,
            min_replicas: 2,
            target_cpu_percent: 60,
            ..
        })
    ));
    assert_eq!(
        p.line,
        "api: raise the HPA max 4 → 6; fit not checked: no capacity data for its endpoint"
    );
}

#[test]
fn profile_rules_change_disable_and_add() {
    let configs = vec![
        RuleConfig {
            id: "cpu-high".into(),
            threshold: Some(75.0),
            duration_secs: Some(60),
            ..RuleConfig::default()
        },
        RuleConfig {
            id: "cpu-low".into(),
            enabled: Some(false),
            ..RuleConfig::default()
        },
        RuleConfig {
            id: "lag".into(),
            metric: Some("lag_seconds".into()),
            threshold: Some(30.0),
            area: Some("databases".into()),
            ..RuleConfig::default()
        },
        RuleConfig {
            id: "cpu-hihg".into(),
            ..RuleConfig::default()
        },
    ];
    let problems = rules::rule_config_problems(&configs, &default_rules());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .1
            .contains("did you mean the built-in rule \"cpu-high\"")
    );
    let merged = rules::merge_rules(default_rules(), &configs);
    let cpu = merged.iter().find(|r| r.id == "cpu-high").unwrap();
    assert_eq!((cpu.threshold, cpu.duration_secs), (75.0, 60));
    assert!(!merged.iter().find(|r| r.id == "cpu-low").unwrap().enabled);
    let lag = merged.iter().find(|r| r.id == "lag").unwrap();
    assert_eq!(lag.selector.area, Some(Area::Databases));
    assert_eq!(merged.len(), default_rules().len() + 1);
}

#[test]
fn defaults_are_the_guides_triggers() {
    let rules = default_rules();
    let find = |id: &str| rules.iter().find(|r| r.id == id).unwrap();
    assert_eq!(find("response-time").threshold, 3000.0);
    assert_eq!(find("response-time").duration_secs, 3600);
    assert_eq!(find("cpu-high").duration_secs, 1800);
    assert_eq!(find("memory-high").threshold, 85.0);
    assert_eq!(find("db-connections").threshold, 80.0);
    assert_eq!(find("error-rate").duration_secs, 900);
    assert_eq!(find("queue-length").threshold, 1000.0);
    assert_eq!(find("cpu-low").threshold, 30.0);
    assert!(
        rules
            .iter()
            .all(|r| r.min_replicas == 2 && r.max_replicas == 10)
    );
}

#[test]
fn history_exports_as_csv() {
    let mut a = Advisor::new(vec![rule("depth", 1000.0, 0, Aggregation::Last)]);
    a.set_endpoints([("=e".to_string(), Area::Queues)]);
    a.observe("=e/x", "depth", 0, 5000.0);
    a.observe("=e/x", "depth", 2 * S, 5000.0);
    let csv = a.book.history_csv();
    assert!(csv.starts_with("time,rule,severity,target,state,value,threshold"));
    assert!(csv.contains(",'=e/x,"), "{csv}");
    assert!(csv.contains("firing"));
}

#[test]
fn a_sparse_steady_series_is_one_run_for_a_long_rule() {
    // A day-long rule served by a Prometheus range: one point every 288 s.
    let mut w = Window::new(24 * 3600 * S);
    for i in 0..=300 {
        w.push(i * 288 * S, 10.0);
    }
    assert!(matches!(
        w.judge(Aggregation::Avg, Comparison::Above, 5.0),
        Verdict::Full { breached: true, .. }
    ));
}

#[test]
fn a_gap_of_an_endpoint_reaches_its_bare_id_totals() {
    let mut a = Advisor::new(vec![rule("depth", 1000.0, 60, Aggregation::All)]);
    a.set_endpoints([("e".to_string(), Area::Queues)]);
    for i in 0..10 {
        a.observe("e", "depth", i * 2 * S, 5000.0);
    }
    assert_eq!(
        a.book.get("r", "e").map(|x| x.state),
        Some(AlertState::Pending)
    );
    a.gap("e", 21 * S);
    assert_eq!(
        a.book.get("r", "e"),
        None,
        "pending starts over after the gap"
    );
}

/// "Response time avg over 1 h > 3 s" firing, then `gap_ms` of silence and two fast samples.
fn hourly_latency_firing() -> (Advisor, Rule, i64) {
    let r = rule("latency_ms", 3000.0, 3600, Aggregation::Avg);
    let mut a = advisor(r.clone());
    let mut t = 0;
    while t <= 3600 * S + 10 * S {
        a.observe("e/x", "latency_ms", t, 6000.0);
        t += 5 * S;
    }
    assert_eq!(state(&a), Some(AlertState::Firing));
    (a, r, t)
}

#[test]
fn a_firing_alert_outlives_an_outage_until_judged_over_the_full_duration() {
    let (mut a, _, t) = hourly_latency_firing();
    // A 20 s outage (a silent pause), then two fast samples: the hourly average is unknown.
    let t = t + 20 * S;
    a.observe("e/x", "latency_ms", t, 100.0);
    a.observe("e/x", "latency_ms", t + 5 * S, 100.0);
    let alert = a.book.get("r", "e/x").unwrap();
    assert_eq!(alert.state, AlertState::Firing, "two samples cleared it");
    assert_eq!(alert.value, 100.0);
    assert!(
        alert
            .note
            .as_deref()
            .unwrap()
            .contains("partial data since"),
        "{:?}",
        alert.note
    );
    // An hour of fast samples after the outage: judged over the full duration, it resolves.
    let mut t2 = t + 10 * S;
    while t2 <= t + 3600 * S + 10 * S {
        a.observe("e/x", "latency_ms", t2, 100.0);
        t2 += 5 * S;
    }
    assert_eq!(state(&a), None);
    assert_eq!(a.book.history().last().unwrap().state, AlertState::Resolved);
}

#[test]
fn editing_another_rule_keeps_a_firing_alert_and_its_window() {
    let (mut a, r, t) = hourly_latency_firing();
    let mut other = rule("depth", 10.0, 0, Aggregation::Last);
    other.id = "other".into();
    a.set_rules(vec![r.clone(), other.clone()]);
    other.threshold = 20.0;
    a.set_rules(vec![r, other]);
    a.observe("e/x", "latency_ms", t, 100.0);
    a.observe("e/x", "latency_ms", t + 5 * S, 100.0);
    let alert = a.book.get("r", "e/x").unwrap();
    assert_eq!(alert.state, AlertState::Firing);
    assert!(alert.value > 3000.0, "hourly average kept: {}", alert.value);
}

#[test]
fn memory_high_on_an_hpa_workload_is_advice_not_a_cpu_formula() {
    let mut w = workload("api", WorkloadKind::Deployment, 4);
    w.autoscaler = Some(Autoscaler {
        name: "api".into(),
        min_replicas: 2,
        max_replicas: 4,
        target_cpu_percent: 60,
        current_cpu_percent: Some(30.0),
        last_scale_at: None,
        metrics: Vec::new(),
    });
    let r = rule("memory_percent", 85.0, 0, Aggregation::Avg);
    let alert = firing(&w.id.target(), 95.0, &r);
    let facts = Facts {
        workloads: index_workloads([&w]),
        queues: &[],
        drain_target_secs: 600.0,
        cost: None,
        capacity: Default::default(),
        load_balancers: &[],
    };
    let p = propose(&r, &alert, &facts);
    assert_eq!(p.action, None, "memory % fed into the CPU-target formula");
    assert!(p.line.contains("the HPA scales on CPU only"), "{}", p.line);
}

#[test]
fn last_with_a_duration_is_refused_but_the_builtins_stay_valid() {
    let configs = vec![
        RuleConfig {
            id: "deep".into(),
            metric: Some("depth".into()),
            threshold: Some(10.0),
            duration_secs: Some(300),
            ..RuleConfig::default()
        },
        RuleConfig {
            id: "queue-length".into(),
            duration_secs: Some(60),
            ..RuleConfig::default()
        },
        RuleConfig {
            id: "queue-length-avg".into(),
            metric: Some("depth".into()),
            threshold: Some(10.0),
            duration_secs: Some(60),
            aggregation: Some(Aggregation::Avg),
            ..RuleConfig::default()
        },
    ];
    let problems = rules::rule_config_problems(&configs, &default_rules());
    let flagged: Vec<usize> = problems.iter().map(|(i, _)| *i).collect();
    assert_eq!(flagged, vec![0, 1], "{problems:?}");
    assert!(problems[0].1.contains("`last` judges one sample"));
    // Every built-in rule, named in a profile unchanged, is valid.
    let builtins: Vec<RuleConfig> = default_rules()
        .iter()
        .map(|r| RuleConfig {
            id: r.id.clone(),
            ..RuleConfig::default()
        })
        .collect();
    assert_eq!(
        rules::rule_config_problems(&builtins, &default_rules()),
        vec![]
    );
}

#[test]
fn a_series_that_stops_goes_without_data_then_expires() {
    let r = rule("cpu_percent", 80.0, 60, Aggregation::Avg);
    let mut a = advisor(r);
    // e/x fires; e/y (same endpoint, still answering) keeps the clock moving.
    let mut t = 0;
    while t <= 70 * S {
        a.observe("e/x", "cpu_percent", t, 95.0);
        a.observe("e/y", "cpu_percent", t, 10.0);
        t += 2 * S;
    }
    assert_eq!(state(&a), Some(AlertState::Firing));
    assert_eq!(a.window_count(), 2);
    let stopped_at = t - 2 * S;
    // e/x stops; 20 s later (past max(3 × 2 s, 15 s)) it is a gap, not a current value.
    while t <= stopped_at + 20 * S {
        a.observe("e/y", "cpu_percent", t, 10.0);
        t += 2 * S;
    }
    let alert = a.book.get("r", "e/x").unwrap();
    assert_eq!(alert.state, AlertState::Firing);
    let note = alert.note.as_deref().unwrap_or_default();
    assert!(note.contains("no data since"), "{note:?}");
    // Past the rule's duration + the margin the series is gone: window and alert dropped.
    while t <= stopped_at + 60 * S + EXPIRE_MARGIN_MS + 4 * S {
        a.observe("e/y", "cpu_percent", t, 10.0);
        t += 2 * S;
    }
    assert_eq!(state(&a), None);
    assert_eq!(a.window_count(), 1);
    let last = a.book.history().rev().find(|h| h.target == "e/x").unwrap();
    assert_eq!(last.state, AlertState::Resolved);
}

#[test]
fn at_capacity_the_longest_idle_windows_make_room_and_only_then_is_a_series_refused() {
    let mut a = advisor(rule("depth", 1000.0, 0, Aggregation::Last));
    for i in 0..MAX_WINDOWS {
        a.observe(&format!("e/q{i}"), "depth", 0, 1.0);
    }
    assert_eq!(a.window_count(), MAX_WINDOWS);
    // Full and nothing idle: a new series is refused, and counted.
    a.observe("e/busy", "depth", S, 1.0);
    assert_eq!(a.refused_windows(), 1);
    assert_eq!(a.evicted_windows(), 0);
    // Queues were deleted (churn): 20 s later the idle windows make room for new series.
    a.observe("e/new", "depth", 20 * S, 5000.0);
    a.observe("e/new", "depth", 22 * S, 5000.0);
    assert!(a.evicted_windows() > 0);
    assert_eq!(a.refused_windows(), 1);
    assert!(a.window_count() <= MAX_WINDOWS);
    assert_eq!(
        a.book.get("r", "e/new").map(|x| x.state),
        Some(AlertState::Firing)
    );
}

#[test]
fn a_sparse_series_is_not_taken_for_a_silent_one() {
    let mut r = rule("cpu_percent", 80.0, 3600, Aggregation::Avg);
    r.id = "r".into();
    let mut a = advisor(r);
    // e/x reports once a minute (a Prometheus step); e/y every 2 s moves the clock.
    let mut t = 0;
    while t <= 180 * S {
        if t % (60 * S) == 0 {
            a.observe("e/x", "cpu_percent", t, 95.0);
        }
        a.observe("e/y", "cpu_percent", t, 10.0);
        t += 2 * S;
    }
    let alert = a.book.get("r", "e/x").expect("judged, pending");
    assert_eq!(alert.state, AlertState::Pending);
    assert_eq!(alert.note, None);
}

/// Three 4 CPU / 16 GiB nodes with 3 CPU requested each, in context "e"; `api` requests 1 CPU.
fn busy_capacity(id: &WorkloadRef) -> crate::model::capacity::CapacityView {
    use crate::model::capacity::{CapacityView, ContextCapacity, NodeInfo, NodeRoom};
    let nodes = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| NodeInfo {
            room: NodeRoom {
                name: (*n).into(),
                allocatable_cpu_milli: 4_000,
                allocatable_memory_bytes: 16 << 30,
                allocatable_pods: 110,
                requested_cpu_milli: 3_000,
                requested_memory_bytes: 0,
                pods: 10,
                labels: Default::default(),
                taints: Vec::new(),
                unschedulable: false,
                ready: true,
            },
            pressure: Vec::new(),
            used: None,
        })
        .collect();
    let mut view = CapacityView::default();
    view.contexts.insert(
        "e".into(),
        ContextCapacity {
            nodes: Ok(nodes),
            partial_pods: None,
            quotas: Default::default(),
            admission_unknown: None,
            limit_ranges: Default::default(),
            autoscaler: Default::default(),
            usage_note: None,
        },
    );
    view.needs.insert(
        id.clone(),
        crate::model::capacity::ReplicaNeeds {
            cpu_milli: Some(1_000),
            memory_bytes: Some(1 << 30),
            ..Default::default()
        },
    );
    view
}

#[test]
fn a_scale_up_that_does_not_fit_names_the_nodes_needed_and_their_monthly_cost() {
    let (mut model, inv) = cost_model();
    model.live_pricing.node = LivePrice::per_month(Decimal::from(140));
    let w = workload("api", WorkloadKind::Deployment, 3);
    let r = rule("cpu_percent", 80.0, 0, Aggregation::Avg);
    // ceil(3 × 210 / 70) = 9, capped by the rule's max 10: 6 new replicas; 3 fit (one per
    // node), 3 are left and an empty 4 CPU node takes 4: one node of $140.
    let alert = firing(&w.id.target(), 210.0, &r);
    let view = busy_capacity(&w.id);
    let facts = Facts {
        workloads: index_workloads([&w]),
        queues: &[],
        drain_target_secs: 600.0,
        cost: Some(CostContext::new(&model, &inv, None)),
        capacity: [("e", &view)].into_iter().collect(),
        load_balancers: &[],
    };
    let p = propose(&r, &alert, &facts);
    assert!(matches!(
        p.action,
        Some(crate::actions::Action::ScaleWorkload { replicas: 9, .. })
    ));
    let fit = p.fit.as_ref().unwrap();
    assert_eq!(fit.fits, Some(false));
    assert_eq!(fit.nodes_needed, Some(1));
    assert_eq!(fit.nodes_cost_minor, Some(14_000));
    assert!(
        p.line.ends_with(
            "; only 3 of 6 new replicas fit — needs 1 more node of 4 CPU / 16.0 GiB: \
             +$140.00/month"
        ),
        "{}",
        p.line
    );
    assert!(p.citation(&alert).contains("needs 1 more node"));

    // Priced per cluster where the model says so; a scale that fits says so.
    let mut priced = model.clone();
    priced
        .live_pricing
        .node_overrides
        .push(crate::cost::ClusterNodePrice {
            cluster: "e".into(),
            price: LivePrice::per_month(Decimal::from(200)),
        });
    let alert = firing(&w.id.target(), 300.0, &r); // → 10: 7 new, 4 left: still one node
    let facts = Facts {
        cost: Some(CostContext::new(&priced, &inv, None)),
        ..facts
    };
    let p = propose(&r, &alert, &facts);
    assert!(p.line.ends_with("+$200.00/month"), "{}", p.line);
    let small = workload("api", WorkloadKind::Deployment, 1);
    let alert = firing(&small.id.target(), 140.0, &r); // 1 → 2: fits
    let facts = Facts {
        workloads: index_workloads([&small]),
        ..facts
    };
    let p = propose(&r, &alert, &facts);
    assert!(
        p.line.ends_with("; fits (1 of 1 new replica)"),
        "{}",
        p.line
    );
}

#[test]
fn on_the_demo_cluster_a_proposal_that_does_not_fit_names_nodes_and_cost() {
    use crate::connectors::demo::{capacity, sim};
    let fleet = sim::DemoFleet::new(42, 14 * 3_600_000);
    let (view, _) = capacity::view(&fleet, "demo-prod");
    let desired = fleet
        .workloads
        .iter()
        .find(|w| w.name == "search-index")
        .unwrap()
        .desired;
    let mut w = workload("search-index", WorkloadKind::Deployment, desired);
    w.id = view
        .needs
        .keys()
        .find(|id| id.name == "search-index")
        .unwrap()
        .clone();
    let model = crate::cost::seed_template();
    let inv = LiveInventory::default();
    let r = rule("cpu_percent", 80.0, 0, Aggregation::Avg);
    // ceil(2 × 175 / 70) = 5: three new replicas of 1500m. Nodes 1 and 5 have room for one
    // each (node 4 is under memory pressure, node 6 cordoned, the GPU pool tainted); an empty
    // m5.xlarge-like node (3920m allocatable) takes two, so the third needs one node: at the
    // default $0.192 an hour × 730 h, $140.16 a month.
    assert_eq!(desired, 2);
    let alert = firing(&w.id.target(), 175.0, &r);
    let facts = Facts {
        workloads: index_workloads([&w]),
        queues: &[],
        drain_target_secs: 600.0,
        cost: Some(CostContext::new(&model, &inv, None)),
        capacity: [("demo-prod", &view)].into_iter().collect(),
        load_balancers: &[],
    };
    let p = propose(&r, &alert, &facts);
    let fit = p.fit.as_ref().unwrap();
    assert_eq!((fit.fits, fit.nodes_needed), (Some(false), Some(1)));
    assert_eq!(fit.nodes_cost_minor, Some(14_016));
    assert!(
        p.line.ends_with(
            "; only 2 of 3 new replicas fit — needs 1 more node of 3.9 CPU / 14.9 GiB \
             (m5.xlarge): +$140.16/month"
        ),
        "{}",
        p.line
    );
    // One more replica takes the namespace's quota over: no node count helps then.
    let alert = firing(&w.id.target(), 210.0, &r);
    let p = propose(&r, &alert, &facts);
    assert!(
        p.line.contains("ResourceQuota nexus-quota")
            && p.line.ends_with("more nodes would not help"),
        "{}",
        p.line
    );
    assert_eq!(p.fit.unwrap().nodes_needed, None);
}

#[test]
fn the_wanted_workloads_are_found_by_target_and_no_other() {
    let mut web = workload("web", WorkloadKind::ComposeService, 3);
    let api = workload("api", WorkloadKind::ComposeService, 2);
    // Same name, other kind and scope: a different target.
    let mut web_deploy = workload("web", WorkloadKind::Deployment, 1);
    web_deploy.id.scope = "prod/shop".into();
    web.id.scope = "shop".into();
    for w in [&web, &api, &web_deploy] {
        assert!(w.id.is_target(&w.id.target()));
    }
    assert!(!web.id.is_target(&web_deploy.id.target()));
    assert!(!web.id.is_target(&format!("{}x", web.id.target())));
    let wanted = [
        web_deploy.id.target(),
        "nowhere/shop/service/web".to_owned(),
    ];
    let index =
        index_wanted_workloads([&web, &api, &web_deploy], wanted.iter().map(String::as_str));
    assert_eq!(index.len(), 1);
    assert_eq!(
        index.get(&web_deploy.id.target()).map(|w| &w.id),
        Some(&web_deploy.id)
    );
    assert_eq!(index, index_workloads([&web_deploy]));
}

#[test]
fn a_changes_cost_is_the_whole_changed_fleet_priced_again() {
    use crate::cost::Unit;
    use crate::cost::live::WorkloadPrice;
    let (mut model, mut inv) = cost_model();
    model.live_pricing.database_server = LivePrice::per_month(Decimal::new(14_999, 2));
    model.live_pricing.cache_node = LivePrice::per_month(Decimal::from(40));
    model.live_pricing.workload_overrides.push(WorkloadPrice {
        workload: "e: prod/deployment/api".into(),
        price: LivePrice {
            price_per_unit: Decimal::new(4_17, 4),
            unit: Unit::PerInstanceHour,
        },
    });
    inv.database_servers = 2;
    inv.cache_nodes = 3;
    for (name, replicas) in [("api", 4), ("web", 4), ("api", 1), ("worker", 7)] {
        inv.workloads.push(LiveWorkload {
            name: format!("e: prod/deployment/{name}"),
            kind: "Deployment".into(),
            replicas,
        });
    }
    let context = CostContext::new(&model, &inv, None);
    let components = model.components();
    let total = |inv: &LiveInventory| {
        let scenario = model.live_pricing.scenario(inv, "x");
        model.scenario_totals(&scenario, &components).total_minor
    };
    for (name, replicas) in [("api", 9), ("web", 0), ("worker", 2), ("gone", 5)] {
        let name = format!("e: prod/deployment/{name}");
        let change = context.change(&name, replicas);
        let changed = inv.with_replicas(&std::collections::BTreeMap::from([(
            name.clone(),
            replicas,
        )]));
        assert_eq!(change.before_minor, total(&inv), "{name}");
        assert_eq!(change.after_minor, total(&changed), "{name} to {replicas}");
    }
}
