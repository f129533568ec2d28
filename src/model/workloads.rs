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
    /// What of this source has been read and what is still being read: the rows show as soon
    /// as the workloads are in; pod details (restarts, stuck reasons, usage) follow.
    pub progress: Progress,
}

/// The part of a source's data that carries restarts, stuck reasons and usage.
pub const POD_DETAILS: &str = "pod details";

/// What one source has read ("workloads", "autoscalers", [`POD_DETAILS`], "nodes", "quotas and
/// limit ranges") and what it is still reading; a part that failed is in neither (the
/// source's reason names it). Both empty when the source reports no progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub loaded: Vec<&'static str>,
    pub loading: Vec<&'static str>,
}

impl Progress {
    pub fn is_loading(&self, part: &str) -> bool {
        self.loading.contains(&part)
    }

    /// "workloads, autoscalers in; pod details, nodes loading"; None when nothing is loading.
    pub fn words(&self) -> Option<String> {
        if self.loading.is_empty() {
            return None;
        }
        let loaded = if self.loaded.is_empty() {
            "nothing in yet".to_string()
        } else {
            format!("{} in", self.loaded.join(", "))
        };
        Some(format!("{loaded}; {} loading", self.loading.join(", ")))
    }
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
    /// Every row is of this endpoint and they are in `WorkloadRef` order (the engine checks each
    /// poll's, off the UI thread): the Workloads table's default order then needs no sort of
    /// 10,000 long ids in a frame.
    pub sorted_by_id: bool,
}

impl WorkloadList {
    /// Puts rows reported by `endpoint` in `WorkloadRef` order and says so in
    /// [`Self::sorted_by_id`] (the engine, per poll, off the UI thread; already sorted rows,
    /// as Kubernetes sends them, cost one pass). Rows of another endpoint leave it unsorted.
    pub fn sort_by_id(&mut self, endpoint: &str) {
        self.sorted_by_id = self.rows.iter().all(|w| w.id.endpoint == endpoint);
        if self.sorted_by_id && !self.rows.is_sorted_by(|a, b| a.id <= b.id) {
            self.rows.sort_by(|a, b| a.id.cmp(&b.id));
        }
    }

    /// While any source is still reading its pod details: (sources whose pod details are in,
    /// sources that report progress). None once every one has them.
    pub fn pod_details_progress(&self) -> Option<(usize, usize)> {
        let reporting: Vec<&Source> = self
            .sources
            .iter()
            .filter(|s| !s.progress.loaded.is_empty() || !s.progress.loading.is_empty())
            .collect();
        let loading = reporting
            .iter()
            .filter(|s| s.progress.is_loading(POD_DETAILS))
            .count();
        (loading > 0).then(|| (reporting.len() - loading, reporting.len()))
    }

    /// "pod details loading (1 of 3 contexts in)" while any source reads its pods.
    pub fn pod_details_words(&self) -> Option<String> {
        self.pod_details_progress().map(|(done, of)| {
            let unit = if of == 1 { "context" } else { "contexts" };
            format!("{POD_DETAILS} loading ({done} of {of} {unit} in)")
        })
    }

    pub fn with_sources(rows: Vec<Workload>, sources: Vec<Source>) -> Self {
        Self {
            rows,
            sources,
            capacity: None,
            sorted_by_id: false,
        }
    }
}

impl From<Vec<Workload>> for WorkloadList {
    fn from(rows: Vec<Workload>) -> Self {
        Self {
            rows,
            sources: Vec::new(),
            capacity: None,
            sorted_by_id: false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, loaded: Vec<&'static str>, loading: Vec<&'static str>) -> Source {
        Source {
            name: name.into(),
            state: SourceState::Ok,
            reason: None,
            progress: Progress { loaded, loading },
        }
    }

    #[test]
    fn pod_details_progress_counts_the_contexts_that_have_them() {
        let mut list = WorkloadList::with_sources(
            Vec::new(),
            vec![
                source("context a", vec!["workloads", POD_DETAILS], vec![]),
                source("context b", vec!["workloads"], vec![POD_DETAILS, "nodes"]),
                // A missing context reports nothing: it is not counted.
                source("context c", vec![], vec![]),
            ],
        );
        assert_eq!(list.pod_details_progress(), Some((1, 2)));
        assert_eq!(
            list.pod_details_words().as_deref(),
            Some("pod details loading (1 of 2 contexts in)")
        );
        assert_eq!(
            list.sources[1].progress.words().as_deref(),
            Some("workloads in; pod details, nodes loading")
        );
        list.sources[1].progress = Progress {
            loaded: vec!["workloads", POD_DETAILS],
            loading: vec!["nodes"],
        };
        assert_eq!(list.pod_details_progress(), None);
        assert_eq!(list.pod_details_words(), None);
    }
}
