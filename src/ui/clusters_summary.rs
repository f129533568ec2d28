//! The Clusters panel's figures: per Kubernetes context the requested and allocatable sums,
//! its node counts by problem and its nodes in display order (problems first). Computed when a
//! snapshot's capacity view changes (keyed by its `Arc`), never per frame; the Overview's
//! Clusters tile reads the same cache.

use crate::app::FleetState;
use crate::capacity::{ServiceFit, docker_service_fit};
use crate::model::capacity::{CapacityView, ContextCapacity, EngineCapacity, NodeInfo};
use crate::model::snapshot::Snapshot;
use crate::model::workloads::WorkloadList;
use std::sync::Arc;

/// Requested and allocatable sums of one context and its node counts by problem.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub nodes: usize,
    pub allocatable_cpu_milli: u64,
    pub requested_cpu_milli: u64,
    pub allocatable_memory_bytes: u64,
    pub requested_memory_bytes: u64,
    pub allocatable_pods: u64,
    pub pods: u64,
    /// Usage summed over the nodes that report it (metrics-server), and how many do.
    pub used_cpu_milli: u64,
    pub used_memory_bytes: u64,
    pub nodes_with_usage: usize,
    pub not_ready: usize,
    pub cordoned: usize,
    pub under_pressure: usize,
}

impl Totals {
    fn of(nodes: &[NodeInfo]) -> Self {
        let mut t = Self {
            nodes: nodes.len(),
            ..Self::default()
        };
        for n in nodes {
            let r = &n.room;
            t.allocatable_cpu_milli += r.allocatable_cpu_milli;
            t.requested_cpu_milli += r.requested_cpu_milli;
            t.allocatable_memory_bytes += r.allocatable_memory_bytes;
            t.requested_memory_bytes += r.requested_memory_bytes;
            t.allocatable_pods += r.allocatable_pods;
            t.pods += r.pods;
            if let Some(u) = n.used {
                t.used_cpu_milli += u.cpu_milli;
                t.used_memory_bytes += u.memory_bytes;
                t.nodes_with_usage += 1;
            }
            t.not_ready += usize::from(!r.ready);
            t.cordoned += usize::from(r.unschedulable);
            t.under_pressure += usize::from(!n.pressure.is_empty());
        }
        t
    }

    pub fn cpu_percent(&self) -> Option<f64> {
        share(self.requested_cpu_milli, self.allocatable_cpu_milli)
    }

    pub fn memory_percent(&self) -> Option<f64> {
        share(self.requested_memory_bytes, self.allocatable_memory_bytes)
    }

