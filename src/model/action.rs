//! The changes Scaleboard can make to a system. Every one of them goes through the pipeline in
//! the action pipeline (`crate::actions`): plan -> confirm -> grace period -> execute -> verify -> audit.

use crate::model::snapshot::WorkloadRef;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActionId(pub u64);

impl std::fmt::Display for ActionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Set the replica count of a Deployment, StatefulSet or Compose service.
    ScaleWorkload {
        workload: WorkloadRef,
        replicas: u32,
    },
    /// Create or change the autoscaler of a workload (`kubectl autoscale`).
    SetAutoscaler {
        workload: WorkloadRef,
        min_replicas: u32,
        max_replicas: u32,
        target_cpu_percent: u32,
    },
    /// Scale several services of one Compose project in one `up` (one multi-`--scale` line).
    ScaleComposeServices {
        endpoint: String,
        project: String,
        /// (service, replicas), in the order typed.
        services: Vec<(String, u32)>,
    },
    /// Scale several Deployments/StatefulSets of one endpoint (a selection, or a whole
    /// namespace) to the given counts; the audit record lists each one's before and after.
    ScaleWorkloads {
        endpoint: String,
        /// (workload, replicas), in the order shown to the operator.
        targets: Vec<(WorkloadRef, u32)>,
    },
    /// Remove the autoscaler of a workload (`kubectl delete hpa`); its replica count stays.
    DeleteAutoscaler { workload: WorkloadRef },
    /// Promote a streaming replica to primary.
    PromoteReplica {
        endpoint: String,
        cluster: String,
        replica: String,
    },
    /// Promote a MySQL/MariaDB replica: stop its replica threads, clear its replica
    /// configuration, turn off read-only.
    PromoteMysqlReplica {
        endpoint: String,
        cluster: String,
        replica: String,
    },
    /// Patroni switchover: the healthy leader hands the leader lock to `candidate` (or to the
    /// member Patroni picks), now or at `scheduled_at` (ISO 8601).
    PatroniSwitchover {
        endpoint: String,
        cluster: String,
        leader: String,
        candidate: Option<String>,
        scheduled_at: Option<String>,
    },
    /// Patroni failover: no healthy leader; `candidate` takes the leader lock.
    PatroniFailover {
        endpoint: String,
        cluster: String,
        candidate: String,
    },
    /// Cancel a scheduled Patroni switchover (`DELETE /switchover`).
    PatroniCancelSwitchover { endpoint: String, cluster: String },
}

impl Action {
    /// The engine endpoint that carries the action out.
    pub fn endpoint(&self) -> &str {
        match self {
            Self::ScaleWorkload { workload, .. }
            | Self::SetAutoscaler { workload, .. }
            | Self::DeleteAutoscaler { workload } => &workload.endpoint,
            Self::PromoteReplica { endpoint, .. }
            | Self::PromoteMysqlReplica { endpoint, .. }
            | Self::PatroniSwitchover { endpoint, .. }
            | Self::PatroniFailover { endpoint, .. }
            | Self::PatroniCancelSwitchover { endpoint, .. }
            | Self::ScaleComposeServices { endpoint, .. }
            | Self::ScaleWorkloads { endpoint, .. } => endpoint,
        }
    }

    /// What a team-mode change lock is taken on, so two consoles acting on the same target meet
    /// on the same lock: one workload (its path names the endpoint), or for everything else
    /// (promotions, switchovers, bulk scales of a project) the whole endpoint — coarser, but
    /// two such actions never overlap.
    pub fn lock_identity(&self) -> String {
        match self {
            Self::ScaleWorkload { .. }
            | Self::SetAutoscaler { .. }
            | Self::DeleteAutoscaler { .. } => self.target_path(),
            _ => format!("{}/*", self.endpoint()),
        }
    }

    /// Short verb for lists and the audit record.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ScaleWorkload { .. }
            | Self::ScaleComposeServices { .. }
            | Self::ScaleWorkloads { .. } => "scale",
            Self::SetAutoscaler { .. } => "autoscale",
            Self::DeleteAutoscaler { .. } => "delete-autoscaler",
            Self::PromoteReplica { .. } | Self::PromoteMysqlReplica { .. } => "promote",
            Self::PatroniSwitchover { .. } => "switchover",
            Self::PatroniFailover { .. } => "failover",
            Self::PatroniCancelSwitchover { .. } => "cancel-switchover",
        }
    }

    /// What the operator types to confirm a dangerous action.
    pub fn target_name(&self) -> String {
        match self {
            Self::ScaleWorkload { workload, .. }
            | Self::SetAutoscaler { workload, .. }
            | Self::DeleteAutoscaler { workload } => workload.name.clone(),
            Self::PromoteReplica { replica, .. } | Self::PromoteMysqlReplica { replica, .. } => {
                replica.clone()
            }
            // The member that becomes leader is what a wrong choice costs; else the cluster.
            Self::PatroniSwitchover {
                candidate: Some(c), ..
            }
            | Self::PatroniFailover { candidate: c, .. } => c.clone(),
            Self::PatroniSwitchover { cluster, .. }
            | Self::PatroniCancelSwitchover { cluster, .. } => cluster.clone(),
            Self::ScaleComposeServices { project, .. } => project.clone(),
            Self::ScaleWorkloads { targets, .. } => bulk_confirm_name(targets),
        }
    }

    /// Full target path for the audit record.
    pub fn target_path(&self) -> String {
        match self {
            Self::ScaleWorkload { workload, .. }
            | Self::SetAutoscaler { workload, .. }
            | Self::DeleteAutoscaler { workload } => workload.target(),
            Self::PromoteReplica {
                endpoint,
                cluster,
                replica,
            }
            | Self::PromoteMysqlReplica {
                endpoint,
                cluster,
                replica,
            } => format!("{endpoint}/{cluster}/{replica}"),
            Self::PatroniSwitchover {
                endpoint,
                cluster,
                leader,
                candidate,
                ..
            } => format!(
                "{endpoint}/{cluster}/{leader}->{}",
                candidate.as_deref().unwrap_or("(Patroni's choice)")
            ),
            Self::PatroniFailover {
                endpoint,
                cluster,
                candidate,
            } => format!("{endpoint}/{cluster}/{candidate}"),
            Self::PatroniCancelSwitchover { endpoint, cluster } => {
                format!("{endpoint}/{cluster}")
            }
            Self::ScaleComposeServices {
                endpoint,
                project,
                services,
            } => {
                let names: Vec<&str> = services.iter().map(|(s, _)| s.as_str()).collect();
                format!("{endpoint}/{project}/{{{}}}", names.join(","))
            }
            Self::ScaleWorkloads { endpoint, targets } => {
                let names: Vec<String> = targets
                    .iter()
                    .map(|(w, _)| format!("{}/{}", w.scope, w.name))
                    .collect();
                format!("{endpoint}/{{{}}}", names.join(","))
            }
        }
    }
}

/// What the operator types to confirm a bulk scale: the namespace when every target is in one
/// (the usual "scale this namespace to zero"), else "N workloads", so the count is read.
fn bulk_confirm_name(targets: &[(WorkloadRef, u32)]) -> String {
    let mut scopes = targets.iter().map(|(w, _)| w.scope.as_str());
    match scopes.next() {
        Some(first) if scopes.all(|s| s == first) => first
            .rsplit_once('/')
            .map_or(first, |(_, ns)| ns)
            .to_string(),
        _ => format!("{} workloads", targets.len()),
    }
}
