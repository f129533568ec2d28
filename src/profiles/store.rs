//! The profile file: `profiles.toml` in the config dir, with `[[profile]]` tables and a top-level
//! `last_used = "name"`.
//!
//! Loading never fails hard. A missing file is an empty store; a damaged one (bad TOML, wrong
//! types, not UTF-8, unreadable) is reported through [`ProfileStore::damaged`] with line and column,
//! and then every save is refused so the damaged file stays exactly as it was.
//!
//! Every write is atomic: a temp file in the same directory is written, flushed and synced, then
//! renamed over `profiles.toml`, and the directory is synced. Profiles are validated before any
//! write; invalid ones are refused with the problems listed.
//!
//! This does blocking file I/O: call it off the UI thread.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::model::Profile;
use super::validate::{Problem, validate_set};

/// File name of the profile store inside the config dir.
pub const PROFILES_FILE: &str = "profiles.toml";

const HEADER: &str = "# Scaleboard connection profiles.\n\
# Passwords and tokens are kept in the OS keyring, never in this file.\n\n";

/// Where and why the profile file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFileError {
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ProfileFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, ", line {l}, column {c}")?,
            (Some(l), None) => write!(f, ", line {l}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ProfileFileError {}

/// Why a change to the profile store was not saved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the profile file is damaged, so nothing was saved and it was left untouched \
         (fix it or move it aside, then reopen): {0}"
    )]
    Damaged(ProfileFileError),
    #[error("the profiles were not saved: {}", list(.0))]
    Invalid(Vec<Problem>),
    #[error("there is no profile named \"{0}\"")]
    NotFound(String),
    #[error("a profile named \"{0}\" already exists")]
    AlreadyExists(String),
    #[error("could not write the profile file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("could not write the profiles as TOML: {0}")]
    Serialize(String),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProfileFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used: Option<String>,
    #[serde(default, rename = "profile")]
    profiles: Vec<Profile>,
}

/// The saved profiles, loaded from and written back to `profiles.toml`.
#[derive(Debug)]
pub struct ProfileStore {
    path: PathBuf,
    profiles: Vec<Profile>,
    last_used: Option<String>,
    damaged: Option<ProfileFileError>,
}

impl ProfileStore {
    /// Reads `<config_dir>/profiles.toml`. Never fails: see [`ProfileStore::damaged`].
    pub fn load(config_dir: &Path) -> Self {
        let path = config_dir.join(PROFILES_FILE);
        let mut store = Self {
            path,
            profiles: Vec::new(),
            last_used: None,
            damaged: None,
        };
        match read_file(&store.path) {
            Ok(Some(file)) => {
                store.profiles = file.profiles;
                store.last_used = file.last_used;
            }
            Ok(None) => {}
            Err(e) => {
                log::warn!("profile file damaged: {e}");
                store.damaged = Some(e);
            }
        }
        store
    }

    /// Full path of `profiles.toml`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Set when the file exists but could not be read; every save is then refused.
    pub fn damaged(&self) -> Option<&ProfileFileError> {
        self.damaged.as_ref()
    }

    /// The saved profiles, in file order.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The profile with exactly this name.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Name of the profile opened last time, as written in the file.
    pub fn last_used(&self) -> Option<&str> {
        self.last_used.as_deref()
    }

    /// The profile opened last time, if it still exists.
    pub fn last_used_profile(&self) -> Option<&Profile> {
        self.last_used.as_deref().and_then(|n| self.get(n))
    }

    /// Problems with the profiles as loaded (e.g. a hand-edited file); empty when all is well.
    pub fn problems(&self) -> Vec<Problem> {
        validate_set(&self.profiles)
    }

    /// Replaces every saved profile. `last_used` is kept if it still names a profile.
    pub fn save(&mut self, profiles: Vec<Profile>) -> Result<(), StoreError> {
        let last_used = self
            .last_used
            .clone()
            .filter(|n| profiles.iter().any(|p| &p.name == n));
        self.commit(profiles, last_used)
    }

