//! Passwords and tokens: kept in the OS keyring, or in memory for this run when there is none.
//!
//! The API is synchronous, and keyring calls can block (D-Bus round trips, an unlock prompt), so
//! **callers must not call it on the UI thread**: use the engine's `tokio::task::spawn_blocking`
//! or another worker thread.
//!
//! [`Secrets`] runs every keyring call on a dedicated std thread that it owns, and waits for the
//! answer with a time limit. Two reasons:
//! - keyring 3 with `async-secret-service` + `tokio` drives D-Bus through zbus's `block_on`, which
//!   starts a private tokio runtime on the calling thread. That panics ("Cannot start a runtime
//!   from within a runtime") if the caller is inside an async task, and keyring's own docs warn of
//!   deadlocks when called from a thread that runs tokio. A plain thread of our own is always safe,
//!   whoever calls us.
//! - A keyring that never answers (a locked collection waiting on a prompt nobody sees) must not
//!   hang the engine: after the time limit the keyring is treated as unavailable for this run.
//!
//! When the keyring is unavailable, [`Secrets`] says so through [`Secrets::keyring_status`] and
//! keeps secrets in [`SessionSecrets`] (memory only, never written anywhere) for this run. That
//! is the normal case over SSH and on servers, so it is quiet: nothing is printed or logged above
//! debug level when the keyring is missing. The keyring is only mentioned where a secret is
//! actually needed and not found (see [`Resolver::lookup`]).
//!
//! ## Where an endpoint's secret is found
//!
//! [`Resolver`] looks, first found wins:
//! 1. the environment variable of the endpoint, `SCALEBOARD_SECRET_<PROFILE>_<ENDPOINT>`
//!    ([`EndpointSecret::env_names`]): explicit, per endpoint, and what services and CI set;
//! 2. the OS keyring (or this run's memory when there is none), under the entry the profile names
//!    or `<profile>/<kind>/<endpoint>`;
//! 3. `credentials.toml` beside `profiles.toml` ([`CredentialsFile`]), where `scaleboard secret
//!    set` writes when there is no keyring;
//! 4. then the connectors apply their ecosystem's convention: `PGPASSWORD` and the libpq password
//!    file for PostgreSQL, `REDISCLI_AUTH` for Redis (kubeconfig and Docker carry their own auth).
//!
//! `SCALEBOARD_KEYRING=off` turns the OS keyring off for the process (tests, or a desktop whose
//! locked keyring should not be asked).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use super::credentials_file::{CredentialsError, CredentialsFile};
use super::model::{EndpointKind, Profile, SecretRef};

/// How long [`Secrets::new`] waits for one keyring call before giving up on the keyring.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Account used to probe whether the keyring answers at all (it is only read, never written).
const PROBE_ACCOUNT: &str = "__scaleboard_keyring_probe__";

/// Why a secret could not be read, stored or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the system keyring is not available: {0}")]
    KeyringUnavailable(String),
    #[error("no password or token is stored for this entry")]
    NotFound,
    #[error("the keyring could not handle this entry: {0}")]
    Other(String),
    /// Found nowhere: says where it was looked for and how to give one.
    #[error("{0}")]
    Missing(String),
    /// A source that must be fixed by hand (the credentials file).
    #[error("{0}")]
    Credentials(#[from] CredentialsError),
}

/// Somewhere secrets can be kept.
pub trait SecretBackend: Send + Sync {
    fn get(&self, r: &SecretRef) -> Result<String, SecretError>;
    fn set(&self, r: &SecretRef, value: &str) -> Result<(), SecretError>;
    fn delete(&self, r: &SecretRef) -> Result<(), SecretError>;
}

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows),
/// called directly on the calling thread. Prefer [`Secrets`], which adds a thread and a timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyringBackend;

fn map_keyring_error(e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoEntry => SecretError::NotFound,
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            SecretError::KeyringUnavailable(e.to_string())
        }
        other => SecretError::Other(other.to_string()),
    }
}

fn entry(r: &SecretRef) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(&r.service, &r.account).map_err(map_keyring_error)
}

impl SecretBackend for KeyringBackend {
    fn get(&self, r: &SecretRef) -> Result<String, SecretError> {
        entry(r)?.get_password().map_err(map_keyring_error)
    }

    fn set(&self, r: &SecretRef, value: &str) -> Result<(), SecretError> {
        entry(r)?.set_password(value).map_err(map_keyring_error)
    }

    fn delete(&self, r: &SecretRef) -> Result<(), SecretError> {
        entry(r)?.delete_credential().map_err(map_keyring_error)
    }
}

/// Secrets held in memory for this run only; never written anywhere.
#[derive(Default)]
pub struct SessionSecrets {
    values: Mutex<HashMap<SecretRef, String>>,
}

