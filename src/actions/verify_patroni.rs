//! Verification of Patroni actions by reading `/cluster`: the new leader running, and every
//! other member following it on its timeline. Patroni 3.0 reports replicas as `running`
//! (newer ones say `streaming`); following = running, on the leader's timeline, with a known lag.

use super::verify::Verification;
use crate::model::action::Action;
use crate::model::patroni::PatroniSnapshot;

pub(super) fn check(action: &Action, s: &PatroniSnapshot) -> Verification {
    match action {
        Action::PatroniCancelSwitchover { .. } => match &s.scheduled_switchover {
            None => Verification::Done("no switchover is scheduled".into()),
            Some(sw) => {
                Verification::Pending(format!("a switchover is still scheduled at {}", sw.at))
            }
        },
        Action::PatroniSwitchover {
            scheduled_at: Some(at),
            leader,
            candidate,
            ..
        } => match &s.scheduled_switchover {
            Some(sw)
                if same_time(&sw.at, at)
                    && sw.from.as_deref().is_none_or(|f| f == leader)
                    && sw.to.as_deref() == candidate.as_deref() =>
            {
                Verification::Done(format!(
                    "switchover scheduled at {}: {}",
                    sw.at,
                    sw.describe()
                ))
            }
            Some(sw) => Verification::Pending(format!(
                "the switchover scheduled is {} at {}, not the one asked ({leader} -> {} at {at})",
                sw.describe(),
                sw.at,
                candidate.as_deref().unwrap_or("Patroni's pick")
            )),
            None => Verification::Pending(format!("no switchover scheduled at {at} seen yet")),
        },
        Action::PatroniSwitchover {
            leader, candidate, ..
        } => settled(s, Some(leader.as_str()), candidate.as_deref(), false),
        Action::PatroniFailover { candidate, .. } => {
            settled(s, None, Some(candidate.as_str()), true)
        }
        _ => Verification::Pending("waiting for a matching snapshot".into()),
    }
}

/// Patroni answers the time it parsed (`03:00` back as `03:00:00`), so instants are compared.
fn same_time(seen: &str, asked: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(seen.trim()),
        chrono::DateTime::parse_from_rfc3339(asked.trim()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => seen.trim() == asked.trim(),
    }
}

/// `tolerate_stopped`: after a failover the old leader is usually down; members that are not
/// running are named but do not hold the verdict back.
fn settled(
    s: &PatroniSnapshot,
    old: Option<&str>,
    wanted: Option<&str>,
    tolerate_stopped: bool,
) -> Verification {
    let Some(l) = s.leader() else {
        return Verification::Pending("no member holds the leader lock yet".into());
    };
    if old == Some(l.name.as_str()) {
        return Verification::Pending(format!("{} still leads", l.name));
    }
    if let Some(w) = wanted
        && w != l.name
    {
        return Verification::Pending(format!("{} leads, not {w}", l.name));
    }
    let tl = l.timeline.map_or("?".into(), |t| t.to_string());
    if let Some(before) = s.switched_from_timeline
        && l.timeline.is_none_or(|t| t <= before)
    {
        return Verification::Applied(format!(
            "{} holds the leader lock but is still on timeline {tl}: its promotion is not done",
            l.name
        ));
    }
    if !l.is_running() {
        return Verification::Applied(format!(
            "{} holds the leader lock but is {}",
            l.name, l.state
        ));
    }
    let mut following = Vec::new();
    let mut behind = Vec::new();
    let mut down = Vec::new();
    for m in s.members.iter().filter(|m| m.name != l.name) {
        if !m.is_running() {
            down.push(format!("{} is {}", m.name, m.state));
        } else if m.timeline != l.timeline || l.timeline.is_none() {
            behind.push(format!(
                "{} is still on timeline {}",
                m.name,
                m.timeline.map_or("?".into(), |t| t.to_string())
            ));
        } else if m.lag_bytes.is_none() {
            behind.push(format!("{} does not stream yet (lag unknown)", m.name));
        } else {
            following.push(m.name.clone());
        }
    }
    let seen = format!(
        "{} leads on timeline {tl}{}",
        l.name,
        if following.is_empty() {
            String::new()
        } else {
            format!("; {} follow it", following.join(", "))
        }
    );
    if behind.is_empty() && (down.is_empty() || tolerate_stopped) {
        if down.is_empty() {
            Verification::Done(seen)
        } else {
            Verification::Done(format!(
                "{seen}; {} (start it to rejoin as a replica)",
                down.join(", ")
            ))
        }
    } else {
        behind.extend(down);
        Verification::Applied(format!("{seen}; not settled yet: {}", behind.join(", ")))
    }
}
