//! MySQL / MariaDB replication as one poll saw it: every server of a profile cluster with its
//! detected role, read-only flags, replica threads, positions (GTID sets or binlog file/offset)
//! and load. Roles are detected, never trusted: a reachable server without a replica
//! configuration and with `read_only` off is a source.

use super::snapshot::DbRole;

/// How long a promotion waits for the SQL thread to apply what the IO thread received.
pub const CATCH_UP_WAIT_SECONDS: u64 = 10;

/// What the SQL thread must reach before the relay log may be deleted: the received GTID
/// position/set, or (without GTIDs) the source binlog file and offset read up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatchUpTarget {
    Gtid(String),
    File(String, String),
}

/// (major, minor, patch) from "8.0.36-0ubuntu…" or "10.11.14-MariaDB-…".
pub fn version_numbers(version: &str) -> (u32, u32, u32) {
    let mut it = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// Which server family answered: they name the same things differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MysqlFlavor {
    #[default]
    MySql,
    MariaDb,
}

impl MysqlFlavor {
    pub fn label(self) -> &'static str {
        match self {
            Self::MySql => "MySQL",
            Self::MariaDb => "MariaDB",
        }
    }

    /// MySQL 8.0.22 renamed `SLAVE` to `REPLICA` in the replication statements; MariaDB and
    /// older MySQL only know `SLAVE`.
    pub fn replica_keyword(self, version: &str) -> &'static str {
        match self {
            Self::MySql if version_numbers(version) >= (8, 0, 22) => "REPLICA",
            _ => "SLAVE",
        }
    }

    /// The first step of a promotion: stop receiving, so the relay log stops growing while
    /// the SQL thread applies what it holds.
    pub fn stop_io_statement(self, version: &str) -> &'static str {
        match self.replica_keyword(version) {
            "REPLICA" => "STOP REPLICA IO_THREAD",
            _ => "STOP SLAVE IO_THREAD",
        }
    }

    /// Waits (at most [`CATCH_UP_WAIT_SECONDS`]) until the SQL thread has applied `target`,
    /// what the stopped IO thread received.
    pub fn wait_statement(self, version: &str, target: &CatchUpTarget) -> String {
        let quote = |t: &str| t.replace('\\', "\\\\").replace('\'', "''");
        let s = CATCH_UP_WAIT_SECONDS;
        match (self, target) {
            (Self::MariaDb, CatchUpTarget::Gtid(pos)) => {
                format!("SELECT MASTER_GTID_WAIT('{}', {s})", quote(pos))
            }
            (Self::MySql, CatchUpTarget::Gtid(set)) => {
                format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{}', {s})", quote(set))
            }
            (_, CatchUpTarget::File(file, pos)) => {
                let f = if self == Self::MySql && version_numbers(version) >= (8, 0, 26) {
                    "SOURCE_POS_WAIT"
                } else {
                    "MASTER_POS_WAIT"
                };
                format!("SELECT {f}('{}', {pos}, {s})", quote(file))
            }
        }
    }

    /// What promoting a replica runs once what it received is applied, in order: stop the
    /// replica threads, forget the source, accept writes. The plan shows these very
    /// statements (after [`Self::stop_io_statement`] and [`Self::wait_statement`]) and the
    /// connector runs them.
    pub fn promote_statements(self, version: &str) -> &'static [&'static str] {
        match (self, self.replica_keyword(version)) {
            (Self::MariaDb, _) => &["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF"],
            (Self::MySql, "REPLICA") => &[
                "STOP REPLICA",
                "RESET REPLICA ALL",
                "SET GLOBAL super_read_only=OFF",
                "SET GLOBAL read_only=OFF",
            ],
            (Self::MySql, _) => &[
                "STOP SLAVE",
                "RESET SLAVE ALL",
                "SET GLOBAL super_read_only=OFF",
                "SET GLOBAL read_only=OFF",
            ],
        }
    }

    /// How to stop a server taking writes without stopping it.
    pub fn fence_statement(self) -> &'static str {
        match self {
            Self::MariaDb => "SET GLOBAL read_only=ON",
            Self::MySql => "SET GLOBAL super_read_only=ON",
        }
    }

    /// The command-line client of the family.
    pub fn client(self) -> &'static str {
        match self {
            Self::MariaDb => "mariadb",
            Self::MySql => "mysql",
        }
    }
}