    /// Adds the profile, or replaces the one with the same name.
    pub fn upsert(&mut self, profile: Profile) -> Result<(), StoreError> {
        let mut profiles = self.profiles.clone();
        match profiles.iter_mut().find(|p| p.name == profile.name) {
            Some(existing) => *existing = profile,
            None => profiles.push(profile),
        }
        self.commit(profiles, self.last_used.clone())
    }

    /// Renames a profile (and `last_used` with it).
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), StoreError> {
        if old != new && self.get(new).is_some() {
            return Err(StoreError::AlreadyExists(new.to_owned()));
        }
        let mut profiles = self.profiles.clone();
        let Some(p) = profiles.iter_mut().find(|p| p.name == old) else {
            return Err(StoreError::NotFound(old.to_owned()));
        };
        new.clone_into(&mut p.name);
        let last_used = match &self.last_used {
            Some(n) if n == old => Some(new.to_owned()),
            other => other.clone(),
        };
        self.commit(profiles, last_used)
    }

    /// Saves a copy of `name` as `new_name`, placed right after the original.
    pub fn duplicate(&mut self, name: &str, new_name: &str) -> Result<(), StoreError> {
        if self.get(new_name).is_some() {
            return Err(StoreError::AlreadyExists(new_name.to_owned()));
        }
        let Some(index) = self.profiles.iter().position(|p| p.name == name) else {
            return Err(StoreError::NotFound(name.to_owned()));
        };
        let mut copy = self.profiles[index].clone();
        new_name.clone_into(&mut copy.name);
        let mut profiles = self.profiles.clone();
        profiles.insert(index + 1, copy);
        self.commit(profiles, self.last_used.clone())
    }

    /// Removes a profile. Its keyring entries are not touched (see `Profile::secret_refs`).
    pub fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        if self.get(name).is_none() {
            return Err(StoreError::NotFound(name.to_owned()));
        }
        let profiles: Vec<Profile> = self
            .profiles
            .iter()
            .filter(|p| p.name != name)
            .cloned()
            .collect();
        let last_used = self.last_used.clone().filter(|n| n != name);
        self.commit(profiles, last_used)
    }

    /// Records which profile was opened; `None` forgets it. The name must be a saved profile.
    pub fn set_last_used(&mut self, name: Option<&str>) -> Result<(), StoreError> {
        if let Some(n) = name
            && self.get(n).is_none()
        {
            return Err(StoreError::NotFound(n.to_owned()));
        }
        self.commit(self.profiles.clone(), name.map(str::to_owned))
    }

    /// Validates, writes atomically, and only then updates the in-memory copy.
    fn commit(
        &mut self,
        profiles: Vec<Profile>,
        last_used: Option<String>,
    ) -> Result<(), StoreError> {
        if let Some(d) = &self.damaged {
            return Err(StoreError::Damaged(d.clone()));
        }
        let problems = validate_set(&profiles);
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }
        let file = ProfileFile {
            last_used,
            profiles,
        };
        let body = toml::to_string(&file).map_err(|e| StoreError::Serialize(e.to_string()))?;
        let text = format!("{HEADER}{body}");
        write_atomic(&self.path, text.as_bytes()).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.profiles = file.profiles;
        self.last_used = file.last_used;
        Ok(())
    }
}

/// `Ok(None)` when the file does not exist.
fn read_file(path: &Path) -> Result<Option<ProfileFile>, ProfileFileError> {
    read_toml(path)
}

