//! The connection to the team store and the shared audit sink.
//!
//! The local JSON Lines log is always written first; the store is the second sink. A record the
//! store could not take is kept in `<data_dir>/team-pending.jsonl` ("not shared yet") and sent
//! before the next one; the store ignores a record it already has (primary key + ON CONFLICT DO
//! NOTHING), so a resend after a crash between insert and truncate still shares it once.

use crate::actions::audit::{AuditLog, AuditOutcome, AuditRecord};
use crate::connectors::postgres::PostgresConnector;
use crate::profiles::{EndpointKind, EndpointSecret, PostgresEndpoint, Profile, Resolver};
use crate::profiles::{SecretRef, TeamStoreSettings};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_postgres::Client;

/// File of the records not shared yet, inside the data dir.
pub const PENDING_FILE: &str = "team-pending.jsonl";
/// How long one store operation may take before the store counts as unreachable.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(4);

pub struct TeamStore {
    pub(super) settings: TeamStoreSettings,
    pub(super) profile: String,
    pub(super) host: String,
    connector: PostgresConnector,
    client: tokio::sync::Mutex<Option<Client>>,
    down_since: Mutex<Option<DateTime<Utc>>>,
    pending_path: PathBuf,
    /// One sender of the pending file at a time.
    flushing: tokio::sync::Mutex<()>,
    migrated: Mutex<bool>,
    /// Ids of the actions this console shared lately, so its feed does not announce them.
    own: Mutex<std::collections::VecDeque<String>>,
}

/// The machine's name for the records (operator@host).
pub fn host_name() -> String {
    whoami::hostname().unwrap_or_else(|_| "unknown-host".into())
}

impl TeamStore {
    /// The profile's team store, None when it has no `[profile.team]`.
    pub fn for_profile(profile: &Profile, data_dir: &Path) -> Option<Arc<Self>> {
        let settings = profile.team.clone()?;
        // The password is looked up like a PostgreSQL endpoint's named "team": the DSN, the
        // variable SCALEBOARD_SECRET_<PROFILE>_TEAM, the keyring entry <profile>/postgres/team
        // (or the one named), PGPASSWORD, the password file.
        let endpoint = PostgresEndpoint {
            name: "team".into(),
            primary_dsn: settings.dsn.clone(),
            password: settings.password.clone(),
            ..PostgresEndpoint::default()
        };
        let mut shadow = Profile::named(profile.name.clone());
        shadow.postgres.push(endpoint.clone());
        let lookup = EndpointSecret::for_endpoint(&shadow, EndpointKind::Postgres, "team").map(
            |secret| -> crate::connectors::postgres::SecretLookup {
                Arc::new(move |_: &SecretRef| Resolver::process().lookup(&secret))
            },
        );
        Some(Arc::new(Self {
            settings,
            profile: profile.name.clone(),
            host: host_name(),
            connector: PostgresConnector::new(endpoint, lookup),
            client: tokio::sync::Mutex::new(None),
            down_since: Mutex::new(None),
            pending_path: data_dir.join(PENDING_FILE),
            flushing: tokio::sync::Mutex::new(()),
            migrated: Mutex::new(false),
            own: Mutex::new(std::collections::VecDeque::new()),
        }))
    }

    pub fn require(&self) -> bool {
        self.settings.require
    }

    pub fn schema(&self) -> &str {
        &self.settings.schema
    }

