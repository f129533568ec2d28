//! Kubernetes: Deployments, StatefulSets, ReplicaSets, Pods and HorizontalPodAutoscalers
//! (autoscaling/v2) of every chosen context and namespace, kept current by watchers (kube-runtime
//! reflectors with backoff, objects stripped), so a poll reads memory; the only reads a poll
//! makes are pod metrics (metrics.k8s.io has no watch; every 15 s) and access reviews (every
//! 5 minutes per namespace).
//!
//! Files: `watch.rs` (reflectors, sync, snapshot), `pods.rs` (pods folded under workloads,
//! metrics), `access.rs` (RBAC), `writes.rs` (scale and autoscaler requests).
//!
//! Workload scope is `"{context}/{namespace}"`; the name is the object's name. Scaling goes
//! through the `scale` subresource with a JSON merge patch, autoscalers through autoscaling/v2.
//!
//! Watchers start on the first poll (polls run inside the engine's tokio runtime) and end when
//! the connector is dropped.

mod access;
mod cache;
mod pods;
mod watch;
mod writes;

pub use pods::parse_quantity;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{Autoscaler, Sample, Snapshot, Workload, WorkloadKind, WorkloadRef};
use crate::profiles::KubernetesEndpoint;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use pods::{MetricsError, PodTotals, Usage};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

/// How long the first poll waits for the initial lists before reporting the endpoint down.
const FIRST_SYNC: Duration = Duration::from_secs(8);
/// RBAC changes rarely; access reviews are asked again after this long.
const RBAC_RECHECK: Duration = Duration::from_secs(300);
/// metrics-server refreshes every 15 s by default; asking more often only moves bytes.
const METRICS_EVERY: Duration = Duration::from_secs(15);
/// After metrics.k8s.io was not served, look again this much later (it may get installed).
const METRICS_RETRY: Duration = Duration::from_secs(300);
/// A metrics list that takes longer is skipped for this poll.
const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

pub struct KubernetesConnector {
    info: EndpointInfo,
    config: KubernetesEndpoint,
    started: OnceCell<Result<Vec<ContextWatch>, String>>,
}

/// What this user may not do in one namespace (None = allowed), from SelfSubjectAccessReviews.
#[derive(Clone, Debug, Default)]
struct Permissions {
    scale_deployments: Option<String>,
    scale_statefulsets: Option<String>,
    autoscalers: Option<String>,
}

/// Watchers and stores of one context.
struct ContextWatch {
    context: String,
    client: Client,
    /// Checked per namespace on the first poll that shows it, again after [`RBAC_RECHECK`].
    permissions: access::PermissionCache,
    deployments: Vec<cache::CompactStore<cache::WorkloadObj>>,
    statefulsets: Vec<cache::CompactStore<cache::WorkloadObj>>,
    hpas: Vec<cache::CompactStore<cache::HpaObj>>,
    pods: Vec<cache::CompactStore<cache::PodObj>>,
    replicasets: Vec<cache::CompactStore<cache::RsObj>>,
    namespaces: Vec<String>,
    /// Set by the first poll: later polls do not wait for a context that is not synced.
    sync_attempted: std::sync::atomic::AtomicBool,
    /// Pod usage from metrics.k8s.io and when to ask next.
    metrics: tokio::sync::Mutex<MetricsState>,
    /// Last watch error per resource, cleared when the watch recovers.
    errors: Arc<Mutex<HashMap<&'static str, String>>>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct MetricsState {
    usage: Usage,
    next: Option<tokio::time::Instant>,
}

impl Drop for ContextWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl KubernetesConnector {
    pub fn new(config: KubernetesEndpoint) -> Self {
        super::http::install_crypto_provider();
        Self {
            info: EndpointInfo {
                id: config.name.clone(),
                label: format!("Kubernetes {}", config.name),
                area: Area::Workloads,
                demo: false,
            },
            config,
            started: OnceCell::new(),
        }
    }

    async fn contexts(&self) -> Result<&[ContextWatch], ConnectorError> {
        let started = self
            .started
            .get_or_init(|| watch::start(&self.config))
            .await;
        match started {
            Ok(list) => Ok(list.as_slice()),
            Err(reason) => Err(ConnectorError::Failed(reason.clone())),
        }
    }

