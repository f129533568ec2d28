//! `credentials.toml`: passwords and tokens kept beside `profiles.toml` on a machine without an
//! OS keyring (over SSH, on servers), written by `scaleboard secret set`.
//!
//! The rules are those of `~/.pgpass`, kubeconfig and Docker's `config.json`: the file holds
//! plain text, so it must be readable by its owner only. It is created with mode 0600 (the mode
//! is given when the file is created, never set afterwards, so it is never readable by others,
//! not even for a moment), and a file whose mode lets the group or others in is refused, both for
//! reading and for writing, with the `chmod 600` that fixes it.
//!
//! Layout: one table per keyring service, one `"account" = "secret"` line per entry, the same
//! names as the keyring entries the profiles name (see [`SecretRef`]):
//!
//! ```toml
//! [scaleboard]
//! "prod/rabbitmq/mq" = "…"
//! ```
//!
//! Nothing here ever prints or logs a value: errors name the file and the line, never its text.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::model::SecretRef;

/// The file's name, in the config dir beside `profiles.toml`.
pub const FILE_NAME: &str = "credentials.toml";

const HEADER: &str = "\
# Scaleboard credentials: passwords and tokens of the endpoints in profiles.toml, kept here by
# `scaleboard secret set` because this machine has no OS keyring. Plain text: keep this file
# private (mode 0600, `chmod 600 credentials.toml`); Scaleboard refuses it when others can read it.
# Edit with `scaleboard secret set|delete PROFILE/ENDPOINT`; `scaleboard secret list` shows what
# is found where, without the values.

";

/// Why the credentials file could not be used. Messages name the file, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "{path} can be read or written by other users (mode {mode:04o}), so Scaleboard will not \
         use it. Fix it with: chmod 600 {path}"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("{path} is not a regular file")]
    NotAFile { path: String },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "{path} is damaged at line {line}: expected `[service]` tables of `\"account\" = \"secret\"` \
         lines (fix or delete the file, then `scaleboard secret set` again)"
    )]
    Damaged { path: String, line: usize },
    #[error("cannot write {path}: {reason}")]
    Unwritable { path: String, reason: String },
}

/// The entries of the file: service → account → secret. Its `Debug` shows no value.
#[derive(Default, Clone, PartialEq, Eq)]
struct Entries(BTreeMap<String, BTreeMap<String, String>>);

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .0
            .iter()
            .flat_map(|(s, a)| a.keys().map(move |a| format!("{s}:{a}")))
            .collect();
        f.debug_tuple("Entries").field(&names).finish()
    }
}

/// The credentials file of one config dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsFile {
    path: PathBuf,
}

impl CredentialsFile {
    /// `credentials.toml` in `config_dir` (beside `profiles.toml`).
    pub fn in_dir(config_dir: &Path) -> Self {
        Self {
            path: config_dir.join(FILE_NAME),
        }
    }

