//! Patroni's JSON into the model: `/cluster`, `/history`, `/config`. Unknown fields are
//! ignored and odd values (lag "unknown", a timeline as text) become `None`, never an error:
//! Patroni's answers vary between versions.

use crate::model::patroni::{
    PatroniHistoryEntry, PatroniMember, PatroniRole, PatroniSnapshot, ScheduledSwitchover,
};
use serde_json::Value;

/// `/cluster` into a snapshot without history or config.
pub fn cluster(body: &Value) -> Result<PatroniSnapshot, String> {
    let members = body
        .get("members")
        .and_then(Value::as_array)
        .ok_or("the /cluster answer has no \"members\" list (is this a Patroni REST API?)")?;
    let mut snapshot = PatroniSnapshot {
        cluster: body
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        paused: body.get("pause").and_then(Value::as_bool).unwrap_or(false),
        ..PatroniSnapshot::default()
    };
    snapshot.members = members.iter().map(member).collect();
    if let Some(s) = body.get("scheduled_switchover") {
        snapshot.scheduled_switchover = Some(ScheduledSwitchover {
            at: text(s.get("at")).unwrap_or_default(),
            from: text(s.get("from")),
            to: text(s.get("to")),
        });
    }
    Ok(snapshot)
}

fn member(m: &Value) -> PatroniMember {
    let tags = m.get("tags").and_then(Value::as_object);
    let flag = |key: &str| {
        tags.and_then(|t| t.get(key))
            .is_some_and(|v| v.as_bool().unwrap_or(false) || v.as_str() == Some("true"))
    };
    let other_tags = tags
        .map(|t| {
            t.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "nofailover" | "noloadbalance"))
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    v => format!("{k}={v}"),
                })
                .collect()
        })
        .unwrap_or_default();
    PatroniMember {
        name: text(m.get("name")).unwrap_or_default(),
        role: PatroniRole::parse(m.get("role").and_then(Value::as_str).unwrap_or("")),
        state: text(m.get("state")).unwrap_or_else(|| "unknown".into()),
        api_url: text(m.get("api_url")),
        host: text(m.get("host")).unwrap_or_default(),
        port: number(m.get("port"))
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(5432),
        timeline: number(m.get("timeline")).and_then(|t| u32::try_from(t).ok()),
        lag_bytes: number(m.get("lag")),
        nofailover: flag("nofailover"),
        noloadbalance: flag("noloadbalance"),
        other_tags,
        pending_restart: m
            .get("pending_restart")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// `/history`: a list of `[timeline, lsn, reason, timestamp, new_leader]`, oldest first.
pub fn history(body: &Value) -> Vec<PatroniHistoryEntry> {
    let Some(list) = body.as_array() else {
        return Vec::new();
    };
    let mut out: Vec<PatroniHistoryEntry> = list
        .iter()
        .filter_map(|row| {
            let row = row.as_array()?;
            Some(PatroniHistoryEntry {
                timeline: u32::try_from(number(row.first())?).ok()?,
                lsn: number(row.get(1)).unwrap_or(0),
                reason: text(row.get(2)).unwrap_or_default(),
                timestamp: text(row.get(3)),
                new_leader: text(row.get(4)),
            })
        })
        .collect();
    let keep = PatroniSnapshot::HISTORY_KEPT;
    if out.len() > keep {
        out.drain(..out.len() - keep);
    }
    out
}

/// What `/config` says about failover: its limit and synchronous mode.
#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    pub maximum_lag_on_failover: Option<u64>,
    /// `true`/`on`/`quorum`.
    pub synchronous_mode: bool,
    /// `quorum` (Patroni 4): a quorum of standbys, any of which may take over.
    pub quorum: bool,
}

pub fn config(body: &Value) -> Config {
    let mode = body.get("synchronous_mode");
    let quorum = mode
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("quorum"));
    Config {
        maximum_lag_on_failover: number(body.get("maximum_lag_on_failover")),
        synchronous_mode: quorum
            || mode.is_some_and(|v| {
                v.as_bool().unwrap_or(false)
                    || v.as_str()
                        .is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "on" | "true"))
            }),
        quorum,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_patroni_3_cluster_answer() {
        let body: Value = serde_json::from_str(
            r#"{"members": [
              {"name": "m1", "role": "leader", "state": "running",
               "api_url": "http://127.0.0.1:8008/patroni", "host": "127.0.0.1", "port": 5432,
               "timeline": 2},
              {"name": "m2", "role": "replica", "state": "running", "host": "127.0.0.1",
               "port": 5433, "timeline": 2, "lag": 1024, "tags": {"nofailover": true, "zone": "b"},
               "pending_restart": true},
              {"name": "m3", "role": "sync_standby", "state": "stopped", "host": "h3",
               "port": 5434, "lag": "unknown"}],
             "scope": "demo", "pause": true,
             "scheduled_switchover": {"at": "2026-12-01T10:00:00+00:00", "from": "m1", "to": "m3"}}"#,
        )
        .unwrap();
        let s = cluster(&body).unwrap();
        assert_eq!(s.cluster, "demo");
        assert!(s.paused);
        assert_eq!(s.leader().map(|l| l.name.as_str()), Some("m1"));
        let m2 = s.member("m2").unwrap();
        assert!(m2.nofailover && m2.pending_restart);
        assert_eq!(m2.lag_bytes, Some(1024));
        assert_eq!(m2.other_tags, vec!["zone=b".to_string()]);
        let m3 = s.member("m3").unwrap();
        assert_eq!(m3.role, PatroniRole::SyncStandby);
        assert_eq!(m3.lag_bytes, None);
        assert!(!m3.is_running());
        assert_eq!(
            s.scheduled_switchover.as_ref().unwrap().to.as_deref(),
            Some("m3")
        );
        assert!(cluster(&serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn reads_history_and_config() {
        let h: Value = serde_json::from_str(
            r#"[[1, 50331808, "no recovery target specified", "2026-11-30T13:00:00+00:00", "m2"],
                [2, 83886240, "no recovery target specified"]]"#,
        )
        .unwrap();
        let h = history(&h);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].new_leader.as_deref(), Some("m2"));
        assert_eq!(h[1].timestamp, None);
        let c = serde_json::json!({"maximum_lag_on_failover": 2048, "synchronous_mode": true});
        let c = config(&c);
        assert_eq!(
            (c.maximum_lag_on_failover, c.synchronous_mode),
            (Some(2048), true)
        );
        let none = config(&serde_json::json!({}));
        assert_eq!(
            (none.maximum_lag_on_failover, none.synchronous_mode),
            (None, false)
        );
    }

    #[test]
    fn reads_quorum_mode_and_quorum_standbys() {
        let c = config(&serde_json::json!({"synchronous_mode": "quorum"}));
        assert!(c.synchronous_mode && c.quorum, "{c:?}");
        let off = config(&serde_json::json!({"synchronous_mode": "off"}));
        assert!(!off.synchronous_mode && !off.quorum);
        let body = serde_json::json!({"members": [
            {"name": "m1", "role": "leader", "state": "running"},
            {"name": "m2", "role": "quorum_standby", "state": "streaming", "lag": 0}]});
        let s = cluster(&body).unwrap();
        let m2 = s.member("m2").unwrap();
        assert_eq!(m2.role, PatroniRole::QuorumStandby);
        assert_eq!(m2.role.label(), "quorum_standby");
        assert!(m2.role.is_synchronous() && !m2.role.is_leader());
    }
}
