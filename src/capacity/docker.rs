//! How many more replicas of a Compose or Swarm service fit, for the Clusters panel and
//! `scaleboard capacity`: the same rules as the scale plans' fit line (`plan_docker.rs`).
//! Compose: the engine's free memory over what one replica reserves (Docker passes no CPU
//! reservation to a container, so CPU is not judged); Swarm: its scheduler's placement over
//! the nodes' free room, drained and paused nodes left out.

use super::fit_replicas;
use crate::model::capacity::{CapacityView, NodeRoom, format_cpu_milli};
use crate::model::snapshot::{WorkloadKind, WorkloadRef};
use crate::model::units::format_bytes;

/// More replicas than any engine runs of one service: "how many fit" is asked up to this.
const UNBOUNDED: u64 = 100_000;

/// One service's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFit {
    /// `None`: it cannot be judged (no reservation, no size); `limit` says why.
    pub more_fit: Option<u64>,
    /// What one replica reserves (and limits), in words.
    pub each: String,
    /// What stops the next replica, or why it cannot be judged.
    pub limit: String,
}

fn limits_words(view: &CapacityView, id: &WorkloadRef) -> Option<String> {
    let l = view.docker_limits.get(id)?;
    let parts: Vec<String> = [
        l.memory_limit_bytes
            .map(|m| format!("memory {}", format_bytes(m))),
        l.cpu_limit_milli
            .map(|c| format!("cpu {}", format_cpu_milli(c))),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| format!("limits {}", parts.join(", ")))
}

fn not_judged(each: String, why: &str) -> ServiceFit {
    ServiceFit {
        more_fit: None,
        each,
        limit: why.to_string(),
    }
}

/// How many more replicas of the Compose or Swarm service `id` fit on its engine now.
pub fn docker_service_fit(view: &CapacityView, id: &WorkloadRef) -> ServiceFit {
    let limits = limits_words(view, id);
    let Some(engine) = &view.engine else {
        return not_judged("—".into(), "not checked: the engine's room was not read");
    };
    let Some(needs) = view.needs.get(id) else {
        return not_judged(
            "—".into(),
            "not checked: no container of it is left to read its reservations from",
        );
    };
    let reserves = [
        needs
            .cpu_milli
            .map(|c| format!("cpu {}", format_cpu_milli(c))),
        needs
            .memory_bytes
            .map(|m| format!("memory {}", format_bytes(m))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    let each = match (reserves.is_empty(), &limits) {
        (true, None) => "no reservation or limit".to_string(),
        (true, Some(l)) => format!("no reservation; {l}"),
        (false, None) => format!("reserves {}", reserves.join(", ")),
        (false, Some(l)) => format!("reserves {}; {l}", reserves.join(", ")),
    };
    match id.kind {
        WorkloadKind::ComposeService => {
            let Some(host) = &engine.host else {
                return not_judged(each, &format!("not checked: {}", engine.counted));
            };
            let Some(m) = needs.memory_bytes.filter(|m| *m > 0) else {
                return not_judged(
                    each,
                    "cannot be judged: no memory reservation (deploy.resources.reservations.memory)",
                );
            };
            ServiceFit {
                more_fit: Some(host.free_memory_bytes() / m),
                each,
                limit: format!(
                    "the engine's free memory, {} of {}",
                    format_bytes(host.free_memory_bytes()),
                    format_bytes(host.allocatable_memory_bytes)
                ),
            }
        }
        WorkloadKind::SwarmService => {
            let nodes: &[NodeRoom] = match &engine.swarm_nodes {
                Ok(nodes) => nodes,
                Err(why) => return not_judged(each, &format!("not checked: {why}")),
            };
            if needs.cpu_milli.is_none() && needs.memory_bytes.is_none() {
                return not_judged(
                    each,
                    "cannot be judged: no reservations (--reserve-cpu / --reserve-memory)",
                );
            }
            let report = fit_replicas(nodes, needs, UNBOUNDED);
            let eligible = nodes.len() as u64 - report.excluded.values().sum::<u64>();
            ServiceFit {
                more_fit: Some(report.fitting),
                each,
                limit: format!(
                    "free room on {eligible} of {} Swarm nodes{}",
                    nodes.len(),
                    if report.excluded.is_empty() {
                        String::new()
                    } else {
                        let out: Vec<String> = report
                            .excluded
                            .iter()
                            .map(|(why, n)| {
                                format!("{n} {}", why.replace("cordoned", "drained or paused"))
                            })
                            .collect();
                        format!(" ({} left out)", out.join(", "))
                    }
                ),
            }
        }
        _ => not_judged(each, "not a Docker service"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::capacity::{DockerLimits, EngineCapacity, ReplicaNeeds};
    use std::collections::BTreeMap;

    fn room(name: &str, memory: u64, held: u64, unschedulable: bool) -> NodeRoom {
        NodeRoom {
            name: name.into(),
            allocatable_cpu_milli: 2000,
            allocatable_memory_bytes: memory,
            allocatable_pods: u64::MAX,
            requested_cpu_milli: 0,
            requested_memory_bytes: held,
            pods: 0,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            unschedulable,
            ready: true,
        }
    }

    #[test]
    fn compose_fits_by_free_memory_and_swarm_by_node() {
        const MIB: u64 = 1 << 20;
        let api = WorkloadRef::new("d", "shop", WorkloadKind::ComposeService, "api");
        let bare = WorkloadRef::new("d", "shop", WorkloadKind::ComposeService, "bare");
        let svc = WorkloadRef::new("d", "swarm", WorkloadKind::SwarmService, "svc");
        let mut view = CapacityView {
            engine: Some(EngineCapacity {
                name: "the engine".into(),
                host: Some(room("host", 1024 * MIB, 256 * MIB, false)),
                swarm_nodes: Ok(vec![
                    room("a", 1024 * MIB, 0, false),
                    room("b", 1024 * MIB, 0, true),
                ]),
                counted: String::new(),
            }),
            ..CapacityView::default()
        };
        let mem = |m| ReplicaNeeds {
            memory_bytes: Some(m),
            ..ReplicaNeeds::default()
        };
        view.needs.insert(api.clone(), mem(256 * MIB));
        view.needs.insert(bare.clone(), ReplicaNeeds::default());
        view.needs.insert(svc.clone(), mem(300 * MIB));
        view.docker_limits.insert(
            bare.clone(),
            DockerLimits {
                memory_limit_bytes: Some(512 * MIB),
                cpu_limit_milli: None,
            },
        );
        let f = docker_service_fit(&view, &api);
        assert_eq!(f.more_fit, Some(3), "{f:?}");
        assert_eq!(f.each, "reserves memory 256.0 MiB");
        let f = docker_service_fit(&view, &bare);
        assert_eq!(f.more_fit, None);
        assert_eq!(f.each, "no reservation; limits memory 512.0 MiB");
        assert!(f.limit.starts_with("cannot be judged"), "{f:?}");
        let f = docker_service_fit(&view, &svc);
        assert_eq!(f.more_fit, Some(3), "{f:?}");
        assert_eq!(
            f.limit,
            "free room on 1 of 2 Swarm nodes (1 drained or paused left out)"
        );
    }
}
