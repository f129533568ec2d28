//! The profile file: `profiles.toml` in the config dir, with `[[profile]]` tables and a top-level
//! `last_used = "name"`.
//!
//! Loading is strict but never all-or-nothing:
//! - a file that is not TOML at all (bad syntax, not UTF-8, unreadable, over [`MAX_FILE_BYTES`])
//!   is reported through [`ProfileStore::damaged`] with line and column, and then every save is
//!   refused so the damaged file stays exactly as it was;
//! - a `[[profile]]` with an unknown key (with a "did you mean"), a value of the wrong type, or a
//!   value the editor would refuse (an embedded password, `refresh_interval_secs = 0`,
//!   `timeout_ms = 0`, …) is *rejected*: it is listed in [`ProfileStore::issues`] with the line
//!   and column of each problem, never returned by [`ProfileStore::get`] (so never connected), and
//!   the other profiles load as usual;
//! - unknown top-level keys (e.g. `[[profiles]]`) are file issues, listed the same way.
//!
//! Writes keep the user's text: each change is applied to the file's own document
//! (`toml_edit`), touching only the keys whose values changed, so comments, order, blank lines
//! and formatting elsewhere stay byte for byte. The file is re-read right before each write, so a
//! hand edit made while the window is open is kept too. Every write is atomic: a temp file in the
//! same directory is written, flushed and synced, then renamed over `profiles.toml`, and the
//! directory is synced. The written text is loaded back before the rename and must yield exactly
//! the profile that was saved.
//!
//! This does blocking file I/O: call it off the UI thread.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{MIB, Profile};
use super::schema::{Shape, shape_of, suggest};
use super::validate::{PathPart, Problem, validate_profile, validate_set};

/// File name of the profile store inside the config dir.
pub const PROFILES_FILE: &str = "profiles.toml";

/// Largest settings file (profiles, cost models) that is read at all: 4 MiB. A profile with a
/// dozen endpoints is 2–4 KiB, so this is room for a thousand such profiles (or 18 000 small
/// ones), far beyond a hand-kept or generated fleet file, while loading it stays around a second
/// even in a debug build (measured: `load_and_save_time_at_the_size_limit` in tests/profiles.rs).
/// A 50 MB file (which took 15 s and 1.5 GB to open) is refused from its size alone.
pub const MAX_FILE_BYTES: u64 = 4 * MIB;

const HEADER: &str = "# Scaleboard connection profiles.\n\
# Passwords and tokens are kept in the OS keyring, never in this file.\n\n";

/// The top-level keys of `profiles.toml`.
const TOP_KEYS: [&str; 2] = ["last_used", "profile"];

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

/// One problem found in `profiles.toml`, at a 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A `[[profile]]` that was not loaded because of its issues: shown, never connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedProfile {
    /// The name as written; empty when it has none (or it is not a string).
    pub name: String,
    /// 1-based position among the file's `[[profile]]` tables.
    pub index: usize,
    /// Line of its `[[profile]]` header.
    pub line: usize,
    pub issues: Vec<Issue>,
}

impl RejectedProfile {
    /// `profile "prod"`, or `profile #3` when it has no name.
    pub fn label(&self) -> String {
        if self.name.trim().is_empty() {
            format!("profile #{}", self.index)
        } else {
            format!("profile \"{}\"", self.name)
        }
    }
}

impl RejectedProfile {
    /// The same as its `Display`, one issue per line (for a terminal).
    pub fn report(&self) -> String {
        let mut out = format!(
            "{} (line {}) has errors and was not loaded:",
            self.label(),
            self.line
        );
        for issue in &self.issues {
            out.push_str("\n  ");
            out.push_str(&issue.to_string());
        }
        out
    }
}

impl fmt::Display for RejectedProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}) has errors and was not loaded: ",
            self.label(),
            self.line
        )?;
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

/// What loading `profiles.toml` refused: problems of the file itself and rejected profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadIssues {
    /// Problems outside any profile (unknown top-level keys, a `last_used` that is not a name).
    pub file: Vec<Issue>,
    pub rejected: Vec<RejectedProfile>,
}

impl LoadIssues {
    pub fn is_empty(&self) -> bool {
        self.file.is_empty() && self.rejected.is_empty()
    }

    /// The rejected profile with exactly this name.
    pub fn rejected(&self, name: &str) -> Option<&RejectedProfile> {
        self.rejected.iter().find(|r| r.name == name)
    }

    /// Every issue as a line of text: file issues first, then each rejected profile.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.file.iter().map(ToString::to_string).collect();
        out.extend(self.rejected.iter().map(ToString::to_string));
        out
    }
}

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
    #[error(
        "the profile \"{0}\" has errors in the file and can only be fixed there \
         (see the list of profiles with errors)"
    )]
    Rejected(String),
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

