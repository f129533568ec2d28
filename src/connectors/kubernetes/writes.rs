//! Writes: the scale subresource and HorizontalPodAutoscalers, each conditioned on the
//! resourceVersion the engine's re-check read right before (a 409 is reported as "changed since
//! planned", never retried), each naming its field manager, each with a dry-run form.

use super::*;
use kube::api::Preconditions;

/// The field manager every write names: `managedFields` then says which fields Scaleboard set
/// (`kubectl get --show-managed-fields`), instead of "unknown".
pub const FIELD_MANAGER: &str = "scaleboard";

fn patch_params(dry_run: bool) -> PatchParams {
    PatchParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    }
}

fn post_params(dry_run: bool) -> PostParams {
    PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.into()),
    }
}

impl ContextWatch {
    /// Scale through the `scale` subresource, conditioned on `version` (the resourceVersion the
    /// re-check read): a change made by someone else since is a 409, reported as
    /// [`ConnectorError::Conflict`] and not retried.
    pub(super) async fn scale(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        replicas: u32,
        version: Option<String>,
    ) -> Result<String, ConnectorError> {
        let what = format!("scale {} {ns}/{name}", kind_name(kind));
        let patch = Patch::Merge(serde_json::json!({
            "metadata": { "resourceVersion": version },
            "spec": { "replicas": replicas },
        }));
        match self.patch_scale(ns, kind, name, &patch, false).await {
            Ok(scale) => {
                let now = scale.spec.and_then(|s| s.replicas).unwrap_or_default();
                Ok(format!(
                    "{} {ns}/{name} scale subresource now wants {}",
                    kind_name(kind),
                    crate::model::units::replicas(now.max(0) as u64)
                ))
            }
            Err(e) => Err(api_error(&what, &e)),
        }
    }

    pub(super) async fn patch_scale(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        patch: &Patch<serde_json::Value>,
        dry_run: bool,
    ) -> kube::Result<k8s_openapi::api::autoscaling::v1::Scale> {
        let params = patch_params(dry_run);
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
}

/// The HPA an autoscaler write acts on, as read: its name, resourceVersion and spec (raw JSON).
struct ReadHpa {
    name: String,
    version: Option<String>,
    raw: serde_json::Value,
}

impl KubernetesConnector {
    /// The workload's HPA to edit or delete. With the re-check's read (`fresh`), the HPA it saw
    /// (kept raw by the fresh read), checked to be the one the re-check projected; a dry run
    /// (no fresh read) GETs the HPA the watch cache names.
    async fn hpa_to_change(
        &self,
        cw: &ContextWatch,
        ns: &str,
        workload: &WorkloadRef,
        fresh: Option<&Snapshot>,
    ) -> Result<Option<ReadHpa>, ConnectorError> {
        let raw = match fresh {
            Some(_) => {
                let row = fresh_row(fresh, workload).ok_or_else(|| {
                    ConnectorError::NotFound(format!(
                        "{workload} was not found when read again right before the write"
                    ))
                })?;
                let Some(seen) = &row.autoscaler else {
                    return Ok(None);
                };
                let raw = match self.kept_hpa(&cw.context, ns, &seen.name) {
                    Some(raw) => raw,
                    None => get_raw(cw, ns, &seen.name).await?,
                };
                // The kept object must be the one the re-check judged; if a later read saw it
                // changed, the write would rest on something the operator did not see.
                let typed: HorizontalPodAutoscaler = serde_json::from_value(raw.clone())
                    .map_err(|e| ConnectorError::Failed(format!("hpa {ns}/{}: {e}", seen.name)))?;
                if !hpa::same_spec(&hpa::autoscaler(&typed), seen) {
                    return Err(ConnectorError::Conflict(format!(
                        "hpa {ns}/{} changed after it was read again right before the write",
                        seen.name
                    )));
                }
                raw
            }
            None => {
                let Some((name, _)) = cw.hpa_for(ns, workload.kind, &workload.name) else {
                    return Ok(None);
                };
                get_raw(cw, ns, &name).await?
            }
        };
        let name = raw["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let version = raw["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
        Ok(Some(ReadHpa { name, version, raw }))
    }

    /// Edit the workload's HPA, or create one named after the workload as `kubectl autoscale`
    /// does. The edit is a merge patch, conditioned on the HPA's resourceVersion, of only the
    /// fields whose value differs from the HPA as read right before the write: min, max, and
    /// the metrics list when the CPU target changes (the HPA's own list with only the CPU
    /// Utilization entry replaced, so other metrics survive: a merge patch replaces a list
    /// whole). `behavior`, labels and annotations are never sent.
    pub(super) async fn autoscaler_request(
        &self,
        workload: &WorkloadRef,
        (min, max, cpu): (u32, u32, u32),
        dry_run: bool,
        fresh: Option<&Snapshot>,
    ) -> Result<String, ConnectorError> {
        let (cw, ns) = self.context_of(&workload.scope).await?;
        let kind = kubernetes_kind(workload)?;
        let name = workload.name.as_str();
        let api = Api::<HorizontalPodAutoscaler>::namespaced(cw.client.clone(), ns);
        if let Some(existing) = self.hpa_to_change(cw, ns, workload, fresh).await? {
            let typed: HorizontalPodAutoscaler = serde_json::from_value(existing.raw.clone())
                .map_err(|e| ConnectorError::Failed(format!("hpa {ns}/{}: {e}", existing.name)))?;
            let seen = hpa::autoscaler(&typed);
            let edit = hpa::Edit::new(&seen, (min, max, cpu), existing.raw["spec"].get("metrics"));
            if edit.spec.is_empty() {
                return Ok(format!(
                    "hpa {ns}/{} already has {}: nothing was sent",
                    existing.name,
                    edit.unchanged.join(", ")
                ));
            }
            let patch = Patch::Merge(serde_json::json!({
                "metadata": { "resourceVersion": existing.version },
                "spec": edit.spec,
            }));
            api.patch(&existing.name, &patch_params(dry_run), &patch)
                .await
                .map_err(|e| api_error(&format!("patch hpa {ns}/{}", existing.name), &e))?;
            return Ok(format!("hpa {ns}/{}: {}", existing.name, edit.words()));
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
                metrics: Some(vec![MetricSpec {
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
                }]),
                behavior: None,
            }),
            status: None,
        };
        api.create(&post_params(dry_run), &hpa)
            .await
            .map_err(|e| api_error(&format!("create hpa {ns}/{name}"), &e))?;
        Ok(format!(
            "hpa {ns}/{name} created: min {min}, max {max}, CPU {cpu} %"
        ))
    }

