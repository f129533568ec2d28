//! HorizontalPodAutoscalers: the projection shown in rows and plans (CPU target plus every other
//! metric and the scaling behavior in words), and the edit that changes only the CPU target.
//!
//! A JSON merge patch replaces a list whole, so an edit that sent only the CPU metric dropped
//! every other one (memory, pods, external metrics). The edit is built from the HPA as the
//! server returned it, as raw JSON: every other entry is sent back exactly as read, including
//! fields newer than the API version this crate is built against.

use super::count;
use crate::model::snapshot::Autoscaler;
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, MetricSpec,
    MetricTarget,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use serde_json::{Value, json};

/// The HPA controller's CPU target when the spec names no metric at all.
const DEFAULT_CPU: i32 = 80;

/// The workload row's view of an HPA.
pub(super) fn autoscaler(h: &HorizontalPodAutoscaler) -> Autoscaler {
    let spec = h.spec.clone().unwrap_or_default();
    let metrics = spec.metrics.as_deref().unwrap_or_default();
    let cpu_index = metrics.iter().position(is_cpu_utilization);
    let target_cpu = cpu_index
        .and_then(|i| metrics[i].resource.as_ref())
        .and_then(|r| r.target.average_utilization)
        .unwrap_or(DEFAULT_CPU);
    let mut words: Vec<String> = metrics
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != cpu_index)
        .map(|(_, m)| metric_words(m))
        .collect();
    if let Some(behavior) = spec.behavior.as_ref().and_then(behavior_words) {
        words.push(behavior);
    }
    let status = h.status.as_ref();
    let current = status
        .and_then(|s| s.current_metrics.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.current.average_utilization);
    Autoscaler {
        name: h.name_any(),
        min_replicas: count(spec.min_replicas.unwrap_or(1)),
        max_replicas: count(spec.max_replicas),
        target_cpu_percent: count(target_cpu),
        current_cpu_percent: current.map(f64::from),
        last_scale_at: status
            .and_then(|s| s.last_scale_time.as_ref())
            .map(|t| t.0.as_millisecond()),
        metrics: words,
    }
}

/// The spec part of an autoscaler (what a plan rests on), without its live status.
pub(super) fn same_spec(a: &Autoscaler, b: &Autoscaler) -> bool {
    (
        &a.name,
        a.min_replicas,
        a.max_replicas,
        a.target_cpu_percent,
        &a.metrics,
    ) == (
        &b.name,
        b.min_replicas,
        b.max_replicas,
        b.target_cpu_percent,
        &b.metrics,
    )
}

fn is_cpu_utilization(m: &MetricSpec) -> bool {
    m.type_ == "Resource"
        && m.resource.as_ref().is_some_and(|r| {
            r.name == "cpu"
                && r.target.type_ == "Utilization"
                && r.target.average_utilization.is_some()
        })
}

/// One metric in words: "memory 80 % of requests", "memory 500Mi average", "pods metric
/// requests_per_second 100", "external metric queue_depth{queue=jobs} 30 average".
pub(super) fn metric_words(m: &MetricSpec) -> String {
    if let Some(r) = &m.resource {
        return format!("{} {}", r.name, target_words(&r.target));
    }
    if let Some(r) = &m.container_resource {
        return format!(
            "{} of container {} {}",
            r.name,
            r.container,
            target_words(&r.target)
        );
    }
    if let Some(p) = &m.pods {
        return format!(
            "pods metric {}{} {}",
            p.metric.name,
            selector_words(p.metric.selector.as_ref()),
            value_words(&p.target)
        );
    }
    if let Some(o) = &m.object {
        return format!(
            "object metric {}{} of {} {} {}",
            o.metric.name,
            selector_words(o.metric.selector.as_ref()),
            o.described_object.kind,
            o.described_object.name,
            target_words(&o.target)
        );
    }
    if let Some(e) = &m.external {
        return format!(
            "external metric {}{} {}",
            e.metric.name,
            selector_words(e.metric.selector.as_ref()),
            target_words(&e.target)
        );
    }
    format!("{} metric", m.type_)
}

fn target_words(t: &MetricTarget) -> String {
    match (t.average_utilization, &t.average_value, &t.value) {
        (Some(u), _, _) => format!("{u} % of requests"),
        (None, Some(v), _) => format!("{} average", v.0),
        (None, None, Some(v)) => v.0.clone(),
        (None, None, None) => format!("({} target without a value)", t.type_),
    }
}

/// A pods metric is always a per-pod average: its value alone.
fn value_words(t: &MetricTarget) -> String {
    match (&t.average_value, &t.value) {
        (Some(v), _) | (None, Some(v)) => v.0.clone(),
        (None, None) => target_words(t),
    }
}