/// Reads a TOML settings file (profiles, cost models): `Ok(None)` when it does not exist; a
/// damaged file is reported with the line and column of the problem, in words.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, ProfileFileError> {
    let err = |line, column, message: String| ProfileFileError {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(None, None, format!("could not read the file: {e}"))),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
            let (l, c) = line_column(&valid, valid.len());
            return Err(err(
                Some(l),
                Some(c),
                "the file is not valid UTF-8 text".to_owned(),
            ));
        }
    };
    toml::from_str::<T>(text).map(Some).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        err(line, column, e.message().trim().to_owned())
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` atomically: temp file in the same dir, flush, fsync, rename, fsync dir.
/// The temp file is removed if anything fails before the rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.flush()?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(&dir);
    Ok(())
}

/// Makes the rename durable. Directories cannot be opened for syncing on every platform, so a
/// failure here is logged, not returned: the data itself is already synced.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        log::warn!("could not sync directory {}: {e}", dir.display());
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::model::{
        HealthEndpoint, KubernetesEndpoint, PostgresEndpoint, PrometheusEndpoint, RabbitMqEndpoint,
        RedisEndpoint, SecretRef,
    };
    use crate::profiles::secrets::{SecretBackend, Secrets, SessionSecrets};
    use std::sync::Arc;

    fn full_profile(name: &str) -> Profile {
        let mut p = Profile::named(name);
        p.refresh_interval_secs = 5;
        p.read_only = true;
        p.kubernetes.push(KubernetesEndpoint {
            name: "k".into(),
            kubeconfig: Some("/home/u/.kube/config".into()),
            contexts: vec!["prod".into()],
            namespaces: vec!["web".into(), "api".into()],
        });
        p.postgres.push(PostgresEndpoint {
            name: "main".into(),
            primary_dsn: "postgres://app@db1/app".into(),
            replica_dsns: vec!["host=db2 user=app dbname=app".into()],
            password: Some(SecretRef::new(format!("{name}/postgres/main"))),
            ..PostgresEndpoint::default()
        });
        p.redis.push(RedisEndpoint {
            name: "cache".into(),
            url: "redis://cache:6379/0".into(),
            password: Some(SecretRef::new(format!("{name}/redis/cache"))),
            ..Default::default()
        });
        p.rabbitmq = Some(RabbitMqEndpoint {
            name: "mq".into(),
            management_url: "http://mq:15672".into(),
            user: "ops".into(),
            password: None,
            vhost: Some("/".into()),
            ..Default::default()
        });
        p.health.push(HealthEndpoint {
            name: "web".into(),
            url: "https://web/healthz".into(),
            body_contains: Some("ok".into()),
            ..HealthEndpoint::default()
        });
        p.prometheus = Some(PrometheusEndpoint {
            name: "prom".into(),
            url: "http://prom:9090".into(),
            presets: vec![crate::profiles::PromPreset::P95LatencyMs],
            queries: vec![crate::profiles::PromQuery {
                name: "rps".into(),
                expr: "sum(rate(http_requests_total[1m]))".into(),
                unit: "req/s".into(),
            }],
            ..PrometheusEndpoint::default()
        });
        p.thresholds.error_rate_percent = 1.5;
        p
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::load(dir.path());
        assert!(store.profiles().is_empty());
        assert!(store.damaged().is_none());
        assert!(store.last_used().is_none());
    }

    #[test]
    fn round_trip_and_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ProfileStore::load(dir.path());
        let profiles = vec![full_profile("prod"), Profile::demo_default()];
        store.save(profiles.clone()).unwrap();
        store.set_last_used(Some("prod")).unwrap();

        let again = ProfileStore::load(dir.path());
        assert!(again.damaged().is_none());
        assert_eq!(again.profiles(), profiles.as_slice());
        assert_eq!(again.last_used(), Some("prod"));
        assert_eq!(again.last_used_profile(), Some(&profiles[0]));
        assert_eq!(dir_entries(dir.path()), vec![PROFILES_FILE.to_owned()]);

        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("[[profile]]"), "{text}");
        assert!(text.contains("last_used = \"prod\""), "{text}");
    }

    #[test]
    fn older_files_load_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(PROFILES_FILE),
            "[[profile]]\nname = \"old\"\n[[profile.health]]\nname = \"h\"\nurl = \"http://x\"\n",
        )
        .unwrap();
        let store = ProfileStore::load(dir.path());
        assert!(store.damaged().is_none(), "{:?}", store.damaged());
        let p = &store.profiles()[0];
        assert_eq!(p.refresh_interval_secs, 2);
        assert_eq!(p.health[0].expected_status, 200);
        assert_eq!(p.health[0].timeout_ms, 2000);
        assert_eq!(p.thresholds.queue_depth, 1000);
        assert!(store.problems().is_empty());
    }

    #[test]
    fn damaged_file_reports_position_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROFILES_FILE);
        let original =
            b"last_used = \"a\"\n[[profile]]\nname = \"a\"\nrefresh_interval_secs = = 3\n";
        fs::write(&path, original).unwrap();

        let mut store = ProfileStore::load(dir.path());
        let d = store.damaged().expect("damaged").clone();
        assert_eq!(d.line, Some(4), "{d}");
        assert_eq!(d.column, Some(25), "{d}");
        assert!(d.to_string().contains("line 4, column 25"), "{d}");

        assert!(matches!(
            store.save(vec![Profile::named("b")]),
            Err(StoreError::Damaged(_))
        ));
        assert!(store.upsert(Profile::named("c")).is_err());
        assert!(store.set_last_used(None).is_err());
        assert!(store.delete("a").is_err());
        assert_eq!(fs::read(&path).unwrap(), original);
        assert_eq!(dir_entries(dir.path()), vec![PROFILES_FILE.to_owned()]);
    }

    #[test]
    fn schema_error_is_damage_with_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROFILES_FILE);
        let original = "[[profile]]\nname = \"a\"\nrefresh_interval_secs = \"fast\"\n";
        fs::write(&path, original).unwrap();
        let mut store = ProfileStore::load(dir.path());
        let d = store.damaged().expect("damaged").clone();
        assert_eq!(d.line, Some(3), "{d}");
        assert!(store.upsert(Profile::named("b")).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), original);
    }

    #[test]
    fn non_utf8_file_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(PROFILES_FILE), b"# ok\nname = \"\xff\"\n").unwrap();
        let store = ProfileStore::load(dir.path());
        let d = store.damaged().expect("damaged");
        assert_eq!((d.line, d.column), (Some(2), Some(9)));
    }

    #[test]
    fn duplicate_rename_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ProfileStore::load(dir.path());
        store.upsert(full_profile("prod")).unwrap();
        store.upsert(Profile::named("staging")).unwrap();
        store.set_last_used(Some("prod")).unwrap();

        store.duplicate("prod", "prod copy").unwrap();
        let names: Vec<&str> = store.profiles().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["prod", "prod copy", "staging"]);
        assert!(matches!(
            store.duplicate("prod", "staging"),
            Err(StoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            store.duplicate("nope", "x"),
            Err(StoreError::NotFound(_))
        ));

        store.rename("prod", "production").unwrap();
        assert_eq!(store.last_used(), Some("production"));
        assert!(matches!(
            store.rename("production", "staging"),
            Err(StoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            store.rename("production", ""),
            Err(StoreError::Invalid(_))
        ));

        store.delete("production").unwrap();
        assert_eq!(store.last_used(), None);
        assert!(matches!(
            store.delete("production"),
            Err(StoreError::NotFound(_))
        ));

        let again = ProfileStore::load(dir.path());
        let names: Vec<&str> = again.profiles().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["prod copy", "staging"]);
        assert_eq!(again.get("prod copy").unwrap().postgres.len(), 1);
    }

    #[test]
    fn embedded_password_is_refused_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ProfileStore::load(dir.path());
        let mut p = Profile::named("prod");
        p.postgres.push(PostgresEndpoint {
            name: "main".into(),
            primary_dsn: "postgres://u:secret@h/db".into(),
            ..PostgresEndpoint::default()
        });
        let err = store.upsert(p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("put the password in the keyring"), "{msg}");
        assert!(msg.contains("postgres[main].primary_dsn"), "{msg}");
        assert!(store.profiles().is_empty());
        assert!(!store.path().exists());
        assert!(dir_entries(dir.path()).is_empty());
    }

    #[test]
    fn secrets_never_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::with_backend(
            Arc::new(SessionSecrets::new()),
            std::time::Duration::from_secs(5),
        );
        let p = full_profile("prod");
        let value = "s3cr3t-Value-that-must-not-leak";
        for r in p.secret_refs() {
            secrets.set(&r, value).unwrap();
        }
        let mut store = ProfileStore::load(dir.path());
        store.upsert(p.clone()).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(value), "{text}");
        assert!(text.contains("prod/postgres/main"), "{text}");
        assert_eq!(secrets.get(&p.secret_refs()[0]).unwrap(), value);
    }
}
