//! Watch caches that keep only what Scaleboard reads. A k8s-openapi `Pod` is several KiB even
//! when most of it is empty (every optional field of the spec and status is stored inline), so
//! caching whole objects made 30,000 pods cost ~250 MiB; each event is projected to a small
//! struct here instead, and the full object is dropped as soon as it is decoded.

use super::intern::intern;
use super::pods::{Stuck, requests, stuck_reason};
use super::words;
use super::*;
use kube::runtime::watcher::Event;
use std::collections::BTreeMap;
use std::sync::RwLock;

/// (namespace, name); the namespace is shared with every object in it ([`intern`]).
pub(super) type Key = (Arc<str>, Arc<str>);

/// The caches' and the poll's maps: keys are the API server's names, not attacker-chosen
/// input, and SipHash over 150,000 keys per poll was a quarter of the engine's CPU.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The key of an object in namespace `ns` named `name`.
pub(super) fn key(ns: &str, name: &str) -> Key {
    (intern(ns), Arc::from(name))
}

/// What a Deployment or StatefulSet contributes to a workload row.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct WorkloadObj {
    /// [desired, ready, available, updated].
    pub counts: [i32; 4],
    /// A failing rollout condition in words: ReplicaFailure (pods cannot be created: quota,
    /// admission) before Progressing=False (the rollout's deadline passed).
    pub condition: Option<String>,
    /// `metadata.resourceVersion`: the precondition of a write.
    pub version: Option<String>,
    /// `metadata.generation`: changes with the spec only (not with status updates).
    pub generation: Option<i64>,
    /// What one replica of its pod template asks of a node (the scale plan's fit check).
    pub needs: crate::model::capacity::ReplicaNeeds,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct HpaObj {
    pub target_kind: String,
    pub target_name: String,
    pub autoscaler: Autoscaler,
    pub version: Option<String>,
}

/// A pod as the fold reads it: its controller, requests, restarts and why it is stuck.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PodObj {
    /// (kind, name) of the controlling owner: a ReplicaSet or a StatefulSet. Shared with the
    /// owner's other pods ([`intern`]).
    pub owner: Option<(Arc<str>, Arc<str>)>,
    /// CPU cores and memory bytes requested by its containers.
    pub requests: (f64, f64),
    pub restarts: u32,
    pub stuck: Option<Stuck>,
    /// `spec.nodeName`: the node whose room it takes (shared with the node's other pods).
    pub node: Option<Arc<str>>,
    /// Phase Succeeded or Failed: it holds no room any more.
    pub finished: bool,
    /// Milli-CPU and bytes as the scheduler counts them (init containers, overhead).
    pub scheduled: (u64, u64),
}

/// A ReplicaSet is read only for the Deployment that controls it.
pub(super) type RsObj = Option<String>;

/// How long a failed list or watch waits before it is tried again: doubled per failure in a
/// row, cut short when the context's API server is seen answering again.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// One resource's cache, fed by one watch in all namespaces or one per namespace.
pub(super) struct CompactStore<T> {
    map: Arc<RwLock<FastMap<Key, T>>>,
    pub state: Arc<Mutex<ResourceState>>,
}

