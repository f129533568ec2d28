//! Kubernetes: Deployments, StatefulSets, ReplicaSets, Pods and HorizontalPodAutoscalers
//! (autoscaling/v2) of every chosen context and namespace, kept current by watchers (kube-runtime
//! reflectors with backoff, objects stripped), so a poll reads memory; the only reads a poll
//! makes are pod metrics (metrics.k8s.io has no watch; every 15 s) and access reviews (every
//! 5 minutes per namespace).
//!
//! Files: `watch.rs` (reflectors, sync, snapshot), `cache.rs` (the projections rows are built
//! from), `pods.rs` (pods folded under workloads, why they are stuck, metrics), `hpa.rs`
//! (autoscalers in words, the CPU-only metrics edit), `fresh.rs` (the re-check's and
//! verification's reads of the targets alone, from the API server), `access.rs` (RBAC),
//! `writes.rs` (scale and autoscaler requests).
//!
//! Workload scope is `"{context}/{namespace}"`; the name is the object's name and the kind is
//! part of the identity (a Deployment and a StatefulSet may share a name). Scaling goes through
//! the `scale` subresource with a JSON merge patch, autoscalers through autoscaling/v2. Every
//! write names field manager `scaleboard` and carries the resourceVersion the engine's re-check
//! read right before it; a 409 is reported as "changed since planned", never retried.
//!
//! Watchers start on the first poll (polls run inside the engine's tokio runtime) and end when
//! the connector is dropped.

mod access;
mod cache;
mod capacity;
mod fresh;
mod hpa;
mod intern;
mod lite_pod;
mod node_metrics;
mod paged;
mod pods;
mod state;
mod watch;
mod words;
mod writes;

pub use lite_pod::LitePod;
pub use pods::parse_quantity;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{Autoscaler, Sample, Snapshot, Workload, WorkloadKind, WorkloadRef};
use crate::model::workloads::WorkloadList;
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
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use pods::{MetricsError, PodTotals, Usage};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

/// How long the first poll waits for the initial lists of every context (concurrently) before
/// it answers with what has arrived and a count. With the metrics read after it, well inside
/// the poll loop's 10 s time-out.
const FIRST_SYNC: Duration = Duration::from_secs(4);
/// The per-poll liveness question (`GET /version`) waits this long for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A watch that fails for longer than a reconnect takes makes its context stale.
const WATCH_GRACE: Duration = Duration::from_secs(1);
/// RBAC changes rarely; access reviews are asked again after this long.
const RBAC_RECHECK: Duration = Duration::from_secs(300);
/// metrics-server refreshes every 15 s by default; asking more often only moves bytes.
const METRICS_EVERY: Duration = Duration::from_secs(15);
/// After metrics.k8s.io was not served, look again this much later (it may get installed).
const METRICS_RETRY: Duration = Duration::from_secs(300);
/// A metrics list that takes longer is skipped for this poll.
const METRICS_TIMEOUT: Duration = Duration::from_secs(4);

