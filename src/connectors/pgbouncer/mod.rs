//! PgBouncer: its admin console (the `pgbouncer` database) over the PostgreSQL protocol. Each
//! poll sends `SHOW POOLS`, `SHOW STATS`, `SHOW LISTS`, `SHOW CONFIG`, `SHOW DATABASES` and
//! `SHOW VERSION` on one connection kept open between polls, with the simple query protocol only:
//! the admin console refuses the extended protocol ("extended query protocol not supported by
//! admin console"). Reading only; `RELOAD`/`PAUSE` are not sent.
//!
//! Passwords, first found wins, as for PostgreSQL endpoints: the endpoint's
//! `SCALEBOARD_SECRET_…` variable, keyring or credentials-file entry, `PGPASSWORD`, the password
//! file (`passfile` in the DSN, `PGPASSFILE`, `~/.pgpass`).

pub mod assemble;
mod errors;
pub mod rows;

use super::postgres::SecretLookup;
use super::postgres::dsn::{self, Dsn};
use super::{Connector, ConnectorError, PollOutput};
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::pgbouncer::PgbouncerSnapshot;
use crate::model::snapshot::Snapshot;
use crate::profiles::{PgbouncerEndpoint, SecretError};
use rows::Table;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// How long connecting, and then the whole set of `SHOW` commands, may take.
pub const TIMEOUT: Duration = Duration::from_secs(4);

pub use assemble::summary;

pub struct PgbouncerConnector {
    info: EndpointInfo,
    endpoint: PgbouncerEndpoint,
    dsn: Result<Dsn, String>,
    secret_lookup: Option<SecretLookup>,
    /// The stored password (variable, keyring, credentials file) as last looked up: kept
    /// between polls, looked up again after PgBouncer refuses it, so a password changed with
    /// `scaleboard secret set` reaches a running window at the next poll (as `SecretCell` does
    /// for the other connectors).
    stored_password: tokio::sync::Mutex<Option<Option<String>>>,
    client: tokio::sync::Mutex<Option<Client>>,
    memory: Mutex<assemble::Memory>,
}

impl PgbouncerConnector {
    pub fn new(endpoint: PgbouncerEndpoint, secret_lookup: Option<SecretLookup>) -> Self {
        let mut defaults = dsn::Defaults::from_env();
        // PGDATABASE names an application database; the admin console is always `pgbouncer`.
        defaults.dbname = Some(rows::ADMIN_DB.to_owned());
        let dsn = dsn::parse(&endpoint.dsn, &defaults)
            .map_err(|e| format!("bad connection string: {e}"))
            .and_then(|d| {
                if d.dbname == rows::ADMIN_DB {
                    Ok(d)
                } else {
                    Err(format!(
                        "the DSN names database \"{}\": PgBouncer's admin console is the database \"pgbouncer\"",
                        d.dbname
                    ))
                }
            });
        Self {
            info: EndpointInfo {
                id: endpoint.name.clone(),
                label: format!("PgBouncer {}", endpoint.name),
                area: Area::Databases,
                demo: false,
            },
            endpoint,
            dsn,
            secret_lookup,
            stored_password: tokio::sync::Mutex::const_new(None),
            client: tokio::sync::Mutex::new(None),
            memory: Mutex::new(assemble::Memory::default()),
        }
    }

