//! File and keyring jobs the UI asks for: profile store writes, audit reads and exports, secrets,
//! cost model writes, cost report exports and the native save dialog.
//! They block, so they run on tokio's blocking pool, never on the UI thread.

use super::EventSink;
use super::types::Event;
use crate::actions::audit::{AuditFilter, AuditIndex, AuditLog, AuditPage, AuditQuery};
use crate::cost::{CostModel, CostModelStore, CostReport, ReportFormat, ReportInput};
use crate::profiles::{Profile, ProfileStore, SecretBackend, SecretRef, Secrets};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub enum FileJob {
    /// A page of the Audit panel's rows and the counts around it (also asked at start-up, for
    /// the intents with no outcome). Answered with [`Event::AuditPage`].
    QueryAudit(AuditQuery),
    /// Stream the records matching the filter to a CSV file.
    ExportAuditCsv {
        path: PathBuf,
        filter: AuditFilter,
    },
    /// Create or replace a profile; `previous_name` renames it.
    SaveProfile {
        previous_name: Option<String>,
        profile: Box<Profile>,
    },
    DeleteProfile(String),
    DuplicateProfile {
        name: String,
        new_name: String,
    },
    SetLastUsed(String),
    /// Read `profiles.toml` again: a profile fixed in an editor is loaded without a restart.
    ReloadProfiles,
    SetSecret {
        secret: SecretRef,
        value: String,
    },
    /// Find out once whether an OS keyring answers (it can take seconds when none runs).
    ProbeKeyring,
    /// Read `cost-models.toml` (first use of the cost panel).
    LoadCostModels,
    /// Create or replace a saved cost model; `previous_name` renames it.
    SaveCostModel {
        previous_name: Option<String>,
        model: Box<CostModel>,
    },
    DuplicateCostModel {
        name: String,
        new_name: String,
    },
    DeleteCostModel(String),
    /// Build a report and write it atomically to `path`.
    ExportCostReport {
        input: Box<ReportInput>,
        format: ReportFormat,
        path: PathBuf,
    },
    /// List the contexts of a kubeconfig (None: `KUBECONFIG` or `~/.kube/config`).
    ReadKubeContexts {
        kubeconfig: Option<PathBuf>,
    },
    /// Ask the desktop (xdg-desktop-portal) where to save a report.
    PickReportPath {
        format: ReportFormat,
        suggested: PathBuf,
    },
    /// Ask the desktop where to save the audit CSV export.
    PickAuditCsvPath {
        suggested: PathBuf,
    },
}

pub(crate) struct Files {
    store: Mutex<ProfileStore>,
    audit: AuditLog,
    /// The Audit panel's index: rebuilt when the filter changes, extended when the log grows.
    audit_index: Mutex<Option<AuditIndex>>,
    config_dir: PathBuf,
    /// Loaded on the first cost job, on the blocking pool.
    cost_models: Mutex<Option<CostModelStore>>,
}