pub struct KubernetesConnector {
    info: EndpointInfo,
    config: KubernetesEndpoint,
    started: OnceCell<Result<watch::Started, String>>,
    /// HPAs as the last fresh read of their namespace returned them (raw JSON), by (context,
    /// namespace, name): an edit is built from the object the re-check saw.
    fresh_hpas: Mutex<HashMap<(String, String, String), serde_json::Value>>,
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
    deployments: cache::CompactStore<cache::WorkloadObj>,
    statefulsets: cache::CompactStore<cache::WorkloadObj>,
    hpas: cache::CompactStore<cache::HpaObj>,
    pods: cache::CompactStore<cache::PodObj>,
    replicasets: cache::CompactStore<cache::RsObj>,
    nodes: cache::CompactStore<crate::model::capacity::NodeInfo>,
    quotas: cache::CompactStore<Option<crate::model::capacity::QuotaRoom>>,
    limit_ranges: cache::CompactStore<Option<crate::model::capacity::LimitRangeDefaults>>,
    /// The context's namespace in the kubeconfig (`default` when it names none): where lists
    /// go when this user may not list in all namespaces.
    home_namespace: String,
    /// Set by the first poll: later polls do not wait for a context that is not synced.
    polled: std::sync::atomic::AtomicBool,
    /// Set once the initial lists of Deployments and StatefulSets have arrived.
    loaded: std::sync::atomic::AtomicBool,
    /// Set by the first poll once the workloads are in: until when its rows may wait for the
    /// pods (alongside the first access reviews, not after them).
    details_grace: Mutex<Option<tokio::time::Instant>>,
    liveness: Mutex<Liveness>,
    shared: Arc<cache::WatchShared>,
    /// Pod usage from metrics.k8s.io and when to ask next.
    metrics: tokio::sync::Mutex<MetricsState>,
    /// Whether kube-system has the `cluster-autoscaler-status` ConfigMap, asked every 5 min.
    autoscaler_status: Mutex<capacity::StatusCheck>,
    tasks: Vec<JoinHandle<()>>,
}

