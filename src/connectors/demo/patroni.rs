//! The demo fleet's Patroni cluster: three members on one leader lock, one tagged `nofailover`,
//! answering switchover, failover and cancel like Patroni would (a switchover settles over a
//! few seconds: the old leader restarts as a replica on the new timeline).

use crate::connectors::ConnectorError;
use crate::model::action::Action;
use crate::model::patroni::{
    PatroniHistoryEntry, PatroniMember, PatroniRole, PatroniSnapshot, ScheduledSwitchover,
};
use crate::model::snapshot::Sample;

pub const CLUSTER: &str = "billing-ha";

pub struct DemoPatroni {
    pub snapshot: PatroniSnapshot,
    /// Seconds until members restarting after a leader change are running again.
    settle_s: u32,
    lsn: u64,
}

fn member(name: &str, port: u16, role: PatroniRole, nofailover: bool) -> PatroniMember {
    PatroniMember {
        name: name.into(),
        role,
        state: "running".into(),
        api_url: Some(format!("http://10.0.2.{}:8008/patroni", port - 5430)),
        host: format!("10.0.2.{}", port - 5430),
        port: 5432,
        timeline: Some(3),
        lag_bytes: None,
        nofailover,
        ..PatroniMember::default()
    }
}

impl DemoPatroni {
    pub fn new() -> Self {
        let history = vec![
            PatroniHistoryEntry {
                timeline: 1,
                lsn: 0x0500_0060,
                reason: "no recovery target specified".into(),
                timestamp: Some("2026-10-02T03:14:07+00:00".into()),
                new_leader: Some("pg-b".into()),
            },
            PatroniHistoryEntry {
                timeline: 2,
                lsn: 0x0900_00A0,
                reason: "no recovery target specified".into(),
                timestamp: Some("2026-11-12T22:40:51+00:00".into()),
                new_leader: Some("pg-a".into()),
            },
        ];
        Self {
            snapshot: PatroniSnapshot {
                cluster: CLUSTER.into(),
                members: vec![
                    member("pg-a", 5431, PatroniRole::Leader, false),
                    member("pg-b", 5432, PatroniRole::Replica, false),
                    member("pg-c", 5433, PatroniRole::Replica, true),
                ],
                history,
                maximum_lag_on_failover: Some(1 << 20),
                answered_by: "http://10.0.2.1:8008".into(),
                patronictl_config: Some("/etc/patroni/patroni.yml".into()),
                ..PatroniSnapshot::default()
            },
            settle_s: 0,
            lsn: 0x0A00_0000,
        }
    }

    /// One simulated second: write load moves the lag of the replicas.
    pub fn step(&mut self, load: f64, noise: f64) {
        self.lsn += (load * 400_000.0) as u64;
        if self.settle_s > 0 {
            self.settle_s -= 1;
        }
        let tl = self.snapshot.timeline();
        let settling = self.settle_s > 0;
        for (i, m) in self.snapshot.members.iter_mut().enumerate() {
            if m.role.is_leader() {
                m.lag_bytes = None;
                continue;
            }
            if settling && m.state != "running" {
                continue;
            }
            m.state = "running".into();
            m.timeline = tl;
            let base = if i == 2 { 180_000.0 } else { 20_000.0 };
            m.lag_bytes = Some((base * load * (1.0 + 0.5 * noise)).max(0.0) as u64);
        }
    }

    pub fn samples(&self, endpoint: &str) -> Vec<Sample> {
        self.snapshot
            .members
            .iter()
            .filter_map(|m| {
                m.lag_bytes
                    .map(|l| Sample::new(format!("{endpoint}/{}", m.name), "lag_bytes", l as f64))
            })
            .collect()
    }

    pub fn apply(&mut self, action: &Action) -> Result<String, ConnectorError> {
        match action {
            Action::PatroniCancelSwitchover { .. } => {
                match self.snapshot.scheduled_switchover.take() {
                    Some(_) => {
                        Ok("DEMO: Patroni answered 200 \"scheduled switchover deleted\"".into())
                    }
                    None => Err(ConnectorError::NotFound(
                        "DEMO: no switchover is scheduled".into(),
                    )),
                }
            }
            Action::PatroniSwitchover {
                leader,
                candidate,
                scheduled_at: Some(at),
                ..
            } => {
                self.snapshot.scheduled_switchover = Some(ScheduledSwitchover {
                    at: at.clone(),
                    from: Some(leader.clone()),
                    to: candidate.clone(),
                });
                Ok("DEMO: Patroni answered 202 \"Switchover scheduled\"".into())
            }
            Action::PatroniSwitchover { candidate, .. } => {
                let to = match candidate {
                    Some(c) => c.clone(),
                    None => self
                        .snapshot
                        .members
                        .iter()
                        .filter(|m| !m.role.is_leader() && !m.nofailover)
                        .min_by_key(|m| m.lag_bytes.unwrap_or(u64::MAX))
                        .map(|m| m.name.clone())
                        .ok_or_else(|| {
                            ConnectorError::Refused(
                                "DEMO: 412 no good candidates have been found".into(),
                            )
                        })?,
                };
                self.hand_over(&to, "switched over")
            }
            Action::PatroniFailover { candidate, .. } => self.hand_over(candidate, "failed over"),
            other => Err(ConnectorError::Unsupported(format!(
                "the demo Patroni cluster cannot {}",
                other.kind()
            ))),
        }
    }

    fn hand_over(&mut self, to: &str, verb: &str) -> Result<String, ConnectorError> {
        let Some(target) = self.snapshot.member(to) else {
            return Err(ConnectorError::Refused(format!(
                "DEMO: 412 candidate does not exists: {to}"
            )));
        };
        if target.nofailover {
            return Err(ConnectorError::Refused(
                "DEMO: 412 no good candidates have been found".into(),
            ));
        }
        let old_tl = self.snapshot.timeline().unwrap_or(1);
        let new_tl = old_tl + 1;
        for m in &mut self.snapshot.members {
            if m.name == to {
                m.role = PatroniRole::Leader;
                m.timeline = Some(new_tl);
                m.lag_bytes = None;
            } else {
                m.role = PatroniRole::Replica;
                // Restarting to follow the new leader: running again once settled.
                m.state = "starting".into();
                m.lag_bytes = None;
            }
        }
        self.snapshot.history.push(PatroniHistoryEntry {
            timeline: old_tl,
            lsn: self.lsn,
            reason: "no recovery target specified".into(),
            timestamp: None,
            new_leader: Some(to.to_string()),
        });
        if self.snapshot.history.len() > PatroniSnapshot::HISTORY_KEPT {
            self.snapshot.history.remove(0);
        }
        self.snapshot.scheduled_switchover = None;
        self.snapshot.switched_from_timeline = Some(old_tl);
        self.settle_s = 4;
        Ok(format!(
            "DEMO: Patroni answered 200 \"Successfully {verb} to \\\"{to}\\\"\""
        ))
    }
}

impl Default for DemoPatroni {
    fn default() -> Self {
        Self::new()
    }
}
