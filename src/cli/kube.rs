//! Kubernetes targets on the command line: `CONTEXT/NAMESPACE/KIND/NAME` (one workload) and
//! `CONTEXT/NAMESPACE` with `--all` (every Deployment and StatefulSet of the namespace), for
//! `scaleboard scale` and `scaleboard autoscale`. Same plans, guards, pipeline and audit as the
//! window.

use super::scale::{CliFleet, RunOptions, run_action};
use crate::actions::{Action, FleetView};
use crate::model::snapshot::{Workload, WorkloadKind, WorkloadRef};
use crate::profiles::{AppDirs, Profile};
use anyhow::bail;
use std::io::{BufRead, Write};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KubeTarget {
    One {
        context: String,
        namespace: String,
        kind: WorkloadKind,
        name: String,
    },
    Namespace {
        context: String,
        namespace: String,
    },
}

/// `CONTEXT/NAMESPACE/KIND/NAME`, or `CONTEXT/NAMESPACE` when `all`. Contexts may hold `/`
/// (EKS ARNs do); namespaces, kinds and names cannot, so they are read from the right.
pub fn parse(target: &str, all: bool) -> Option<KubeTarget> {
    let parts: Vec<&str> = target.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    if all {
        let (namespace, context) = parts.split_last()?;
        return (!context.is_empty()).then(|| KubeTarget::Namespace {
            context: context.join("/"),
            namespace: (*namespace).to_string(),
        });
    }
    if parts.len() < 4 {
        return None;
    }
    let n = parts.len();
    let kind = match parts[n - 2].to_ascii_lowercase().as_str() {
        "deployment" | "deployments" | "deploy" => WorkloadKind::Deployment,
        "statefulset" | "statefulsets" | "sts" => WorkloadKind::StatefulSet,
        _ => return None,
    };
    Some(KubeTarget::One {
        context: parts[..n - 3].join("/"),
        namespace: parts[n - 3].to_string(),
        kind,
        name: parts[n - 1].to_string(),
    })
}

/// A Kubernetes connector's scope is `context/namespace`; the demo's endpoint is its context.
fn in_namespace(w: &Workload, context: &str, namespace: &str) -> bool {
    matches!(
        w.id.kind,
        WorkloadKind::Deployment | WorkloadKind::StatefulSet
    ) && (w.id.scope == format!("{context}/{namespace}")
        || (w.id.endpoint == context && w.id.scope == namespace))
}