impl SessionSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretRef, String>> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the values.
        f.debug_struct("SessionSecrets")
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl SecretBackend for SessionSecrets {
    fn get(&self, r: &SecretRef) -> Result<String, SecretError> {
        self.lock().get(r).cloned().ok_or(SecretError::NotFound)
    }

    fn set(&self, r: &SecretRef, value: &str) -> Result<(), SecretError> {
        self.lock().insert(r.clone(), value.to_owned());
        Ok(())
    }

    fn delete(&self, r: &SecretRef) -> Result<(), SecretError> {
        self.lock().remove(r).map(drop).ok_or(SecretError::NotFound)
    }
}

/// Whether secrets go to the OS keyring or stay in memory for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringStatus {
    Available,
    /// Secrets are kept in memory for this run only; the reason says why, in plain words.
    Unavailable(String),
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs backend calls on a std thread of its own, with a time limit per call.
struct Worker {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Worker {
    fn start() -> Result<Self, String> {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("scaleboard-keyring".to_owned())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .map_err(|e| format!("could not start the keyring thread: {e}"))?;
        Ok(Self {
            jobs: Mutex::new(Some(tx)),
        })
    }

    fn run<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl FnOnce() -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, SecretError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = reply_tx.send(f());
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|tx| tx.send(job).is_ok());
        if sent != Some(true) {
            return Err(SecretError::KeyringUnavailable(
                "the keyring thread has stopped".to_owned(),
            ));
        }
        match reply_rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(SecretError::KeyringUnavailable(format!(
                "the keyring did not answer within {} seconds",
                timeout.as_secs_f32()
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(SecretError::KeyringUnavailable(
                "the keyring call failed unexpectedly".to_owned(),
            )),
        }
    }
}

/// The app's secret store: the OS keyring when it answers, otherwise memory for this run.
///
/// Blocking: construct and call it off the UI thread (see the module docs).
pub struct Secrets {
    backend: Arc<dyn SecretBackend>,
    worker: Option<Worker>,
    timeout: Duration,
    status: Mutex<KeyringStatus>,
    session: SessionSecrets,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("status", &self.keyring_status())
            .field("timeout", &self.timeout)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// The process-wide store, created (and the keyring probed) on first use. Connectors and
    /// the UI's secret jobs share it, so a secret kept in memory for this run (no keyring) is
    /// seen by both. Blocking on first use: call it off the UI thread.
    pub fn shared() -> &'static Self {
        static SHARED: std::sync::OnceLock<Secrets> = std::sync::OnceLock::new();
        SHARED.get_or_init(Self::from_env)
    }

    /// [`Secrets::new`], unless `SCALEBOARD_KEYRING=off` turns the OS keyring off (then memory
    /// only, and the keyring is never called).
    pub fn from_env() -> Self {
        match std::env::var(KEYRING_ENV) {
            Ok(v) if keyring_turned_off(&v) => {
                Self::session_only(format!("turned off by {KEYRING_ENV}={v}"))
            }
            _ => Self::new(),
        }
    }

    /// Uses the OS keyring, probing it once (bounded by [`DEFAULT_KEYRING_TIMEOUT`]).
    pub fn new() -> Self {
        Self::with_backend(Arc::new(KeyringBackend), DEFAULT_KEYRING_TIMEOUT)
    }

    /// Uses `backend` in place of the OS keyring (tests, or a different store), with a time limit
    /// for each call. Probes it once by reading an entry that is never written.
    pub fn with_backend(backend: Arc<dyn SecretBackend>, timeout: Duration) -> Self {
        let (worker, status) = match Worker::start() {
            Ok(w) => (Some(w), KeyringStatus::Available),
            Err(reason) => (None, KeyringStatus::Unavailable(reason)),
        };
        let secrets = Self {
            backend,
            worker,
            timeout,
            status: Mutex::new(status),
            session: SessionSecrets::new(),
        };
        if secrets.keyring_status() == KeyringStatus::Available {
            // Ok, NotFound or Other all mean the keyring answered; only Unavailable matters,
            // and `keyring_call` records it.
            let _ = secrets.keyring_call(|b, r| b.get(r).map(drop), SecretRef::new(PROBE_ACCOUNT));
        }
        secrets
    }

    /// Only memory, for this run: no keyring is tried.
    pub fn session_only(reason: impl Into<String>) -> Self {
        Self {
            backend: Arc::new(SessionSecrets::new()),
            worker: None,
            timeout: DEFAULT_KEYRING_TIMEOUT,
            status: Mutex::new(KeyringStatus::Unavailable(reason.into())),
            session: SessionSecrets::new(),
        }
    }

