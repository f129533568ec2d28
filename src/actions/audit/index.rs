//! Records paired into actions, unresolved intents, and the filtered index of rows the Audit
//! panel pages through.
//!
//! An intent and the later record with the same id are one action: the outcome is what it
//! shows, the intent's time is when it started. An intent with no later record is an action
//! whose outcome is unknown. Every pass streams the file and keeps only the intents still open
//! at that point; the index keeps 16 bytes per matching row (its byte offset and start time)
//! and reads the records of the rows on screen only.

use super::scan::{Damage, Item, Line, LineReader, LineReaderAt, RecordView};
use super::{AuditFilter, AuditLog, AuditOutcome, AuditRecord};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::sync::LazyLock;

/// When this process first touched the audit log (before it could write an intent).
pub(super) static PROCESS_STARTED: LazyLock<DateTime<Utc>> = LazyLock::new(Utc::now);

/// An action whose intent was recorded but no outcome: it may or may not have changed the
/// target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedIntent {
    pub record: AuditRecord,
    /// Byte offset of the intent's line.
    pub at: u64,
    /// The process that wrote it is still running (it may still be in progress): its pid.
    pub writer_running: Option<u32>,
}

impl UnresolvedIntent {
    fn new(record: AuditRecord, at: u64) -> Self {
        let writer_running = writer_running(&record.id);
        Self {
            record,
            at,
            writer_running,
        }
    }

    /// "outcome unknown: check TARGET — intent at TIME by USER: BEFORE -> AFTER, command …".
    pub fn message(&self) -> String {
        let r = &self.record;
        let mut text = format!(
            "outcome unknown: check {} — intent at {} UTC by {}: {} -> {}, command {}",
            r.target,
            r.when.format("%Y-%m-%d %H:%M:%S"),
            r.os_user,
            r.before,
            r.after,
            r.command
        );
        if let Some(pid) = self.writer_running {
            text.push_str(&format!(
                " (process {pid}, which wrote it, is still running: it may still be in progress)"
            ));
        }
        text
    }
}