fn selector_words(selector: Option<&LabelSelector>) -> String {
    let Some(s) = selector else {
        return String::new();
    };
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        parts.push(format!("{} {} ({values})", e.key, e.operator));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(", "))
    }
}

/// "behavior: scaleUp stabilization 0 s, at most 4 pods per 15 s or 100 % per 15 s (the
/// larger); scaleDown stabilization 300 s, at most 100 % per 15 s".
pub(super) fn behavior_words(b: &HorizontalPodAutoscalerBehavior) -> Option<String> {
    let parts: Vec<String> = [("scaleUp", &b.scale_up), ("scaleDown", &b.scale_down)]
        .into_iter()
        .filter_map(|(dir, rules)| rules.as_ref().map(|r| rules_words(dir, r)))
        .collect();
    (!parts.is_empty()).then(|| format!("behavior: {}", parts.join("; ")))
}

fn rules_words(dir: &str, r: &HPAScalingRules) -> String {
    if r.select_policy.as_deref() == Some("Disabled") {
        return format!("{dir} disabled");
    }
    let mut items = Vec::new();
    if let Some(s) = r.stabilization_window_seconds {
        items.push(format!("stabilization {s} s"));
    }
    let policies: Vec<String> = r
        .policies
        .iter()
        .flatten()
        .map(|p| match p.type_.as_str() {
            "Pods" => format!(
                "{} pod{} per {} s",
                p.value,
                if p.value == 1 { "" } else { "s" },
                p.period_seconds
            ),
            "Percent" => format!("{} % per {} s", p.value, p.period_seconds),
            other => format!("{} {other} per {} s", p.value, p.period_seconds),
        })
        .collect();
    if !policies.is_empty() {
        let mut text = format!("at most {}", policies.join(" or "));
        if policies.len() > 1 {
            text.push_str(match r.select_policy.as_deref() {
                Some("Min") => " (the smaller)",
                _ => " (the larger)",
            });
        }
        items.push(text);
    }
    if let Some(t) = &r.tolerance {
        items.push(format!("tolerance {}", t.0));
    }
    if items.is_empty() {
        format!("{dir} defaults")
    } else {
        format!("{dir} {}", items.join(", "))
    }
}

/// The metrics list after an edit of the CPU target: every entry of the HPA as read is kept
/// exactly (raw JSON), only the CPU Resource Utilization entry is replaced, or added when the
/// HPA had none.
pub(super) fn edited_metrics(current: Option<&Value>, cpu: i32) -> Vec<Value> {
    let cpu_entry = json!({
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": { "type": "Utilization", "averageUtilization": cpu },
        },
    });
    let mut out = Vec::new();
    let mut replaced = false;
    for m in current.and_then(Value::as_array).into_iter().flatten() {
        let typed = serde_json::from_value::<MetricSpec>(m.clone()).ok();
        if !replaced && typed.as_ref().is_some_and(is_cpu_utilization) {
            out.push(cpu_entry.clone());
            replaced = true;
        } else {
            out.push(m.clone());
        }
    }
    if !replaced {
        out.push(cpu_entry);
    }
    out
}

/// An edit of an existing HPA: the spec fields to send (only those whose value changes) and,
/// in words, what changes and what stays.
pub(super) struct Edit {
    pub spec: serde_json::Map<String, Value>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Metrics besides the CPU target, and the behavior, in words: never sent unless the list
    /// must be, and then as read.
    pub others: Vec<String>,
}

impl Edit {
    pub fn new(
        seen: &Autoscaler,
        (min, max, cpu): (u32, u32, u32),
        metrics: Option<&Value>,
    ) -> Self {
        let mut edit = Self {
            spec: serde_json::Map::new(),
            changed: Vec::new(),
            unchanged: Vec::new(),
            others: seen.metrics.clone(),
        };
        for (field, label, was, now) in [
            ("minReplicas", "min", seen.min_replicas, min),
            ("maxReplicas", "max", seen.max_replicas, max),
        ] {
            if was == now {
                edit.unchanged.push(format!("{label} {now}"));
            } else {
                edit.spec.insert(field.into(), now.into());
                edit.changed.push(format!("{label} {was} -> {now}"));
            }
        }
        if seen.target_cpu_percent == cpu {
            edit.unchanged.push(format!("CPU target {cpu} %"));
        } else {
            let list = edited_metrics(metrics, super::signed(cpu));
            edit.spec.insert("metrics".into(), Value::Array(list));
            edit.changed.push(format!(
                "CPU target {} % -> {cpu} %",
                seen.target_cpu_percent
            ));
        }
        edit
    }

