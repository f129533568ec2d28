//! Promote a replica: stop its IO thread, wait (bounded) until the SQL thread has applied
//! everything received, check that it did, and only then stop the replica threads, clear the
//! replica configuration (which deletes the relay log) and turn off read-only — the statements
//! the plan showed ([`MysqlFlavor::stop_io_statement`], [`MysqlFlavor::wait_statement`],
//! [`MysqlFlavor::promote_statements`]).

use super::reading::Reading;
use super::{Inner, QueryError, Server};
use crate::connectors::mysql::gtid::missing;
use crate::model::error::ConnectorError;
use crate::model::mysql::{CATCH_UP_WAIT_SECONDS, MysqlFlavor};
use std::time::Duration;

impl QueryError {
    fn into_connector(self, endpoint: &str, done: &[String]) -> ConnectorError {
        let ran = if done.is_empty() {
            "nothing was run".to_string()
        } else {
            format!("already run: {}", done.join("; "))
        };
        match self {
            Self::Auth(t) => ConnectorError::Auth(format!("{t} ({ran})")),
            Self::Server(t) if t.contains("error 1227") => ConnectorError::Forbidden(format!(
                "{t} ({ran}; the user needs SUPER or REPLICATION ADMIN)"
            )),
            Self::Server(t) => ConnectorError::Refused(format!("{t} ({ran})")),
            Self::Transport(t) if done.is_empty() => ConnectorError::Unreachable {
                endpoint: endpoint.to_string(),
                reason: t,
            },
            Self::Transport(t) => ConnectorError::Failed(format!("{t} ({ran})")),
            Self::Timeout(t) => ConnectorError::Timeout(format!("{t} ({ran})")),
        }
    }
}

/// Received but not applied, in words; `None` when the SQL thread has applied it all. By GTID
/// when the server uses them, else by the source binlog file/offset read vs executed.
fn unapplied(r: &Reading) -> Option<String> {
    let st = r.replica.as_ref()?;
    let (received, applied) = match r.flavor {
        MysqlFlavor::MariaDb => (
            st.gtid_io_pos
                .as_deref()
                .filter(|_| st.using_gtid.as_deref().is_some_and(|u| u != "No")),
            r.gtid_slave_pos.as_deref(),
        ),
        MysqlFlavor::MySql => (st.retrieved_gtid_set.as_deref(), r.gtid_executed.as_deref()),
    };
    if let Some(received) = received {
        let applied = applied.unwrap_or("");
        if let Some(gap) = missing(r.flavor, received, applied) {
            return (gap.transactions > 0).then(|| {
                format!(
                    "received {received}, applied {applied} ({} transaction{} waiting: {})",
                    gap.transactions,
                    if gap.transactions == 1 { "" } else { "s" },
                    gap.named
                )
            });
        }
    }
    st.relay_behind_by_position().then(|| {
        format!(
            "read up to {}:{}, executed up to {}:{}",
            st.read_log_file, st.read_log_pos, st.exec_log_file, st.exec_log_pos
        )
    })
}

impl Inner {
    fn server(&self, name: &str) -> Result<&Server, ConnectorError> {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .map(AsRef::as_ref)
            .ok_or_else(|| {
                ConnectorError::NotFound(format!(
                    "{name} is not part of MySQL cluster {}",
                    self.endpoint.name
                ))
            })
    }

    pub(super) async fn promote(&self, replica: &str) -> Result<String, ConnectorError> {
        let endpoint = self.endpoint.name.as_str();
        let server = self.server(replica)?;
        let before = self
            .read_server(server)
            .await
            .map_err(|e| e.into_connector(endpoint, &[]))?;
        let Some(status) = &before.replica else {
            return Err(ConnectorError::Conflict(format!(
                "{replica} has no replica configuration: it is already a source, nothing was done"
            )));
        };
        let flavor = before.flavor;
        let version = before.version.as_str();
        let mut done: Vec<String> = Vec::new();
        // 1. Stop receiving: from here the relay log only shrinks.
        let stop_io = flavor.stop_io_statement(version);
        self.run(server, &[stop_io])
            .await
            .map_err(|e| e.into_connector(endpoint, &done))?;
        done.push(stop_io.to_string());
        let stopped = self
            .read_server(server)
            .await
            .map_err(|e| e.into_connector(endpoint, &done))?;
        let resume = format!(
            "`START {} IO_THREAD` to resume",
            flavor.replica_keyword(version)
        );
        let Some(received) = &stopped.replica else {
            return Err(ConnectorError::Conflict(format!(
                "{replica} lost its replica configuration while being promoted (someone else \
                 ran RESET?): nothing more was run (already run: {})",
                done.join("; ")
            )));
        };
        // 2. Let the SQL thread apply what was received, bounded.
        if received.sql_running {
            let wait = flavor.wait_statement(version, &received.received_target(flavor, true));
            let limit = Duration::from_secs(CATCH_UP_WAIT_SECONDS + 5);
            match self.run_for(server, &[wait.as_str()], limit).await {
                // The check below decides; a wait the server cannot run is not a verdict.
                Ok(_) | Err(QueryError::Server(_)) => done.push(wait),
                Err(e) => return Err(e.into_connector(endpoint, &done)),
            }
        }
        // 3. Read again: the relay log is deleted below, so all of it must be applied.
        let checked = self
            .read_server(server)
            .await
            .map_err(|e| e.into_connector(endpoint, &done))?;
        if let Some(backlog) = unapplied(&checked) {
            return Err(ConnectorError::Conflict(format!(
                "received transactions were not all applied on {replica} within {} s: \
                 {backlog}{}; nothing was reset; the IO thread was stopped — {resume} (ran: {})",
                CATCH_UP_WAIT_SECONDS,
                if checked.replica.as_ref().is_some_and(|r| !r.sql_running) {
                    " (the SQL thread is stopped)"
                } else {
                    ""
                },
                done.join("; ")
            )));
        }
        let applied_before = match flavor {
            MysqlFlavor::MariaDb => checked.gtid_slave_pos.clone(),
            MysqlFlavor::MySql => checked.gtid_executed.clone(),
        }
        .unwrap_or_else(|| format!("{}:{}", status.exec_log_file, status.exec_log_pos));
        // 4. Stop, forget the source, accept writes.
        for statement in flavor.promote_statements(version) {
            self.run(server, &[statement])
                .await
                .map_err(|e| e.into_connector(endpoint, &done))?;
            done.push((*statement).to_string());
        }
        let after = self
            .read_server(server)
            .await
            .map_err(|e| e.into_connector(endpoint, &done))?;
        let position = match after.flavor {
            MysqlFlavor::MariaDb => after.gtid_binlog_pos.clone(),
            MysqlFlavor::MySql => after.gtid_executed.clone(),
        }
        .unwrap_or_else(|| "none".into());
        Ok(format!(
            "ran `{}` on {replica}: applied position before the reset {applied_before} (from \
             {}, everything received applied); now read_only {}{}, {}, binlog position \
             {position}",
            done.join("; "),
            status.source,
            if after.read_only { "ON" } else { "OFF" },
            after.super_read_only.map_or(String::new(), |s| format!(
                ", super_read_only {}",
                if s { "ON" } else { "OFF" }
            )),
            if after.replica.is_some() {
                "replica configuration STILL PRESENT"
            } else {
                "no replica configuration"
            }
        ))
    }
}
