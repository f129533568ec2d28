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
//! keeps secrets in [`SessionSecrets`] (memory only, never written anywhere) for this run.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use super::model::SecretRef;

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
        SHARED.get_or_init(Self::new)
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
            log::warn!("keyring unavailable, keeping secrets for this run only: {reason}");
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
}
