//! The admin console's `SHOW` answers, read by column NAME: the columns differ between PgBouncer
//! versions (1.18 added `cl_active_cancel_req` and `sv_active_cancel` to `SHOW POOLS`, 1.8
//! renamed `avg_req`/`avg_query` in `SHOW STATS`, 1.24 adds columns to `SHOW DATABASES`), so a
//! position means nothing across them. A missing column is "unknown", never zero.

use crate::model::pgbouncer::{PgbouncerConfig, PgbouncerDatabase, PgbouncerPool};
use tokio_postgres::SimpleQueryMessage;

/// The rows of one `SHOW` command with their column names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    pub fn from_messages(messages: &[SimpleQueryMessage]) -> Self {
        let mut table = Self::default();
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) if table.columns.is_empty() => {
                    table.columns = cols.iter().map(|c| c.name().to_owned()).collect();
                }
                SimpleQueryMessage::Row(r) => {
                    if table.columns.is_empty() {
                        table.columns = r.columns().iter().map(|c| c.name().to_owned()).collect();
                    }
                    table
                        .rows
                        .push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect());
                }
                _ => {}
            }
        }
        table
    }

    /// A table from literal text, for tests: `None` cells are written as `\N`.
    pub fn literal(columns: &[&str], rows: &[&[&str]]) -> Self {
        Self {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| (*v != "\\N").then(|| (*v).to_owned()))
                        .collect()
                })
                .collect(),
        }
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |values| Row {
            columns: &self.columns,
            values,
        })
    }
}

#[derive(Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Option<String>],
}

impl Row<'_> {
    /// The first of `names` this version has, as text.
    pub fn text(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| {
            let i = self.columns.iter().position(|c| c == n)?;
            self.values.get(i)?.as_deref()
        })
    }

    pub fn u64(&self, names: &[&str]) -> Option<u64> {
        self.text(names)?.trim().parse().ok()
    }

    pub fn u32(&self, names: &[&str]) -> Option<u32> {
        self.text(names)?.trim().parse().ok()
    }

    pub fn f64(&self, names: &[&str]) -> Option<f64> {
        self.text(names)?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
    }

    fn flag(&self, name: &str) -> bool {
        self.u32(&[name]).is_some_and(|v| v != 0)
    }
}

/// The admin console's own pseudo-database: its pool and stats row are not a real pool.
pub const ADMIN_DB: &str = "pgbouncer";

/// `SHOW POOLS`, without the admin console's own pool. Limits are filled in later.
pub fn pools(table: &Table) -> Result<Vec<PgbouncerPool>, String> {
    require(table, "SHOW POOLS", &["database", "user", "cl_waiting"])?;
    Ok(table
        .rows()
        .filter(|r| r.text(&["database"]) != Some(ADMIN_DB))
        .map(|r| {
            let n = |name: &str| r.u32(&[name]).unwrap_or(0);
            // maxwait is whole seconds; maxwait_us (1.8+) the microseconds on top.
            let maxwait_secs =
                r.f64(&["maxwait"]).unwrap_or(0.0) + r.f64(&["maxwait_us"]).unwrap_or(0.0) / 1e6;
            PgbouncerPool {
                database: r.text(&["database"]).unwrap_or_default().to_owned(),
                user: r.text(&["user"]).unwrap_or_default().to_owned(),
                cl_active: n("cl_active"),
                cl_waiting: n("cl_waiting"),
                sv_active: n("sv_active"),
                sv_idle: n("sv_idle"),
                sv_used: n("sv_used"),
                sv_tested: n("sv_tested"),
                sv_login: n("sv_login"),
                maxwait_secs,
                pool_mode: r.text(&["pool_mode"]).unwrap_or_default().to_owned(),
                pool_limit: None,
                limit_source: None,
            }
        })
        .collect())
}

/// Cumulative counters and PgBouncer's own averages of one database (`SHOW STATS`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsRow {
    pub database: String,
    pub total_query_count: Option<u64>,
    pub total_xact_count: Option<u64>,
    /// Microseconds.
    pub total_query_time: Option<u64>,
    pub total_xact_time: Option<u64>,
    pub avg_query_count: Option<f64>,
    pub avg_xact_count: Option<f64>,
    pub avg_query_time: Option<f64>,
    pub avg_xact_time: Option<f64>,
    pub avg_wait_time: Option<f64>,
}

/// `SHOW STATS` (1.8+ names, and the older `total_requests`/`avg_req`/`avg_query`).
pub fn stats(table: &Table) -> Result<Vec<StatsRow>, String> {
    require(table, "SHOW STATS", &["database"])?;
    Ok(table
        .rows()
        .filter(|r| r.text(&["database"]) != Some(ADMIN_DB))
        .map(|r| StatsRow {
            database: r.text(&["database"]).unwrap_or_default().to_owned(),
            total_query_count: r.u64(&["total_query_count", "total_requests"]),
            total_xact_count: r.u64(&["total_xact_count"]),
            total_query_time: r.u64(&["total_query_time"]),
            total_xact_time: r.u64(&["total_xact_time"]),
            avg_query_count: r.f64(&["avg_query_count", "avg_req"]),
            avg_xact_count: r.f64(&["avg_xact_count"]),
            avg_query_time: r.f64(&["avg_query_time", "avg_query"]),
            avg_xact_time: r.f64(&["avg_xact_time"]),
            avg_wait_time: r.f64(&["avg_wait_time"]),
        })
        .collect())
}

