//! Plans for Patroni switchover, failover and the cancel of a scheduled switchover. The guards
//! mirror the checks Patroni itself makes (`is_failover_possible`, a member's failover
//! limitations, the sync-standby rule), in plain words and before Patroni would refuse with a
//! bare "412 no good candidates have been found".

use super::plan::{Alternative, FleetView, Guard, Plan, PlanPolicy, format_bytes, unknown_target};
use crate::model::action::Action;
use crate::model::patroni::{PatroniMember, PatroniSnapshot};
use crate::model::snapshot::DbServer;

pub(super) fn plan_patroni(action: &Action, fleet: &dyn FleetView, policy: &PlanPolicy) -> Plan {
    let (Action::PatroniSwitchover {
        endpoint, cluster, ..
    }
    | Action::PatroniFailover {
        endpoint, cluster, ..
    }
    | Action::PatroniCancelSwitchover { endpoint, cluster }) = action
    else {
        return unknown_target(action, policy, "not a Patroni action".into());
    };
    let Some(s) = fleet.patroni(endpoint) else {
        return unknown_target(
            action,
            policy,
            format!("Patroni cluster {cluster} has not been seen yet."),
        );
    };
    let mut guards = Vec::new();
    let (title, after, command, dangerous) = match action {
        Action::PatroniSwitchover {
            leader,
            candidate,
            scheduled_at,
            ..
        } => {
            switchover_guards(
                s,
                leader,
                candidate.as_deref(),
                scheduled_at.as_deref(),
                &mut guards,
            );
            let to = candidate.as_deref().unwrap_or("the member Patroni picks");
            (
                format!("Switchover {cluster} (endpoint {endpoint}): {leader} -> {to}"),
                match scheduled_at {
                    Some(at) => format!("at {at}: {to} leads, {leader} follows it"),
                    None => {
                        format!("{to} leads on a new timeline, {leader} and the others follow it")
                    }
                },
                switchover_command(s, leader, candidate.as_deref(), scheduled_at.as_deref()),
                true,
            )
        }
        Action::PatroniFailover { candidate, .. } => {
            failover_guards(s, candidate, &mut guards);
            (
                format!("Failover {cluster} (endpoint {endpoint}) to {candidate}"),
                format!("{candidate} leads on a new timeline"),
                format!(
                    "{} failover {} --candidate {candidate} --force\n# or: {} -XPOST {}/failover -d '{{\"candidate\":\"{candidate}\"}}'",
                    patronictl(s),
                    s.cluster,
                    curl(s),
                    s.answered_by
                ),
                true,
            )
        }
        _ => {
            match &s.scheduled_switchover {
                Some(sw) => guards.push(Guard::pass(format!(
                    "A switchover is scheduled at {}{}: it will not happen.",
                    sw.at,
                    sw.to
                        .as_deref()
                        .map_or(String::new(), |to| format!(" to {to}"))
                ))),
                None => guards.push(Guard::refuse(format!(
                    "No switchover is scheduled in {cluster}: there is nothing to cancel."
                ))),
            }
            (
                format!("Cancel the scheduled switchover of {cluster} (endpoint {endpoint})"),
                "no switchover scheduled".to_string(),
                format!(
                    "{} flush {} switchover\n# or: {} -XDELETE {}/switchover",
                    patronictl(s),
                    s.cluster,
                    curl(s),
                    s.answered_by
                ),
                false,
            )
        }
    };
    if s.config_unread && !matches!(action, Action::PatroniCancelSwitchover { .. }) {
        guards.push(Guard::warn(
            "Patroni's /config could not be read, so maximum_lag_on_failover and \
             synchronous_mode are unknown: these checks assume Patroni's defaults (1 MiB, off), \
             and Patroni may still refuse with its own settings.",
        ));
    }
    Plan {
        action: action.clone(),
        title,
        before: before_text(s, endpoint),
        after,
        command,
        guards,
        dangerous,
        alternative: None,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

fn patronictl(s: &PatroniSnapshot) -> String {
    format!(
        "patronictl -c {}",
        s.patronictl_config.as_deref().unwrap_or("<patroni.yml>")
    )
}

fn curl(s: &PatroniSnapshot) -> String {
    match &s.api_user {
        Some(u) => format!("curl -s -u {u}"),
        None => "curl -s".to_string(),
    }
}

fn switchover_command(
    s: &PatroniSnapshot,
    leader: &str,
    candidate: Option<&str>,
    at: Option<&str>,
) -> String {
    let mut ctl = format!(
        "{} switchover {} --leader {leader}",
        patronictl(s),
        s.cluster
    );
    let mut body = format!("\"leader\":\"{leader}\"");
    if let Some(c) = candidate {
        ctl.push_str(&format!(" --candidate {c}"));
        body.push_str(&format!(",\"candidate\":\"{c}\""));
    }
    match at {
        Some(at) => {
            ctl.push_str(&format!(" --scheduled {at}"));
            body.push_str(&format!(",\"scheduled_at\":\"{at}\""));
        }
        None => ctl.push_str(" --scheduled now"),
    }
    ctl.push_str(" --force");
    format!(
        "{ctl}\n# or: {} -XPOST {}/switchover -d '{{{body}}}'",
        curl(s),
        s.answered_by
    )
}

/// The members table kept in the plan and the audit record as "before".
fn before_text(s: &PatroniSnapshot, endpoint: &str) -> String {
    let mut lines = vec![
        format!(
            "Patroni endpoint {endpoint}, cluster {}{}, read from {}",
            s.cluster,
            if s.paused { " (paused)" } else { "" },
            s.answered_by
        ),
        s.config_text(),
    ];
    for m in &s.members {
        let mut line = format!(
            "{} {} {} (timeline {}, lag {})",
            m.name,
            m.role.label(),
            m.state,
            m.timeline.map_or("?".into(), |t| t.to_string()),
            m.lag_bytes.map_or("—".into(), format_bytes)
        );
        let tags = m.tags_text();
        if !tags.is_empty() {
            line.push_str(&format!(" [{tags}]"));
        }
        lines.push(line);
    }
    if let Some(sw) = &s.scheduled_switchover {
        lines.push(format!(
            "switchover {} scheduled at {}",
            sw.describe(),
            sw.at
        ));
    }
    lines.join("\n")
}

/// Why Patroni would not promote this member, in words; `None` when it may.
pub(super) fn limitation(
    s: &PatroniSnapshot,
    m: &PatroniMember,
    switchover: bool,
) -> Option<String> {
    let name = &m.name;
    if m.nofailover {
        return Some(format!(
            "{name} is tagged nofailover: Patroni never promotes it (it would answer \"412 no \
             good candidates have been found\"). Remove the tag from its patroni.yml and reload \
             Patroni, or pick another member."
        ));
    }
    if !m.is_running() {
        return Some(format!(
            "{name} is {}, not running: only a running member can take over.",
            m.state
        ));
    }
    if m.api_url.is_none() {
        return Some(format!(
            "{name} has no REST API address in the cluster: Patroni cannot ask it whether it is \
             healthy."
        ));
    }
    match m.lag_bytes {
        Some(lag) if lag > s.lag_limit() => {
            return Some(format!(
                "{name} is {} behind, more than maximum_lag_on_failover ({}): Patroni refuses to \
                 promote a member that far behind. Wait for it to catch up.",
                format_bytes(lag),
                s.lag_limit_text()
            ));
        }
        _ => {}
    }
    if let (Some(tl), Some(cluster_tl)) = (m.timeline, s.leader().and_then(|l| l.timeline))
        && tl < cluster_tl
    {
        return Some(format!(
            "{name} is on timeline {tl}, behind the leader's {cluster_tl}: it has not followed \
             the last leader change yet."
        ));
    }
    if switchover && s.quorum_mode && !m.role.is_synchronous() {
        return Some(format!(
            "synchronous_mode is quorum and {name} is not a quorum standby: Patroni only \
             switches over to a member of the synchronous quorum."
        ));
    }
    if switchover && s.synchronous_mode && !s.quorum_mode && !m.role.is_synchronous() {
        return Some(format!(
            "synchronous_mode is on and {name} is not a sync standby: Patroni only switches over \
             to the synchronous standby (it would answer \"412 candidate name does not match \
             with sync_standby\")."
        ));
    }
    None
}

fn candidate_guards(
    s: &PatroniSnapshot,
    candidate: &str,
    switchover: bool,
    guards: &mut Vec<Guard>,
) {
    let Some(m) = s.member(candidate) else {
        guards.push(Guard::refuse(format!(
            "{candidate} is not a member of {} (members: {}).",
            s.cluster,
            s.members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
        return;
    };
    if m.role.is_leader() {
        guards.push(Guard::refuse(format!("{candidate} is the leader already.")));
        return;
    }
    match limitation(s, m, switchover) {
        Some(why) => guards.push(Guard::refuse(why)),
        None => guards.push(Guard::pass(format!(
            "{candidate} is running, {} behind (limit {}), on timeline {}{}.",
            m.lag_bytes.map_or("an unknown amount".into(), format_bytes),
            s.lag_limit_text(),
            m.timeline.map_or("?".into(), |t| t.to_string()),
            if m.role.is_synchronous() {
                format!(", {}", m.role.label())
            } else {
                String::new()
            }
        ))),
    }
    if m.lag_bytes.is_none() && m.is_running() {
        guards.push(Guard::warn(format!(
            "Patroni reports {candidate}'s lag as unknown: it may not be streaming."
        )));
    }
    if m.pending_restart {
        guards.push(Guard::warn(format!(
            "{candidate} has a pending restart: settings changed that take effect only after \
             a restart."
        )));
    }
}

fn switchover_guards(
    s: &PatroniSnapshot,
    leader: &str,
    candidate: Option<&str>,
    at: Option<&str>,
    guards: &mut Vec<Guard>,
) {
    match s.leader() {
        None => guards.push(Guard::refuse(format!(
            "{} has no leader: a switchover needs a healthy leader to hand over. Use a failover \
             to a named candidate instead.",
            s.cluster
        ))),
        Some(l) if l.name != leader => guards.push(Guard::refuse(format!(
            "{} leads {} now, not {leader}: Patroni would answer \"412 leader name does not \
             match\". Plan again from the current leader.",
            l.name, s.cluster
        ))),
        Some(l) if !l.is_running() => guards.push(Guard::refuse(format!(
            "The leader {leader} is {}, not running: a switchover needs a healthy leader. Use a \
             failover instead.",
            l.state
        ))),
        Some(_) => guards.push(Guard::pass(format!("{leader} leads and is running."))),
    }
    if let Some(at) = at {
        if chrono::DateTime::parse_from_rfc3339(at).is_err() {
            guards.push(Guard::refuse(format!(
                "\"{at}\" is not a time Patroni accepts: write it in ISO 8601 with a time zone, \
                 e.g. 2026-12-01T03:00:00+00:00."
            )));
        }
        if s.paused {
            guards.push(Guard::refuse(
                "The cluster is paused (maintenance mode): Patroni cannot schedule a switchover \
                 then. Resume it first, or switch over now.",
            ));
        }
    }
    if s.paused && candidate.is_none() {
        guards.push(Guard::refuse(
            "The cluster is paused (maintenance mode): Patroni switches over only to a named \
             candidate then.",
        ));
    }
    if let Some(sw) = &s.scheduled_switchover {
        guards.push(Guard::warn(format!(
            "A switchover is already scheduled at {}: this one replaces it.",
            sw.at
        )));
    }
    match candidate {
        Some(c) => candidate_guards(s, c, true, guards),
        None => {
            let able: Vec<&str> = s
                .members
                .iter()
                .filter(|m| !m.role.is_leader() && limitation(s, m, true).is_none())
                .map(|m| m.name.as_str())
                .collect();
            if able.is_empty() {
                let why: Vec<String> = s
                    .members
                    .iter()
                    .filter(|m| !m.role.is_leader())
                    .filter_map(|m| limitation(s, m, true))
                    .collect();
                guards.push(Guard::refuse(format!(
                    "No member may take over, so Patroni would answer \"412 no good candidates \
                     have been found\": {}",
                    if why.is_empty() {
                        "the cluster has no member besides the leader.".to_string()
                    } else {
                        why.join(" ")
                    }
                )));
            } else {
                guards.push(Guard::pass(format!(
                    "Patroni picks the healthiest of: {}.",
                    able.join(", ")
                )));
            }
        }
    }
}

fn failover_guards(s: &PatroniSnapshot, candidate: &str, guards: &mut Vec<Guard>) {
    match s.leader() {
        Some(l) if l.is_running() => guards.push(Guard::refuse(format!(
            "{} leads and is running: use a switchover, which hands over cleanly. A failover is \
             for a cluster without a healthy leader.",
            l.name
        ))),
        Some(l) => guards.push(Guard::pass(format!(
            "The leader {} is {}: a failover is what is needed.",
            l.name, l.state
        ))),
        None => guards.push(Guard::pass(format!("{} has no leader.", s.cluster))),
    }
    if s.paused {
        guards.push(Guard::pass(
            "The cluster is paused: Patroni will not fail over by itself, so this manual \
             failover is the way to get a leader.",
        ));
    }
    candidate_guards(s, candidate, false, guards);
}

/// The Patroni member a PostgreSQL server is, matched by its `host:port` (or its name), with
/// the endpoint and cluster it belongs to.
pub fn managed_by_patroni<'a>(
    fleet: &'a dyn FleetView,
    server: &DbServer,
) -> Option<(&'a str, &'a PatroniSnapshot, &'a PatroniMember)> {
    let wanted: Vec<String> = server
        .address
        .iter()
        .chain(std::iter::once(&server.name))
        .map(|a| crate::model::patroni::norm_address(a))
        .collect();
    fleet.patroni_clusters().into_iter().find_map(|(e, s)| {
        s.members
            .iter()
            .find(|m| wanted.contains(&crate::model::patroni::norm_address(&m.address())))
            .map(|m| (e, s, m))
    })
}

/// The refusal for `pg_promote` on a Patroni member, with the switchover offered instead.
/// A server of a PostgreSQL endpoint that a Patroni endpoint names in `discover_from` is
/// Patroni's even when no member's address matches (a DNS name against an IP), and while
/// that Patroni endpoint has not been read yet its state is unknown: refused too.
pub(super) fn promote_refusal(
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
    endpoint: &str,
    server: &DbServer,
) -> Option<(Guard, Option<Alternative>)> {
    if let Some((patroni, s, m)) = managed_by_patroni(fleet, server) {
        let guard = Guard::refuse(format!(
            "{} is managed by Patroni cluster {} (member {}): pg_promote would fight Patroni's \
             leader lock and can leave two primaries. Use a switchover (or, without a healthy \
             leader, a failover) through Patroni instead: {}. Do not stop the leader by hand: \
             Patroni starts it again.",
            server.name,
            s.cluster,
            m.name,
            through_patroni(&s.cluster, &m.name)
        ));
        return Some((guard, switchover_to(patroni, s, &m.name)));
    }
    let link = policy
        .patroni_links
        .iter()
        .find(|l| l.postgres == endpoint)?;
    let Some(s) = fleet.patroni(&link.patroni) else {
        return Some((
            Guard::refuse(format!(
                "{} belongs to PostgreSQL endpoint {endpoint}, whose servers Patroni endpoint {} \
                 manages (discover_from), and the Patroni state is unknown: it has not been \
                 read yet. pg_promote would fight Patroni's leader lock; wait for the Patroni \
                 endpoint to answer and use a switchover or failover through it.",
                server.name, link.patroni
            )),
            None,
        ));
    };
    let member = s
        .members
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(&server.name))
        .map(|m| m.name.as_str());
    let guard = Guard::refuse(format!(
        "{} belongs to PostgreSQL endpoint {endpoint}, whose servers Patroni endpoint {} \
         (cluster {}) manages (discover_from): pg_promote would fight Patroni's leader lock and \
         can leave two primaries. Use a switchover (or, without a healthy leader, a failover) \
         through Patroni instead: {}. Do not stop the leader by hand: Patroni starts it again.",
        server.name,
        link.patroni,
        s.cluster,
        through_patroni(&s.cluster, member.unwrap_or("MEMBER"))
    ));
    Some((
        guard,
        member.and_then(|m| switchover_to(&link.patroni, s, m)),
    ))
}

/// The commands that move the leader through Patroni.
fn through_patroni(cluster: &str, member: &str) -> String {
    format!(
        "`scaleboard switchover {cluster} --candidate {member}`, or `scaleboard failover \
         {cluster} --candidate {member}` when no leader is healthy"
    )
}

fn switchover_to(endpoint: &str, s: &PatroniSnapshot, member: &str) -> Option<Alternative> {
    s.leader().map(|l| Alternative {
        label: format!(
            "Switch over {} to {member} through Patroni instead",
            s.cluster
        ),
        action: Action::PatroniSwitchover {
            endpoint: endpoint.to_string(),
            cluster: s.cluster.clone(),
            leader: l.name.clone(),
            candidate: Some(member.to_string()),
            scheduled_at: None,
        },
    })
}

#[cfg(test)]
#[path = "plan_patroni_tests.rs"]
mod tests;
