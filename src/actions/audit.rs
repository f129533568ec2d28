//! The append-only audit log of every action Scaleboard tried: `<data_dir>/audit.jsonl`.
//!
//! One JSON object per line (JSON Lines). Lines are only ever appended; a damaged line is counted
//! and skipped when reading, never fatal. The log can be filtered and exported as CSV that is safe
//! to open in a spreadsheet.
//!
//! Write-ahead: an action that reaches its write has two records with the same id, an
//! [`AuditOutcome::Intent`] synced before the write and its outcome after; readers pair them
//! into one action (see `index.rs`). An intent with no outcome is an action whose outcome is
//! unknown. Nothing is ever rewritten: a later run that finds out what happened records its own action,
//! there is no "resolution" record.
//!
//! Reading streams the file line by line (`scan.rs`); nothing reads it whole into memory.
//!
//! This does blocking file I/O: call it off the UI thread.

mod index;
mod scan;
mod wording;

pub use wording::{OutcomeText, outcome_text};

pub use index::{
    ActionItem, AuditIndex, AuditPage, AuditQuery, AuditRow, UNRESOLVED_LISTED, Unresolved,
    UnresolvedIntent, writer_running,
};
pub use scan::{Damage, MAX_LINE_BYTES, RecordView};

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::csv_safe::neutralise;

/// File name of the audit log inside the data dir.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// How an action ended, or, for [`AuditOutcome::Intent`], that it is about to change a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Written and synced right before the write: an intent with no later record of the same id
    /// means the outcome is unknown (the process died, the machine lost power).
    Intent,
    Succeeded,
    /// The system accepted the change, but it was not ready when verification ended (pods
    /// Pending, image pull errors…): applied, not failed.
    AppliedNotReady,
    Failed,
    Cancelled,
    TimedOut,
    /// Refused before anything ran (a guard, a read-only profile, a failed check).
    Refused,
    /// Not run because the target changed between the plan and the write.
    NotRun,
    /// The write was sent but no answer came back: it may or may not have happened.
    Unknown,
}

impl AuditOutcome {
    pub const ALL: [Self; 9] = [
        Self::Intent,
        Self::Succeeded,
        Self::AppliedNotReady,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
        Self::Refused,
        Self::NotRun,
        Self::Unknown,
    ];

    /// A human label, e.g. "Timed out".
    pub fn label(self) -> &'static str {
        match self {
            Self::Intent => "Started",
            Self::Succeeded => "Succeeded",
            Self::AppliedNotReady => "Applied, not ready",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::TimedOut => "Timed out",
            Self::Refused => "Refused",
            // The detail says why: changed since planned, or the re-check could not read it.
            Self::NotRun => "Not run",
            Self::Unknown => "Outcome unknown",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One action, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: String,
    pub when: DateTime<Utc>,
    pub os_user: String,
    pub profile: String,
    /// "scale", "autoscale", "promote", ...
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
    /// The command or API call, as shown to the user (never with secrets).
    pub command: String,
    pub outcome: AuditOutcome,
    pub detail: String,
    #[serde(default)]
    pub forced: bool,
    #[serde(default)]
    pub overridden_guards: Vec<String>,
    /// Why it was done, when the scaling advisor proposed it: the rule, the observed values
    /// and the cost change. Absent in older records and in hand-made actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh record id: time, process and a counter, e.g. "20250101T120000.123456789Z-4242-7".
pub fn new_id() -> String {
    LazyLock::force(&index::PROCESS_STARTED);
    format!(
        "{}-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.9fZ"),
        std::process::id(),
        ID_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// What [`AuditLog::read_all`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRead {
    /// Readable records, oldest first (file order).
    pub records: Vec<AuditRecord>,
    /// Lines that could not be read as a record (e.g. cut short by a crash), with where.
    pub damage: Damage,
}

/// The audit log file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `<data_dir>/audit.jsonl`; nothing is touched until the first append.
    pub fn new(data_dir: &Path) -> Self {
        LazyLock::force(&index::PROCESS_STARTED);
        Self {
            path: data_dir.join(AUDIT_FILE),
        }
    }

    /// A log in a file of another name (the team store's records not shared yet).
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line, and syncs it to disk before returning. Creates the data
    /// dir if needed. If the file ends without a newline (a write cut short), a newline is added
    /// first so the new record stays readable.
    pub fn append(&self, r: &AuditRecord) -> io::Result<()> {
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
        line.push(b'\n');

        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)?;
        if file.metadata()?.len() > 0 {
            file.seek(SeekFrom::End(-1))?;
            let mut last = [0u8; 1];
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                line.insert(0, b'\n');
            }
        }
        // One write call for the whole line, so concurrent appenders do not interleave.
        file.write_all(&line)?;
        file.flush()?;
        file.sync_data()
    }

    /// Every readable record, plus the lines that were not. A missing file is empty.
    /// Holds the whole log in memory: for tests and small logs only; the panel and the CLI
    /// stream ([`AuditIndex`], [`Self::for_each_action`], [`write_csv_streaming`]).
    pub fn read_all(&self) -> io::Result<AuditRead> {
        let mut out = AuditRead::default();
        scan::scan(&self.path, 0, None, |item| match item {
            scan::Item::Record { view, .. } => out.records.push(view.to_record()),
            scan::Item::Damaged { at, torn_tail } => out.damage.add(at, torn_tail),
        })?;
        Ok(out)
    }

    /// Streams the raw records that match `filter` (intents and outcomes alike, linked by id)
    /// as CSV, up to byte `end` when given. Returns the rows written and the damaged lines.
    pub fn write_csv_streaming<W: Write>(
        &self,
        filter: &AuditFilter,
        end: Option<u64>,
        w: W,
    ) -> Result<(u64, Damage), csv::Error> {
        let mut out = csv::Writer::from_writer(BufWriter::new(w));
        out.write_record(CSV_HEADER)?;
        let mut damage = Damage::default();
        let mut rows = 0;
        let mut result = Ok(());
        scan::scan(&self.path, 0, end, |item| match item {
            scan::Item::Record { view, .. } => {
                if result.is_ok() && filter.matches_view(&view) {
                    rows += 1;
                    result = write_row(&mut out, &view.to_record());
                }
            }
            scan::Item::Damaged { at, torn_tail } => damage.add(at, torn_tail),
        })?;
        result?;
        out.flush()?;
        Ok((rows, damage))
    }
}