fn matching<'a>(
    fleet: &'a CliFleet,
    target: &KubeTarget,
    endpoint: Option<&str>,
) -> Vec<&'a Workload> {
    let mut found: Vec<&Workload> = fleet
        .workloads()
        .filter(|w| endpoint.is_none_or(|e| w.id.endpoint == e))
        .filter(|w| match target {
            KubeTarget::One {
                context,
                namespace,
                kind,
                name,
            } => in_namespace(w, context, namespace) && w.id.kind == *kind && &w.id.name == name,
            KubeTarget::Namespace { context, namespace } => in_namespace(w, context, namespace),
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

fn not_found(fleet: &CliFleet, target: &KubeTarget) -> anyhow::Error {
    let mut seen: Vec<String> = fleet
        .workloads()
        .filter(|w| {
            matches!(
                w.id.kind,
                WorkloadKind::Deployment | WorkloadKind::StatefulSet
            )
        })
        .map(|w| format!("{}:{}", w.id.endpoint, w.id))
        .take(20)
        .collect();
    seen.sort();
    let what = match target {
        KubeTarget::One {
            context,
            namespace,
            kind,
            name,
        } => format!("no {} {context}/{namespace}/{name}", kind.label()),
        KubeTarget::Namespace { context, namespace } => {
            format!("no Deployment or StatefulSet in {context}/{namespace}")
        }
    };
    anyhow::anyhow!(
        "{what}; seen: {}",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    )
}

/// The one workload a target names; several endpoints holding it need `--endpoint`.
fn one(
    fleet: &CliFleet,
    target: &KubeTarget,
    endpoint: Option<&str>,
) -> anyhow::Result<WorkloadRef> {
    match matching(fleet, target, endpoint).as_slice() {
        [w] => Ok(w.id.clone()),
        [] => Err(not_found(fleet, target)),
        many => bail!(
            "found on several endpoints ({}): choose one with --endpoint",
            many.iter()
                .map(|w| w.id.endpoint.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn scale_action(
    fleet: &CliFleet,
    target: &KubeTarget,
    replicas: u32,
    endpoint: Option<&str>,
) -> anyhow::Result<Action> {
    match target {
        KubeTarget::One { .. } => Ok(Action::ScaleWorkload {
            workload: one(fleet, target, endpoint)?,
            replicas,
        }),
        KubeTarget::Namespace { .. } => {
            let found = matching(fleet, target, endpoint);
            let Some(first) = found.first() else {
                return Err(not_found(fleet, target));
            };
            if found.iter().any(|w| w.id.endpoint != first.id.endpoint) {
                bail!("the namespace is on several endpoints: choose one with --endpoint");
            }
            Ok(Action::ScaleWorkloads {
                endpoint: first.id.endpoint.clone(),
                targets: found.iter().map(|w| (w.id.clone(), replicas)).collect(),
            })
        }
    }
}

use crate::actions::plan::{
    NEW_AUTOSCALER_CPU_PERCENT as NEW_CPU_PERCENT, NEW_AUTOSCALER_MIN as NEW_MIN,
};

pub struct AutoscaleRequest {
    /// `CONTEXT/NAMESPACE/KIND/NAME`.
    pub target: String,
    /// Options left out (`None`) keep the existing autoscaler's value.
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub cpu_percent: Option<u32>,
    /// Delete the workload's autoscaler instead (`kubectl delete hpa`).
    pub delete: bool,
    pub endpoint: Option<String>,
    pub run: RunOptions,
}

/// `scaleboard autoscale`: create, edit or delete a workload's HorizontalPodAutoscaler.
pub fn autoscale(
    dirs: &AppDirs,
    profile: Profile,
    req: &AutoscaleRequest,
    input: impl BufRead,
    out: impl Write,
) -> anyhow::Result<bool> {
    let Some(target) = parse(&req.target, false) else {
        bail!(
            "target \"{}\" not understood: use CONTEXT/NAMESPACE/KIND/NAME (KIND deployment or statefulset)",
            req.target
        );
    };
    if !req.delete && req.min.is_none() && req.max.is_none() && req.cpu_percent.is_none() {
        bail!(
            "give what to change: --min, --max and/or --cpu-percent (or --delete to remove the autoscaler)"
        );
    }
    run_action(dirs, profile, &req.run, input, out, |fleet| {
        let workload = one(fleet, &target, req.endpoint.as_deref())?;
        if req.delete {
            return Ok(Action::DeleteAutoscaler { workload });
        }
        let current = fleet
            .workload(&workload)
            .and_then(|w| w.autoscaler.as_ref());
        let (min, max, cpu) = merged(req, current, &workload)?;
        Ok(Action::SetAutoscaler {
            workload,
            min_replicas: min,
            max_replicas: max,
            target_cpu_percent: cpu,
        })
    })
}

/// The values the operator gave, the existing autoscaler's for the rest (a write then changes
/// only what was given: the connector sends only fields that differ from the HPA it reads
/// right before the write). A new autoscaler gets [`NEW_MIN`] and [`NEW_CPU_PERCENT`] and
/// needs `--max`. The plan judges the merged range (min not above max).
fn merged(
    req: &AutoscaleRequest,
    current: Option<&crate::model::snapshot::Autoscaler>,
    workload: &WorkloadRef,
) -> anyhow::Result<(u32, u32, u32)> {
    Ok(match current {
        Some(h) => (
            req.min.unwrap_or(h.min_replicas),
            req.max.unwrap_or(h.max_replicas),
            req.cpu_percent.unwrap_or(h.target_cpu_percent),
        ),
        None => {
            let Some(max) = req.max else {
                bail!(
                    "{workload} has no autoscaler yet: give --max to create one (--min defaults \
                     to {NEW_MIN}, --cpu-percent to {NEW_CPU_PERCENT})"
                );
            };
            (
                req.min.unwrap_or(NEW_MIN),
                max,
                req.cpu_percent.unwrap_or(NEW_CPU_PERCENT),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse("prod/shop/deployment/web", false),
            Some(KubeTarget::One {
                context: "prod".into(),
                namespace: "shop".into(),
                kind: WorkloadKind::Deployment,
                name: "web".into()
            })
        );
        assert_eq!(
            parse("arn:aws:eks:eu-west-1:1:cluster/prod/shop/sts/db", false),
            Some(KubeTarget::One {
                context: "arn:aws:eks:eu-west-1:1:cluster/prod".into(),
                namespace: "shop".into(),
                kind: WorkloadKind::StatefulSet,
                name: "db".into()
            })
        );
        assert_eq!(
            parse("prod/shop", true),
            Some(KubeTarget::Namespace {
                context: "prod".into(),
                namespace: "shop".into()
            })
        );
        assert_eq!(parse("prod/shop/pod/web", false), None);
        assert_eq!(parse("shop/deployment/web", false), None);
        assert_eq!(parse("prod//deployment/web", false), None);
        assert_eq!(parse("shop", true), None);
    }
}