    /// Whether the keyring is in use, or why secrets are kept for this run only.
    pub fn keyring_status(&self) -> KeyringStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn mark_unavailable(&self, reason: &str) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if *status == KeyringStatus::Available {
            // Not a warning: no keyring is the normal case on a server. Whoever needs a secret
            // says so, with this reason, where it matters (`Resolver::lookup`).
            log::debug!("keyring unavailable, keeping secrets for this run only: {reason}");
            *status = KeyringStatus::Unavailable(reason.to_owned());
        }
    }

    /// Runs one call against the backend on the worker thread. `None` means the keyring is (now)
    /// unavailable and the caller should use the session store.
    fn keyring_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SecretBackend, &SecretRef) -> Result<T, SecretError> + Send + 'static,
        r: SecretRef,
    ) -> Option<Result<T, SecretError>> {
        if self.keyring_status() != KeyringStatus::Available {
            return None;
        }
        let worker = self.worker.as_ref()?;
        let backend = Arc::clone(&self.backend);
        match worker.run(self.timeout, move || f(backend.as_ref(), &r)) {
            Err(SecretError::KeyringUnavailable(reason)) => {
                self.mark_unavailable(&reason);
                None
            }
            other => Some(other),
        }
    }
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new()
    }
}

impl Secrets {
    /// Reads from the OS keyring only: None when there is no keyring (never this run's memory).
    pub fn keyring_get(&self, r: &SecretRef) -> Option<Result<String, SecretError>> {
        self.keyring_call(|b, r| b.get(r), r.clone())
    }

    /// Writes to the OS keyring only: None when there is no keyring (nothing is kept then).
    pub fn keyring_set(&self, r: &SecretRef, value: &str) -> Option<Result<(), SecretError>> {
        let owned = value.to_owned();
        self.keyring_call(move |b, r| b.set(r, &owned), r.clone())
    }

    /// Removes from the OS keyring (and this run's memory): None when there is no keyring.
    pub fn keyring_delete(&self, r: &SecretRef) -> Option<Result<(), SecretError>> {
        let _ = self.session.delete(r);
        self.keyring_call(|b, r| b.delete(r), r.clone())
    }
}

impl SecretBackend for Secrets {
    fn get(&self, r: &SecretRef) -> Result<String, SecretError> {
        self.keyring_call(|b, r| b.get(r), r.clone())
            .unwrap_or_else(|| self.session.get(r))
    }

    fn set(&self, r: &SecretRef, value: &str) -> Result<(), SecretError> {
        let owned = value.to_owned();
        self.keyring_call(move |b, r| b.set(r, &owned), r.clone())
            .unwrap_or_else(|| self.session.set(r, value))
    }

    fn delete(&self, r: &SecretRef) -> Result<(), SecretError> {
        // Remove any in-memory copy too; report the keyring's answer when it has one.
        let session = self.session.delete(r);
        match self.keyring_call(|b, r| b.delete(r), r.clone()) {
            Some(Err(SecretError::NotFound)) => session,
            Some(result) => result,
            None => session,
        }
    }
}

/// Environment variable that turns the OS keyring off for the process: `off` (or `0`, `no`,
/// `false`, `disabled`).
pub const KEYRING_ENV: &str = "SCALEBOARD_KEYRING";
/// Prefix of the per-endpoint environment variables.
pub const SECRET_ENV_PREFIX: &str = "SCALEBOARD_SECRET_";

/// The names of the secret variables set in this process: kept out of every child process
/// (docker, compose, kubeconfig exec credential plugins).
pub fn secret_env_names() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(SECRET_ENV_PREFIX))
        .collect()
}

fn keyring_turned_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "off" | "0" | "no" | "false" | "disabled" | "none"
    )
}

/// `SCALEBOARD_SECRET_` followed by the parts upper-cased, each character that is not an ASCII
/// letter or digit turned into `_`, joined by `_`: `("prod-eu", "mq")` → `SCALEBOARD_SECRET_PROD_EU_MQ`.
pub fn env_var_name(parts: &[&str]) -> String {
    let mut out = SECRET_ENV_PREFIX.to_owned();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('_');
        }
        out.extend(part.chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        }));
    }
    out
}

/// The word for a kind in secret names: `postgres`, `redis`, `rabbitmq`, `prometheus`, …
pub fn kind_word(kind: EndpointKind) -> &'static str {
    match kind {
        EndpointKind::Kubernetes => "kubernetes",
        EndpointKind::Compose => "compose",
        EndpointKind::Postgres => "postgres",
        EndpointKind::Redis => "redis",
        EndpointKind::RabbitMq => "rabbitmq",
        EndpointKind::Health => "health",
        EndpointKind::Prometheus => "prometheus",
        EndpointKind::Pgbouncer => "pgbouncer",
        EndpointKind::Mysql => "mysql",
        EndpointKind::Patroni => "patroni",
    }
}