    /// "min 2 -> 3, max 10 -> 12; unchanged: CPU target 70 %; kept as they were: memory 80 %
    /// of requests".
    pub fn words(&self) -> String {
        let mut text = self.changed.join(", ");
        if !self.unchanged.is_empty() {
            text.push_str(&format!("; unchanged: {}", self.unchanged.join(", ")));
        }
        if !self.others.is_empty() {
            text.push_str(&format!("; kept as they were: {}", self.others.join("; ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(spec: &Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": { "name": "web", "namespace": "shop" },
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn every_metric_and_the_behavior_are_said_in_words() {
        let h = hpa(&json!({
            "scaleTargetRef": { "kind": "Deployment", "name": "web", "apiVersion": "apps/v1" },
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                { "type": "Resource", "resource": { "name": "memory",
                    "target": { "type": "Utilization", "averageUtilization": 80 } } },
                { "type": "Resource", "resource": { "name": "cpu",
                    "target": { "type": "Utilization", "averageUtilization": 60 } } },
                { "type": "Resource", "resource": { "name": "memory",
                    "target": { "type": "AverageValue", "averageValue": "500Mi" } } },
                { "type": "Pods", "pods": { "metric": { "name": "X" },
                    "target": { "type": "AverageValue", "averageValue": "100" } } },
                { "type": "External", "external": {
                    "metric": { "name": "queue_depth", "selector": { "matchLabels": { "queue": "jobs" } } },
                    "target": { "type": "AverageValue", "averageValue": "30" } } },
            ],
            "behavior": {
                "scaleDown": { "stabilizationWindowSeconds": 300,
                    "policies": [{ "type": "Pods", "value": 1, "periodSeconds": 60 }] },
                "scaleUp": { "stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{ "type": "Pods", "value": 4, "periodSeconds": 15 },
                                 { "type": "Percent", "value": 100, "periodSeconds": 15 }] },
            },
        }));
        let a = autoscaler(&h);
        assert_eq!(a.target_cpu_percent, 60);
        assert_eq!(
            a.metrics,
            [
                "memory 80 % of requests",
                "memory 500Mi average",
                "pods metric X 100",
                "external metric queue_depth{queue=jobs} 30 average",
                "behavior: scaleUp stabilization 0 s, at most 4 pods per 15 s or 100 % per 15 s \
                 (the larger); scaleDown stabilization 300 s, at most 1 pod per 60 s",
            ]
        );
    }

    #[test]
    fn an_edit_sends_only_the_fields_whose_value_changes() {
        let seen = Autoscaler {
            name: "web".into(),
            min_replicas: 2,
            max_replicas: 10,
            target_cpu_percent: 60,
            current_cpu_percent: None,
            last_scale_at: None,
            metrics: vec!["memory 80 % of requests".into()],
        };
        let list = json!([{ "type": "Resource", "resource": { "name": "cpu",
            "target": { "type": "Utilization", "averageUtilization": 60 } } }]);
        let edit = Edit::new(&seen, (2, 15, 60), Some(&list));
        assert_eq!(
            Value::Object(edit.spec.clone()),
            json!({ "maxReplicas": 15 })
        );
        assert_eq!(
            edit.words(),
            "max 10 -> 15; unchanged: min 2, CPU target 60 %; kept as they were: memory 80 % of requests"
        );
        let edit = Edit::new(&seen, (2, 10, 70), Some(&list));
        assert_eq!(edit.spec.keys().collect::<Vec<_>>(), ["metrics"]);
        assert!(Edit::new(&seen, (2, 10, 60), Some(&list)).spec.is_empty());
    }

    #[test]
    fn the_edit_replaces_only_the_cpu_utilization_entry() {
        let memory = json!({ "type": "Resource", "resource": { "name": "memory",
            "target": { "type": "Utilization", "averageUtilization": 80 } },
            "someFutureField": true });
        let cpu = json!({ "type": "Resource", "resource": { "name": "cpu",
            "target": { "type": "Utilization", "averageUtilization": 60 } } });
        let list = json!([memory, cpu]);
        let edited = edited_metrics(Some(&list), 75);
        assert_eq!(edited.len(), 2);
        assert_eq!(edited[0], memory, "kept byte for byte, unknown fields too");
        assert_eq!(edited[1]["resource"]["target"]["averageUtilization"], 75);
        // No CPU entry: added after the others; no list at all: CPU alone.
        let only_memory = json!([memory]);
        let edited = edited_metrics(Some(&only_memory), 50);
        assert_eq!(edited.len(), 2);
        assert_eq!(edited[1]["resource"]["name"], "cpu");
        assert_eq!(edited_metrics(None, 50).len(), 1);
    }
}