/// What one reading of the file gave.
#[derive(Debug, Default)]
struct Loaded {
    profiles: Vec<Profile>,
    last_used: Option<String>,
    issues: LoadIssues,
}

impl Loaded {
    fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

/// The saved profiles, loaded from and written back to `profiles.toml`.
#[derive(Debug)]
pub struct ProfileStore {
    path: PathBuf,
    profiles: Vec<Profile>,
    last_used: Option<String>,
    issues: LoadIssues,
    damaged: Option<ProfileFileError>,
}

impl ProfileStore {
    /// Reads `<config_dir>/profiles.toml`. Never fails: see [`ProfileStore::damaged`] and
    /// [`ProfileStore::issues`].
    pub fn load(config_dir: &Path) -> Self {
        let path = config_dir.join(PROFILES_FILE);
        let mut store = Self {
            path,
            profiles: Vec::new(),
            last_used: None,
            issues: LoadIssues::default(),
            damaged: None,
        };
        match read_text(&store.path).and_then(|t| {
            t.map(|t| analyse(&store.path, &t))
                .transpose()
                .map(Option::unwrap_or_default)
        }) {
            Ok(loaded) => {
                // Shown where they matter (the Profiles panel, the command that names the
                // profile), not printed by every command.
                for line in loaded.issues.lines() {
                    log::info!("{}: {line}", store.path.display());
                }
                store.apply(loaded);
            }
            Err(e) => {
                log::warn!("profile file damaged: {e}");
                store.damaged = Some(e);
            }
        }
        store
    }

    fn apply(&mut self, loaded: Loaded) {
        self.profiles = loaded.profiles;
        self.last_used = loaded.last_used;
        self.issues = loaded.issues;
    }

    /// Full path of `profiles.toml`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Set when the file exists but could not be read; every save is then refused.
    pub fn damaged(&self) -> Option<&ProfileFileError> {
        self.damaged.as_ref()
    }

    /// Profiles (and file-level problems) refused on load, with line and column.
    pub fn issues(&self) -> &LoadIssues {
        &self.issues
    }

    /// The profiles that loaded without a problem, in file order: the only ones that connect.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The loaded profile with exactly this name (a rejected one is not returned).
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Name of the profile opened last time, as written in the file.
    pub fn last_used(&self) -> Option<&str> {
        self.last_used.as_deref()
    }

    /// The profile opened last time, if it still exists and loaded.
    pub fn last_used_profile(&self) -> Option<&Profile> {
        self.last_used.as_deref().and_then(|n| self.get(n))
    }

    /// Problems with the loaded profiles; empty, since a profile with problems is rejected on
    /// load (see [`ProfileStore::issues`]). Kept as a cheap invariant check.
    pub fn problems(&self) -> Vec<Problem> {
        validate_set(&self.profiles)
    }

