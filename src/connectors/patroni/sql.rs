//! Whether a PostgreSQL server outside Patroni's control still accepts writes
//! (`pg_is_in_recovery()`): the old leader's PostgreSQL keeps taking writes after its Patroni
//! died, and once the TTL passes another member is promoted — two writable servers that
//! `/cluster` cannot show. Only asked of members that dropped out of `/cluster` and of servers
//! of the linked PostgreSQL endpoint that `/cluster` does not list.
//!
//! The login is the profile's PostgreSQL endpoint's: the DSN of that endpoint whose
//! `host:port` is the server's, else the `discover_from` endpoint's first DSN pointed at the
//! server (same user, database, TLS settings, password). Without either, nothing is tried and
//! the check says why.

use crate::connectors::postgres::SecretLookup;
use crate::connectors::postgres::dsn::{self, Dsn};
use crate::model::patroni::WriteCheck;
use crate::profiles::PostgresEndpoint;
use std::time::Duration;

/// How long connecting and the one query may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// What one SQL check found of a server.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub writes: WriteCheck,
    /// For a writer: the timeline of its current WAL file.
    pub timeline: Option<u32>,
    /// `pg_postmaster_start_time()`: the same for every address that reaches one server.
    pub started: Option<String>,
}

impl Identity {
    fn unknown(why: String) -> Self {
        Self {
            writes: WriteCheck::Unknown(why),
            timeline: None,
            started: None,
        }
    }
}

/// One PostgreSQL endpoint of the profile: its servers' settings and its stored password.
pub struct Login {
    pub endpoint: PostgresEndpoint,
    pub lookup: Option<SecretLookup>,
}

#[derive(Default)]
pub struct SqlAccess {
    logins: Vec<(Dsn, usize)>,
    endpoints: Vec<Login>,
    /// The `discover_from` endpoint's index: its first DSN is the template for other servers.
    linked: Option<usize>,
}

impl SqlAccess {
    pub fn new(endpoints: Vec<Login>, discover_from: Option<&str>) -> Self {
        let defaults = dsn::Defaults::from_env();
        let mut logins = Vec::new();
        for (i, l) in endpoints.iter().enumerate() {
            let texts =
                std::iter::once(&l.endpoint.primary_dsn).chain(l.endpoint.replica_dsns.iter());
            for text in texts {
                if let Ok(d) = dsn::parse(text, &defaults) {
                    logins.push((d, i));
                }
            }
        }
        let linked =
            discover_from.and_then(|d| endpoints.iter().position(|l| l.endpoint.name == d));
        Self {
            logins,
            endpoints,
            linked,
        }
    }

    /// `host:port` of every server of the linked (`discover_from`) endpoint.
    pub fn linked_servers(&self) -> Vec<(String, String)> {
        let Some(linked) = self.linked else {
            return Vec::new();
        };
        self.logins
            .iter()
            .filter(|(d, i)| *i == linked && !d.host.starts_with('/'))
            .map(|(d, _)| {
                (
                    d.application_name.clone().unwrap_or_else(|| d.address()),
                    d.address(),
                )
            })
            .collect()
    }

    /// The settings to log in to `host:port` with, or why there are none.
    fn login_for(&self, host: &str, port: u16) -> Result<(Dsn, usize), String> {
        let wanted = crate::model::patroni::norm_address(&format!("{host}:{port}"));
        if let Some((d, i)) = self
            .logins
            .iter()
            .find(|(d, _)| crate::model::patroni::norm_address(&d.address()) == wanted)
        {
            return Ok((d.clone(), *i));
        }
        let linked = self.linked.ok_or_else(|| {
            "no PostgreSQL endpoint of the profile has a login for it (name the cluster's \
             [[postgres]] endpoint in the Patroni endpoint's discover_from)"
                .to_string()
        })?;
        let (template, i) = self
            .logins
            .iter()
            .find(|(_, i)| *i == linked)
            .ok_or_else(|| "the discover_from endpoint has no valid DSN".to_string())?;
        let mut d = template.clone();
        d.host = host.to_string();
        d.port = port;
        Ok((d, *i))
    }

    async fn password(&self, d: &Dsn, endpoint: usize) -> Option<String> {
        if let Some(p) = &d.password {
            return Some(p.clone());
        }
        let login = &self.endpoints[endpoint];
        if let Some(lookup) = login.lookup.clone() {
            let secret = login.endpoint.password.clone().unwrap_or_default();
            match tokio::task::spawn_blocking(move || lookup(&secret)).await {
                Ok(Ok(p)) => return Some(p),
                Ok(Err(e)) => log::debug!("no stored password for this check: {e}"),
                Err(_) => {}
            }
        }
        if let Ok(p) = std::env::var("PGPASSWORD")
            && !p.is_empty()
        {
            return Some(p);
        }
        let file = d.passfile.clone().or_else(dsn::default_passfile)?;
        let d = d.clone();
        tokio::task::spawn_blocking(move || dsn::password_from_file(&file, &d))
            .await
            .ok()
            .flatten()
    }

