//! Fresh reads of an action's targets from the API server, never from the watch caches: the
//! engine's re-check right before a write, and verification after it.
//!
//! Per target: a GET of the Deployment or StatefulSet (by its kind), one LIST of the HPAs of its
//! namespace (shared by the targets of one namespace) and one LIST of its pods by the workload's
//! label selector, so a row says what blocks progress. Rows are built by the same projection
//! code as the poll (`cache.rs`, `row`), so a fresh row equals the polled one when nothing
//! changed. The HPAs are also kept as read (raw JSON): an autoscaler edit is built from the
//! object the re-check saw and sent with its resourceVersion.

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ListParams;
use kube::core::{ApiResource, DynamicObject};
use serde_json::Value;

/// Targets (and namespaces) read at once in a bulk action.
const CONCURRENT_READS: usize = 8;

/// The HPAs of one namespace as read; `None` when RBAC does not allow listing them (the poll
/// shows no autoscalers then either).
type NamespaceHpas = Option<Vec<cache::HpaObj>>;

impl KubernetesConnector {
    pub(super) async fn read_fresh_targets(
        &self,
        action: &Action,
    ) -> Result<Option<Snapshot>, ConnectorError> {
        let targets: Vec<&WorkloadRef> = match action {
            Action::ScaleWorkload { workload, .. }
            | Action::SetAutoscaler { workload, .. }
            | Action::DeleteAutoscaler { workload } => vec![workload],
            Action::ScaleWorkloads { targets, .. } => targets.iter().map(|(w, _)| w).collect(),
            Action::PromoteReplica { .. }
            | Action::PromoteMysqlReplica { .. }
            | Action::ScaleComposeServices { .. }
            | Action::PatroniSwitchover { .. }
            | Action::PatroniFailover { .. }
            | Action::PatroniCancelSwitchover { .. } => {
                return Ok(None);
            }
        };
        let mut scopes: Vec<&str> = targets.iter().map(|w| w.scope.as_str()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        let hpa_reads: Vec<_> = scopes.iter().map(|scope| self.read_hpas(scope)).collect();
        let hpa_lists: Vec<Result<NamespaceHpas, ConnectorError>> =
            futures::stream::iter(hpa_reads)
                .buffered(CONCURRENT_READS)
                .collect()
                .await;
        let mut hpas: HashMap<&str, NamespaceHpas> = HashMap::new();
        for (scope, list) in scopes.iter().zip(hpa_lists) {
            hpas.insert(scope, list?);
        }
        let reads: Vec<_> = targets
            .iter()
            .map(|w| {
                let list = hpas.get(w.scope.as_str()).and_then(Option::as_deref);
                self.read_workload(w, list)
            })
            .collect();
        let rows: Vec<Result<Option<Workload>, ConnectorError>> = futures::stream::iter(reads)
            .buffered(CONCURRENT_READS)
            .collect()
            .await;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            // A target that is gone is left out: the re-check names it "gone now".
            out.extend(row?);
        }
        // The fit check is planned again on the watch caches' current nodes, pods and quotas
        // (kept current by their watches; listing every node per write would not scale).
        let mut contexts: Vec<&ContextWatch> = Vec::new();
        for scope in &scopes {
            let (cw, _) = self.context_of(scope).await?;
            if !contexts.iter().any(|c| c.context == cw.context) {
                contexts.push(cw);
            }
        }
        let mut list: WorkloadList = out.into();
        list.capacity = Some(Arc::new(capacity::view(&self.config.name, &contexts)));
        Ok(Some(Snapshot::Workloads(list)))
    }

