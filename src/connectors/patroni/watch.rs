//! What `/cluster` alone does not say: a member whose Patroni hangs is listed as running until
//! its TTL passes, and one whose Patroni died drops out of the list without a word — while its
//! PostgreSQL may still take writes. So the connector remembers every member it has seen and
//! the profile's URLs, asks each member's own REST API every poll, and asks the PostgreSQL of
//! members that dropped out (and of linked servers `/cluster` does not list) whether it still
//! accepts writes.

use super::client::Api;
use super::sql::SqlAccess;
use crate::model::patroni::{
    PatroniMember, PatroniSnapshot, SilentMember, WriteCheck, norm_address,
};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// Members remembered per endpoint (a cluster has a handful; a bound keeps a misbehaving one
/// from growing the memory).
const KEPT: usize = 64;

/// A member that left `/cluster` and whose PostgreSQL does not take writes is forgotten after
/// this long: it was most likely removed on purpose (a scale-down, `patronictl remove`), and
/// reporting it for ever would keep the endpoint degraded. One that still takes writes is never
/// forgotten: that is a split brain.
const FORGET_AFTER_MS: i64 = 10 * 60 * 1000;

#[derive(Default)]
pub struct Memory {
    members: BTreeMap<String, Seen>,
    /// Profile URLs (those no member advertises) that did not answer: since, why.
    urls: BTreeMap<String, (i64, String)>,
}

struct Seen {
    last: PatroniMember,
    /// First poll its REST API did not answer (or it dropped out of `/cluster`), and why.
    failing: Option<(i64, String)>,
}

/// One REST API asked this poll: a member's (by name) or a bare profile URL.
struct Probe {
    member: Option<String>,
    base: String,
}