    async fn read(&self) -> Result<PollOutput, ConnectorError> {
        let contexts = self.contexts().await?;
        let mut workloads = Vec::new();
        let mut samples = Vec::new();
        let mut notices = Vec::new();
        let mut down = Vec::new();
        for cw in contexts {
            // One context down does not hide the others: it is named once, and the endpoint
            // fails only when no context answers.
            match cw.synced().await {
                Ok(partial) => notices.extend(partial),
                Err(reason) => {
                    down.push(format!("{}: {reason}", cw.context));
                    continue;
                }
            }
            cw.refresh_metrics(&mut notices).await;
            let start = workloads.len();
            {
                let metrics = cw.metrics.lock().await;
                cw.collect(&self.config.name, &metrics.usage, &mut workloads);
            }
            let mut namespaces: Vec<String> = workloads[start..]
                .iter()
                .map(|w| split_scope(&w.id.scope).map(|(_, ns)| ns.to_string()))
                .collect::<Result<_, _>>()?;
            namespaces.sort_unstable();
            namespaces.dedup();
            let allowed = cw.permissions_for(&namespaces).await;
            for w in &mut workloads[start..] {
                let Some(p) = split_scope(&w.id.scope)
                    .ok()
                    .and_then(|(_, ns)| allowed.get(ns))
                else {
                    continue;
                };
                w.scale_denied = match w.id.kind {
                    WorkloadKind::StatefulSet => p.scale_statefulsets.clone(),
                    _ => p.scale_deployments.clone(),
                };
                w.autoscale_denied = p.autoscalers.clone();
            }
        }
        if down.len() == contexts.len() {
            return Err(ConnectorError::Unreachable {
                endpoint: self.config.name.clone(),
                reason: down.join("; "),
            });
        }
        notices.extend(
            down.iter()
                .map(|d| format!("context {d} (its workloads are not shown)")),
        );
        workloads.sort_by(|a, b| a.id.cmp(&b.id));
        for w in &workloads {
            let target = w.id.target();
            samples.push(Sample::new(
                target.clone(),
                "replicas",
                f64::from(w.desired),
            ));
            samples.push(Sample::new(target.clone(), "ready", f64::from(w.ready)));
            if let Some(cpu) = w.cpu_percent {
                samples.push(Sample::new(target.clone(), "cpu_percent", cpu));
            }
            if let Some(memory) = w.memory_percent {
                samples.push(Sample::new(target, "memory_percent", memory));
            }
        }
        Ok(PollOutput {
            snapshot: Snapshot::Workloads(workloads),
            samples,
            notices,
        })
    }

    /// Carry out an action, or with `dry_run` send the same requests with `dryRun=All`: the
    /// API server then runs validation and admission (webhooks, quotas, policies) and stores
    /// nothing.
    async fn request(&self, action: &Action, dry_run: bool) -> Result<String, ConnectorError> {
        match action {
            Action::ScaleWorkload { workload, replicas } if dry_run => {
                self.dry_scale(workload, *replicas).await?;
                Ok("the API server accepted the scale (dry run)".into())
            }
            Action::ScaleWorkload { workload, replicas } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                cw.scale(ns, kind, &workload.name, *replicas).await
            }
            Action::ScaleWorkloads { targets, .. } if dry_run => {
                self.dry_scale_many(targets).await?;
                Ok(format!(
                    "the API server accepted all {} scales (dry run)",
                    targets.len()
                ))
            }
            Action::ScaleWorkloads { targets, .. } => self.scale_many(targets).await,
            Action::SetAutoscaler {
                workload,
                min_replicas,
                max_replicas,
                target_cpu_percent,
            } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                let range = (*min_replicas, *max_replicas, *target_cpu_percent);
                let done = cw
                    .autoscaler_request(ns, kind, &workload.name, range, dry_run)
                    .await?;
                Ok(if dry_run {
                    "the API server accepted the autoscaler (dry run)".into()
                } else {
                    done
                })
            }
            Action::DeleteAutoscaler { workload } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                let done = cw
                    .delete_autoscaler_request(ns, kind, &workload.name, dry_run)
                    .await?;
                Ok(if dry_run {
                    "the API server accepted the deletion (dry run)".into()
                } else {
                    done
                })
            }
            Action::PromoteReplica { .. } | Action::ScaleComposeServices { .. } => {
                Err(ConnectorError::Unsupported(format!(
                    "a Kubernetes endpoint cannot {} {}",
                    action.kind(),
                    action.target_path()
                )))
            }
        }
    }

    /// A namespace of hundreds is checked with several requests in flight. The futures are
    /// collected first: a lazy map inside the stream trips the Send check's lifetimes.
    async fn dry_scale_many(&self, targets: &[(WorkloadRef, u32)]) -> Result<(), ConnectorError> {
        let checks: Vec<_> = targets
            .iter()
            .map(|(workload, n)| self.dry_scale(workload, *n))
            .collect();
        let results: Vec<Result<(), ConnectorError>> = futures::stream::iter(checks)
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn dry_scale(&self, workload: &WorkloadRef, n: u32) -> Result<(), ConnectorError> {
        let (cw, ns, kind) = self.locate(workload).await?;
        let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": n } }));
        cw.patch_scale(ns, kind, &workload.name, &patch, true)
            .await
            .map(|_| ())
            .map_err(|e| api_error(&format!("scale {workload}"), &e))
    }

    /// The watched context, namespace and kind of a workload this endpoint shows.
    async fn locate<'a>(
        &'a self,
        workload: &'a WorkloadRef,
    ) -> Result<(&'a ContextWatch, &'a str, WorkloadKind), ConnectorError> {
        let contexts = self.contexts().await?;
        let (context, namespace) = split_scope(&workload.scope)?;
        let cw = contexts
            .iter()
            .find(|c| c.context == context)
            .ok_or_else(|| {
                ConnectorError::Failed(format!("context {context} is not watched by this endpoint"))
            })?;
        let kind = cw.kind_of(namespace, &workload.name).ok_or_else(|| {
            ConnectorError::Failed(format!(
                "{workload} is not a known Deployment or StatefulSet"
            ))
        })?;
        Ok((cw, namespace, kind))
    }

    /// Every target is located before any is changed; then they are scaled one by one, and a
    /// failure part-way says exactly which ones changed and which did not.
    async fn scale_many(&self, targets: &[(WorkloadRef, u32)]) -> Result<String, ConnectorError> {
        let mut located = Vec::with_capacity(targets.len());
        for (id, n) in targets {
            located.push((self.locate(id).await?, id, *n));
        }
        let mut done = Vec::new();
        for ((cw, ns, kind), id, n) in located {
            if let Err(e) = cw.scale(ns, kind, &id.name, n).await {
                let done = if done.is_empty() {
                    "none".to_string()
                } else {
                    done.join(", ")
                };
                return Err(ConnectorError::Failed(format!(
                    "{e}; already scaled: {done}; not attempted after {id}"
                )));
            }
            done.push(format!("{id} -> {n}"));
        }
        Ok(format!("scaled {}", done.join(", ")))
    }
}

