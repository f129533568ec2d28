//! Live cost: what the fleet that is running now costs per month, and what-if changes to it.
//!
//! The fleet is described as a [`LiveInventory`] — plain names and counts, counted from the
//! connectors' snapshots by [`LiveInventory::from_snapshots`] for the window and the CLI alike —
//! and [`LivePricing`] turns it into a [`Scenario`] that the rest of the
//! model totals like any other. A what-if is the same inventory with some replica counts changed;
//! nothing here touches a system.

use super::model::{Component, CostLine, Scenario, Unit};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One workload as counted now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveWorkload {
    /// Unique in the inventory: the workload's full identity, e.g.
    /// `k8s: prod/web/deployment/api`.
    pub name: String,
    /// `Deployment`, `StatefulSet`, `Compose service`.
    pub kind: String,
    pub replicas: u32,
}

/// The fleet as counted from the connected profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveInventory {
    /// Where the counts came from, for reports: `demo fleet`, a profile name.
    pub source: String,
    pub workloads: Vec<LiveWorkload>,
    pub database_servers: u32,
    pub cache_nodes: u32,
}

/// [`crate::model::snapshot::WorkloadRef::full`] without the formatter (a fleet of 10,000
/// workloads is counted this way each time the advisor prices a proposal).
fn full_name(id: &crate::model::snapshot::WorkloadRef) -> String {
    let slug = id.kind.slug();
    let mut name =
        String::with_capacity(id.endpoint.len() + id.scope.len() + slug.len() + id.name.len() + 4);
    for part in [
        id.endpoint.as_str(),
        ": ",
        &id.scope,
        "/",
        slug,
        "/",
        &id.name,
    ] {
        name.push_str(part);
    }
    name
}

impl LiveInventory {
    /// Counts from connector snapshots: each workload's desired replicas (what is paid for,
    /// even while pods start), every database server, every cache node.
    pub fn from_snapshots<'a>(
        source: &str,
        snapshots: impl Iterator<Item = &'a crate::model::snapshot::Snapshot>,
    ) -> Self {
        use crate::model::snapshot::Snapshot;
        let mut out = Self {
            source: source.to_owned(),
            ..Self::default()
        };
        for snapshot in snapshots {
            match snapshot {
                Snapshot::Workloads(list) => {
                    out.workloads.extend(list.iter().map(|w| LiveWorkload {
                        name: full_name(&w.id),
                        kind: w.id.kind.label().to_owned(),
                        replicas: w.desired,
                    }));
                }
                Snapshot::Databases(db) => {
                    out.database_servers += u32::try_from(db.servers.len()).unwrap_or(u32::MAX);
                }
                Snapshot::Mysql(db) => {
                    out.database_servers += u32::try_from(db.servers.len()).unwrap_or(u32::MAX);
                }
                Snapshot::Cache(nodes) => {
                    out.cache_nodes += u32::try_from(nodes.len()).unwrap_or(u32::MAX);
                }
                Snapshot::Queues(_)
                | Snapshot::Health(_)
                | Snapshot::Prometheus(_)
                | Snapshot::Pgbouncer(_) => {}
                Snapshot::Patroni(_) => {}
            }
        }
        out
    }

    /// The same inventory with some workloads' replica counts replaced (by workload name).
    pub fn with_replicas(&self, changes: &BTreeMap<String, u32>) -> Self {
        let mut out = self.clone();
        for w in &mut out.workloads {
            if let Some(r) = changes.get(&w.name) {
                w.replicas = *r;
            }
        }
        out
    }
}

/// A price for one running thing (replica, database server, cache node).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivePrice {
    pub price_per_unit: Decimal,
    /// `per_month` (or `per_replica_month`) or `per_instance_hour`.
    pub unit: Unit,
}

impl LivePrice {
    pub fn per_month(price: Decimal) -> Self {
        Self {
            price_per_unit: price,
            unit: Unit::PerReplicaMonth,
        }
    }
}

/// A price for one workload, overriding the default replica price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadPrice {
    pub workload: String,
    pub price: LivePrice,
}

/// A price for one node of a cluster (a Kubernetes context, a Docker engine), overriding the
/// default node price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterNodePrice {
    /// The Kubernetes context or the Docker engine, as the capacity view names it.
    pub cluster: String,
    pub price: LivePrice,
}