/// The snapshot's `silent` list from the members' own REST APIs, the memory, and SQL checks.
/// `s`: this poll's `/cluster` (members and the URL that answered).
pub async fn watch(
    api: &Api,
    sql: &SqlAccess,
    memory: &Mutex<Memory>,
    s: &PatroniSnapshot,
) -> Vec<SilentMember> {
    let now = chrono::Utc::now().timestamp_millis();
    let (probes, vanished) = {
        let mut m = memory.lock().unwrap_or_else(PoisonError::into_inner);
        for member in &s.members {
            if m.members.len() >= KEPT && !m.members.contains_key(&member.name) {
                continue;
            }
            let seen = m.members.entry(member.name.clone()).or_insert(Seen {
                last: member.clone(),
                failing: None,
            });
            seen.last = member.clone();
        }
        let mut probes: Vec<Probe> = Vec::new();
        for (name, seen) in &m.members {
            if let Some(base) = seen.last.api_url.as_deref().and_then(|u| api.read_base(u)) {
                probes.push(Probe {
                    member: Some(name.clone()),
                    base,
                });
            }
        }
        for url in api.configured() {
            if !probes.iter().any(|p| &p.base == url) {
                probes.push(Probe {
                    member: None,
                    base: url.clone(),
                });
            }
        }
        let vanished: Vec<PatroniMember> = m
            .members
            .values()
            .filter(|x| s.member(&x.last.name).is_none())
            .map(|x| x.last.clone())
            .collect();
        (probes, vanished)
    };
    // Linked servers that no member (listed or remembered) is: asked only while unlisted.
    let known: Vec<String> = s
        .members
        .iter()
        .chain(vanished.iter())
        .map(|m| norm_address(&m.address()))
        .collect();
    let strangers: Vec<(String, String)> = sql
        .linked_servers()
        .into_iter()
        .filter(|(_, a)| !known.contains(&norm_address(a)))
        .collect();
    let answered = s.answered_by.clone();
    let probing = futures::future::join_all(probes.iter().map(|p| {
        let answered = p.base == answered;
        async move {
            if answered {
                Ok(())
            } else {
                api.probe(&p.base).await
            }
        }
    }));
    let checking_vanished =
        futures::future::join_all(vanished.iter().map(|m| sql.check(&m.host, m.port)));
    let checking_strangers = futures::future::join_all(strangers.iter().map(|(_, a)| {
        let (host, port) = a.rsplit_once(':').unwrap_or((a.as_str(), ""));
        let port = port.parse().unwrap_or(5432);
        sql.identify(host, port)
    }));
    let (probed, vanished_writes, stranger_writes) =
        tokio::join!(probing, checking_vanished, checking_strangers);
    // A stranger that takes writes may be the leader reached by another address (a DNS name,
    // a VIP): the leader's own postmaster start time tells.
    let leader_started = match s.leader() {
        Some(l)
            if stranger_writes
                .iter()
                .any(|w| w.writes == WriteCheck::AcceptsWrites) =>
        {
            sql.identify(&l.host, l.port).await.started
        }
        _ => None,
    };

    let mut m = memory.lock().unwrap_or_else(PoisonError::into_inner);
    let mut silent = Vec::new();
    for (p, result) in probes.iter().zip(probed) {
        match (&p.member, result) {
            (Some(name), result) => {
                let listed = s.member(name).is_some();
                let Some(seen) = m.members.get_mut(name) else {
                    continue;
                };
                let why = match result {
                    Err(e) => Some(e),
                    Ok(()) if !listed => Some(
                        "its REST API answers, but /cluster no longer lists it (cut off from \
                         the DCS?)"
                            .to_string(),
                    ),
                    Ok(()) => None,
                };
                let Some(why) = why else {
                    seen.failing = None;
                    continue;
                };
                let since = match &mut seen.failing {
                    Some((since, reason)) => {
                        reason.clone_from(&why);
                        *since
                    }
                    None => {
                        seen.failing = Some((now, why.clone()));
                        now
                    }
                };
                let writes = if listed {
                    WriteCheck::NotNeeded
                } else {
                    vanished
                        .iter()
                        .position(|v| &v.name == name)
                        .and_then(|i| vanished_writes.get(i).cloned())
                        .unwrap_or_default()
                };
                silent.push(SilentMember {
                    name: name.clone(),
                    api_url: Some(p.base.clone()),
                    address: Some(seen.last.address()),
                    last_role: Some(seen.last.role.clone()),
                    listed,
                    since_ms: since,
                    reason: why,
                    writes,
                    not_a_member: false,
                    write_timeline: None,
                    other_than_leader: false,
                });
            }
            (None, Ok(())) => {
                m.urls.remove(&p.base);
            }
            (None, Err(why)) => {
                let since = m
                    .urls
                    .entry(p.base.clone())
                    .or_insert_with(|| (now, why.clone()))
                    .0;
                silent.push(SilentMember {
                    name: p.base.clone(),
                    api_url: Some(p.base.clone()),
                    since_ms: since,
                    reason: why,
                    ..SilentMember::default()
                });
            }
        }
    }
    // A vanished member whose API URL could not be asked (not advertised, or plain http
    // under an https profile) is still reported.
    for (v, writes) in vanished.iter().zip(vanished_writes.iter()) {
        if silent.iter().any(|x| x.name == v.name) {
            continue;
        }
        let seen = m.members.get_mut(&v.name);
        let since = seen.map_or(now, |x| x.failing.get_or_insert((now, String::new())).0);
        silent.push(SilentMember {
            name: v.name.clone(),
            api_url: None,
            address: Some(v.address()),
            last_role: Some(v.role.clone()),
            listed: false,
            since_ms: since,
            reason: "no longer in /cluster".into(),
            writes: writes.clone(),
            not_a_member: false,
            write_timeline: None,
            other_than_leader: false,
        });
    }
    for (v, writes) in vanished.iter().zip(vanished_writes.iter()) {
        let old = m
            .members
            .get(&v.name)
            .and_then(|x| x.failing.as_ref())
            .is_some_and(|(since, _)| now - since > FORGET_AFTER_MS);
        if old && *writes != WriteCheck::AcceptsWrites {
            m.members.remove(&v.name);
            silent.retain(|x| x.name != v.name);
            log::info!(
                "Patroni member {} left /cluster more than 10 minutes ago and its PostgreSQL \
                 takes no writes: no longer reported",
                v.name
            );
        }
    }
    for ((name, address), id) in strangers.into_iter().zip(stranger_writes) {
        // A read-only server outside Patroni is just another replica; an unanswering one is
        // the PostgreSQL endpoint's to report; the leader under another address is the leader.
        let same_as_leader = id.started.is_some() && id.started == leader_started;
        let writes = id.writes;
        if writes == WriteCheck::AcceptsWrites && !same_as_leader {
            silent.push(SilentMember {
                name,
                address: Some(address),
                reason: "not in /cluster".into(),
                writes,
                not_a_member: true,
                write_timeline: id.timeline,
                other_than_leader: leader_started.is_some() && id.started.is_some(),
                ..SilentMember::default()
            });
        }
    }
    silent
}

/// How the health verdict reads what the watch finds.
#[cfg(test)]
mod tests {
    use crate::health::{HealthState, assess_snapshot};
    use crate::model::patroni::*;
    use crate::model::snapshot::Snapshot;
    use crate::profiles::Thresholds;

    fn member(name: &str, role: PatroniRole, port: u16) -> PatroniMember {
        PatroniMember {
            name: name.into(),
            role,
            state: "running".into(),
            host: "127.0.0.1".into(),
            port,
            timeline: Some(2),
            lag_bytes: Some(0),
            ..PatroniMember::default()
        }
    }

    fn cluster(silent: Vec<SilentMember>) -> PatroniSnapshot {
        PatroniSnapshot {
            cluster: "c".into(),
            members: vec![
                PatroniMember {
                    lag_bytes: None,
                    ..member("m2", PatroniRole::Leader, 5002)
                },
                member("m3", PatroniRole::Replica, 5003),
            ],
            silent,
            ..PatroniSnapshot::default()
        }
    }

