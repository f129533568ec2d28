//! Streaming reads of the audit log: line by line with byte offsets, in bounded memory.
//!
//! Nothing here reads the whole file: a line is held only while it is parsed (and a line longer
//! than [`MAX_LINE_BYTES`] is skipped without being held). A line that does not parse is counted
//! with its byte offset, never fatal; the file's last bytes without a newline are a torn tail
//! (a write cut short by a crash or power loss).

use super::{AuditOutcome, AuditRecord};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// A line longer than this is damaged by definition (records are a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Offsets of damaged lines kept for the report; the count goes on.
const DAMAGE_OFFSETS_KEPT: usize = 5;

/// One line of the file, without its newline.
pub(crate) enum Line<'a> {
    /// Ended by a newline.
    Full { at: u64, bytes: &'a [u8] },
    /// The last bytes of the file (or of the range read), with no newline after them.
    Tail { at: u64, bytes: &'a [u8] },
    /// Longer than [`MAX_LINE_BYTES`]; `ended` when a newline was found after it.
    TooLong { at: u64, ended: bool },
}

/// Reads lines from `start` up to `end` (exclusive), keeping only the current line.
pub(crate) struct LineReader {
    inner: BufReader<File>,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
}

impl LineReader {
    /// `Ok(None)` when the file does not exist. `end` = `None` reads to the file's length now.
    pub fn open(path: &Path, start: u64, end: Option<u64>) -> io::Result<Option<Self>> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let end = end.map_or(len, |e| e.min(len));
        let start = start.min(end);
        file.seek(SeekFrom::Start(start))?;
        Ok(Some(Self {
            inner: BufReader::with_capacity(256 * 1024, file),
            pos: start,
            end,
            buf: Vec::with_capacity(1024),
        }))
    }

    /// Where the next line starts (after the last one returned).
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let at = self.pos;
        let mut too_long = false;
        let mut ended = false;
        while self.pos < self.end {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                break; // the file shrank under us: stop where it ends
            }
            let room = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
            let avail = &avail[..avail.len().min(room)];
            let (take, found) = match avail.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > MAX_LINE_BYTES {
                    too_long = true;
                    self.buf = Vec::with_capacity(1024);
                } else {
                    self.buf.extend_from_slice(&avail[..take]);
                }
            }
            let used = take + usize::from(found);
            self.inner.consume(used);
            self.pos += used as u64;
            if found {
                ended = true;
                break;
            }
        }
        if self.pos == at {
            return Ok(None);
        }
        Ok(Some(match (too_long, ended) {
            (true, ended) => Line::TooLong { at, ended },
            (false, true) => Line::Full {
                at,
                bytes: &self.buf,
            },
            (false, false) => Line::Tail {
                at,
                bytes: &self.buf,
            },
        }))
    }
}

/// A record parsed without copying its strings (unless they hold escapes). Accepts exactly the
/// lines [`AuditRecord`] accepts.
#[derive(Debug, Deserialize)]
pub struct RecordView<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub when: DateTime<Utc>,
    #[serde(borrow)]
    pub os_user: Cow<'a, str>,
    #[serde(borrow)]
    pub profile: Cow<'a, str>,
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    #[serde(borrow)]
    pub target: Cow<'a, str>,
    #[serde(borrow)]
    pub before: Cow<'a, str>,
    #[serde(borrow)]
    pub after: Cow<'a, str>,
    #[serde(borrow)]
    pub command: Cow<'a, str>,
    pub outcome: AuditOutcome,
    #[serde(borrow)]
    pub detail: Cow<'a, str>,
    #[serde(default)]
    pub forced: bool,
    #[serde(default)]
    pub overridden_guards: Vec<String>,
    #[serde(default, borrow)]
    pub advice: Option<Cow<'a, str>>,
}

impl RecordView<'_> {
    pub fn parse(bytes: &[u8]) -> Option<RecordView<'_>> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        serde_json::from_slice(bytes).ok()
    }

    pub fn to_record(&self) -> AuditRecord {
        AuditRecord {
            id: self.id.to_string(),
            when: self.when,
            os_user: self.os_user.to_string(),
            profile: self.profile.to_string(),
            action: self.action.to_string(),
            target: self.target.to_string(),
            before: self.before.to_string(),
            after: self.after.to_string(),
            command: self.command.to_string(),
            outcome: self.outcome,
            detail: self.detail.to_string(),
            forced: self.forced,
            overridden_guards: self.overridden_guards.clone(),
            advice: self.advice.as_deref().map(str::to_string),
        }
    }
}

/// Lines of the log that could not be read, with where they start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    /// How many lines were skipped.
    pub lines: usize,
    /// Byte offsets of the first few of them.
    pub first_at: Vec<u64>,
    /// The last one is the file's torn tail: bytes with no newline after them that do not
    /// parse (a write cut short by a crash or power loss). The next append starts a new line,
    /// so it stays one damaged line and nothing after it is lost.
    pub torn_tail: bool,
}