    /// A file at any path (tests).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    /// Whether the file exists (whatever its mode).
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Refuses a file that is not a regular file or that others may read or write.
    fn check(&self, meta: &std::fs::Metadata) -> Result<(), CredentialsError> {
        if !meta.is_file() {
            return Err(CredentialsError::NotAFile { path: self.shown() });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(CredentialsError::TooOpen {
                    path: self.shown(),
                    mode,
                });
            }
        }
        Ok(())
    }

    /// The entries, or None when there is no file.
    fn read(&self) -> Result<Option<Entries>, CredentialsError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CredentialsError::Unreadable {
                    path: self.shown(),
                    reason: e.to_string(),
                });
            }
        };
        self.check(&meta)?;
        let text =
            std::fs::read_to_string(&self.path).map_err(|e| CredentialsError::Unreadable {
                path: self.shown(),
                reason: e.to_string(),
            })?;
        // The parser's own message may quote the line (and so a secret): only the line number
        // leaves this function.
        toml::from_str::<BTreeMap<String, BTreeMap<String, String>>>(&text)
            .map(|m| Some(Entries(m)))
            .map_err(|e| CredentialsError::Damaged {
                path: self.shown(),
                line: e.span().map_or(1, |s| {
                    text[..s.start.min(text.len())].lines().count().max(1)
                }),
            })
    }

    /// Checks the file can be used: absent, or a private regular file that parses.
    pub fn verify(&self) -> Result<(), CredentialsError> {
        self.read().map(drop)
    }

    /// The secret kept for `r`, if any.
    pub fn get(&self, r: &SecretRef) -> Result<Option<String>, CredentialsError> {
        Ok(self
            .read()?
            .and_then(|e| e.0.get(&r.service)?.get(&r.account).cloned()))
    }

    /// The entries kept, as references (no values).
    pub fn list(&self) -> Result<Vec<SecretRef>, CredentialsError> {
        Ok(self
            .read()?
            .map(|e| {
                e.0.iter()
                    .flat_map(|(s, accounts)| {
                        accounts.keys().map(move |a| SecretRef {
                            service: s.clone(),
                            account: a.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Keeps `value` for `r`, creating the file (mode 0600) when there is none.
    pub fn set(&self, r: &SecretRef, value: &str) -> Result<(), CredentialsError> {
        let mut entries = self.read()?.unwrap_or_default();
        entries
            .0
            .entry(r.service.clone())
            .or_default()
            .insert(r.account.clone(), value.to_owned());
        self.write(&entries)
    }

    /// Removes the entry for `r`; true when there was one. The file goes when it empties.
    pub fn delete(&self, r: &SecretRef) -> Result<bool, CredentialsError> {
        let Some(mut entries) = self.read()? else {
            return Ok(false);
        };
        let removed = entries
            .0
            .get_mut(&r.service)
            .and_then(|a| a.remove(&r.account))
            .is_some();
        if !removed {
            return Ok(false);
        }
        entries.0.retain(|_, a| !a.is_empty());
        if entries.0.is_empty() {
            std::fs::remove_file(&self.path).map_err(|e| self.unwritable(&e))?;
        } else {
            self.write(&entries)?;
        }
        Ok(true)
    }

    fn unwritable(&self, e: &dyn fmt::Display) -> CredentialsError {
        CredentialsError::Unwritable {
            path: self.shown(),
            reason: e.to_string(),
        }
    }

    /// Writes the whole file atomically: a new file created with mode 0600 in the same dir,
    /// synced, then renamed over the old one (which keeps the new file's mode).
    fn write(&self, entries: &Entries) -> Result<(), CredentialsError> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.unwritable(&e))?;
        let body = toml::to_string(&entries.0).map_err(|e| self.unwritable(&e))?;
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let result = (|| -> std::io::Result<()> {
            let mut file = match create_private(&tmp) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Left by a process of the same id that died mid-write.
                    std::fs::remove_file(&tmp)?;
                    create_private(&tmp)?
                }
                other => other?,
            };
            file.write_all(HEADER.as_bytes())?;
            file.write_all(body.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| self.unwritable(&e))
    }
}

/// Creates a new file that only its owner can read and write, with that mode from the start.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn set_get_delete_round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::in_dir(&dir.path().join("config"));
        let a = SecretRef::new("prod/rabbitmq/mq");
        let b = SecretRef::new("prod/redis/cache \"x\"");
        assert_eq!(file.get(&a).unwrap(), None);
        file.set(&a, "p=w\"\n'd").unwrap();
        file.set(&b, "second").unwrap();
        #[cfg(unix)]
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(file.get(&a).unwrap().as_deref(), Some("p=w\"\n'd"));
        assert_eq!(file.get(&b).unwrap().as_deref(), Some("second"));
        assert_eq!(file.list().unwrap(), vec![a.clone(), b.clone()]);
        assert!(file.delete(&a).unwrap());
        assert!(!file.delete(&a).unwrap());
        assert_eq!(file.get(&a).unwrap(), None);
        assert!(file.delete(&b).unwrap());
        assert!(!file.exists(), "an empty file is removed");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("config"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused_for_reading_and_writing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::in_dir(dir.path());
        let r = SecretRef::new("p/rabbitmq/mq");
        file.set(&r, "hidden-value").unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = file.get(&r).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("mode 0644"), "{text}");
        assert!(
            text.contains(&format!("chmod 600 {}", file.path().display())),
            "{text}"
        );
        assert!(matches!(
            file.set(&r, "new"),
            Err(CredentialsError::TooOpen { .. })
        ));
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(file.verify().is_err());
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(file.get(&r).unwrap().as_deref(), Some("hidden-value"));
    }

    #[test]
    fn a_damaged_file_names_the_line_not_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::in_dir(dir.path());
        create_private(file.path())
            .unwrap()
            .write_all(b"[scaleboard]\n\"a\" = \"ok\"\n\"b\" = hidden-value\n")
            .unwrap();
        let err = file.get(&SecretRef::new("a")).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains("hidden-value"), "{err}");
        assert!(!format!("{:?}", file.read()).contains("hidden-value"));
    }

    #[test]
    fn debug_of_entries_hides_values() {
        let mut e = Entries::default();
        e.0.entry("s".into())
            .or_default()
            .insert("a".into(), "hidden-value".into());
        let shown = format!("{e:?}");
        assert!(
            shown.contains("s:a") && !shown.contains("hidden-value"),
            "{shown}"
        );
    }
}
