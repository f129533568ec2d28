//! An in-process fake Kubernetes API server that speaks the real wire protocol, because no real
//! API server can be installed on the test machines.
//!
//! Built on plain hyper 1 + hyper-util (already in the tree through kube): a dozen routes do not
//! need a web framework, and hyper gives full control of the streamed watch bodies.
//!
//! What it serves, as a real server would:
//! - core `/api/v1/...` (pods, resourcequotas, limitranges, configmaps, and cluster-scoped nodes) and named groups `/apis/apps/v1/...` (deployments, statefulsets),
//!   `/apis/autoscaling/v2/...` (horizontalpodautoscalers), cluster-wide and per namespace;
//! - LIST with `limit`/`continue` chunks and a list `resourceVersion`; WATCH
//!   (`watch=true&resourceVersion=N`) as newline-delimited `WatchEvent` JSON, replaying history
//!   after N, a BOOKMARK when `allowWatchBookmarks=true`, and an ERROR event with a 410 `Status`
//!   when N is older than the kept history;
//! - GET/PUT/PATCH/DELETE of objects, POST create, the `scale` subresource (autoscaling/v1
//!   `Scale`); PATCH accepts `application/merge-patch+json` and `application/apply-patch+yaml`
//!   (JSON bodies, `fieldManager` required) and answers 415 to anything else; PUT with a stale
//!   `metadata.resourceVersion` is a 409 Conflict; `dryRun=All` validates without storing;
//! - LIST with `labelSelector` (`k=v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`);
//! - `fieldManager` on every write, recorded per write in [`State::writes`] and in the object's
//!   `metadata.managedFields` (manager "unknown" when the request names none); DELETE honours
//!   `preconditions.resourceVersion` (409 when stale);
//! - `SelfSubjectAccessReview`, bearer-token auth (401), a deny list that answers 403;
//! - errors as `Status` bodies; unknown paths 404, wrong verbs 405;
//! - `GET /version` (unauthenticated, as `system:public-info-viewer` allows);
//! - namespace-scoped RBAC ([`State::only_namespaces`]: 403 on cluster-wide lists and watches
//!   and in other namespaces, with the real server's wording), a delay before each LIST page
//!   ([`State::list_delay`]; per resource before a LIST's first page:
//!   [`State::list_delay_by_resource`]), and a server that stops (the port refuses connections, open
//!   watches are cut) and comes back on the same port ([`FakeKube::stop`], [`FakeKube::resume`]).
//!
//! A "controller" moves `status.*Replicas` to `spec.replicas` after a change (unless
//! `auto_ready` is off), emitting watch events like a real rollout.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]
// Handlers take the parts of a routed path by value: simpler than threading borrows through.
#![allow(clippy::needless_pass_by_value)]

use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

type Body = UnsyncBoxBody<Bytes, Infallible>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Res {
    Pods,
    Deployments,
    StatefulSets,
    ReplicaSets,
    Hpas,
    /// metrics.k8s.io/v1beta1 pods: served only when `State::metrics_served` (as when
    /// metrics-server is installed); read-only, like the real aggregated API.
    PodMetrics,
    /// metrics.k8s.io/v1beta1 nodes (`NodeMetrics`, cluster-scoped, stored under namespace
    /// ""): served like `PodMetrics`.
    NodeMetrics,
    /// Cluster-scoped: stored under namespace "", listed and watched only cluster-wide.
    Nodes,
    ResourceQuotas,
    LimitRanges,
    ConfigMaps,
}

impl Res {
    fn from_route(group_version: &str, plural: &str) -> Option<Self> {
        match (group_version, plural) {
            ("v1", "pods") => Some(Self::Pods),
            ("v1", "nodes") => Some(Self::Nodes),
            ("v1", "resourcequotas") => Some(Self::ResourceQuotas),
            ("v1", "limitranges") => Some(Self::LimitRanges),
            ("v1", "configmaps") => Some(Self::ConfigMaps),
            ("apps/v1", "deployments") => Some(Self::Deployments),
            ("apps/v1", "statefulsets") => Some(Self::StatefulSets),
            ("apps/v1", "replicasets") => Some(Self::ReplicaSets),
            ("metrics.k8s.io/v1beta1", "pods") => Some(Self::PodMetrics),
            ("metrics.k8s.io/v1beta1", "nodes") => Some(Self::NodeMetrics),
            ("autoscaling/v2", "horizontalpodautoscalers") => Some(Self::Hpas),
            _ => None,
        }
    }
    fn api_version(self) -> &'static str {
        match self {
            Self::Pods
            | Self::Nodes
            | Self::ResourceQuotas
            | Self::LimitRanges
            | Self::ConfigMaps => "v1",
            Self::Deployments | Self::StatefulSets | Self::ReplicaSets => "apps/v1",
            Self::Hpas => "autoscaling/v2",
            Self::PodMetrics | Self::NodeMetrics => "metrics.k8s.io/v1beta1",
        }
    }
    fn kind(self) -> &'static str {
        match self {
            Self::Pods => "Pod",
            Self::Deployments => "Deployment",
            Self::StatefulSets => "StatefulSet",
            Self::ReplicaSets => "ReplicaSet",
            Self::Hpas => "HorizontalPodAutoscaler",
            Self::PodMetrics => "PodMetrics",
            Self::NodeMetrics => "NodeMetrics",
            Self::Nodes => "Node",
            Self::ResourceQuotas => "ResourceQuota",
            Self::LimitRanges => "LimitRange",
            Self::ConfigMaps => "ConfigMap",
        }
    }
    fn plural(self) -> &'static str {
        match self {
            Self::Pods => "pods",
            Self::Deployments => "deployments",
            Self::StatefulSets => "statefulsets",
            Self::ReplicaSets => "replicasets",
            Self::Hpas => "horizontalpodautoscalers",
            Self::PodMetrics => "pods",
            Self::NodeMetrics => "nodes",
            Self::Nodes => "nodes",
            Self::ResourceQuotas => "resourcequotas",
            Self::LimitRanges => "limitranges",
            Self::ConfigMaps => "configmaps",
        }
    }
    fn scalable(self) -> bool {
        matches!(self, Self::Deployments | Self::StatefulSets)
    }
}

type Key = (Res, String, String);

#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    res: Res,
    ns: String,
    line: Bytes,
}

pub struct State {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Change>,
    /// Watches from a resourceVersion below this get 410 Gone.
    history_floor: u64,
    /// Every request as "METHOD /path?query".
    pub requests: Vec<String>,
    /// Move status replicas to spec replicas after each change (a rollout that succeeds).
    pub auto_ready: bool,
    /// (verb, resource) pairs this user may not use, e.g. ("patch", "deployments/scale").
    pub denied: HashSet<(String, String)>,
    /// A validating admission webhook that denies every write (dry runs included) with this
    /// message, as a policy engine (Kyverno, Gatekeeper) would.
    pub admission_denial: Option<String>,
    /// Whether metrics.k8s.io is served (metrics-server installed); 404 for it otherwise.
    pub metrics_served: bool,
    /// metrics.k8s.io is registered but its backend is down: 503 for it.
    pub metrics_unavailable: bool,
    /// Before each of the next N writes (PUT, PATCH, DELETE), another client changes the object first,
    /// so a write that carries the resourceVersion it read gets 409 Conflict, as on a real server.
    pub conflicts: u32,
    /// Every write (POST, PUT, PATCH, DELETE of objects) with the field manager it named.
    pub writes: Vec<Write>,
    /// The user may read only these namespaces (a RoleBinding per namespace, no ClusterRole):
    /// LIST and WATCH in all namespaces or in another namespace are 403 Forbidden.
    pub only_namespaces: Option<HashSet<String>>,
    /// Each LIST page is answered this much later (a loaded API server).
    pub list_delay: std::time::Duration,
    /// Each SelfSubjectAccessReview is answered this much later.
    pub review_delay: std::time::Duration,
    /// By resource plural ("pods"): each LIST of it answers its first page this much later (a
    /// server slow on one large resource); later pages of that LIST come at once.
    pub list_delay_by_resource: HashMap<&'static str, std::time::Duration>,
    /// Pods made on demand by LIST after the stored ones (the envelope bench: 150,000 pods of
    /// 7.9 KB held as JSON values would take several GB). They have no watch history.
    pub generated_pods: Option<GeneratedPods>,
    /// Requests without the bearer token are served too (kubectl sends no token over http).
    pub anonymous: bool,
    /// LIST pages refused with 410 Expired because their continue token's version was
    /// compacted away.
    pub expired_continues: usize,
}