/// The password or token of one endpoint of one profile, and every name it can be found under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSecret {
    pub profile: String,
    pub kind: EndpointKind,
    pub endpoint: String,
    /// The keyring entry (and credentials-file entry): the one the profile names, else
    /// `<profile>/<kind>/<endpoint>` in the `scaleboard` service.
    pub reference: SecretRef,
    /// Whether `profiles.toml` names the entry (`password = { account = … }` / `token`).
    pub named_in_profile: bool,
    /// Whether the endpoint cannot work without it: the profile names an entry, or a RabbitMQ
    /// endpoint has a user (basic auth). Others may get one from a source, or need none.
    pub required: bool,
    /// The variable to document for this endpoint: `SCALEBOARD_SECRET_<PROFILE>_<ENDPOINT>`, or
    /// `SCALEBOARD_SECRET_<PROFILE>_<KIND>_<ENDPOINT>` when two endpoints of the profile (of
    /// different kinds) would share the short name.
    pub env_var: String,
    /// `SCALEBOARD_SECRET_<PROFILE>_<KIND>_<ENDPOINT>`, always read first.
    pub qualified_env_var: String,
}

impl EndpointSecret {
    /// Kinds whose endpoints take a password or token from Scaleboard. Kubernetes and Docker
    /// endpoints authenticate through their own configuration (kubeconfig, Docker contexts).
    pub fn takes_secret(kind: EndpointKind) -> bool {
        matches!(
            kind,
            EndpointKind::Postgres
                | EndpointKind::Redis
                | EndpointKind::RabbitMq
                | EndpointKind::Prometheus
                | EndpointKind::Pgbouncer
                | EndpointKind::Mysql
                | EndpointKind::Patroni
        )
    }

    /// Every endpoint of the profile that takes a secret, in the profile's order.
    pub fn all(profile: &Profile) -> Vec<Self> {
        let names: Vec<(EndpointKind, String)> = profile
            .endpoint_names()
            .into_iter()
            .filter(|(k, _)| Self::takes_secret(*k))
            .collect();
        names
            .iter()
            .filter_map(|(kind, name)| {
                // The short name is not read when another endpoint of the profile has it as its
                // short or kind-qualified name.
                let short = env_var_name(&[&profile.name, name]);
                let ambiguous = names.iter().any(|(k, n)| {
                    (k, n) != (kind, name)
                        && (env_var_name(&[&profile.name, n]) == short
                            || env_var_name(&[&profile.name, kind_word(*k), n]) == short)
                });
                Self::build(profile, *kind, name, ambiguous)
            })
            .collect()
    }

    /// The secret of one endpoint, None when it takes none or the profile has no such endpoint.
    pub fn for_endpoint(profile: &Profile, kind: EndpointKind, name: &str) -> Option<Self> {
        Self::all(profile)
            .into_iter()
            .find(|s| s.kind == kind && s.endpoint == name)
    }

    fn build(profile: &Profile, kind: EndpointKind, name: &str, ambiguous: bool) -> Option<Self> {
        let (named, extra_need) = match kind {
            EndpointKind::Postgres => (
                profile
                    .postgres
                    .iter()
                    .find(|e| e.name == name)?
                    .password
                    .clone(),
                false,
            ),
            EndpointKind::Mysql => (
                profile
                    .mysql
                    .iter()
                    .find(|e| e.name == name)?
                    .password
                    .clone(),
                false,
            ),
            EndpointKind::Redis => (
                profile
                    .redis
                    .iter()
                    .find(|e| e.name == name)?
                    .password
                    .clone(),
                false,
            ),
            EndpointKind::RabbitMq => {
                let e = profile.rabbitmq.as_ref().filter(|e| e.name == name)?;
                (e.password.clone(), !e.user.trim().is_empty())
            }
            EndpointKind::Prometheus => (
                profile
                    .prometheus
                    .as_ref()
                    .filter(|e| e.name == name)?
                    .token
                    .clone(),
                false,
            ),
            EndpointKind::Pgbouncer => (
                profile
                    .pgbouncer
                    .iter()
                    .find(|e| e.name == name)?
                    .password
                    .clone(),
                false,
            ),
            EndpointKind::Patroni => {
                let e = profile.patroni.iter().find(|e| e.name == name)?;
                (
                    e.password.clone(),
                    e.username.as_ref().is_some_and(|u| !u.trim().is_empty()),
                )
            }
            _ => return None,
        };
        let qualified_env_var = env_var_name(&[&profile.name, kind_word(kind), name]);
        Some(Self {
            profile: profile.name.clone(),
            kind,
            endpoint: name.to_owned(),
            required: named.is_some() || extra_need,
            named_in_profile: named.is_some(),
            reference: named.unwrap_or_else(|| SecretRef::for_endpoint(&profile.name, kind, name)),
            env_var: if ambiguous {
                qualified_env_var.clone()
            } else {
                env_var_name(&[&profile.name, name])
            },
            qualified_env_var,
        })
    }

    /// Environment variables read for this endpoint, in order.
    pub fn env_names(&self) -> Vec<String> {
        let mut out = vec![self.qualified_env_var.clone()];
        if self.env_var != self.qualified_env_var {
            out.push(self.env_var.clone());
        }
        out
    }