/// The pid in a record id (`TIME-PID-COUNTER`) when that process still runs. The id's time tells
/// this process's own records from those of an earlier process that had the same pid.
pub fn writer_running(id: &str) -> Option<u32> {
    let mut parts = id.rsplitn(3, '-');
    let _counter = parts.next()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if pid == std::process::id() {
        let t = NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%.9fZ")
            .ok()?
            .and_utc();
        return (t >= *PROCESS_STARTED).then_some(pid);
    }
    #[cfg(target_os = "linux")]
    {
        // "PID (name) STATE …": a killed process not yet reaped is a zombie, not running.
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
        (!matches!(state, 'Z' | 'X')).then_some(pid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// What [`AuditLog::unresolved_intents`] found in one streaming pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unresolved {
    /// Oldest first, at most the number asked for.
    pub intents: Vec<UnresolvedIntent>,
    /// All of them, listed or not.
    pub total: usize,
    /// Readable records in the file.
    pub records: u64,
    pub damage: Damage,
    /// The byte length read: a second pass stops there, so both describe the same file.
    pub read_to: u64,
}

/// One action as the log tells it (see [`AuditLog::for_each_action`]).
pub struct ActionItem<'v, 'a> {
    /// The outcome record, or the intent of an action with no outcome.
    pub record: &'v RecordView<'a>,
    /// The intent's time, when the action reached its write.
    pub started: Option<DateTime<Utc>>,
    /// An intent with no outcome.
    pub unresolved: bool,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    at: u64,
    when_ms: i64,
    matches: bool,
}

impl AuditLog {
    /// Every intent with no later record of the same id, in one streaming pass that keeps only
    /// the intents still open (and reads the listed ones again by offset).
    pub fn unresolved_intents(&self) -> io::Result<Unresolved> {
        self.unresolved_intents_capped(usize::MAX)
    }

    /// Like [`Self::unresolved_intents`], listing at most `max` (the oldest).
    pub fn unresolved_intents_capped(&self, max: usize) -> io::Result<Unresolved> {
        let mut open: HashMap<String, u64> = HashMap::new();
        let mut out = Unresolved::default();
        out.read_to = super::scan::scan(self.path(), 0, None, |item| match item {
            Item::Record { at, view } => {
                out.records += 1;
                if view.outcome == AuditOutcome::Intent {
                    open.insert(view.id.into_owned(), at);
                } else {
                    open.remove(view.id.as_ref());
                }
            }
            Item::Damaged { at, torn_tail } => out.damage.add(at, torn_tail),
        })?;
        out.total = open.len();
        let mut offsets: Vec<u64> = open.into_values().collect();
        offsets.sort_unstable();
        offsets.truncate(max);
        out.intents = read_intents(self, &offsets)?;
        Ok(out)
    }

    /// Streams the log up to byte `end` as actions, in file order: each outcome (with its
    /// intent's time), each record of an action that never reached its write, and each intent
    /// whose id is in `unresolved` (from [`Self::unresolved_intents`]) where it stands. Paired
    /// intents are folded into their outcome. Damaged lines are skipped (the first pass
    /// reported them).
    pub fn for_each_action(
        &self,
        end: u64,
        unresolved: &HashSet<String>,
        mut f: impl FnMut(ActionItem<'_, '_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut open: HashMap<String, DateTime<Utc>> = HashMap::new();
        let mut result = Ok(());
        super::scan::scan(self.path(), 0, Some(end), |item| {
            let Item::Record { view, .. } = item else {
                return;
            };
            if result.is_err() {
                return;
            }
            let item = if view.outcome == AuditOutcome::Intent {
                if !unresolved.contains(view.id.as_ref()) {
                    open.insert(view.id.to_string(), view.when);
                    return;
                }
                ActionItem {
                    record: &view,
                    started: None,
                    unresolved: true,
                }
            } else {
                ActionItem {
                    record: &view,
                    started: open.remove(view.id.as_ref()),
                    unresolved: false,
                }
            };
            result = f(item);
        })?;
        result
    }
}

fn read_intents(log: &AuditLog, offsets: &[u64]) -> io::Result<Vec<UnresolvedIntent>> {
    let Some(mut reader) = LineReaderAt::open(log.path())? else {
        return Ok(Vec::new());
    };
    Ok(offsets
        .iter()
        .filter_map(|&at| reader.read(at).map(|r| UnresolvedIntent::new(r, at)))
        .collect())
}

/// What the Audit panel asks for: the rows matching `filter`, newest first, from row `first`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub first: usize,
    pub count: usize,
}

/// One row of the Audit panel: one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// The outcome record; an [`AuditOutcome::Intent`] here is an intent with no outcome.
    pub record: AuditRecord,
    /// The intent's time, when the action reached its write.
    pub started: Option<DateTime<Utc>>,
}

/// The answer to an [`AuditQuery`]: a page of rows plus the counts around it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    pub query: AuditQuery,
    /// Rows `query.first..` in newest-first order (fewer at the end).
    pub rows: Vec<AuditRow>,
    /// Rows (actions) matching the filter.
    pub matching: usize,
    /// Rows (actions) in the log.
    pub actions: usize,
    /// Readable records (an action that reached its write has two).
    pub records: u64,
    /// Intents with no outcome, whatever the filter (oldest first, capped).
    pub unresolved: Vec<UnresolvedIntent>,
    pub unresolved_total: usize,
    pub damage: Damage,
}

/// Unresolved intents listed per page answer; the count covers the rest.
pub const UNRESOLVED_LISTED: usize = 50;

#[derive(Debug, Clone, Copy)]
struct Row {
    at: u64,
    started_ms: i64,
}

const NO_START: i64 = i64::MIN;

/// The rows matching one filter, as byte offsets, built by one streaming pass and extended
/// incrementally with what was appended since. Memory: 16 bytes per matching row plus the open
/// intents.
#[derive(Debug)]
pub struct AuditIndex {
    filter: AuditFilter,
    /// Just past the last complete line read.
    read_to: u64,
    identity: Option<(u64, u64)>,
    rows: Vec<Row>,
    open: HashMap<String, Open>,
    records: u64,
    actions: usize,
    damage: Damage,
}

impl AuditIndex {
    pub fn new(filter: AuditFilter) -> Self {
        Self {
            filter,
            read_to: 0,
            identity: None,
            rows: Vec::new(),
            open: HashMap::new(),
            records: 0,
            actions: 0,
            damage: Damage::default(),
        }
    }

    pub fn filter(&self) -> &AuditFilter {
        &self.filter
    }

    /// Rows matching the filter (actions, open intents included).
    pub fn matching(&self) -> usize {
        self.rows.len() + self.open.values().filter(|o| o.matches).count()
    }

