//! PostgreSQL streaming replication: one connector per profile cluster (a primary DSN and its
//! replica DSNs). Each poll reads every server concurrently, one round trip each, on
//! connections kept open between polls; a failed connection is dropped and opened again on the
//! next poll (the engine's backoff spaces those out). Roles are detected, never trusted.
//!
//! Server names: the DSN's `application_name` when it has one, else `host:port`.
//!
//! Passwords, first found wins: the DSN, the endpoint's `SCALEBOARD_SECRET_…` variable, keyring
//! entry or credentials-file entry (the secret lookup, see `profiles::Resolver`), `PGPASSWORD`,
//! the password file (`passfile` in the DSN, `PGPASSFILE`, `~/.pgpass`; ignored, as libpq does,
//! when its mode lets the group or others read it).

pub mod dsn;
mod errors;
mod promote;
pub mod reading;
pub(crate) mod tls;
pub mod topology;

pub use promote::PROMOTE_WAIT_SECONDS;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{DbRole, Snapshot};
use crate::profiles::{PostgresEndpoint, SecretError, SecretRef};
use dsn::Dsn;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, SimpleQueryMessage};

/// How long one server may take to connect or to answer the poll query.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(4);

/// Reads a keyring entry (blocking; the connector calls it on the blocking pool).
pub type SecretLookup = Arc<dyn Fn(&SecretRef) -> Result<String, SecretError> + Send + Sync>;

struct Server {
    name: String,
    profile_role: DbRole,
    dsn: Result<Dsn, String>,
    client: tokio::sync::Mutex<Option<Client>>,
    /// Commits + rollbacks at the previous successful poll, for TPS.
    last_xacts: Mutex<Option<(u64, Instant)>>,
    /// A read of this server still running from an earlier poll (a slow or paused server):
    /// when it started, and the task. Polls don't wait for it beyond [`MEMBER_WAIT`].
    inflight: Mutex<Option<(Instant, tokio::task::JoinHandle<topology::ServerPoll>)>>,
    /// The outcome of its last finished read: what is shown while a newer read is still
    /// within its time-out. `None` until a read has finished.
    last: Mutex<Option<Result<reading::Reading, String>>>,
}

impl Server {
    fn poll_result(
        &self,
        result: Result<reading::Reading, String>,
        tps: Option<f64>,
    ) -> topology::ServerPoll {
        topology::ServerPoll {
            name: self.name.clone(),
            profile_role: self.profile_role,
            host: self
                .dsn
                .as_ref()
                .map(|d| d.host.clone())
                .unwrap_or_default(),
            result,
            tps,
            slow: None,
        }
    }
}

/// How long one poll waits for its slowest server before reporting that server as not
/// answering (its read goes on in the background, up to [`SERVER_TIMEOUT`]): one slow or paused
/// member must not slow the refresh of the others.
pub const MEMBER_WAIT: Duration = Duration::from_millis(750);
/// Beyond a server's own time-out, how long a poll gives its read to report that time-out
/// itself (its error says more than "no answer").
const TIMEOUT_MARGIN: Duration = Duration::from_millis(250);

pub struct PostgresConnector {
    inner: Arc<Inner>,
}

struct Inner {
    info: EndpointInfo,
    endpoint: PostgresEndpoint,
    servers: Vec<Arc<Server>>,
    secret_lookup: Option<SecretLookup>,
    /// The keyring's answer, asked once per connector.
    keyring_password: super::secret_cell::SecretCell<Option<String>>,
    /// Where a password was looked for when none was found, added to "no password" errors.
    missing_hint: Mutex<Option<String>>,
    memory: Mutex<topology::Memory>,
}

impl PostgresConnector {
    pub fn new(endpoint: PostgresEndpoint, secret_lookup: Option<SecretLookup>) -> Self {
        Self {
            inner: Arc::new(Inner::new(endpoint, secret_lookup)),
        }
    }

    /// The names the servers are shown under, primary first.
    pub fn server_names(&self) -> Vec<String> {
        self.inner.server_names()
    }

    /// A new session of its own to the primary, with the password found the same way as for
    /// polls (the team store's lock sessions and writes use this). Dropping the client ends it.
    pub async fn open_session(&self) -> Result<Client, String> {
        let server = self.inner.servers.first().ok_or("no server configured")?;
        let dsn = server.dsn.as_ref().map_err(Clone::clone)?;
        self.inner.connect(dsn, None).await
    }

