//! Change locks: a PostgreSQL session-level advisory lock on a hash of the target's identity,
//! held by a session of its own for the whole action, plus append-only rows saying who took it,
//! for what, since when, and when it was released.
//!
//! A console that dies loses its session, and with it the lock: the server notices a killed
//! process at once (the kernel closes the socket) and a vanished machine through TCP keepalives,
//! which the lock session sets for itself (tcp_keepalives_* are per-session settings).

use super::store::TeamStore;
use chrono::{DateTime, Utc};
use std::fmt;
use std::sync::Arc;
use tokio_postgres::Client;

/// Who holds a lock another console asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub operator: String,
    pub host: String,
    pub profile: String,
    pub since: DateTime<Utc>,
    /// "scale nexus/api 3 → 5".
    pub summary: String,
    pub action_id: String,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "in progress: {}@{} since {} UTC — {}",
            self.operator,
            self.host,
            self.since.format("%H:%M:%S"),
            self.summary
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// Another console holds it (None: it has not written its row yet).
    Held(Option<Holder>),
    /// The store could not be asked.
    Unreachable(String),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held(Some(h)) => h.fmt(f),
            Self::Held(None) => f.write_str("in progress on another console (no record of it yet)"),
            Self::Unreachable(why) => f.write_str(why),
        }
    }
}

/// A held lock. Dropping it releases it: a "released" row, then the session ends.
pub struct LockHold {
    client: Option<Client>,
    store: Arc<TeamStore>,
    key: i64,
    row: LockRow,
}

#[derive(Clone)]
struct LockRow {
    action_id: String,
    target: String,
    summary: String,
}

impl Drop for LockHold {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // the session ends with the client, and the lock with it
        };
        let store = Arc::clone(&self.store);
        let (key, row) = (self.key, self.row.clone());
        runtime.spawn(async move {
            let _ = store
                .insert_lock_row(&client, "released", key, &row, "")
                .await;
            let _ = client
                .execute("SELECT pg_advisory_unlock($1)", &[&key])
                .await;
        });
    }
}

/// The lock key of a target identity, as the server computes it (same in every console).
const KEY_SQL: &str = "SELECT hashtextextended($1, 0)";

/// The holder of `key` right now: the newest "taken" row whose session still holds the lock.
fn holder_sql(schema: &str) -> String {
    format!(
        "SELECT l.operator, l.host, l.profile, l.summary, l.action_id, \
                (extract(epoch FROM l.at) * 1000)::bigint \
         FROM {schema}.locks l JOIN pg_locks p ON p.locktype = 'advisory' AND p.granted \
              AND p.pid = l.backend_pid \
              AND p.classid = ((l.lock_key >> 32) & 4294967295)::oid \
              AND p.objid = (l.lock_key & 4294967295)::oid AND p.objsubid = 1 \
         WHERE l.lock_key = $1 AND l.event IN ('taken', 'taken_over') \
         ORDER BY l.at DESC LIMIT 1"
    )
}

impl TeamStore {
    async fn insert_lock_row(
        &self,
        client: &Client,
        event: &str,
        key: i64,
        row: &LockRow,
        reason: &str,
    ) -> Result<u64, tokio_postgres::Error> {
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO {}.locks (action_id, event, lock_key, target, summary, operator, \
                     host, profile, backend_pid, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                     pg_backend_pid(), $9) ON CONFLICT DO NOTHING",
                    self.schema()
                ),
                &[
                    &row.action_id,
                    &event,
                    &key,
                    &row.target,
                    &row.summary,
                    &crate::actions::audit::os_user(),
                    &self.host,
                    &self.profile,
                    &reason,
                ],
            )
            .await?;
        let channel = super::feed::channel(self.schema());
        client
            .execute("SELECT pg_notify($1, $2)", &[&channel, &row.action_id])
            .await?;
        Ok(inserted)
    }

    /// Takes the change lock of `identity` for the action `action_id`, or says who holds it.
    pub async fn take_lock(
        self: &Arc<Self>,
        identity: &str,
        action_id: &str,
        summary: &str,
    ) -> Result<LockHold, LockError> {
        let client = self
            .open_session()
            .await
            .map_err(|e| LockError::Unreachable(self.unreachable(&e)))?;
        let unreachable =
            |e: tokio_postgres::Error| LockError::Unreachable(self.unreachable(&e.to_string()));
        // A dead console's session (and lock) ends after about 10 + 3 × 5 s without an answer.
        client
            .batch_execute(
                "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
                 SET tcp_keepalives_count = 3",
            )
            .await
            .map_err(unreachable)?;
        let key: i64 = client
            .query_one(KEY_SQL, &[&identity])
            .await
            .map_err(unreachable)?
            .get(0);
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(unreachable)?
            .get(0);
        if !got {
            return Err(LockError::Held(self.holder_of(&client, key).await));
        }
        self.note_own(action_id);
        let row = LockRow {
            action_id: action_id.to_owned(),
            target: identity.to_owned(),
            summary: summary.to_owned(),
        };
        self.insert_lock_row(&client, "taken", key, &row, "")
            .await
            .map_err(unreachable)?;
        Ok(LockHold {
            client: Some(client),
            store: Arc::clone(self),
            key,
            row,
        })
    }

    /// Takes over the change lock of `identity` that another console holds: a "taken_over"
    /// row naming the previous holder (`from`) and the operator's `reason`, on a session held
    /// for the action like a lock's. The other console's advisory lock stays with its session;
    /// this action runs beside it, on the operator's word.
    pub async fn take_over(
        self: &Arc<Self>,
        identity: &str,
        action_id: &str,
        summary: &str,
        reason: &str,
        from: &str,
    ) -> Result<LockHold, LockError> {
        let client = self
            .open_session()
            .await
            .map_err(|e| LockError::Unreachable(self.unreachable(&e)))?;
        let key: i64 = client
            .query_one(KEY_SQL, &[&identity])
            .await
            .map_err(|e| LockError::Unreachable(e.to_string()))?
            .get(0);
        self.note_own(action_id);
        let row = LockRow {
            action_id: action_id.to_owned(),
            target: identity.to_owned(),
            summary: summary.to_owned(),
        };
        self.insert_lock_row(
            &client,
            "taken_over",
            key,
            &row,
            &format!("{reason} ({from})"),
        )
        .await
        .map_err(|e| LockError::Unreachable(e.to_string()))?;
        Ok(LockHold {
            client: Some(client),
            store: Arc::clone(self),
            key,
            row,
        })
    }

    async fn holder_of(&self, client: &Client, key: i64) -> Option<Holder> {
        let row = client
            .query_opt(&holder_sql(self.schema()), &[&key])
            .await
            .ok()??;
        Some(Holder {
            operator: row.get(0),
            host: row.get(1),
            profile: row.get(2),
            summary: row.get(3),
            action_id: row.get(4),
            since: DateTime::from_timestamp_millis(row.get(5)).unwrap_or_default(),
        })
    }

    /// Who holds the lock of `identity` now, if anyone (for previews and `team status`).
    pub async fn lock_holder(&self, identity: &str) -> Result<Option<Holder>, String> {
        let client = self.open_session().await?;
        let key: i64 = client
            .query_one(KEY_SQL, &[&identity])
            .await
            .map_err(|e| e.to_string())?
            .get(0);
        Ok(self.holder_of(&client, key).await)
    }
}
