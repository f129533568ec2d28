//! Pods and ReplicaSets folded under their workloads. Replica counts come from the Deployment
//! and StatefulSet objects; requests, restarts and why pods are stuck come from the pods (owned
//! ReplicaSets map a pod to its Deployment), CPU and memory from `metrics.k8s.io` when it is
//! served. The pods arrive already projected to what is read here (`cache.rs`).

use super::cache::{Key, PodObj};
use crate::model::snapshot::WorkloadKind;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, DynamicObject};
use std::collections::HashMap;

/// What a workload's pods add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct PodTotals {
    pub pods: u32,
    pub restarts: u32,
    /// Why the first stuck pod is stuck ("Unschedulable: 0/3 nodes are available: …").
    pub stuck: Option<String>,
    /// Usage and requests summed over the pods that have both (cores, bytes).
    pub cpu_used: f64,
    pub cpu_requested: f64,
    pub memory_used: f64,
    pub memory_requested: f64,
}

impl PodTotals {
    pub fn cpu_percent(&self) -> Option<f64> {
        (self.cpu_requested > 0.0).then(|| 100.0 * self.cpu_used / self.cpu_requested)
    }
    pub fn memory_percent(&self) -> Option<f64> {
        (self.memory_requested > 0.0).then(|| 100.0 * self.memory_used / self.memory_requested)
    }
}

/// namespace -> pod name -> (CPU cores, memory bytes) in use, from metrics.k8s.io. Two levels
/// so a lookup borrows the pod's own strings instead of allocating a key.
pub(super) type Usage = HashMap<String, HashMap<String, (f64, f64)>>;

/// Workload key: (namespace, kind, name), borrowed from the watched objects.
pub(super) type WorkloadKey<'a> = (&'a str, WorkloadKind, &'a str);

/// Runs on every poll over every watched pod (30,000 in the bench): no allocation per pod
/// except the totals of each workload. `rs_owner`: (namespace, ReplicaSet) -> its Deployment.
pub(super) fn fold<'a>(
    pods: impl Iterator<Item = (&'a Key, &'a PodObj)>,
    rs_owner: &HashMap<(&'a str, &'a str), &'a str>,
    usage: &Usage,
) -> HashMap<WorkloadKey<'a>, PodTotals> {
    let mut out: HashMap<WorkloadKey<'a>, PodTotals> = HashMap::new();
    for ((ns, name), pod) in pods {
        let Some((owner_kind, owner_name)) = &pod.owner else {
            continue;
        };
        let key = match owner_kind.as_str() {
            "ReplicaSet" => match rs_owner.get(&(ns.as_str(), owner_name.as_str())) {
                Some(deployment) => (ns.as_str(), WorkloadKind::Deployment, *deployment),
                None => continue,
            },
            "StatefulSet" => (ns.as_str(), WorkloadKind::StatefulSet, owner_name.as_str()),
            _ => continue,
        };
        let totals = out.entry(key).or_default();
        totals.pods += 1;
        totals.restarts += pod.restarts;
        if totals.stuck.is_none() {
            totals.stuck.clone_from(&pod.stuck);
        }
        if let Some((cpu, memory)) = usage.get(ns.as_str()).and_then(|m| m.get(name.as_str())) {
            let (cpu_req, mem_req) = pod.requests;
            if cpu_req > 0.0 {
                totals.cpu_used += cpu;
                totals.cpu_requested += cpu_req;
            }
            if mem_req > 0.0 {
                totals.memory_used += memory;
                totals.memory_requested += mem_req;
            }
        }
    }
    out
}

/// Sum of the containers' CPU (cores) and memory (bytes) requests.
pub(super) fn requests(pod: &Pod) -> (f64, f64) {
    let mut cpu = 0.0;
    let mut memory = 0.0;
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        if let Some(req) = c.resources.as_ref().and_then(|r| r.requests.as_ref()) {
            cpu += req
                .get("cpu")
                .and_then(|q| parse_quantity(&q.0))
                .unwrap_or(0.0);
            memory += req
                .get("memory")
                .and_then(|q| parse_quantity(&q.0))
                .unwrap_or(0.0);
        }
    }
    (cpu, memory)
}

/// "pod web-7d4-x: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu" for a pod that
/// cannot be scheduled or whose container waits (ImagePullBackOff, CrashLoopBackOff, …).
pub(super) fn stuck_reason(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    if status.phase.as_deref() == Some("Pending")
        && let Some(c) = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let reason = c.reason.as_deref().unwrap_or("not scheduled");
        return Some(match c.message.as_deref() {
            Some(m) if !m.is_empty() => format!("pod {name} Pending: {reason}: {m}"),
            _ => format!("pod {name} Pending: {reason}"),
        });
    }
    status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| !c.ready)
        .find_map(|c| {
            let waiting = c.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref().unwrap_or("waiting");
            Some(match waiting.message.as_deref() {
                Some(m) if !m.is_empty() => format!("pod {name}: {reason}: {m}"),
                _ => format!("pod {name}: {reason}"),
            })
        })
}

/// A Kubernetes quantity ("250m", "1.5", "128Mi", "2e3", "12345678n") as a plain number.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * factor)
}

/// Why there are no pod metrics.
#[derive(Debug, PartialEq)]
pub(super) enum MetricsError {
    /// The API server does not serve metrics.k8s.io (404) or its backend is down (503).
    NotServed(String),
    Other(String),
}

/// Current pod usage from metrics.k8s.io/v1beta1 (one list per namespace, or one in all).
pub(super) async fn pod_usage(
    client: &Client,
    namespaces: &[String],
) -> Result<Usage, MetricsError> {
    let resource = ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    };
    let apis: Vec<Api<DynamicObject>> = if namespaces.is_empty() {
        vec![Api::all_with(client.clone(), &resource)]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced_with(client.clone(), ns, &resource))
            .collect()
    };
    let mut usage = Usage::new();
    for api in apis {
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 404 => {
                    MetricsError::NotServed("metrics.k8s.io is not served".into())
                }
                kube::Error::Api(s) if s.code == 503 => MetricsError::NotServed(format!(
                    "metrics.k8s.io is registered but not answering ({})",
                    s.message
                )),
                other => MetricsError::Other(other.to_string()),
            })?;
        for item in list.items {
            let ns = item.metadata.namespace.clone().unwrap_or_default();
            let name = item.metadata.name.clone().unwrap_or_default();
            let mut cpu = 0.0;
            let mut memory = 0.0;
            for c in item.data["containers"].as_array().into_iter().flatten() {
                let get = |k: &str| c["usage"][k].as_str().and_then(parse_quantity);
                cpu += get("cpu").unwrap_or(0.0);
                memory += get("memory").unwrap_or(0.0);
            }
            usage.entry(ns).or_default().insert(name, (cpu, memory));
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("128Mi"), Some(134_217_728.0));
        assert_eq!(parse_quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse_quantity("500M"), Some(5e8));
        assert_eq!(parse_quantity("2e3"), Some(2000.0));
        assert!((parse_quantity("12345678n").unwrap() - 0.012_345_678).abs() < 1e-12);
        assert_eq!(parse_quantity("1.5"), Some(1.5));
        assert_eq!(parse_quantity("3x"), None);
        assert_eq!(parse_quantity(""), None);
    }
}
