//! Watch caches that keep only what Scaleboard reads. A k8s-openapi `Pod` is several KiB even
//! when most of it is empty (every optional field of the spec and status is stored inline), so
//! caching whole objects made 30,000 pods cost ~250 MiB; each event is projected to a small
//! struct here instead, and the full object is dropped as soon as it is decoded.

use super::pods::{Stuck, requests, stuck_reason};
use super::*;
use kube::runtime::watcher::Event;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// (namespace, name).
pub(super) type Key = (String, String);

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
    /// (kind, name) of the controlling owner: a ReplicaSet or a StatefulSet.
    pub owner: Option<(String, String)>,
    /// CPU cores and memory bytes requested by its containers.
    pub requests: (f64, f64),
    pub restarts: u32,
    pub stuck: Option<Stuck>,
}

/// A ReplicaSet is read only for the Deployment that controls it.
pub(super) type RsObj = Option<String>;

/// One resource's cache in one namespace scope.
pub(super) struct CompactStore<T> {
    map: Arc<RwLock<HashMap<Key, T>>>,
    ready: Arc<AtomicBool>,
}

impl<T> CompactStore<T> {
    /// Whether the initial list has arrived.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The current objects; held only for the duration of one synchronous read.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Key, T>> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn key_of<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// List then watch one resource (kube-runtime's watcher: pages of 500, resourceVersion
/// bookkeeping, relist after 410 Gone, backoff on errors), keeping `project(object)` per key.
pub(super) fn spawn_compact<K, T>(
    api: Api<K>,
    name: &'static str,
    errors: &Arc<Mutex<HashMap<&'static str, String>>>,
    project: fn(&K) -> T,
) -> (CompactStore<T>, JoinHandle<()>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    T: Send + Sync + 'static,
{
    let map = Arc::new(RwLock::new(HashMap::new()));
    let ready = Arc::new(AtomicBool::new(false));
    let store = CompactStore {
        map: Arc::clone(&map),
        ready: Arc::clone(&ready),
    };
    let errors = Arc::clone(errors);
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        // A relist builds its objects aside and swaps them in whole at InitDone, so a poll
        // never sees a half-listed cluster.
        let mut relisting: Option<HashMap<Key, T>> = None;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => {
                    if let Ok(mut errors) = errors.lock() {
                        errors.remove(name);
                    }
                    event
                }
                Err(e) => {
                    log::warn!("watch {name}: {e}");
                    if let Ok(mut errors) = errors.lock() {
                        errors.insert(name, e.to_string());
                    }
                    continue;
                }
            };
            match event {
                Event::Init => relisting = Some(HashMap::new()),
                Event::InitApply(obj) => {
                    if let Some(fresh) = relisting.as_mut() {
                        fresh.insert(key_of(&obj), project(&obj));
                    }
                }
                Event::InitDone => {
                    if let Some(fresh) = relisting.take()
                        && let Ok(mut map) = map.write()
                    {
                        *map = fresh;
                    }
                    ready.store(true, Ordering::Release);
                }
                Event::Apply(obj) => {
                    if let Ok(mut map) = map.write() {
                        map.insert(key_of(&obj), project(&obj));
                    }
                }
                Event::Delete(obj) => {
                    if let Ok(mut map) = map.write() {
                        map.remove(&key_of(&obj));
                    }
                }
            }
        }
    });
    (store, task)
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

fn controller(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<(String, String)> {
    controller_ref(meta).map(|o| (o.kind.clone(), o.name.clone()))
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
        owner: controller(&p.metadata),
        requests: requests(p),
        restarts,
        stuck: stuck_reason(p),
    }
}

pub(super) fn replicaset(rs: &ReplicaSet) -> RsObj {
    controller(&rs.metadata)
        .filter(|(kind, _)| kind == "Deployment")
        .map(|(_, name)| name)
}