/// The contexts a kubeconfig offers (the file named, else `KUBECONFIG` with its files merged,
/// else `~/.kube/config`) and its current context, for the profile editor's picker. Blocking.
pub fn kubeconfig_contexts(path: Option<&std::path::Path>) -> Result<KubeconfigContexts, String> {
    let config = match path {
        Some(p) => Kubeconfig::read_from(p)
            .map_err(|e| format!("cannot read kubeconfig {}: {e}", p.display()))?,
        None => Kubeconfig::read().map_err(|e| format!("cannot read kubeconfig: {e}"))?,
    };
    let mut names: Vec<String> = config.contexts.iter().map(|c| c.name.clone()).collect();
    names.sort();
    names.dedup();
    Ok(KubeconfigContexts {
        names,
        current: config.current_context,
    })
}

pub use crate::model::endpoint::KubeconfigContexts;

/// Contexts read per kubeconfig path (None: `KUBECONFIG` or `~/.kube/config`), or why not.
pub type ContextsByKubeconfig =
    HashMap<Option<std::path::PathBuf>, Result<KubeconfigContexts, String>>;

/// `"{context}/{namespace}"` -> (context, namespace). Contexts may contain `/`; namespaces
/// cannot, so the last `/` splits them.
pub fn split_scope(scope: &str) -> Result<(&str, &str), ConnectorError> {
    scope
        .rsplit_once('/')
        .ok_or_else(|| ConnectorError::Failed(format!("{scope} is not a context/namespace scope")))
}

/// The API server's answer as a typed error, its own message kept.
fn api_error(what: &str, e: &kube::Error) -> ConnectorError {
    match e {
        kube::Error::Api(status) => {
            let words = format!(
                "{what}: the API server answered {} {}: {}",
                status.code, status.reason, status.message
            );
            match status.code {
                401 => ConnectorError::Auth(words),
                403 => ConnectorError::Forbidden(words),
                404 => ConnectorError::NotFound(words),
                409 => ConnectorError::Conflict(words),
                504 => ConnectorError::Timeout(words),
                400 | 405 | 410 | 415 | 422 | 429 => ConnectorError::Refused(words),
                _ => ConnectorError::Failed(words),
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => ConnectorError::Unreachable {
            endpoint: what.to_string(),
            reason: e.to_string(),
        },
        other => ConnectorError::Failed(format!("{what}: {other}")),
    }
}

fn api_for<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::StatefulSet => "StatefulSet",
        _ => "Deployment",
    }
}

/// A stuck pod's reason matters only while the workload is short of ready replicas.
fn stuck(pods: &PodTotals, ready: u32, desired: u32) -> Option<String> {
    (ready < desired).then(|| pods.stuck.clone()).flatten()
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn signed(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn autoscaler(h: &HorizontalPodAutoscaler) -> Autoscaler {
    let spec = h.spec.clone().unwrap_or_default();
    let target_cpu = spec
        .metrics
        .iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.target.average_utilization)
        .unwrap_or(80);
    let status = h.status.as_ref();
    let current = status
        .and_then(|s| s.current_metrics.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.current.average_utilization);
    Autoscaler {
        name: h.name_any(),
        min_replicas: count(spec.min_replicas.unwrap_or(1)),
        max_replicas: count(spec.max_replicas),
        target_cpu_percent: count(target_cpu),
        current_cpu_percent: current.map(f64::from),
        last_scale_at: status
            .and_then(|s| s.last_scale_time.as_ref())
            .map(|t| t.0.as_millisecond()),
        metrics: Vec::new(),
    }
}

impl Connector for KubernetesConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.read())
    }

    fn execute<'a>(
        &'a self,
        run: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let action = run.action;
        Box::pin(self.request(action, false))
    }

    fn dry_run<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        Box::pin(async move { self.request(action, true).await.map(Some) })
    }
}