    /// Makes the saved profiles exactly `profiles`: loaded profiles not in the list are
    /// removed, the others written as changes to their own tables, new ones appended.
    /// Rejected profiles are left as they are. `last_used` is kept if it still names a profile.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "kept by value: the callers hand the profiles over"
    )]
    pub fn save(&mut self, profiles: Vec<Profile>) -> Result<(), StoreError> {
        let check = profiles.clone();
        let memory = self.profiles.clone();
        self.edit(
            |store, doc, loaded| {
                let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
                for p in &loaded.profiles {
                    if !names.contains(&p.name.as_str()) {
                        remove_profile(doc, &p.name, loaded.last_used.as_deref());
                    }
                }
                check_set(&profiles, loaded)?;
                for p in &profiles {
                    let old = store.get(&p.name).or_else(|| loaded.get(&p.name));
                    upsert_profile(doc, old, p, None)?;
                }
                Ok(())
            },
            |before, after| {
                after.profiles == check
                    || (before.profiles != memory
                        && check.iter().all(|p| after.get(&p.name).is_some()))
            },
        )
    }

    /// Adds the profile, or changes the one with the same name (only the keys that changed).
    #[expect(
        clippy::needless_pass_by_value,
        reason = "kept by value: the callers hand the profile over"
    )]
    pub fn upsert(&mut self, profile: Profile) -> Result<(), StoreError> {
        let check = profile.clone();
        let in_memory = self.get(&profile.name).cloned();
        self.edit(
            |store, doc, loaded| {
                check_one(&profile, loaded, Some(&profile.name))?;
                let old = store
                    .get(&profile.name)
                    .or_else(|| loaded.get(&profile.name));
                upsert_profile(doc, old, &profile, None)
            },
            // Exactly the saved profile, unless it was also edited by hand meanwhile (then the
            // hand edits to other keys are kept and it only has to load).
            |before, after| match after.get(&check.name) {
                Some(p) => p == &check || before.get(&check.name) != in_memory.as_ref(),
                None => false,
            },
        )
    }

    /// Renames a profile (and `last_used` with it): only its `name` value changes.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), StoreError> {
        if old != new && self.get(new).is_some() {
            return Err(StoreError::AlreadyExists(new.to_owned()));
        }
        let Some(mut renamed) = self.get(old).cloned() else {
            return Err(StoreError::NotFound(old.to_owned()));
        };
        let in_memory = self.get(old).cloned();
        new.clone_into(&mut renamed.name);
        let check = renamed.clone();
        self.edit(
            |_, doc, loaded| {
                if loaded.get(old).is_none() {
                    return Err(StoreError::NotFound(old.to_owned()));
                }
                check_one(&renamed, loaded, Some(old))?;
                let table = profile_table_mut(doc, old)
                    .ok_or_else(|| StoreError::NotFound(old.to_owned()))?;
                set_value(table, "name", new.into());
                if loaded.last_used.as_deref() == Some(old) {
                    set_last_used_value(doc, Some(new));
                }
                Ok(())
            },
            |before, after| match after.get(&check.name) {
                Some(p) => p == &check || before.get(old) != in_memory.as_ref(),
                None => false,
            },
        )
    }

    /// Saves a copy of `name` as `new_name`, placed right after the original.
    pub fn duplicate(&mut self, name: &str, new_name: &str) -> Result<(), StoreError> {
        if self.get(new_name).is_some() {
            return Err(StoreError::AlreadyExists(new_name.to_owned()));
        }
        let Some(mut copy) = self.get(name).cloned() else {
            return Err(StoreError::NotFound(name.to_owned()));
        };
        new_name.clone_into(&mut copy.name);
        let check = copy.clone();
        self.edit(
            |_, doc, loaded| {
                check_one(&copy, loaded, None)?;
                let after = profile_index(doc, name);
                upsert_profile(doc, None, &copy, after.map(|i| i + 1))
            },
            |_, after| after.get(&check.name) == Some(&check),
        )
    }

    /// Removes a profile. Its keyring entries are not touched (see `Profile::secret_refs`).
    pub fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        if self.get(name).is_none() {
            return Err(StoreError::NotFound(name.to_owned()));
        }
        self.edit(
            |_, doc, loaded| {
                if loaded.get(name).is_none() {
                    return Err(StoreError::NotFound(name.to_owned()));
                }
                remove_profile(doc, name, loaded.last_used.as_deref());
                Ok(())
            },
            |_, after| after.get(name).is_none(),
        )
    }

    /// Records which profile was opened; `None` forgets it. The name must be a loaded profile.
    /// Only the `last_used` value is written (nothing at all when it already says so).
    pub fn set_last_used(&mut self, name: Option<&str>) -> Result<(), StoreError> {
        if let Some(n) = name
            && self.get(n).is_none()
        {
            return Err(StoreError::NotFound(n.to_owned()));
        }
        let want = name.map(str::to_owned);
        self.edit(
            |_, doc, loaded| {
                if loaded.last_used.as_deref() != name {
                    set_last_used_value(doc, name);
                }
                Ok(())
            },
            |_, after| after.last_used == want,
        )
    }

    /// Re-reads the file, applies `change` to its document, checks the result loads back as
    /// `expect`ed, writes it atomically, and only then updates the in-memory copy.
    fn edit(
        &mut self,
        change: impl FnOnce(&Self, &mut toml_edit::DocumentMut, &Loaded) -> Result<(), StoreError>,
        expect: impl FnOnce(&Loaded, &Loaded) -> bool,
    ) -> Result<(), StoreError> {
        if let Some(d) = &self.damaged {
            return Err(StoreError::Damaged(d.clone()));
        }
        let damaged = |store: &mut Self, e: ProfileFileError| {
            store.damaged = Some(e.clone());
            StoreError::Damaged(e)
        };
        let text = match read_text(&self.path) {
            Ok(t) => t.unwrap_or_default(),
            Err(e) => return Err(damaged(self, e)),
        };
        let loaded = match analyse(&self.path, &text) {
            Ok(l) => l,
            Err(e) => return Err(damaged(self, e)),
        };
        let mut doc: toml_edit::DocumentMut = match text.parse() {
            Ok(d) => d,
            Err(e) => {
                let e = toml_edit_error(&self.path, &text, &e);
                return Err(damaged(self, e));
            }
        };
        change(self, &mut doc, &loaded)?;
        let mut new_text = doc.to_string();
        if text.trim().is_empty() {
            new_text = format!("{HEADER}{}", new_text.trim_start());
        }
        if new_text == text {
            self.apply(loaded);
            return Ok(());
        }
        let reloaded = analyse(&self.path, &new_text).map_err(|e| {
            StoreError::Serialize(format!(
                "the edited file would not load ({e}); nothing was written"
            ))
        })?;
        if !expect(&loaded, &reloaded) {
            return Err(StoreError::Serialize(
                "the edited file would not load back as saved; nothing was written".to_owned(),
            ));
        }
        write_atomic(&self.path, new_text.as_bytes()).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.apply(reloaded);
        Ok(())
    }
}