/// Narrows the records shown in the audit view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Matches target, action, profile or user, ignoring case; empty matches all.
    pub text: String,
    pub outcome: Option<AuditOutcome>,
    /// Exact profile name.
    pub profile: Option<String>,
}

impl AuditFilter {
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.matches_fields(r.outcome, [&r.target, &r.action, &r.profile, &r.os_user])
    }

    /// [`Self::matches`] on a record read without copying.
    pub fn matches_view(&self, v: &RecordView<'_>) -> bool {
        self.matches_fields(v.outcome, [&v.target, &v.action, &v.profile, &v.os_user])
    }

    /// `fields`: target, action, profile, user.
    fn matches_fields(&self, outcome: AuditOutcome, fields: [&str; 4]) -> bool {
        if self.outcome.is_some_and(|o| o != outcome) {
            return false;
        }
        if self.profile.as_ref().is_some_and(|p| p != fields[2]) {
            return false;
        }
        let needle = self.text.trim();
        needle.is_empty() || fields.iter().any(|f| contains_ignoring_case(f, needle))
    }
}

/// `hay.to_lowercase().contains(&needle.to_lowercase())`, without allocating when both are
/// ASCII (a million records are filtered per keystroke).
fn contains_ignoring_case(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        hay.to_lowercase().contains(&needle.to_lowercase())
    }
}

/// Column names of the CSV export.
pub const CSV_HEADER: [&str; 13] = [
    "id",
    "when",
    "os_user",
    "profile",
    "action",
    "target",
    "before",
    "after",
    "command",
    "outcome",
    "detail",
    "forced",
    "overridden_guards",
];

/// Writes the records as CSV with a header row. Every cell is made spreadsheet-safe (a cell
/// starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`); commas, quotes and newlines are quoted by the csv crate. Overridden guards
/// are joined with "; ".
pub fn write_csv<W: Write>(records: &[AuditRecord], w: W) -> Result<(), csv::Error> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(CSV_HEADER)?;
    for r in records {
        write_row(&mut out, r)?;
    }
    out.flush()?;
    Ok(())
}

fn write_row<W: Write>(out: &mut csv::Writer<W>, r: &AuditRecord) -> Result<(), csv::Error> {
    let when = r.when.to_rfc3339();
    let forced = r.forced.to_string();
    let guards = r.overridden_guards.join("; ");
    let row: [&str; 13] = [
        &r.id,
        &when,
        &r.os_user,
        &r.profile,
        &r.action,
        &r.target,
        &r.before,
        &r.after,
        &r.command,
        r.outcome.label(),
        &r.detail,
        &forced,
        &guards,
    ];
    out.write_record(row.iter().map(|c| neutralise(c)))
}

