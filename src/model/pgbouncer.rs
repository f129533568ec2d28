//! What one poll of a PgBouncer admin console saw: its pools (per database and user), the
//! per-database limits and statistics, its lists and the settings that bound the pools.

/// Where a pool's server-connection limit comes from, so a reason can name the setting to raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolLimitSource {
    /// `default_pool_size` (the database does not set its own).
    DefaultPoolSize,
    /// The database's own `pool_size` in `[databases]`.
    PoolSize,
    /// The database's `max_db_connections` (lower than its pool size).
    MaxDbConnections,
}

impl PoolLimitSource {
    pub fn setting(self) -> &'static str {
        match self {
            Self::DefaultPoolSize => "default_pool_size",
            Self::PoolSize => "pool_size",
            Self::MaxDbConnections => "max_db_connections",
        }
    }
}

/// One row of `SHOW POOLS`: a pool of server connections for one (database, user).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PgbouncerPool {
    pub database: String,
    pub user: String,
    /// Clients linked to a server connection (or idle in session mode).
    pub cl_active: u32,
    /// Clients that sent a query and wait for a server connection.
    pub cl_waiting: u32,
    pub sv_active: u32,
    pub sv_idle: u32,
    pub sv_used: u32,
    pub sv_tested: u32,
    pub sv_login: u32,
    /// How long the oldest waiting client has waited (`maxwait` + `maxwait_us`), in seconds.
    pub maxwait_secs: f64,
    /// `session`, `transaction` or `statement`.
    pub pool_mode: String,
    /// The most server connections this pool may open, when known.
    pub pool_limit: Option<u32>,
    pub limit_source: Option<PoolLimitSource>,
}

impl PgbouncerPool {
    /// `database/user`, how the pool is named in reasons, tables and series targets.
    pub fn name(&self) -> String {
        format!("{}/{}", self.database, self.user)
    }

    /// Every server connection the pool holds open, whatever its state.
    pub fn servers(&self) -> u32 {
        self.sv_active + self.sv_idle + self.sv_used + self.sv_tested + self.sv_login
    }

    /// Server connections serving a client now or being set up for one (`sv_active`,
    /// `sv_tested`, `sv_login`); idle and used ones are free for the next client.
    pub fn servers_busy(&self) -> u32 {
        self.sv_active + self.sv_tested + self.sv_login
    }

    /// Busy server connections as a percentage of the pool's limit: at 100 % the next client
    /// waits.
    pub fn usage_percent(&self) -> Option<f64> {
        self.pool_limit
            .filter(|l| *l > 0)
            .map(|l| 100.0 * f64::from(self.servers_busy()) / f64::from(l))
    }
}

/// One database of `SHOW DATABASES`, with its `SHOW STATS` figures.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PgbouncerDatabase {
    pub name: String,
    /// The real server behind it, `host:port/dbname`.
    pub server: String,
    pub pool_size: Option<u32>,
    pub reserve_pool: Option<u32>,
    /// `max_db_connections` for this database (0 or `None`: no limit).
    pub max_connections: Option<u32>,
    pub current_connections: Option<u32>,
    pub paused: bool,
    pub disabled: bool,
    pub stats: Option<PgbouncerStats>,
}

/// Traffic of one database (`SHOW STATS`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PgbouncerStats {
    /// Average query time in microseconds (over the last poll interval when queries ran, else
    /// PgBouncer's own average over its `stats_period`).
    pub avg_query_time_us: f64,
    pub avg_xact_time_us: f64,
    /// Average time clients waited for a server, in microseconds (PgBouncer 1.8+).
    pub avg_wait_time_us: Option<f64>,
    pub queries_per_sec: f64,
    pub xacts_per_sec: f64,
    pub total_query_count: u64,
    pub total_xact_count: u64,
}

/// The settings of `SHOW CONFIG` that bound the pools.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PgbouncerConfig {
    pub default_pool_size: Option<u32>,
    pub max_client_conn: Option<u32>,
    /// 0: no limit.
    pub max_db_connections: Option<u32>,
    pub max_user_connections: Option<u32>,
    pub reserve_pool_size: Option<u32>,
    pub pool_mode: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PgbouncerSnapshot {
    /// `host:port` of the admin console.
    pub address: String,
    /// `SHOW VERSION`, e.g. "PgBouncer 1.18.0".
    pub version: Option<String>,
    pub config: PgbouncerConfig,
    /// Every pool except the admin console's own.
    pub pools: Vec<PgbouncerPool>,
    pub databases: Vec<PgbouncerDatabase>,
    /// `SHOW LISTS` as (list, items): `used_clients`, `free_servers`, …
    pub lists: Vec<(String, u64)>,
    /// The endpoint's own "pool nearly full" level in percent; `None`: the profile's
    /// `connections_percent` threshold.
    pub pool_warn_percent: Option<f64>,
}

impl PgbouncerSnapshot {
    pub fn list(&self, name: &str) -> Option<u64> {
        self.lists.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Client connections in use (`used_clients`), else the pools' active and waiting clients.
    pub fn clients(&self) -> u64 {
        self.list("used_clients").unwrap_or_else(|| {
            self.pools
                .iter()
                .map(|p| u64::from(p.cl_active + p.cl_waiting))
                .sum()
        })
    }

    pub fn clients_waiting(&self) -> u32 {
        self.pools.iter().map(|p| p.cl_waiting).sum()
    }

    pub fn database(&self, name: &str) -> Option<&PgbouncerDatabase> {
        self.databases.iter().find(|d| d.name == name)
    }
}