    async fn password(&self, dsn: &Dsn) -> Result<Option<String>, ConnectorError> {
        if let Some(p) = &dsn.password {
            return Ok(Some(p.clone()));
        }
        if let Some(p) = self.stored_password().await? {
            return Ok(Some(p));
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

    async fn stored_password(&self) -> Result<Option<String>, ConnectorError> {
        let mut kept = self.stored_password.lock().await;
        if let Some(p) = kept.as_ref() {
            return Ok(p.clone());
        }
        let Some(lookup) = self.secret_lookup.clone() else {
            return Ok(None);
        };
        let secret = self.endpoint.password.clone().unwrap_or_default();
        let found = match tokio::task::spawn_blocking(move || lookup(&secret)).await {
            Ok(Ok(p)) => Some(p),
            Ok(Err(e @ SecretError::Credentials(_))) => {
                return Err(ConnectorError::Auth(format!(
                    "PgBouncer \"{}\": {e}",
                    self.endpoint.name
                )));
            }
            Ok(Err(e)) => {
                log::debug!("no stored password for {}: {e}", self.endpoint.name);
                None
            }
            Err(_) => None,
        };
        *kept = Some(found.clone());
        Ok(found)
    }

    async fn connect(&self, dsn: &Dsn) -> Result<Client, ConnectorError> {
        let tls = super::postgres::tls::connector(dsn)
            .map_err(|e| ConnectorError::Failed(format!("{}: {e}", dsn.address())))?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&dsn.host)
            .port(dsn.port)
            .user(&dsn.user)
            .dbname(&dsn.dbname)
            .application_name("scaleboard")
            .connect_timeout(dsn.connect_timeout.unwrap_or(TIMEOUT))
            .ssl_mode(match dsn.sslmode {
                dsn::SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                dsn::SslMode::Allow | dsn::SslMode::Prefer => {
                    tokio_postgres::config::SslMode::Prefer
                }
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(p) = self.password(dsn).await? {
            config.password(p);
        }
        let (client, connection) = tokio::time::timeout(TIMEOUT, config.connect(tls))
            .await
            .map_err(|_| {
                ConnectorError::Timeout(format!(
                    "PgBouncer at {} did not answer within {} s",
                    dsn.address(),
                    TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                let error = errors::describe(&e, dsn, &self.endpoint.name);
                if matches!(error, ConnectorError::Auth(_))
                    && let Ok(mut kept) = self.stored_password.try_lock()
                {
                    // Refused: the next poll asks the secret's source again.
                    *kept = None;
                }
                error
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("PgBouncer admin connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// The six `SHOW` commands on the open connection (opened first when needed). Any failure
    /// drops the connection so the next poll opens a fresh one. A kept connection that turns
    /// out broken (PgBouncer restarted, or was killed) is replaced at once, in this poll: a
    /// restarted PgBouncer is read now, and a killed one refuses the new connection, which is
    /// a clear "down", not a stale guess.
    async fn read(&self) -> Result<assemble::Reading, ConnectorError> {
        let dsn = self
            .dsn
            .as_ref()
            .map_err(|e| ConnectorError::Failed(e.clone()))?;
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_some_and(Client::is_closed) {
            *guard = None;
        }
        let reused = guard.is_some();
        let first = self.read_on(dsn, &mut guard).await;
        match first {
            Err(ConnectorError::Unreachable { .. }) if reused => {
                self.read_on(dsn, &mut guard).await
            }
            other => other,
        }
    }

    async fn read_on(
        &self,
        dsn: &Dsn,
        guard: &mut Option<Client>,
    ) -> Result<assemble::Reading, ConnectorError> {
        if guard.is_none() {
            *guard = Some(self.connect(dsn).await?);
        }
        let Some(client) = guard.as_ref() else {
            return Err(ConnectorError::Failed(format!(
                "{}: no connection",
                dsn.address()
            )));
        };
        let reading = async {
            Ok::<_, tokio_postgres::Error>(assemble::Reading {
                pools: show(client, "SHOW POOLS").await?,
                stats: show(client, "SHOW STATS").await?,
                lists: show(client, "SHOW LISTS").await?,
                config: show(client, "SHOW CONFIG").await?,
                databases: show(client, "SHOW DATABASES").await?,
                version: show(client, "SHOW VERSION").await?,
            })
        };
        match tokio::time::timeout(TIMEOUT, reading).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                *guard = None;
                Err(errors::describe(&e, dsn, &self.endpoint.name))
            }
            Err(_) => {
                *guard = None;
                Err(ConnectorError::Timeout(format!(
                    "PgBouncer at {} did not answer its SHOW commands within {} s",
                    dsn.address(),
                    TIMEOUT.as_secs()
                )))
            }
        }
    }

    async fn poll_once(&self) -> Result<PollOutput, ConnectorError> {
        let reading = self.read().await?;
        let address = self.dsn.as_ref().map(Dsn::address).unwrap_or_default();
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        let (snapshot, samples): (PgbouncerSnapshot, _) = assemble::assemble(
            &self.endpoint.name,
            &address,
            &reading,
            &mut memory,
            self.endpoint.pool_warn_percent,
            Instant::now(),
        )
        .map_err(ConnectorError::Failed)?;
        Ok(PollOutput {
            snapshot: Snapshot::Pgbouncer(snapshot),
            samples,
            notices: Vec::new(),
        })
    }
}

async fn show(client: &Client, command: &str) -> Result<Table, tokio_postgres::Error> {
    Ok(Table::from_messages(&client.simple_query(command).await?))
}

impl Connector for PgbouncerConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.poll_once())
    }

    fn execute<'a>(
        &'a self,
        run: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let kind = run.action.kind();
        Box::pin(async move {
            Err(ConnectorError::Unsupported(format!(
                "PgBouncer endpoints are read only: they cannot {kind}"
            )))
        })
    }
}