pub use crate::model::units::os_user;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(target: &str, outcome: AuditOutcome) -> AuditRecord {
        AuditRecord {
            id: new_id(),
            when: Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
            os_user: "alice".into(),
            profile: "prod".into(),
            action: "scale".into(),
            target: target.into(),
            before: "2".into(),
            after: "4".into(),
            command: "kubectl scale deployment/web --replicas=4".into(),
            outcome,
            detail: String::new(),
            forced: false,
            overridden_guards: Vec::new(),
            advice: None,
        }
    }

    #[test]
    fn append_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(&dir.path().join("nested"));
        assert_eq!(log.read_all().unwrap(), AuditRead::default());

        let a = record("deployment/web", AuditOutcome::Succeeded);
        let mut b = record("postgres/main", AuditOutcome::Refused);
        b.action = "promote".into();
        b.forced = true;
        b.overridden_guards = vec!["replica lag".into()];
        b.detail = "line one\nline two".into();
        log.append(&a).unwrap();
        log.append(&b).unwrap();

        let read = log.read_all().unwrap();
        assert_eq!(read.records, vec![a, b]);
        assert!(read.damage.is_empty());

        let text = fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v.is_object());
        }
        assert!(text.contains("\"outcome\":\"refused\""), "{text}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn corrupt_lines_are_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path());
        let a = record("a", AuditOutcome::Failed);
        log.append(&a).unwrap();
        // A line cut short by a crash, without its newline.
        let mut f = OpenOptions::new().append(true).open(log.path()).unwrap();
        f.write_all(b"{\"id\":\"half").unwrap();
        drop(f);
        let b = record("b", AuditOutcome::TimedOut);
        log.append(&b).unwrap();
        OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"not json\n\xff\xfe\n\n")
            .unwrap();

        let read = log.read_all().unwrap();
        assert_eq!(read.records, vec![a, b]);
        assert_eq!(read.damage.lines, 3);
        assert!(!read.damage.torn_tail);
    }

    #[test]
    fn filter() {
        let mut a = record("deployment/Web", AuditOutcome::Succeeded);
        a.os_user = "Bob".into();
        let b = record("redis/cache", AuditOutcome::Failed);
        let mut c = record("queue/jobs", AuditOutcome::Failed);
        c.profile = "staging".into();

        let all = AuditFilter::default();
        assert!(all.matches(&a) && all.matches(&b) && all.matches(&c));

        let text = |t: &str| AuditFilter {
            text: t.into(),
            ..AuditFilter::default()
        };
        assert!(text("WEB").matches(&a));
        assert!(!text("web").matches(&b));
        assert!(text("bob").matches(&a));
        assert!(text("STAG").matches(&c));
        assert!(text(" scale ").matches(&b));

        let failed = AuditFilter {
            outcome: Some(AuditOutcome::Failed),
            ..AuditFilter::default()
        };
        assert!(!failed.matches(&a) && failed.matches(&b) && failed.matches(&c));

        let prod_failed = AuditFilter {
            profile: Some("prod".into()),
            ..failed
        };
        assert!(prod_failed.matches(&b) && !prod_failed.matches(&c));
    }

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        let mut r = record("web, \"blue\"", AuditOutcome::Succeeded);
        r.detail = "line one\nline two".into();
        r.command = "=cmd|' /C calc'!A0".into();
        r.before = "-1".into();
        r.after = "@SUM(A1)".into();
        r.os_user = "\tx".into();
        r.profile = "+p".into();
        r.overridden_guards = vec!["lag".into(), "cpu".into()];

        let mut buf = Vec::new();
        write_csv(std::slice::from_ref(&r), &mut buf).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.starts_with("id,when,os_user,profile,action,target,"),
            "{text}"
        );
        assert!(text.contains("\"web, \"\"blue\"\"\""), "{text}");

        let mut rd = csv::Reader::from_reader(buf.as_slice());
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(&row[2], "'\tx");
        assert_eq!(&row[3], "'+p");
        assert_eq!(&row[5], "web, \"blue\"");
        assert_eq!(&row[6], "'-1");
        assert_eq!(&row[7], "'@SUM(A1)");
        assert_eq!(&row[8], "'=cmd|' /C calc'!A0");
        assert_eq!(&row[9], "Succeeded");
        assert_eq!(&row[10], "line one\nline two");
        assert_eq!(&row[11], "false");
        assert_eq!(&row[12], "lag; cpu");
    }

    #[test]
    fn writer_of_an_id_is_running_only_when_it_is_this_process_now_or_a_live_one() {
        let pid = std::process::id();
        assert_eq!(writer_running(&new_id()), Some(pid));
        // Same pid, written before this process started: an earlier process (pids are reused).
        assert_eq!(
            writer_running(&format!("20200101T000000.000000000Z-{pid}-0")),
            None
        );
        assert_eq!(writer_running("20200101T000000.000000000Z-0-0"), None);
        assert_eq!(writer_running("not an id"), None);
    }

    #[test]
    fn ids_are_unique_and_user_is_known() {
        assert_ne!(new_id(), new_id());
        assert!(!os_user().is_empty());
    }
}
