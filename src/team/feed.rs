//! The live team feed: every write to the store is followed by a `NOTIFY` on the schema's
//! channel; a console listens on a session of its own and, on each notification (or every few
//! seconds when notifications are lost), reads the locks held and the records shared since it
//! last looked.

use super::history::TeamRow;
use super::lock::Holder;
use super::store::TeamStore;
use chrono::DateTime;
use tokio_postgres::Client;

/// The channel the store's writers notify and consoles listen on.
pub fn channel(schema: &str) -> String {
    format!("scaleboard_feed_{schema}")
}

impl TeamStore {
    /// A session that has run `LISTEN`: each notification's payload goes to `notices`.
    pub async fn listen(
        &self,
        notices: tokio::sync::mpsc::Sender<String>,
    ) -> Result<Client, String> {
        let client = self.open_listening(notices).await?;
        client
            .batch_execute(&format!("LISTEN {}", channel(self.schema())))
            .await
            .map_err(|e| e.to_string())?;
        Ok(client)
    }

    /// Locks held right now, as (lock identity, holder).
    pub async fn held_locks(&self) -> Result<Vec<(String, Holder)>, String> {
        let s = self.schema();
        let sql = format!(
            "SELECT l.target, l.operator, l.host, l.profile, l.summary, l.action_id, \
                    (extract(epoch FROM l.at) * 1000)::bigint \
             FROM {s}.locks l JOIN pg_locks p ON p.locktype = 'advisory' AND p.granted \
                  AND p.pid = l.backend_pid \
                  AND p.classid = ((l.lock_key >> 32) & 4294967295)::oid \
                  AND p.objid = (l.lock_key & 4294967295)::oid AND p.objsubid = 1 \
             WHERE l.event IN ('taken', 'taken_over') \
               AND NOT EXISTS (SELECT 1 FROM {s}.locks r WHERE r.action_id = l.action_id \
                               AND r.event = 'released') \
             ORDER BY l.at DESC LIMIT 500"
        );
        let rows = self.with_client(async |c| c.query(&sql, &[]).await).await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Holder {
                        operator: r.get(1),
                        host: r.get(2),
                        profile: r.get(3),
                        summary: r.get(4),
                        action_id: r.get(5),
                        since: DateTime::from_timestamp_millis(r.get(6)).unwrap_or_default(),
                    },
                )
            })
            .collect())
    }

    /// Records shared after `cursor` (micros of `shared_at`; None: only learn where "now" is),
    /// oldest first, at most 100; moves the cursor. Records this console shared are left out.
    pub async fn shared_since(&self, cursor: &mut Option<i64>) -> Result<Vec<TeamRow>, String> {
        let s = self.schema();
        let Some(after) = *cursor else {
            let sql = format!(
                "SELECT coalesce((extract(epoch FROM max(shared_at)) * 1000000)::bigint, 0) \
                 FROM {s}.audit"
            );
            let now: i64 = self
                .with_client(async |c| c.query_one(&sql, &[]).await.map(|r| r.get(0)))
                .await?;
            *cursor = Some(now);
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT (extract(epoch FROM at) * 1000000)::bigint, operator, host, profile, action, \
                    target, before, after, outcome, detail, action_id, phase, \
                    (extract(epoch FROM shared_at) * 1000000)::bigint \
             FROM {s}.audit WHERE shared_at > {} \
             ORDER BY shared_at LIMIT 100",
            super::history::micros_sql("$1")
        );
        let rows = self
            .with_client(async |c| c.query(&sql, &[&after]).await)
            .await?;
        if let Some(last) = rows.last() {
            *cursor = Some(last.get(12));
        }
        Ok(rows
            .iter()
            .map(TeamRow::from_row)
            .filter(|row| !self.is_own(&row.action_id))
            .collect())
    }
}