    /// `PROFILE/ENDPOINT`, how the `secret` commands name it; `PROFILE/KIND/ENDPOINT` when
    /// another endpoint of the profile shares its name.
    pub fn address(&self) -> String {
        if self.env_var == self.qualified_env_var {
            format!(
                "{}/{}/{}",
                self.profile,
                kind_word(self.kind),
                self.endpoint
            )
        } else {
            format!("{}/{}", self.profile, self.endpoint)
        }
    }

    /// "password" or "token".
    pub fn what(&self) -> &'static str {
        if self.kind == EndpointKind::Prometheus {
            "token"
        } else {
            "password"
        }
    }

    /// The ecosystem's own places, looked at after Scaleboard's (by the connector).
    pub fn conventions(&self) -> &'static str {
        match self.kind {
            EndpointKind::Postgres | EndpointKind::Pgbouncer => {
                "PGPASSWORD, then the password file (passfile, PGPASSFILE, ~/.pgpass)"
            }
            EndpointKind::Redis => "REDISCLI_AUTH",
            EndpointKind::Mysql => "MYSQL_PWD",
            _ => "",
        }
    }
}

/// Where a secret was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The endpoint's environment variable, by name.
    Environment(String),
    /// The OS keyring.
    Keyring,
    /// This run's memory (given in the window while no keyring answers).
    Memory,
    /// `credentials.toml`.
    CredentialsFile(PathBuf),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment(var) => write!(f, "environment variable {var}"),
            Self::Keyring => f.write_str("system keyring"),
            Self::Memory => f.write_str("this run's memory"),
            Self::CredentialsFile(p) => write!(f, "credentials file {}", p.display()),
        }
    }
}

/// A secret and where it came from. `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    pub source: SecretSource,
}

impl fmt::Debug for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Found")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What is true of secrets on a machine without a keyring, for the window: what is typed there
/// lasts for this run, but the endpoints do read saved secrets from their variables and from
/// the credentials file (`credentials` when known).
pub fn without_keyring_words(why: &str, credentials: Option<&Path>) -> String {
    let file = credentials.map_or_else(
        || "credentials.toml beside profiles.toml".to_owned(),
        |p| p.display().to_string(),
    );
    format!(
        "No OS keyring: {why}. Secrets typed in this window are kept for this run only. Saved \
         secrets are still read: the {SECRET_ENV_PREFIX}… environment variables and {file} \
         (save one with `scaleboard secret set PROFILE/ENDPOINT`)."
    )
}

static CREDENTIALS_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Tells this process where `credentials.toml` is: the config dir, beside `profiles.toml`. Set
/// once at start-up (`main`); without it, [`Resolver::process`] has no credentials file.
pub fn use_credentials_dir(config_dir: &Path) {
    let _ = CREDENTIALS_DIR.set(config_dir.to_path_buf());
}

/// This process's credentials file, when [`use_credentials_dir`] was called.
pub fn process_credentials_file() -> Option<CredentialsFile> {
    CREDENTIALS_DIR.get().map(|d| CredentialsFile::in_dir(d))
}

type EnvReader<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

/// Finds an endpoint's secret: environment variable → keyring → credentials file (the module
/// docs say why in that order). Blocking (keyring, file): call it off the UI thread.
pub struct Resolver<'a> {
    env: EnvReader<'a>,
    secrets: Option<&'a Secrets>,
    credentials: Option<CredentialsFile>,
}

impl fmt::Debug for Resolver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("keyring", &self.secrets.map(Secrets::keyring_status))
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Resolver<'static> {
    /// The process environment, [`Secrets::shared`] and [`process_credentials_file`].
    pub fn process() -> Self {
        Self::new(
            |name| std::env::var(name).ok(),
            Some(Secrets::shared()),
            process_credentials_file(),
        )
    }
}

impl<'a> Resolver<'a> {
    /// Reads variables through `env`, the keyring through `secrets` (None: no keyring tier at
    /// all) and `credentials` (None: no file tier).
    pub fn new(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'a,
        secrets: Option<&'a Secrets>,
        credentials: Option<CredentialsFile>,
    ) -> Self {
        Self {
            env: Box::new(env),
            secrets,
            credentials,
        }
    }

    pub fn credentials_file(&self) -> Option<&CredentialsFile> {
        self.credentials.as_ref()
    }