/// `count` pods, the i-th made by `make(i)` each time a LIST page holds it: the server pays
/// the serialisation of every object it sends, as a real one does.
#[derive(Clone)]
pub struct GeneratedPods {
    pub count: usize,
    pub make: Arc<dyn Fn(usize) -> Value + Send + Sync>,
}

/// One write request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub method: String,
    pub path: String,
    /// The `fieldManager` query parameter; `None` when the client named none.
    pub field_manager: Option<String>,
    pub dry_run: bool,
}

impl State {
    /// The writes that named this field manager (`None`: those that named none).
    pub fn writes_by(&self, manager: Option<&str>) -> Vec<Write> {
        self.writes
            .iter()
            .filter(|w| w.field_manager.as_deref() == manager)
            .cloned()
            .collect()
    }
}

pub struct FakeKube {
    pub addr: SocketAddr,
    pub token: String,
    state: Arc<Mutex<State>>,
    server: Server,
    /// False while stopped: the listener is closed and every open connection is cut.
    online: Arc<tokio::sync::watch::Sender<bool>>,
    events: broadcast::Sender<Change>,
    /// Bumped to end every open watch (as an API server restart or a load balancer would).
    epoch: Arc<tokio::sync::watch::Sender<u64>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl FakeKube {
    /// Start on a free loopback port, on its own runtime thread.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // A std listener: `block_on` would panic when a test already runs inside a runtime.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            rv: 100,
            objects: BTreeMap::new(),
            history: Vec::new(),
            history_floor: 0,
            requests: Vec::new(),
            auto_ready: true,
            denied: HashSet::new(),
            conflicts: 0,
            writes: Vec::new(),
            metrics_served: false,
            metrics_unavailable: false,
            admission_denial: None,
            only_namespaces: None,
            list_delay: std::time::Duration::ZERO,
            review_delay: std::time::Duration::ZERO,
            list_delay_by_resource: HashMap::new(),
            generated_pods: None,
            anonymous: false,
            expired_continues: 0,
        }));
        let (events, _) = broadcast::channel(4096);
        let epoch = Arc::new(tokio::sync::watch::channel(0).0);
        let server = Server {
            state: Arc::clone(&state),
            events: events.clone(),
            epoch: Arc::clone(&epoch),
            token: "fake-token-7f3a".into(),
        };
        let token = server.token.clone();
        let online = Arc::new(tokio::sync::watch::channel(true).0);
        serve(&runtime, std_listener, server.clone(), Arc::clone(&online));
        Self {
            addr,
            token,
            state,
            server,
            online,
            events,
            epoch,
            runtime: Some(runtime),
        }
    }

    /// Stop answering, as an API server that is shut down: the port refuses connections and
    /// every open connection (watches included) is closed.
    pub fn stop(&self) {
        self.online.send_replace(false);
        // Let the accept loop drop its listener before the caller goes on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(self.addr).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "fake API server did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Answer again on the same address, with the same objects and history.
    pub fn resume(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let listener = loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "cannot rebind {}: {e}",
                        self.addr
                    );
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        };
        listener.set_nonblocking(true).unwrap();
        self.online.send_replace(true);
        serve(
            self.runtime.as_ref().unwrap(),
            listener,
            self.server.clone(),
            Arc::clone(&self.online),
        );
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Create or replace an object (from a k8s-openapi type), emitting ADDED or MODIFIED.
    pub fn put<K: serde::Serialize + k8s_openapi::Resource>(&self, obj: &K) {
        let value = serde_json::to_value(obj).unwrap();
        let res = match K::KIND {
            "Pod" => Res::Pods,
            "Deployment" => Res::Deployments,
            "StatefulSet" => Res::StatefulSets,
            "ReplicaSet" => Res::ReplicaSets,
            "HorizontalPodAutoscaler" => Res::Hpas,
            "Node" => Res::Nodes,
            "ResourceQuota" => Res::ResourceQuotas,
            "LimitRange" => Res::LimitRanges,
            "ConfigMap" => Res::ConfigMaps,
            other => panic!("fake_kube does not serve {other}"),
        };
        let mut st = self.state();
        let ns = if res == Res::Nodes {
            String::new()
        } else {
            value["metadata"]["namespace"].as_str().unwrap().to_string()
        };
        let name = value["metadata"]["name"].as_str().unwrap().to_string();
        store(&mut st, &self.events, (res, ns, name), value);
    }

    /// Many objects at once (one lock, no per-object cost beyond the store), e.g. 30,000 pods.
    pub fn put_all<K: serde::Serialize + k8s_openapi::Resource>(&self, objs: &[K]) {
        for obj in objs {
            self.put(obj);
        }
    }

    /// Serve metrics.k8s.io with this pod's usage (CPU and memory as quantities, e.g. "250m",
    /// "64Mi"); the API group appears on the first call.
    pub fn put_pod_metrics(&self, ns: &str, pod: &str, cpu: &str, memory: &str) {
        let mut st = self.state();
        st.metrics_served = true;
        let value = json!({
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": { "name": pod, "namespace": ns },
            "timestamp": "2026-11-22T07:00:00Z",
            "window": "15s",
            "containers": [{ "name": "app", "usage": { "cpu": cpu, "memory": memory } }],
        });
        st.objects
            .insert((Res::PodMetrics, ns.to_string(), pod.to_string()), value);
    }

    /// Serve metrics.k8s.io with this node's usage (e.g. "1500m", "6Gi"), as metrics-server's
    /// `NodeMetrics`; the API group appears on the first call.
    pub fn put_node_metrics(&self, node: &str, cpu: &str, memory: &str) {
        let mut st = self.state();
        st.metrics_served = true;
        let value = json!({
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": { "name": node, "labels": { "kubernetes.io/hostname": node } },
            "timestamp": "2026-11-22T07:00:00Z",
            "window": "20.05s",
            "usage": { "cpu": cpu, "memory": memory },
        });
        st.objects
            .insert((Res::NodeMetrics, String::new(), node.to_string()), value);
    }

    /// Change an object in place (e.g. `status.readyReplicas`), emitting MODIFIED.
    pub fn modify(&self, res: Res, ns: &str, name: &str, f: impl FnOnce(&mut Value)) {
        let mut st = self.state();
        let key = (res, ns.to_string(), name.to_string());
        let mut value = st.objects.get(&key).cloned().expect("object exists");
        f(&mut value);
        store(&mut st, &self.events, key, value);
    }

    pub fn get(&self, res: Res, ns: &str, name: &str) -> Option<Value> {
        self.state()
            .objects
            .get(&(res, ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Forget history up to now: watches resuming from older versions get 410 Gone.
    pub fn compact(&self) {
        let mut st = self.state();
        st.history_floor = st.rv;
        st.history.clear();
    }

    /// End every open watch and forget the history: clients resuming from the version they last
    /// saw get 410 Gone and must list again.
    pub fn expire_watches(&self) {
        let mut st = self.state();
        self.epoch.send_modify(|e| *e += 1);
        st.rv += 1;
        st.history_floor = st.rv;
        st.history.clear();
    }

    /// Requests whose "METHOD path?query" satisfies `f`.
    pub fn count_requests(&self, f: impl Fn(&str) -> bool) -> usize {
        self.state().requests.iter().filter(|r| f(r)).count()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state().requests.clone()
    }
}

/// A kubeconfig (YAML) with one context per (context name, server); each context's namespace
/// is `default`.
pub fn kubeconfig(contexts: &[(&str, &FakeKube)]) -> String {
    let with: Vec<(&str, &FakeKube, &str)> =
        contexts.iter().map(|(n, k)| (*n, *k, "default")).collect();
    kubeconfig_with_namespaces(&with)
}

/// A kubeconfig with one context per (context name, server, the context's namespace).
pub fn kubeconfig_with_namespaces(contexts: &[(&str, &FakeKube, &str)]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut ctxs = String::new();
    for (name, server, namespace) in contexts {
        clusters.push_str(&format!(
            "- name: cluster-{name}\n  cluster:\n    server: {}\n",
            server.url()
        ));
        users.push_str(&format!(
            "- name: user-{name}\n  user:\n    token: {}\n",
            server.token
        ));
        ctxs.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: cluster-{name}\n    user: user-{name}\n    namespace: {namespace}\n"
        ));
    }
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {}\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}preferences: {{}}\n",
        contexts[0].0
    )
}

