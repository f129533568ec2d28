//! MySQL 8 / MariaDB 10.6+ replication: one connector per profile cluster (a primary URL and
//! its replica URLs). Each poll reads every server concurrently on connections kept open
//! between polls (three statements: variables, status counters, replica status); a failed
//! connection is dropped and opened again on the next poll. Roles are detected, never trusted.
//!
//! Server names: the URL's `name` parameter (`mysql://root@db2:3306?name=db2`, removed before
//! connecting), else `host:port`.
//!
//! Passwords, first found wins: the endpoint's `SCALEBOARD_SECRET_…` variable, keyring entry or
//! credentials-file entry (see `profiles::Resolver`), then `MYSQL_PWD` (the variable the
//! `mysql`/`mariadb` clients read).

pub mod grants;
pub mod gtid;
mod promote;
pub mod reading;
pub mod topology;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{DbRole, Snapshot};
use crate::profiles::{MysqlEndpoint, SecretError, SecretRef};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use reading::Row;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long one server may take to connect or to answer one poll.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(4);
/// How long one poll waits for all its servers.
pub const POLL_DEADLINE: Duration = Duration::from_secs(5);

/// Reads a keyring entry (blocking; the connector calls it on the blocking pool).
pub type SecretLookup = Arc<dyn Fn(&SecretRef) -> Result<String, SecretError> + Send + Sync>;

struct Server {
    name: String,
    address: String,
    user: String,
    profile_role: DbRole,
    opts: Result<Opts, String>,
    conn: tokio::sync::Mutex<Option<Conn>>,
    /// The statement counter at the previous successful poll, for queries/s.
    last_queries: Mutex<Option<(u64, Instant)>>,
}

