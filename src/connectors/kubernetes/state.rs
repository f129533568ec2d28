//! Each context's state (ok / degraded / stale / down / missing) for health and `status`, and
//! the one log line per change of it. The library's own log records are filtered out by
//! default (see `main.rs`): these lines are what the operator reads instead, in our words.

use super::watch::{Broken, ContextView};
use super::*;
use crate::model::workloads::{POD_DETAILS, Progress, Source, SourceState};

/// What the log last said about a context: a line is written only when this changes, never
/// when only the words of an ongoing failure change (a stopped server first times out, then
/// refuses connections).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Said {
    #[default]
    Nothing,
    Connected,
    Lost,
    /// Answering, with something refused or failing: the words of it.
    Limited(String),
}

/// The state of a context that is not watched at all.
pub(super) fn broken_source(b: &Broken) -> Source {
    Source {
        name: format!("context {}", b.context),
        state: if b.missing {
            SourceState::Missing
        } else {
            SourceState::Down
        },
        reason: Some(b.why.clone()),
        progress: Progress::default(),
    }
}

impl ContextWatch {
    /// This context's state from how it answered this poll, logged when it changed.
    pub(super) fn source(&self, view: &ContextView) -> Source {
        let (state, reason, said) = match view {
            // Still reading its first lists: what it shows is partial, so it is not ok yet
            // (a one-shot `status` must not exit 0 on half a cluster). Not logged: it passes.
            ContextView::Loading(notes) => {
                let loading = notes
                    .notices
                    .iter()
                    .find(|n| n.starts_with("loading context"))
                    .cloned()
                    .unwrap_or_else(|| "loading its lists".into());
                let mut words = vec![loading];
                words.extend(notes.problems.iter().cloned());
                return Source {
                    name: format!("context {}", self.context),
                    state: SourceState::Degraded,
                    reason: Some(words.join("; ")),
                    progress: self.progress(),
                };
            }
            ContextView::Live(notes) => {
                if notes.problems.is_empty() {
                    let said = match &notes.fallback {
                        Some(f) => Said::Limited(format!("forbidden: {f}")),
                        None => Said::Connected,
                    };
                    (SourceState::Ok, None, said)
                } else {
                    let words = notes.problems.join("; ");
                    let kind = if notes.all_refused {
                        "forbidden"
                    } else {
                        "degraded"
                    };
                    (
                        SourceState::Degraded,
                        Some(words.clone()),
                        Said::Limited(format!("{kind}: {words}")),
                    )
                }
            }
            ContextView::Stale { why, .. } => (SourceState::Stale, Some(why.clone()), Said::Lost),
            ContextView::Down(why) => (SourceState::Down, Some(why.clone()), Said::Lost),
        };
        self.say(&said, reason.as_deref());
        Source {
            name: format!("context {}", self.context),
            state,
            reason,
            progress: self.progress(),
        }
    }

    /// What of this context is in and what is still being read, by part as the operator
    /// knows them. A part whose list failed is in neither: the context's reason names it.
    pub(super) fn progress(&self) -> Progress {
        let states = self.states();
        let of = |names: &[&str]| -> Vec<cache::ResourceState> {
            states
                .iter()
                .filter(|(r, _)| names.contains(r))
                .map(|(_, s)| s.clone())
                .collect()
        };
        let parts: [(&'static str, Vec<cache::ResourceState>); 5] = [
            ("workloads", of(&["deployments", "statefulsets"])),
            ("autoscalers", of(&["horizontalpodautoscalers"])),
            (POD_DETAILS, of(&["pods", "replicasets"])),
            ("nodes", vec![self.nodes.state()]),
            (
                "quotas and limit ranges",
                vec![self.quotas.state(), self.limit_ranges.state()],
            ),
        ];
        let mut progress = Progress::default();
        for (part, states) in parts {
            if states.iter().all(cache::ResourceState::listed) {
                progress.loaded.push(part);
            } else if !states.iter().all(cache::ResourceState::settled) {
                progress.loading.push(part);
            }
        }
        progress
    }

    /// One line per change of state: "connected again", "lost: why", "forbidden: what".
    fn say(&self, now: &Said, reason: Option<&str>) {
        let before = {
            let Ok(mut live) = self.liveness.lock() else {
                return;
            };
            if &live.said == now {
                return;
            }
            std::mem::replace(&mut live.said, now.clone())
        };
        let context = &self.context;
        match now {
            Said::Nothing => {}
            // The first answer is what is expected: said only after a loss.
            Said::Connected if before == Said::Nothing => {
                log::debug!("context {context}: connected");
            }
            Said::Connected => log::info!("context {context}: connected again"),
            Said::Lost => log::warn!(
                "context {context}: lost: {}",
                reason.unwrap_or("no answer from the API server")
            ),
            Said::Limited(words) => log::warn!("context {context}: {words}"),
        }
    }
}

/// Profile order: the contexts as the operator listed them.
pub(super) fn sort_sources(sources: &mut [Source], order: &[String]) {
    let rank = |s: &Source| {
        order
            .iter()
            .position(|c| s.name.strip_prefix("context ") == Some(c.as_str()))
            .unwrap_or(usize::MAX)
    };
    sources.sort_by_key(rank);
}
