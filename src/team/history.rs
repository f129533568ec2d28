//! Reading the team store: the shared history (filtered and paged in SQL, newest first, keyset
//! pagination on the `at` index) and the state of the change locks for `team status`.

use super::store::TeamStore;
use chrono::{DateTime, Utc};

/// One row of the team's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TeamRow {
    pub when: DateTime<Utc>,
    pub operator: String,
    pub host: String,
    pub profile: String,
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
    /// snake_case outcome ("intent", "succeeded", "refused"…).
    pub outcome: String,
    pub detail: String,
    pub action_id: String,
    pub phase: String,
}

impl TeamRow {
    /// A row of the history queries, whose first twelve columns are, in order: time (micros),
    /// operator, host, profile, action, target, before, after, outcome, detail, action id, phase.
    pub(super) fn from_row(r: &tokio_postgres::Row) -> Self {
        Self {
            when: DateTime::from_timestamp_micros(r.get(0)).unwrap_or_default(),
            operator: r.get(1),
            host: r.get(2),
            profile: r.get(3),
            action: r.get(4),
            target: r.get(5),
            before: r.get(6),
            after: r.get(7),
            outcome: r.get(8),
            detail: r.get(9),
            action_id: r.get(10),
            phase: r.get(11),
        }
    }
}

/// Where the next page starts: the last row of the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    pub at_micros: i64,
    pub action_id: String,
    pub phase: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamQuery {
    /// Matches operator, host, profile, action or target, ignoring case.
    pub text: String,
    pub outcome: Option<String>,
    pub after: Option<PageKey>,
    pub limit: i64,
}

/// One page of the history as the Audit panel's Team view asks for it: the query it answers,
/// its rows (newest first) and where the next page starts (None: this is the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamPage {
    pub query: TeamQuery,
    pub rows: Vec<TeamRow>,
    pub next: Option<PageKey>,
}

/// A lock whose console is gone without releasing it: its action's outcome is unknown unless
/// the store has one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockState {
    pub action_id: String,
    pub target: String,
    pub summary: String,
    pub operator: String,
    pub host: String,
    pub since: DateTime<Utc>,
    /// "held", or "outcome unknown (console gone)": freed with no outcome recorded.
    pub state: String,
}

/// The timestamp `param` microseconds after the epoch, computed exactly (whole seconds plus
/// microseconds: a float of all the microseconds could be off by one).
pub(super) fn micros_sql(param: &str) -> String {
    format!(
        "('epoch'::timestamptz + ({param}::bigint / 1000000) * interval '1 second' \
         + ({param}::bigint % 1000000) * interval '1 microsecond')"
    )
}

impl TeamStore {
    /// One page of the history, newest first, and the key of the next page.
    pub async fn history(&self, q: &TeamQuery) -> Result<(Vec<TeamRow>, Option<PageKey>), String> {
        let s = self.schema();
        let sql = format!(
            "SELECT (extract(epoch FROM at) * 1000000)::bigint, operator, host, profile, action, \
                    target, before, after, outcome, detail, action_id, phase \
             FROM {s}.audit \
             WHERE ($1 = '' OR (operator || ' ' || host || ' ' || profile || ' ' || action \
                               || ' ' || target) ILIKE $2) \
               AND ($3::text IS NULL OR outcome = $3) \
               AND ($4::bigint IS NULL \
                    OR (at, action_id, phase) < ({}, $5, $6)) \
             ORDER BY at DESC, action_id DESC, phase DESC LIMIT $7",
            micros_sql("$4")
        );
        let text = q.text.trim().to_owned();
        let like = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let (at, id, phase) = match &q.after {
            Some(k) => (Some(k.at_micros), k.action_id.clone(), k.phase.clone()),
            None => (None, String::new(), String::new()),
        };
        let limit = q.limit.clamp(1, 1000);
        let rows = self
            .with_client(async |c| {
                c.query(&sql, &[&text, &like, &q.outcome, &at, &id, &phase, &limit])
                    .await
            })
            .await?;
        let out: Vec<TeamRow> = rows.iter().map(TeamRow::from_row).collect();
        let next = (out.len() as i64 == limit)
            .then(|| rows.last())
            .flatten()
            .map(|r| PageKey {
                at_micros: r.get(0),
                action_id: r.get(10),
                phase: r.get(11),
            });
        Ok((out, next))
    }

    /// Locks taken and not released, newest first: still held, or left by a console that died.
    pub async fn open_locks(&self) -> Result<Vec<LockState>, String> {
        let s = self.schema();
        let sql = format!(
            "SELECT l.target, l.summary, l.operator, l.host, \
                    (extract(epoch FROM l.at) * 1000)::bigint, \
                    EXISTS (SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted \
                            AND p.pid = l.backend_pid \
                            AND p.classid = ((l.lock_key >> 32) & 4294967295)::oid \
                            AND p.objid = (l.lock_key & 4294967295)::oid), \
                    (SELECT a.outcome FROM {s}.audit a \
                     WHERE a.action_id = l.action_id AND a.phase = 'outcome'), l.action_id \
             FROM {s}.locks l \
             WHERE l.event = 'taken' AND NOT EXISTS (SELECT 1 FROM {s}.locks r \
                   WHERE r.action_id = l.action_id AND r.event = 'released') \
             ORDER BY l.at DESC LIMIT 200"
        );
        let rows = self.with_client(async |c| c.query(&sql, &[]).await).await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let held: bool = r.get(5);
                let outcome: Option<String> = r.get(6);
                // Freed without its release row (the console ended right after recording the
                // outcome): nothing to say about it.
                if !held && outcome.is_some() {
                    return None;
                }
                Some(LockState {
                    action_id: r.get(7),
                    target: r.get(0),
                    summary: r.get(1),
                    operator: r.get(2),
                    host: r.get(3),
                    since: DateTime::from_timestamp_millis(r.get(4)).unwrap_or_default(),
                    state: if held {
                        "held".into()
                    } else {
                        "outcome unknown (console gone)".into()
                    },
                })
            })
            .collect())
    }

    /// Rows in the store's history (tests and `team status`).
    pub async fn count(&self) -> Result<i64, String> {
        let sql = format!("SELECT count(*) FROM {}.audit", self.schema());
        self.with_client(async |c| c.query_one(&sql, &[]).await.map(|r| r.get(0)))
            .await
    }
}