/// What `SHOW REPLICA STATUS` (MySQL ≥ 8.0.22) or `SHOW SLAVE STATUS` (MariaDB, older MySQL)
/// says on a replica, read by column name.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReplicaStatus {
    /// `host:port` of the source it replicates from.
    pub source: String,
    /// `Yes`, `No` or `Connecting`.
    pub io_running: String,
    pub sql_running: bool,
    /// `Slave_IO_State` / `Replica_IO_State`, e.g. "Waiting for master to send event".
    pub io_state: String,
    /// `Seconds_Behind_Master` / `Seconds_Behind_Source`; `None` is NULL (unknown), never 0.
    pub seconds_behind: Option<u64>,
    /// Binary log of the source read up to (IO thread) and executed up to (SQL thread).
    pub read_log_file: String,
    pub read_log_pos: u64,
    pub exec_log_file: String,
    pub exec_log_pos: u64,
    /// MySQL: `Retrieved_Gtid_Set` and `Executed_Gtid_Set`.
    pub retrieved_gtid_set: Option<String>,
    pub executed_gtid_set: Option<String>,
    /// MariaDB: `Gtid_IO_Pos` (received) and `Using_Gtid` (`No`, `Slave_Pos`, `Current_Pos`).
    pub gtid_io_pos: Option<String>,
    pub using_gtid: Option<String>,
    /// `Last_IO_Error` / `Last_SQL_Error` with their numbers, when set.
    pub last_io_error: Option<String>,
    pub last_sql_error: Option<String>,
}

impl ReplicaStatus {
    pub fn io_running(&self) -> bool {
        self.io_running.eq_ignore_ascii_case("yes")
    }

    /// What the IO thread received, as the target a promotion waits for: the received GTID
    /// position when GTIDs are used, else the source binlog file and offset read up to. With
    /// `literal` false the values are the columns' names (the plan cannot know them yet: they
    /// are read after the IO thread stops).
    pub fn received_target(&self, flavor: MysqlFlavor, literal: bool) -> CatchUpTarget {
        let uses_gtid = match flavor {
            MysqlFlavor::MariaDb => self.using_gtid.as_deref().is_some_and(|u| u != "No"),
            MysqlFlavor::MySql => self.retrieved_gtid_set.is_some(),
        };
        let received = match flavor {
            MysqlFlavor::MariaDb => self.gtid_io_pos.as_deref(),
            MysqlFlavor::MySql => self.retrieved_gtid_set.as_deref(),
        };
        match (uses_gtid, received, literal) {
            (true, Some(r), true) => CatchUpTarget::Gtid(r.to_string()),
            (true, _, false) => CatchUpTarget::Gtid(
                match flavor {
                    MysqlFlavor::MariaDb => "<Gtid_IO_Pos>",
                    MysqlFlavor::MySql => "<Retrieved_Gtid_Set>",
                }
                .into(),
            ),
            (_, _, true) => {
                CatchUpTarget::File(self.read_log_file.clone(), self.read_log_pos.to_string())
            }
            (_, _, false) => {
                CatchUpTarget::File("<Master_Log_File>".into(), "<Read_Master_Log_Pos>".into())
            }
        }
    }

    /// The IO thread has received events the SQL thread has not applied yet (by file/offset).
    pub fn relay_behind_by_position(&self) -> bool {
        (self.read_log_file.as_str(), self.read_log_pos)
            > (self.exec_log_file.as_str(), self.exec_log_pos)
    }
}