/// Accept connections until the server is stopped; then drop the listener (the port refuses
/// connections) and cut the connections already open.
fn serve(
    runtime: &tokio::runtime::Runtime,
    std_listener: std::net::TcpListener,
    server: Server,
    online: Arc<tokio::sync::watch::Sender<bool>>,
) {
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        let mut stopped = online.subscribe();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.wait_for(|on| !*on) => return,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let server = server.clone();
            let mut cut = online.subscribe();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection => {}
                    _ = cut.wait_for(|on| !*on) => {}
                }
            });
        }
    });
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        labels: Some([("app".to_string(), name.to_string())].into()),
        ..ObjectMeta::default()
    }
}

fn selector(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some([("app".to_string(), name.to_string())].into()),
        ..LabelSelector::default()
    }
}

fn template(name: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some([("app".to_string(), name.to_string())].into()),
            ..ObjectMeta::default()
        }),
        spec: None,
    }
}

pub fn deployment(ns: &str, name: &str, replicas: i32, ready: i32) -> Deployment {
    let mut d = Deployment {
        metadata: meta(ns, name),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: selector(name),
            template: template(name),
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
        replicas: Some(replicas),
        ready_replicas: Some(ready),
        available_replicas: Some(ready),
        updated_replicas: Some(replicas),
        ..Default::default()
    });
    d
}

pub fn statefulset(ns: &str, name: &str, replicas: i32, ready: i32) -> StatefulSet {
    StatefulSet {
        metadata: meta(ns, name),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            selector: selector(name),
            service_name: Some(name.into()),
            template: template(name),
            ..StatefulSetSpec::default()
        }),
        status: Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
            replicas,
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            updated_replicas: Some(replicas),
            ..Default::default()
        }),
    }
}

fn owner(api_version: &str, kind: &str, name: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: format!("uid-{kind}-{name}"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The ReplicaSet a Deployment controller makes (`{deployment}-{hash}`).
pub fn replicaset(ns: &str, deployment: &str, hash: &str, replicas: i32) -> ReplicaSet {
    let mut metadata = meta(ns, &format!("{deployment}-{hash}"));
    // A Deployment's ReplicaSet carries the pod template's labels plus the template hash.
    metadata.labels = Some(
        [
            ("app".to_string(), deployment.to_string()),
            ("pod-template-hash".to_string(), hash.to_string()),
        ]
        .into(),
    );
    metadata.owner_references = Some(vec![owner("apps/v1", "Deployment", deployment)]);
    ReplicaSet {
        metadata,
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: selector(deployment),
            template: Some(template(deployment)),
            ..ReplicaSetSpec::default()
        }),
        status: None,
    }
}

/// A running, ready pod owned by a ReplicaSet or StatefulSet, with CPU/memory requests, and
/// the labels its controller gives it: the template's `app` (the workload's name) plus
/// `pod-template-hash` (ReplicaSet `{deployment}-{hash}`) or the StatefulSet's pod name label,
/// so the workload's label selector finds it.
pub fn pod(
    ns: &str,
    name: &str,
    owner_kind: &str,
    owner_name: &str,
    cpu: &str,
    memory: &str,
) -> Pod {
    let mut metadata = meta(ns, name);
    let labels: BTreeMap<String, String> = match (owner_kind, owner_name.rsplit_once('-')) {
        ("ReplicaSet", Some((deployment, hash))) => [
            ("app".to_string(), deployment.to_string()),
            ("pod-template-hash".to_string(), hash.to_string()),
        ]
        .into(),
        ("StatefulSet", _) => [
            ("app".to_string(), owner_name.to_string()),
            (
                "statefulset.kubernetes.io/pod-name".to_string(),
                name.to_string(),
            ),
        ]
        .into(),
        _ => [("app".to_string(), owner_name.to_string())].into(),
    };
    metadata.labels = Some(labels);
    metadata.owner_references = Some(vec![owner("apps/v1", owner_kind, owner_name)]);
    Pod {
        metadata,
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("registry.example/app:1.0".into()),
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
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                ready: true,
                image: "registry.example/app:1.0".into(),
                image_id: "sha256:0".into(),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

/// A pod the scheduler cannot place, as `kubectl describe` would show it.
pub fn unschedulable(mut p: Pod, message: &str) -> Pod {
    p.status = Some(PodStatus {
        phase: Some("Pending".into()),
        conditions: Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some(message.into()),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    p
}

/// A pod whose container waits (e.g. "ImagePullBackOff").
pub fn waiting(mut p: Pod, reason: &str) -> Pod {
    p.status = Some(PodStatus {
        phase: Some("Pending".into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "app".into(),
            ready: false,
            restart_count: 0,
            image: "registry.example/app:1.0".into(),
            image_id: String::new(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: None,
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]),
        ..PodStatus::default()
    });
    p
}

/// A pod whose container waits with the kubelet's message, e.g. ("ImagePullBackOff",
/// "Back-off pulling image \"app:9\"").
pub fn waiting_with(p: Pod, reason: &str, message: &str) -> Pod {
    let mut p = waiting(p, reason);
    let status = p.status.as_mut().unwrap();
    let c = &mut status.container_statuses.as_mut().unwrap()[0];
    c.state.as_mut().unwrap().waiting.as_mut().unwrap().message = Some(message.into());
    p
}

/// A pod whose container keeps crashing: CrashLoopBackOff after exiting with `exit_code`.
pub fn crash_looping(mut p: Pod, exit_code: i32, restarts: i32) -> Pod {
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "app".into(),
            ready: false,
            restart_count: restarts,
            image: "registry.example/app:1.0".into(),
            image_id: "sha256:0".into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".into()),
                    message: Some("back-off 5m0s restarting failed container=app".into()),
                }),
                ..ContainerState::default()
            }),
            last_state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code,
                    reason: Some("Error".into()),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]),
        ..PodStatus::default()
    });
    p
}

pub fn hpa(ns: &str, target: &str, min: i32, max: i32, cpu: i32) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: meta(ns, target),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: target.into(),
            },
            min_replicas: Some(min),
            max_replicas: max,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(cpu),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        }),
        status: None,
    }
}

/// A Ready node with this allocatable room (quantities as the kubelet reports them).
pub fn node(name: &str, cpu: &str, memory: &str, pods: &str) -> k8s_openapi::api::core::v1::Node {
    use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus};
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(
                [
                    ("cpu".to_string(), Quantity(cpu.into())),
                    ("memory".to_string(), Quantity(memory.into())),
                    ("pods".to_string(), Quantity(pods.into())),
                ]
                .into(),
            ),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
    }
}

/// A pod bound to a node (as the scheduler leaves it).
pub fn bound(mut p: Pod, node: &str) -> Pod {
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some(node.into());
    }
    p
}

/// A workload's pod template with one container requesting this much (None: no request).
pub fn template_requests(t: &mut PodTemplateSpec, cpu: Option<&str>, memory: Option<&str>) {
    let requests: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", memory)]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), Quantity(v?.into()))))
        .collect();
    t.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: Some("registry.example/app:1.0".into()),
            resources: Some(ResourceRequirements {
                requests: (!requests.is_empty()).then_some(requests),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }],
        ..PodSpec::default()
    });
}