/// Where a resource is watched and how each of those watches is doing.
#[derive(Clone, Debug, Default)]
pub(super) struct ResourceState {
    /// By namespace; `None` = all namespaces (one cluster-wide watch).
    pub scopes: BTreeMap<Option<String>, ScopeStatus>,
    /// Why the cluster-wide list was refused, when the watch fell back to namespaces.
    pub fell_back: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct ScopeStatus {
    /// Whether the initial list has arrived (it stays true through later relists).
    pub listed: bool,
    /// The current failure, in words; cleared when the list or watch works again.
    pub error: Option<ScopeError>,
}

#[derive(Clone, Debug)]
pub(super) struct ScopeError {
    pub words: String,
    /// The HTTP status the API server answered (None: it did not answer).
    pub code: Option<u16>,
    pub since: std::time::SystemTime,
    /// The latest failure: an error older than the API server's latest answer is history,
    /// not news (the scope is being listed again).
    pub last: std::time::SystemTime,
}

impl ScopeError {
    /// Refused for good (RBAC, credentials, not served): not a server that went away.
    pub fn refused(&self) -> bool {
        matches!(self.code, Some(401 | 403 | 404))
    }
}

impl ResourceState {
    /// Every scope has its initial list.
    pub fn listed(&self) -> bool {
        !self.scopes.is_empty() && self.scopes.values().all(|s| s.listed)
    }
    /// Every scope has its initial list or has failed: nothing more to wait for.
    pub fn settled(&self) -> bool {
        self.scopes.values().all(|s| s.listed || s.error.is_some())
    }
}

impl<T> CompactStore<T> {
    /// The current objects; held only for the duration of one synchronous read.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, FastMap<Key, T>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn state(&self) -> ResourceState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn key_of<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    key(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

/// What every watch of one context shares: its name (for the log) and a bell that cuts the
/// backoff short once the API server answers again. The bell is a counter, not a `Notify`: a
/// watch that was busy failing its last attempt when it rang still sees that it rang, instead
/// of sleeping out a backoff of up to [`BACKOFF_MAX`] after the server is back.
pub(super) struct WatchShared {
    pub context: String,
    pub retry: tokio::sync::watch::Sender<u64>,
}

impl WatchShared {
    pub fn new(context: String) -> Self {
        Self {
            context,
            retry: tokio::sync::watch::channel(0).0,
        }
    }