/// `SHOW LISTS` as (list, items).
pub fn lists(table: &Table) -> Vec<(String, u64)> {
    table
        .rows()
        .filter_map(|r| Some((r.text(&["list"])?.to_owned(), r.u64(&["items"])?)))
        .collect()
}

/// The pool-bounding settings of `SHOW CONFIG` (`key`, `value` rows).
pub fn config(table: &Table) -> Result<PgbouncerConfig, String> {
    require(table, "SHOW CONFIG", &["key", "value"])?;
    let get = |key: &str| {
        table
            .rows()
            .find(|r| r.text(&["key"]) == Some(key))
            .and_then(|r| r.text(&["value"]).map(str::to_owned))
    };
    let num = |key: &str| get(key).and_then(|v| v.trim().parse::<u32>().ok());
    Ok(PgbouncerConfig {
        default_pool_size: num("default_pool_size"),
        max_client_conn: num("max_client_conn"),
        max_db_connections: num("max_db_connections"),
        max_user_connections: num("max_user_connections"),
        reserve_pool_size: num("reserve_pool_size"),
        pool_mode: get("pool_mode"),
    })
}

/// `SHOW DATABASES`, without the admin console.
pub fn databases(table: &Table) -> Result<Vec<PgbouncerDatabase>, String> {
    require(table, "SHOW DATABASES", &["name"])?;
    Ok(table
        .rows()
        .filter(|r| r.text(&["name"]) != Some(ADMIN_DB))
        .map(|r| {
            let host = r.text(&["host"]).unwrap_or_default();
            let server = format!(
                "{}:{}/{}",
                if host.is_empty() { "(socket)" } else { host },
                r.text(&["port"]).unwrap_or("?"),
                r.text(&["database"]).unwrap_or("?")
            );
            PgbouncerDatabase {
                name: r.text(&["name"]).unwrap_or_default().to_owned(),
                server,
                pool_size: r.u32(&["pool_size"]),
                reserve_pool: r.u32(&["reserve_pool", "reserve_pool_size"]),
                max_connections: r.u32(&["max_connections", "max_db_connections"]),
                current_connections: r.u32(&["current_connections"]),
                paused: r.flag("paused"),
                disabled: r.flag("disabled"),
                stats: None,
            }
        })
        .collect())
}

/// `SHOW VERSION`: one row, one column (`version`), e.g. "PgBouncer 1.18.0".
pub fn version(table: &Table) -> Option<String> {
    table
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
}