/// A ResourceQuota with its hard limits and what the quota controller counts as used, as
/// (resource, quantity) pairs ("pods", "requests.cpu", "requests.memory").
pub fn quota(
    ns: &str,
    name: &str,
    hard: &[(&str, &str)],
    used: &[(&str, &str)],
) -> k8s_openapi::api::core::v1::ResourceQuota {
    use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec, ResourceQuotaStatus};
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Quantity((*v).into())))
            .collect()
    };
    ResourceQuota {
        metadata: meta(ns, name),
        spec: Some(ResourceQuotaSpec {
            hard: Some(map(hard)),
            ..ResourceQuotaSpec::default()
        }),
        status: Some(ResourceQuotaStatus {
            hard: Some(map(hard)),
            used: Some(map(used)),
        }),
    }
}

/// A LimitRange giving containers without requests this `defaultRequest`.
pub fn limit_range(
    ns: &str,
    name: &str,
    cpu: &str,
    memory: &str,
) -> k8s_openapi::api::core::v1::LimitRange {
    use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, LimitRangeSpec};
    LimitRange {
        metadata: meta(ns, name),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default_request: Some(
                    [
                        ("cpu".to_string(), Quantity(cpu.into())),
                        ("memory".to_string(), Quantity(memory.into())),
                    ]
                    .into(),
                ),
                ..LimitRangeItem::default()
            }],
        }),
    }
}

// ---------------------------------------------------------------------------------------------

/// Store an object at a new resourceVersion and emit its watch event.
fn store(st: &mut State, events: &broadcast::Sender<Change>, key: Key, mut value: Value) {
    st.rv += 1;
    let rv = st.rv;
    let existed = st.objects.contains_key(&key);
    let meta = value["metadata"].as_object_mut().unwrap();
    meta.insert("resourceVersion".into(), json!(rv.to_string()));
    meta.entry("uid")
        .or_insert_with(|| json!(format!("uid-{}-{}-{rv}", key.1, key.2)));
    meta.entry("creationTimestamp")
        .or_insert_with(|| json!("2026-11-02T14:00:00Z"));
    meta.entry("generation").or_insert(json!(1));
    value["apiVersion"] = json!(key.0.api_version());
    value["kind"] = json!(key.0.kind());
    let kind = if existed { "MODIFIED" } else { "ADDED" };
    emit(st, events, &key, kind, &value);
    st.objects.insert(key, value);
}

fn remove(st: &mut State, events: &broadcast::Sender<Change>, key: &Key) -> Option<Value> {
    let mut value = st.objects.remove(key)?;
    st.rv += 1;
    value["metadata"]["resourceVersion"] = json!(st.rv.to_string());
    emit(st, events, key, "DELETED", &value);
    Some(value)
}

/// One watch event as kube-apiserver writes it: `type` before `object` (Go's field order). A
/// `json!` map would sort `object` first, which makes a client buffer the whole object before
/// it knows what the event is.
fn watch_line(kind: &str, obj: &Value) -> Vec<u8> {
    let mut line = Vec::with_capacity(8_192);
    line.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut line, kind).unwrap();
    line.extend_from_slice(b",\"object\":");
    serde_json::to_writer(&mut line, obj).unwrap();
    line.push(b'}');
    line
}

fn emit(st: &mut State, events: &broadcast::Sender<Change>, key: &Key, kind: &str, obj: &Value) {
    let mut line = watch_line(kind, obj);
    line.push(b'\n');
    let change = Change {
        rv: st.rv,
        res: key.0,
        ns: key.1.clone(),
        line: Bytes::from(line),
    };
    st.history.push(change.clone());
    let _ = events.send(change);
}

/// The fake controller: a rollout that reaches the wanted replica count.
fn roll_out(st: &mut State, events: &broadcast::Sender<Change>, key: &Key) {
    if !st.auto_ready || !key.0.scalable() {
        return;
    }
    let Some(mut value) = st.objects.get(key).cloned() else {
        return;
    };
    let want = value["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = value
        .as_object_mut()
        .unwrap()
        .entry("status")
        .or_insert(json!({}));
    if status["readyReplicas"].as_i64() == Some(want) && status["replicas"].as_i64() == Some(want) {
        return;
    }
    for field in [
        "replicas",
        "readyReplicas",
        "availableReplicas",
        "updatedReplicas",
    ] {
        status[field] = json!(want);
    }
    store(st, events, key.clone(), value);
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = json!({});
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}

fn status_body(code: u16, reason: &str, message: impl Into<String>) -> Response<Body> {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code,
    });
    json_response(StatusCode::from_u16(code).unwrap(), &body)
}

/// A continue token: "offset-N-rv-R" (the offset and the resourceVersion of the list's first
/// page); "offset-N" from before tokens named their version is still read.
fn parse_continue(token: &str) -> Option<(usize, Option<u64>)> {
    let rest = token.strip_prefix("offset-")?;
    match rest.split_once("-rv-") {
        Some((n, rv)) => Some((n.parse().ok()?, Some(rv.parse().ok()?))),
        None => Some((rest.parse().ok()?, None)),
    }
}

fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())).boxed_unsync())
        .unwrap()
}

fn query_map(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding of one query key or value.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One requirement of a label selector.
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// Parse a `labelSelector` as the API server does (set-based and equality-based), or say why not.
fn parse_selector(selector: &str) -> Result<Vec<Requirement>, String> {
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    let valid = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    };
    let mut out = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let bad = || format!("unable to parse requirement: {part:?}");
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
        };
        let req = if let Some(k) = part.strip_prefix('!') {
            Requirement::DoesNotExist(k.trim().to_string())
        } else if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = part.split_once("==") {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = part.split_once('=') {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Requirement::NotIn(k.trim().to_string(), set(rest)?)
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Requirement::In(k.trim().to_string(), set(rest)?)
        } else {
            Requirement::Exists(part.to_string())
        };
        let key = match &req {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::DoesNotExist(k) => k,
        };
        if !valid(key) {
            return Err(bad());
        }
        out.push(req);
    }
    Ok(out)
}

fn selected(requirements: &[Requirement], obj: &Value) -> bool {
    let labels = &obj["metadata"]["labels"];
    let get = |k: &str| labels[k].as_str();
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
        Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::DoesNotExist(k) => get(k).is_none(),
    })
}

#[derive(Clone)]
struct Server {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Change>,
    epoch: Arc<tokio::sync::watch::Sender<u64>>,
    token: String,
}

/// Legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/GROUP/VERSION`), enough for kubectl
/// to find the resources served here.
fn discovery(path: &str) -> Option<Value> {
    let resource = |name: &str, kind: &str, short: &str| {
        json!({
            "name": name, "singularName": kind.to_lowercase(), "namespaced": true, "kind": kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortNames": [short],
        })
    };
    let group = |name: &str, version: &str| {
        let gv = format!("{name}/{version}");
        json!({
            "name": name,
            "versions": [{ "groupVersion": gv, "version": version }],
            "preferredVersion": { "groupVersion": gv, "version": version },
        })
    };
    Some(match path.trim_end_matches('/') {
        "/api" => json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }],
        }),
        "/apis" => json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [group("apps", "v1"), group("autoscaling", "v2")],
        }),
        "/api/v1" => json!({
            "kind": "APIResourceList", "groupVersion": "v1",
            "resources": [
                resource("pods", "Pod", "po"),
                resource("resourcequotas", "ResourceQuota", "quota"),
                resource("limitranges", "LimitRange", "limits"),
                resource("configmaps", "ConfigMap", "cm"),
                json!({
                    "name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
                    "verbs": ["get", "list", "watch"], "shortNames": ["no"],
                }),
            ],
        }),
        "/apis/apps/v1" => json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
            "resources": [
                resource("deployments", "Deployment", "deploy"),
                resource("replicasets", "ReplicaSet", "rs"),
                resource("statefulsets", "StatefulSet", "sts"),
            ],
        }),
        "/apis/autoscaling/v2" => json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "autoscaling/v2",
            "resources": [resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", "hpa")],
        }),
        _ => return None,
    })
}

