//! What the fit check of a scale plan reads from a context: its nodes (watched cluster-wide),
//! the requests of the pods bound to them (from the pod cache), each namespace's
//! ResourceQuotas and LimitRange defaults (watched like the workloads), whether a cluster
//! autoscaler runs, and what one replica of each workload asks for (from its pod template).
//! Projections keep only these few fields; the view is rebuilt from the caches on each poll.

use super::*;
use crate::capacity::{BoundPod, sum_bound_pods};
use crate::model::capacity::{
    AutoscalerPresence, CapacityView, ContextCapacity, LimitRangeDefaults, NodeInfo, NodeRoom,
    NodeSelectorRequirement, NodeUsage, QuotaRoom, ReplicaNeeds, Taint, TaintEffect, Toleration,
};
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Node, PodSpec, ResourceQuota};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// The words when this user may not list nodes (RBAC): the plan says the fit was not checked.
pub(super) const NODES_FORBIDDEN: &str = "may not list nodes: fit check unavailable";

/// The ConfigMap the Cluster Autoscaler writes its status to (`--write-status-configmap`, on
/// by default), also where managed ones (GKE) run on the control plane out of sight.
const STATUS_CONFIGMAP: &str = "cluster-autoscaler-status";

/// What the capacity view asks the API server on the poll besides the watches: the
/// autoscaler's status ConfigMap and node usage from metrics-server, with when to ask again.
#[derive(Default)]
pub(super) struct StatusCheck {
    next: Option<tokio::time::Instant>,
    /// Some(true): it exists; Some(false): 404; None: not asked yet or not allowed.
    seen: Option<bool>,
    /// Node usage by node name, as metrics-server last reported it.
    pub(super) usage: HashMap<String, NodeUsage>,
    /// Why there is no usage (said in the view, logged once per change).
    pub(super) usage_note: Option<String>,
    pub(super) usage_next: Option<tokio::time::Instant>,
}

/// Names a cluster autoscaler's Deployment has in practice (the upstream chart, cloud
/// add-ons, Karpenter).
const AUTOSCALER_NAMES: [&str; 2] = ["cluster-autoscaler", "karpenter"];

fn milli(q: &Quantity) -> Option<u64> {
    // Kubernetes rounds a fraction of a millicore up (MilliValue); so does the scheduler.
    parse_quantity(&q.0).map(|v| (v * 1000.0).ceil().max(0.0) as u64)
}

fn bytes(q: &Quantity) -> Option<u64> {
    parse_quantity(&q.0).map(|v| v.ceil().max(0.0) as u64)
}

fn get<'a>(map: Option<&'a BTreeMap<String, Quantity>>, key: &str) -> Option<&'a Quantity> {
    map.and_then(|m| m.get(key))
}

/// The pod's requests as the scheduler counts them: the larger of the containers' sum and the
/// largest init container (init containers run one at a time, before the others), plus the
/// pod overhead. `None` per resource when nothing in the pod requests it.
pub(super) fn pod_requests(spec: &PodSpec) -> (Option<u64>, Option<u64>) {
    let one = |key: &str, parse: fn(&Quantity) -> Option<u64>| {
        let request = |c: &k8s_openapi::api::core::v1::Container| {
            get(c.resources.as_ref().and_then(|r| r.requests.as_ref()), key).and_then(parse)
        };
        let containers: Vec<u64> = spec.containers.iter().filter_map(request).collect();
        let inits: Vec<u64> = spec
            .init_containers
            .iter()
            .flatten()
            .filter_map(request)
            .collect();
        let overhead = get(spec.overhead.as_ref(), key).and_then(parse);
        if containers.is_empty() && inits.is_empty() {
            return None;
        }
        let sum: u64 = containers.iter().sum();
        let init = inits.iter().copied().max().unwrap_or(0);
        Some(sum.max(init) + overhead.unwrap_or(0))
    };
    (one("cpu", milli), one("memory", bytes))
}

