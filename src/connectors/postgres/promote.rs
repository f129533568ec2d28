//! Promote a replica with `pg_promote(wait => true)` after checking once more that it is in
//! recovery; the answer says the replay position before and the timeline after.

use super::Inner;
use super::reading;
use crate::model::error::ConnectorError;
use crate::model::units::format_lsn;
use tokio_postgres::SimpleQueryMessage;

/// `pg_promote(wait_seconds => …)`.
pub const PROMOTE_WAIT_SECONDS: u32 = 60;

impl Inner {
    pub(super) async fn promote(&self, replica: &str) -> Result<String, ConnectorError> {
        let server = self
            .servers
            .iter()
            .find(|s| s.name == replica)
            .ok_or_else(|| {
                ConnectorError::Failed(format!(
                    "{replica} is not a server of {} (known: {})",
                    self.endpoint.name,
                    self.server_names().join(", ")
                ))
            })?;
        let fail = |e: String| ConnectorError::Failed(format!("{replica}: {e}"));
        let before = self
            .query(
                server,
                "SELECT pg_is_in_recovery()::text, pg_last_wal_replay_lsn()::text",
            )
            .await
            .map_err(fail)?;
        let row = first_row(&before).map_err(fail)?;
        if row.first().map(String::as_str) != Some("true") {
            return Err(ConnectorError::Conflict(format!(
                "{replica} is not in recovery: it is already a primary, nothing was done"
            )));
        }
        let replay_before = row.get(1).cloned().unwrap_or_default();
        let sql = format!(
            "SELECT pg_promote(wait => true, wait_seconds => {PROMOTE_WAIT_SECONDS})::text"
        );
        let promoted = self.query(server, &sql).await.map_err(fail)?;
        if first_row(&promoted)
            .map_err(fail)?
            .first()
            .map(String::as_str)
            != Some("true")
        {
            return Err(ConnectorError::Failed(format!(
                "pg_promote on {replica} did not finish within {PROMOTE_WAIT_SECONDS} s; it may still be promoting, check its log"
            )));
        }
        let after = self
            .query(
                server,
                "SELECT pg_current_wal_lsn()::text, \
                 (('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int)::text",
            )
            .await
            .map_err(fail)?;
        let row = first_row(&after).map_err(fail)?;
        let lsn_after = row
            .first()
            .and_then(|t| reading::parse_lsn(t))
            .map_or_else(|| "?".into(), format_lsn);
        Ok(format!(
            "pg_promote returned true on {replica}: replay LSN before {replay_before}; now primary at {lsn_after} on timeline {}",
            row.get(1).map_or("?", String::as_str)
        ))
    }
}

fn first_row(messages: &[SimpleQueryMessage]) -> Result<Vec<String>, String> {
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .ok_or_else(|| "the server returned no row".to_string())
}