/// How the running fleet is priced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivePricing {
    /// Default price of one workload replica.
    pub replica: LivePrice,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_overrides: Vec<WorkloadPrice>,
    pub database_server: LivePrice,
    pub cache_node: LivePrice,
    /// Default price of one more cluster node: what the advisor and the what-if add when a
    /// scale needs nodes. Models saved before it existed read the default.
    #[serde(default = "default_node_price")]
    pub node: LivePrice,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_overrides: Vec<ClusterNodePrice>,
}

/// About an on-demand 4 vCPU / 16 GiB general-purpose VM (m5.xlarge, $0.192 an hour).
fn default_node_price() -> LivePrice {
    LivePrice {
        price_per_unit: Decimal::new(192, 3),
        unit: Unit::PerInstanceHour,
    }
}

impl Default for LivePricing {
    /// An instance-hour price for replicas (about a small cloud VM), flat monthly prices for
    /// database servers and cache nodes. Edit them to match your provider.
    fn default() -> Self {
        Self {
            replica: LivePrice {
                price_per_unit: Decimal::new(416, 4),
                unit: Unit::PerInstanceHour,
            },
            workload_overrides: Vec::new(),
            database_server: LivePrice::per_month(Decimal::from(20)),
            cache_node: LivePrice::per_month(Decimal::from(15)),
            node: default_node_price(),
            node_overrides: Vec::new(),
        }
    }
}

impl LivePricing {
    /// The price of one node of `cluster`: its override, else the default node price.
    pub fn node_price(&self, cluster: &str) -> LivePrice {
        self.node_overrides
            .iter()
            .find(|o| o.cluster == cluster)
            .map_or(self.node, |o| o.price)
    }

    /// `count` more nodes of `cluster` as a cost line (priced like any other line).
    pub fn nodes_line(&self, cluster: &str, count: u64) -> CostLine {
        let price = self.node_price(cluster);
        CostLine {
            component: Component::Servers,
            description: format!("{count} more nodes of {cluster}"),
            quantity: Decimal::from(count),
            price_per_unit: price.price_per_unit,
            unit: price.unit,
        }
    }

    /// One workload's line at `replicas` (described as [`Self::scenario`] describes it).
    pub fn workload_line(&self, name: &str, kind: &str, replicas: u32) -> CostLine {
        let price = self.replica_price(name);
        CostLine {
            component: Component::Servers,
            description: format!("{name} ({kind})"),
            quantity: Decimal::from(replicas),
            price_per_unit: price.price_per_unit,
            unit: price.unit,
        }
    }

    pub(crate) fn replica_price(&self, workload: &str) -> LivePrice {
        self.workload_overrides
            .iter()
            .find(|o| o.workload == workload)
            .map_or(self.replica, |o| o.price)
    }

    /// The inventory as a scenario: one line per workload (quantity = replicas), one for the
    /// database servers and one for the cache nodes (left out when there are none).
    pub fn scenario(&self, inventory: &LiveInventory, name: &str) -> Scenario {
        let mut lines: Vec<CostLine> = inventory
            .workloads
            .iter()
            .map(|w| self.workload_line(&w.name, &w.kind, w.replicas))
            .collect();
        let mut fixed = |count: u32, price: LivePrice, component: Component, what: &str| {
            if count > 0 {
                lines.push(CostLine {
                    component,
                    description: what.to_owned(),
                    quantity: Decimal::from(count),
                    price_per_unit: price.price_per_unit,
                    unit: price.unit,
                });
            }
        };
        fixed(
            inventory.database_servers,
            self.database_server,
            Component::Database,
            "database servers",
        );
        fixed(
            inventory.cache_nodes,
            self.cache_node,
            Component::Cache,
            "cache nodes",
        );
        Scenario {
            name: name.to_owned(),
            mrr_per_month: None,
            notes: format!("counted from {}", inventory.source),
            lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::snapshot::{WorkloadKind, WorkloadRef};

    #[test]
    fn a_workloads_name_is_its_full_form() {
        for kind in [
            WorkloadKind::Deployment,
            WorkloadKind::StatefulSet,
            WorkloadKind::ComposeService,
            WorkloadKind::SwarmService,
        ] {
            let id = WorkloadRef::new("k8s", "prod/shop", kind, "web-7");
            assert_eq!(super::full_name(&id), id.full());
        }
    }
}