/// What one new replica of a pod template needs, and the rules the check does not simulate.
pub(super) fn template_needs(spec: Option<&PodSpec>) -> ReplicaNeeds {
    let Some(spec) = spec else {
        return ReplicaNeeds::default();
    };
    let (cpu_milli, memory_bytes) = pod_requests(spec);
    let mut needs = ReplicaNeeds {
        cpu_milli,
        memory_bytes,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        tolerations: spec
            .tolerations
            .iter()
            .flatten()
            .map(|t| Toleration {
                key: t.key.clone().filter(|k| !k.is_empty()),
                exists: t.operator.as_deref() == Some("Exists"),
                value: t.value.clone(),
                effect: t.effect.as_deref().and_then(TaintEffect::parse),
            })
            .collect(),
        ..ReplicaNeeds::default()
    };
    if let Some(affinity) = &spec.affinity {
        let required = affinity.node_affinity.as_ref().and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
        for term in required.iter().flat_map(|r| &r.node_selector_terms) {
            if term.match_fields.as_ref().is_some_and(|f| !f.is_empty()) {
                needs
                    .rules_not_applied
                    .push("node affinity matchFields".into());
            }
            let reqs = term
                .match_expressions
                .iter()
                .flatten()
                .filter_map(|r| {
                    let values = r.values.clone().unwrap_or_default();
                    let number = || values.first().and_then(|v| v.parse::<i64>().ok());
                    let key = r.key.clone();
                    Some(match r.operator.as_str() {
                        "In" => NodeSelectorRequirement::In(key, values),
                        "NotIn" => NodeSelectorRequirement::NotIn(key, values),
                        "Exists" => NodeSelectorRequirement::Exists(key),
                        "DoesNotExist" => NodeSelectorRequirement::DoesNotExist(key),
                        "Gt" => NodeSelectorRequirement::Gt(key, number()?),
                        "Lt" => NodeSelectorRequirement::Lt(key, number()?),
                        _ => return None,
                    })
                })
                .collect();
            needs.required_node_terms.push(reqs);
        }
        if affinity.pod_affinity.is_some() {
            needs.rules_not_applied.push("pod affinity".into());
        }
        if affinity.pod_anti_affinity.is_some() {
            needs.rules_not_applied.push("pod anti-affinity".into());
        }
    }
    if spec
        .topology_spread_constraints
        .as_ref()
        .is_some_and(|t| !t.is_empty())
    {
        needs
            .rules_not_applied
            .push("topology spread constraints".into());
    }
    let host_ports = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .any(|p| p.host_port.is_some());
    if host_ports {
        needs.rules_not_applied.push("host ports".into());
    }
    needs
}

pub(super) fn node(n: &Node) -> NodeInfo {
    let status = n.status.as_ref();
    let alloc = status.and_then(|s| s.allocatable.as_ref());
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let spec = n.spec.as_ref();
    NodeInfo {
        room: NodeRoom {
            name: n.name_any(),
            allocatable_cpu_milli: get(alloc, "cpu").and_then(milli).unwrap_or(0),
            allocatable_memory_bytes: get(alloc, "memory").and_then(bytes).unwrap_or(0),
            allocatable_pods: get(alloc, "pods").and_then(bytes).unwrap_or(0),
            requested_cpu_milli: 0,
            requested_memory_bytes: 0,
            pods: 0,
            labels: n.metadata.labels.clone().unwrap_or_default(),
            taints: spec
                .and_then(|s| s.taints.as_deref())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| {
                    Some(Taint {
                        key: t.key.clone(),
                        value: t.value.clone().filter(|v| !v.is_empty()),
                        effect: TaintEffect::parse(&t.effect)?,
                    })
                })
                .collect(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            ready: conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
        },
        pressure: conditions
            .iter()
            .filter(|c| c.type_.ends_with("Pressure") && c.status == "True")
            .map(|c| c.type_.clone())
            .collect(),
        used: None,
    }
}