/// Which object(s) a path names.
enum Target {
    Collection { res: Res, ns: Option<String> },
    Item { res: Res, ns: String, name: String },
    Scale { res: Res, ns: String, name: String },
    AccessReview,
}

fn route(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] => {
            return Some(Target::AccessReview);
        }
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    match rest {
        [plural] => Some(Target::Collection {
            res: Res::from_route(&gv, plural)?,
            ns: None,
        }),
        ["namespaces", ns, plural] => Some(Target::Collection {
            res: Res::from_route(&gv, plural)?,
            ns: Some((*ns).to_string()),
        }),
        ["namespaces", ns, plural, name] => Some(Target::Item {
            res: Res::from_route(&gv, plural)?,
            ns: (*ns).to_string(),
            name: (*name).to_string(),
        }),
        ["namespaces", ns, plural, name, "scale"] => {
            let res = Res::from_route(&gv, plural)?;
            res.scalable().then(|| Target::Scale {
                res,
                ns: (*ns).to_string(),
                name: (*name).to_string(),
            })
        }
        _ => None,
    }
}

fn not_found(res: Res, name: &str) -> Response<Body> {
    status_body(
        404,
        "NotFound",
        format!(
            "{}.{} \"{name}\" not found",
            res.plural(),
            res.api_version()
        ),
    )
}