    /// "1 not ready, 1 cordoned, 1 under pressure", or `None` when every node is fine.
    pub fn problems(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.not_ready, "not ready"),
            (self.cordoned, "cordoned"),
            (self.under_pressure, "under pressure"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

pub(super) fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

/// One context of one workload endpoint, summed and ordered.
#[derive(Clone, Debug)]
pub struct ClusterSummary {
    /// The endpoint's id: its capacity series are keyed by it.
    pub endpoint_id: String,
    pub endpoint_label: String,
    pub context: String,
    pub view: Arc<CapacityView>,
    pub totals: Totals,
    /// Indices into the context's nodes: problems first (not ready, pressure, cordoned), then
    /// the fullest, then by name.
    pub order: Vec<usize>,
}

impl ClusterSummary {
    pub fn capacity(&self) -> &ContextCapacity {
        &self.view.contexts[&self.context]
    }
}

/// One Docker engine (a Compose or Swarm endpoint) and how many more replicas of each of its
/// services fit.
#[derive(Clone, Debug)]
pub struct EngineSummary {
    pub endpoint_label: String,
    pub view: Arc<CapacityView>,
    /// (service as `project/kind/name`, its replicas, how many more fit).
    pub services: Vec<(String, u32, ServiceFit)>,
}

impl EngineSummary {
    pub fn engine(&self) -> Option<&EngineCapacity> {
        self.view.engine.as_ref()
    }
}

/// The summaries of every context in view, recomputed only when a capacity view changes.
#[derive(Default)]
pub struct ClustersCache {
    /// Per workload endpoint with capacity: its id and the address of its view.
    key: Vec<(String, usize)>,
    pub clusters: Vec<ClusterSummary>,
    pub engines: Vec<EngineSummary>,
}

impl ClustersCache {
    /// Cheap when nothing changed: one pointer compare per workload endpoint.
    pub fn refresh(&mut self, fleet: &FleetState) {
        let lists: Vec<(&str, &str, &WorkloadList, &Arc<CapacityView>)> = fleet
            .endpoints
            .iter()
            .filter_map(|e| match &e.snapshot {
                Some(Snapshot::Workloads(list)) => list
                    .capacity
                    .as_ref()
                    .map(|v| (e.info.id.as_str(), e.info.label.as_str(), list, v)),
                _ => None,
            })
            .collect();
        let views: Vec<(&str, &str, &Arc<CapacityView>)> =
            lists.iter().map(|(id, l, _, v)| (*id, *l, *v)).collect();
        // The cache holds every view it was computed from, so an address cannot be reused by a
        // newer view while it is the key.
        let unchanged = views.len() == self.key.len()
            && views
                .iter()
                .zip(&self.key)
                .all(|((id, _, v), (kid, kptr))| id == kid && Arc::as_ptr(v) as usize == *kptr);
        if unchanged {
            return;
        }
        self.key = views
            .iter()
            .map(|(id, _, v)| (id.to_string(), Arc::as_ptr(v) as usize))
            .collect();
        self.clusters = views
            .iter()
            .flat_map(|(id, label, view)| {
                view.contexts.iter().map(|(context, c)| {
                    let nodes = c.nodes.as_deref().unwrap_or_default();
                    ClusterSummary {
                        endpoint_id: id.to_string(),
                        endpoint_label: label.to_string(),
                        context: context.clone(),
                        view: Arc::clone(view),
                        totals: Totals::of(nodes),
                        order: problems_first(nodes),
                    }
                })
            })
            .collect();
        self.engines = lists
            .iter()
            .filter(|(_, _, _, view)| view.engine.is_some())
            .map(|(_, label, list, view)| EngineSummary {
                endpoint_label: label.to_string(),
                view: Arc::clone(view),
                services: list
                    .iter()
                    .filter(|w| !w.id.kind.is_kubernetes())
                    .map(|w| (w.id.to_string(), w.desired, docker_service_fit(view, &w.id)))
                    .collect(),
            })
            .collect();
    }
}

/// Node indices with the problems on top.
fn problems_first(nodes: &[NodeInfo]) -> Vec<usize> {
    let rank = |n: &NodeInfo| {
        if !n.room.ready {
            0
        } else if !n.pressure.is_empty() {
            1
        } else if n.room.unschedulable {
            2
        } else {
            3
        }
    };
    let fullness = |n: &NodeInfo| {
        let r = &n.room;
        let cpu = share(r.requested_cpu_milli, r.allocatable_cpu_milli).unwrap_or(0.0);
        let memory = share(r.requested_memory_bytes, r.allocatable_memory_bytes).unwrap_or(0.0);
        cpu.max(memory)
    };
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&nodes[a], &nodes[b]);
        rank(a)
            .cmp(&rank(b))
            .then_with(|| fullness(b).total_cmp(&fullness(a)))
            .then_with(|| a.room.name.cmp(&b.room.name))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::capacity::AutoscalerPresence;
    use crate::model::capacity::NodeRoom;

    fn node(name: &str, ready: bool, pressure: bool, cordoned: bool, cpu: u64) -> NodeInfo {
        NodeInfo {
            room: NodeRoom {
                name: name.into(),
                allocatable_cpu_milli: 4000,
                allocatable_memory_bytes: 1 << 34,
                allocatable_pods: 110,
                requested_cpu_milli: cpu,
                requested_memory_bytes: 0,
                pods: 3,
                labels: Default::default(),
                taints: Vec::new(),
                unschedulable: cordoned,
                ready,
            },
            pressure: if pressure {
                vec!["DiskPressure".into()]
            } else {
                Vec::new()
            },
            used: None,
        }
    }

    #[test]
    fn problems_come_first_then_the_fullest() {
        let nodes = [
            node("a", true, false, false, 100),
            node("b", true, false, true, 100),
            node("c", true, true, false, 100),
            node("d", false, false, false, 100),
            node("e", true, false, false, 3000),
        ];
        let names: Vec<&str> = problems_first(&nodes)
            .into_iter()
            .map(|i| nodes[i].room.name.as_str())
            .collect();
        assert_eq!(names, ["d", "c", "b", "e", "a"]);
        let t = Totals::of(&nodes);
        assert_eq!(
            t.problems().as_deref(),
            Some("1 not ready, 1 cordoned, 1 under pressure")
        );
        assert_eq!(t.requested_cpu_milli, 3400);
    }

    /// A fleet with one Kubernetes endpoint whose view has one context of `n` nodes.
    fn fleet_with(view: Arc<CapacityView>) -> FleetState {
        let mut fleet = FleetState::default();
        fleet.reset(vec![crate::engine::EndpointInfo {
            id: "k8s".into(),
            label: "prod (Kubernetes)".into(),
            area: crate::engine::Area::Workloads,
            demo: false,
        }]);
        let list = WorkloadList {
            capacity: Some(view),
            ..Default::default()
        };
        fleet.endpoints[0].snapshot = Some(Snapshot::Workloads(list));
        fleet
    }

    fn view_of(n: usize) -> Arc<CapacityView> {
        let nodes = (0..n)
            .map(|i| {
                node(
                    &format!("node-{i:05}"),
                    i % 97 != 0,
                    i % 101 == 0,
                    false,
                    100,
                )
            })
            .collect();
        let context = ContextCapacity {
            nodes: Ok(nodes),
            partial_pods: None,
            quotas: Default::default(),
            admission_unknown: None,
            limit_ranges: Default::default(),
            autoscaler: AutoscalerPresence::Unknown,
            usage_note: None,
        };
        Arc::new(CapacityView {
            contexts: [("prod".to_string(), context)].into(),
            needs: Default::default(),
            waiting: Default::default(),
            ..CapacityView::default()
        })
    }

    #[test]
    fn five_thousand_nodes_are_summed_once_per_view_not_per_frame() {
        let view = view_of(5_000);
        let mut fleet = fleet_with(Arc::clone(&view));
        let mut cache = ClustersCache::default();
        cache.refresh(&fleet);
        assert_eq!(cache.clusters.len(), 1);
        let c = &cache.clusters[0];
        assert_eq!(c.totals.nodes, 5_000);
        assert_eq!(c.totals.not_ready, 52);
        assert_eq!(c.order.len(), 5_000);
        assert!(!nodes_of(c)[c.order[0]].room.ready, "problems first");
        // Same view: the summaries are kept, not rebuilt (the order vector is the same one).
        let order = c.order.as_ptr();
        for _ in 0..3 {
            cache.refresh(&fleet);
        }
        assert_eq!(cache.clusters[0].order.as_ptr(), order);
        // A new view (the next poll) is summed again.
        let mut next = (*view).clone();
        if let Ok(nodes) = &mut next.contexts.get_mut("prod").unwrap().nodes {
            nodes.truncate(10);
        }
        fleet = fleet_with(Arc::new(next));
        cache.refresh(&fleet);
        assert_eq!(cache.clusters[0].totals.nodes, 10);
    }

    fn nodes_of(c: &ClusterSummary) -> &[NodeInfo] {
        c.capacity().nodes.as_deref().unwrap()
    }
}