/// The profile on its own passes validation, and its name is taken by no other profile of the
/// file (loaded or rejected) except `replacing`.
fn check_one(
    profile: &Profile,
    loaded: &Loaded,
    replacing: Option<&str>,
) -> Result<(), StoreError> {
    let problems = validate_profile(profile);
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    let key = profile.name.trim().to_lowercase();
    if loaded.issues.rejected(&profile.name).is_some() {
        return Err(StoreError::Rejected(profile.name.clone()));
    }
    let clash = loaded
        .profiles
        .iter()
        .map(|p| p.name.as_str())
        .chain(loaded.issues.rejected.iter().map(|r| r.name.as_str()))
        .filter(|n| Some(*n) != replacing)
        .any(|n| n.trim().to_lowercase() == key);
    if clash {
        return Err(StoreError::Invalid(vec![Problem {
            profile: profile.name.clone(),
            field: "name".to_owned(),
            message: format!(
                "another profile is already named \"{}\"",
                profile.name.trim()
            ),
            path: vec![PathPart::Key("name".to_owned())],
        }]));
    }
    Ok(())
}

/// A whole new set of profiles: each valid, names unique among them and the rejected ones.
fn check_set(profiles: &[Profile], loaded: &Loaded) -> Result<(), StoreError> {
    let problems = validate_set(profiles);
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    for p in profiles {
        if loaded.issues.rejected(&p.name).is_some() {
            return Err(StoreError::Rejected(p.name.clone()));
        }
    }
    Ok(())
}

// ----- reading -----------------------------------------------------------------------------

/// The file's text: `Ok(None)` when it does not exist; refused when it is larger than
/// [`MAX_FILE_BYTES`] (checked before reading, and again while reading in case it grows),
/// unreadable or not UTF-8.
fn read_text(path: &Path) -> Result<Option<String>, ProfileFileError> {
    let err = |line, column, message: String| ProfileFileError {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let too_big = |size: u64| {
        err(
            None,
            None,
            format!(
                "the file is {:.1} MiB, larger than the {} MiB a settings file may be; \
                 it was not read (is it the right file?)",
                size as f64 / MIB as f64,
                MAX_FILE_BYTES / MIB
            ),
        )
    };
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(None, None, format!("could not read the file: {e}"))),
    };
    if let Ok(meta) = file.metadata()
        && meta.len() > MAX_FILE_BYTES
    {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(None, None, format!("could not read the file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    match String::from_utf8(bytes) {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            let bytes = e.as_bytes();
            let valid_up_to = e.utf8_error().valid_up_to();
            let valid = String::from_utf8_lossy(&bytes[..valid_up_to]);
            let (l, c) = line_column(&valid, valid.len());
            Err(err(
                Some(l),
                Some(c),
                "the file is not valid UTF-8 text".to_owned(),
            ))
        }
    }
}

/// Reads a TOML settings file (profiles, cost models): `Ok(None)` when it does not exist; a
/// damaged or oversized file is reported with the line and column of the problem, in words.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, ProfileFileError> {
    let Some(text) = read_text(path)? else {
        return Ok(None);
    };
    toml::from_str::<T>(&text)
        .map(Some)
        .map_err(|e| toml_error(path, &text, e.span(), e.message()))
}

