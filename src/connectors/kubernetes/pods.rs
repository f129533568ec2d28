//! Pods and ReplicaSets folded under their workloads. Replica counts come from the Deployment
//! and StatefulSet objects; requests, restarts and why pods are stuck come from the pods (owned
//! ReplicaSets map a pod to its Deployment), CPU and memory from `metrics.k8s.io` when it is
//! served. The pods arrive already projected to what is read here (`cache.rs`).

use super::cache::{FastMap, Key, PodObj};
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
    /// Why the pod that blocks progress most surely is stuck ("Unschedulable: 0/3 nodes are
    /// available: …"); among equals the first by name, so polls agree with each other.
    pub stuck: Option<Stuck>,
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
    rs_owner: &FastMap<(&'a str, &'a str), &'a str>,
    usage: &Usage,
) -> FastMap<WorkloadKey<'a>, PodTotals> {
    let mut out: FastMap<WorkloadKey<'a>, PodTotals> = FastMap::default();
    for ((ns, name), pod) in pods {
        let Some((owner_kind, owner_name)) = &pod.owner else {
            continue;
        };
        let key = match &**owner_kind {
            "ReplicaSet" => match rs_owner.get(&(&**ns, &**owner_name)) {
                Some(deployment) => (&**ns, WorkloadKind::Deployment, *deployment),
                None => continue,
            },
            "StatefulSet" => (&**ns, WorkloadKind::StatefulSet, &**owner_name),
            _ => continue,
        };
        let totals = out.entry(key).or_default();
        totals.pods += 1;
        totals.restarts += pod.restarts;
        if let Some(stuck) = &pod.stuck
            && totals.stuck.as_ref().is_none_or(|t| worse(stuck, t))
        {
            totals.stuck = Some(stuck.clone());
        }
        if let Some((cpu, memory)) = usage.get(&**ns).and_then(|m| m.get(&**name)) {
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

/// Whether `a` says more surely than `b` what blocks progress (ties: the first in name order).
fn worse(a: &Stuck, b: &Stuck) -> bool {
    a.rank > b.rank || (a.rank == b.rank && a.text < b.text)
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

/// Why one pod holds a rollout back, and how surely it blocks progress.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Stuck {
    /// [`BLOCKED`] for what will not resolve by waiting (the scheduler cannot place the pod,
    /// the image cannot be pulled, the container keeps crashing), [`STARTING`] for a pod that is
    /// merely on its way (creating containers, not ready yet).
    pub rank: u8,
    pub text: String,
}

/// A pod that will not become ready without someone acting.
pub(super) const BLOCKED: u8 = 2;
/// A pod that is still starting.
pub(super) const STARTING: u8 = 1;

/// Waiting reasons of a container that do not go away by themselves.
const BLOCKING_WAITS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Why a pod is not ready, as `kubectl describe` would say it: "pod web-7d4-x Pending:
/// Unschedulable: 0/3 nodes are available: 3 Insufficient cpu", "pod web-7d4-x:
/// ImagePullBackOff: Back-off pulling image …", "pod web-7d4-x: CrashLoopBackOff: … (last exit:
/// Error, exit code 1)". `None` for a ready or finished pod.
pub(super) fn stuck_reason(pod: &Pod) -> Option<Stuck> {
    let status = pod.status.as_ref()?;
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let phase = status.phase.as_deref().unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    if phase == "Pending"
        && let Some(c) = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let reason = c.reason.as_deref().unwrap_or("not scheduled");
        return Some(Stuck {
            rank: BLOCKED,
            text: match c.message.as_deref() {
                Some(m) if !m.is_empty() => format!("pod {name} Pending: {reason}: {m}"),
                _ => format!("pod {name} Pending: {reason}"),
            },
        });
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    let mut found: Option<Stuck> = None;
    for c in containers.filter(|c| !c.ready) {
        let Some(state) = c.state.as_ref() else {
            continue;
        };
        let candidate = if let Some(waiting) = &state.waiting {
            let reason = waiting.reason.as_deref().unwrap_or("waiting");
            let mut text = match waiting.message.as_deref() {
                Some(m) if !m.is_empty() => format!("pod {name}: {reason}: {m}"),
                _ => format!("pod {name}: {reason}"),
            };
            if let Some(last) = c
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .filter(|_| reason == "CrashLoopBackOff")
            {
                text.push_str(&format!(
                    " (last exit: {}, exit code {}; {} restarts)",
                    last.reason.as_deref().unwrap_or("terminated"),
                    last.exit_code,
                    c.restart_count
                ));
            }
            let rank = if BLOCKING_WAITS.contains(&reason) {
                BLOCKED
            } else {
                STARTING
            };
            Stuck { rank, text }
        } else if state.running.is_some() {
            Stuck {
                rank: STARTING,
                text: format!("pod {name}: container {} running, not ready yet", c.name),
            }
        } else {
            continue;
        };
        if found.as_ref().is_none_or(|f| candidate.rank > f.rank) {
            found = Some(candidate);
        }
    }
    found.or_else(|| {
        (phase == "Pending").then(|| Stuck {
            rank: STARTING,
            text: format!("pod {name} Pending: not scheduled yet"),
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
                other => MetricsError::Other(super::words::kube_words(&other)),
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