impl Server {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = query_map(req.uri().query());
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let authorized = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {}", self.token));
        self.state.lock().unwrap().requests.push(format!(
            "{method} {path}?{}",
            req.uri().query().unwrap_or_default()
        ));
        let is_write = matches!(
            method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) && !path.ends_with("/selfsubjectaccessreviews");
        if is_write {
            self.state.lock().unwrap().writes.push(Write {
                method: method.to_string(),
                path: path.clone(),
                field_manager: query.get("fieldManager").cloned(),
                dry_run: is_dry_run(&query),
            });
        }
        if method == Method::GET && path == "/version" {
            return json_response(
                StatusCode::OK,
                &json!({
                    "major": "1", "minor": "36", "gitVersion": "v1.36.0-fake",
                    "gitCommit": "0000000", "gitTreeState": "clean",
                    "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.25",
                    "compiler": "gc", "platform": "linux/amd64",
                }),
            );
        }
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return status_body(400, "BadRequest", "unreadable body"),
        };
        if !authorized && !self.state.lock().unwrap().anonymous {
            return status_body(401, "Unauthorized", "Unauthorized");
        }
        if method == Method::GET
            && let Some(doc) = discovery(&path)
        {
            return json_response(StatusCode::OK, &doc);
        }
        let Some(target) = route(&path) else {
            return status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        };
        let parse = || serde_json::from_slice::<Value>(&body);
        let metrics_target = matches!(
            &target,
            Target::Collection {
                res: Res::PodMetrics | Res::NodeMetrics,
                ..
            } | Target::Item {
                res: Res::PodMetrics | Res::NodeMetrics,
                ..
            }
        );
        // Node metrics are cluster-scoped: there is no namespaced path for them.
        let namespaced_node_metrics = matches!(
            &target,
            Target::Collection {
                res: Res::NodeMetrics,
                ns: Some(_)
            } | Target::Item {
                res: Res::NodeMetrics,
                ..
            }
        );
        if metrics_target {
            if !self.state.lock().unwrap().metrics_served || namespaced_node_metrics {
                return status_body(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
            }
            if self.state.lock().unwrap().metrics_unavailable {
                // The APIService is registered but metrics-server does not answer.
                return status_body(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                );
            }
            if method != Method::GET || query.get("watch").is_some_and(|w| w == "true" || w == "1")
            {
                return status_body(
                    405,
                    "MethodNotAllowed",
                    "metrics.k8s.io is read-only and cannot be watched",
                );
            }
        }
        match (target, method) {
            (Target::Collection { res, ns }, Method::GET) => {
                let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
                let verb = if watching { "watch" } else { "list" };
                let outside = {
                    let st = self.state.lock().unwrap();
                    st.only_namespaces
                        .as_ref()
                        .is_some_and(|allowed| ns.as_ref().is_none_or(|n| !allowed.contains(n)))
                };
                if (outside && res != Res::PodMetrics) || self.denied(verb, res.plural()) {
                    return forbidden_collection(verb, res, ns.as_deref());
                }
                if watching {
                    self.watch(res, ns, &query)
                } else {
                    let delay = {
                        let st = self.state.lock().unwrap();
                        let first_page = query.get("continue").is_none_or(|c| c.is_empty());
                        let by_resource = st.list_delay_by_resource.get(res.plural());
                        st.list_delay
                            + by_resource
                                .copied()
                                .filter(|_| first_page)
                                .unwrap_or_default()
                    };
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    self.list(res, ns.as_deref(), &query)
                }
            }
            (Target::Collection { res, ns: Some(ns) }, Method::POST) => match parse() {
                Ok(obj) => self.create(res, &ns, obj, &query),
                Err(e) => status_body(400, "BadRequest", format!("invalid JSON: {e}")),
            },
            (Target::Collection { .. }, _) => status_body(
                405,
                "MethodNotAllowed",
                "method not allowed on a collection",
            ),
            (Target::Item { res, ns, name }, Method::GET) => {
                match self
                    .state
                    .lock()
                    .unwrap()
                    .objects
                    .get(&(res, ns, name.clone()))
                {
                    Some(v) => json_response(StatusCode::OK, v),
                    None => not_found(res, &name),
                }
            }
            (Target::Item { res, ns, name }, Method::PUT) => match parse() {
                Ok(obj) => self.replace(res, ns, name, obj, &query),
                Err(e) => status_body(400, "BadRequest", format!("invalid JSON: {e}")),
            },
            (Target::Item { res, ns, name }, Method::PATCH) => {
                self.patch(res, ns, name, false, &content_type, &body, &query)
            }
            (Target::Item { res, ns, name }, Method::DELETE) => {
                if self.denied("delete", res.plural()) {
                    return forbidden("delete", res.plural(), &ns);
                }
                // DeleteOptions travel in the body; dryRun may also be in the query.
                let options: Value = if body.is_empty() {
                    json!({})
                } else {
                    match serde_json::from_slice(&body) {
                        Ok(v) => v,
                        Err(e) => {
                            return status_body(
                                400,
                                "BadRequest",
                                format!("invalid DeleteOptions: {e}"),
                            );
                        }
                    }
                };
                let dry = is_dry_run(&query) || options["dryRun"] == json!(["All"]);
                let mut st = self.state.lock().unwrap();
                if let Some(w) = st.writes.last_mut() {
                    w.dry_run = dry;
                }
                let key = (res, ns, name.clone());
                if st.objects.contains_key(&key) {
                    self.interleave_other_writer(&mut st, &key);
                }
                // Preconditions: the object must still be the version (and uid) the client read.
                if let Some(current) = st.objects.get(&key) {
                    let pre = &options["preconditions"];
                    for field in ["resourceVersion", "uid"] {
                        if let Some(want) = pre[field].as_str()
                            && Some(want) != current["metadata"][field].as_str()
                        {
                            return status_body(
                                409,
                                "Conflict",
                                format!(
                                    "Operation cannot be fulfilled on {}.{} \"{name}\": the \
                                     precondition failed: {field} in precondition: {want}, in \
                                     storage: {}",
                                    res.plural(),
                                    res.api_version(),
                                    current["metadata"][field].as_str().unwrap_or_default()
                                ),
                            );
                        }
                    }
                }
                if dry {
                    return match st.objects.get(&key) {
                        Some(v) => json_response(StatusCode::OK, v),
                        None => not_found(res, &name),
                    };
                }
                match remove(&mut st, &self.events, &key) {
                    Some(v) => json_response(StatusCode::OK, &v),
                    None => not_found(res, &name),
                }
            }
            (Target::Scale { res, ns, name }, Method::GET) => {
                let st = self.state.lock().unwrap();
                match st.objects.get(&(res, ns.clone(), name.clone())) {
                    Some(v) => json_response(StatusCode::OK, &scale_of(v)),
                    None => not_found(res, &name),
                }
            }
            (Target::Scale { res, ns, name }, Method::PATCH) => {
                self.patch(res, ns, name, true, &content_type, &body, &query)
            }
            (Target::Scale { res, ns, name }, Method::PUT) => match parse() {
                Ok(scale) => {
                    let Some(n) = scale["spec"]["replicas"].as_i64() else {
                        return status_body(422, "Invalid", "spec.replicas: Required value");
                    };
                    let key = (res, ns.clone(), name.clone());
                    let mut st = self.state.lock().unwrap();
                    let Some(current) = st.objects.get(&key).cloned() else {
                        return not_found(res, &name);
                    };
                    if let Some(rv) = scale["metadata"]["resourceVersion"].as_str()
                        && Some(rv) != current["metadata"]["resourceVersion"].as_str()
                    {
                        return conflict(res, &name);
                    }
                    let mut updated = current;
                    updated["spec"]["replicas"] = json!(n);
                    let fields = json!({ "spec": { "replicas": n } });
                    manage(&mut updated, res, &query, "Update", Some("scale"), &fields);
                    self.commit(&mut st, key, updated, &query, true)
                }
                Err(e) => status_body(400, "BadRequest", format!("invalid JSON: {e}")),
            },
            (Target::Item { .. } | Target::Scale { .. }, _) => {
                status_body(405, "MethodNotAllowed", "method not allowed")
            }
            (Target::AccessReview, Method::POST) => match parse() {
                Ok(review) => {
                    let delay = self.state.lock().unwrap().review_delay;
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    self.access_review(review)
                }
                Err(e) => status_body(400, "BadRequest", format!("invalid JSON: {e}")),
            },
            (Target::AccessReview, _) => status_body(405, "MethodNotAllowed", "method not allowed"),
        }
    }

    fn denied(&self, verb: &str, resource: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .denied
            .contains(&(verb.to_string(), resource.to_string()))
    }

    fn list(&self, res: Res, ns: Option<&str>, query: &BTreeMap<String, String>) -> Response<Body> {
        let mut st = self.state.lock().unwrap();
        // A continue token names the list's resourceVersion: once the history is compacted
        // past it, the rest of that list cannot be served consistently (410, as etcd does).
        let offset: usize = match query.get("continue").filter(|c| !c.is_empty()) {
            Some(token) => match parse_continue(token) {
                Some((_, Some(rv))) if rv < st.history_floor => {
                    st.expired_continues += 1;
                    return status_body(
                        410,
                        "Expired",
                        "The provided continue parameter is too old to display a consistent \
                         list result. You can start a new list without the continue parameter.",
                    );
                }
                Some((n, _)) => n,
                None => return status_body(400, "BadRequest", "invalid continue token"),
            },
            None => 0,
        };
        let limit: usize = query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        let requirements = match query.get("labelSelector") {
            Some(s) => match parse_selector(s) {
                Ok(r) => r,
                Err(msg) => return status_body(400, "BadRequest", msg),
            },
            None => Vec::new(),
        };
        let all: Vec<&Value> = st
            .objects
            .iter()
            .filter(|((r, n, _), _)| *r == res && ns.is_none_or(|ns| ns == n.as_str()))
            .map(|(_, v)| v)
            .filter(|v| selected(&requirements, v))
            .collect();
        let generated = st.generated_pods.clone().filter(|_| res == Res::Pods);
        if let Some(g) = generated {
            // Made on demand after the stored pods; a namespace or selector makes them all
            // to filter (correct, slow: the bench lists in all namespaces).
            let rv = st.rv;
            let list_rv = match query.get("continue").and_then(|t| parse_continue(t)) {
                Some((_, Some(first))) => first,
                _ => rv,
            };
            let (page, total): (Vec<Value>, usize) = if ns.is_none() && requirements.is_empty() {
                let stored = all.len();
                let total = stored + g.count;
                let end = total.min(offset.saturating_add(limit));
                let mut page: Vec<Value> = all
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|v| (*v).clone())
                    .collect();
                drop(all);
                drop(st);
                // Made and written off the lock and off the server's one worker thread, so
                // /version and other requests are answered meanwhile, as by a real
                // (multi-threaded) server; `metadata` before `items`, as the real one writes it.
                return tokio::task::block_in_place(|| {
                    page.extend((offset.max(stored)..end).map(|i| (g.make)(i - stored)));
                    let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
                    if offset + page.len() < total {
                        metadata["continue"] =
                            json!(format!("offset-{}-rv-{list_rv}", offset + page.len()));
                        metadata["remainingItemCount"] = json!(total - offset - page.len());
                    }
                    let mut body = Vec::with_capacity(page.len() * 8_192);
                    body.extend_from_slice(br#"{"kind":"PodList","apiVersion":"v1","metadata":"#);
                    serde_json::to_writer(&mut body, &metadata).unwrap();
                    body.extend_from_slice(br#","items":["#);
                    for (i, pod) in page.iter().enumerate() {
                        if i > 0 {
                            body.push(b',');
                        }
                        serde_json::to_writer(&mut body, pod).unwrap();
                    }
                    body.extend_from_slice(b"]}");
                    Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)).boxed_unsync())
                        .unwrap()
                });
            } else {
                let every: Vec<Value> = all
                    .iter()
                    .map(|v| (*v).clone())
                    .chain((0..g.count).map(|i| (g.make)(i)))
                    .filter(|v| ns.is_none_or(|ns| v["metadata"]["namespace"] == ns))
                    .filter(|v| selected(&requirements, v))
                    .collect();
                let total = every.len();
                (every.into_iter().skip(offset).take(limit).collect(), total)
            };
            let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
            if offset + page.len() < total {
                metadata["continue"] =
                    json!(format!("offset-{}-rv-{list_rv}", offset + page.len()));
                metadata["remainingItemCount"] = json!(total - offset - page.len());
            }
            return json_response(
                StatusCode::OK,
                &json!({
                    "kind": "PodList",
                    "apiVersion": "v1",
                    "metadata": metadata,
                    "items": page,
                }),
            );
        }
        let page: Vec<&Value> = all.iter().skip(offset).take(limit).copied().collect();
        let list_rv = match query.get("continue").and_then(|t| parse_continue(t)) {
            Some((_, Some(first))) => first,
            _ => st.rv,
        };
        let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
        if offset + page.len() < all.len() {
            metadata["continue"] = json!(format!("offset-{}-rv-{list_rv}", offset + page.len()));
            metadata["remainingItemCount"] = json!(all.len() - offset - page.len());
        }
        json_response(
            StatusCode::OK,
            &json!({
                "kind": format!("{}List", res.kind()),
                "apiVersion": res.api_version(),
                "metadata": metadata,
                "items": page,
            }),
        )
    }

    fn watch(
        &self,
        res: Res,
        ns: Option<String>,
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        if query.contains_key("labelSelector") {
            // Not needed by the connector; refused rather than silently ignored.
            return status_body(
                400,
                "BadRequest",
                "fake_kube: labelSelector on a watch is not served",
            );
        }
        let st = self.state.lock().unwrap();
        // Subscribe under the lock: no change is missed or sent twice.
        let rx = self.events.subscribe();
        let from = query.get("resourceVersion").cloned().unwrap_or_default();
        let matches = move |c: &Change| c.res == res && ns.as_ref().is_none_or(|n| *n == c.ns);
        let mut backlog: Vec<Bytes> = Vec::new();
        if from.is_empty() || from == "0" {
            // "Any" version: start with the current state as ADDED events.
            for ((r, n, _), v) in &st.objects {
                let c = Change {
                    rv: 0,
                    res: *r,
                    ns: n.clone(),
                    line: Bytes::new(),
                };
                if matches(&c) {
                    let mut line = watch_line("ADDED", v);
                    line.push(b'\n');
                    backlog.push(Bytes::from(line));
                }
            }
        } else {
            let Ok(from) = from.parse::<u64>() else {
                return status_body(400, "BadRequest", "invalid resourceVersion");
            };
            if from < st.history_floor {
                // A real server answers 200 and sends the 410 as an ERROR event.
                let mut line = serde_json::to_vec(&json!({
                    "type": "ERROR",
                    "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "reason": "Expired", "code": 410,
                        "message": format!("too old resource version: {from} ({})", st.history_floor),
                    }
                }))
                .unwrap();
                line.push(b'\n');
                return stream_response(futures::stream::iter([Bytes::from(line)]).boxed());
            }
            backlog.extend(
                st.history
                    .iter()
                    .filter(|c| c.rv > from && matches(c))
                    .map(|c| c.line.clone()),
            );
        }
        if query.get("allowWatchBookmarks").map(String::as_str) == Some("true") {
            let mut line = serde_json::to_vec(&json!({
                "type": "BOOKMARK",
                "object": {
                    "kind": res.kind(), "apiVersion": res.api_version(),
                    "metadata": { "resourceVersion": st.rv.to_string() },
                }
            }))
            .unwrap();
            line.push(b'\n');
            backlog.push(Bytes::from(line));
        }
        drop(st);
        let epoch = self.epoch.subscribe();
        let live = futures::stream::unfold((rx, epoch), move |(mut rx, mut epoch)| {
            let matches = matches.clone();
            async move {
                loop {
                    tokio::select! {
                        biased;
                        _ = epoch.changed() => return None,
                        change = rx.recv() => match change {
                            Ok(c) if matches(&c) => return Some((c.line, (rx, epoch))),
                            Ok(_) => {}
                            // Lagged or closed: end the watch; the client re-watches.
                            Err(_) => return None,
                        },
                    }
                }
            }
        });
        stream_response(futures::stream::iter(backlog).chain(live).boxed())
    }

    fn create(
        &self,
        res: Res,
        ns: &str,
        mut obj: Value,
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        if self.denied("create", res.plural()) {
            return forbidden("create", res.plural(), ns);
        }
        if obj["apiVersion"] != json!(res.api_version()) || obj["kind"] != json!(res.kind()) {
            return status_body(
                400,
                "BadRequest",
                format!("expected {} {}", res.api_version(), res.kind()),
            );
        }
        let Some(name) = obj["metadata"]["name"].as_str().map(str::to_string) else {
            return status_body(422, "Invalid", "metadata.name: Required value");
        };
        let given = obj["metadata"]["namespace"].as_str().map(str::to_string);
        match given {
            Some(n) if n != ns => {
                return status_body(
                    400,
                    "BadRequest",
                    "the namespace of the object does not match the namespace on the request",
                );
            }
            _ => obj["metadata"]["namespace"] = json!(ns),
        }
        if let Err(msg) = validate(res, &obj) {
            return status_body(422, "Invalid", msg);
        }
        let key = (res, ns.to_string(), name.clone());
        let mut st = self.state.lock().unwrap();
        if st.objects.contains_key(&key) {
            return status_body(
                409,
                "AlreadyExists",
                format!(
                    "{}.{} \"{name}\" already exists",
                    res.plural(),
                    res.api_version()
                ),
            );
        }
        if let Some(denied) = admission(&st) {
            return denied;
        }
        let fields = obj.clone();
        manage(&mut obj, res, query, "Update", None, &fields);
        if is_dry_run(query) {
            return json_response(StatusCode::CREATED, &obj);
        }
        store(&mut st, &self.events, key.clone(), obj);
        let stored = st.objects[&key].clone();
        json_response(StatusCode::CREATED, &stored)
    }

    fn replace(
        &self,
        res: Res,
        ns: String,
        name: String,
        mut obj: Value,
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        if self.denied("update", res.plural()) {
            return forbidden("update", res.plural(), &ns);
        }
        if obj["metadata"]["name"].as_str() != Some(&name) {
            return status_body(
                400,
                "BadRequest",
                "the name of the object does not match the name on the URL",
            );
        }
        if let Err(msg) = validate(res, &obj) {
            return status_body(422, "Invalid", msg);
        }
        let key = (res, ns, name.clone());
        let mut st = self.state.lock().unwrap();
        if !st.objects.contains_key(&key) {
            return not_found(res, &name);
        }
        self.interleave_other_writer(&mut st, &key);
        let current = &st.objects[&key];
        if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
            && Some(rv) != current["metadata"]["resourceVersion"].as_str()
        {
            return conflict(res, &name);
        }
        let fields = obj.clone();
        obj["metadata"]["managedFields"] = current["metadata"]["managedFields"].clone();
        manage(&mut obj, res, query, "Update", None, &fields);
        self.commit(&mut st, key, obj, query, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn patch(
        &self,
        res: Res,
        ns: String,
        name: String,
        scale: bool,
        content_type: &str,
        body: &[u8],
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        let resource = if scale {
            format!("{}/scale", res.plural())
        } else {
            res.plural().to_string()
        };
        if self.denied("patch", &resource) {
            return forbidden("patch", &resource, &ns);
        }
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => {}
            "application/apply-patch+yaml" => {
                if query.get("fieldManager").is_none_or(String::is_empty) {
                    return status_body(
                        400,
                        "BadRequest",
                        "PATCH /apply requests require fieldManager",
                    );
                }
            }
            other => {
                return status_body(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
                    ),
                );
            }
        }
        let patch: Value = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => return status_body(400, "BadRequest", format!("invalid patch: {e}")),
        };
        if !patch.is_object() {
            return status_body(400, "BadRequest", "a merge patch must be a JSON object");
        }
        let key = (res, ns, name.clone());
        let mut st = self.state.lock().unwrap();
        if !st.objects.contains_key(&key) {
            return not_found(res, &name);
        }
        self.interleave_other_writer(&mut st, &key);
        let current = st.objects[&key].clone();
        // A patch that names a resourceVersion is a precondition (optimistic concurrency).
        if let Some(rv) = patch["metadata"]["resourceVersion"].as_str()
            && Some(rv) != current["metadata"]["resourceVersion"].as_str()
        {
            return conflict(res, &name);
        }
        let updated = if scale {
            let mut s = scale_of(&current);
            merge(&mut s, &patch);
            if !s["spec"]["replicas"].is_i64() || s["spec"]["replicas"].as_i64() < Some(0) {
                return status_body(422, "Invalid", "spec.replicas: Invalid value");
            }
            let mut updated = current;
            updated["spec"]["replicas"] = s["spec"]["replicas"].clone();
            updated
        } else {
            let mut updated = current;
            merge(&mut updated, &patch);
            updated
        };
        if let Err(msg) = validate(res, &updated) {
            return status_body(422, "Invalid", msg);
        }
        let mut updated = updated;
        let operation = if media == "application/apply-patch+yaml" {
            "Apply"
        } else {
            "Update"
        };
        let (subresource, fields) = if scale {
            (
                Some("scale"),
                json!({ "spec": { "replicas": updated["spec"]["replicas"] } }),
            )
        } else {
            (None, patch.clone())
        };
        manage(&mut updated, res, query, operation, subresource, &fields);
        self.commit(&mut st, key, updated, query, scale)
    }

    /// Another client's write (an annotation change) lands just before ours when asked to.
    fn interleave_other_writer(&self, st: &mut State, key: &Key) {
        if st.conflicts == 0 {
            return;
        }
        st.conflicts -= 1;
        let mut other = st.objects[key].clone();
        other["metadata"]["annotations"]["fake.example/other-writer"] = json!(st.rv.to_string());
        store(st, &self.events, key.clone(), other);
    }

    /// Store (unless dry run), bump the generation, run the fake controller, answer.
    fn commit(
        &self,
        st: &mut State,
        key: Key,
        mut updated: Value,
        query: &BTreeMap<String, String>,
        scale: bool,
    ) -> Response<Body> {
        if let Some(denied) = admission(st) {
            return denied;
        }
        let old_spec = st.objects.get(&key).map(|v| v["spec"].clone());
        if old_spec.as_ref() != Some(&updated["spec"]) {
            let generation = updated["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            updated["metadata"]["generation"] = json!(generation);
        }
        if is_dry_run(query) {
            let body = if scale { scale_of(&updated) } else { updated };
            return json_response(StatusCode::OK, &body);
        }
        store(st, &self.events, key.clone(), updated);
        let answer = st.objects[&key].clone();
        roll_out(st, &self.events, &key);
        let body = if scale { scale_of(&answer) } else { answer };
        json_response(StatusCode::OK, &body)
    }

    fn access_review(&self, mut review: Value) -> Response<Body> {
        if review["kind"] != json!("SelfSubjectAccessReview") {
            return status_body(400, "BadRequest", "expected a SelfSubjectAccessReview");
        }
        let attrs = &review["spec"]["resourceAttributes"];
        let verb = attrs["verb"].as_str().unwrap_or_default();
        let mut resource = attrs["resource"].as_str().unwrap_or_default().to_string();
        if let Some(sub) = attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
            resource = format!("{resource}/{sub}");
        }
        let allowed = !self.denied(verb, &resource);
        review["status"] = if allowed {
            json!({ "allowed": true })
        } else {
            json!({ "allowed": false, "reason": format!("RBAC: user may not {verb} {resource}") })
        };
        json_response(StatusCode::CREATED, &review)
    }
}

