//! What the UI knows about the fleet: per endpoint its info, connection status, last error and
//! latest snapshot (kept visible, with its age, while the endpoint is stale).

use crate::actions::FleetView;
use crate::engine::{Area, ConnStatus, EndpointInfo};
use crate::health::{EndpointHealth, HealthState, Reachability, assess_endpoint};
use crate::model::snapshot::{
    CacheNode, DatabaseSnapshot, HealthCheck, PromSnapshot, Queue, Snapshot, TimeMs, Workload,
    WorkloadRef,
};
use crate::profiles::Thresholds;

#[derive(Clone, Debug)]
pub struct EndpointState {
    pub info: EndpointInfo,
    pub status: ConnStatus,
    pub last_error: Option<String>,
    pub updated_at: Option<TimeMs>,
    pub snapshot: Option<Snapshot>,
    /// ok / degraded / stale / down with reasons, recomputed when the status or the snapshot
    /// changes (never per frame): what the status bar, tiles and tables show.
    pub health: EndpointHealth,
}

impl EndpointState {
    pub fn refresh_health(&mut self, limits: &Thresholds) {
        let reach = match self.status {
            ConnStatus::Connecting => Reachability::Connecting,
            ConnStatus::Ok => Reachability::Answering,
            ConnStatus::Stale => Reachability::Stale,
            ConnStatus::Down => Reachability::Down,
        };
        self.health = assess_endpoint(
            reach,
            self.last_error.as_deref(),
            self.snapshot.as_ref(),
            limits,
        );
    }
}

#[derive(Default)]
pub struct FleetState {
    pub endpoints: Vec<EndpointState>,
    /// Targets other consoles are changing now, by lock identity (team mode; else empty).
    pub in_progress: std::collections::HashMap<String, String>,
    /// Linked nginx upstreams next to their workloads' replicas (`[[profile.nginx]]`).
    pub load_balancers: Vec<crate::connectors::nginx::status::LinkReport>,
    /// Counts replacements of any endpoint's snapshot (and resets): what a view derived at
    /// some cost from the snapshots (the Workloads table's order) is kept for. Whoever puts a
    /// snapshot in place or changes one bumps it.
    pub generation: u64,
}

impl FleetState {
    pub fn reset(&mut self, infos: Vec<EndpointInfo>) {
        self.generation += 1;
        self.load_balancers.clear();
        self.endpoints = infos
            .into_iter()
            .map(|info| EndpointState {
                info,
                status: ConnStatus::Connecting,
                last_error: None,
                updated_at: None,
                snapshot: None,
                health: EndpointHealth {
                    state: HealthState::Connecting,
                    reasons: vec!["not polled yet".into()],
                    members: Vec::new(),
                    critical: false,
                },
            })
            .collect();
    }

    pub fn endpoint_mut(&mut self, id: &str) -> Option<&mut EndpointState> {
        self.endpoints.iter_mut().find(|e| e.info.id == id)
    }

    pub fn in_area(&self, area: Area) -> impl Iterator<Item = &EndpointState> {
        self.endpoints.iter().filter(move |e| e.info.area == area)
    }

    /// The worst health among an area's endpoints and the first reason of that endpoint, for
    /// overview tiles.
    pub fn area_health(&self, area: Area) -> Option<(HealthState, Option<&str>)> {
        self.in_area(area)
            .max_by_key(|e| e.health.state)
            .map(|e| (e.health.state, e.health.reasons.first().map(String::as_str)))
    }

    /// Recompute every endpoint's health (the profile's thresholds changed).
    pub fn refresh_health(&mut self, limits: &Thresholds) {
        for e in &mut self.endpoints {
            e.refresh_health(limits);
        }
    }

    pub fn workloads(&self) -> impl Iterator<Item = &Workload> {
        self.endpoints.iter().flat_map(|e| match &e.snapshot {
            Some(Snapshot::Workloads(list)) => list.as_slice(),
            _ => &[],
        })
    }

