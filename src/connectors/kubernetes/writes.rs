//! Writes: the scale subresource and HorizontalPodAutoscalers, each with optimistic
//! concurrency (the resourceVersion the plan saw, one retry after a 409) and a dry-run form.

use super::*;

impl ContextWatch {
    /// Scale through the `scale` subresource with the resourceVersion the plan saw, so a change
    /// made by someone else in between is noticed (409 Conflict). A conflict is retried once
    /// with a fresh read; a second one is reported.
    pub(super) async fn scale(
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

    pub(super) async fn patch_scale(
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

    pub(super) async fn get_scale(
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

    /// Edit the workload's HPA (merge patch with the cached resourceVersion, one retry on 409)
    /// or create one named after the workload, as `kubectl autoscale` does.
    pub(super) async fn autoscaler_request(
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

    /// `kubectl delete hpa`: the workload keeps its current replica count.
    pub(super) async fn delete_autoscaler_request(
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
