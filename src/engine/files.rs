//! File and keyring jobs the UI asks for: profile store writes, audit reads and exports, secrets.
//! They block, so they run on tokio's blocking pool, never on the UI thread.

use super::EventSink;
use super::types::Event;
use crate::actions::audit::{AuditLog, AuditRecord, write_csv};
use crate::profiles::{Profile, ProfileStore, SecretBackend, SecretRef, Secrets};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub enum FileJob {
    LoadAudit,
    ExportAuditCsv {
        path: PathBuf,
        records: Vec<AuditRecord>,
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
    SetSecret {
        secret: SecretRef,
        value: String,
    },
    /// Find out once whether an OS keyring answers (it can take seconds when none runs).
    ProbeKeyring,
}

pub(crate) struct Files {
    store: Mutex<ProfileStore>,
    audit: AuditLog,
}

impl Files {
    pub fn new(config_dir: &Path, data_dir: &Path) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(ProfileStore::load(config_dir)),
            audit: AuditLog::new(data_dir),
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
            FileJob::LoadAudit => vec![Event::AuditLoaded(self.audit.read_all().map_err(|e| {
                format!(
                    "Could not read the audit log {}: {e}",
                    self.audit.path().display()
                )
            }))],
            FileJob::ExportAuditCsv { path, records } => {
                let result = std::fs::File::create(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| write_csv(&records, f).map_err(|e| e.to_string()));
                vec![Event::Notice(match result {
                    Ok(()) => format!(
                        "Exported {} audit records to {}",
                        records.len(),
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
            job => vec![self.profile_job(job)],
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
            result: result.map_err(|e| e.to_string()),
        }
    }
}
