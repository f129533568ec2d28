//! The Audit panel's Team view (team mode): the history every console shares, one page at a
//! time, filtered and paged by the team store (keyset pages, newest first). The engine runs the
//! query; the window shows "loading…" until it answers, and the store's trouble in words.

use super::{Level, ScaleboardApp};
use crate::actions::audit::AuditOutcome;
use crate::engine::Command;
use crate::team::{PageKey, TeamPage, TeamQuery, TeamRow};

/// Rows per page of the Team view.
pub const TEAM_PAGE_ROWS: i64 = 100;

/// Which history the Audit panel shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuditSource {
    /// This console's own log (always there).
    #[default]
    Local,
    /// The team store of the profile, when it has one.
    Team,
}

#[derive(Default)]
pub struct TeamAuditState {
    /// Matches operator, host, profile, action or target (in SQL, ignoring case).
    pub text: String,
    /// Only records with this outcome; `Intent` lists the intents.
    pub outcome: Option<AuditOutcome>,
    /// The page shown, from 0 (newest).
    pub page: usize,
    /// Where each page visited so far starts (`starts[0]` is None: the top); the keys of the
    /// filter they were read for.
    starts: Vec<Option<PageKey>>,
    starts_for: (String, Option<AuditOutcome>),
    /// The loaded page (newest first) and where the next one starts.
    pub rows: Vec<TeamRow>,
    pub next: Option<PageKey>,
    /// The query the rows (or the error) answer; None until the first answer.
    pub answered: Option<TeamQuery>,
    /// Why the last query failed, in words; the rows of the last good read stay below it.
    pub error: Option<String>,
    /// A query is with the engine; the next waits for its answer.
    pub in_flight: bool,
    /// Something was recorded since the page was read (own action, colleague's feed, reload).
    stale: bool,
}

/// The store's spelling of an outcome ("timed_out").
pub fn outcome_key(o: AuditOutcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl TeamAuditState {
    /// The query for what the operator asked: the filter as typed, the page chosen.
    pub fn wanted(&mut self) -> TeamQuery {
        let filter = (self.text.trim().to_owned(), self.outcome);
        if self.starts.is_empty() || self.starts_for != filter {
            // A new filter starts again at the top.
            self.starts = vec![None];
            self.page = 0;
            self.starts_for = filter;
        }
        self.page = self.page.min(self.starts.len() - 1);
        TeamQuery {
            text: self.starts_for.0.clone(),
            outcome: self.outcome.map(outcome_key),
            after: self.starts[self.page].clone(),
            limit: TEAM_PAGE_ROWS,
        }
    }

    /// The query to send now, if any: none while one is with the engine, none when the page
    /// shown answers it already.
    fn next_query(&mut self) -> Option<TeamQuery> {
        let wanted = self.wanted();
        if self.in_flight || (!self.stale && self.answered.as_ref() == Some(&wanted)) {
            return None;
        }
        self.in_flight = true;
        self.stale = false;
        Some(wanted)
    }

    /// A page has been answered (rows or an error).
    pub fn loaded(&self) -> bool {
        self.answered.is_some()
    }

    /// The filter typed differs from the one the rows answer: a read is on its way.
    pub fn filtering(&self) -> bool {
        self.answered.as_ref().is_some_and(|a| {
            a.text != self.text.trim() || a.outcome != self.outcome.map(outcome_key)
        })
    }

    pub fn can_go_older(&self) -> bool {
        self.next.is_some() && self.error.is_none()
    }

    /// The next (older) page.
    pub fn older(&mut self) {
        if let Some(next) = self.next.clone() {
            self.starts.truncate(self.page + 1);
            self.starts.push(Some(next));
            self.page += 1;
        }
    }

    /// The previous (newer) page.
    pub fn newer(&mut self) {
        self.page = self.page.saturating_sub(1);
    }

    /// Read the page again when next asked (its records may have changed).
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    fn take(&mut self, query: TeamQuery, result: Result<Box<TeamPage>, String>) {
        self.in_flight = false;
        match result {
            Ok(page) => {
                let TeamPage { rows, next, .. } = *page;
                self.rows = rows;
                self.next = next;
                self.error = None;
            }
            Err(why) => self.error = Some(why),
        }
        self.answered = Some(query);
    }
}

impl ScaleboardApp {
    /// The profile has a team store: the Audit panel offers its Team view.
    pub fn has_team_store(&self) -> bool {
        self.profiles.active.team.is_some()
    }

    /// Send the Team view's query when it needs one (called while the view is drawn, so a
    /// hidden view never queries the store).
    pub fn pump_team_audit(&mut self) {
        if let Some(query) = self.audit.team.next_query()
            && let Err(e) = self.engine.send(Command::QueryTeamAudit(query))
        {
            self.audit.team.in_flight = false;
            let now = self.clock.now_ms();
            self.notifications.push(now, Level::Error, e.to_string());
        }
    }

    pub(super) fn team_audit_answered(
        &mut self,
        query: TeamQuery,
        result: Result<Box<TeamPage>, String>,
    ) {
        self.audit.team.take(query, result);
    }

    /// Another profile: its store's history is another one (an answer still on its way for
    /// the old one is read again).
    pub(super) fn reset_team_audit(&mut self) {
        let in_flight = self.audit.team.in_flight;
        self.audit.team = TeamAuditState {
            in_flight,
            stale: true,
            ..TeamAuditState::default()
        };
        if !self.has_team_store() {
            self.audit.source = AuditSource::Local;
        }
    }
}