    pub fn secrets(&self) -> Option<&'a Secrets> {
        self.secrets
    }

    /// The endpoint's environment variable that is set (non-empty), if any.
    pub fn env_value(&self, s: &EndpointSecret) -> Option<(String, String)> {
        s.env_names().into_iter().find_map(|name| {
            (self.env)(&name)
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
    }

    /// The secret and its source; None when no source has it; an error when a source must be
    /// fixed first (a credentials file others can read, or a damaged one).
    pub fn find(&self, s: &EndpointSecret) -> Result<Option<Found>, SecretError> {
        if let Some((name, value)) = self.env_value(s) {
            return Ok(Some(Found {
                value,
                source: SecretSource::Environment(name),
            }));
        }
        if let Some(secrets) = self.secrets {
            match secrets.get(&s.reference) {
                Ok(value) => {
                    let source = if secrets.keyring_status() == KeyringStatus::Available {
                        SecretSource::Keyring
                    } else {
                        SecretSource::Memory
                    };
                    return Ok(Some(Found { value, source }));
                }
                Err(e) => log::debug!("{}: not in the keyring: {e}", s.address()),
            }
        }
        if let Some(file) = &self.credentials {
            match file.get(&s.reference) {
                Ok(Some(value)) => {
                    return Ok(Some(Found {
                        value,
                        source: SecretSource::CredentialsFile(file.path().to_path_buf()),
                    }));
                }
                Ok(None) => {}
                // A refused file (others can read it, or damaged) fails only the endpoints that
                // need a secret from it: the others go on to their ecosystem's convention or
                // need none, and [`Self::missing_message`] names the refusal to those that do.
                Err(e) => log::debug!("{}: credentials file not used: {e}", s.address()),
            }
        }
        Ok(None)
    }

    /// Why the credentials file cannot be used (others can read it, damaged…), if it exists and
    /// is refused.
    pub fn credentials_problem(&self) -> Option<String> {
        let file = self.credentials.as_ref()?;
        file.verify().err().map(|e| e.to_string())
    }

    /// The value, or [`SecretError::Missing`] saying where it was looked for and how to give one.
    pub fn lookup(&self, s: &EndpointSecret) -> Result<String, SecretError> {
        match self.find(s)? {
            Some(found) => {
                log::debug!("{} {}: from the {}", s.address(), s.what(), found.source);
                Ok(found.value)
            }
            None => Err(SecretError::Missing(self.missing_message(s))),
        }
    }

    /// Where a secret was looked for, in words, for an endpoint that has none: the one place
    /// the keyring's absence is mentioned.
    pub fn missing_message(&self, s: &EndpointSecret) -> String {
        let mut looked = vec![format!("environment variable {}", s.env_var)];
        if let Some(secrets) = self.secrets {
            looked.push(match secrets.keyring_status() {
                KeyringStatus::Available => format!("system keyring (no entry {})", s.reference),
                KeyringStatus::Unavailable(why) => format!("system keyring (not available: {why})"),
            });
        }
        if let Some(file) = &self.credentials {
            looked.push(match self.credentials_problem() {
                Some(problem) => format!("the credentials file, which was not read: {problem}"),
                None => format!(
                    "{} ({})",
                    file.path().display(),
                    if file.exists() {
                        "no entry"
                    } else {
                        "no such file"
                    }
                ),
            });
        }
        if !s.conventions().is_empty() {
            looked.push(s.conventions().to_owned());
        }
        format!(
            "no {} for {}: looked in {}. Give one with `scaleboard secret set {}` (reads it \
             without echo, or from stdin) or the environment variable {}",
            s.what(),
            s.address(),
            looked.join(", "),
            s.address(),
            s.env_var
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn reference() -> SecretRef {
        SecretRef::new(format!("test/secrets/{}", std::process::id()))
    }

    /// Whatever this machine has: the keyring or the in-memory fallback must work.
    fn exercise(secrets: &Secrets) {
        let r = reference();
        secrets.set(&r, "pw-1").unwrap();
        assert_eq!(secrets.get(&r).unwrap(), "pw-1");
        secrets.delete(&r).unwrap();
        assert_eq!(secrets.get(&r), Err(SecretError::NotFound));
    }

    #[test]
    fn real_keyring_or_fallback_works_without_hanging() {
        let start = Instant::now();
        let secrets = Secrets::new();
        let status = secrets.keyring_status();
        eprintln!("keyring status on this machine: {status:?}");
        exercise(&secrets);
        // Probe + 3 calls, each bounded by the timeout.
        assert!(start.elapsed() < DEFAULT_KEYRING_TIMEOUT * 5);
        if let KeyringStatus::Unavailable(reason) = status {
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn works_inside_spawn_blocking_on_multi_thread_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::task::spawn_blocking(|| {
                let secrets = Secrets::new();
                exercise(&secrets);
                secrets.keyring_status()
            })
            .await
            .expect("Secrets must not panic inside spawn_blocking")
        });
    }

    #[test]
    fn works_inside_an_async_task() {
        // Even from an async task (which callers should avoid: it blocks a worker), Secrets must
        // not panic, because keyring calls run on its own thread.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::spawn(async {
                let secrets = Secrets::new();
                exercise(&secrets);
            })
            .await
            .expect("Secrets must not panic inside an async task");
        });
    }

    #[test]
    fn raw_keyring_backend_in_spawn_blocking_does_not_panic() {
        // Documents what the keyring crate itself does off our thread; the result may be an error
        // (no Secret Service), but it must not panic.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let result = rt.block_on(async {
            tokio::task::spawn_blocking(|| KeyringBackend.get(&SecretRef::new(PROBE_ACCOUNT))).await
        });
        eprintln!("raw keyring get in spawn_blocking: {result:?}");
        assert!(result.is_ok(), "panicked: {result:?}");
    }

    struct Slow;
    impl SecretBackend for Slow {
        fn get(&self, _: &SecretRef) -> Result<String, SecretError> {
            thread::sleep(Duration::from_secs(30));
            Ok(String::new())
        }
        fn set(&self, _: &SecretRef, _: &str) -> Result<(), SecretError> {
            thread::sleep(Duration::from_secs(30));
            Ok(())
        }
        fn delete(&self, _: &SecretRef) -> Result<(), SecretError> {
            thread::sleep(Duration::from_secs(30));
            Ok(())
        }
    }

    #[test]
    fn a_hanging_keyring_times_out_and_falls_back() {
        let start = Instant::now();
        let secrets = Secrets::with_backend(Arc::new(Slow), Duration::from_millis(100));
        match secrets.keyring_status() {
            KeyringStatus::Unavailable(reason) => assert!(reason.contains("did not answer")),
            KeyringStatus::Available => panic!("a hanging keyring must count as unavailable"),
        }
        exercise(&secrets);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    struct Down;
    impl SecretBackend for Down {
        fn get(&self, _: &SecretRef) -> Result<String, SecretError> {
            Err(SecretError::KeyringUnavailable("no D-Bus".into()))
        }
        fn set(&self, _: &SecretRef, _: &str) -> Result<(), SecretError> {
            Err(SecretError::KeyringUnavailable("no D-Bus".into()))
        }
        fn delete(&self, _: &SecretRef) -> Result<(), SecretError> {
            Err(SecretError::KeyringUnavailable("no D-Bus".into()))
        }
    }

    #[test]
    fn unavailable_keyring_falls_back_to_session() {
        let secrets = Secrets::with_backend(Arc::new(Down), Duration::from_secs(1));
        assert_eq!(
            secrets.keyring_status(),
            KeyringStatus::Unavailable("no D-Bus".into())
        );
        exercise(&secrets);
        let only = Secrets::session_only("test");
        exercise(&only);
    }

    #[test]
    fn available_backend_is_used() {
        let store = Arc::new(SessionSecrets::new());
        let secrets = Secrets::with_backend(store.clone(), Duration::from_secs(1));
        assert_eq!(secrets.keyring_status(), KeyringStatus::Available);
        let r = reference();
        secrets.set(&r, "v").unwrap();
        assert_eq!(store.get(&r).unwrap(), "v");
        assert_eq!(secrets.get(&r).unwrap(), "v");
    }

    #[test]
    fn session_debug_hides_values() {
        let s = SessionSecrets::new();
        s.set(&reference(), "hidden-value").unwrap();
        assert!(!format!("{s:?}").contains("hidden-value"));
    }

    fn profile_with_twins() -> Profile {
        use crate::profiles::model::{PostgresEndpoint, RabbitMqEndpoint, RedisEndpoint};
        let mut p = Profile::named("prod-eu");
        p.rabbitmq = Some(RabbitMqEndpoint {
            name: "mq".into(),
            user: "ops".into(),
            ..RabbitMqEndpoint::default()
        });
        p.redis.push(RedisEndpoint {
            name: "mq".into(),
            ..RedisEndpoint::default()
        });
        p.postgres.push(PostgresEndpoint {
            name: "orders db".into(),
            password: Some(SecretRef::new("custom/entry")),
            ..PostgresEndpoint::default()
        });
        p
    }

    #[test]
    fn env_names_are_upper_case_with_underscores_and_kind_qualified_when_shared() {
        assert_eq!(
            env_var_name(&["prod-eu", "mq"]),
            "SCALEBOARD_SECRET_PROD_EU_MQ"
        );
        assert_eq!(
            env_var_name(&["prod", "café db"]),
            "SCALEBOARD_SECRET_PROD_CAF__DB"
        );
        let p = profile_with_twins();
        let all = EndpointSecret::all(&p);
        let names: Vec<(String, String, bool)> = all
            .iter()
            .map(|s| (s.address(), s.env_var.clone(), s.required))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "prod-eu/orders db".to_owned(),
                    "SCALEBOARD_SECRET_PROD_EU_ORDERS_DB".to_owned(),
                    true
                ),
                (
                    "prod-eu/redis/mq".to_owned(),
                    "SCALEBOARD_SECRET_PROD_EU_REDIS_MQ".to_owned(),
                    false
                ),
                (
                    "prod-eu/rabbitmq/mq".to_owned(),
                    "SCALEBOARD_SECRET_PROD_EU_RABBITMQ_MQ".to_owned(),
                    true
                ),
            ]
        );
        let pg = &all[0];
        assert_eq!(pg.reference, SecretRef::new("custom/entry"));
        assert_eq!(
            pg.env_names(),
            vec![
                "SCALEBOARD_SECRET_PROD_EU_POSTGRES_ORDERS_DB".to_owned(),
                "SCALEBOARD_SECRET_PROD_EU_ORDERS_DB".to_owned()
            ]
        );
        assert_eq!(all[2].reference, SecretRef::new("prod-eu/rabbitmq/mq"));
        assert_eq!(
            all[2].env_names().len(),
            1,
            "the shared short name is not read"
        );
    }

    #[test]
    fn lookup_order_is_environment_then_keyring_then_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::in_dir(dir.path());
        let p = profile_with_twins();
        let rabbit = EndpointSecret::for_endpoint(&p, EndpointKind::RabbitMq, "mq").unwrap();
        let keyring =
            Secrets::with_backend(Arc::new(SessionSecrets::new()), Duration::from_secs(1));
        let env: HashMap<String, String> = HashMap::new();
        let env = Mutex::new(env);
        let resolver = Resolver::new(
            |k| env.lock().unwrap().get(k).cloned(),
            Some(&keyring),
            Some(file.clone()),
        );

        let missing = resolver.lookup(&rabbit).unwrap_err().to_string();
        assert!(
            missing.contains("SCALEBOARD_SECRET_PROD_EU_RABBITMQ_MQ")
                && missing.contains("system keyring (no entry scaleboard:prod-eu/rabbitmq/mq)")
                && missing.contains("no such file")
                && missing.contains("scaleboard secret set prod-eu/rabbitmq/mq"),
            "{missing}"
        );

        file.set(&rabbit.reference, "from-file").unwrap();
        let found = resolver.find(&rabbit).unwrap().unwrap();
        assert_eq!(found.value, "from-file");
        assert_eq!(
            found.source,
            SecretSource::CredentialsFile(file.path().to_path_buf())
        );
        assert!(!format!("{found:?}").contains("from-file"));

        keyring.set(&rabbit.reference, "from-keyring").unwrap();
        let found = resolver.find(&rabbit).unwrap().unwrap();
        assert_eq!(
            (found.value.as_str(), found.source),
            ("from-keyring", SecretSource::Keyring)
        );

        env.lock().unwrap().insert(
            "SCALEBOARD_SECRET_PROD_EU_RABBITMQ_MQ".into(),
            "from-env".into(),
        );
        let found = resolver.find(&rabbit).unwrap().unwrap();
        assert_eq!(found.value, "from-env");
        // An empty variable counts as unset.
        env.lock().unwrap().insert(
            "SCALEBOARD_SECRET_PROD_EU_RABBITMQ_MQ".into(),
            String::new(),
        );
        assert_eq!(resolver.lookup(&rabbit).unwrap(), "from-keyring");
    }

    #[test]
    fn without_a_keyring_the_file_is_used_and_the_reason_is_in_the_missing_message() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::in_dir(dir.path());
        let p = profile_with_twins();
        let redis = EndpointSecret::for_endpoint(&p, EndpointKind::Redis, "mq").unwrap();
        let none = Secrets::with_backend(Arc::new(Down), Duration::from_secs(1));
        assert_eq!(
            none.keyring_set(&redis.reference, "x"),
            None,
            "never kept in memory"
        );
        let resolver = Resolver::new(|_| None, Some(&none), Some(file.clone()));
        let missing = resolver.lookup(&redis).unwrap_err().to_string();
        assert!(
            missing.contains("system keyring (not available: no D-Bus)")
                && missing.contains("REDISCLI_AUTH"),
            "{missing}"
        );
        file.set(&redis.reference, "pw").unwrap();
        assert_eq!(resolver.lookup(&redis).unwrap(), "pw");
    }

    #[test]
    fn without_a_keyring_the_window_says_where_saved_secrets_are_read() {
        let words = without_keyring_words(
            "no Secret Service",
            Some(Path::new("/home/a/.config/scaleboard/credentials.toml")),
        );
        assert!(
            words.starts_with("No OS keyring: no Secret Service. "),
            "{words}"
        );
        assert!(words.contains("typed in this window are kept for this run only"));
        assert!(words.contains("SCALEBOARD_SECRET_"), "{words}");
        assert!(words.contains("/home/a/.config/scaleboard/credentials.toml"));
        assert!(words.contains("scaleboard secret set PROFILE/ENDPOINT"));
        assert!(!words.contains("never written to disk"));
    }

    #[test]
    fn keyring_can_be_turned_off() {
        for v in ["off", "OFF", "0", "false", "no"] {
            assert!(keyring_turned_off(v), "{v}");
        }
        for v in ["", "on", "1", "auto"] {
            assert!(!keyring_turned_off(v), "{v}");
        }
    }
}