    /// Like [`Self::open_session`], and every `NOTIFY` the session receives (after its `LISTEN`)
    /// is sent to `notices` as the notification's payload (dropped when the receiver is full).
    pub async fn open_listening_session(
        &self,
        notices: tokio::sync::mpsc::Sender<String>,
    ) -> Result<Client, String> {
        let server = self.inner.servers.first().ok_or("no server configured")?;
        let dsn = server.dsn.as_ref().map_err(Clone::clone)?;
        self.inner.connect(dsn, Some(notices)).await
    }
}

impl Inner {
    fn new(endpoint: PostgresEndpoint, secret_lookup: Option<SecretLookup>) -> Self {
        let defaults = dsn::Defaults::from_env();
        let mut servers = Vec::new();
        let mut add = |text: &str, role: DbRole, index: usize| {
            let parsed = dsn::parse(text, &defaults);
            let name = match &parsed {
                Ok(d) => d.application_name.clone().unwrap_or_else(|| d.address()),
                Err(_) if role == DbRole::Primary => "primary".into(),
                Err(_) => format!("replica {}", index + 1),
            };
            servers.push(Arc::new(Server {
                name,
                profile_role: role,
                dsn: parsed.map_err(|e| format!("bad connection string: {e}")),
                client: tokio::sync::Mutex::new(None),
                last_xacts: Mutex::new(None),
                inflight: Mutex::new(None),
                last: Mutex::new(None),
            }));
        };
        add(&endpoint.primary_dsn, DbRole::Primary, 0);
        for (i, r) in endpoint.replica_dsns.iter().enumerate() {
            add(r, DbRole::Replica, i);
        }
        Self {
            info: EndpointInfo {
                id: endpoint.name.clone(),
                label: format!("PostgreSQL {}", endpoint.name),
                area: Area::Databases,
                demo: false,
            },
            endpoint,
            servers,
            secret_lookup,
            keyring_password: super::secret_cell::SecretCell::new(),
            missing_hint: Mutex::new(None),
            memory: Mutex::new(topology::Memory::default()),
        }
    }