/// Record a write in `metadata.managedFields` as a real server does: one entry per manager,
/// operation and subresource, listing the fields the write set (`fieldsV1`, keys as `f:name`).
/// A request without `fieldManager` is recorded as manager "unknown".
fn manage(
    obj: &mut Value,
    res: Res,
    query: &BTreeMap<String, String>,
    operation: &str,
    subresource: Option<&str>,
    fields: &Value,
) {
    let manager = query
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let mut entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": res.api_version(),
        "time": "2026-11-02T14:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(fields, None),
    });
    if let Some(sub) = subresource {
        entry["subresource"] = json!(sub);
    }
    let same = |e: &Value| {
        e["manager"] == entry["manager"]
            && e["operation"] == entry["operation"]
            && e["subresource"] == entry["subresource"]
    };
    let meta = obj["metadata"].as_object_mut().unwrap();
    let list = meta.entry("managedFields").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let list = list.as_array_mut().unwrap();
    match list.iter_mut().find(|e| same(e)) {
        Some(e) => *e = entry,
        None => list.push(entry),
    }
}

/// The field set of a written object or patch: every key as `f:key`, leaves as `{}`; the
/// server's own metadata (resourceVersion, uid, …) and the status are not the writer's.
fn fields_v1(v: &Value, parent: Option<&str>) -> Value {
    let Value::Object(map) = v else {
        return json!({});
    };
    let mut out = serde_json::Map::new();
    for (k, child) in map {
        let skip = match parent {
            None => matches!(k.as_str(), "apiVersion" | "kind" | "status"),
            Some("metadata") => matches!(
                k.as_str(),
                "resourceVersion"
                    | "managedFields"
                    | "uid"
                    | "generation"
                    | "creationTimestamp"
                    | "name"
                    | "namespace"
            ),
            Some(_) => false,
        };
        if skip || child.is_null() {
            continue;
        }
        out.insert(format!("f:{k}"), fields_v1(child, Some(k)));
    }
    Value::Object(out)
}

