//! What one server says, parsed from its answers: variables, status counters and the replica
//! status row. Columns are read by NAME, because MySQL ≥ 8.0.22 (`Replica_IO_Running`,
//! `Seconds_Behind_Source`) and MariaDB (`Slave_IO_Running`, `Seconds_Behind_Master`) name them
//! differently and add columns between releases. Pure: the connector feeds it the rows.

use crate::model::mysql::{MysqlFlavor, ReplicaStatus};
use std::collections::HashMap;

/// One result row as (column name, value); `None` is SQL NULL.
pub type Row = Vec<(String, Option<String>)>;

pub const VARIABLES_SQL: &str = "SHOW GLOBAL VARIABLES WHERE Variable_name IN \
     ('version', 'version_comment', 'server_id', 'read_only', 'super_read_only', \
     'max_connections', 'gtid_binlog_pos', 'gtid_slave_pos', 'gtid_executed', 'gtid_mode')";

pub const STATUS_SQL: &str = "SHOW GLOBAL STATUS WHERE Variable_name IN \
     ('Threads_connected', 'Questions', 'Queries')";

/// Everything one poll read from one server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    pub version: String,
    pub flavor: MysqlFlavor,
    pub server_id: u32,
    pub read_only: bool,
    pub super_read_only: Option<bool>,
    pub max_connections: u32,
    pub gtid_binlog_pos: Option<String>,
    pub gtid_slave_pos: Option<String>,
    pub gtid_executed: Option<String>,
    pub connections: u32,
    /// The statement counter used for queries/s: `Questions` (client statements) on MySQL,
    /// `Queries` on MariaDB (it has no per-client `Questions` split worth the difference).
    pub queries: Option<u64>,
    pub replica: Option<ReplicaStatus>,
}

/// `Variable_name`/`Value` rows (SHOW VARIABLES, SHOW STATUS) as a map with lower-case names.
pub fn name_values(rows: &[Row]) -> HashMap<String, String> {
    rows.iter()
        .filter_map(|row| {
            let name = row.first()?.1.clone()?;
            let value = row.get(1).and_then(|(_, v)| v.clone()).unwrap_or_default();
            Some((name.to_ascii_lowercase(), value))
        })
        .collect()
}

pub fn flavor(version: &str, comment: &str) -> MysqlFlavor {
    if version.to_ascii_lowercase().contains("mariadb")
        || comment.to_ascii_lowercase().contains("mariadb")
    {
        MysqlFlavor::MariaDb
    } else {
        MysqlFlavor::MySql
    }
}

pub use crate::model::mysql::version_numbers;

/// The replica-status statement this server understands.
pub fn replica_status_sql(flavor: MysqlFlavor, version: &str) -> &'static str {
    match flavor {
        MysqlFlavor::MariaDb => "SHOW SLAVE STATUS",
        MysqlFlavor::MySql if version_numbers(version) >= (8, 0, 22) => "SHOW REPLICA STATUS",
        MysqlFlavor::MySql => "SHOW SLAVE STATUS",
    }
}

fn on(text: &str) -> bool {
    matches!(
        text.to_ascii_uppercase().as_str(),
        "ON" | "1" | "YES" | "TRUE"
    )
}

/// The value of the first of `names` the row has (MySQL 8 name first, then the old one).
fn col<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| {
        row.iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(n))
            .and_then(|(_, v)| v.as_deref())
    })
}

fn text(row: &Row, names: &[&str]) -> String {
    col(row, names).unwrap_or_default().to_string()
}

fn number(row: &Row, names: &[&str]) -> u64 {
    col(row, names).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
}

/// "error 2003: Can't connect…" when the error is set.
fn last_error(row: &Row, errno: &[&str], message: &[&str]) -> Option<String> {
    let n = number(row, errno);
    let text = non_empty(col(row, message))?;
    Some(if n > 0 {
        format!("error {n}: {text}")
    } else {
        text
    })
}