    /// Asks `host:port` whether it is in recovery: read-only, accepting writes, or why that
    /// could not be told.
    pub async fn check(&self, host: &str, port: u16) -> WriteCheck {
        self.identify(host, port).await.writes
    }

    /// As [`Self::check`], with what tells one server from another: the timeline a writer
    /// writes on (an old leader is on an older one) and when its postmaster started (two
    /// addresses that reach the same server give the same instant).
    pub async fn identify(&self, host: &str, port: u16) -> Identity {
        let (d, endpoint) = match self.login_for(host, port) {
            Ok(l) => l,
            Err(why) => return Identity::unknown(why),
        };
        match tokio::time::timeout(TIMEOUT, self.ask(&d, endpoint)).await {
            Ok(Ok(id)) => id,
            Ok(Err(why)) => Identity::unknown(why),
            Err(_) => Identity::unknown(format!(
                "{} did not answer within {} s",
                d.address(),
                TIMEOUT.as_secs()
            )),
        }
    }

    async fn ask(&self, d: &Dsn, endpoint: usize) -> Result<Identity, String> {
        let tls = crate::connectors::postgres::tls::connector(d)
            .map_err(|e| format!("{}: {e}", d.address()))?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&d.host)
            .port(d.port)
            .user(&d.user)
            .dbname(&d.dbname)
            .application_name("scaleboard")
            .connect_timeout(TIMEOUT)
            .ssl_mode(match d.sslmode {
                dsn::SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                dsn::SslMode::Allow | dsn::SslMode::Prefer => {
                    tokio_postgres::config::SslMode::Prefer
                }
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(p) = self.password(d, endpoint).await {
            config.password(p);
        }
        let (client, connection) = config
            .connect(tls)
            .await
            .map_err(|e| format!("{} as user {}: {}", d.address(), d.user, words(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("PostgreSQL check connection ended: {e}");
            }
        });
        // The WAL file name starts with the timeline in 8 hex digits.
        let rows = client
            .simple_query(
                "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN NULL \
                 ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END, \
                 pg_postmaster_start_time()::text",
            )
            .await
            .map_err(|e| format!("{}: {}", d.address(), words(&e)))?;
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|v| Identity {
                    writes: if v == "t" {
                        WriteCheck::ReadOnly
                    } else {
                        WriteCheck::AcceptsWrites
                    },
                    timeline: r.get(1).and_then(|t| u32::from_str_radix(t, 16).ok()),
                    started: r.get(2).map(str::to_owned),
                }),
                _ => None,
            })
            .ok_or_else(|| format!("{}: pg_is_in_recovery() gave no answer", d.address()))
    }
}

/// The server's or the OS's own words, without the library's wrapping.
fn words(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut source = std::error::Error::source(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(name: &str, primary: &str, replicas: &[&str]) -> Login {
        Login {
            endpoint: PostgresEndpoint {
                name: name.into(),
                primary_dsn: primary.into(),
                replica_dsns: replicas.iter().map(|r| (*r).to_string()).collect(),
                ..PostgresEndpoint::default()
            },
            lookup: None,
        }
    }

    #[test]
    fn the_login_is_the_servers_own_dsn_else_the_linked_endpoints() {
        let logins = || {
            vec![
                login("other", "host=10.0.0.9 port=5432 user=ops dbname=x", &[]),
                login(
                    "pg",
                    "host=db1 port=5432 user=app dbname=billing sslmode=disable",
                    &["host=db2 port=5433 user=app dbname=billing application_name=r2"],
                ),
            ]
        };
        let linked = SqlAccess::new(logins(), Some("pg"));
        // Its own DSN (another endpoint's), by address.
        let (d, _) = linked.login_for("10.0.0.9", 5432).unwrap();
        assert_eq!((d.user.as_str(), d.dbname.as_str()), ("ops", "x"));
        // No DSN names it: the linked endpoint's settings, pointed at it.
        let (d, _) = linked.login_for("db3", 5434).unwrap();
        assert_eq!(
            (d.address(), d.user.as_str(), d.dbname.as_str()),
            ("db3:5434".to_string(), "app", "billing")
        );
        assert_eq!(
            linked.linked_servers(),
            [
                ("db1:5432".to_string(), "db1:5432".to_string()),
                ("r2".to_string(), "db2:5433".to_string())
            ]
        );
        // Nothing links the Patroni endpoint to a login for it: said, not guessed.
        let unlinked = SqlAccess::new(logins(), None);
        let why = unlinked.login_for("db3", 5434).unwrap_err();
        assert!(why.contains("discover_from"), "{why}");
        assert!(unlinked.linked_servers().is_empty());
    }
}