/// The global privileges of the user Scaleboard logs in as, from `SHOW GRANTS` (names only,
/// upper case with `_` for spaces: `SUPER`, `RELOAD`, `REPLICATION_SLAVE_ADMIN`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Grants {
    pub global: Vec<String>,
    /// Some privileges are granted through roles, which `SHOW GRANTS` may not list.
    pub via_roles: bool,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct MysqlServer {
    pub name: String,
    /// `host:port` as the profile gives it.
    pub address: String,
    /// The user Scaleboard logs in as (for the equivalent command).
    pub user: String,
    /// Detected: a source (no replica configuration, `read_only` off) or a replica. An
    /// unreachable server keeps the role it had when it last answered (a crashed source is
    /// still the source until something else is seen), else the profile's.
    pub role: DbRole,
    pub profile_role: DbRole,
    /// `role` was detected (now or at the server's last answer), not taken from the profile.
    pub role_seen: bool,
    pub reachable: bool,
    /// Why it could not be read, in words.
    pub error: Option<String>,
    pub flavor: MysqlFlavor,
    /// `@@version`, e.g. "10.11.14-MariaDB-0+deb12u2-log".
    pub version: Option<String>,
    pub server_id: u32,
    pub read_only: bool,
    /// MySQL only; `None` on MariaDB.
    pub super_read_only: Option<bool>,
    /// `None`: no replica configuration on this server.
    pub replica: Option<ReplicaStatus>,
    /// MariaDB `@@gtid_binlog_pos` (what this server wrote to its binlog) and
    /// `@@gtid_slave_pos` (what its replica threads applied).
    pub gtid_binlog_pos: Option<String>,
    pub gtid_slave_pos: Option<String>,
    /// MySQL `@@gtid_executed`.
    pub gtid_executed: Option<String>,
    pub connections: u32,
    pub max_connections: u32,
    /// Queries per second since the previous poll (`Questions` on MySQL, `Queries` on MariaDB).
    pub qps: Option<f64>,
    /// Seconds behind its source; `None` when unknown (SQL or IO thread stopped, NULL).
    pub lag_seconds: Option<f64>,
    /// Transactions received but not applied yet (IO position ahead of the SQL position).
    pub relay_backlog: Option<u64>,
    /// Transactions the (last known) source wrote that this replica has not applied.
    pub behind_source: Option<u64>,
    /// Accepts writes while another server does too, and is the one behind by replication
    /// position (the stale one to fence); every writable server when positions cannot tell.
    pub second_writable: bool,
    /// Transactions the newest writable server holds that this writable one lacks (set with
    /// `second_writable` when positions decided it).
    pub behind_newest: Option<u64>,
    /// The login user's global privileges; `None` when `SHOW GRANTS` could not be read.
    pub grants: Option<Grants>,
}

impl MysqlServer {
    /// Answers and would take a write from an application user.
    pub fn writable(&self) -> bool {
        self.reachable && !self.read_only && self.super_read_only != Some(true)
    }

    /// `None` while `max_connections` is unknown (0): never 100 × connections.
    pub fn connections_percent(&self) -> Option<f64> {
        (self.max_connections > 0)
            .then(|| 100.0 * f64::from(self.connections) / f64::from(self.max_connections))
    }

    /// What this server has applied, as the flavour names it.
    pub fn applied_position(&self) -> Option<&str> {
        match self.flavor {
            MysqlFlavor::MariaDb if self.replica.is_some() => self.gtid_slave_pos.as_deref(),
            MysqlFlavor::MariaDb => self.gtid_binlog_pos.as_deref(),
            MysqlFlavor::MySql => self.gtid_executed.as_deref(),
        }
    }

    /// What the IO thread received, as the flavour names it.
    pub fn received_position(&self) -> Option<&str> {
        let r = self.replica.as_ref()?;
        match self.flavor {
            MysqlFlavor::MariaDb => r.gtid_io_pos.as_deref(),
            MysqlFlavor::MySql => r.retrieved_gtid_set.as_deref(),
        }
    }

    /// Unreachable, and a source when it last answered.
    pub fn last_seen_source(&self) -> bool {
        !self.reachable && self.role_seen && self.role == DbRole::Primary
    }

    /// The role column in words: "replica", "primary, unreachable" (its last seen role), or
    /// "unreachable (profile: replica)" when it never answered.
    pub fn role_text(&self) -> String {
        match (self.reachable, self.role_seen) {
            (true, _) => self.role.label().to_string(),
            (false, true) => format!("{}, unreachable", self.role.label()),
            (false, false) => format!("unreachable (profile: {})", self.profile_role.label()),
        }
    }