    pub fn databases(&self) -> impl Iterator<Item = (&EndpointState, &DatabaseSnapshot)> {
        self.endpoints.iter().filter_map(|e| match &e.snapshot {
            Some(Snapshot::Databases(db)) => Some((e, db)),
            _ => None,
        })
    }

    pub fn mysql_clusters(
        &self,
    ) -> impl Iterator<Item = (&EndpointState, &crate::model::mysql::MysqlSnapshot)> {
        self.endpoints.iter().filter_map(|e| match &e.snapshot {
            Some(Snapshot::Mysql(db)) => Some((e, db)),
            _ => None,
        })
    }

    pub fn cache_nodes(&self) -> impl Iterator<Item = (&EndpointState, &CacheNode)> {
        self.endpoints.iter().flat_map(|e| {
            let list = match &e.snapshot {
                Some(Snapshot::Cache(list)) => list.as_slice(),
                _ => &[],
            };
            list.iter().map(move |n| (e, n))
        })
    }

    pub fn queues(&self) -> impl Iterator<Item = (&EndpointState, &Queue)> {
        self.endpoints.iter().flat_map(|e| {
            let list = match &e.snapshot {
                Some(Snapshot::Queues(list)) => list.as_slice(),
                _ => &[],
            };
            list.iter().map(move |q| (e, q))
        })
    }

    pub fn health_checks(&self) -> impl Iterator<Item = (&EndpointState, &HealthCheck)> {
        self.endpoints.iter().flat_map(|e| {
            let list = match &e.snapshot {
                Some(Snapshot::Health(list)) => list.as_slice(),
                _ => &[],
            };
            list.iter().map(move |h| (e, h))
        })
    }

    pub fn prometheus(&self) -> impl Iterator<Item = (&EndpointState, &PromSnapshot)> {
        self.endpoints.iter().filter_map(|e| match &e.snapshot {
            Some(Snapshot::Prometheus(p)) => Some((e, p)),
            _ => None,
        })
    }

    pub fn patroni_snapshots(
        &self,
    ) -> impl Iterator<Item = (&EndpointState, &crate::model::patroni::PatroniSnapshot)> {
        self.endpoints.iter().filter_map(|e| match &e.snapshot {
            Some(Snapshot::Patroni(p)) => Some((e, p.as_ref())),
            _ => None,
        })
    }

    pub fn is_demo(&self) -> bool {
        self.endpoints.iter().any(|e| e.info.demo)
    }

    /// Time of the most recent successful poll of any endpoint.
    pub fn last_update(&self) -> Option<TimeMs> {
        self.endpoints.iter().filter_map(|e| e.updated_at).max()
    }
}

impl FleetView for FleetState {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.workloads().find(|w| &w.id == id)
    }

    fn in_progress(&self, action: &crate::actions::Action) -> Option<String> {
        self.in_progress.get(&action.lock_identity()).cloned()
    }

    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        self.databases()
            .find(|(e, _)| e.info.id == endpoint)
            .map(|(_, db)| db)
    }

    fn mysql(&self, endpoint: &str) -> Option<&crate::model::mysql::MysqlSnapshot> {
        self.mysql_clusters()
            .find(|(e, _)| e.info.id == endpoint)
            .map(|(_, db)| db)
    }

    fn patroni(&self, endpoint: &str) -> Option<&crate::model::patroni::PatroniSnapshot> {
        self.patroni_snapshots()
            .find(|(e, _)| e.info.id == endpoint)
            .map(|(_, p)| p)
    }

    fn capacity(&self, endpoint: &str) -> Option<&crate::model::capacity::CapacityView> {
        self.endpoints
            .iter()
            .find(|e| e.info.id == endpoint)
            .and_then(|e| match &e.snapshot {
                Some(Snapshot::Workloads(list)) => list.capacity.as_deref(),
                _ => None,
            })
    }

    fn patroni_clusters(&self) -> Vec<(&str, &crate::model::patroni::PatroniSnapshot)> {
        self.patroni_snapshots()
            .map(|(e, p)| (e.info.id.as_str(), p))
            .collect()
    }
}