/// The answer must have the columns this module cannot do without; else the endpoint is not a
/// PgBouncer admin console (or a version too old to read), said in words.
fn require(table: &Table, command: &str, columns: &[&str]) -> Result<(), String> {
    if table.rows.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| !table.columns.iter().any(|have| have == *c))
        .copied()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{command} answered without the column(s) {} (columns: {}): is this a PgBouncer admin console?",
            missing.join(", "),
            table.columns.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PgBouncer 1.18 (Debian 12).
    const POOLS_1_18: &[&str] = &[
        "database",
        "user",
        "cl_active",
        "cl_waiting",
        "cl_active_cancel_req",
        "cl_waiting_cancel_req",
        "sv_active",
        "sv_active_cancel",
        "sv_being_canceled",
        "sv_idle",
        "sv_used",
        "sv_tested",
        "sv_login",
        "maxwait",
        "maxwait_us",
        "pool_mode",
    ];

    /// PgBouncer 1.12–1.15: `cl_cancel_req`, no cancel columns for servers.
    const POOLS_1_12: &[&str] = &[
        "database",
        "user",
        "cl_active",
        "cl_waiting",
        "cl_cancel_req",
        "sv_active",
        "sv_idle",
        "sv_used",
        "sv_tested",
        "sv_login",
        "maxwait",
        "maxwait_us",
        "pool_mode",
    ];

    #[test]
    fn pools_are_read_by_name_in_either_column_set() {
        let new = Table::literal(
            POOLS_1_18,
            &[
                &[
                    "pgbouncer",
                    "pgbouncer",
                    "1",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "statement",
                ],
                &[
                    "appdb",
                    "app",
                    "2",
                    "3",
                    "0",
                    "0",
                    "2",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "1",
                    "250000",
                    "transaction",
                ],
            ],
        );
        let old = Table::literal(
            POOLS_1_12,
            &[&[
                "appdb",
                "app",
                "2",
                "3",
                "7",
                "2",
                "0",
                "0",
                "0",
                "0",
                "1",
                "250000",
                "transaction",
            ]],
        );
        let a = pools(&new).unwrap();
        let b = pools(&old).unwrap();
        assert_eq!(a.len(), 1, "the admin console's own pool is left out");
        assert_eq!(a, b);
        assert_eq!(a[0].name(), "appdb/app");
        assert_eq!((a[0].cl_active, a[0].cl_waiting, a[0].sv_active), (2, 3, 2));
        assert!((a[0].maxwait_secs - 1.25).abs() < 1e-9);
        assert_eq!(a[0].pool_mode, "transaction");
    }

    #[test]
    fn pools_before_1_8_have_whole_second_maxwait_only() {
        let t = Table::literal(
            &["database", "user", "cl_active", "cl_waiting", "maxwait"],
            &[&["db", "u", "1", "4", "7"]],
        );
        let p = pools(&t).unwrap();
        assert_eq!(p[0].maxwait_secs, 7.0);
        assert_eq!(p[0].servers(), 0, "missing server columns are not invented");
    }

    #[test]
    fn not_an_admin_console_is_said_in_words() {
        let t = Table::literal(&["?column?"], &[&["1"]]);
        let e = pools(&t).unwrap_err();
        assert!(
            e.contains("without the column(s) database, user, cl_waiting"),
            "{e}"
        );
    }

    #[test]
    fn stats_old_and_new_names() {
        let new = Table::literal(
            &[
                "database",
                "total_xact_count",
                "total_query_count",
                "total_xact_time",
                "total_query_time",
                "avg_xact_count",
                "avg_query_count",
                "avg_xact_time",
                "avg_query_time",
                "avg_wait_time",
            ],
            &[&[
                "appdb", "10", "30", "5000", "9000", "1", "3", "500", "300", "20",
            ]],
        );
        let s = stats(&new).unwrap();
        assert_eq!(s[0].total_query_count, Some(30));
        assert_eq!(s[0].avg_query_time, Some(300.0));
        assert_eq!(s[0].avg_wait_time, Some(20.0));
        let old = Table::literal(
            &[
                "database",
                "total_requests",
                "total_received",
                "total_sent",
                "total_query_time",
                "avg_req",
                "avg_recv",
                "avg_sent",
                "avg_query",
            ],
            &[&["appdb", "30", "0", "0", "9000", "3", "0", "0", "300"]],
        );
        let s = stats(&old).unwrap();
        assert_eq!(s[0].total_query_count, Some(30));
        assert_eq!(s[0].avg_query_count, Some(3.0));
        assert_eq!(s[0].avg_query_time, Some(300.0));
        assert_eq!(s[0].total_xact_count, None, "unknown, not zero");
    }

    #[test]
    fn config_databases_lists_version() {
        let c = config(&Table::literal(
            &["key", "value", "default", "changeable"],
            &[
                &["default_pool_size", "2", "20", "yes"],
                &["max_client_conn", "100", "100", "yes"],
                &["max_db_connections", "0", "0", "yes"],
                &["pool_mode", "transaction", "session", "yes"],
            ],
        ))
        .unwrap();
        assert_eq!(c.default_pool_size, Some(2));
        assert_eq!(c.max_client_conn, Some(100));
        assert_eq!(c.max_db_connections, Some(0));
        assert_eq!(c.pool_mode.as_deref(), Some("transaction"));
        assert_eq!(c.reserve_pool_size, None);

        let d = databases(&Table::literal(
            &[
                "name",
                "host",
                "port",
                "database",
                "force_user",
                "pool_size",
                "min_pool_size",
                "reserve_pool",
                "pool_mode",
                "max_connections",
                "current_connections",
                "paused",
                "disabled",
            ],
            &[
                &[
                    "appdb",
                    "127.0.0.1",
                    "5432",
                    "postgres",
                    "\\N",
                    "2",
                    "0",
                    "0",
                    "\\N",
                    "5",
                    "1",
                    "0",
                    "1",
                ],
                &[
                    "pgbouncer",
                    "\\N",
                    "6432",
                    "pgbouncer",
                    "pgbouncer",
                    "2",
                    "0",
                    "0",
                    "statement",
                    "0",
                    "0",
                    "0",
                    "0",
                ],
            ],
        ))
        .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].server, "127.0.0.1:5432/postgres");
        assert_eq!((d[0].pool_size, d[0].max_connections), (Some(2), Some(5)));
        assert!(d[0].disabled && !d[0].paused);

        let l = lists(&Table::literal(
            &["list", "items"],
            &[&["used_clients", "6"], &["free_servers", "0"]],
        ));
        assert_eq!(l, [("used_clients".into(), 6), ("free_servers".into(), 0)]);
        assert_eq!(
            version(&Table::literal(&["version"], &[&["PgBouncer 1.18.0"]])).as_deref(),
            Some("PgBouncer 1.18.0")
        );
    }
}
