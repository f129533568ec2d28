//! Promote a replica: stop its IO thread, wait (bounded) until the SQL thread has applied
//! everything received, check that it did, and only then stop the replica threads, clear the
//! replica configuration (which deletes the relay log) and turn off read-only — the statements
//! the plan showed ([`MysqlFlavor::stop_io_statement`], [`MysqlFlavor::wait_statement`],
//! [`MysqlFlavor::promote_statements`]).
//!
//! No half-done promotion is left silently: when a step fails before the reset, the replica
//! threads it stopped are started again and the error says both what failed and what was
//! undone; after the reset nothing can be put back, and the error says that too.

use super::reading::Reading;
use super::{Inner, QueryError, Server};
use crate::connectors::mysql::gtid::missing;
use crate::model::error::ConnectorError;
use crate::model::mysql::{CATCH_UP_WAIT_SECONDS, MysqlFlavor};
use std::time::Duration;

/// What the promotion had done when a step failed, and how that was undone.
struct Progress<'a> {
    endpoint: &'a str,
    flavor: MysqlFlavor,
    version: &'a str,
    done: Vec<String>,
    /// Words on the undo, added to the error ("undone: START SLAVE; …").
    undo: Option<String>,
}

impl Progress<'_> {
    fn error(&self, e: QueryError, statement: Option<&str>) -> ConnectorError {
        let mut ran = if self.done.is_empty() {
            "nothing was run".to_string()
        } else {
            format!("already run: {}", self.done.join("; "))
        };
        if let Some(undo) = &self.undo {
            ran.push_str(&format!("; {undo}"));
        }
        match e {
            QueryError::Auth(t) => ConnectorError::Auth(format!("{t} ({ran})")),
            // Error 1227 names the privilege the server wanted; the hint says what the step
            // needs in this family, never a guess.
            QueryError::Server(t) if t.contains("error 1227") => {
                let needs = statement
                    .and_then(|st| super::grants::requirement(self.flavor, self.version, st))
                    .map_or(String::new(), |n| format!("; {n}"));
                ConnectorError::Forbidden(format!("{t} ({ran}{needs})"))
            }
            QueryError::Server(t) => ConnectorError::Refused(format!("{t} ({ran})")),
            QueryError::Transport(t) if self.done.is_empty() => ConnectorError::Unreachable {
                endpoint: self.endpoint.to_string(),
                reason: t,
            },
            QueryError::Transport(t) => ConnectorError::Failed(format!("{t} ({ran})")),
            QueryError::Timeout(t) => ConnectorError::Timeout(format!("{t} ({ran})")),
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

    /// Start again the replica threads this promotion stopped (those that ran before it):
    /// words for the audit on what was run and what the threads say now.
    async fn undo_stop(
        &self,
        server: &Server,
        keyword: &str,
        (io_before, sql_before): (bool, bool),
        (io_stopped, sql_stopped): (bool, bool),
    ) -> Option<String> {
        let statement = match (io_before && io_stopped, sql_before && sql_stopped) {
            (true, true) => format!("START {keyword}"),
            (true, false) => format!("START {keyword} IO_THREAD"),
            (false, true) => format!("START {keyword} SQL_THREAD"),
            (false, false) => return None,
        };
        if let Err(e) = self.run(server, &[statement.as_str()]).await {
            return Some(format!(
                "undo failed: `{statement}` failed ({}); the replica threads stay stopped — run it by hand",
                e.text()
            ));
        }
        let now = match self.read_server(server).await {
            Ok(r) => r.replica.map_or_else(
                || "no replica configuration".to_string(),
                |st| {
                    format!(
                        "IO thread {}, SQL thread {}",
                        st.io_running,
                        if st.sql_running { "Yes" } else { "No" }
                    )
                },
            ),
            Err(e) => format!("not read back: {}", e.text()),
        };
        Some(format!(
            "undone: `{statement}` ran, the replica threads run again ({now})"
        ))
    }

    pub(super) async fn promote(&self, replica: &str) -> Result<String, ConnectorError> {
        let endpoint = self.endpoint.name.as_str();
        let server = self.server(replica)?;
        let before = self.read_server(server).await.map_err(|e| {
            Progress {
                endpoint,
                flavor: MysqlFlavor::default(),
                version: "",
                done: Vec::new(),
                undo: None,
            }
            .error(e, None)
        })?;
        let Some(status) = &before.replica else {
            return Err(ConnectorError::Conflict(format!(
                "{replica} has no replica configuration: it is already a source, nothing was done"
            )));
        };
        let flavor = before.flavor;
        let version = before.version.as_str();
        let keyword = flavor.replica_keyword(version);
        // "Connecting" is a running IO thread that waits for its source.
        let threads_before = (status.io_running != "No", status.sql_running);
        let mut p = Progress {
            endpoint,
            flavor,
            version,
            done: Vec::new(),
            undo: None,
        };
        // 1. Stop receiving: from here the relay log only shrinks.
        let stop_io = flavor.stop_io_statement(version);
        self.run(server, &[stop_io])
            .await
            .map_err(|e| p.error(e, Some(stop_io)))?;
        p.done.push(stop_io.to_string());
        // From here a failure starts the IO thread again before it is reported.
        let io_only = (true, false);
        let stopped = match self.read_server(server).await {
            Ok(r) => r,
            Err(e) => {
                p.undo = self
                    .undo_stop(server, keyword, threads_before, io_only)
                    .await;
                return Err(p.error(e, None));
            }
        };
        let Some(received) = &stopped.replica else {
            return Err(ConnectorError::Conflict(format!(
                "{replica} lost its replica configuration while being promoted (someone else \
                 ran RESET?): nothing more was run (already run: {})",
                p.done.join("; ")
            )));
        };
        // 2. Let the SQL thread apply what was received, bounded.
        if received.sql_running {
            let wait = flavor.wait_statement(version, &received.received_target(flavor, true));
            let limit = Duration::from_secs(CATCH_UP_WAIT_SECONDS + 5);
            match self.run_for(server, &[wait.as_str()], limit).await {
                // The check below decides; a wait the server cannot run is not a verdict.
                Ok(_) | Err(QueryError::Server(_)) => p.done.push(wait),
                Err(e) => {
                    p.undo = self
                        .undo_stop(server, keyword, threads_before, io_only)
                        .await;
                    return Err(p.error(e, None));
                }
            }
        }
        // 3. Read again: the relay log is deleted below, so all of it must be applied.
        let checked = match self.read_server(server).await {
            Ok(r) => r,
            Err(e) => {
                p.undo = self
                    .undo_stop(server, keyword, threads_before, io_only)
                    .await;
                return Err(p.error(e, None));
            }
        };
        if let Some(backlog) = unapplied(&checked) {
            let sql_stopped = checked.replica.as_ref().is_some_and(|r| !r.sql_running);
            let undo = self
                .undo_stop(server, keyword, threads_before, io_only)
                .await
                .unwrap_or_else(|| {
                    "the IO thread was not running before, so it stays stopped".into()
                });
            return Err(ConnectorError::Conflict(format!(
                "received transactions were not all applied on {replica} within {} s: \
                 {backlog}{}; nothing was reset; {undo} (ran: {})",
                CATCH_UP_WAIT_SECONDS,
                if sql_stopped {
                    " (the SQL thread is stopped)"
                } else {
                    ""
                },
                p.done.join("; ")
            )));
        }
        let applied_before = match flavor {
            MysqlFlavor::MariaDb => checked.gtid_slave_pos.clone(),
            MysqlFlavor::MySql => checked.gtid_executed.clone(),
        }
        .unwrap_or_else(|| format!("{}:{}", status.exec_log_file, status.exec_log_pos));
        // 4. Stop, forget the source, accept writes. Until the reset the replica can be put
        // back as it was; after it, its source settings are gone and only words remain.
        let mut reset = false;
        for statement in flavor.promote_statements(version) {
            if let Err(e) = self.run(server, &[statement]).await {
                if reset {
                    p.undo = Some(format!(
                        "not undone: the replica configuration was already cleared, so {replica} \
                         is no replica any more; finish by hand (`{statement}`), or make it a \
                         replica again with CHANGE MASTER TO"
                    ));
                } else {
                    let undo = self
                        .undo_stop(server, keyword, threads_before, (true, true))
                        .await;
                    p.undo = Some(format!(
                        "nothing was reset{}",
                        undo.map_or(String::new(), |u| format!("; {u}"))
                    ));
                }
                return Err(p.error(e, Some(*statement)));
            }
            p.done.push((*statement).to_string());
            reset |= statement.starts_with("RESET");
        }
        let after = self
            .read_server(server)
            .await
            .map_err(|e| p.error(e, None))?;
        let position = match after.flavor {
            MysqlFlavor::MariaDb => after.gtid_binlog_pos.clone(),
            MysqlFlavor::MySql => after.gtid_executed.clone(),
        }
        .unwrap_or_else(|| "none".into());
        Ok(format!(
            "ran `{}` on {replica}: applied position before the reset {applied_before} (from \
             {}, everything received applied); now read_only {}{}, {}, binlog position \
             {position}",
            p.done.join("; "),
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