/// A profile URL split into the server's display name and what the client library parses.
pub fn parse_url(url: &str) -> Result<(Option<String>, Opts), String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut name = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| match p.split_once('=') {
            Some(("name", v)) => {
                name = Some(v.to_string());
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let opts = Opts::from_url(&url).map_err(|e| e.to_string())?;
    Ok((name, opts))
}

pub struct MysqlConnector {
    inner: Arc<Inner>,
}

struct Inner {
    info: EndpointInfo,
    endpoint: MysqlEndpoint,
    servers: Vec<Arc<Server>>,
    secret_lookup: Option<SecretLookup>,
    /// The looked-up password (or that none was found), kept until a server refuses the login:
    /// then looked up again, so `scaleboard secret set` reaches a running window.
    keyring_password: super::secret_cell::SecretCell<Option<String>>,
    /// Where a password was looked for when none was found, added to "access denied" errors.
    missing_hint: Mutex<Option<String>>,
    memory: Mutex<topology::Memory>,
}

impl MysqlConnector {
    pub fn new(endpoint: MysqlEndpoint, secret_lookup: Option<SecretLookup>) -> Self {
        let mut servers = Vec::new();
        let mut add = |text: &str, role: DbRole, index: usize| {
            let parsed = parse_url(text);
            let fallback = match role {
                DbRole::Primary => "primary".to_string(),
                DbRole::Replica => format!("replica {}", index + 1),
            };
            let (name, address, user) = match &parsed {
                Ok((name, o)) => {
                    let address = format!("{}:{}", o.ip_or_hostname(), o.tcp_port());
                    (
                        name.clone().unwrap_or_else(|| address.clone()),
                        address,
                        o.user().unwrap_or("root").to_string(),
                    )
                }
                Err(_) => (fallback, String::new(), String::new()),
            };
            servers.push(Arc::new(Server {
                name,
                address,
                user,
                profile_role: role,
                opts: parsed
                    .map(|(_, o)| o)
                    .map_err(|e| format!("bad connection URL: {e}")),
                conn: tokio::sync::Mutex::new(None),
                last_queries: Mutex::new(None),
            }));
        };
        add(&endpoint.primary_url, DbRole::Primary, 0);
        for (i, r) in endpoint.replica_urls.iter().enumerate() {
            add(r, DbRole::Replica, i);
        }
        Self {
            inner: Arc::new(Inner {
                info: EndpointInfo {
                    id: endpoint.name.clone(),
                    label: format!("MySQL/MariaDB {}", endpoint.name),
                    area: Area::Databases,
                    demo: false,
                },
                endpoint,
                servers,
                secret_lookup,
                keyring_password: super::secret_cell::SecretCell::new(),
                missing_hint: Mutex::new(None),
                memory: Mutex::new(topology::Memory::default()),
            }),
        }
    }

    /// The names the servers are shown under, primary first.
    pub fn server_names(&self) -> Vec<String> {
        self.inner.servers.iter().map(|s| s.name.clone()).collect()
    }
}

/// Why a statement failed, typed enough to tell a refused login from a broken connection.
#[derive(Debug)]
enum QueryError {
    Auth(String),
    Server(String),
    Transport(String),
    Timeout(String),
}

impl QueryError {
    fn text(&self) -> &str {
        match self {
            Self::Auth(t) | Self::Server(t) | Self::Transport(t) | Self::Timeout(t) => t,
        }
    }
}

fn row_values(row: &mysql_async::Row) -> Row {
    let columns = row.columns_ref();
    (0..row.len())
        .map(|i| {
            let name = columns
                .get(i)
                .map(|c| c.name_str().to_string())
                .unwrap_or_default();
            let value = row.as_ref(i).and_then(|v| match v {
                mysql_async::Value::NULL => None,
                mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                mysql_async::Value::Int(n) => Some(n.to_string()),
                mysql_async::Value::UInt(n) => Some(n.to_string()),
                mysql_async::Value::Float(n) => Some(n.to_string()),
                mysql_async::Value::Double(n) => Some(n.to_string()),
                other => Some(other.as_sql(true).trim_matches('\'').to_string()),
            });
            (name, value)
        })
        .collect()
}

impl Inner {
    async fn password(&self) -> Result<Option<String>, String> {
        let stored = self
            .keyring_password
            .get_or_try_init(|| async {
                let Some(lookup) = self.secret_lookup.clone() else {
                    return Ok(None);
                };
                let secret = self.endpoint.password.clone().unwrap_or_default();
                match tokio::task::spawn_blocking(move || lookup(&secret)).await {
                    Ok(Ok(p)) => Ok(Some(p)),
                    Ok(Err(e @ SecretError::Credentials(_))) => {
                        Err(format!("MySQL \"{}\": {e}", self.endpoint.name))
                    }
                    Ok(Err(e)) => {
                        *self
                            .missing_hint
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                        Ok(None)
                    }
                    Err(_) => Ok(None),
                }
            })
            .await?;
        if let Some(p) = stored {
            return Ok(Some(p));
        }
        Ok(std::env::var("MYSQL_PWD").ok().filter(|p| !p.is_empty()))
    }

    fn describe(&self, server: &Server, e: &mysql_async::Error, had_password: bool) -> QueryError {
        match e {
            mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 1698) => {
                if matches!(s.code, 1045 | 1698) {
                    self.keyring_password.forget();
                }
                let hint = self
                    .missing_hint
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                let mut text = format!(
                    "{}: the server refused the login (error {}: {})",
                    server.address, s.code, s.message
                );
                if !had_password {
                    text.push_str(&format!(
                        "; no password was found (set one with `scaleboard secret set`, or MYSQL_PWD){}",
                        hint.map_or(String::new(), |h| format!(": {h}"))
                    ));
                } else {
                    text.push_str("; check the stored password");
                }
                QueryError::Auth(text)
            }
            mysql_async::Error::Server(s) => QueryError::Server(format!(
                "{}: error {} ({}): {}",
                server.address, s.code, s.state, s.message
            )),
            mysql_async::Error::Io(mysql_async::IoError::Io(e)) => {
                QueryError::Transport(format!("{}: {e}", server.address))
            }
            mysql_async::Error::Driver(e) => {
                QueryError::Transport(format!("{}: {e}", server.address))
            }
            other => QueryError::Transport(format!("{}: {other}", server.address)),
        }
    }

    async fn connect(&self, server: &Server) -> Result<Conn, QueryError> {
        crate::connectors::http::install_crypto_provider();
        let opts = server.opts.clone().map_err(QueryError::Transport)?;
        let password = self.password().await.map_err(QueryError::Auth)?;
        let had_password = password.is_some();
        let builder = OptsBuilder::from_opts(opts)
            .pass(password)
            .prefer_socket(false);
        match tokio::time::timeout(SERVER_TIMEOUT, Conn::new(builder)).await {
            Err(_) => Err(QueryError::Timeout(format!(
                "{} did not answer within {} s",
                server.address,
                SERVER_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(self.describe(server, &e, had_password)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }

    /// Run statements on one server, connecting first when needed; each returns its rows. A
    /// broken connection is dropped so the next call opens a fresh one.
    async fn run(&self, server: &Server, sql: &[&str]) -> Result<Vec<Vec<Row>>, QueryError> {
        self.run_for(server, sql, SERVER_TIMEOUT).await
    }

    /// [`Self::run`] with its own per-statement limit (a statement that waits on purpose).
    async fn run_for(
        &self,
        server: &Server,
        sql: &[&str],
        limit: Duration,
    ) -> Result<Vec<Vec<Row>>, QueryError> {
        let mut guard = server.conn.lock().await;
        if guard.is_none() {
            *guard = Some(self.connect(server).await?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(QueryError::Transport(format!(
                "{}: no connection",
                server.address
            )));
        };
        let mut out = Vec::with_capacity(sql.len());
        for statement in sql {
            let result =
                tokio::time::timeout(limit, conn.query::<mysql_async::Row, _>(*statement)).await;
            match result {
                Ok(Ok(rows)) => out.push(rows.iter().map(row_values).collect()),
                Ok(Err(e)) => {
                    let error = self.describe(server, &e, true);
                    if e.is_fatal() {
                        *guard = None;
                    }
                    return Err(error);
                }
                Err(_) => {
                    *guard = None;
                    return Err(QueryError::Timeout(format!(
                        "{} did not answer within {} s (slow or paused)",
                        server.address,
                        limit.as_secs()
                    )));
                }
            }
        }
        Ok(out)
    }

    async fn read_server(&self, server: &Server) -> Result<reading::Reading, QueryError> {
        let first = self
            .run(server, &[reading::VARIABLES_SQL, reading::STATUS_SQL])
            .await?;
        let variables = reading::name_values(&first[0]);
        let status = reading::name_values(&first[1]);
        let version = variables.get("version").cloned().unwrap_or_default();
        let comment = variables
            .get("version_comment")
            .cloned()
            .unwrap_or_default();
        let sql = reading::replica_status_sql(reading::flavor(&version, &comment), &version);
        let replica = self.run(server, &[sql]).await?;
        Ok(reading::reading(&variables, &status, &replica[0]))
    }

    /// The login user's privileges; `None` when they could not be read (the plan says so).
    async fn read_grants(&self, server: &Server) -> Option<crate::model::mysql::Grants> {
        let rows = self.run(server, &["SHOW GRANTS"]).await.ok()?;
        let lines: Vec<String> = rows
            .first()?
            .iter()
            .filter_map(|row| row.first().and_then(|(_, v)| v.clone()))
            .collect();
        Some(grants::parse(&lines))
    }

    async fn poll_server(&self, server: &Server, record_rates: bool) -> topology::ServerPoll {
        let result = self.read_server(server).await;
        let grants = match &result {
            Ok(_) => self.read_grants(server).await,
            Err(_) => None,
        };
        let mut qps = None;
        if record_rates
            && let Ok(r) = &result
            && let Some(q) = r.queries
        {
            let now = Instant::now();
            let mut last = server
                .last_queries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((prev, at)) = *last {
                let secs = now.duration_since(at).as_secs_f64();
                if secs > 0.0 && q >= prev {
                    qps = Some((q - prev) as f64 / secs);
                }
            }
            *last = Some((q, now));
        }
        topology::ServerPoll {
            name: server.name.clone(),
            address: server.address.clone(),
            user: server.user.clone(),
            profile_role: server.profile_role,
            login_refused: matches!(result, Err(QueryError::Auth(_))),
            result: result.map_err(|e| e.text().to_string()),
            qps,
            grants,
        }
    }

    async fn poll_all(self: &Arc<Self>, record_rates: bool) -> Result<PollOutput, ConnectorError> {
        let tasks: Vec<_> = self
            .servers
            .iter()
            .map(|s| {
                let inner = Arc::clone(self);
                let s = Arc::clone(s);
                tokio::spawn(async move { inner.poll_server(&s, record_rates).await })
            })
            .collect();
        let mut polls = Vec::with_capacity(tasks.len());
        // One deadline for the whole poll: a paused server costs the poll at most this long,
        // and its half-read connection is dropped so the next poll starts clean.
        let deadline = tokio::time::Instant::now() + POLL_DEADLINE;
        for (mut task, server) in tasks.into_iter().zip(&self.servers) {
            let failed = |why: String| topology::ServerPoll {
                name: server.name.clone(),
                address: server.address.clone(),
                user: server.user.clone(),
                profile_role: server.profile_role,
                result: Err(why),
                login_refused: false,
                qps: None,
                grants: None,
            };
            polls.push(match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => failed(format!("read failed: {e}")),
                Err(_) => {
                    task.abort();
                    let _ = task.await;
                    *server.conn.lock().await = None;
                    failed(format!(
                        "{} did not answer within {} s (slow or paused)",
                        server.address,
                        POLL_DEADLINE.as_secs()
                    ))
                }
            });
        }
        let all_auth = polls.iter().all(|p| p.login_refused);
        if polls.iter().all(|p| p.result.is_err()) {
            let reason = polls
                .iter()
                .map(|p| {
                    format!(
                        "{} {}: {}",
                        p.profile_role.label(),
                        p.name,
                        p.result.as_ref().err().map_or("", String::as_str)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(if all_auth {
                ConnectorError::Auth(format!("MySQL \"{}\": {reason}", self.endpoint.name))
            } else {
                ConnectorError::Unreachable {
                    endpoint: self.endpoint.name.clone(),
                    reason,
                }
            });
        }
        let (snapshot, samples) = {
            let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
            topology::assemble(
                &self.endpoint.name,
                &polls,
                &mut memory,
                self.endpoint.max_failover_lag_seconds,
            )
        };
        Ok(PollOutput {
            snapshot: Snapshot::Mysql(snapshot),
            samples,
            notices: Vec::new(),
        })
    }
}

impl Connector for MysqlConnector {
    fn info(&self) -> &EndpointInfo {
        &self.inner.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.inner.poll_all(true))
    }

    /// Every server asked again (one round trip each): which accept writes, the candidate's
    /// threads and positions, right now. Queries/s is left to the poll loop.
    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        Box::pin(async move {
            match action {
                Action::PromoteMysqlReplica { .. } => {
                    Ok(Some(self.inner.poll_all(false).await?.snapshot))
                }
                _ => Ok(None),
            }
        })
    }

    fn execute<'a>(
        &'a self,
        run: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let action = run.action;
        Box::pin(async move {
            match action {
                Action::PromoteMysqlReplica { replica, .. } => self.inner.promote(replica).await,
                other => Err(ConnectorError::Unsupported(format!(
                    "MySQL endpoints cannot {}",
                    other.kind()
                ))),
            }
        })
    }
}

/// One line for `scaleboard status`: servers, writable count, worst lag and the topology.
pub fn summary(db: &crate::model::mysql::MysqlSnapshot) -> String {
    let lag = db
        .servers
        .iter()
        .filter_map(|s| s.lag_seconds)
        .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
    let mut line = format!(
        "{}: {} servers, {} writable, max lag {}: {}",
        db.cluster,
        db.servers.len(),
        db.writable().count(),
        lag.map_or("—".into(), |l| format!("{l:.0} s")),
        db.topology_line()
    );
    for s in &db.servers {
        if let Some(e) = &s.error {
            line.push_str(&format!("; {}: {e}", s.name));
        }
        if let Some(r) = &s.replica {
            for e in [&r.last_io_error, &r.last_sql_error].into_iter().flatten() {
                line.push_str(&format!("; {}: {e}", s.name));
            }
        }
    }
    line
}
