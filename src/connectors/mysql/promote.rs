//! Promote a replica: stop its replica threads, clear its replica configuration, turn off
//! read-only — the statements [`MysqlFlavor::promote_statements`] lists, which the plan showed.

use super::{Inner, QueryError, Server};
use crate::model::error::ConnectorError;
use crate::model::mysql::MysqlFlavor;

impl QueryError {
    fn into_connector(self, endpoint: &str, done: &[&str]) -> ConnectorError {
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
        let applied_before = match before.flavor {
            MysqlFlavor::MariaDb => before.gtid_slave_pos.clone(),
            MysqlFlavor::MySql => before.gtid_executed.clone(),
        }
        .unwrap_or_else(|| format!("{}:{}", status.exec_log_file, status.exec_log_pos));
        let statements = before.flavor.promote_statements();
        let mut done: Vec<&str> = Vec::new();
        for statement in statements {
            self.run(server, &[statement])
                .await
                .map_err(|e| e.into_connector(endpoint, &done))?;
            done.push(statement);
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
            "ran `{}` on {replica}: applied position before {applied_before} (from {}); now \
             read_only {}{}, {}, binlog position {position}",
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