fn toml_error(
    path: &Path,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> ProfileFileError {
    let (line, column) = match span {
        Some(span) => {
            let (l, c) = line_column(text, span.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    ProfileFileError {
        path: path.to_path_buf(),
        line,
        column,
        message: message.trim().to_owned(),
    }
}

fn toml_edit_error(path: &Path, text: &str, e: &toml_edit::TomlError) -> ProfileFileError {
    toml_error(path, text, e.span(), e.message())
}

/// The known keys of one `[[profile]]`, traced once from the model.
fn profile_shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| {
        shape_of::<Profile>().unwrap_or_else(|e| {
            log::error!("could not trace the profile schema: {e}");
            Shape::Leaf
        })
    })
}

/// Reads the file's text strictly: bad TOML is an error for the whole file; everything else is
/// sorted into loaded profiles, rejected profiles and file issues.
fn analyse(path: &Path, text: &str) -> Result<Loaded, ProfileFileError> {
    let root = DeTable::parse(text).map_err(|e| toml_error(path, text, e.span(), e.message()))?;
    let lines = LineIndex::new(text);
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, column) = lines.at(span.start);
        Issue {
            line,
            column,
            message,
        }
    };
    let mut out = Loaded::default();
    let mut elements: &[Spanned<DeValue<'_>>] = &[];
    for (key, value) in root.get_ref().iter() {
        match key.get_ref().as_ref() {
            "last_used" => match value.get_ref().as_str() {
                Some(name) => out.last_used = Some(name.to_owned()),
                None => out.issues.file.push(at(
                    value.span(),
                    "`last_used` must be a profile name in quotes".to_owned(),
                )),
            },
            "profile" => match value.get_ref() {
                DeValue::Array(a) => elements = a,
                _ => out.issues.file.push(at(
                    key.span(),
                    "`profile` must be a list of [[profile]] tables".to_owned(),
                )),
            },
            other => out
                .issues
                .file
                .push(at(key.span(), unknown_key(other, "the file", &TOP_KEYS))),
        }
    }
    out.issues.file.sort_by_key(|i| (i.line, i.column));

    // Lower-cased name -> line of the first profile with it.
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, element) in elements.iter().enumerate() {
        let mut issues = Vec::new();
        let table = element.get_ref().as_table();
        let name = table
            .and_then(|t| entry(t, "name"))
            .and_then(|(_, v)| v.get_ref().as_str())
            .unwrap_or("")
            .to_owned();
        if table.is_none() {
            issues.push(at(
                element.span(),
                "each profile must be a table ([[profile]])".to_owned(),
            ));
        }
        unknown_keys(element, profile_shape(), "", &mut |span, msg| {
            issues.push(at(span, msg));
        });
        let parsed = if table.is_some() {
            match Profile::deserialize(toml::de::ValueDeserializer::from(element.clone())) {
                Ok(p) => {
                    for problem in validate_profile(&p) {
                        issues.push(at(
                            locate(element, &problem.path),
                            format!("{}: {}", problem.field, problem.message),
                        ));
                    }
                    Some(p)
                }
                Err(e) => {
                    issues.push(at(
                        e.span().unwrap_or_else(|| element.span()),
                        e.message().trim().to_owned(),
                    ));
                    None
                }
            }
        } else {
            None
        };
        let key = name.trim().to_lowercase();
        if !key.is_empty() {
            if let Some(first_line) = seen.get(&key) {
                let span = locate(element, &[PathPart::Key("name".to_owned())]);
                issues.push(at(
                    span,
                    format!(
                        "another profile (line {first_line}) is already named \"{}\"",
                        name.trim()
                    ),
                ));
            } else {
                seen.insert(key, lines.at(element.span().start).0);
            }
        }
        issues.sort_by_key(|i| (i.line, i.column));
        issues.dedup();
        match parsed {
            Some(p) if issues.is_empty() => out.profiles.push(p),
            _ => out.issues.rejected.push(RejectedProfile {
                name,
                index: index + 1,
                line: lines.at(element.span().start).0,
                issues,
            }),
        }
    }
    Ok(out)
}

fn entry<'a, 'i>(
    table: &'a DeTable<'i>,
    key: &str,
) -> Option<(
    &'a Spanned<toml::de::DeString<'i>>,
    &'a Spanned<DeValue<'i>>,
)> {
    table.iter().find(|(k, _)| k.get_ref().as_ref() == key)
}

fn unknown_key(key: &str, place: &str, known: &[&str]) -> String {
    match suggest(key, known) {
        Some(s) => format!("unknown key \"{key}\" in {place}; did you mean \"{s}\"?"),
        None => format!(
            "unknown key \"{key}\" in {place}; the keys there are: {}",
            known.join(", ")
        ),
    }
}

/// Reports every key of `value` that `shape` does not know, at the key's position.
fn unknown_keys(
    value: &Spanned<DeValue<'_>>,
    shape: &Shape,
    place: &str,
    report: &mut dyn FnMut(std::ops::Range<usize>, String),
) {
    match (value.get_ref(), shape) {
        (DeValue::Table(table), Shape::Table(_)) => {
            let known = shape.keys();
            for (key, v) in table.iter() {
                let k = key.get_ref().as_ref();
                match shape.field(k) {
                    Some(inner) => {
                        let here = if place.is_empty() {
                            k.to_owned()
                        } else {
                            format!("{place}.{k}")
                        };
                        unknown_keys(v, inner, &here, report);
                    }
                    None => {
                        let where_ = if place.is_empty() {
                            "the profile"
                        } else {
                            place
                        };
                        report(key.span(), unknown_key(k, where_, &known));
                    }
                }
            }
        }
        (DeValue::Array(items), Shape::List(inner)) => {
            for (i, item) in items.iter().enumerate() {
                let label = item
                    .get_ref()
                    .as_table()
                    .and_then(|t| entry(t, "name"))
                    .and_then(|(_, v)| v.get_ref().as_str())
                    .filter(|n| !n.trim().is_empty())
                    .map_or_else(|| (i + 1).to_string(), str::to_owned);
                unknown_keys(item, inner, &format!("{place}[{label}]"), report);
            }
        }
        // Wrong types are reported by the deserializer, with their own position.
        _ => {}
    }
}