/// When the API server last answered, and the problems already logged (each once per change).
#[derive(Default)]
struct Liveness {
    last_contact: Option<std::time::SystemTime>,
    /// Why the API server stopped answering, as first seen: kept while it stays away, so the
    /// notice keeps its words (a stopped server first times out, then refuses connections).
    away_why: Option<String>,
    logged: HashMap<&'static str, String>,
    /// The context's state as the log last said it.
    said: state::Said,
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
            fresh_hpas: Mutex::new(HashMap::new()),
        }
    }

    /// Whether every watched context has listed its pods and ReplicaSets (what a poll calls
    /// "pod details" loaded), read from the caches' states without building rows: cheap
    /// enough to ask every few milliseconds. False before the first poll started the watches.
    pub fn pod_details_listed(&self) -> bool {
        let Some(Ok(started)) = self.started.get() else {
            return false;
        };
        started.watches.iter().all(|cw| {
            cw.progress()
                .loaded
                .contains(&crate::model::workloads::POD_DETAILS)
        })
    }

    async fn started(&self) -> Result<&watch::Started, ConnectorError> {
        let started = self
            .started
            .get_or_init(|| watch::start(&self.config))
            .await;
        started
            .as_ref()
            .map_err(|reason| ConnectorError::Failed(reason.clone()))
    }

    async fn contexts(&self) -> Result<&[ContextWatch], ConnectorError> {
        Ok(self.started().await?.watches.as_slice())
    }

    /// Every context is assessed at once (a liveness question each, and on the first poll a
    /// wait for its initial lists), then the rows of those that answer or show a last view.
    /// One context down does not hide the others: it is named, and the endpoint fails only
    /// when no context answers, so the poll loop marks it stale and keeps its last view.
    async fn read(&self) -> Result<PollOutput, ConnectorError> {
        let started = self.started().await?;
        let contexts = started.watches.as_slice();
        let views = futures::future::join_all(contexts.iter().map(ContextWatch::assess)).await;
        let mut notices = Vec::new();
        let mut down = Vec::new();
        let mut sources = Vec::new();
        for b in &started.broken {
            let (name, why) = (&b.context, &b.why);
            notices.push(format!(
                "context {name}: {why} (its workloads are not shown)"
            ));
            down.push(format!("{name}: {why}"));
            sources.push(state::broken_source(b));
        }
        let mut shown: Vec<(&ContextWatch, bool, Option<i64>)> = Vec::new();
        let mut answering = 0;
        for (cw, view) in contexts.iter().zip(views) {
            sources.push(cw.source(&view));
            match view {
                watch::ContextView::Live(n) | watch::ContextView::Loading(n) => {
                    notices.extend(n.notices);
                    answering += 1;
                    shown.push((cw, true, None));
                }
                watch::ContextView::Stale { since, why } => {
                    let since_ms = since
                        .duration_since(std::time::UNIX_EPOCH)
                        .ok()
                        .and_then(|d| i64::try_from(d.as_millis()).ok());
                    let since = utc_time(since);
                    notices.push(format!(
                        "context {}: not answering since {since} ({why}); its workloads show \
                         the last view from then",
                        cw.context
                    ));
                    down.push(format!("{}: {why} (last answer at {since})", cw.context));
                    shown.push((cw, false, since_ms.or(Some(0))));
                }
                watch::ContextView::Down(why) => {
                    notices.push(format!(
                        "context {}: {why} (its workloads are not shown)",
                        cw.context
                    ));
                    down.push(format!("{}: {why}", cw.context));
                }
            }
        }
        if answering == 0 {
            return Err(ConnectorError::Unreachable {
                endpoint: self.config.name.clone(),
                reason: down.join("; "),
            });
        }
        let name = self.config.name.as_str();
        let rows =
            futures::future::join_all(shown.iter().map(|(cw, live, _)| cw.rows(name, *live))).await;
        let shown_contexts: Vec<&ContextWatch> = shown.iter().map(|(cw, _, _)| *cw).collect();
        let capacity = Arc::new(capacity::view(name, &shown_contexts));
        let mut workloads = Vec::new();
        for (r, (cw, _, stale_since)) in rows.into_iter().zip(&shown) {
            let (mut rows, n, progress) = r?;
            // What was in when the rows were read, so the two agree.
            let name = format!("context {}", cw.context);
            if let Some(s) = sources.iter_mut().find(|s| s.name == name) {
                s.progress = progress;
            }
            for w in &mut rows {
                w.stale_since = *stale_since;
            }
            workloads.extend(rows);
            notices.extend(n);
        }
        workloads.sort_by(|a, b| a.id.cmp(&b.id));
        let mut samples = Vec::with_capacity(workloads.len() * 2);
        // A stale context's last view is shown, never plotted as current: its series get gaps.
        for w in workloads.iter().filter(|w| w.stale_since.is_none()) {
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
        // Capacity series of the contexts that answer now.
        let live = |c: &str| shown.iter().any(|(cw, live, _)| *live && cw.context == c);
        samples.extend(crate::capacity::series::capacity_samples(
            name, &capacity, &live,
        ));
        state::sort_sources(&mut sources, &self.config.contexts);
        let mut list = WorkloadList::with_sources(workloads, sources);
        list.capacity = Some(capacity);
        Ok(PollOutput {
            snapshot: Snapshot::Workloads(list),
            samples,
            notices,
        })
    }

    /// Carry out an action, or with `dry_run` send the same requests with `dryRun=All`: the
    /// API server then runs validation and admission (webhooks, quotas, policies) and stores
    /// nothing. `fresh` is the re-check's read: writes take their preconditions from it.
    async fn request(
        &self,
        action: &Action,
        dry_run: bool,
        fresh: Option<&Snapshot>,
    ) -> Result<String, ConnectorError> {
        match action {
            Action::ScaleWorkload { workload, replicas } if dry_run => {
                self.dry_scale(workload, *replicas).await?;
                Ok("the API server accepted the scale (dry run)".into())
            }
            Action::ScaleWorkload { workload, replicas } => {
                let (cw, ns) = self.context_of(&workload.scope).await?;
                let version = precondition(cw, ns, workload, fresh)?;
                cw.scale(ns, workload.kind, &workload.name, *replicas, version)
                    .await
            }
            Action::ScaleWorkloads { targets, .. } if dry_run => {
                self.dry_scale_many(targets).await?;
                Ok(format!(
                    "the API server accepted all {} scales (dry run)",
                    targets.len()
                ))
            }
            Action::ScaleWorkloads { targets, .. } => self.scale_many(targets, fresh).await,
            Action::SetAutoscaler {
                workload,
                min_replicas,
                max_replicas,
                target_cpu_percent,
            } => {
                let range = (*min_replicas, *max_replicas, *target_cpu_percent);
                let done = self
                    .autoscaler_request(workload, range, dry_run, fresh)
                    .await?;
                Ok(if dry_run {
                    "the API server accepted the autoscaler (dry run)".into()
                } else {
                    done
                })
            }
            Action::DeleteAutoscaler { workload } => {
                let done = self
                    .delete_autoscaler_request(workload, dry_run, fresh)
                    .await?;
                Ok(if dry_run {
                    "the API server accepted the deletion (dry run)".into()
                } else {
                    done
                })
            }
            Action::PromoteReplica { .. }
            | Action::PromoteMysqlReplica { .. }
            | Action::ScaleComposeServices { .. }
            | Action::PatroniSwitchover { .. }
            | Action::PatroniFailover { .. }
            | Action::PatroniCancelSwitchover { .. } => Err(ConnectorError::Unsupported(format!(
                "a Kubernetes endpoint cannot {} {}",
                action.kind(),
                action.target_path()
            ))),
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
        let (cw, ns) = self.context_of(&workload.scope).await?;
        kubernetes_kind(workload)?;
        let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": n } }));
        cw.patch_scale(ns, workload.kind, &workload.name, &patch, true)
            .await
            .map(|_| ())
            .map_err(|e| api_error(&format!("scale {workload}"), &e))
    }

    /// The watched context and the namespace of a `context/namespace` scope.
    async fn context_of<'a>(
        &'a self,
        scope: &'a str,
    ) -> Result<(&'a ContextWatch, &'a str), ConnectorError> {
        let contexts = self.contexts().await?;
        let (context, namespace) = split_scope(scope)?;
        let cw = contexts
            .iter()
            .find(|c| c.context == context)
            .ok_or_else(|| {
                ConnectorError::Failed(format!("context {context} is not watched by this endpoint"))
            })?;
        Ok((cw, namespace))
    }

    /// Every target's precondition is found before any is changed; then they are scaled one by
    /// one, and a failure part-way says exactly which ones changed and which did not.
    async fn scale_many(
        &self,
        targets: &[(WorkloadRef, u32)],
        fresh: Option<&Snapshot>,
    ) -> Result<String, ConnectorError> {
        let mut located = Vec::with_capacity(targets.len());
        for (id, n) in targets {
            let (cw, ns) = self.context_of(&id.scope).await?;
            let version = precondition(cw, ns, id, fresh)?;
            located.push((cw, ns, id, *n, version));
        }
        let mut done = Vec::new();
        for (cw, ns, id, n, version) in located {
            if let Err(e) = cw.scale(ns, id.kind, &id.name, n, version).await {
                let done = if done.is_empty() {
                    "none".to_string()
                } else {
                    done.join(", ")
                };
                let detail = format!("{e}; already scaled: {done}; not attempted after {id}");
                // A conflict before anything changed is "changed since planned"; after some
                // changed, the whole action failed part-way.
                return Err(match e {
                    ConnectorError::Conflict(_) if done == "none" => {
                        ConnectorError::Conflict(detail)
                    }
                    _ => ConnectorError::Failed(detail),
                });
            }
            done.push(format!("{id} -> {n}"));
        }
        Ok(format!("scaled {}", done.join(", ")))
    }
}

