//! Kubernetes: Deployments, StatefulSets and HorizontalPodAutoscalers (autoscaling/v2) of every
//! chosen context and namespace, kept current by watchers (kube-runtime reflectors with backoff,
//! managed fields stripped), so a poll reads memory and never calls the API.
//!
//! Workload scope is `"{context}/{namespace}"`; the name is the object's name. Scaling goes
//! through the `scale` subresource with a JSON merge patch, autoscalers through autoscaling/v2.
//!
//! Watchers start on the first poll (polls run inside the engine's tokio runtime) and end when
//! the connector is dropped.

mod pods;

pub use pods::parse_quantity;

use super::snapshot::{Autoscaler, Sample, Snapshot, Workload, WorkloadKind, WorkloadRef};
use super::{Connector, ConnectorError, PollOutput};
use crate::actions::Action;
use crate::engine::clock::BoxFuture;
use crate::engine::types::{Area, EndpointInfo};
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
use kube::runtime::reflector::{self, Store};
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
    permissions: tokio::sync::Mutex<HashMap<String, (tokio::time::Instant, Permissions)>>,
    deployments: Vec<Store<Deployment>>,
    statefulsets: Vec<Store<StatefulSet>>,
    hpas: Vec<Store<HorizontalPodAutoscaler>>,
    pods: Vec<Store<Pod>>,
    replicasets: Vec<Store<ReplicaSet>>,
    namespaces: Vec<String>,
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
        let started = self.started.get_or_init(|| start(&self.config)).await;
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
        for cw in contexts {
            if let Err(reason) = cw.synced().await {
                return Err(ConnectorError::Unreachable {
                    endpoint: format!("{}/{}", self.config.name, cw.context),
                    reason,
                });
            }
            cw.refresh_metrics(&mut notices).await;
            let start = workloads.len();
            {
                let metrics = cw.metrics.lock().await;
                cw.collect(&self.config.name, &metrics.usage, &mut workloads);
            }
            for w in &mut workloads[start..] {
                let ns = split_scope(&w.id.scope).map(|(_, ns)| ns.to_string())?;
                let p = cw.permissions(&ns).await;
                w.scale_denied = match w.kind {
                    WorkloadKind::StatefulSet => p.scale_statefulsets.clone(),
                    _ => p.scale_deployments.clone(),
                };
                w.autoscale_denied = p.autoscalers.clone();
            }
        }
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

    async fn run(&self, action: &Action) -> Result<String, ConnectorError> {
        match action {
            Action::ScaleWorkload { workload, replicas } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                cw.scale(ns, kind, &workload.name, *replicas).await
            }
            Action::ScaleWorkloads { targets, .. } => self.scale_many(targets).await,
            Action::SetAutoscaler {
                workload,
                min_replicas,
                max_replicas,
                target_cpu_percent,
            } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                cw.set_autoscaler(
                    ns,
                    kind,
                    &workload.name,
                    (*min_replicas, *max_replicas, *target_cpu_percent),
                )
                .await
            }
            Action::DeleteAutoscaler { workload } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                cw.delete_autoscaler(ns, kind, &workload.name).await
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

    /// The same requests as [`Self::run`] with `dryRun=All`: the API server runs validation and
    /// admission (webhooks, quotas, policies) and stores nothing.
    async fn validate(&self, action: &Action) -> Result<String, ConnectorError> {
        let one = |workload: &WorkloadRef| workload.clone();
        let targets: Vec<(WorkloadRef, Option<u32>)> = match action {
            Action::ScaleWorkload { workload, replicas } => vec![(one(workload), Some(*replicas))],
            Action::ScaleWorkloads { targets, .. } => {
                targets.iter().map(|(w, n)| (w.clone(), Some(*n))).collect()
            }
            Action::SetAutoscaler {
                workload,
                min_replicas,
                max_replicas,
                target_cpu_percent,
            } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                cw.autoscaler_request(
                    ns,
                    kind,
                    &workload.name,
                    (*min_replicas, *max_replicas, *target_cpu_percent),
                    true,
                )
                .await?;
                return Ok("the API server accepted the autoscaler (dry run)".into());
            }
            Action::DeleteAutoscaler { workload } => {
                let (cw, ns, kind) = self.locate(workload).await?;
                cw.delete_autoscaler_request(ns, kind, &workload.name, true)
                    .await?;
                return Ok("the API server accepted the deletion (dry run)".into());
            }
            Action::PromoteReplica { .. } | Action::ScaleComposeServices { .. } => {
                return Err(ConnectorError::Unsupported(format!(
                    "a Kubernetes endpoint cannot {}",
                    action.kind()
                )));
            }
        };
        for (workload, replicas) in &targets {
            let (cw, ns, kind) = self.locate(workload).await?;
            if let Some(n) = replicas {
                let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": n } }));
                cw.patch_scale(ns, kind, &workload.name, &patch, true)
                    .await
                    .map_err(|e| api_error(&format!("scale {workload}"), &e))?;
            }
        }
        Ok(format!(
            "the API server accepted {} (dry run)",
            if targets.len() == 1 {
                "the scale".to_string()
            } else {
                format!("all {} scales", targets.len())
            }
        ))
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

