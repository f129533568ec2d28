//! Load-balancer drift as an advisor series: each linked nginx upstream whose drift was read
//! gives one sample — replicas not behind it plus listed servers without a replica — so the
//! built-in "lb-drift" rule judges it like any other series (two samples, then firing; back to
//! 0, resolved). The series sits under its workload's target, so the rule's area is the
//! workload's and a gap of the workload's endpoint reaches it. The proposal names the upstream
//! and the counts, from the same report the Health panel shows.

use crate::connectors::nginx::status::LinkReport;

/// The series' metric name.
pub const METRIC: &str = "lb_drift_servers";

/// The series target of one linked upstream: `{workload target}/{upstream}`.
pub fn target(r: &LinkReport) -> String {
    format!("{}/{}", r.workload_ref.target(), r.upstream)
}

/// One (target, value) per upstream whose drift was read; an upstream that could not be read
/// gives none (no data, never a false 0).
pub fn samples(reports: &[LinkReport]) -> Vec<(String, f64)> {
    reports
        .iter()
        .filter_map(|r| {
            let d = r.drift.as_ref()?;
            let not_behind = d.replicas.saturating_sub(d.behind);
            Some((target(r), (not_behind + d.orphans.len()) as f64))
        })
        .collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The proposal for a drift alert on `alert_target`: what is off, and what fixes it (nothing
/// is applied from here: a scale of the workload through Scaleboard rewrites the upstream, a
/// reload fixes a DNS name). `advice` is the rule's words, used when no report matches.
pub fn proposal_line(reports: &[LinkReport], alert_target: &str, advice: &str) -> String {
    let found = reports.iter().find(|r| target(r) == alert_target);
    let Some((r, d)) = found.and_then(|r| r.drift.as_ref().map(|d| (r, d))) else {
        return format!("{}: {advice}", super::recommend::short_target(alert_target));
    };
    let head = format!("nginx {}, upstream {}", r.nginx, r.upstream);
    let not_behind = d.replicas.saturating_sub(d.behind);
    if d.reload_fixes && !d.missing.is_empty() {
        return format!(
            "{head}: {} started after nginx's last reload, not behind it: reload nginx (`{}`)",
            plural(d.missing.len(), "replica", "replicas"),
            r.reload_command
        );
    }
    let mut what = Vec::new();
    if not_behind > 0 {
        what.push(format!(
            "{not_behind} of {} not behind it",
            plural(d.replicas, "replica", "replicas")
        ));
    }
    if !d.orphans.is_empty() {
        what.push(format!(
            "{} without a replica",
            plural(d.orphans.len(), "listed server", "listed servers")
        ));
    }
    let name = r.workload.rsplit('/').next().unwrap_or(r.workload.as_str());
    format!(
        "{head}: {}: rewrite the upstream (a scale of {name} through Scaleboard does it) or edit \
         it by hand, then reload nginx (`{}`)",
        what.join(", "),
        r.reload_command
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::recommend::{Facts, propose};
    use crate::advisor::{Advisor, AlertState, Severity, default_rules};
    use crate::connectors::demo::{COMPOSE_ENDPOINT, lb, sim::DemoFleet};
    use crate::model::action::Action;
    use crate::model::endpoint::Area;

    /// The built-in rules over two reads of `reports`, two seconds apart, on the demo's
    /// Compose endpoint.
    fn judged(reports: &[LinkReport]) -> Advisor {
        let mut a = Advisor::new(default_rules());
        a.set_endpoints([(COMPOSE_ENDPOINT.to_string(), Area::Workloads)]);
        for t in [1_000, 3_000] {
            for (target, value) in samples(reports) {
                a.observe(&target, METRIC, t, value);
            }
        }
        a
    }

    fn facts(reports: &[LinkReport]) -> Facts<'_> {
        Facts {
            workloads: Default::default(),
            queues: &[],
            drain_target_secs: 600.0,
            cost: None,
            capacity: Default::default(),
            load_balancers: reports,
        }
    }

    #[test]
    fn a_drifted_upstream_is_a_warning_that_names_it_and_counts() {
        let reports = lb::reports(&DemoFleet::new(7, 1_793_628_000_000));
        let a = judged(&reports);
        let firing: Vec<_> = a.book.firing().collect();
        assert_eq!(firing.len(), 1, "{firing:?}");
        let alert = firing[0];
        assert_eq!(alert.rule_id, "lb-drift");
        assert_eq!(alert.severity, Severity::Warning);
        assert_eq!(alert.state, AlertState::Firing);
        assert_eq!(
            alert.target,
            "demo-staging/demo-staging/service/api/staging_api"
        );
        assert_eq!(alert.value, 2.0, "1 replica not behind + 1 orphan");
        let rule = a.rule("lb-drift").unwrap();
        let p = propose(rule, alert, &facts(&reports));
        assert_eq!(
            p.line,
            "nginx demo-lb (DEMO), upstream staging_api: 1 of 2 replicas not behind it, 1 listed \
             server without a replica: rewrite the upstream (a scale of api through Scaleboard \
             does it) or edit it by hand, then reload nginx (`nginx -s reload`)"
        );
        assert!(p.action.is_none(), "nothing is applied from a drift");
        // Without the report (not read yet), the rule's own words with the upstream's name.
        let p = propose(rule, alert, &facts(&[]));
        assert!(
            p.line.starts_with("api/staging_api: Reload nginx"),
            "{}",
            p.line
        );
    }

    #[test]
    fn an_upstream_in_sync_or_unread_raises_nothing() {
        let mut fleet = DemoFleet::new(7, 1_793_628_000_000);
        let action = Action::ScaleWorkload {
            workload: lb::workload_ref(),
            replicas: 2,
        };
        lb::follow_scale(&mut fleet, &action, 2, 2);
        let reports = lb::reports(&fleet);
        assert!(reports[0].drift.as_ref().unwrap().in_sync());
        assert_eq!(samples(&reports), [(target(&reports[0]), 0.0)]);
        let a = judged(&reports);
        assert_eq!(a.book.active().count(), 0);
        // An upstream that could not be read is no data, not a zero.
        let mut unread = reports;
        unread[0].drift = None;
        assert!(samples(&unread).is_empty());
        assert_eq!(judged(&unread).book.active().count(), 0);
    }

    #[test]
    fn a_dns_name_drift_proposes_a_reload() {
        let mut reports = lb::reports(&DemoFleet::new(7, 1_793_628_000_000));
        let d = reports[0].drift.as_mut().unwrap();
        d.reload_fixes = true;
        d.orphans.clear();
        let a = judged(&reports);
        let alert = a.book.firing().next().unwrap();
        let p = propose(a.rule("lb-drift").unwrap(), alert, &facts(&reports));
        assert_eq!(
            p.line,
            "nginx demo-lb (DEMO), upstream staging_api: 1 replica started after nginx's last \
             reload, not behind it: reload nginx (`nginx -s reload`)"
        );
    }
}