impl Files {
    pub fn new(config_dir: &Path, data_dir: &Path) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(ProfileStore::load(config_dir)),
            audit: AuditLog::new(data_dir),
            audit_index: Mutex::new(None),
            config_dir: config_dir.to_path_buf(),
            cost_models: Mutex::new(None),
        })
    }

    /// Probing the keyring can take seconds; do it once, lazily, off the UI thread.
    /// Shared with the connectors, so secrets kept for this run only reach them too.
    fn secrets(&self) -> &'static Secrets {
        Secrets::shared()
    }

    pub fn run(self: &Arc<Self>, job: FileJob, sink: &EventSink) {
        let files = Arc::clone(self);
        let sink = sink.clone();
        tokio::spawn(async move {
            let events = tokio::task::spawn_blocking(move || files.blocking(job))
                .await
                .unwrap_or_else(|e| vec![Event::Notice(format!("file job failed: {e}"))]);
            for event in events {
                sink.emit(event).await;
            }
        });
    }

    fn blocking(&self, job: FileJob) -> Vec<Event> {
        match job {
            FileJob::ReadKubeContexts { kubeconfig } => vec![Event::KubeContexts {
                result: crate::connectors::kubernetes::kubeconfig_contexts(kubeconfig.as_deref()),
                kubeconfig,
            }],
            FileJob::QueryAudit(query) => vec![Event::AuditPage(
                self.query_audit(&query).map(Box::new).map_err(|e| {
                    format!(
                        "Could not read the audit log {}: {e}",
                        self.audit.path().display()
                    )
                }),
            )],
            FileJob::ExportAuditCsv { path, filter } => {
                let result = std::fs::File::create(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| {
                        self.audit
                            .write_csv_streaming(&filter, None, f)
                            .map_err(|e| e.to_string())
                    });
                vec![Event::Notice(match result {
                    Ok((rows, damage)) if damage.is_empty() => {
                        format!("Exported {rows} audit records to {}", path.display())
                    }
                    Ok((rows, damage)) => format!(
                        "Exported {rows} audit records to {} ({damage})",
                        path.display()
                    ),
                    Err(e) => format!("Could not export the audit log to {}: {e}", path.display()),
                })]
            }
            FileJob::SetSecret { secret, value } => {
                let secrets = self.secrets();
                let result = secrets.set(&secret, &value);
                let status = secrets.keyring_status();
                vec![
                    Event::Keyring(status),
                    Event::Notice(match result {
                        Ok(()) => format!("Secret for {} saved.", secret.account),
                        Err(e) => format!("Could not save the secret for {}: {e}", secret.account),
                    }),
                ]
            }
            FileJob::ProbeKeyring => vec![Event::Keyring(self.secrets().keyring_status())],
            FileJob::ReloadProfiles => {
                // Reported as a notice, not as the job's result: an open profile editor stays
                // open with its unsaved edits.
                let summary = {
                    let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
                    *store = ProfileStore::load(&self.config_dir);
                    reload_summary(&store)
                };
                vec![self.profile_job(job), Event::Notice(summary)]
            }
            FileJob::ExportCostReport {
                input,
                format,
                path,
            } => vec![export_report(&input, format, path)],
            FileJob::PickReportPath { format, suggested } => vec![Event::ReportPathPicked {
                format,
                path: save_dialog(
                    "Save cost report",
                    format.label(),
                    format.extension(),
                    &suggested,
                ),
            }],
            FileJob::PickAuditCsvPath { suggested } => vec![Event::AuditPathPicked {
                path: save_dialog("Export the audit log", "CSV", "csv", &suggested),
            }],
            job @ (FileJob::LoadCostModels
            | FileJob::SaveCostModel { .. }
            | FileJob::DuplicateCostModel { .. }
            | FileJob::DeleteCostModel(_)) => vec![self.cost_job(job)],
            job => vec![self.profile_job(job)],
        }
    }

    /// The index is kept between queries: the same filter only reads what was appended since.
    fn query_audit(&self, query: &AuditQuery) -> std::io::Result<AuditPage> {
        let mut guard = self
            .audit_index
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let index = match guard.take() {
            Some(index) if *index.filter() == query.filter => guard.insert(index),
            _ => guard.insert(AuditIndex::new(query.filter.clone())),
        };
        index.query(&self.audit, query)
    }

    fn cost_job(&self, job: FileJob) -> Event {
        let mut guard = self
            .cost_models
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(|| CostModelStore::load(&self.config_dir));
        let result = match job {
            FileJob::SaveCostModel {
                previous_name,
                model,
            } => {
                let name = model.name.clone();
                store
                    .upsert(*model, previous_name.as_deref())
                    .map(|()| format!("Cost model \"{name}\" saved."))
            }
            FileJob::DuplicateCostModel { name, new_name } => store
                .duplicate(&name, &new_name)
                .map(|()| format!("Cost model \"{name}\" duplicated as \"{new_name}\".")),
            FileJob::DeleteCostModel(name) => store
                .delete(&name)
                .map(|()| format!("Cost model \"{name}\" deleted.")),
            _ => Ok(String::new()),
        };
        Event::CostModels {
            saved: store.saved().to_vec(),
            damaged: store.damaged().cloned(),
            result: result.map_err(|e| e.to_string()),
        }
    }

    fn profile_job(&self, job: FileJob) -> Event {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match job {
            FileJob::SaveProfile {
                previous_name,
                profile,
            } => {
                let name = profile.name.clone();
                let renamed = match previous_name {
                    Some(old) if old != name && store.get(&old).is_some() => {
                        store.rename(&old, &name)
                    }
                    _ => Ok(()),
                };
                renamed
                    .and_then(|()| store.upsert(*profile))
                    .map(|()| format!("Profile \"{name}\" saved."))
            }
            FileJob::DeleteProfile(name) => store
                .delete(&name)
                .map(|()| format!("Profile \"{name}\" deleted.")),
            FileJob::DuplicateProfile { name, new_name } => store
                .duplicate(&name, &new_name)
                .map(|()| format!("Profile \"{name}\" duplicated as \"{new_name}\".")),
            FileJob::SetLastUsed(name) => store.set_last_used(Some(&name)).map(|()| String::new()),
            _ => Ok(String::new()),
        };
        Event::Profiles {
            profiles: store.profiles().to_vec(),
            damaged: store.damaged().cloned(),
            issues: store.issues().clone(),
            result: result.map_err(|e| e.to_string()),
        }
    }
}

/// What a reload found, in one line for the notification.
fn reload_summary(store: &ProfileStore) -> String {
    let issues = store.issues();
    let loaded = store.profiles().len();
    let refused = issues.rejected.len();
    match (refused, issues.file.len()) {
        (0, 0) => format!("profiles.toml reloaded: {loaded} profiles, no errors."),
        (0, f) => format!("profiles.toml reloaded: {loaded} profiles; {f} problems in the file."),
        (r, _) => format!(
            "profiles.toml reloaded: {loaded} profiles; {r} still not loaded (see Profiles)."
        ),
    }
}

/// Builds the report, renders it and writes it atomically (never a half-written file).
pub fn export_report(input: &ReportInput, format: ReportFormat, path: PathBuf) -> Event {
    let result = CostReport::build(input)
        .and_then(|report| report.render(format))
        .and_then(|bytes| {
            crate::profiles::store::write_atomic(&path, &bytes)
                .map(|()| bytes.len() as u64)
                .map_err(|e| format!("could not write {}: {e}", path.display()))
        });
    Event::CostExported {
        format,
        path,
        result,
    }
}

/// The native save dialog (xdg-desktop-portal over D-Bus on Linux). `None` when cancelled or
/// when no portal answers; the panel's path field works either way.
/// The desktop's save dialog (xdg-desktop-portal); `None` when cancelled or when no portal
/// answers (the panels then keep their typed path).
fn save_dialog(title: &str, filter: &str, extension: &str, suggested: &Path) -> Option<PathBuf> {
    let mut dialog = rfd::FileDialog::new()
        .set_title(title)
        .add_filter(filter, &[extension]);
    if let Some(dir) = suggested.parent() {
        dialog = dialog.set_directory(dir);
    }
    if let Some(name) = suggested.file_name() {
        dialog = dialog.set_file_name(name.to_string_lossy());
    }
    dialog.save_file()
}
