//! A workload endpoint's snapshot: its rows, and the state of each source they come from (a
//! Kubernetes context). A source that shows no rows (missing from the kubeconfig, its server not
//! answering) must still be judged and listed, or half a profile goes unwatched without a word.

use super::snapshot::Workload;

/// How one source of rows (a Kubernetes context) answers, as the last poll saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceState {
    Ok,
    /// It answers, but something it should show is not shown (a refused list).
    Degraded,
    /// It answered before and does not now: its rows are its last view.
    Stale,
    /// It does not answer and has nothing to show.
    Down,
    /// Named by the profile but not in the kubeconfig: never watched.
    Missing,
}

impl SourceState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Stale => "stale",
            Self::Down => "down",
            Self::Missing => "missing",
        }
    }

    /// Not being watched at all: an outage, not a warning (exit code 2).
    pub fn unwatched(self) -> bool {
        matches!(self, Self::Stale | Self::Down | Self::Missing)
    }
}

/// One source and its state; `reason` says why when it is not ok.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// "context prod-eu".
    pub name: String,
    pub state: SourceState,
    pub reason: Option<String>,
}

/// The rows of a workload endpoint and, for Kubernetes, one entry per context. Derefs to the
/// rows, so `list.iter()` and `list.len()` read as they did when this was a plain `Vec`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadList {
    pub rows: Vec<Workload>,
    pub sources: Vec<Source>,
    /// Kubernetes: nodes, quotas and per-workload needs for the scale plans' fit check.
    /// Shared, not copied, when the snapshot is cloned.
    pub capacity: Option<std::sync::Arc<super::capacity::CapacityView>>,
}

impl WorkloadList {
    pub fn with_sources(rows: Vec<Workload>, sources: Vec<Source>) -> Self {
        Self {
            rows,
            sources,
            capacity: None,
        }
    }
}

impl From<Vec<Workload>> for WorkloadList {
    fn from(rows: Vec<Workload>) -> Self {
        Self {
            rows,
            sources: Vec::new(),
            capacity: None,
        }
    }
}

impl std::ops::Deref for WorkloadList {
    type Target = Vec<Workload>;
    fn deref(&self) -> &Vec<Workload> {
        &self.rows
    }
}

impl std::ops::DerefMut for WorkloadList {
    fn deref_mut(&mut self) -> &mut Vec<Workload> {
        &mut self.rows
    }
}

impl IntoIterator for WorkloadList {
    type Item = Workload;
    type IntoIter = std::vec::IntoIter<Workload>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

impl<'a> IntoIterator for &'a WorkloadList {
    type Item = &'a Workload;
    type IntoIter = std::slice::Iter<'a, Workload>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}