/// `"{context}/{namespace}"` -> (context, namespace). Contexts may contain `/`; namespaces
/// cannot, so the last `/` splits them.
pub fn split_scope(scope: &str) -> Result<(&str, &str), ConnectorError> {
    scope
        .rsplit_once('/')
        .ok_or_else(|| ConnectorError::Failed(format!("{scope} is not a context/namespace scope")))
}

fn api_error(what: &str, e: &kube::Error) -> ConnectorError {
    match e {
        kube::Error::Api(status) => ConnectorError::Failed(format!(
            "{what}: the API server refused ({} {}): {}",
            status.code, status.reason, status.message
        )),
        other => ConnectorError::Failed(format!("{what}: {other}")),
    }
}

async fn start(config: &KubernetesEndpoint) -> Result<Vec<ContextWatch>, String> {
    let kubeconfig = match &config.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?,
        None => Kubeconfig::read().map_err(|e| format!("cannot read kubeconfig: {e}"))?,
    };
    let contexts = if config.contexts.is_empty() {
        vec![
            kubeconfig
                .current_context
                .clone()
                .ok_or("the kubeconfig names no current context; choose contexts in the profile")?,
        ]
    } else {
        config.contexts.clone()
    };
    let mut out = Vec::new();
    for context in contexts {
        let options = KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
            .await
            .map_err(|e| format!("context {context}: {e}"))?;
        let client = Client::try_from(cfg)
            .map_err(|e| format!("context {context}: cannot build a client: {e}"))?;
        out.push(ContextWatch::start(context, &client, &config.namespaces));
    }
    Ok(out)
}

/// One reflector: list then watch, with backoff on errors, managed fields stripped.
fn spawn_reflector<K>(
    api: Api<K>,
    name: &'static str,
    errors: &Arc<Mutex<HashMap<&'static str, String>>>,
    strip: fn(&mut K),
) -> (Store<K>, JoinHandle<()>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let errors = Arc::clone(errors);
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(move |obj: &mut K| {
            obj.meta_mut().managed_fields = None;
            strip(obj);
        })
        .reflect(writer);
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(mut errors) = errors.lock() {
                match event {
                    Ok(_) => {
                        errors.remove(name);
                    }
                    Err(e) => {
                        log::warn!("watch {name}: {e}");
                        errors.insert(name, e.to_string());
                    }
                }
            }
        }
    });
    (reader, task)
}