/// A quota as new pods meet it. Quotas with scopes count only some pods; which ones a new
/// replica falls under is not worked out, so they are left out rather than refuse wrongly.
pub(super) fn quota(q: &ResourceQuota) -> Option<QuotaRoom> {
    let spec = q.spec.as_ref();
    let scoped = spec.is_some_and(|s| {
        s.scopes.as_ref().is_some_and(|v| !v.is_empty()) || s.scope_selector.is_some()
    });
    if scoped {
        return None;
    }
    let status = q.status.as_ref();
    let hard = status
        .and_then(|s| s.hard.as_ref())
        .or_else(|| spec.and_then(|s| s.hard.as_ref()));
    let used = status.and_then(|s| s.used.as_ref());
    // `cpu` and `requests.cpu` are the same limit.
    fn either<'a>(
        m: Option<&'a BTreeMap<String, Quantity>>,
        a: &str,
        b: &str,
    ) -> Option<&'a Quantity> {
        get(m, a).or_else(|| get(m, b))
    }
    Some(QuotaRoom {
        name: q.name_any(),
        hard_requests_cpu_milli: either(hard, "requests.cpu", "cpu").and_then(milli),
        used_requests_cpu_milli: either(used, "requests.cpu", "cpu")
            .and_then(milli)
            .unwrap_or(0),
        hard_requests_memory_bytes: either(hard, "requests.memory", "memory").and_then(bytes),
        used_requests_memory_bytes: either(used, "requests.memory", "memory")
            .and_then(bytes)
            .unwrap_or(0),
        hard_pods: either(hard, "pods", "count/pods").and_then(bytes),
        used_pods: either(used, "pods", "count/pods")
            .and_then(bytes)
            .unwrap_or(0),
    })
}

/// A LimitRange's container defaults, when it has any.
pub(super) fn limit_range(l: &LimitRange) -> Option<LimitRangeDefaults> {
    let item = l
        .spec
        .as_ref()?
        .limits
        .iter()
        .find(|i| i.type_ == "Container")?;
    let defaults = LimitRangeDefaults {
        name: l.name_any(),
        default_request_cpu_milli: get(item.default_request.as_ref(), "cpu").and_then(milli),
        default_request_memory_bytes: get(item.default_request.as_ref(), "memory").and_then(bytes),
        default_limit_cpu_milli: get(item.default.as_ref(), "cpu").and_then(milli),
        default_limit_memory_bytes: get(item.default.as_ref(), "memory").and_then(bytes),
    };
    let any = defaults.default_request_cpu_milli.is_some()
        || defaults.default_request_memory_bytes.is_some()
        || defaults.default_limit_cpu_milli.is_some()
        || defaults.default_limit_memory_bytes.is_some();
    any.then_some(defaults)
}