/// Admission runs after validation and before storage, for dry runs too.
fn admission(st: &State) -> Option<Response<Body>> {
    st.admission_denial.as_ref().map(|message| {
        status_body(
            400,
            "BadRequest",
            format!("admission webhook \"policy.example.com\" denied the request: {message}"),
        )
    })
}

fn is_dry_run(query: &BTreeMap<String, String>) -> bool {
    query.get("dryRun").map(String::as_str) == Some("All")
}

fn forbidden(verb: &str, resource: &str, ns: &str) -> Response<Body> {
    status_body(
        403,
        "Forbidden",
        format!(
            "{resource} is forbidden: User \"fake-user\" cannot {verb} resource \"{resource}\" in the namespace \"{ns}\""
        ),
    )
}

/// A list or watch RBAC does not allow, in the real server's words (cluster scope or one namespace).
fn forbidden_collection(verb: &str, res: Res, ns: Option<&str>) -> Response<Body> {
    let resource = res.plural();
    let group = res.api_version().rsplit_once('/').map_or("", |(g, _)| g);
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    status_body(
        403,
        "Forbidden",
        format!(
            "{qualified} is forbidden: User \"fake-user\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"
        ),
    )
}

fn conflict(res: Res, name: &str) -> Response<Body> {
    status_body(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {}.{} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            res.plural(),
            res.api_version()
        ),
    )
}

/// What a real server rejects for missing fields, per resource.
fn validate(res: Res, obj: &Value) -> Result<(), String> {
    // Decoding: a field of the wrong type (replicas: "three") is refused as the real decoder
    // refuses it, by the k8s-openapi type of the resource.
    fn decodes<K: serde::de::DeserializeOwned>(obj: &Value) -> Result<(), String> {
        serde_json::from_value::<K>(obj.clone())
            .map(|_| ())
            .map_err(|e| format!("the object could not be decoded: {e}"))
    }
    match res {
        Res::Deployments => decodes::<Deployment>(obj)?,
        Res::StatefulSets => decodes::<StatefulSet>(obj)?,
        Res::ReplicaSets => decodes::<ReplicaSet>(obj)?,
        Res::Hpas => decodes::<HorizontalPodAutoscaler>(obj)?,
        Res::Pods => decodes::<Pod>(obj)?,
        Res::Nodes => decodes::<k8s_openapi::api::core::v1::Node>(obj)?,
        Res::ResourceQuotas => decodes::<k8s_openapi::api::core::v1::ResourceQuota>(obj)?,
        Res::LimitRanges => decodes::<k8s_openapi::api::core::v1::LimitRange>(obj)?,
        Res::ConfigMaps => decodes::<k8s_openapi::api::core::v1::ConfigMap>(obj)?,
        Res::PodMetrics | Res::NodeMetrics => {}
    }
    let spec = &obj["spec"];
    match res {
        Res::Deployments | Res::StatefulSets => {
            if spec["selector"].is_null() {
                return Err("spec.selector: Required value".into());
            }
            if let Some(n) = spec.get("replicas")
                && !(n.is_i64() && n.as_i64() >= Some(0))
            {
                return Err(
                    "spec.replicas: Invalid value: must be greater than or equal to 0".into(),
                );
            }
        }
        Res::Hpas => {
            let target = &spec["scaleTargetRef"];
            if target["kind"].as_str().is_none_or(str::is_empty)
                || target["name"].as_str().is_none_or(str::is_empty)
            {
                return Err("spec.scaleTargetRef: Required value".into());
            }
            let Some(max) = spec["maxReplicas"].as_i64() else {
                return Err("spec.maxReplicas: Required value".into());
            };
            let min = spec["minReplicas"].as_i64().unwrap_or(1);
            if min < 1 || min > max {
                return Err(format!(
                    "spec.minReplicas: Invalid value: {min}: must be between 1 and maxReplicas ({max})"
                ));
            }
        }
        Res::Pods
        | Res::ReplicaSets
        | Res::PodMetrics
        | Res::NodeMetrics
        | Res::Nodes
        | Res::ResourceQuotas
        | Res::LimitRanges
        | Res::ConfigMaps => {}
    }
    Ok(())
}

/// The autoscaling/v1 `Scale` view of a Deployment or StatefulSet.
fn scale_of(obj: &Value) -> Value {
    let labels = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "uid": obj["metadata"]["uid"],
        },
        "spec": { "replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": labels,
        }
    })
}

fn stream_response(stream: futures::stream::BoxStream<'static, Bytes>) -> Response<Body> {
    let frames = stream.map(|b| Ok::<_, Infallible>(Frame::data(b)));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed_unsync(StreamBody::new(frames)))
        .unwrap()
}
