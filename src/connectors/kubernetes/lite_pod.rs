//! Pods decoded with only the fields the watch cache reads. A pod from a real API server is
//! about 7.9 KB of JSON, half of it `managedFields`, labels, annotations, env, probes and
//! volumes that Scaleboard never looks at; decoding all of that into k8s-openapi's `Pod` builds
//! a tree of strings and maps per pod only to drop it. Here serde skips those fields as it
//! reads (no allocation), and what is kept converts into a small `Pod` for the projections in
//! `cache.rs` and `pods.rs`, so the rules for restarts and stuck reasons stay in one place.
//!
//! The API server offers nothing that sends less for a pod list: metadata-only lists
//! (`as=PartialObjectMetadataList`) drop the status the stuck reasons come from and keep
//! `managedFields`; a `fieldSelector` picks objects, not fields; `resourceVersion=0` and
//! `sendInitialEvents` change where the list is served from, not its bytes; protobuf has no
//! maintained decoder for these types in kube-rs.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A pod as the watch reads it: [`kube::Resource`] for `pods` in core/v1.
#[derive(Clone, Debug, Deserialize)]
pub struct LitePod {
    #[serde(deserialize_with = "lite_meta")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<LiteSpec>,
    /// Conditions and container states are what the stuck reasons are made of: kept whole.
    #[serde(default)]
    status: Option<PodStatus>,
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

impl LiteContainer {
    fn container(&self) -> Container {
        Container {
            name: self.name.clone(),
            resources: self.resources.as_ref().map(|r| ResourceRequirements {
                requests: r.requests.clone(),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }
}

impl LitePod {
    /// The fields read, as a k8s-openapi `Pod` (everything else empty).
    pub fn to_pod(&self) -> Pod {
        Pod {
            metadata: self.metadata.clone(),
            spec: self.spec.as_ref().map(|s| PodSpec {
                containers: s.containers.iter().map(LiteContainer::container).collect(),
                init_containers: s
                    .init_containers
                    .as_ref()
                    .map(|c| c.iter().map(LiteContainer::container).collect()),
                overhead: s.overhead.clone(),
                node_name: s.node_name.clone(),
                ..PodSpec::default()
            }),
            status: self.status.clone(),
        }
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
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the projections read survives the light decode; what they do not is dropped.
    #[test]
    fn keeps_what_is_read_and_drops_the_rest() {
        let json = serde_json::json!({
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
                "overhead": { "memory": "10Mi" }
            },
            "status": { "phase": "Pending", "containerStatuses": [{ "name": "app", "ready": false,
                "restartCount": 3, "image": "x", "imageID": "",
                "state": { "waiting": { "reason": "CrashLoopBackOff" } } }] }
        });
        let lite: LitePod = serde_json::from_value(json.clone()).unwrap();
        let full: Pod = serde_json::from_value(json).unwrap();
        let pod = lite.to_pod();
        assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(pod.metadata.resource_version.as_deref(), Some("42"));
        assert_eq!(
            pod.metadata.owner_references,
            full.metadata.owner_references
        );
        assert_eq!(pod.metadata.labels, None);
        assert_eq!(pod.metadata.managed_fields, None);
        assert_eq!(pod.status, full.status);
        let spec = pod.spec.unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert_eq!(spec.overhead, full.spec.as_ref().unwrap().overhead);
        let c = &spec.containers[0];
        assert_eq!(c.env, None);
        assert_eq!(
            c.resources.as_ref().unwrap().requests,
            full.spec.unwrap().containers[0]
                .resources
                .as_ref()
                .unwrap()
                .requests
        );
    }
}