    /// Bytes of heap the index holds (rows and open intents), for the bench.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * size_of::<Row>()
            + self
                .open
                .keys()
                .map(|k| k.capacity() + size_of::<(String, Open)>())
                .sum::<usize>()
    }

    /// Reads what was appended since the last refresh (the whole file the first time, or when
    /// the file was replaced or truncated). Returns the damage as of now: the committed damaged
    /// lines plus a torn tail, which is read again next time (a write in progress completes it;
    /// the next append starts a new line after it).
    pub fn refresh(&mut self, log: &AuditLog) -> io::Result<Damage> {
        let meta = match fs::metadata(log.path()) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let identity = meta.as_ref().and_then(identity);
        let len = meta.as_ref().map_or(0, fs::Metadata::len);
        if len < self.read_to || identity != self.identity {
            *self = Self::new(self.filter.clone());
            self.identity = identity;
        }
        let mut damage = self.damage.clone();
        let Some(mut lines) = LineReader::open(log.path(), self.read_to, None)? else {
            return Ok(damage);
        };
        while let Some(line) = lines.next_line()? {
            match line {
                Line::Full { at, bytes } => {
                    if !bytes.iter().all(u8::is_ascii_whitespace) {
                        match RecordView::parse(bytes) {
                            Some(view) => self.take(at, &view),
                            None => self.damage.add(at, false),
                        }
                    }
                }
                Line::TooLong { at, ended: true } => self.damage.add(at, false),
                Line::Tail { at, bytes } => {
                    // A record whose newline is not there yet is read next time, complete.
                    damage = self.damage.clone();
                    if !bytes.iter().all(u8::is_ascii_whitespace)
                        && RecordView::parse(bytes).is_none()
                    {
                        damage.add(at, true);
                    }
                    return Ok(damage);
                }
                Line::TooLong { at, ended: false } => {
                    damage = self.damage.clone();
                    damage.add(at, true);
                    return Ok(damage);
                }
            }
            self.read_to = lines.position();
        }
        Ok(self.damage.clone())
    }

    fn take(&mut self, at: u64, view: &RecordView<'_>) {
        self.records += 1;
        let matches = self.filter.matches_view(view);
        if view.outcome == AuditOutcome::Intent {
            let when_ms = view.when.timestamp_millis();
            self.open.insert(
                view.id.to_string(),
                Open {
                    at,
                    when_ms,
                    matches,
                },
            );
            return;
        }
        let started = self.open.remove(view.id.as_ref());
        self.actions += 1;
        if matches {
            self.rows.push(Row {
                at,
                started_ms: started.map_or(NO_START, |o| o.when_ms),
            });
        }
    }

    /// Rows `first..first + count` in newest-first order: matching actions by the offset of
    /// their last record, open intents among them by theirs. Reads only those records.
    pub fn page(&self, log: &AuditLog, first: usize, count: usize) -> io::Result<Vec<AuditRow>> {
        let mut open: Vec<u64> = self
            .open
            .values()
            .filter(|o| o.matches)
            .map(|o| o.at)
            .collect();
        open.sort_unstable_by(|a, b| b.cmp(a));
        // Where each open intent falls in the merged newest-first order.
        let ranks: Vec<usize> = open
            .iter()
            .enumerate()
            .map(|(i, &at)| self.rows.len() - self.rows.partition_point(|r| r.at < at) + i)
            .collect();
        let total = self.rows.len() + open.len();
        let end = first.saturating_add(count).min(total);
        if first >= end {
            return Ok(Vec::new());
        }
        let Some(mut reader) = LineReaderAt::open(log.path())? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(end - first);
        for p in first..end {
            let before = ranks.partition_point(|&r| r < p);
            let (at, started_ms) = if ranks.get(before) == Some(&p) {
                (open[before], NO_START)
            } else {
                let row = self.rows[self.rows.len() - 1 - (p - before)];
                (row.at, row.started_ms)
            };
            if let Some(record) = reader.read(at) {
                let started = (started_ms != NO_START)
                    .then(|| DateTime::from_timestamp_millis(started_ms))
                    .flatten();
                out.push(AuditRow { record, started });
            }
        }
        Ok(out)
    }

    /// Refresh, then answer the query (its filter must be this index's).
    pub fn query(&mut self, log: &AuditLog, query: &AuditQuery) -> io::Result<AuditPage> {
        let damage = self.refresh(log)?;
        let rows = self.page(log, query.first, query.count)?;
        let mut offsets: Vec<u64> = self.open.values().map(|o| o.at).collect();
        offsets.sort_unstable();
        let unresolved_total = offsets.len();
        offsets.truncate(UNRESOLVED_LISTED);
        Ok(AuditPage {
            query: query.clone(),
            rows,
            matching: self.matching(),
            actions: self.actions + self.open.len(),
            records: self.records,
            unresolved: read_intents(log, &offsets)?,
            unresolved_total,
            damage,
        })
    }
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}