/// The workload as the re-check read it, when there was one.
fn fresh_row<'a>(fresh: Option<&'a Snapshot>, id: &WorkloadRef) -> Option<&'a Workload> {
    match fresh? {
        Snapshot::Workloads(list) => list.iter().find(|w| &w.id == id),
        _ => None,
    }
}

/// The resourceVersion a scale is conditioned on: the re-check's read when there was one (the
/// engine always makes one), else the watch cache's.
fn precondition(
    cw: &ContextWatch,
    ns: &str,
    id: &WorkloadRef,
    fresh: Option<&Snapshot>,
) -> Result<Option<String>, ConnectorError> {
    kubernetes_kind(id)?;
    if fresh.is_none() {
        return Ok(cw.cached_version(ns, id.kind, &id.name));
    }
    match fresh_row(fresh, id) {
        Some(w) => Ok(w.resource_version.clone()),
        None => Err(ConnectorError::NotFound(format!(
            "{id} was not found when read again right before the write"
        ))),
    }
}

fn kubernetes_kind(id: &WorkloadRef) -> Result<WorkloadKind, ConnectorError> {
    if id.kind.is_kubernetes() {
        Ok(id.kind)
    } else {
        Err(ConnectorError::Unsupported(format!(
            "a Kubernetes endpoint has no {}s ({id})",
            id.kind.label()
        )))
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
            reason: words::kube_words(e),
        },
        other => ConnectorError::Failed(format!("{what}: {}", words::kube_words(other))),
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

/// One workload row from its projected object, its pods and its autoscaler. The poll (from the
/// watch caches) and the fresh read (from the API server) both build rows here, so the two
/// compare equal when nothing changed.
#[allow(clippy::too_many_arguments)]
fn row(
    endpoint: &str,
    context: &str,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    w: &cache::WorkloadObj,
    pods: &PodTotals,
    autoscaler: Option<Autoscaler>,
) -> Workload {
    let [desired, ready, available, updated] = w.counts.map(count);
    Workload {
        id: WorkloadRef {
            endpoint: endpoint.to_string(),
            scope: format!("{context}/{ns}"),
            name: name.to_string(),
            kind,
        },
        revision: w.generation.map(|g| g.to_string()),
        resource_version: w.version.clone(),
        stale_since: None,
        desired,
        ready,
        available,
        updated,
        cpu_percent: pods.cpu_percent(),
        memory_percent: pods.memory_percent(),
        autoscaler,
        fixed_host_port: None,
        pending_reason: pending_reason(w, pods, ready, updated, desired),
        docker: None,
        scale_denied: None,
        autoscale_denied: None,
    }
}

/// What holds a workload back while it is short of ready (or updated) replicas: a pod that will
/// not get ready by waiting (unschedulable, image pull error, crash loop) first, then the
/// workload's own failing condition (quota, admission: pods cannot even be created), then a pod
/// that is still starting. The pods come first because they are current: a condition can
/// outlive the rollout that set it.
fn pending_reason(
    w: &cache::WorkloadObj,
    pods: &PodTotals,
    ready: u32,
    updated: u32,
    desired: u32,
) -> Option<String> {
    if ready >= desired && updated >= desired {
        return None;
    }
    let blocked = pods.stuck.as_ref().filter(|s| s.rank >= pods::BLOCKED);
    blocked
        .map(|s| s.text.clone())
        .or_else(|| w.condition.clone())
        .or_else(|| pods.stuck.as_ref().map(|s| s.text.clone()))
}

impl Permissions {
    /// While a namespace's access review has not answered yet.
    fn checking() -> Self {
        let why = || {
            Some(
                "checking whether you may do this here (access review in progress; a moment)"
                    .to_string(),
            )
        };
        Self {
            scale_deployments: why(),
            scale_statefulsets: why(),
            autoscalers: why(),
        }
    }

    fn apply(&self, w: &mut Workload) {
        w.scale_denied = match w.id.kind {
            WorkloadKind::StatefulSet => self.scale_statefulsets.clone(),
            _ => self.scale_deployments.clone(),
        };
        w.autoscale_denied.clone_from(&self.autoscalers);
    }
}

/// "07:00:03 UTC": when a context last answered, fixed at the change so a notice's text stays
/// the same from poll to poll (the poll loop says each distinct notice once).
fn utc_time(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn signed(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
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
        Box::pin(self.request(run.action, false, run.fresh))
    }

    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        Box::pin(self.read_fresh_targets(action))
    }

    fn dry_run<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        Box::pin(async move { self.request(action, true, None).await.map(Some) })
    }
}
