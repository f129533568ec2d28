//! What `scaleboard promote` and `scaleboard switchover|failover` plan on: every database
//! endpoint's first snapshot, collected from the engine, as a [`FleetView`].

use crate::actions::FleetView;
use crate::engine::{Area, ConnStatus, EngineHandle, Event};
use crate::model::mysql::MysqlSnapshot;
use crate::model::patroni::PatroniSnapshot;
use crate::model::snapshot::{DatabaseSnapshot, Snapshot, Workload, WorkloadRef};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct DbView {
    pub snapshots: HashMap<String, Snapshot>,
}

impl FleetView for DbView {
    fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
        None
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Databases(db)) => Some(db),
            _ => None,
        }
    }
    fn mysql(&self, endpoint: &str) -> Option<&MysqlSnapshot> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Mysql(db)) => Some(db),
            _ => None,
        }
    }
    fn patroni(&self, endpoint: &str) -> Option<&PatroniSnapshot> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Patroni(p)) => Some(p),
            _ => None,
        }
    }
    fn patroni_clusters(&self) -> Vec<(&str, &PatroniSnapshot)> {
        self.snapshots
            .iter()
            .filter_map(|(e, s)| match s {
                Snapshot::Patroni(p) => Some((e.as_str(), p.as_ref())),
                _ => None,
            })
            .collect()
    }
}

/// Waits (at most `timeout`) until each `wanted` endpoint reported once — a snapshot, or down /
/// stale — and returns what came. `None`: every database endpoint the engine announces. Notices
/// and the errors of endpoints that did not answer are written to `out`.
pub(super) fn collect(
    engine: &mut EngineHandle,
    mut wanted: Option<HashSet<String>>,
    timeout: Duration,
    out: &mut impl Write,
) -> anyhow::Result<DbView> {
    let learn = wanted.is_none();
    let mut view = DbView::default();
    let mut answered: HashSet<String> = HashSet::new();
    let mut errors: Vec<String> = Vec::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(list) = &wanted
            && list.iter().all(|e| answered.contains(e))
        {
            break;
        }
        let Some(event) = engine.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        match event {
            Event::Endpoints(infos) if learn => {
                wanted = Some(
                    infos
                        .into_iter()
                        .filter(|i| i.area == Area::Databases)
                        .map(|i| i.id)
                        .collect(),
                );
            }
            Event::Snapshot {
                endpoint, snapshot, ..
            } => {
                answered.insert(endpoint.clone());
                view.snapshots.insert(endpoint, snapshot);
            }
            Event::Status {
                endpoint,
                status: ConnStatus::Down | ConnStatus::Stale,
                error,
                ..
            } => {
                if let Some(e) = error {
                    errors.push(format!("{endpoint}: {e}"));
                }
                answered.insert(endpoint);
            }
            Event::Notice(text) => writeln!(out, "{text}")?,
            _ => {}
        }
    }
    for e in &errors {
        writeln!(out, "error: {e}")?;
    }
    Ok(view)
}
