//! Pods decoded with only the fields the watch cache reads. A pod from a real API server is
//! about 7.9 KB of JSON, half of it `managedFields`, labels, annotations, env, probes and
//! volumes that Scaleboard never looks at; decoding all of that into k8s-openapi's `Pod` builds
//! a tree of strings and maps per pod only to drop it. Here serde skips those fields as it
//! reads (no allocation) — in the status too: images, IDs, IPs and the timestamps of every
//! condition and container state (each a date parse) are skipped — and what is kept becomes a
//! small `Pod` once, at decode time, for the projections in `cache.rs` and `pods.rs`, so the
//! rules for restarts and stuck reasons stay in one place and nothing is cloned per event.
//!
//! The API server offers nothing that sends less for a pod list: metadata-only lists
//! (`as=PartialObjectMetadataList`) drop the status the stuck reasons come from and keep
//! `managedFields`; a `fieldSelector` picks objects, not fields; `resourceVersion=0` and
//! `sendInitialEvents` change where the list is served from, not its bytes; protobuf has no
//! maintained decoder for these types in kube-rs.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A pod as the watch reads it: [`kube::Resource`] for `pods` in core/v1, holding a `Pod` with
/// only the fields the projections read.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "Wire")]
pub struct LitePod {
    pod: Pod,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(deserialize_with = "lite_meta")]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<LiteSpec>,
    #[serde(default)]
    status: Option<LiteStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiteMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    deletion_timestamp: Option<Time>,
    owner_references: Option<Vec<OwnerReference>>,
}