    /// One LIST of the namespace's HPAs, kept raw for an edit and projected for the rows.
    async fn read_hpas(&self, scope: &str) -> Result<NamespaceHpas, ConnectorError> {
        let (cw, ns) = self.context_of(scope).await?;
        let resource = ApiResource::erase::<HorizontalPodAutoscaler>(&());
        let api = Api::<DynamicObject>::namespaced_with(cw.client.clone(), ns, &resource);
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 403 => {
                log::info!("fresh read of HPAs in {scope}: {}", status.message);
                return Ok(None);
            }
            Err(e) => return Err(api_error(&format!("list hpa in {scope}"), &e)),
        };
        let mut projected = Vec::with_capacity(list.items.len());
        let mut raw = HashMap::new();
        for item in list.items {
            let name = item.name_any();
            let value = serde_json::to_value(&item).map_err(|e| {
                ConnectorError::Failed(format!("hpa {scope}/{name} could not be read: {e}"))
            })?;
            let typed: HorizontalPodAutoscaler =
                serde_json::from_value(value.clone()).map_err(|e| {
                    ConnectorError::Failed(format!("hpa {scope}/{name} could not be read: {e}"))
                })?;
            projected.push(cache::hpa(&typed));
            raw.insert(name, value);
        }
        self.keep_hpas(&cw.context, ns, raw);
        Ok(Some(projected))
    }

    /// The HPAs of a namespace as last read fresh replace the ones kept before.
    fn keep_hpas(&self, context: &str, ns: &str, raw: HashMap<String, Value>) {
        let Ok(mut kept) = self.fresh_hpas.lock() else {
            return;
        };
        kept.retain(|(c, n, _), _| !(c == context && n == ns));
        for (name, value) in raw {
            kept.insert((context.to_string(), ns.to_string(), name), value);
        }
    }

    /// The HPA as the last fresh read of its namespace returned it.
    pub(super) fn kept_hpa(&self, context: &str, ns: &str, name: &str) -> Option<Value> {
        self.fresh_hpas
            .lock()
            .ok()?
            .get(&(context.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    /// GET the workload by its kind, LIST its pods; `None` when it does not exist.
    async fn read_workload(
        &self,
        w: &WorkloadRef,
        hpas: Option<&[cache::HpaObj]>,
    ) -> Result<Option<Workload>, ConnectorError> {
        let (cw, ns) = self.context_of(&w.scope).await?;
        let what = format!("read {w}");
        let (obj, selector) = match w.kind {
            WorkloadKind::Deployment => {
                let got = Api::<Deployment>::namespaced(cw.client.clone(), ns)
                    .get_opt(&w.name)
                    .await
                    .map_err(|e| api_error(&what, &e))?;
                let Some(d) = got else { return Ok(None) };
                let selector = d.spec.as_ref().and_then(|s| selector_string(&s.selector));
                (cache::deployment(&d), selector)
            }
            WorkloadKind::StatefulSet => {
                let got = Api::<StatefulSet>::namespaced(cw.client.clone(), ns)
                    .get_opt(&w.name)
                    .await
                    .map_err(|e| api_error(&what, &e))?;
                let Some(s) = got else { return Ok(None) };
                let selector = s.spec.as_ref().and_then(|s| selector_string(&s.selector));
                (cache::statefulset(&s), selector)
            }
            other => {
                return Err(ConnectorError::Unsupported(format!(
                    "a Kubernetes endpoint has no {}s",
                    other.label()
                )));
            }
        };
        let pods = cw.read_pods(ns, w, selector.as_deref()).await;
        let autoscaler = hpas
            .into_iter()
            .flatten()
            .filter(|h| h.target_kind == kind_name(w.kind) && h.target_name == w.name)
            .min_by(|a, b| a.autoscaler.name.cmp(&b.autoscaler.name))
            .map(|h| h.autoscaler.clone());
        let mut out = row(
            &self.config.name,
            &cw.context,
            w.kind,
            ns,
            &w.name,
            &obj,
            &pods,
            autoscaler,
        );
        if let Some(p) = cw.cached_permissions(ns).await {
            p.apply(&mut out);
        }
        Ok(Some(out))
    }
}

impl ContextWatch {
    /// The workload's pods by its label selector, folded as the poll folds them. Pods only add
    /// the reason a rollout is stuck: a pod list that fails (RBAC often forbids it) leaves the
    /// reason out instead of failing the read.
    async fn read_pods(&self, ns: &str, w: &WorkloadRef, selector: Option<&str>) -> PodTotals {
        let Some(selector) = selector else {
            return PodTotals::default();
        };
        let listed = Api::<Pod>::namespaced(self.client.clone(), ns)
            .list(&ListParams::default().labels(selector))
            .await;
        let pods = match listed {
            Ok(list) => list.items,
            Err(e) => {
                log::info!(
                    "fresh read of the pods of {w}: {}; the reason a rollout is stuck is left out",
                    words::kube_words(&e)
                );
                return PodTotals::default();
            }
        };
        let projected: Vec<(cache::Key, cache::PodObj)> = pods
            .iter()
            .map(|p| (cache::key(ns, &p.name_any()), cache::pod(p)))
            .collect();
        // Selectors of two workloads may overlap: only this Deployment's ReplicaSets
        // (`{deployment}-{pod-template-hash}`, or the name prefix for a pod without that label)
        // count; StatefulSet pods name their owner.
        let mut rs_owner: cache::FastMap<(&str, &str), &str> = cache::FastMap::default();
        if w.kind == WorkloadKind::Deployment {
            let prefix = format!("{}-", w.name);
            for p in &pods {
                let Some(rs) =
                    cache::controller_ref(&p.metadata).filter(|o| o.kind == "ReplicaSet")
                else {
                    continue;
                };
                let hash = p.labels().get("pod-template-hash");
                let ours = match hash {
                    Some(hash) => rs.name.strip_prefix(&prefix) == Some(hash.as_str()),
                    None => rs.name.starts_with(&prefix),
                };
                if ours {
                    rs_owner.insert((ns, rs.name.as_str()), w.name.as_str());
                }
            }
        }
        let metrics = self.metrics.lock().await;
        let totals = pods::fold(
            projected.iter().map(|(k, v)| (k, v)),
            &rs_owner,
            &metrics.usage,
        );
        totals
            .get(&(ns, w.kind, w.name.as_str()))
            .cloned()
            .unwrap_or_default()
    }
}

/// A label selector as the `labelSelector` query parameter writes it; `None` for an empty one
/// (it would select every pod of the namespace).
pub(super) fn selector_string(s: &LabelSelector) -> Option<String> {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => {
                log::warn!("unknown label selector operator {other}");
                return None;
            }
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}
