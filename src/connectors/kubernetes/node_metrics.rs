//! Node usage from metrics-server: `GET /apis/metrics.k8s.io/v1beta1/nodes` (a
//! `NodeMetricsList`; k8s-openapi has no type for the aggregated metrics API, so the few
//! fields read are a small serde struct). Read on the poll while it answers; when the API
//! server does not serve it (404: metrics-server not installed) or its backend is down (503),
//! the context says so once and asks again after [`super::METRICS_RETRY`], never per poll.

use super::pods::parse_quantity;
use super::{ContextWatch, METRICS_EVERY, METRICS_RETRY, METRICS_TIMEOUT};
use crate::model::capacity::NodeUsage;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, DynamicObject};
use serde::Deserialize;
use std::collections::HashMap;

/// The `usage` of one `NodeMetrics` item: quantities as metrics-server writes them
/// ("1234567n", "2048Ki").
#[derive(Debug, Deserialize)]
struct NodeMetricsUsage {
    cpu: Option<String>,
    memory: Option<String>,
}

/// Why there is no node usage, in the words the Clusters panel and the CLI show.
#[derive(Debug, PartialEq)]
pub(super) enum NodeMetricsError {
    /// 404 or 503: said as the context's usage note, asked again much later.
    NotServed(String),
    /// Anything else (403, a timeout): said as well, asked again on the next poll.
    Other(String),
}

fn resource() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "NodeMetrics".into(),
        plural: "nodes".into(),
    }
}

/// Usage per node name.
pub(super) async fn node_usage(
    client: &Client,
) -> Result<HashMap<String, NodeUsage>, NodeMetricsError> {
    let api = Api::<DynamicObject>::all_with(client.clone(), &resource());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 404 => NodeMetricsError::NotServed(
                "metrics-server not installed (metrics.k8s.io is not served): node usage is \
                 not shown"
                    .into(),
            ),
            kube::Error::Api(s) if s.code == 503 => NodeMetricsError::NotServed(format!(
                "metrics-server unavailable (metrics.k8s.io is registered but answers 503: {}): \
                 node usage is not shown",
                s.message
            )),
            other => NodeMetricsError::Other(format!(
                "node metrics could not be read: {}",
                super::words::kube_words(&other)
            )),
        })?;
    let mut out = HashMap::with_capacity(list.items.len());
    for item in list.items {
        let Some(name) = item.metadata.name.clone() else {
            continue;
        };
        let Ok(usage) = serde_json::from_value::<NodeMetricsUsage>(item.data["usage"].clone())
        else {
            continue;
        };
        let q = |v: &Option<String>| v.as_deref().and_then(parse_quantity);
        let (Some(cpu), Some(memory)) = (q(&usage.cpu), q(&usage.memory)) else {
            continue;
        };
        out.insert(
            name,
            NodeUsage {
                cpu_milli: (cpu * 1000.0).round().max(0.0) as u64,
                memory_bytes: memory.round().max(0.0) as u64,
            },
        );
    }
    Ok(out)
}

impl ContextWatch {
    /// Node usage from metrics-server when due: every poll while it answers; after a 404 or
    /// 503 again only after [`METRICS_RETRY`], the reason kept as the view's note and logged
    /// once per change.
    pub(super) async fn refresh_node_usage(&self) {
        let now = tokio::time::Instant::now();
        let due = self
            .autoscaler_status
            .lock()
            .map(|s| s.usage_next.is_none_or(|next| now >= next))
            .unwrap_or(false);
        if !due {
            return;
        }
        let fetched = tokio::time::timeout(METRICS_TIMEOUT, node_usage(&self.client)).await;
        let Ok(mut s) = self.autoscaler_status.lock() else {
            return;
        };
        let note = match fetched {
            Ok(Ok(usage)) => {
                s.usage = usage;
                s.usage_next = None;
                None
            }
            Ok(Err(NodeMetricsError::NotServed(why))) => {
                s.usage.clear();
                s.usage_next = Some(now + METRICS_RETRY);
                Some(why)
            }
            Ok(Err(NodeMetricsError::Other(why))) => {
                s.usage.clear();
                s.usage_next = Some(now + METRICS_EVERY);
                Some(why)
            }
            // The client retries a 503 with backoff, so a registered metrics-server that is
            // down shows up here; asked again only after METRICS_RETRY so polls do not wait.
            Err(_) => {
                s.usage.clear();
                s.usage_next = Some(now + METRICS_RETRY);
                Some(format!(
                    "metrics-server unavailable (metrics.k8s.io gave no answer within {} s): \
                     node usage is not shown",
                    METRICS_TIMEOUT.as_secs()
                ))
            }
        };
        if note != s.usage_note {
            // Debug only: a missing metrics API is already the pod metrics' notice (one line
            // per context), and the note shows where usage would (the panel, the CLI).
            match &note {
                Some(n) => log::debug!("context {}: {n}", self.context),
                None => log::debug!("context {}: node usage from metrics-server", self.context),
            }
            s.usage_note = note;
        }
    }
}