    fn gone(writes: WriteCheck) -> SilentMember {
        SilentMember {
            name: "m1".into(),
            api_url: Some("http://127.0.0.1:8001".into()),
            address: Some("127.0.0.1:5001".into()),
            last_role: Some(PatroniRole::Leader),
            listed: false,
            since_ms: 1_793_628_000_000,
            reason: "connection refused".into(),
            writes,
            not_a_member: false,
            write_timeline: None,
            other_than_leader: false,
        }
    }

    #[test]
    fn a_member_that_dropped_out_is_named_and_degrades_the_endpoint() {
        let h = assess_snapshot(
            &Snapshot::Patroni(Box::new(cluster(vec![gone(WriteCheck::ReadOnly)]))),
            &Thresholds::default(),
        );
        assert_eq!(h.state, HealthState::Degraded, "{h:?}");
        assert!(!h.critical);
        assert_eq!(h.exit_code(), 1);
        assert_eq!(
            h.reasons,
            [
                "m1: Patroni REST API not answering since 14:00:00 UTC (http://127.0.0.1:8001: \
              connection refused); dropped out of /cluster (last seen as leader); its \
              PostgreSQL (127.0.0.1:5001) is read-only (in recovery)"
            ]
        );
        let m1 = h.members.iter().find(|m| m.name == "m1").unwrap();
        assert_eq!(m1.state, HealthState::Down);
    }

    #[test]
    fn a_linked_server_outside_cluster_is_a_second_writer_only_when_proven_other() {
        let stranger = |other_than_leader, write_timeline| SilentMember {
            name: "db-vip".into(),
            not_a_member: true,
            other_than_leader,
            write_timeline,
            ..gone(WriteCheck::AcceptsWrites)
        };
        let on_timeline_3 = |silent| {
            let mut p = cluster(silent);
            p.members[0].timeline = Some(3);
            p
        };
        // Maybe the leader by another address (a VIP, a DNS name): not a split brain.
        assert!(!on_timeline_3(vec![stranger(false, None)]).split_brain());
        assert!(!on_timeline_3(vec![stranger(false, Some(3))]).split_brain());
        // Another postmaster than the leader's, or an older timeline: a second writer.
        assert!(on_timeline_3(vec![stranger(true, Some(3))]).split_brain());
        assert!(on_timeline_3(vec![stranger(false, Some(2))]).split_brain());
        // /history says the cluster left timeline 3 although the leader still reports 3.
        let mut p = on_timeline_3(vec![stranger(false, Some(3))]);
        p.history.push(PatroniHistoryEntry {
            timeline: 3,
            ..Default::default()
        });
        assert_eq!(p.current_timeline(), Some(4));
        assert!(p.split_brain());
    }

    #[test]
    fn a_second_writer_beside_the_leader_is_a_critical_split_brain() {
        let p = cluster(vec![gone(WriteCheck::AcceptsWrites)]);
        assert!(p.split_brain());
        let h = assess_snapshot(&Snapshot::Patroni(Box::new(p)), &Thresholds::default());
        assert!(h.critical, "{h:?}");
        assert_eq!(h.exit_code(), 2);
        assert!(h.reasons[0].starts_with("SPLIT BRAIN"), "{h:?}");
        assert!(h.reasons[0].contains("m1 (127.0.0.1:5001)"), "{h:?}");
        // Could not be checked: said so, not called a split brain.
        let p = cluster(vec![gone(WriteCheck::Unknown("no login".into()))]);
        assert!(!p.split_brain());
        let h = assess_snapshot(&Snapshot::Patroni(Box::new(p)), &Thresholds::default());
        assert!(!h.critical && h.exit_code() == 1, "{h:?}");
        assert!(
            h.reasons[0].contains("still accepts writes could not be checked: no login"),
            "{h:?}"
        );
        // The leader itself hung (still listed, within its TTL) is one writer, not two.
        let mut p = cluster(Vec::new());
        p.silent.push(SilentMember {
            name: "m2".into(),
            listed: true,
            writes: WriteCheck::AcceptsWrites,
            ..gone(WriteCheck::AcceptsWrites)
        });
        assert!(!p.split_brain());
        let h = assess_snapshot(&Snapshot::Patroni(Box::new(p)), &Thresholds::default());
        let m2 = h.members.iter().find(|m| m.name == "m2").unwrap();
        assert_eq!(m2.state, HealthState::Degraded, "{h:?}");
        assert!(
            m2.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("Patroni REST API not answering since")),
            "{h:?}"
        );
    }

    #[test]
    fn known_names_keep_a_member_that_dropped_out() {
        let p = cluster(vec![gone(WriteCheck::ReadOnly)]);
        assert_eq!(p.known_member_names(), ["m1", "m2", "m3"]);
    }
}
