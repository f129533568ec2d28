//! The facts a Patroni plan rests on: what the re-check right before the write compares. Lag
//! enters as its verdict (within or over `maximum_lag_on_failover`), never as the live number,
//! which moves with every write.

use super::plan_patroni::limitation;
use super::recheck::Fact;
use crate::model::action::Action;
use crate::model::patroni::PatroniSnapshot;

/// The facts a Patroni plan rests on, compared right before the write.
pub(super) fn facts(action: &Action, s: Option<&PatroniSnapshot>, out: &mut Vec<Fact>) {
    let Some(s) = s else {
        out.push(Fact {
            what: "Patroni cluster".into(),
            value: "not seen".into(),
        });
        return;
    };
    let mut push = |what: String, value: String| out.push(Fact { what, value });
    let leader = s.leader().map_or("none".to_string(), |l| {
        format!(
            "{} ({})",
            l.name,
            if l.is_running() {
                "running"
            } else {
                l.state.as_str()
            }
        )
    });
    // Every Patroni write depends on it: a new one replaces it, a cancel removes it.
    push(
        "scheduled switchover".into(),
        s.scheduled_switchover.as_ref().map_or("none".into(), |sw| {
            format!("{} at {}", sw.describe(), sw.at)
        }),
    );
    match action {
        Action::PatroniCancelSwitchover { .. } => {}
        Action::PatroniSwitchover { .. } | Action::PatroniFailover { .. } => {
            push("leader".into(), leader);
            push("Patroni /config".into(), s.config_text());
            push("paused".into(), s.paused.to_string());
            let candidate = match action {
                Action::PatroniFailover { candidate, .. } => Some(candidate.as_str()),
                Action::PatroniSwitchover { candidate, .. } => candidate.as_deref(),
                _ => None,
            };
            let switchover = matches!(action, Action::PatroniSwitchover { .. });
            match candidate {
                Some(c) => match s.member(c) {
                    None => push(format!("member {c}"), "not in the cluster".into()),
                    Some(m) => {
                        push(
                            format!("state of {c}"),
                            format!(
                                "{} {} on timeline {}",
                                m.role.label(),
                                m.state,
                                m.timeline.map_or("?".into(), |t| t.to_string())
                            ),
                        );
                        // The verdict, not the live number: lag moves with every write.
                        push(
                            format!("lag of {c}"),
                            match m.lag_bytes {
                                None => "unknown".into(),
                                Some(l) if l > s.lag_limit() => "over the limit".into(),
                                Some(_) => "within the limit".into(),
                            },
                        );
                        push(format!("tags of {c}"), m.tags_text());
                    }
                },
                None => push(
                    "members that may take over".into(),
                    s.members
                        .iter()
                        .filter(|m| !m.role.is_leader() && limitation(s, m, switchover).is_none())
                        .map(|m| m.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            }
        }
        _ => {}
    }
}