/// One replica-status row.
pub fn replica_status(row: &Row) -> ReplicaStatus {
    let host = text(row, &["Source_Host", "Master_Host"]);
    let port = number(row, &["Source_Port", "Master_Port"]);
    ReplicaStatus {
        source: format!("{host}:{port}"),
        io_running: text(row, &["Replica_IO_Running", "Slave_IO_Running"]),
        sql_running: on(&text(row, &["Replica_SQL_Running", "Slave_SQL_Running"])),
        io_state: text(row, &["Replica_IO_State", "Slave_IO_State"]),
        seconds_behind: col(row, &["Seconds_Behind_Source", "Seconds_Behind_Master"])
            .and_then(|v| v.parse().ok()),
        read_log_file: text(row, &["Source_Log_File", "Master_Log_File"]),
        read_log_pos: number(row, &["Read_Source_Log_Pos", "Read_Master_Log_Pos"]),
        exec_log_file: text(row, &["Relay_Source_Log_File", "Relay_Master_Log_File"]),
        exec_log_pos: number(row, &["Exec_Source_Log_Pos", "Exec_Master_Log_Pos"]),
        retrieved_gtid_set: non_empty(col(row, &["Retrieved_Gtid_Set"])),
        executed_gtid_set: non_empty(col(row, &["Executed_Gtid_Set"])),
        gtid_io_pos: non_empty(col(row, &["Gtid_IO_Pos"])),
        using_gtid: non_empty(col(row, &["Using_Gtid"])),
        last_io_error: last_error(row, &["Last_IO_Errno"], &["Last_IO_Error"]),
        last_sql_error: last_error(row, &["Last_SQL_Errno"], &["Last_SQL_Error"]),
    }
}