    /// Since when the store has not answered, when it does not.
    pub fn down_since(&self) -> Option<DateTime<Utc>> {
        *self
            .down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn mark(&self, reachable: bool) {
        let mut down = self
            .down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if reachable {
            *down = None;
        } else if down.is_none() {
            *down = Some(Utc::now());
        }
    }

    /// "team store unreachable since 10:02:13 (why)".
    pub fn unreachable(&self, why: &str) -> String {
        self.mark(false);
        let since = self.down_since().map_or_else(String::new, |t| {
            format!(" since {}", t.format("%H:%M:%S UTC"))
        });
        format!("team store unreachable{since} ({why})")
    }

    /// A new session of its own (lock holders), schema migrated on first use.
    pub(super) async fn open_session(&self) -> Result<Client, String> {
        let Ok(opened) = tokio::time::timeout(STORE_TIMEOUT, self.connector.open_session()).await
        else {
            self.mark(false);
            return Err(format!("no answer within {} s", STORE_TIMEOUT.as_secs()));
        };
        let mut client = match opened {
            Ok(c) => c,
            Err(e) => {
                self.mark(false);
                return Err(e);
            }
        };
        let migrated = *self.migrated.lock().unwrap_or_else(PoisonError::into_inner);
        if !migrated {
            super::migrations::migrate(&mut client, self.schema()).await?;
            *self.migrated.lock().unwrap_or_else(PoisonError::into_inner) = true;
        }
        self.mark(true);
        Ok(client)
    }

    /// Creates or migrates the schema now (`team init`); returns the versions applied.
    pub async fn migrate_now(&self) -> Result<Vec<i32>, String> {
        let mut client = tokio::time::timeout(STORE_TIMEOUT, self.connector.open_session())
            .await
            .map_err(|_| format!("no answer within {} s", STORE_TIMEOUT.as_secs()))??;
        let done = super::migrations::migrate(&mut client, self.schema()).await?;
        *self.migrated.lock().unwrap_or_else(PoisonError::into_inner) = true;
        Ok(done)
    }

    /// A session whose notifications go to `notices` (the feed).
    pub(super) async fn open_listening(
        &self,
        notices: tokio::sync::mpsc::Sender<String>,
    ) -> Result<Client, String> {
        tokio::time::timeout(
            STORE_TIMEOUT,
            self.connector.open_listening_session(notices),
        )
        .await
        .map_err(|_| format!("no answer within {} s", STORE_TIMEOUT.as_secs()))?
    }

    /// Whether this console shared records of that action lately.
    pub fn is_own_action(&self, action_id: &str) -> bool {
        self.is_own(action_id)
    }

    pub(super) fn is_own(&self, action_id: &str) -> bool {
        let own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        own.iter().any(|id| id == action_id)
    }

    pub(super) fn note_own(&self, action_id: &str) {
        let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        if !own.iter().any(|id| id == action_id) {
            if own.len() >= 256 {
                own.pop_front();
            }
            own.push_back(action_id.to_owned());
        }
    }

    /// Runs `f` on the shared session, opening it when needed; a failure drops the session.
    pub(super) async fn with_client<T>(
        &self,
        f: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, String> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_some_and(Client::is_closed) {
            *guard = None;
        }
        if guard.is_none() {
            *guard = Some(self.open_session().await?);
        }
        let Some(client) = guard.as_ref() else {
            return Err("no session".into());
        };
        match tokio::time::timeout(STORE_TIMEOUT, f(client)).await {
            Ok(Ok(v)) => {
                self.mark(true);
                Ok(v)
            }
            Ok(Err(e)) => {
                if e.as_db_error().is_none() {
                    *guard = None;
                    self.mark(false);
                }
                Err(e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned()))
            }
            Err(_) => {
                *guard = None;
                self.mark(false);
                Err(format!("no answer within {} s", STORE_TIMEOUT.as_secs()))
            }
        }
    }

    /// Inserts one record (ignored when the store already has it).
    async fn insert(&self, r: &AuditRecord) -> Result<(), String> {
        let sql = format!(
            "INSERT INTO {}.audit (action_id, phase, at, operator, host, profile, action, target, \
             before, after, command, outcome, detail, forced, record) VALUES ($1, $2, \
             $3::text::timestamptz, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15::text::jsonb) ON CONFLICT DO NOTHING",
            self.schema()
        );
        let phase = if r.outcome == AuditOutcome::Intent {
            "intent"
        } else {
            "outcome"
        };
        let at = r.when.to_rfc3339();
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let json = serde_json::to_string(r).map_err(|e| e.to_string())?;
        let host = self.host.clone();
        let channel = super::feed::channel(self.schema());
        self.note_own(&r.id);
        self.with_client(async |c| {
            c.execute(
                &sql,
                &[
                    &r.id, &phase, &at, &r.os_user, &host, &r.profile, &r.action, &r.target,
                    &r.before, &r.after, &r.command, &outcome, &r.detail, &r.forced, &json,
                ],
            )
            .await?;
            c.execute("SELECT pg_notify($1, $2)", &[&channel, &r.id])
                .await
        })
        .await
        .map(|_| ())
    }

    /// Shares one record now, after whatever waits in the pending file.
    pub async fn share(&self, r: &AuditRecord) -> Result<(), String> {
        self.flush_pending().await?;
        self.insert(r).await
    }

    /// Shares the record, or keeps it in the pending file when the store cannot take it.
    /// `Err` says why it is not shared yet (it is queued, unless the queue file failed too).
    pub async fn share_or_queue(&self, r: &AuditRecord) -> Result<(), String> {
        match self.share(r).await {
            Ok(()) => Ok(()),
            Err(why) => {
                let why = self.unreachable(&why);
                let _one = self.flushing.lock().await;
                let queue = AuditLog::at(self.pending_path.clone());
                let record = r.clone();
                let queued = tokio::task::spawn_blocking(move || queue.append(&record)).await;
                match queued {
                    Ok(Ok(())) => Err(format!("not shared yet: {why}")),
                    Ok(Err(e)) => Err(format!("not shared: {why}; queueing failed too: {e}")),
                    Err(e) => Err(format!("not shared: {why}; queueing failed too: {e}")),
                }
            }
        }
    }

    /// Records waiting to be shared.
    pub fn pending(&self) -> Vec<AuditRecord> {
        AuditLog::at(self.pending_path.clone())
            .read_all()
            .map(|r| r.records)
            .unwrap_or_default()
    }

    /// Sends what waits in the pending file, then empties it. Returns how many were sent.
    pub async fn flush_pending(&self) -> Result<usize, String> {
        let _one = self.flushing.lock().await;
        let waiting = self.pending();
        if waiting.is_empty() {
            return Ok(0);
        }
        for r in &waiting {
            self.insert(r).await?;
        }
        // Everything is in the store: the queue starts again empty. A crash before this line
        // resends records the store then ignores.
        let path = self.pending_path.clone();
        tokio::task::spawn_blocking(move || std::fs::write(&path, b""))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("the pending file could not be emptied: {e}"))?;
        Ok(waiting.len())
    }
}
