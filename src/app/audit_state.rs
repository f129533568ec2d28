//! The Audit panel's state: one page of rows at a time, asked of the engine (which streams and
//! indexes the log off the UI thread), plus the intents with no outcome, reported once at
//! start-up as warnings.

use super::{Level, ScaleboardApp};
use crate::actions::audit::{
    AuditFilter, AuditPage, AuditQuery, AuditRecord, Damage, UnresolvedIntent,
};
use crate::engine::Command;
use crate::engine::files::FileJob;
use chrono::{DateTime, Utc};

/// Rows asked per page: several screens, so scrolling rarely waits.
pub const PAGE_ROWS: usize = 200;
/// At start-up, one notification per unresolved intent up to this many, then one for the rest.
const STARTUP_NOTIFIED: usize = 5;

#[derive(Default)]
pub struct AuditState {
    /// What the operator typed; pages are asked for it.
    pub filter: AuditFilter,
    /// A page has arrived at least once.
    pub loaded: bool,
    /// The loaded page's rows (newest first, from row `answered.first`): never the whole log.
    /// An [`crate::actions::audit::AuditOutcome::Intent`] here is an action with no outcome.
    pub records: Vec<AuditRecord>,
    /// For each of `records`, when the action started (its intent's time), if it reached its
    /// write.
    pub started: Vec<Option<DateTime<Utc>>>,
    /// The query the loaded page answers.
    pub answered: AuditQuery,
    /// Rows (actions) matching `answered.filter`, in the log, and readable records.
    pub matching: usize,
    pub actions: usize,
    pub total_records: u64,
    /// Intents with no outcome (whatever the filter), oldest first, capped; and how many.
    pub unresolved: Vec<UnresolvedIntent>,
    pub unresolved_total: usize,
    /// Lines of the log that could not be read.
    pub damage: Damage,
    /// The first row the panel wants on the page (follows scrolling).
    pub wanted_first: usize,
    /// A query is with the engine; the next waits for its answer (requests coalesce).
    pub in_flight: bool,
    /// The log changed since the page was read.
    pub(super) stale: bool,
    pub(super) startup_reported: bool,
    pub export_path: String,
    /// The save dialog is open (on the engine's blocking pool).
    pub picking_path: bool,
    /// This console's log or the team's shared history (team mode).
    pub source: super::AuditSource,
    pub team: super::TeamAuditState,
}

impl AuditState {
    /// Row `i` of the filtered list (newest first), if it is on the loaded page.
    pub fn row(&self, i: usize) -> Option<(&AuditRecord, Option<DateTime<Utc>>)> {
        let k = i.checked_sub(self.answered.first)?;
        Some((self.records.get(k)?, self.started.get(k).copied().flatten()))
    }

    /// Rows `first..=last` are all on the loaded page (or past the end of the list).
    pub fn covers(&self, first: usize, last: usize) -> bool {
        let start = self.answered.first;
        let end = start + self.records.len();
        first >= start && (last < end || end >= self.matching)
    }

    /// A different filter is being read (or was typed and waits for its turn).
    pub fn filtering(&self) -> bool {
        self.filter != self.answered.filter
    }

    /// The query to send now, if any: none while one is with the engine.
    fn next_query(&mut self) -> Option<AuditQuery> {
        let same = self.loaded
            && !self.stale
            && self.filter == self.answered.filter
            && self.wanted_first == self.answered.first;
        if self.in_flight || same {
            return None;
        }
        self.in_flight = true;
        self.stale = false;
        Some(AuditQuery {
            filter: self.filter.clone(),
            first: self.wanted_first,
            count: PAGE_ROWS,
        })
    }

    fn take_page(&mut self, page: AuditPage) {
        let AuditPage {
            query,
            rows,
            matching,
            actions,
            records,
            unresolved,
            unresolved_total,
            damage,
        } = page;
        (self.records, self.started) = rows.into_iter().map(|r| (r.record, r.started)).unzip();
        self.answered = query;
        self.matching = matching;
        self.actions = actions;
        self.total_records = records;
        self.unresolved = unresolved;
        self.unresolved_total = unresolved_total;
        self.damage = damage;
        self.loaded = true;
    }
}

impl ScaleboardApp {
    /// Read the log again (what was appended since; all of it for a new filter).
    pub fn request_audit(&mut self) {
        self.audit.stale = true;
        self.pump_audit();
    }

    /// Send the query the panel needs now, unless one is already with the engine.
    pub fn pump_audit(&mut self) {
        if let Some(query) = self.audit.next_query()
            && let Err(e) = self.engine.send(Command::Files(FileJob::QueryAudit(query)))
        {
            self.audit.in_flight = false;
            let now = self.clock.now_ms();
            self.notifications.push(now, Level::Error, e.to_string());
        }
    }

    /// The engine's answer to a query. The first one reports, at start-up, every action whose
    /// outcome is unknown (and a damaged log) as warnings.
    pub(super) fn audit_answered(&mut self, result: Result<Box<AuditPage>, String>) {
        self.audit.in_flight = false;
        let now = self.clock.now_ms();
        match result {
            Ok(page) => self.audit.take_page(*page),
            Err(e) => {
                self.audit.loaded = true;
                self.notifications.push(now, Level::Error, e);
                return;
            }
        }
        if !self.audit.startup_reported {
            self.audit.startup_reported = true;
            let listed = self.audit.unresolved.iter().take(STARTUP_NOTIFIED);
            let texts: Vec<String> = listed.map(UnresolvedIntent::message).collect();
            for text in texts {
                self.notifications.push(now, Level::Warning, text);
            }
            let more = self.audit.unresolved_total.saturating_sub(STARTUP_NOTIFIED);
            if more > 0 {
                self.notifications.push(
                    now,
                    Level::Warning,
                    format!("… and {more} more actions with outcome unknown: see the Audit panel"),
                );
            }
            if !self.audit.damage.is_empty() {
                let text = format!("The audit log: {}", self.audit.damage);
                self.notifications.push(now, Level::Warning, text);
            }
        }
        self.pump_audit();
    }
}