/// A reading from the three answers. `replica_rows` empty: no replica configuration.
pub fn reading(
    variables: &HashMap<String, String>,
    status: &HashMap<String, String>,
    replica_rows: &[Row],
) -> Reading {
    let get = |k: &str| variables.get(k).map(String::as_str);
    let version = get("version").unwrap_or_default().to_string();
    let flavor = flavor(&version, get("version_comment").unwrap_or_default());
    let gtid = |k: &str| non_empty(get(k));
    let counter = match flavor {
        MysqlFlavor::MySql => "questions",
        MysqlFlavor::MariaDb => "queries",
    };
    Reading {
        flavor,
        server_id: get("server_id").and_then(|v| v.parse().ok()).unwrap_or(0),
        read_only: get("read_only").is_some_and(on),
        super_read_only: get("super_read_only").map(on),
        max_connections: get("max_connections")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        gtid_binlog_pos: gtid("gtid_binlog_pos"),
        gtid_slave_pos: gtid("gtid_slave_pos"),
        gtid_executed: gtid("gtid_executed"),
        connections: status
            .get("threads_connected")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        queries: status.get(counter).and_then(|v| v.parse().ok()),
        replica: replica_rows.first().map(replica_status),
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Option<&str>)]) -> Row {
        pairs
            .iter()
            .map(|(c, v)| ((*c).to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn mariadb_slave_status_columns() {
        let r = replica_status(&row(&[
            ("Slave_IO_State", Some("Waiting for master to send event")),
            ("Master_Host", Some("127.0.0.1")),
            ("Master_Port", Some("40001")),
            ("Master_Log_File", Some("mysqld-bin.000002")),
            ("Read_Master_Log_Pos", Some("1200")),
            ("Relay_Master_Log_File", Some("mysqld-bin.000002")),
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("No")),
            ("Last_Errno", Some("0")),
            ("Exec_Master_Log_Pos", Some("800")),
            ("Seconds_Behind_Master", None),
            ("Last_IO_Errno", Some("0")),
            ("Last_IO_Error", Some("")),
            ("Last_SQL_Errno", Some("1062")),
            (
                "Last_SQL_Error",
                Some("Duplicate entry '1' for key 'PRIMARY'"),
            ),
            ("Using_Gtid", Some("Slave_Pos")),
            ("Gtid_IO_Pos", Some("0-1-12")),
        ]));
        assert_eq!(r.source, "127.0.0.1:40001");
        assert!(r.io_running() && !r.sql_running);
        assert_eq!(r.seconds_behind, None, "NULL stays unknown, never 0");
        assert_eq!(r.gtid_io_pos.as_deref(), Some("0-1-12"));
        assert_eq!(r.using_gtid.as_deref(), Some("Slave_Pos"));
        assert_eq!(r.last_io_error, None);
        assert_eq!(
            r.last_sql_error.as_deref(),
            Some("error 1062: Duplicate entry '1' for key 'PRIMARY'")
        );
        assert!(r.relay_behind_by_position());
    }

    #[test]
    fn mysql_replica_status_columns() {
        let r = replica_status(&row(&[
            ("Replica_IO_State", Some("Waiting for source to send event")),
            ("Source_Host", Some("db1")),
            ("Source_Port", Some("3306")),
            ("Source_Log_File", Some("binlog.000003")),
            ("Read_Source_Log_Pos", Some("500")),
            ("Relay_Source_Log_File", Some("binlog.000003")),
            ("Exec_Source_Log_Pos", Some("500")),
            ("Replica_IO_Running", Some("Connecting")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("7")),
            ("Last_IO_Errno", Some("2003")),
            (
                "Last_IO_Error",
                Some("error connecting to source 'repl@db1:3306'"),
            ),
            ("Retrieved_Gtid_Set", Some("uuid:1-10")),
            ("Executed_Gtid_Set", Some("uuid:1-10,\nother:1-3")),
        ]));
        assert_eq!(r.source, "db1:3306");
        assert_eq!(r.io_running, "Connecting");
        assert!(!r.io_running() && r.sql_running);
        assert_eq!(r.seconds_behind, Some(7));
        assert_eq!(r.executed_gtid_set.as_deref(), Some("uuid:1-10, other:1-3"));
        assert!(
            r.last_io_error
                .as_deref()
                .unwrap()
                .starts_with("error 2003:")
        );
        assert!(!r.relay_behind_by_position());
    }

    #[test]
    fn variables_and_versions_pick_the_flavour_and_the_statement() {
        let vars = name_values(&[
            row(&[
                ("Variable_name", Some("version")),
                ("Value", Some("10.11.14-MariaDB-0+deb12u2-log")),
            ]),
            row(&[("Variable_name", Some("read_only")), ("Value", Some("ON"))]),
            row(&[
                ("Variable_name", Some("gtid_slave_pos")),
                ("Value", Some("")),
            ]),
        ]);
        let status = name_values(&[
            row(&[
                ("Variable_name", Some("Threads_connected")),
                ("Value", Some("3")),
            ]),
            row(&[("Variable_name", Some("Queries")), ("Value", Some("99"))]),
        ]);
        let r = reading(&vars, &status, &[]);
        assert_eq!(r.flavor, MysqlFlavor::MariaDb);
        assert!(r.read_only && r.super_read_only.is_none() && r.replica.is_none());
        assert_eq!(r.gtid_slave_pos, None);
        assert_eq!((r.connections, r.queries), (3, Some(99)));
        assert_eq!(
            replica_status_sql(r.flavor, &r.version),
            "SHOW SLAVE STATUS"
        );
        assert_eq!(
            replica_status_sql(MysqlFlavor::MySql, "8.0.36"),
            "SHOW REPLICA STATUS"
        );
        assert_eq!(
            replica_status_sql(MysqlFlavor::MySql, "8.0.21-log"),
            "SHOW SLAVE STATUS"
        );
        assert_eq!(
            flavor("8.4.2", "MySQL Community Server - GPL"),
            MysqlFlavor::MySql
        );
    }
}
