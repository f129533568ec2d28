//! Does a proposed scale up fit, and when it does not, how many nodes of the cluster's usual
//! size it would take and what they cost per month. One answer for the advisor's proposals, the
//! Cost panel's what-if and the CLI, from the workload's capacity view (the scale plans' own
//! checks, see [`crate::capacity::scale_fit`]) and the cost model's node price.

use crate::capacity::{NodesNeeded, scale_fit};
use crate::cost::{CostModel, money};
use crate::model::capacity::CapacityView;
use crate::model::snapshot::WorkloadRef;
use std::collections::HashMap;

/// Capacity views by workload endpoint id.
pub type CapacityIndex<'a> = HashMap<&'a str, &'a CapacityView>;

/// The capacity views in a set of snapshots, by endpoint id.
pub fn index_capacity<'a>(
    snapshots: impl IntoIterator<Item = (&'a str, &'a crate::model::snapshot::Snapshot)>,
) -> CapacityIndex<'a> {
    snapshots
        .into_iter()
        .filter_map(|(endpoint, s)| match s {
            crate::model::snapshot::Snapshot::Workloads(list) => {
                list.capacity.as_deref().map(|c| (endpoint, c))
            }
            _ => None,
        })
        .collect()
}

/// The fit of one proposed replica count, said for people and kept as figures for JSON.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FitAdvice {
    /// `Some(true)` fits, `Some(false)` does not, `None` not checked (see `fit`).
    pub fits: Option<bool>,
    /// "fits (5 of 5 new replicas)", "only 4 of 10 new replicas fit", "fit not checked: …".
    pub fit: String,
    /// The fit check's full verdict (placement and reasons), when it ran.
    pub verdict: Option<String>,
    /// How many more nodes would make it fit; `None` when no count helps or it is unknown.
    pub nodes_needed: Option<u64>,
    /// "3.9 CPU / 14.9 GiB (m5.xlarge)".
    pub node_size: Option<String>,
    /// The cluster the nodes would join (its node price applies).
    pub cluster: Option<String>,
    /// What the nodes cost per month, minor units of `currency`.
    pub nodes_cost_minor: Option<i64>,
    pub currency: Option<String>,
    /// "needs 2 more nodes of 3.9 CPU / 14.9 GiB (m5.xlarge)", or why no count is given;
    /// empty when it fits.
    pub nodes: String,
}

impl FitAdvice {
    fn not_checked(why: &str) -> Self {
        Self {
            fits: None,
            fit: format!("fit not checked: {why}"),
            verdict: None,
            nodes_needed: None,
            node_size: None,
            cluster: None,
            nodes_cost_minor: None,
            currency: None,
            nodes: String::new(),
        }
    }

    /// One clause for a proposal line: "fits", or "only 4 of 10 new replicas fit — needs 2
    /// more nodes of 4 CPU / 16.0 GiB: +$280.32/month".
    pub fn words(&self) -> String {
        if self.nodes.is_empty() {
            return self.fit.clone();
        }
        let mut s = format!("{} — {}", self.fit, self.nodes);
        if let (Some(minor), Some(currency)) = (self.nodes_cost_minor, &self.currency) {
            s.push_str(&format!(
                ": {}/month",
                money::format_delta_minor(minor, currency)
            ));
        }
        s
    }

    /// Prices the nodes needed with `model`'s node price for the cluster (the check itself
    /// does not depend on prices, so a cached fit is priced again after a price edit).
    pub fn price(&mut self, model: &CostModel) {
        self.currency = Some(model.currency.clone());
        self.nodes_cost_minor = match (self.nodes_needed, &self.cluster) {
            (Some(n), Some(cluster)) if n > 0 => Some(model.nodes_monthly_minor(cluster, n)),
            _ => None,
        };
    }
}

/// The fit of setting `id` from `current` to `replicas` replicas: `None` when it is not a
/// scale up. `model` prices the nodes needed (without it only their count is said).
pub fn fit_advice(
    capacity: Option<&CapacityView>,
    id: &WorkloadRef,
    current: u32,
    replicas: u32,
    model: Option<&CostModel>,
) -> Option<FitAdvice> {
    if replicas <= current {
        return None;
    }
    let Some(view) = capacity else {
        return Some(FitAdvice::not_checked("no capacity data for its endpoint"));
    };
    let fit = match scale_fit(view, id, current, replicas) {
        Ok(Some(fit)) => fit,
        Ok(None) => return None,
        Err(why) => return Some(FitAdvice::not_checked(&why)),
    };
    let mut advice = FitAdvice {
        fits: Some(fit.fits()),
        fit: fit.short(),
        verdict: Some(fit.verdict.clone()),
        nodes_needed: None,
        node_size: None,
        cluster: Some(fit.cluster.clone()),
        nodes_cost_minor: None,
        currency: None,
        nodes: String::new(),
    };
    if fit.quota.is_some() {
        // The API server rejects the pods before any node is looked at.
        advice.nodes = "more nodes would not help".into();
        return Some(advice);
    }
    match &fit.nodes {
        NodesNeeded::None => {}
        NodesNeeded::More { nodes, size, .. } => {
            advice.nodes_needed = Some(*nodes);
            advice.node_size = Some(size.words());
            advice.nodes = fit.nodes.words();
        }
        NodesNeeded::NeverOnSize { size, .. } => {
            advice.node_size = Some(size.words());
            advice.nodes = fit.nodes.words();
        }
        NodesNeeded::Unknown(_) => advice.nodes = fit.nodes.words(),
    }
    if let Some(m) = model {
        advice.price(m);
    }
    Some(advice)
}