    fn server_names(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.name.clone()).collect()
    }

    /// The password for one server, or why the stored one cannot be used (a credentials file
    /// that others can read).
    async fn password(&self, dsn: &Dsn) -> Result<Option<String>, String> {
        if let Some(p) = &dsn.password {
            return Ok(Some(p.clone()));
        }
        let keyring = self
            .keyring_password
            .get_or_try_init(|| async {
                // The endpoint's variable, keyring entry or credentials-file entry (see
                // `profiles::Resolver`); the entry the profile names, else the conventional one.
                let Some(lookup) = self.secret_lookup.clone() else {
                    return Ok(None);
                };
                let secret = self.endpoint.password.clone().unwrap_or_default();
                let found = tokio::task::spawn_blocking(move || lookup(&secret)).await;
                match found {
                    Ok(Ok(p)) => Ok(Some(p)),
                    Ok(Err(e @ SecretError::Credentials(_))) => {
                        Err(format!("PostgreSQL \"{}\": {e}", self.endpoint.name))
                    }
                    Ok(Err(e)) => {
                        log::debug!("no stored password for {}: {e}", self.endpoint.name);
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
        if let Some(p) = keyring {
            return Ok(Some(p.clone()));
        }
        if let Ok(p) = std::env::var("PGPASSWORD")
            && !p.is_empty()
        {
            return Ok(Some(p));
        }
        let Some(file) = dsn.passfile.clone().or_else(dsn::default_passfile) else {
            return Ok(None);
        };
        let dsn = dsn.clone();
        Ok(
            tokio::task::spawn_blocking(move || dsn::password_from_file(&file, &dsn))
                .await
                .ok()
                .flatten(),
        )
    }

    async fn connect(
        &self,
        dsn: &Dsn,
        notices: Option<tokio::sync::mpsc::Sender<String>>,
    ) -> Result<Client, String> {
        let tls = tls::connector(dsn).map_err(|e| format!("{}: {e}", dsn.address()))?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&dsn.host)
            .port(dsn.port)
            .user(&dsn.user)
            .dbname(&dsn.dbname)
            .application_name("scaleboard")
            .connect_timeout(dsn.connect_timeout.unwrap_or(SERVER_TIMEOUT))
            .ssl_mode(match dsn.sslmode {
                dsn::SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                dsn::SslMode::Allow | dsn::SslMode::Prefer => {
                    tokio_postgres::config::SslMode::Prefer
                }
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(options) = &dsn.options {
            config.options(options);
        }
        let password = self.password(dsn).await?;
        let has_password = password.is_some();
        if let Some(p) = password {
            config.password(p);
        }
        let connecting = config.connect(tls);
        let (client, connection) = tokio::time::timeout(SERVER_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                format!(
                    "{} did not answer within {} s",
                    dsn.address(),
                    SERVER_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| {
                if errors::is_refused_login(&e) {
                    self.keyring_password.forget();
                }
                let text = errors::describe(&e, dsn);
                let hint = self
                    .missing_hint
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                match hint {
                    Some(hint) if !has_password && text.contains("password") => {
                        format!("{text} ({hint})")
                    }
                    _ => text,
                }
            })?;
        let Some(notices) = notices else {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::debug!("PostgreSQL connection ended: {e}");
                }
            });
            return Ok(client);
        };
        tokio::spawn(async move {
            let mut connection = connection;
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            use futures::StreamExt;
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        let _ = notices.try_send(n.payload().to_owned());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        log::debug!("PostgreSQL connection ended: {e}");
                        break;
                    }
                }
            }
        });
        Ok(client)
    }

    /// Run one simple-query text on a server, connecting first when needed. A failure drops
    /// the connection so the next call opens a fresh one.
    async fn query(&self, server: &Server, sql: &str) -> Result<Vec<SimpleQueryMessage>, String> {
        let dsn = server.dsn.as_ref().map_err(Clone::clone)?;
        let mut guard = server.client.lock().await;
        if guard.as_ref().is_some_and(Client::is_closed) {
            *guard = None;
        }
        if guard.is_none() {
            *guard = Some(self.connect(dsn, None).await?);
        }
        let Some(client) = guard.as_ref() else {
            return Err(format!("{}: no connection", dsn.address()));
        };
        let result = tokio::time::timeout(SERVER_TIMEOUT, client.simple_query(sql)).await;
        match result {
            Ok(Ok(messages)) => Ok(messages),
            Ok(Err(e)) => {
                let text = errors::describe(&e, dsn);
                if e.as_db_error().is_none() || e.is_closed() {
                    *guard = None;
                }
                Err(text)
            }
            Err(_) => {
                *guard = None;
                Err(format!(
                    "{} did not answer the poll within {} s",
                    dsn.address(),
                    SERVER_TIMEOUT.as_secs()
                ))
            }
        }
    }

    /// One round trip to one server. `record_rates`: this poll is the loop's own, so its
    /// transaction count becomes the base of the next TPS figure (a re-check's read is not, so
    /// it cannot skew the rate).
    async fn poll_server(&self, server: &Server, record_rates: bool) -> topology::ServerPoll {
        let result = match self.query(server, reading::POLL_SQL).await {
            Ok(messages) => reading::parse(&messages),
            Err(e) => Err(e),
        };
        let mut tps = None;
        if record_rates
            && let Ok(r) = &result
            && let Some(x) = r.xacts
        {
            let now = Instant::now();
            let mut last = server
                .last_xacts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((prev, at)) = *last {
                let secs = now.duration_since(at).as_secs_f64();
                if secs > 0.0 && x >= prev {
                    tps = Some((x - prev) as f64 / secs);
                }
            }
            *last = Some((x, now));
        }
        server.poll_result(result, tps)
    }

    /// Every server read concurrently, each in a task of its own, all started before any is
    /// waited for. A server is named unreachable only when its read failed or did not finish
    /// within its own time-out ([`SERVER_TIMEOUT`]): a server that has never answered is
    /// waited for that long; one that answered before is waited for [`MEMBER_WAIT`] and, while
    /// its read goes on within its time-out, shown with its previous answer marked slow (one
    /// slow member must not slow the refresh of the others). The next poll picks up a read
    /// that is still running. `fresh` (the re-check before a write) waits for every server's
    /// own outcome: a previous answer is never passed off as the current state there.
    async fn poll_all(
        self: &Arc<Self>,
        record_rates: bool,
        fresh: bool,
    ) -> Result<PollOutput, ConnectorError> {
        let poll_start = tokio::time::Instant::now();
        let running: Vec<_> = self
            .servers
            .iter()
            .map(|server| {
                let running = server
                    .inflight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                running.unwrap_or_else(|| {
                    let inner = Arc::clone(self);
                    let s = Arc::clone(server);
                    let task =
                        tokio::spawn(async move { inner.poll_server(&s, record_rates).await });
                    (Instant::now(), task)
                })
            })
            .collect();
        let mut polls: Vec<topology::ServerPoll> = Vec::with_capacity(self.servers.len());
        for (server, (started, mut task)) in self.servers.iter().zip(running) {
            let last = server
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let own_deadline =
                tokio::time::Instant::from_std(started) + SERVER_TIMEOUT + TIMEOUT_MARGIN;
            let deadline = match last {
                Some(_) if !fresh => (poll_start + MEMBER_WAIT).min(own_deadline),
                _ => own_deadline,
            };
            let (poll, finished) = match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(poll)) => (poll, true),
                Ok(Err(e)) => (
                    self.not_answering(server, format!("read failed: {e}")),
                    true,
                ),
                Err(_) => {
                    let waited = started.elapsed();
                    *server
                        .inflight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some((started, task));
                    let limit = SERVER_TIMEOUT.as_secs();
                    let poll = match last {
                        Some(Ok(previous)) if waited < SERVER_TIMEOUT => topology::ServerPoll {
                            slow: Some(format!(
                                "no answer for {:.1} s yet (time-out {limit} s): the figures \
                                 are from its previous answer",
                                waited.as_secs_f32()
                            )),
                            ..server.poll_result(Ok(previous), None)
                        },
                        Some(Err(previous)) if waited < SERVER_TIMEOUT => self.not_answering(
                            server,
                            format!(
                                "{previous} (asked again {:.1} s ago, no answer yet)",
                                waited.as_secs_f32()
                            ),
                        ),
                        _ => self.not_answering(
                            server,
                            format!(
                                "{} has not answered for {:.1} s, more than its time-out of \
                                 {limit} s (slow or paused; still waiting)",
                                server.name,
                                waited.as_secs_f32()
                            ),
                        ),
                    };
                    (poll, false)
                }
            };
            // Only a finished read is an outcome to fall back on.
            if finished {
                *server.last.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(poll.result.clone());
            }
            polls.push(poll);
        }
        if polls.iter().all(|p| p.result.is_err()) {
            let reason = polls
                .iter()
                .map(|p| {
                    let e = p.result.as_ref().err().map_or("", String::as_str);
                    if e.starts_with(&p.name) {
                        format!("{} {e}", p.profile_role.label())
                    } else {
                        format!("{} {}: {e}", p.profile_role.label(), p.name)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ConnectorError::Unreachable {
                endpoint: self.endpoint.name.clone(),
                reason,
            });
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut snapshot, samples) = topology::assemble(
            &self.endpoint.name,
            &polls,
            &mut memory,
            self.endpoint.max_failover_lag_bytes,
            now_ms,
        );
        // host:port from the DSN: what a Patroni cluster's member list is matched against.
        for (s, server) in snapshot.servers.iter_mut().zip(&self.servers) {
            if s.name == server.name {
                s.address = server.dsn.as_ref().ok().map(Dsn::address);
            }
        }
        Ok(PollOutput {
            snapshot: Snapshot::Databases(snapshot),
            samples,
            notices: Vec::new(),
        })
    }

    fn not_answering(&self, server: &Server, why: String) -> topology::ServerPoll {
        server.poll_result(Err(why), None)
    }
}

impl Connector for PostgresConnector {
    fn info(&self) -> &EndpointInfo {
        &self.inner.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.inner.poll_all(true, false))
    }

    /// Every server of the cluster asked again (one round trip each): which accept writes, the
    /// candidate's timeline and replay position, right now. TPS is left to the poll loop.
    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        Box::pin(async move {
            match action {
                Action::PromoteReplica { .. } => {
                    Ok(Some(self.inner.poll_all(false, true).await?.snapshot))
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
                Action::PromoteReplica { replica, .. } => self.inner.promote(replica).await,
                other => Err(ConnectorError::Unsupported(format!(
                    "PostgreSQL endpoints cannot {}",
                    other.kind()
                ))),
            }
        })
    }
}
