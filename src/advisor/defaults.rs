//! The built-in rules: exactly the triggers of the scaling guides this product grew from.
//!
//! - "Performance Triggers" of the growth roadmap: response time above 3 s on average for 1 hour,
//!   CPU above 80 % for 30 minutes, memory above 85 % for 30 minutes, database connections above
//!   80 % of the pool (of `max_connections` on a server, and of a PgBouncer pool's limit), error
//!   rate above 2 % for 15 minutes;
//! - "Auto-Scaling Triggers/Configuration" of the scaling guide: queue length above 1,000, scale
//!   up at 70 % and down at 30 %, between 2 and 10 instances;
//! - the recommendations of `scaling-metrics.sh`, `scaling-alerts.sh` and
//!   `cost-optimization.sh` ("Consider adding database read replicas", "add more instances",
//!   "CPU below 30 %: consider downsizing");
//! - the load-balancer drift of issue 23: a linked nginx upstream with replicas not behind it or
//!   listed servers without a replica (any at all: a replica nginx does not know gets no
//!   traffic, a listed server with nothing behind it gets requests that fail).

use super::rules::{Aggregation, Comparison, ProposalKind, Rule, Selector, Severity};
use crate::model::endpoint::Area;

/// The guides' autoscaling bounds and target.
pub const MIN_INSTANCES: u32 = 2;
pub const MAX_INSTANCES: u32 = 10;
pub const SCALE_UP_AT_PERCENT: f64 = 70.0;
pub const SCALE_DOWN_AT_PERCENT: f64 = 30.0;

const ROADMAP: &str = "built-in (growth roadmap, Performance Triggers)";
const GUIDE: &str = "built-in (scaling guide, Auto-Scaling Triggers)";
const COST_SCRIPT: &str = "built-in (cost-optimization.sh)";
const LB_ISSUE: &str = "built-in (load balancers, issue 23)";

#[allow(clippy::too_many_arguments)]
fn rule(
    id: &str,
    title: &str,
    metric: &str,
    area: Area,
    comparison: Comparison,
    threshold: f64,
    duration_secs: u64,
    aggregation: Aggregation,
    severity: Severity,
    propose: ProposalKind,
    advice: &str,
    source: &str,
) -> Rule {
    Rule {
        id: id.into(),
        title: title.into(),
        enabled: true,
        selector: Selector {
            metric: metric.into(),
            area: Some(area),
            target: "*".into(),
        },
        query: None,
        comparison,
        threshold,
        duration_secs,
        aggregation,
        severity,
        propose,
        advice: advice.into(),
        min_replicas: MIN_INSTANCES,
        max_replicas: MAX_INSTANCES,
        target_percent: SCALE_UP_AT_PERCENT,
        hysteresis_percent: 5.0,
        source: source.into(),
    }
}

/// Every built-in rule, in a stable order (the order profiles and lists show).
pub fn default_rules() -> Vec<Rule> {
    use Aggregation::{Avg, Last};
    use Comparison::{Above, Below};
    use ProposalKind::{Advice, DrainQueue, LoadBalancer, ScaleDown, ScaleUp};
    use Severity::{Critical, Warning};
    vec![
        rule(
            "response-time",
            "Slow responses",
            "latency_ms",
            Area::Health,
            Above,
            3000.0,
            3600,
            Avg,
            Critical,
            Advice,
            "Consider adding more API servers or optimizing code (response time)",
            ROADMAP,
        ),
        rule(
            "cpu-high",
            "High CPU",
            "cpu_percent",
            Area::Workloads,
            Above,
            80.0,
            1800,
            Avg,
            Warning,
            ScaleUp,
            "Scale up or add more instances",
            ROADMAP,
        ),
        rule(
            "memory-high",
            "High memory",
            "memory_percent",
            Area::Workloads,
            Above,
            85.0,
            1800,
            Avg,
            Warning,
            ScaleUp,
            "Add more instances (memory)",
            ROADMAP,
        ),
        rule(
            "db-connections",
            "Database connections near the limit",
            "connections_percent",
            Area::Databases,
            Above,
            80.0,
            0,
            Last,
            Critical,
            Advice,
            "Add a read replica or a connection pooler",
            ROADMAP,
        ),
        // The same trigger read where a pool sits in front of the database: PgBouncer's busy
        // server connections as a share of the pool's limit.
        rule(
            "pool-saturation",
            "Connection pool near its limit",
            "pool_used_percent",
            Area::Databases,
            Above,
            80.0,
            0,
            Last,
            Critical,
            Advice,
            "Raise the pool size (pool_size / default_pool_size) if the database has connections \
             to spare, else add a read replica",
            ROADMAP,
        ),
        rule(
            "error-rate",
            "High error rate",
            "error_rate_percent",
            Area::Health,
            Above,
            2.0,
            900,
            Avg,
            Critical,
            Advice,
            "Check the application logs and fix the errors",
            ROADMAP,
        ),
        rule(
            "queue-length",
            "Long queue",
            "depth",
            Area::Queues,
            Above,
            1000.0,
            0,
            Last,
            Warning,
            DrainQueue,
            "Add workers to drain the backlog",
            GUIDE,
        ),
        rule(
            "cpu-low",
            "Idle capacity",
            "cpu_percent",
            Area::Workloads,
            Below,
            SCALE_DOWN_AT_PERCENT,
            1800,
            Avg,
            Warning,
            ScaleDown,
            "Consider downsizing (low CPU usage)",
            COST_SCRIPT,
        ),
        rule(
            "lb-drift",
            "Load-balancer drift",
            super::lb_drift::METRIC,
            Area::Workloads,
            Above,
            0.0,
            0,
            Last,
            Warning,
            LoadBalancer,
            "Reload nginx or rewrite the upstream so it lists the running replicas",
            LB_ISSUE,
        ),
    ]
}