impl ContextWatch {
    /// Ask for kube-system's `cluster-autoscaler-status` ConfigMap when due (every
    /// [`RBAC_RECHECK`]): one GET, with the probe's time-out; a refusal leaves it unknown.
    /// Node usage is read first, on every poll while metrics-server answers.
    pub(super) async fn refresh_autoscaler_status(&self) {
        self.refresh_node_usage().await;
        let now = tokio::time::Instant::now();
        let due = self
            .autoscaler_status
            .lock()
            .map(|s| s.next.is_none_or(|next| now >= next))
            .unwrap_or(false);
        if !due {
            return;
        }
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), "kube-system");
        let seen = match tokio::time::timeout(PROBE_TIMEOUT, api.get_opt(STATUS_CONFIGMAP)).await {
            Ok(Ok(found)) => Some(found.is_some()),
            Ok(Err(_)) | Err(_) => None,
        };
        if let Ok(mut s) = self.autoscaler_status.lock() {
            s.seen = seen;
            s.next = Some(now + RBAC_RECHECK);
        }
    }

    /// This context's capacity from the caches, and what each of its workloads' replicas need.
    pub(super) fn capacity(&self, endpoint: &str) -> (ContextCapacity, Needs) {
        let nodes = self.node_rooms();
        let pod_scopes = self.pods.state().scopes;
        let partial_pods = (!pod_scopes.contains_key(&None)).then(|| {
            let names: Vec<String> = pod_scopes.into_keys().flatten().collect();
            format!(
                "pods are watched only in namespace {}: requests of pods in other namespaces \
                 are not counted on the nodes",
                names.join(", ")
            )
        });
        let mut quotas: BTreeMap<String, Vec<QuotaRoom>> = BTreeMap::new();
        for ((ns, _), q) in self.quotas.read().iter() {
            if let Some(q) = q {
                quotas.entry(ns.to_string()).or_default().push(q.clone());
            }
        }
        for list in quotas.values_mut() {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut limit_ranges: BTreeMap<String, LimitRangeDefaults> = BTreeMap::new();
        for ((ns, _), l) in self.limit_ranges.read().iter() {
            if let Some(l) = l {
                match limit_ranges.get(&**ns) {
                    Some(seen) if seen.name <= l.name => {}
                    _ => {
                        limit_ranges.insert(ns.to_string(), l.clone());
                    }
                }
            }
        }
        let mut needs = Needs::default();
        for (kind, store) in [
            (WorkloadKind::Deployment, &self.deployments),
            (WorkloadKind::StatefulSet, &self.statefulsets),
        ] {
            for ((ns, name), w) in store.read().iter() {
                let id = WorkloadRef {
                    endpoint: endpoint.to_string(),
                    scope: format!("{}/{ns}", self.context),
                    name: name.to_string(),
                    kind,
                };
                needs.needs.push((id, w.needs.clone()));
            }
        }
        let refused: Vec<&str> = [
            ("resourcequotas", self.quotas.state()),
            ("limitranges", self.limit_ranges.state()),
        ]
        .iter()
        .filter(|(_, s)| {
            s.scopes
                .values()
                .any(|sc| !sc.listed && sc.error.as_ref().is_some_and(|e| e.code == Some(403)))
        })
        .map(|(r, _)| *r)
        .collect();
        let admission_unknown = (!refused.is_empty()).then(|| {
            format!(
                "may not list {}: quotas and defaults were not checked",
                refused.join(" or ")
            )
        });
        needs.waiting = self.waiting(endpoint);
        let usage_note = self
            .autoscaler_status
            .lock()
            .ok()
            .and_then(|s| s.usage_note.clone());
        let capacity = ContextCapacity {
            nodes,
            partial_pods,
            admission_unknown,
            quotas,
            limit_ranges,
            autoscaler: self.autoscaler_presence(),
            usage_note,
        };
        (capacity, needs)
    }

    /// Per workload, its pods that no node has taken yet (and that have not finished).
    fn waiting(&self, endpoint: &str) -> Vec<(WorkloadRef, u64)> {
        let replicasets = self.replicasets.read();
        let mut counts: HashMap<(String, WorkloadKind, String), u64> = HashMap::new();
        for ((ns, _), p) in self.pods.read().iter() {
            if p.node.is_some() || p.finished {
                continue;
            }
            let owner = match p.owner.as_ref() {
                Some((kind, name)) if &**kind == "ReplicaSet" => replicasets
                    .get(&(ns.clone(), name.clone()))
                    .and_then(Clone::clone)
                    .map(|d| (WorkloadKind::Deployment, d)),
                Some((kind, name)) if &**kind == "StatefulSet" => {
                    Some((WorkloadKind::StatefulSet, name.to_string()))
                }
                _ => None,
            };
            if let Some((kind, name)) = owner {
                *counts.entry((ns.to_string(), kind, name)).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|((ns, kind, name), n)| {
                let id = WorkloadRef {
                    endpoint: endpoint.to_string(),
                    scope: format!("{}/{ns}", self.context),
                    name,
                    kind,
                };
                (id, n)
            })
            .collect()
    }

    /// The nodes with the requests of the non-finished pods bound to them, or why not.
    fn node_rooms(&self) -> Result<Vec<NodeInfo>, String> {
        let state = self.nodes.state();
        let status = state.scopes.get(&None).cloned().unwrap_or_default();
        if !status.listed {
            return Err(match status.error {
                Some(e) if e.code == Some(403) => NODES_FORBIDDEN.to_string(),
                Some(e) => format!("nodes cannot be read ({}): fit check unavailable", e.words),
                None => "the node list has not arrived yet: fit check unavailable".into(),
            });
        }
        let mut infos: Vec<NodeInfo> = self.nodes.read().values().cloned().collect();
        infos.sort_by(|a, b| a.room.name.cmp(&b.room.name));
        // Moved out and back rather than cloned a second time (labels, taints).
        let mut rooms: Vec<NodeRoom> = infos
            .iter_mut()
            .map(|i| std::mem::take(&mut i.room))
            .collect();
        {
            let pods = self.pods.read();
            sum_bound_pods(
                &mut rooms,
                pods.values().filter_map(|p| {
                    Some(BoundPod {
                        node: p.node.as_deref()?,
                        cpu_milli: p.scheduled.0,
                        memory_bytes: p.scheduled.1,
                        finished: p.finished,
                    })
                }),
            );
        }
        let usage = self
            .autoscaler_status
            .lock()
            .map(|s| s.usage.clone())
            .unwrap_or_default();
        for (info, room) in infos.iter_mut().zip(rooms) {
            info.used = usage.get(&room.name).copied();
            info.room = room;
        }
        Ok(infos)
    }

    /// A cluster autoscaler: its status ConfigMap, else its Deployment in kube-system (looked
    /// for in the Deployment cache); unknown when that cache does not cover kube-system.
    fn autoscaler_presence(&self) -> AutoscalerPresence {
        let status = self.autoscaler_status.lock().ok().and_then(|s| s.seen);
        if status == Some(true) {
            return AutoscalerPresence::Seen(format!("ConfigMap kube-system/{STATUS_CONFIGMAP}"));
        }
        let state = self.deployments.state();
        let covers = state.fell_back.is_none()
            && (state.scopes.contains_key(&None)
                || state.scopes.contains_key(&Some("kube-system".to_string())))
            && state.listed();
        if !covers {
            return AutoscalerPresence::Unknown;
        }
        let found = self
            .deployments
            .read()
            .iter()
            .filter(|((ns, name), w)| {
                &**ns == "kube-system"
                    && w.counts[0] > 0
                    && AUTOSCALER_NAMES.iter().any(|a| name.contains(a))
            })
            .map(|((ns, name), _)| format!("Deployment {ns}/{name}"))
            .min();
        found.map_or(AutoscalerPresence::NotSeen, AutoscalerPresence::Seen)
    }
}

/// Per workload of one context: what a replica needs, and how many wait for a node.
#[derive(Default)]
pub(super) struct Needs {
    needs: Vec<(WorkloadRef, ReplicaNeeds)>,
    waiting: Vec<(WorkloadRef, u64)>,
}

/// The capacity view of the contexts shown, from their caches.
pub(super) fn view(endpoint: &str, contexts: &[&ContextWatch]) -> CapacityView {
    let mut out = CapacityView::default();
    for cw in contexts {
        let (capacity, needs) = cw.capacity(endpoint);
        out.contexts.insert(cw.context.clone(), capacity);
        out.needs.extend(needs.needs);
        out.waiting.extend(needs.waiting);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Affinity, Container, NodeAffinity, NodeSelector, NodeSelectorTerm, PodAntiAffinity,
        ResourceRequirements,
    };

    fn container(cpu: &str, memory: &str) -> Container {
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(
                    [
                        ("cpu".to_string(), Quantity(cpu.into())),
                        ("memory".to_string(), Quantity(memory.into())),
                    ]
                    .into(),
                ),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    #[test]
    fn init_containers_count_by_the_largest_not_the_sum() {
        let spec = PodSpec {
            containers: vec![container("200m", "100Mi"), container("300m", "100Mi")],
            // One init container asks more cpu than both app containers together, the other
            // less memory: the pod needs the larger of the two per resource.
            init_containers: Some(vec![container("800m", "50Mi"), container("100m", "10Mi")]),
            overhead: Some([("cpu".to_string(), Quantity("10m".into()))].into()),
            ..PodSpec::default()
        };
        assert_eq!(pod_requests(&spec), (Some(810), Some(200 * 1024 * 1024)));
        let none = PodSpec {
            containers: vec![Container::default()],
            ..PodSpec::default()
        };
        assert_eq!(pod_requests(&none), (None, None));
    }

    #[test]
    fn a_template_names_its_placement_rules_and_what_is_not_simulated() {
        let spec = PodSpec {
            containers: vec![container("1", "1Gi")],
            node_selector: Some([("pool".to_string(), "web".to_string())].into()),
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![
                                k8s_openapi::api::core::v1::NodeSelectorRequirement {
                                    key: "zone".into(),
                                    operator: "In".into(),
                                    values: Some(vec!["a".into()]),
                                },
                            ]),
                            match_fields: None,
                        }],
                    }),
                    ..NodeAffinity::default()
                }),
                pod_anti_affinity: Some(PodAntiAffinity::default()),
                ..Affinity::default()
            }),
            ..PodSpec::default()
        };
        let needs = template_needs(Some(&spec));
        assert_eq!(needs.cpu_milli, Some(1000));
        assert_eq!(
            needs.node_selector.get("pool").map(String::as_str),
            Some("web")
        );
        assert_eq!(
            needs.required_node_terms,
            vec![vec![NodeSelectorRequirement::In(
                "zone".into(),
                vec!["a".into()]
            )]]
        );
        assert_eq!(
            needs.rules_not_applied,
            vec!["pod anti-affinity".to_string()]
        );
    }
}