    /// `kubectl delete hpa`, conditioned on the resourceVersion the re-check read: the workload
    /// keeps its current replica count. (DeleteOptions have no field manager: a deleted object
    /// keeps no managedFields.)
    pub(super) async fn delete_autoscaler_request(
        &self,
        workload: &WorkloadRef,
        dry_run: bool,
        fresh: Option<&Snapshot>,
    ) -> Result<String, ConnectorError> {
        let (cw, ns) = self.context_of(&workload.scope).await?;
        kubernetes_kind(workload)?;
        let existing = self
            .hpa_to_change(cw, ns, workload, fresh)
            .await?
            .ok_or_else(|| {
                ConnectorError::NotFound(format!("{workload} has no autoscaler to delete"))
            })?;
        Api::<HorizontalPodAutoscaler>::namespaced(cw.client.clone(), ns)
            .delete(
                &existing.name,
                &DeleteParams {
                    dry_run,
                    preconditions: Some(Preconditions {
                        resource_version: existing.version.clone(),
                        uid: None,
                    }),
                    ..DeleteParams::default()
                },
            )
            .await
            .map_err(|e| api_error(&format!("delete hpa {ns}/{}", existing.name), &e))?;
        Ok(format!("hpa {ns}/{} deleted", existing.name))
    }
}

/// GET an HPA as raw JSON (every field kept, also those newer than this crate's API version).
async fn get_raw(
    cw: &ContextWatch,
    ns: &str,
    name: &str,
) -> Result<serde_json::Value, ConnectorError> {
    let resource = kube::core::ApiResource::erase::<HorizontalPodAutoscaler>(&());
    let obj = Api::<kube::core::DynamicObject>::namespaced_with(cw.client.clone(), ns, &resource)
        .get(name)
        .await
        .map_err(|e| api_error(&format!("read hpa {ns}/{name}"), &e))?;
    serde_json::to_value(&obj)
        .map_err(|e| ConnectorError::Failed(format!("hpa {ns}/{name} could not be read: {e}")))
}