    /// Lag in words: seconds, or "unknown" with why.
    pub fn lag_text(&self) -> String {
        let Some(r) = &self.replica else {
            return "—".into();
        };
        match self.lag_seconds {
            Some(s) => format!("{s:.0} s"),
            None if !r.sql_running => "unknown (SQL thread stopped)".into(),
            None if !r.io_running() => "unknown (IO thread not running)".into(),
            None => "unknown".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct MysqlSnapshot {
    pub cluster: String,
    pub servers: Vec<MysqlServer>,
    /// The newest source position this connector has seen (kept while the source is down).
    pub last_source_position: Option<String>,
    /// The endpoint's failover lag limit in seconds.
    pub max_failover_lag_seconds: u64,
}

impl MysqlSnapshot {
    pub fn writable(&self) -> impl Iterator<Item = &MysqlServer> {
        self.servers.iter().filter(|s| s.writable())
    }

    /// `source db1 (MariaDB, writable) -> db2 lag 0 s [IO Yes, SQL Yes], db3 unreachable`.
    pub fn topology_line(&self) -> String {
        let mut sources: Vec<String> = self
            .servers
            .iter()
            .filter(|s| s.reachable && s.replica.is_none())
            .map(|s| {
                let mut t = format!(
                    "source {} ({}, {})",
                    s.name,
                    s.flavor.label(),
                    if s.writable() {
                        "writable"
                    } else {
                        "read-only"
                    }
                );
                if s.second_writable {
                    t.push_str(" SECOND WRITABLE SERVER");
                }
                t
            })
            .collect();
        // A source that stopped answering is still the source that was: said so, not listed
        // among the replicas.
        sources.extend(
            self.servers
                .iter()
                .filter(|s| s.last_seen_source())
                .map(|s| format!("source {} (primary, unreachable)", s.name)),
        );
        if !self.servers.iter().any(MysqlServer::writable) {
            sources.push("no writable source answers".into());
        }
        let replicas: Vec<String> = self
            .servers
            .iter()
            .filter(|s| (!s.reachable && !s.last_seen_source()) || s.replica.is_some())
            .map(|s| {
                let Some(r) = s.replica.as_ref().filter(|_| s.reachable) else {
                    return format!("{} unreachable", s.name);
                };
                let mut t = format!(
                    "{} lag {} [IO {}, SQL {}]",
                    s.name,
                    s.lag_text(),
                    r.io_running,
                    if r.sql_running { "Yes" } else { "No" }
                );
                if s.second_writable {
                    t.push_str(" SECOND WRITABLE SERVER");
                }
                t
            })
            .collect();
        if replicas.is_empty() {
            sources.join(", ")
        } else {
            format!("{} -> {}", sources.join(", "), replicas.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_follow_the_version_slave_before_mysql_8_0_22() {
        let maria = MysqlFlavor::MariaDb;
        let my = MysqlFlavor::MySql;
        assert_eq!(
            maria.promote_statements("10.11.14-MariaDB-log"),
            ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF"]
        );
        for old in ["8.0.0", "8.0.21-log", "5.7.44"] {
            assert_eq!(
                my.promote_statements(old)[..2],
                ["STOP SLAVE", "RESET SLAVE ALL"]
            );
            assert_eq!(my.stop_io_statement(old), "STOP SLAVE IO_THREAD", "{old}");
        }
        for new in ["8.0.22", "8.0.36-0ubuntu0.22.04.1", "8.4.2"] {
            assert_eq!(
                my.promote_statements(new)[..2],
                ["STOP REPLICA", "RESET REPLICA ALL"]
            );
            assert_eq!(my.stop_io_statement(new), "STOP REPLICA IO_THREAD", "{new}");
        }
        assert_eq!(
            maria.stop_io_statement("10.11.14-MariaDB"),
            "STOP SLAVE IO_THREAD"
        );
        let gtid = CatchUpTarget::Gtid("0-1-12".into());
        assert_eq!(
            maria.wait_statement("10.11.14-MariaDB", &gtid),
            "SELECT MASTER_GTID_WAIT('0-1-12', 10)"
        );
        assert_eq!(
            my.wait_statement("8.0.36", &CatchUpTarget::Gtid("u:1-5".into())),
            "SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1-5', 10)"
        );
        let file = CatchUpTarget::File("binlog.000003".into(), "500".into());
        assert_eq!(
            my.wait_statement("8.0.25", &file),
            "SELECT MASTER_POS_WAIT('binlog.000003', 500, 10)"
        );
        assert_eq!(
            my.wait_statement("8.0.26", &file),
            "SELECT SOURCE_POS_WAIT('binlog.000003', 500, 10)"
        );
    }

    #[test]
    fn connections_percent_is_unknown_without_max_connections() {
        let mut s = MysqlServer {
            connections: 7,
            ..MysqlServer::default()
        };
        assert_eq!(s.connections_percent(), None);
        s.max_connections = 70;
        assert_eq!(s.connections_percent(), Some(10.0));
    }
}
