//! Verification: after an action ran, compare what the system reports with what was asked.

use crate::model::action::Action;
use crate::model::snapshot::{Snapshot, WorkloadKind};

#[derive(Clone, Debug, PartialEq)]
pub enum Verification {
    /// Observed state matches the intent; the text says what was observed.
    Done(String),
    /// The system took the change (its desired state is the intent) but it is not ready yet;
    /// the text says what blocks it, when known.
    Applied(String),
    /// Not there yet; the text says what is observed so far (and why, when known).
    Pending(String),
}

pub fn check(action: &Action, snapshot: &Snapshot) -> Verification {
    match (action, snapshot) {
        (Action::ScaleWorkload { workload, replicas }, Snapshot::Workloads(list)) => {
            let Some(w) = list.iter().find(|w| &w.id == workload) else {
                return Verification::Pending(format!("{workload} not reported yet"));
            };
            let mut observed = format!("{} desired, {} ready", w.desired, w.ready);
            if let Some(reason) = super::verify_fit::pending_reason(list, w) {
                observed = format!("{observed}; {reason}");
            }
            if w.desired == *replicas && w.ready == *replicas {
                Verification::Done(format!("{} desired, {} ready", w.desired, w.ready))
            } else if w.desired == *replicas {
                Verification::Applied(observed)
            } else {
                Verification::Pending(observed)
            }
        }
        (
            Action::SetAutoscaler {
                workload,
                min_replicas,
                max_replicas,
                target_cpu_percent,
            },
            Snapshot::Workloads(list),
        ) => {
            let hpa = list
                .iter()
                .find(|w| &w.id == workload)
                .and_then(|w| w.autoscaler.as_ref());
            match hpa {
                Some(h)
                    if h.min_replicas == *min_replicas
                        && h.max_replicas == *max_replicas
                        && h.target_cpu_percent == *target_cpu_percent =>
                {
                    Verification::Done(format!(
                        "autoscaler min {}, max {}, CPU {} %",
                        h.min_replicas, h.max_replicas, h.target_cpu_percent
                    ))
                }
                Some(h) => Verification::Pending(format!(
                    "autoscaler still min {}, max {}",
                    h.min_replicas, h.max_replicas
                )),
                None => Verification::Pending("no autoscaler reported yet".into()),
            }
        }
        (Action::DeleteAutoscaler { workload }, Snapshot::Workloads(list)) => {
            match list.iter().find(|w| &w.id == workload) {
                Some(w) if w.autoscaler.is_none() => Verification::Done(format!(
                    "no autoscaler; {}",
                    crate::model::units::replicas(w.desired)
                )),
                Some(_) => Verification::Pending("autoscaler still reported".into()),
                None => Verification::Pending(format!("{workload} not reported yet")),
            }
        }
        (Action::PromoteReplica { replica, .. }, Snapshot::Databases(db)) => {
            match db.servers.iter().find(|s| &s.name == replica) {
                Some(s) if s.reachable && !s.in_recovery => match s.recovery_timeline {
                    Some(old) if s.timeline.is_none_or(|t| t <= old) => {
                        Verification::Pending(format!(
                            "{replica} accepts writes but is still on timeline {}",
                            s.timeline_text()
                        ))
                    }
                    Some(old) => Verification::Done(format!(
                        "{replica} is primary at {} on timeline {} (was {old} in recovery)",
                        super::plan::format_lsn(s.lsn),
                        s.timeline_text()
                    )),
                    None => Verification::Done(format!(
                        "{replica} is primary on timeline {}",
                        s.timeline_text()
                    )),
                },
                Some(_) => Verification::Pending(format!("{replica} is still in recovery")),
                None => Verification::Pending(format!("{replica} not reported")),
            }
        }
        (Action::PromoteMysqlReplica { replica, .. }, Snapshot::Mysql(db)) => {
            match db.servers.iter().find(|s| &s.name == replica) {
                Some(s) if s.writable() && s.replica.is_none() => Verification::Done(format!(
                    "{replica} is a writable source (read_only OFF, no replica configuration) at {}",
                    s.applied_position().unwrap_or("no GTID position")
                )),
                Some(s) if !s.reachable => Verification::Pending(format!(
                    "{replica} does not answer{}",
                    s.error
                        .as_deref()
                        .map_or(String::new(), |e| format!(": {e}"))
                )),
                Some(s) => Verification::Pending(format!(
                    "{replica}: read_only {}, replica configuration {}",
                    if s.read_only { "ON" } else { "OFF" },
                    if s.replica.is_some() {
                        "present"
                    } else {
                        "cleared"
                    }
                )),
                None => Verification::Pending(format!("{replica} not reported")),
            }
        }
        (
            Action::ScaleComposeServices {
                endpoint,
                project,
                services,
            },
            Snapshot::Workloads(list),
        ) => {
            let mut seen = Vec::new();
            let mut done = true;
            let mut applied = true;
            for (service, n) in services {
                let w = list.iter().find(|w| {
                    w.id.kind == WorkloadKind::ComposeService
                        && &w.id.endpoint == endpoint
                        && &w.id.scope == project
                        && &w.id.name == service
                });
                match w {
                    Some(w) => {
                        done &= w.desired == *n && w.ready == *n;
                        applied &= w.desired == *n;
                        let why = w
                            .pending_reason
                            .as_deref()
                            .filter(|_| w.ready != *n)
                            .map_or(String::new(), |r| format!(" ({r})"));
                        seen.push(format!("{service} {}/{n} running{why}", w.ready));
                    }
                    None => {
                        done = false;
                        applied = false;
                        seen.push(format!("{service} not reported"));
                    }
                }
            }
            if done {
                Verification::Done(seen.join(", "))
            } else if applied {
                Verification::Applied(seen.join(", "))
            } else {
                Verification::Pending(seen.join(", "))
            }
        }
        (Action::ScaleWorkloads { targets, .. }, Snapshot::Workloads(list)) => {
            let mut seen = Vec::new();
            let mut done = true;
            let mut applied = true;
            for (id, n) in targets {
                match list.iter().find(|w| &w.id == id) {
                    Some(w) => {
                        let ok = w.desired == *n && w.ready == *n;
                        done &= ok;
                        applied &= w.desired == *n;
                        if !ok {
                            let why = super::verify_fit::pending_reason(list, w)
                                .map_or(String::new(), |r| format!(" ({r})"));
                            seen.push(format!("{} {}/{n} ready{why}", id.name, w.ready));
                        }
                    }
                    None => {
                        done = false;
                        applied = false;
                        seen.push(format!("{} not reported", id.name));
                    }
                }
            }
            if done {
                Verification::Done(format!("{} workloads at their new counts", targets.len()))
            } else if applied {
                Verification::Applied(seen.join(", "))
            } else {
                Verification::Pending(seen.join(", "))
            }
        }
        (
            Action::PatroniSwitchover { .. }
            | Action::PatroniFailover { .. }
            | Action::PatroniCancelSwitchover { .. },
            Snapshot::Patroni(s),
        ) => super::verify_patroni::check(action, s),
        _ => Verification::Pending("waiting for a matching snapshot".into()),
    }
}