/// The position of a problem's field in a profile: the key itself when it is written, else the
/// closest table around it that is.
fn locate(element: &Spanned<DeValue<'_>>, path: &[PathPart]) -> std::ops::Range<usize> {
    let mut span = element.span();
    let mut current = element;
    for part in path {
        match (part, current.get_ref()) {
            (PathPart::Key(k), DeValue::Table(t)) => match entry(t, k) {
                Some((key, value)) => {
                    span = key.span();
                    current = value;
                }
                None => break,
            },
            (PathPart::Index(i), DeValue::Array(a)) => match a.get(*i) {
                Some(item) => {
                    span = item.span();
                    current = item;
                }
                None => break,
            },
            _ => break,
        }
    }
    span
}

// ----- writing: changes applied to the file's own document ---------------------------------

fn profiles_aot(doc: &mut toml_edit::DocumentMut) -> Option<&mut toml_edit::ArrayOfTables> {
    doc.get_mut("profile")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
}

fn table_name(t: &toml_edit::Table) -> Option<&str> {
    t.get("name").and_then(toml_edit::Item::as_str)
}

fn profile_index(doc: &mut toml_edit::DocumentMut, name: &str) -> Option<usize> {
    profiles_aot(doc)?
        .iter()
        .position(|t| table_name(t) == Some(name))
}

fn profile_table_mut<'a>(
    doc: &'a mut toml_edit::DocumentMut,
    name: &str,
) -> Option<&'a mut toml_edit::Table> {
    profiles_aot(doc)?
        .iter_mut()
        .find(|t| table_name(t) == Some(name))
}

/// Writes `new` over `old` in the document: only keys whose values differ between the two are
/// touched. A profile not in the document is added (at `at`, else at the end), written as its
/// differences from a default profile.
fn upsert_profile(
    doc: &mut toml_edit::DocumentMut,
    old: Option<&Profile>,
    new: &Profile,
    at: Option<usize>,
) -> Result<(), StoreError> {
    let fresh = fresh_table(new)?;
    let new_v = to_toml_table(new)?;
    let has_profiles = doc.get("profile").is_some();
    if has_profiles && profiles_aot(doc).is_none() {
        return Err(StoreError::Serialize(
            "the profiles in this file are not written as [[profile]] tables, so the window \
             cannot change them; edit the file by hand"
                .to_owned(),
        ));
    }
    if let Some(table) = profile_table_mut(doc, &new.name) {
        let base = old.cloned().unwrap_or_default();
        merge_table(table, &to_toml_table(&base)?, &new_v, &fresh);
        return Ok(());
    }
    let mut table = toml_edit::Table::new();
    merge_table(
        &mut table,
        &to_toml_table(&Profile::default())?,
        &new_v,
        &fresh,
    );
    if !has_profiles {
        doc.insert(
            "profile",
            toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()),
        );
    }
    let aot = profiles_aot(doc).ok_or_else(|| StoreError::Serialize("no [[profile]]".into()))?;
    match at {
        Some(i) if i <= aot.len() => aot.insert(i, table),
        _ => aot.push(table),
    }
    Ok(())
}

fn remove_profile(doc: &mut toml_edit::DocumentMut, name: &str, last_used: Option<&str>) {
    if let Some(i) = profile_index(doc, name)
        && let Some(aot) = profiles_aot(doc)
    {
        aot.remove(i);
        if aot.is_empty() {
            doc.remove("profile");
        }
    }
    if last_used == Some(name) {
        set_last_used_value(doc, None);
    }
}

/// Sets (or removes) the top-level `last_used`, keeping the comments around it.
fn set_last_used_value(doc: &mut toml_edit::DocumentMut, name: Option<&str>) {
    let root = doc.as_table_mut();
    match name {
        Some(n) => {
            if root.contains_key("last_used") {
                set_value(root, "last_used", n.into());
            } else {
                // Root values are written before every table; when there are none yet, it goes
                // under the file's opening comment (which is then the first table's decor).
                let mut key = toml_edit::Key::new("last_used");
                if !root.iter().any(|(_, item)| item.is_value())
                    && let Some(prefix) = take_first_table_prefix(root)
                {
                    key.leaf_decor_mut().set_prefix(prefix);
                }
                root.insert_formatted(&key, toml_edit::value(n));
            }
        }
        None => {
            let prefix = root
                .key("last_used")
                .and_then(|k| k.leaf_decor().prefix())
                .and_then(|p| p.as_str())
                .map(str::to_owned);
            if root.remove("last_used").is_some()
                && let Some(prefix) = prefix.filter(|p| p.contains('#'))
            {
                give_first_table_prefix(root, &prefix);
            }
        }
    }
}