fn lite_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = LiteMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        deletion_timestamp: m.deletion_timestamp,
        owner_references: m.owner_references,
        ..ObjectMeta::default()
    })
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiteSpec {
    #[serde(default)]
    containers: Vec<LiteContainer>,
    init_containers: Option<Vec<LiteContainer>>,
    overhead: Option<BTreeMap<String, Quantity>>,
    node_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct LiteContainer {
    #[serde(default)]
    name: String,
    resources: Option<LiteResources>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct LiteResources {
    requests: Option<BTreeMap<String, Quantity>>,
}

/// What `pods::stuck_reason` and the restart count read of a pod's status.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiteStatus {
    phase: Option<String>,
    conditions: Option<Vec<LiteCondition>>,
    container_statuses: Option<Vec<LiteContainerStatus>>,
    init_container_statuses: Option<Vec<LiteContainerStatus>>,
}

#[derive(Deserialize)]
struct LiteCondition {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    status: String,
    reason: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiteContainerStatus {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    restart_count: i32,
    state: Option<LiteState>,
    last_state: Option<LiteState>,
}

#[derive(Deserialize)]
struct LiteState {
    waiting: Option<LiteWaiting>,
    /// Only whether it runs is read; its start time is skipped.
    running: Option<IgnoredAny>,
    terminated: Option<LiteTerminated>,
}

#[derive(Deserialize)]
struct LiteWaiting {
    reason: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiteTerminated {
    #[serde(default)]
    exit_code: i32,
    reason: Option<String>,
}

impl LiteContainer {
    fn container(self) -> Container {
        Container {
            name: self.name,
            resources: self.resources.map(|r| ResourceRequirements {
                requests: r.requests,
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }
}

impl LiteState {
    fn state(self) -> ContainerState {
        ContainerState {
            waiting: self.waiting.map(|w| ContainerStateWaiting {
                reason: w.reason,
                message: w.message,
            }),
            running: self.running.map(|_| ContainerStateRunning::default()),
            terminated: self.terminated.map(|t| ContainerStateTerminated {
                exit_code: t.exit_code,
                reason: t.reason,
                ..ContainerStateTerminated::default()
            }),
        }
    }
}

impl LiteContainerStatus {
    fn status(self) -> ContainerStatus {
        ContainerStatus {
            name: self.name,
            ready: self.ready,
            restart_count: self.restart_count,
            state: self.state.map(LiteState::state),
            last_state: self.last_state.map(LiteState::state),
            ..ContainerStatus::default()
        }
    }
}

impl LiteStatus {
    fn status(self) -> PodStatus {
        let containers = |list: Option<Vec<LiteContainerStatus>>| {
            list.map(|l| l.into_iter().map(LiteContainerStatus::status).collect())
        };
        PodStatus {
            phase: self.phase,
            conditions: self.conditions.map(|list| {
                list.into_iter()
                    .map(|c| PodCondition {
                        type_: c.type_,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                        ..PodCondition::default()
                    })
                    .collect()
            }),
            container_statuses: containers(self.container_statuses),
            init_container_statuses: containers(self.init_container_statuses),
            ..PodStatus::default()
        }
    }
}

impl From<Wire> for LitePod {
    fn from(w: Wire) -> Self {
        let pod = Pod {
            metadata: w.metadata,
            spec: w.spec.map(|s| PodSpec {
                containers: s
                    .containers
                    .into_iter()
                    .map(LiteContainer::container)
                    .collect(),
                init_containers: s
                    .init_containers
                    .map(|c| c.into_iter().map(LiteContainer::container).collect()),
                overhead: s.overhead,
                node_name: s.node_name,
                ..PodSpec::default()
            }),
            status: w.status.map(LiteStatus::status),
        };
        Self { pod }
    }
}

impl LitePod {
    /// The fields read, as a k8s-openapi `Pod` (everything else empty).
    pub fn pod(&self) -> &Pod {
        &self.pod
    }
}

impl kube::Resource for LitePod {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.pod.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.pod.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::kubernetes::cache;

    fn pod_json(status: &serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "shop", "resourceVersion": "42",
                "labels": { "app": "web" },
                "managedFields": [{ "manager": "kubelet", "fieldsV1": { "f:status": {} } }],
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-6b7", "uid": "u", "controller": true }]
            },
            "spec": {
                "nodeName": "n1",
                "containers": [{ "name": "app", "image": "x", "env": [{ "name": "A", "value": "b" }],
                    "resources": { "requests": { "cpu": "250m" }, "limits": { "cpu": "1" } } }],
                "initContainers": [{ "name": "init", "image": "x",
                    "resources": { "requests": { "memory": "64Mi" } } }],
                "overhead": { "memory": "10Mi" }
            },
            "status": status
        })
    }

    /// What the projections read survives the light decode; what they do not is dropped.
    #[test]
    fn keeps_what_is_read_and_drops_the_rest() {
        let json = pod_json(
            &serde_json::json!({ "phase": "Pending", "hostIP": "10.0.0.1",
            "startTime": "2026-12-01T10:00:00Z",
            "containerStatuses": [{ "name": "app", "ready": false,
                "restartCount": 3, "image": "x", "imageID": "sha256:1", "containerID": "c://1",
                "state": { "waiting": { "reason": "CrashLoopBackOff" } } }] }),
        );
        let lite: LitePod = serde_json::from_value(json.clone()).unwrap();
        let full: Pod = serde_json::from_value(json).unwrap();
        let pod = lite.pod();
        assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(pod.metadata.resource_version.as_deref(), Some("42"));
        assert_eq!(
            pod.metadata.owner_references,
            full.metadata.owner_references
        );
        assert_eq!(pod.metadata.labels, None);
        assert_eq!(pod.metadata.managed_fields, None);
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.host_ip, None);
        assert_eq!(status.start_time, None);
        let c = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!((c.image.as_str(), c.image_id.as_str()), ("", ""));
        assert_eq!(c.restart_count, 3);
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert_eq!(spec.overhead, full.spec.as_ref().unwrap().overhead);
        let c = &spec.containers[0];
        assert_eq!(c.env, None);
        assert_eq!(
            c.resources.as_ref().unwrap().requests,
            full.spec.as_ref().unwrap().containers[0]
                .resources
                .as_ref()
                .unwrap()
                .requests
        );
        assert_eq!(cache::lite_pod(&lite), cache::pod(&full));
    }

    /// Every status shape the stuck reasons tell apart projects the same from the light decode
    /// as from k8s-openapi's whole `Pod`: restarts, the stuck reason's words and rank, finished.
    #[test]
    fn projects_like_the_whole_pod_for_every_status_shape() {
        let t = "2026-12-01T10:00:00Z";
        let shapes = [
            serde_json::json!({ "phase": "Pending", "conditions": [
                { "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                  "message": "0/3 nodes are available: 3 Insufficient cpu.",
                  "lastTransitionTime": t, "lastProbeTime": null }] }),
            serde_json::json!({ "phase": "Running", "conditions": [
                { "type": "Ready", "status": "False", "lastTransitionTime": t }],
                "containerStatuses": [{ "name": "app", "ready": false, "restartCount": 7,
                    "image": "x", "imageID": "y", "started": false,
                    "state": { "waiting": { "reason": "CrashLoopBackOff",
                        "message": "back-off 5m0s restarting failed container" } },
                    "lastState": { "terminated": { "exitCode": 137, "reason": "OOMKilled",
                        "startedAt": t, "finishedAt": t, "containerID": "c://2" } } }] }),
            serde_json::json!({ "phase": "Running",
                "initContainerStatuses": [{ "name": "init", "ready": true, "restartCount": 1,
                    "image": "x", "imageID": "y",
                    "state": { "terminated": { "exitCode": 0, "reason": "Completed" } } }],
                "containerStatuses": [{ "name": "app", "ready": false, "restartCount": 0,
                    "image": "x", "imageID": "y",
                    "state": { "running": { "startedAt": t } } }] }),
            serde_json::json!({ "phase": "Pending",
                "containerStatuses": [{ "name": "app", "ready": false, "restartCount": 0,
                    "image": "x", "imageID": "y",
                    "state": { "waiting": { "reason": "ImagePullBackOff",
                        "message": "Back-off pulling image" } } }] }),
            serde_json::json!({ "phase": "Pending" }),
            serde_json::json!({ "phase": "Succeeded",
                "containerStatuses": [{ "name": "app", "ready": false, "restartCount": 2,
                    "image": "x", "imageID": "y",
                    "state": { "terminated": { "exitCode": 0, "reason": "Completed" } } }] }),
            serde_json::json!({ "phase": "Running", "podIP": "10.1.2.3",
                "containerStatuses": [{ "name": "app", "ready": true, "restartCount": 4,
                    "image": "x", "imageID": "y", "state": { "running": {} } }] }),
            serde_json::Value::Null,
        ];
        for status in shapes {
            let json = pod_json(&status);
            let lite: LitePod = serde_json::from_value(json.clone()).unwrap();
            let full: Pod = serde_json::from_value(json).unwrap();
            assert_eq!(cache::lite_pod(&lite), cache::pod(&full), "{status}");
        }
    }
}
