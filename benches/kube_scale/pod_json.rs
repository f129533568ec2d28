//! Pods as a real API server returns them, for the envelope mode: metadata with labels,
//! annotations, an owner and the two managedFields entries every controller-made pod carries
//! (kube-controller-manager's spec, the kubelet's status), a spec with env, probes, volume
//! mounts and the projected service-account volume, and a status with four conditions and a
//! container status. Env entries bring each pod to [`TARGET_BYTES`], the 7.9 KB per pod that a
//! LIST of 30,000 pods from kube-apiserver v1.36 measured (235 MB in 3.3 s, issue #25).

use serde_json::{Value, json};

/// JSON bytes per pod, as measured on a real API server.
pub const TARGET_BYTES: usize = 7_900;

/// Where pod `i` belongs: its workload, namespace, ReplicaSet and node.
#[derive(Clone, Copy)]
pub struct Layout {
    pub workloads: usize,
    pub pods_per_workload: usize,
    pub nodes: usize,
    pub namespaces: usize,
}

impl Layout {
    pub fn pods(&self) -> usize {
        self.workloads * self.pods_per_workload
    }
    pub fn namespace(&self, workload: usize) -> String {
        format!("team-{:03}", workload % self.namespaces)
    }
    pub fn workload(&self, workload: usize) -> String {
        format!("svc-{workload:05}")
    }
    /// Pod `i`'s (namespace, ReplicaSet, name, node).
    pub fn pod_place(&self, i: usize) -> (String, String, String, String) {
        let w = i / self.pods_per_workload;
        let rs = format!("{}-6b7c9f8d4", self.workload(w));
        let name = format!("{rs}-{i:05x}");
        (
            self.namespace(w),
            rs,
            name,
            format!("node-{:04}", i % self.nodes),
        )
    }
}

fn managed_fields() -> Value {
    json!([
        {
            "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
            "time": "2026-11-30T08:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": { "f:generateName": {}, "f:labels": { ".": {}, "f:app": {}, "f:pod-template-hash": {}, "f:team": {}, "f:version": {} },
                    "f:ownerReferences": { ".": {}, "k:{\"uid\":\"4f1c\"}": {} } },
                "f:spec": { "f:containers": { "k:{\"name\":\"app\"}": { ".": {}, "f:env": { ".": {} }, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                    "f:ports": { ".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": { ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {} } },
                    "f:readinessProbe": { ".": {}, "f:failureThreshold": {}, "f:httpGet": { ".": {}, "f:path": {}, "f:port": {}, "f:scheme": {} }, "f:periodSeconds": {}, "f:successThreshold": {}, "f:timeoutSeconds": {} },
                    "f:livenessProbe": { ".": {}, "f:failureThreshold": {}, "f:httpGet": { ".": {}, "f:path": {}, "f:port": {}, "f:scheme": {} }, "f:periodSeconds": {}, "f:successThreshold": {}, "f:timeoutSeconds": {} },
                    "f:resources": { ".": {}, "f:limits": { ".": {}, "f:memory": {} }, "f:requests": { ".": {}, "f:cpu": {}, "f:memory": {} } },
                    "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {} } },
                    "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {} }
            }
        },
        {
            "manager": "kubelet", "operation": "Update", "apiVersion": "v1",
            "time": "2026-11-30T08:00:09Z", "fieldsType": "FieldsV1", "subresource": "status",
            "fieldsV1": {
                "f:status": { "f:conditions": { "k:{\"type\":\"ContainersReady\"}": { ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {} },
                    "k:{\"type\":\"Initialized\"}": { ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {} },
                    "k:{\"type\":\"PodReadyToStartContainers\"}": { ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {} },
                    "k:{\"type\":\"Ready\"}": { ".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {} } },
                    "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": { ".": {}, "k:{\"ip\":\"10.1.2.3\"}": { ".": {}, "f:ip": {} } }, "f:startTime": {} }
            }
        }
    ])
}

fn pod_without_env(layout: &Layout, i: usize) -> Value {
    let deployment = layout.workload(i / layout.pods_per_workload);
    let (ns, rs, name, node) = layout.pod_place(i);
    let condition = |t: &str| json!({ "type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-30T08:00:09Z" });
    json!({
        "metadata": {
            "name": name, "generateName": format!("{rs}-"), "namespace": ns,
            "uid": format!("8d6c1e2a-0000-4000-8000-{i:012}"), "resourceVersion": format!("{}", 1_000_000 + i),
            "creationTimestamp": "2026-11-30T08:00:00Z",
            "labels": { "app": deployment, "pod-template-hash": "6b7c9f8d4", "team": ns, "version": "1.42.0" },
            "annotations": { "prometheus.io/scrape": "true", "prometheus.io/port": "9090", "kubectl.kubernetes.io/restartedAt": "2026-11-29T22:14:05Z" },
            "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "4f1c", "controller": true, "blockOwnerDeletion": true }],
            "managedFields": managed_fields()
        },
        "spec": {
            "volumes": [{ "name": "kube-api-access-x7k2p", "projected": { "sources": [
                { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                { "downwardAPI": { "items": [{ "path": "namespace", "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } }] } }
            ], "defaultMode": 420 } }],
            "containers": [{
                "name": "app", "image": format!("registry.example/{deployment}:1.42.0"),
                "ports": [{ "name": "http", "containerPort": 8080, "protocol": "TCP" }],
                "env": [],
                "resources": { "limits": { "memory": "512Mi" }, "requests": { "cpu": "100m", "memory": "256Mi" } },
                "volumeMounts": [{ "name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount" }],
                "livenessProbe": { "httpGet": { "path": "/healthz", "port": 8080, "scheme": "HTTP" }, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3 },
                "readinessProbe": { "httpGet": { "path": "/ready", "port": 8080, "scheme": "HTTP" }, "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3 },
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": node,
            "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [
                { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
                { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }
            ],
            "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": {
            "phase": "Running",
            "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
            "hostIP": "10.0.3.17", "hostIPs": [{ "ip": "10.0.3.17" }],
            "podIP": "10.1.2.3", "podIPs": [{ "ip": "10.1.2.3" }],
            "startTime": "2026-11-30T08:00:00Z",
            "containerStatuses": [{
                "name": "app", "state": { "running": { "startedAt": "2026-11-30T08:00:05Z" } },
                "lastState": {}, "ready": true, "restartCount": (i % 7) as u64,
                "image": format!("registry.example/{deployment}:1.42.0"),
                "imageID": "registry.example/app@sha256:5d8f9e0c1b2a39485766a5b4c3d2e1f00112233445566778899aabbccddeeff",
                "containerID": format!("containerd://{:064x}", i), "started": true
            }],
            "qosClass": "Burstable"
        }
    })
}

/// A generator of pods of about [`TARGET_BYTES`] each (calibrated once on pod 0).
pub fn generator(layout: Layout) -> impl Fn(usize) -> Value + Send + Sync {
    let base = serde_json::to_vec(&pod_without_env(&layout, 0))
        .unwrap()
        .len();
    let one = serde_json::to_vec(&env(0)).unwrap().len() + 1;
    let count = TARGET_BYTES.saturating_sub(base) / one;
    move |i| {
        let mut pod = pod_without_env(&layout, i);
        pod["spec"]["containers"][0]["env"] = Value::Array((0..count).map(env).collect());
        pod
    }
}

fn env(k: usize) -> Value {
    json!({ "name": format!("FEATURE_FLAG_{k:02}"), "value": "enabled-for-this-deployment-since-release" })
}