/// Takes the opening comment from the decor of the first `[[profile]]`, leaving a blank line.
fn take_first_table_prefix(root: &mut toml_edit::Table) -> Option<String> {
    let first = root
        .get_mut("profile")?
        .as_array_of_tables_mut()?
        .get_mut(0)?;
    let prefix = first.decor().prefix()?.as_str()?.to_owned();
    if !prefix.contains('#') {
        return None;
    }
    first.decor_mut().set_prefix("\n");
    Some(prefix.trim_end_matches('\n').to_owned() + "\n")
}

fn give_first_table_prefix(root: &mut toml_edit::Table, prefix: &str) {
    let Some(first) = root
        .get_mut("profile")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
        .and_then(|a| a.get_mut(0))
    else {
        return;
    };
    let old = first
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    first
        .decor_mut()
        .set_prefix(format!("{}\n{}", prefix.trim_end_matches('\n'), old));
}

/// Replaces a value in place, keeping its key's and its own decor (spacing, trailing comment).
fn set_value(table: &mut toml_edit::Table, key: &str, value: toml_edit::Value) {
    match table.get_mut(key) {
        Some(toml_edit::Item::Value(v)) => {
            let decor = v.decor().clone();
            *v = value;
            *v.decor_mut() = decor;
        }
        Some(item) => *item = toml_edit::Item::Value(value),
        None => {
            table.insert(key, toml_edit::Item::Value(value));
        }
    }
}

fn to_toml_table<T: Serialize>(v: &T) -> Result<toml::Table, StoreError> {
    toml::Table::try_from(v).map_err(|e| StoreError::Serialize(e.to_string()))
}

/// The profile as the TOML serializer writes it (keys in declaration order, `[[...]]` lists),
/// with small all-scalar tables made inline (`password = { service = …, account = … }`) and no
/// document positions, ready to be moved into the user's document.
fn fresh_table(p: &Profile) -> Result<toml_edit::Table, StoreError> {
    let text = toml::to_string(p).map_err(|e| StoreError::Serialize(e.to_string()))?;
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| StoreError::Serialize(e.to_string()))?;
    let mut table = doc.into_table();
    tidy_table(&mut table);
    Ok(table)
}

fn tidy_table(table: &mut toml_edit::Table) {
    table.set_position(None);
    for (_, item) in table.iter_mut() {
        tidy_item(item);
    }
}

fn tidy_item(item: &mut toml_edit::Item) {
    match item {
        toml_edit::Item::Table(t) => {
            tidy_table(t);
            let small = t.len() <= 4 && t.iter().all(|(_, v)| v.is_value());
            if small {
                let inline = std::mem::take(t).into_inline_table();
                *item = toml_edit::Item::Value(toml_edit::Value::InlineTable(inline));
            }
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                tidy_table(t);
            }
        }
        _ => {}
    }
}

/// A copy of a fresh item for the user's document, as a value when it must sit inline.
fn fresh_value(item: &toml_edit::Item) -> Option<toml_edit::Value> {
    item.clone().into_value().ok().map(|mut v| {
        v.decor_mut().clear();
        v
    })
}

/// Applies the differences between `old` and `new` (both as serialized) to `doc`: keys equal in
/// both are not touched (whatever the document says there, including a hand edit or a default
/// left unwritten); changed keys are rewritten from `fresh`; keys gone from `new` are removed.
fn merge_table(
    doc: &mut toml_edit::Table,
    old: &toml::Table,
    new: &toml::Table,
    fresh: &toml_edit::Table,
) {
    for (key, f) in fresh.iter() {
        let Some(n) = new.get(key) else { continue };
        let o = old.get(key);
        if o == Some(n) {
            continue;
        }
        merge_key(doc, key, o, n, f);
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            doc.remove(key);
        }
    }
}