impl ContextWatch {
    fn start(context: String, client: &Client, namespaces: &[String]) -> Self {
        let errors = Arc::new(Mutex::new(HashMap::new()));
        let mut cw = Self {
            context,
            client: client.clone(),
            permissions: tokio::sync::Mutex::new(HashMap::new()),
            deployments: Vec::new(),
            statefulsets: Vec::new(),
            hpas: Vec::new(),
            pods: Vec::new(),
            replicasets: Vec::new(),
            namespaces: namespaces.to_vec(),
            metrics: tokio::sync::Mutex::new(MetricsState::default()),
            errors: Arc::clone(&errors),
            tasks: Vec::new(),
        };
        // Empty = all namespaces: one cluster-wide watch per resource.
        let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
            vec![None]
        } else {
            namespaces.iter().map(|n| Some(n.as_str())).collect()
        };
        for ns in scopes {
            let (store, task) = spawn_reflector(
                api_for::<Deployment>(client, ns),
                "deployments",
                &errors,
                |d| {
                    // Keep status numbers and conditions; the pod template is not needed.
                    if let Some(spec) = d.spec.as_mut() {
                        spec.template = Default::default();
                    }
                },
            );
            cw.deployments.push(store);
            cw.tasks.push(task);
            let (store, task) = spawn_reflector(
                api_for::<StatefulSet>(client, ns),
                "statefulsets",
                &errors,
                |s| {
                    if let Some(spec) = s.spec.as_mut() {
                        spec.template = Default::default();
                        spec.volume_claim_templates = None;
                    }
                },
            );
            cw.statefulsets.push(store);
            cw.tasks.push(task);
            let (store, task) = spawn_reflector(
                api_for::<HorizontalPodAutoscaler>(client, ns),
                "horizontalpodautoscalers",
                &errors,
                |_| {},
            );
            cw.hpas.push(store);
            cw.tasks.push(task);
            let (store, task) =
                spawn_reflector(api_for::<Pod>(client, ns), "pods", &errors, pods::strip_pod);
            cw.pods.push(store);
            cw.tasks.push(task);
            let (store, task) = spawn_reflector(
                api_for::<ReplicaSet>(client, ns),
                "replicasets",
                &errors,
                pods::strip_replicaset,
            );
            cw.replicasets.push(store);
            cw.tasks.push(task);
        }
        cw
    }

    /// Refresh pod usage when due; a notice when metrics.k8s.io is not there (said once by the
    /// poll loop, asked again after [`METRICS_RETRY`]).
    async fn refresh_metrics(&self, notices: &mut Vec<String>) {
        let mut state = self.metrics.lock().await;
        let now = tokio::time::Instant::now();
        if state.next.is_some_and(|next| now < next) {
            return;
        }
        let fetched = tokio::time::timeout(
            METRICS_TIMEOUT,
            pods::pod_usage(&self.client, &self.namespaces),
        )
        .await;
        match fetched {
            Ok(Ok(usage)) => {
                state.usage = usage;
                state.next = Some(now + METRICS_EVERY);
            }
            Ok(Err(MetricsError::NotServed(why))) => {
                state.usage.clear();
                state.next = Some(now + METRICS_RETRY);
                notices.push(format!(
                    "context {}: metrics-server not installed ({why}); CPU and memory stay empty",
                    self.context
                ));
            }
            Ok(Err(MetricsError::Other(why))) => {
                state.next = Some(now + METRICS_EVERY);
                log::warn!("pod metrics in {}: {why}", self.context);
            }
            Err(_) => {
                state.next = Some(now + METRICS_EVERY);
                log::warn!("pod metrics in {}: no answer in time", self.context);
            }
        }
    }

    /// Wait for the initial lists. A watch that keeps failing is reported after a second
    /// instead of holding the poll for the whole [`FIRST_SYNC`].
    async fn synced(&self) -> Result<(), String> {
        let started = tokio::time::Instant::now();
        loop {
            if tokio::time::timeout(Duration::from_millis(100), self.wait_ready())
                .await
                .is_ok()
            {
                return Ok(());
            }
            let errors = self.errors.lock().map(|e| e.clone()).unwrap_or_default();
            let waited = started.elapsed();
            if (!errors.is_empty() && waited > Duration::from_secs(1)) || waited > FIRST_SYNC {
                let mut reasons: Vec<String> = errors
                    .into_iter()
                    .map(|(r, e)| format!("{r}: {e}"))
                    .collect();
                reasons.sort();
                return Err(if reasons.is_empty() {
                    "no answer to the initial list".into()
                } else {
                    reasons.join("; ")
                });
            }
        }
    }

    async fn permissions(&self, ns: &str) -> Permissions {
        let mut cache = self.permissions.lock().await;
        let now = tokio::time::Instant::now();
        if let Some((at, p)) = cache.get(ns)
            && now.duration_since(*at) < RBAC_RECHECK
        {
            return p.clone();
        }
        let p = Permissions {
            scale_deployments: self
                .denied(ns, "patch", "apps", "deployments", "scale")
                .await,
            scale_statefulsets: self
                .denied(ns, "patch", "apps", "statefulsets", "scale")
                .await,
            autoscalers: self
                .denied(ns, "patch", "autoscaling", "horizontalpodautoscalers", "")
                .await,
        };
        cache.insert(ns.to_string(), (now, p.clone()));
        p
    }

    /// Ask the API server whether this user may do `verb` on the resource; Some(reason) when
    /// not. When the review itself fails, the action is left enabled: the server will still
    /// refuse it with a 403, and that reason reaches the audit record.
    async fn denied(
        &self,
        ns: &str,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
    ) -> Option<String> {
        let review = SelfSubjectAccessReview {
            metadata: Default::default(),
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(ns.to_string()),
                    verb: Some(verb.to_string()),
                    group: Some(group.to_string()),
                    resource: Some(resource.to_string()),
                    subresource: (!subresource.is_empty()).then(|| subresource.to_string()),
                    ..ResourceAttributes::default()
                }),
                non_resource_attributes: None,
            },
            status: None,
        };
        let api = Api::<SelfSubjectAccessReview>::all(self.client.clone());
        let answer = match api.create(&PostParams::default(), &review).await {
            Ok(a) => a,
            Err(e) => {
                log::warn!("access review in {}/{ns}: {e}", self.context);
                return None;
            }
        };
        let status = answer.status.unwrap_or_default();
        if status.allowed {
            return None;
        }
        let what = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        let why = status
            .reason
            .filter(|r| !r.is_empty())
            .map_or(String::new(), |r| format!(" ({r})"));
        Some(format!(
            "Your credentials in context {} may not {verb} {what} in namespace {ns}{why}.",
            self.context
        ))
    }

    async fn wait_ready(&self) {
        for s in &self.deployments {
            let _ = s.wait_until_ready().await;
        }
        for s in &self.statefulsets {
            let _ = s.wait_until_ready().await;
        }
        for s in &self.hpas {
            let _ = s.wait_until_ready().await;
        }
        for s in &self.pods {
            let _ = s.wait_until_ready().await;
        }
        for s in &self.replicasets {
            let _ = s.wait_until_ready().await;
        }
    }

    fn collect(&self, endpoint: &str, usage: &Usage, out: &mut Vec<Workload>) {
        let totals = pods::fold(
            self.pods.iter().flat_map(Store::state),
            self.replicasets.iter().flat_map(Store::state),
            usage,
        );
        let of = |ns: &str, kind: WorkloadKind, name: &str| {
            totals
                .get(&(ns.to_string(), kind, name.to_string()))
                .cloned()
                .unwrap_or_default()
        };
        let hpas: Vec<Arc<HorizontalPodAutoscaler>> =
            self.hpas.iter().flat_map(Store::state).collect();
        let make_ref = |ns: &str, name: &str| WorkloadRef {
            endpoint: endpoint.to_string(),
            scope: format!("{}/{ns}", self.context),
            name: name.to_string(),
        };
        let autoscaler_for = |ns: &str, kind: &str, name: &str| {
            hpas.iter()
                .find(|h| {
                    h.namespace().as_deref() == Some(ns)
                        && h.spec.as_ref().is_some_and(|s| {
                            s.scale_target_ref.kind == kind && s.scale_target_ref.name == name
                        })
                })
                .map(|h| autoscaler(h))
        };
        for d in self.deployments.iter().flat_map(Store::state) {
            let ns = d.namespace().unwrap_or_default();
            let status = d.status.clone().unwrap_or_default();
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let pending_reason = status.conditions.as_ref().and_then(|cs| {
                cs.iter()
                    .find(|c| {
                        (c.type_ == "ReplicaFailure" && c.status == "True")
                            || (c.type_ == "Progressing" && c.status == "False")
                    })
                    .and_then(|c| c.message.clone())
            });
            let pods = of(&ns, WorkloadKind::Deployment, &d.name_any());
            let ready = count(status.ready_replicas.unwrap_or(0));
            out.push(Workload {
                id: make_ref(&ns, &d.name_any()),
                kind: WorkloadKind::Deployment,
                desired: count(desired),
                ready,
                available: count(status.available_replicas.unwrap_or(0)),
                updated: count(status.updated_replicas.unwrap_or(0)),
                cpu_percent: pods.cpu_percent(),
                memory_percent: pods.memory_percent(),
                autoscaler: autoscaler_for(&ns, "Deployment", &d.name_any()),
                fixed_host_port: None,
                pending_reason: stuck(&pods, ready, count(desired)).or(pending_reason),
                docker: None,
                scale_denied: None,
                autoscale_denied: None,
            });
        }
        for s in self.statefulsets.iter().flat_map(Store::state) {
            let ns = s.namespace().unwrap_or_default();
            let status = s.status.clone().unwrap_or_default();
            let desired = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let pods = of(&ns, WorkloadKind::StatefulSet, &s.name_any());
            let ready = count(status.ready_replicas.unwrap_or(0));
            out.push(Workload {
                id: make_ref(&ns, &s.name_any()),
                kind: WorkloadKind::StatefulSet,
                desired: count(desired),
                ready,
                available: count(status.available_replicas.unwrap_or(0)),
                updated: count(status.updated_replicas.unwrap_or(0)),
                cpu_percent: pods.cpu_percent(),
                memory_percent: pods.memory_percent(),
                autoscaler: autoscaler_for(&ns, "StatefulSet", &s.name_any()),
                fixed_host_port: None,
                pending_reason: stuck(&pods, ready, count(desired)),
                docker: None,
                scale_denied: None,
                autoscale_denied: None,
            });
        }
    }

    fn kind_of(&self, ns: &str, name: &str) -> Option<WorkloadKind> {
        let is = |o: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            o.namespace.as_deref() == Some(ns) && o.name.as_deref() == Some(name)
        };
        if self
            .deployments
            .iter()
            .any(|s| s.state().iter().any(|d| is(d.meta())))
        {
            Some(WorkloadKind::Deployment)
        } else if self
            .statefulsets
            .iter()
            .any(|s| s.state().iter().any(|d| is(d.meta())))
        {
            Some(WorkloadKind::StatefulSet)
        } else {
            None
        }
    }

    /// The HPA (from the watch cache) whose scale target is this workload: name and version.
    fn hpa_for(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<(String, Option<String>)> {
        let kind = kind_name(kind);
        self.hpas.iter().flat_map(Store::state).find_map(|h| {
            let spec = h.spec.as_ref()?;
            (h.namespace().as_deref() == Some(ns)
                && spec.scale_target_ref.kind == kind
                && spec.scale_target_ref.name == name)
                .then(|| (h.name_any(), h.resource_version()))
        })
    }

    /// The resourceVersion of a workload as the watch cache (and so the operator's plan) saw it.
    fn cached_version(&self, ns: &str, kind: WorkloadKind, name: &str) -> Option<String> {
        let is = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.namespace.as_deref() == Some(ns) && m.name.as_deref() == Some(name)
        };
        match kind {
            WorkloadKind::StatefulSet => self
                .statefulsets
                .iter()
                .flat_map(Store::state)
                .find(|o| is(o.meta()))
                .and_then(|o| o.resource_version()),
            _ => self
                .deployments
                .iter()
                .flat_map(Store::state)
                .find(|o| is(o.meta()))
                .and_then(|o| o.resource_version()),
        }
    }

    /// Scale through the `scale` subresource with the resourceVersion the plan saw, so a change
    /// made by someone else in between is noticed (409 Conflict). A conflict is retried once
    /// with a fresh read; a second one is reported.
    async fn scale(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        replicas: u32,
    ) -> Result<String, ConnectorError> {
        let what = format!("scale {} {ns}/{name}", kind_name(kind));
        let mut version = self.cached_version(ns, kind, name);
        let mut retried = false;
        loop {
            let patch = Patch::Merge(serde_json::json!({
                "metadata": { "resourceVersion": version },
                "spec": { "replicas": replicas },
            }));
            match self.patch_scale(ns, kind, name, &patch, false).await {
                Ok(scale) => {
                    let now = scale.spec.and_then(|s| s.replicas).unwrap_or_default();
                    let note = if retried {
                        " (after one 409 Conflict, retried with a fresh read)"
                    } else {
                        ""
                    };
                    return Ok(format!(
                        "{} {ns}/{name} scale subresource now wants {now} replicas{note}",
                        kind_name(kind)
                    ));
                }
                Err(kube::Error::Api(status)) if status.code == 409 && !retried => {
                    log::info!("{what}: conflict, reading again: {}", status.message);
                    retried = true;
                    version = self
                        .get_scale(ns, kind, name)
                        .await
                        .map_err(|e| api_error(&what, &e))?
                        .metadata
                        .resource_version;
                }
                Err(e) => return Err(api_error(&what, &e)),
            }
        }
    }

    async fn patch_scale(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        patch: &Patch<serde_json::Value>,
        dry_run: bool,
    ) -> kube::Result<k8s_openapi::api::autoscaling::v1::Scale> {
        let params = PatchParams {
            dry_run,
            ..PatchParams::default()
        };
        match kind {
            WorkloadKind::StatefulSet => {
                Api::<StatefulSet>::namespaced(self.client.clone(), ns)
                    .patch_scale(name, &params, patch)
                    .await
            }
            _ => {
                Api::<Deployment>::namespaced(self.client.clone(), ns)
                    .patch_scale(name, &params, patch)
                    .await
            }
        }
    }

    async fn get_scale(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> kube::Result<k8s_openapi::api::autoscaling::v1::Scale> {
        match kind {
            WorkloadKind::StatefulSet => {
                Api::<StatefulSet>::namespaced(self.client.clone(), ns)
                    .get_scale(name)
                    .await
            }
            _ => {
                Api::<Deployment>::namespaced(self.client.clone(), ns)
                    .get_scale(name)
                    .await
            }
        }
    }

    async fn set_autoscaler(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        range: (u32, u32, u32),
    ) -> Result<String, ConnectorError> {
        self.autoscaler_request(ns, kind, name, range, false).await
    }

    /// Edit the workload's HPA (merge patch with the cached resourceVersion, one retry on 409)
    /// or create one named after the workload, as `kubectl autoscale` does.
    async fn autoscaler_request(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        (min, max, cpu): (u32, u32, u32),
        dry_run: bool,
    ) -> Result<String, ConnectorError> {
        let patch_params = PatchParams {
            dry_run,
            ..PatchParams::default()
        };
        let post_params = PostParams {
            dry_run,
            ..PostParams::default()
        };
        let api = Api::<HorizontalPodAutoscaler>::namespaced(self.client.clone(), ns);
        let metrics = vec![MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: "cpu".into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(signed(cpu)),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        }];
        if let Some((existing, mut version)) = self.hpa_for(ns, kind, name) {
            let what = format!("patch hpa {ns}/{existing}");
            let mut retried = false;
            loop {
                let patch = Patch::Merge(serde_json::json!({
                    "metadata": { "resourceVersion": version },
                    "spec": {
                        "minReplicas": min,
                        "maxReplicas": max,
                        "metrics": metrics,
                    }
                }));
                match api.patch(&existing, &patch_params, &patch).await {
                    Ok(_) => break,
                    Err(kube::Error::Api(status)) if status.code == 409 && !retried => {
                        log::info!("{what}: conflict, reading again: {}", status.message);
                        retried = true;
                        version = api
                            .get(&existing)
                            .await
                            .map_err(|e| api_error(&what, &e))?
                            .resource_version();
                    }
                    Err(e) => return Err(api_error(&what, &e)),
                }
            }
            return Ok(format!(
                "hpa {ns}/{existing} set to min {min}, max {max}, CPU {cpu} %"
            ));
        }
        let hpa = HorizontalPodAutoscaler {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(ns.to_string()),
                ..Default::default()
            },
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: kind_name(kind).into(),
                    name: name.to_string(),
                },
                min_replicas: Some(signed(min)),
                max_replicas: signed(max),
                metrics: Some(metrics),
                behavior: None,
            }),
            status: None,
        };
        api.create(&post_params, &hpa)
            .await
            .map_err(|e| api_error(&format!("create hpa {ns}/{name}"), &e))?;
        Ok(format!(
            "hpa {ns}/{name} created: min {min}, max {max}, CPU {cpu} %"
        ))
    }

    async fn delete_autoscaler(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Result<String, ConnectorError> {
        self.delete_autoscaler_request(ns, kind, name, false).await
    }

    async fn delete_autoscaler_request(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        dry_run: bool,
    ) -> Result<String, ConnectorError> {
        let (existing, _) = self.hpa_for(ns, kind, name).ok_or_else(|| {
            ConnectorError::Failed(format!("{ns}/{name} has no autoscaler to delete"))
        })?;
        Api::<HorizontalPodAutoscaler>::namespaced(self.client.clone(), ns)
            .delete(
                &existing,
                &DeleteParams {
                    dry_run,
                    ..DeleteParams::default()
                },
            )
            .await
            .map_err(|e| api_error(&format!("delete hpa {ns}/{existing}"), &e))?;
        Ok(format!("hpa {ns}/{existing} deleted"))
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
    }
}

impl Connector for KubernetesConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.read())
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(self.run(action))
    }

    fn dry_run<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        Box::pin(async move { self.validate(action).await.map(Some) })
    }
}
