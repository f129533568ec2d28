//! Event intake: the engine's messages applied to UI state, bounded per frame.

use super::{Level, ScaleboardApp};
use crate::actions::audit::AuditOutcome;
use crate::engine::{ConnStatus, Event};
use crate::model::snapshot::Snapshot;

/// At most this many events per frame, so a burst never stalls a frame; the rest wait.
const MAX_EVENTS_PER_FRAME: usize = 5_000;

impl ScaleboardApp {
    pub fn drain_events(&mut self) {
        for _ in 0..MAX_EVENTS_PER_FRAME {
            let Some(event) = self.injected.pop_front().or_else(|| self.engine.try_recv()) else {
                break;
            };
            self.apply(event);
        }
    }

    /// Hands the window an event as if the engine had sent it: taken in by the next
    /// [`Self::logic_tick`], like the engine's. For benches that run a connector themselves, so
    /// a poll's intake is measured in its frame, within the frame's budget.
    #[doc(hidden)]
    pub fn inject_event(&mut self, event: Event) {
        if self.injected.len() >= 64 {
            self.injected.pop_front();
        }
        self.injected.push_back(event);
    }

    fn apply(&mut self, event: Event) {
        let now = self.clock.now_ms();
        match event {
            Event::Endpoints(infos) => {
                self.fleet.reset(infos);
                self.advisor_set_endpoints();
            }
            Event::Snapshot {
                endpoint,
                at,
                snapshot,
                samples,
            } => {
                // The rules and the store see the samples within a budget per frame (a large
                // fleet's poll is more than a frame's work): queued as they are, in order.
                let from_workloads = matches!(snapshot, Snapshot::Workloads(_));
                self.sample_intake.poll(samples, at, from_workloads);
                let mut new_errors = Vec::new();
                let limits = &self.profiles.active.thresholds;
                if let Some(e) = self.fleet.endpoint_mut(&endpoint) {
                    new_errors = new_query_errors(e.snapshot.as_ref(), &snapshot);
                    self.discard.later(e.snapshot.replace(snapshot));
                    e.updated_at = Some(at);
                    e.refresh_health(limits);
                    self.fleet.generation += 1;
                }
                for text in new_errors {
                    self.notifications.push(now, Level::Error, text);
                }
            }
            Event::Status {
                endpoint,
                status,
                error,
                at,
            } => {
                if matches!(status, ConnStatus::Stale | ConnStatus::Down) {
                    // A missed poll is a gap in every series of the endpoint (its own totals,
                    // targeted by its bare id, too), never a zero: after the samples before it.
                    self.sample_intake.endpoint_gap(endpoint.clone(), at);
                }
                let limits = &self.profiles.active.thresholds;
                let label = match self.fleet.endpoint_mut(&endpoint) {
                    Some(e) => {
                        e.status = status;
                        if status == ConnStatus::Ok {
                            e.last_error = None;
                        } else if let Some(err) = &error {
                            e.last_error = Some(err.clone());
                        }
                        e.refresh_health(limits);
                        e.info.label.clone()
                    }
                    None => endpoint,
                };
                if let Some(err) = error {
                    self.notifications
                        .push(now, Level::Error, format!("{label}: {err}"));
                }
            }
            Event::ActionProgress { id, stage } => {
                if let Some(a) = self.actions.get_mut(id) {
                    a.stage = Some(stage);
                }
            }
            Event::ActionFinished { id, record } => {
                let level = match record.outcome {
                    AuditOutcome::Succeeded => Level::Info,
                    AuditOutcome::Cancelled
                    | AuditOutcome::NotRun
                    | AuditOutcome::AppliedNotReady => Level::Warning,
                    _ => Level::Error,
                };
                self.notifications.push(
                    now,
                    level,
                    format!(
                        "{} {}: {}",
                        record.action,
                        record.target,
                        record.outcome_text().headline
                    ),
                );
                // The panel's page and the unresolved intents follow the log (and the team's
                // history, which has the record too).
                self.request_audit();
                self.audit.team.mark_stale();
                if let Some(a) = self.actions.get_mut(id) {
                    a.record = Some(*record);
                    a.stage = None;
                }
            }
            Event::KubeContexts { kubeconfig, result } => {
                // A handful of paths at most: one per kubeconfig typed in the editor.
                if self.profiles.kube_contexts.len() > 16 {
                    self.profiles.kube_contexts.clear();
                }
                self.profiles.kube_contexts.insert(kubeconfig, result);
            }
            Event::DryRun { key, outcome } => self.actions.dry_run_answer(key, &outcome),
            Event::LoadBalancers(reports) => {
                // The drift rule sees each read once, here on intake, like every sample.
                for (target, value) in crate::advisor::lb_drift::samples(&reports) {
                    self.advisor.advisor.observe(
                        &target,
                        crate::advisor::lb_drift::METRIC,
                        now,
                        value,
                    );
                }
                self.fleet.load_balancers = reports;
            }
            Event::Notice(text) => {
                self.overview.note_notice(&text);
                self.notifications.push(now, Level::Info, text);
            }
            Event::AuditPage(result) => self.audit_answered(result),
            Event::InProgressElsewhere(targets) => {
                self.fleet.in_progress = targets.into_iter().collect();
            }
            Event::ColleagueAction(text) => {
                self.notifications.push(now, Level::Info, text);
                self.request_audit();
                // The Team view reads its page again when next drawn.
                self.audit.team.mark_stale();
            }
            Event::TeamAuditPage { query, result } => self.team_audit_answered(query, result),
            Event::Profiles {
                profiles,
                damaged,
                issues,
                result,
            } => {
                // An edit of the profile in use takes effect at once.
                let edited_active = profiles
                    .iter()
                    .find(|p| p.name == self.profiles.active.name)
                    .filter(|p| **p != self.profiles.active)
                    .cloned();
                self.profiles.list = profiles;
                self.profiles.damaged = damaged;
                self.profiles.issues = issues;
                if let Some(profile) = edited_active {
                    self.connect(profile);
                }
                match result {
                    Ok(msg) if msg.is_empty() => {}
                    Ok(msg) => {
                        self.profiles.editor = None;
                        self.notifications.push(now, Level::Info, msg);
                    }
                    Err(e) => self.notifications.push(now, Level::Error, e),
                }
            }
            Event::TestResult { kind, name, result } => {
                let (level, text) = match result {
                    Ok(summary) => (
                        Level::Info,
                        format!("{} \"{name}\": connection OK — {summary}", kind.label()),
                    ),
                    Err(e) => (
                        Level::Error,
                        format!("{} \"{name}\": test failed — {e}", kind.label()),
                    ),
                };
                self.profiles
                    .test_results
                    .insert((kind, name), text.clone());
                self.notifications.push(now, level, text);
            }
            Event::CostModels {
                saved,
                damaged,
                result,
            } => {
                self.advisor_invalidate_proposals();
                let cost = &mut self.cost;
                cost.saved = saved;
                cost.loaded = true;
                if let Some(d) = &damaged
                    && cost.damaged.as_ref() != Some(d)
                {
                    self.notifications.push(
                        now,
                        Level::Error,
                        format!("The cost model file is damaged and was left untouched: {d}"),
                    );
                }
                cost.damaged = damaged;
                match result {
                    Ok(msg) if msg.is_empty() => {}
                    Ok(msg) => {
                        // After a save the draft is what the file holds; after a delete or a
                        // rename the old name may be gone: open what exists.
                        cost.dirty = false;
                        if !cost.models().iter().any(|m| m.name == cost.draft_source) {
                            let first = cost.models().first().map(|m| m.name.clone());
                            if let Some(name) = first {
                                cost.open(&name);
                            }
                        }
                        self.notifications.push(now, Level::Info, msg);
                    }
                    Err(e) => self.notifications.push(now, Level::Error, e),
                }
            }
            Event::CostExported {
                format,
                path,
                result,
            } => {
                self.cost.exporting.retain(|(_, p)| p != &path);
                let (level, text) = match result {
                    Ok(bytes) => (
                        Level::Info,
                        format!(
                            "{} cost report written to {} ({} KiB).",
                            format.label(),
                            path.display(),
                            bytes.div_ceil(1024)
                        ),
                    ),
                    Err(e) => (
                        Level::Error,
                        format!("{} cost report not written: {e}", format.label()),
                    ),
                };
                self.cost.last_export = Some(if level == Level::Info {
                    Ok(text.clone())
                } else {
                    Err(text.clone())
                });
                self.notifications.push(now, level, text);
            }
            Event::AuditPathPicked { path } => {
                self.audit.picking_path = false;
                if let Some(path) = path {
                    self.audit.export_path = path.display().to_string();
                }
            }
            Event::ReportPathPicked { format, path } => {
                self.cost.picking_path = false;
                if let Some(path) = path {
                    self.cost.export_format = format;
                    self.cost.export_path = path.display().to_string();
                }
            }
            Event::Keyring(status) => {
                // Only worth a toast when the active profile actually has secrets to keep.
                if let crate::profiles::KeyringStatus::Unavailable(why) = &status
                    && self.profiles.keyring.as_ref() != Some(&status)
                    && !self.profiles.active.secret_refs().is_empty()
                {
                    self.notifications.push(
                        now,
                        Level::Warning,
                        crate::profiles::secrets::without_keyring_words(
                            why,
                            crate::profiles::secrets::process_credentials_file()
                                .as_ref()
                                .map(|f| f.path()),
                        ),
                    );
                }
                self.profiles.keyring = Some(status);
            }
        }
    }
}

/// Prometheus query errors in `new` that the previous snapshot did not have: each is told once.
fn new_query_errors(old: Option<&Snapshot>, new: &Snapshot) -> Vec<String> {
    let Snapshot::Prometheus(new) = new else {
        return Vec::new();
    };
    let before = |name: &str| match old {
        Some(Snapshot::Prometheus(o)) => o
            .queries
            .iter()
            .find(|q| q.name == name)
            .and_then(|q| q.error.clone()),
        _ => None,
    };
    new.queries
        .iter()
        .filter_map(|q| {
            let e = q.error.as_ref()?;
            (before(&q.name).as_ref() != Some(e))
                .then(|| format!("Prometheus query \"{}\" failed: {e}", q.name))
        })
        .collect()
}