fn merge_key(
    doc: &mut toml_edit::Table,
    key: &str,
    o: Option<&toml::Value>,
    n: &toml::Value,
    f: &toml_edit::Item,
) {
    let empty = toml::Table::new();
    let Some(item) = doc.get_mut(key) else {
        // Not written yet. A struct whose defaults were left out gets only its changed keys;
        // an empty list stays unwritten; anything else is written whole.
        match (o, n, f) {
            (Some(toml::Value::Table(ot)), toml::Value::Table(nt), toml_edit::Item::Table(ft)) => {
                let mut t = toml_edit::Table::new();
                merge_table(&mut t, ot, nt, ft);
                doc.insert(key, toml_edit::Item::Table(t));
            }
            (_, toml::Value::Array(a), _) if a.is_empty() => {}
            _ => {
                doc.insert(key, f.clone());
            }
        }
        return;
    };
    if let (toml_edit::Item::Table(dt), toml::Value::Table(nt)) = (&mut *item, n) {
        // The user wrote a `[table]` where the serializer would write `{ inline }` (or the
        // other way round): keep the user's form.
        let from_inline;
        let ft = match f {
            toml_edit::Item::Table(ft) => Some(ft),
            toml_edit::Item::Value(toml_edit::Value::InlineTable(it)) => {
                from_inline = it
                    .iter()
                    .map(|(k, v)| (k, toml_edit::Item::Value(v.clone())))
                    .collect::<toml_edit::Table>();
                Some(&from_inline)
            }
            _ => None,
        };
        if let Some(ft) = ft {
            let ot = match o {
                Some(toml::Value::Table(t)) => t,
                _ => &empty,
            };
            merge_table(dt, ot, nt, ft);
            return;
        }
    }
    if let toml::Value::Array(na) = n
        && item.is_array_of_tables()
    {
        if na.is_empty() {
            doc.remove(key);
            return;
        }
        let oa = match o {
            Some(toml::Value::Array(a)) => a.as_slice(),
            _ => &[],
        };
        match (item.as_array_of_tables_mut(), f) {
            (Some(da), toml_edit::Item::ArrayOfTables(fa)) => merge_list(da, oa, na, fa),
            _ => *item = f.clone(),
        }
        return;
    }
    match item {
        toml_edit::Item::Value(dv) => {
            if let Some(mut nv) = fresh_value(f) {
                *nv.decor_mut() = dv.decor().clone();
                *dv = nv;
            }
        }
        item => *item = f.clone(),
    }
}

/// A list of tables (`[[profile.health]]`, …). Same length as before: element by element, so a
/// renamed endpoint keeps its place and comments. Otherwise elements are matched by name; those
/// without a match are removed or added.
fn merge_list(
    doc: &mut toml_edit::ArrayOfTables,
    old: &[toml::Value],
    new: &[toml::Value],
    fresh: &toml_edit::ArrayOfTables,
) {
    let empty = toml::Table::new();
    let as_table = |v: &toml::Value| v.as_table().cloned().unwrap_or_default();
    if old.len() == new.len() && doc.len() == old.len() {
        for (i, (o, n)) in old.iter().zip(new).enumerate() {
            if o == n {
                continue;
            }
            if let (Some(t), Some(f)) = (doc.get_mut(i), fresh.get(i)) {
                merge_table(t, &as_table(o), &as_table(n), f);
            }
        }
        return;
    }
    let name_of = |v: &toml::Value| {
        v.get("name")
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
    };
    let mut existing: Vec<Option<toml_edit::Table>> = doc.iter().cloned().map(Some).collect();
    let mut out = toml_edit::ArrayOfTables::new();
    for (j, n) in new.iter().enumerate() {
        let Some(f) = fresh.get(j) else { continue };
        let name = name_of(n);
        let matches: Vec<usize> = existing
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                name.is_some() && t.as_ref().and_then(|t| table_name(t)) == name.as_deref()
            })
            .map(|(i, _)| i)
            .collect();
        let taken = match matches.as_slice() {
            [i] => existing[*i].take(),
            _ => None,
        };
        match taken {
            Some(mut t) => {
                let o = old
                    .iter()
                    .find(|o| name_of(o) == name)
                    .and_then(toml::Value::as_table)
                    .unwrap_or(&empty);
                merge_table(&mut t, o, &as_table(n), f);
                out.push(t);
            }
            None => out.push(f.clone()),
        }
    }
    *doc = out;
}

/// Line starts of a text, so that many offsets can be turned into lines and columns without
/// rescanning the text each time (a 4 MiB file has tens of thousands of profiles).
struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// Same as [`line_column`].
    fn at(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, self.text[start..offset].chars().count() + 1)
    }
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
    fn wrong_type_rejects_that_profile_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROFILES_FILE);
        let original = "[[profile]]\nname = \"a\"\nrefresh_interval_secs = \"fast\"\n";
        fs::write(&path, original).unwrap();
        let mut store = ProfileStore::load(dir.path());
        assert!(store.damaged().is_none());
        assert!(store.profiles().is_empty());
        let r = store.issues().rejected("a").expect("rejected").clone();
        assert_eq!((r.issues[0].line, r.issues[0].column), (3, 25), "{r}");
        assert!(matches!(
            store.upsert(Profile::named("a")),
            Err(StoreError::Rejected(_))
        ));
        store.upsert(Profile::named("b")).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(original), "{text}");
        assert_eq!(store.profiles().len(), 1);
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
        assert!(
            msg.contains(
                "remove it from the address and save it with `scaleboard secret set prod/main`"
            ),
            "{msg}"
        );
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