impl Damage {
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    pub(crate) fn add(&mut self, at: u64, torn_tail: bool) {
        self.lines += 1;
        if self.first_at.len() < DAMAGE_OFFSETS_KEPT {
            self.first_at.push(at);
        }
        self.torn_tail = torn_tail;
    }
}

/// "1 damaged line skipped at byte 1234 (the last line, cut short: …)".
impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self
            .first_at
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match self.lines {
            0 => f.write_str("no damaged line")?,
            1 => write!(f, "1 damaged line skipped at byte {bytes}")?,
            n if n <= self.first_at.len() => {
                write!(f, "{n} damaged lines skipped at bytes {bytes}")?;
            }
            n => write!(f, "{n} damaged lines skipped, the first at bytes {bytes}")?,
        }
        if self.torn_tail {
            f.write_str(
                " (the last line is cut short: a write interrupted by a crash or power loss)",
            )?;
        }
        Ok(())
    }
}

/// One readable record or one damaged line, in file order.
// Handed by value to a closure once per line: boxing the record would allocate per line.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item<'a> {
    Record { at: u64, view: RecordView<'a> },
    Damaged { at: u64, torn_tail: bool },
}

/// Reads `[start, end)` of the log and hands every record or damaged line to `f`, in file order.
/// A record cut short at the very end is reported as a torn tail (or, when it parses, read).
/// Returns where reading stopped. A missing file reads as empty.
pub(crate) fn scan(
    path: &Path,
    start: u64,
    end: Option<u64>,
    mut f: impl FnMut(Item<'_>),
) -> io::Result<u64> {
    let Some(mut lines) = LineReader::open(path, start, end)? else {
        return Ok(0);
    };
    while let Some(line) = lines.next_line()? {
        // A line without its newline is the file's last: when it does not parse, a torn tail.
        let (at, bytes, last) = match line {
            Line::Full { at, bytes } => (at, bytes, false),
            Line::Tail { at, bytes } => (at, bytes, true),
            Line::TooLong { at, ended } => {
                f(Item::Damaged {
                    at,
                    torn_tail: !ended,
                });
                continue;
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match RecordView::parse(bytes) {
            Some(view) => f(Item::Record { at, view }),
            None => f(Item::Damaged {
                at,
                torn_tail: last,
            }),
        }
    }
    Ok(lines.position())
}

/// Random access to single lines by offset, for the few rows on screen.
pub(crate) struct LineReaderAt {
    inner: BufReader<File>,
    buf: Vec<u8>,
}

impl LineReaderAt {
    pub fn open(path: &Path) -> io::Result<Option<Self>> {
        match File::open(path) {
            Ok(f) => Ok(Some(Self {
                inner: BufReader::with_capacity(8 * 1024, f),
                buf: Vec::with_capacity(1024),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn read(&mut self, at: u64) -> Option<AuditRecord> {
        self.inner.seek(SeekFrom::Start(at)).ok()?;
        self.buf.clear();
        (&mut self.inner)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .ok()?;
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        RecordView::parse(line).map(|v| v.to_record())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(content: &[u8]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        File::create(&path).unwrap().write_all(content).unwrap();
        let mut r = LineReader::open(&path, 0, None).unwrap().unwrap();
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Line::Full { at, bytes } => format!("full@{at}:{}", String::from_utf8_lossy(bytes)),
                Line::Tail { at, bytes } => format!("tail@{at}:{}", String::from_utf8_lossy(bytes)),
                Line::TooLong { at, ended } => format!("long@{at}:{ended}"),
            });
        }
        out
    }

    #[test]
    fn lines_with_offsets_and_a_tail() {
        assert_eq!(
            lines_of(b"ab\n\ncd\nef"),
            ["full@0:ab", "full@3:", "full@4:cd", "tail@7:ef"]
        );
        assert!(lines_of(b"").is_empty());
        let mut long = vec![b'x'; MAX_LINE_BYTES + 10];
        long.extend_from_slice(b"\nok\n");
        long.extend(vec![b'y'; MAX_LINE_BYTES + 1]);
        let at2 = (MAX_LINE_BYTES + 11) as u64;
        assert_eq!(
            lines_of(&long),
            [
                "long@0:true".to_string(),
                format!("full@{at2}:ok"),
                format!("long@{}:false", at2 + 3)
            ]
        );
    }

    #[test]
    fn damage_wording() {
        let mut d = Damage::default();
        d.add(1234, true);
        assert_eq!(
            d.to_string(),
            "1 damaged line skipped at byte 1234 (the last line is cut short: a write \
             interrupted by a crash or power loss)"
        );
        let mut d = Damage::default();
        for at in [1, 2, 3, 4, 5, 6] {
            d.add(at, false);
        }
        assert_eq!(
            d.to_string(),
            "6 damaged lines skipped, the first at bytes 1, 2, 3, 4, 5"
        );
    }
}