    /// Every watch waiting out a backoff tries again now.
    pub fn ring(&self) {
        self.retry.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Where and how to watch one resource.
pub(super) struct WatchPlan<'a> {
    pub client: &'a Client,
    /// `resource` as the API names it ("deployments").
    pub resource: &'static str,
    /// The profile's namespaces; empty = all namespaces.
    pub namespaces: &'a [String],
    /// Where to watch instead when listing in all namespaces is forbidden (the context's
    /// namespace).
    pub fallback: &'a [String],
    pub shared: &'a Arc<WatchShared>,
}

/// List then watch one resource (kube-runtime's watcher: pages of 500 as client-go, resource
/// versions, relist after 410 Gone), keeping `project(object)` per key. A cluster-wide list
/// that is forbidden (403) falls back to the plan's fallback namespaces. A failed list or
/// watch is recorded (and logged once, in words), then listed again after a backoff: the
/// relist is what proves the cache current again.
pub(super) fn spawn_compact<K, T>(
    plan: &WatchPlan<'_>,
    project: fn(&K) -> T,
) -> (CompactStore<T>, JoinHandle<()>)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
    T: Send + Sync + 'static,
{
    let scopes: Vec<Option<String>> = if plan.namespaces.is_empty() {
        vec![None]
    } else {
        plan.namespaces.iter().cloned().map(Some).collect()
    };
    let state = ResourceState {
        scopes: scopes
            .iter()
            .map(|s| (s.clone(), ScopeStatus::default()))
            .collect(),
        fell_back: None,
    };
    let store = CompactStore {
        map: Arc::new(RwLock::new(FastMap::default())),
        state: Arc::new(Mutex::new(state)),
    };
    let watch = Watch {
        client: plan.client.clone(),
        resource: plan.resource,
        map: Arc::clone(&store.map),
        state: Arc::clone(&store.state),
        shared: Arc::clone(plan.shared),
        project,
        make_api: api_for::<K>,
        refused_wait: None,
        // Pods are the one list of hundreds of pages at scale: their pages are pipelined.
        pipelined: plan.resource == "pods",
    };
    let fallback = plan.fallback.to_vec();
    let task = tokio::spawn(async move {
        if scopes == [None] && !fallback.is_empty() {
            let Some(refused) = watch.run(None, true).await else {
                return;
            };
            // The context's state line says this once for every resource ("forbidden: …").
            log::debug!(
                "context {}: {refused}; watching {} in namespace {} instead",
                watch.shared.context,
                watch.resource,
                fallback.join(", ")
            );
            if let Ok(mut state) = watch.state.lock() {
                state.scopes = fallback
                    .iter()
                    .map(|ns| (Some(ns.clone()), ScopeStatus::default()))
                    .collect();
                state.fell_back = Some(refused);
            }
            let runs = fallback.iter().map(|ns| watch.run(Some(ns.clone()), false));
            futures::future::join_all(runs).await;
        } else {
            let runs = scopes.into_iter().map(|ns| watch.run(ns, false));
            futures::future::join_all(runs).await;
        }
    });
    (store, task)
}

/// List then watch a cluster-scoped resource (nodes) as [`spawn_compact`] does, with one
/// cluster-wide scope and no fallback: a refusal is recorded and listed again after a backoff.
pub(super) fn spawn_cluster<K, T>(
    client: &Client,
    resource: &'static str,
    shared: &Arc<WatchShared>,
    project: fn(&K) -> T,
) -> (CompactStore<T>, JoinHandle<()>)
where
    K: Resource<Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
    T: Send + Sync + 'static,
{
    let state = ResourceState {
        scopes: [(None, ScopeStatus::default())].into_iter().collect(),
        fell_back: None,
    };
    let store = CompactStore {
        map: Arc::new(RwLock::new(FastMap::default())),
        state: Arc::new(Mutex::new(state)),
    };
    let watch = Watch {
        client: client.clone(),
        resource,
        map: Arc::clone(&store.map),
        state: Arc::clone(&store.state),
        shared: Arc::clone(shared),
        project,
        make_api: |c: &Client, _: Option<&str>| Api::all(c.clone()),
        refused_wait: Some(RBAC_RECHECK),
        pipelined: false,
    };
    let task = tokio::spawn(async move {
        watch.run(None, false).await;
    });
    (store, task)
}

struct Watch<T, K> {
    client: Client,
    resource: &'static str,
    map: Arc<RwLock<FastMap<Key, T>>>,
    state: Arc<Mutex<ResourceState>>,
    shared: Arc<WatchShared>,
    project: fn(&K) -> T,
    /// Namespaced resources per scope; cluster-scoped ones (nodes) always `Api::all`.
    make_api: fn(&Client, Option<&str>) -> Api<K>,
    /// How long to wait after a 403 before listing again, when longer than the backoff: a
    /// user who may not list nodes keeps that answer, and asking every few seconds is noise.
    refused_wait: Option<Duration>,
    /// List with [`super::paged`] (next page asked for while this one is decoded) rather than
    /// kube-runtime's watcher.
    pipelined: bool,
}

impl<T, K> Watch<T, K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
    T: Send + Sync + 'static,
{
    /// Watch one scope for as long as the connector lives. Returns only when `may_fall_back`
    /// and the first list was forbidden: with the refusal in words.
    async fn run(&self, scope: Option<String>, may_fall_back: bool) -> Option<String> {
        let mut backoff = BACKOFF_MIN;
        let mut bell = self.shared.retry.subscribe();
        loop {
            // Rings from here on cut the next backoff short, also those during this attempt.
            bell.borrow_and_update();
            let api: Api<K> = (self.make_api)(&self.client, scope.as_deref());
            let mut stream = if self.pipelined {
                paged::watch(api).boxed()
            } else {
                watcher(api, watcher::Config::default()).boxed()
            };
            // A relist builds its objects aside and swaps them in whole at InitDone, so a
            // poll never sees a half-listed cluster; the very first list shows its rows as
            // they arrive instead (loading is progress).
            let mut relisting: Option<FastMap<Key, T>> = None;
            let failure = loop {
                let Some(item) = stream.next().await else {
                    break None;
                };
                match item {
                    Ok(event) => {
                        if self.apply(scope.as_deref(), event, &mut relisting) {
                            backoff = BACKOFF_MIN;
                        }
                    }
                    Err(e) => break Some(e),
                }
            };
            let Some(e) = failure else { continue };
            let code = words::watch_status(&e);
            if code == Some(410) {
                // The history moved past our version: list again at once, as client-go does.
                continue;
            }
            let text = words::watch_words(&e, self.resource, scope.as_deref());
            let listed = self.scope_listed(scope.as_deref());
            if may_fall_back && code == Some(403) && !listed {
                return Some(text);
            }
            self.failed(scope.as_deref(), text, code);
            let wait = match self.refused_wait {
                Some(w) if code == Some(403) => w,
                _ => backoff,
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = bell.changed() => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn scope_listed(&self, scope: Option<&str>) -> bool {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.scopes.get(&scope.map(str::to_string)).map(|s| s.listed))
            .unwrap_or(false)
    }

    /// Record a failure; logged once per distinct error of this scope, with what to do.
    fn failed(&self, scope: Option<&str>, words: String, code: Option<u16>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let Some(status) = state.scopes.get_mut(&scope.map(str::to_string)) else {
            return;
        };
        let now = std::time::SystemTime::now();
        match &mut status.error {
            Some(e) if e.words == words => e.last = now,
            _ => {
                // Per scope and resource: the context's state line is what the log shows.
                log::debug!(
                    "context {}: {words}; {}",
                    self.shared.context,
                    words::advice(code)
                );
                let since = status.error.as_ref().map_or(now, |e| e.since);
                status.error = Some(ScopeError {
                    words,
                    code,
                    since,
                    last: now,
                });
            }
        }
    }

    /// Apply one event; true when it proves the scope current (its list completed, or a change
    /// arrived on the watch).
    fn apply(
        &self,
        scope: Option<&str>,
        event: Event<K>,
        relisting: &mut Option<FastMap<Key, T>>,
    ) -> bool {
        let project = self.project;
        let in_scope = |k: &Key| scope.is_none_or(|ns| &*k.0 == ns);
        let current = match event {
            Event::Init => {
                if self.scope_listed(scope) {
                    *relisting = Some(FastMap::default());
                } else if let Ok(mut map) = self.map.write() {
                    // A first list that starts over: drop what its failed attempt showed.
                    map.retain(|k, _| !in_scope(k));
                }
                false
            }
            Event::InitApply(obj) => {
                match relisting.as_mut() {
                    Some(fresh) => {
                        fresh.insert(key_of(&obj), project(&obj));
                    }
                    None => {
                        if let Ok(mut map) = self.map.write() {
                            map.insert(key_of(&obj), project(&obj));
                        }
                    }
                }
                false
            }
            Event::InitDone => {
                if let Some(fresh) = relisting.take()
                    && let Ok(mut map) = self.map.write()
                {
                    map.retain(|k, _| !in_scope(k));
                    map.extend(fresh);
                }
                true
            }
            Event::Apply(obj) => {
                if let Ok(mut map) = self.map.write() {
                    map.insert(key_of(&obj), project(&obj));
                }
                true
            }
            Event::Delete(obj) => {
                if let Ok(mut map) = self.map.write() {
                    map.remove(&key_of(&obj));
                }
                true
            }
        };
        if current && let Ok(mut state) = self.state.lock() {
            let resource = self.resource;
            if let Some(status) = state.scopes.get_mut(&scope.map(str::to_string)) {
                status.listed = true;
                if status.error.take().is_some() {
                    let place = scope.map_or("in all namespaces".to_string(), |ns| {
                        format!("in namespace {ns}")
                    });
                    log::debug!(
                        "context {}: {resource} {place} listed and watched again",
                        self.shared.context
                    );
                }
            }
        }
        current
    }
}

/// A status condition as (type, status, reason, message).
type Condition<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// The condition that says why a rollout does not progress, in words.
fn failing_condition(conditions: &[Condition<'_>]) -> Option<String> {
    let words = |(type_, _, reason, message): &Condition<'_>| {
        let mut text = (*type_).to_string();
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            text = format!("{text} {r}");
        }
        match message.filter(|m| !m.is_empty()) {
            Some(m) => format!("{text}: {m}"),
            None => text,
        }
    };
    conditions
        .iter()
        .find(|(t, s, ..)| *t == "ReplicaFailure" && *s == "True")
        .or_else(|| {
            conditions
                .iter()
                .find(|(t, s, ..)| *t == "Progressing" && *s == "False")
        })
        .map(words)
}

pub(super) fn deployment(d: &Deployment) -> WorkloadObj {
    let status = d.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    WorkloadObj {
        counts: [
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            status.and_then(|s| s.ready_replicas).unwrap_or(0),
            status.and_then(|s| s.available_replicas).unwrap_or(0),
            status.and_then(|s| s.updated_replicas).unwrap_or(0),
        ],
        condition: failing_condition(
            &conditions
                .iter()
                .map(|c| {
                    (
                        c.type_.as_str(),
                        c.status.as_str(),
                        c.reason.as_deref(),
                        c.message.as_deref(),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        version: d.resource_version(),
        generation: d.metadata.generation,
        needs: capacity::template_needs(d.spec.as_ref().and_then(|s| s.template.spec.as_ref())),
    }
}

pub(super) fn statefulset(s: &StatefulSet) -> WorkloadObj {
    let status = s.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    WorkloadObj {
        counts: [
            s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            status.and_then(|s| s.ready_replicas).unwrap_or(0),
            status.and_then(|s| s.available_replicas).unwrap_or(0),
            status.and_then(|s| s.updated_replicas).unwrap_or(0),
        ],
        condition: failing_condition(
            &conditions
                .iter()
                .map(|c| {
                    (
                        c.type_.as_str(),
                        c.status.as_str(),
                        c.reason.as_deref(),
                        c.message.as_deref(),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        version: s.resource_version(),
        generation: s.metadata.generation,
        needs: capacity::template_needs(s.spec.as_ref().and_then(|s| s.template.spec.as_ref())),
    }
}

pub(super) fn hpa(h: &HorizontalPodAutoscaler) -> HpaObj {
    let target = h.spec.as_ref().map(|s| &s.scale_target_ref);
    HpaObj {
        target_kind: target.map(|t| t.kind.clone()).unwrap_or_default(),
        target_name: target.map(|t| t.name.clone()).unwrap_or_default(),
        autoscaler: hpa::autoscaler(h),
        version: h.resource_version(),
    }
}

/// The owner reference of an object's controller.
pub(super) fn controller_ref(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

pub(super) fn pod(p: &Pod) -> PodObj {
    let restarts = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
        .sum();
    PodObj {
        owner: controller_ref(&p.metadata).map(|o| (intern(&o.kind), intern(&o.name))),
        requests: requests(p),
        restarts,
        stuck: stuck_reason(p),
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty())
            .map(intern),
        finished: p
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|ph| ph == "Succeeded" || ph == "Failed"),
        scheduled: p.spec.as_ref().map_or((0, 0), |s| {
            let (cpu, memory) = capacity::pod_requests(s);
            (cpu.unwrap_or(0), memory.unwrap_or(0))
        }),
    }
}

/// A pod from the watch's light decode (see `lite_pod.rs`).
pub(super) fn lite_pod(p: &LitePod) -> PodObj {
    pod(p.pod())
}

pub(super) fn replicaset(rs: &ReplicaSet) -> RsObj {
    controller_ref(&rs.metadata)
        .filter(|o| o.kind == "Deployment")
        .map(|o| o.name.clone())
}
