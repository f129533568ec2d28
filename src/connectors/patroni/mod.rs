//! Patroni clusters through their REST API: each poll reads `/cluster`, `/history` and
//! `/config` from whichever member answers; switchover, failover and the cancel of a scheduled
//! switchover are Patroni's own endpoints (`POST /switchover`, `POST /failover`,
//! `DELETE /switchover`), never `pg_promote()`, which would fight Patroni's leader lock.
//!
//! Basic auth (Patroni protects its write endpoints with `restapi.authentication`): the user
//! from the profile, the password from the endpoint's `SCALEBOARD_SECRET_…` variable, keyring
//! or credentials file. TLS: https URLs, with the profile's `ca_file` trusted.

pub mod answers;
pub mod client;
pub mod parse;
pub mod sql;
mod watch;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::exec::Execution;
use crate::model::patroni::PatroniSnapshot;
use crate::model::snapshot::{Sample, Snapshot};
use crate::profiles::{PatroniEndpoint, SecretError};
use answers::Write;
use client::Api;

pub use super::redis::SecretLookup;

pub struct PatroniConnector {
    info: EndpointInfo,
    endpoint: PatroniEndpoint,
    api: Api,
    secret_lookup: Option<SecretLookup>,
    /// See [`PatroniSnapshot::switched_from_timeline`].
    switched_from: std::sync::Mutex<Option<u32>>,
    /// Logins to ask a silent member's PostgreSQL whether it still takes writes.
    sql: sql::SqlAccess,
    /// Members seen and profile URLs that stopped answering (see [`watch`]).
    memory: std::sync::Mutex<watch::Memory>,
}

impl PatroniConnector {
    /// `urls`: the REST API base URLs to ask (the profile's, plus those found on the hosts of
    /// `discover_from`'s servers; the registry works them out).
    pub fn new(
        endpoint: PatroniEndpoint,
        urls: Vec<String>,
        secret_lookup: Option<SecretLookup>,
    ) -> Self {
        Self {
            info: EndpointInfo {
                id: endpoint.name.clone(),
                label: format!("Patroni {}", endpoint.name),
                area: Area::Databases,
                demo: false,
            },
            api: Api::new(
                &endpoint.name,
                urls,
                endpoint.ca_file.as_deref(),
                endpoint.username.clone(),
            ),
            endpoint,
            secret_lookup,
            switched_from: std::sync::Mutex::new(None),
            sql: sql::SqlAccess::default(),
            memory: std::sync::Mutex::new(watch::Memory::default()),
        }
    }

    /// The profile's PostgreSQL endpoints, to log in to a silent member's PostgreSQL with
    /// (the one whose DSN names its address, else the `discover_from` one).
    #[must_use]
    pub fn with_sql_logins(mut self, logins: Vec<sql::Login>) -> Self {
        self.sql = sql::SqlAccess::new(logins, self.endpoint.discover_from.as_deref());
        self
    }

    /// One read of the cluster: `/cluster` must answer; `/history` and `/config` are asked of
    /// the same member and left empty when they fail (the topology is what matters).
    pub async fn read(&self) -> Result<PatroniSnapshot, ConnectorError> {
        self.read_cluster(false).await
    }

    /// `watch`: also ask every member's own REST API and fill `silent` (the poll's read; a
    /// re-check before a write needs only the topology).
    async fn read_cluster(&self, watch: bool) -> Result<PatroniSnapshot, ConnectorError> {
        let (answer, misses) = self.api.get("/cluster").await?;
        let body: serde_json::Value = serde_json::from_str(&answer.body).map_err(|e| {
            ConnectorError::Failed(format!("{}/cluster is not JSON: {e}", answer.url))
        })?;
        let mut snapshot = parse::cluster(&body)
            .map_err(|e| ConnectorError::Failed(format!("{}/cluster: {e}", answer.url)))?;
        self.api
            .learn(snapshot.members.iter().filter_map(|m| m.api_url.clone()));
        snapshot.answered_by = answer.url;
        snapshot.unanswered = misses;
        snapshot.patronictl_config = self.endpoint.patronictl_config.clone();
        snapshot.api_user = self.api.username.clone();
        snapshot.switched_from_timeline = *self
            .switched_from
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Patroni 3.0 leaves `scope` out of /cluster; each member's /patroni names it.
        let watching = async {
            if watch {
                watch::watch(&self.api, &self.sql, &self.memory, &snapshot).await
            } else {
                Vec::new()
            }
        };
        let (history, config, status, silent) = tokio::join!(
            self.api.get("/history"),
            self.api.get("/config"),
            self.api.get("/patroni"),
            watching
        );
        snapshot.silent = silent;
        if let Ok((p, _)) = status
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&p.body)
            && snapshot.cluster.is_empty()
            && let Some(scope) = v["patroni"]["scope"].as_str()
        {
            scope.clone_into(&mut snapshot.cluster);
        }
        if snapshot.cluster.is_empty() {
            snapshot.cluster.clone_from(&self.endpoint.name);
        }
        if let Ok((h, _)) = history
            && let Ok(v) = serde_json::from_str(&h.body)
        {
            snapshot.history = parse::history(&v);
        }
        match config
            .ok()
            .and_then(|(c, _)| serde_json::from_str::<serde_json::Value>(&c.body).ok())
        {
            Some(v) if v.is_object() => {
                let c = parse::config(&v);
                snapshot.maximum_lag_on_failover = c.maximum_lag_on_failover;
                snapshot.synchronous_mode = c.synchronous_mode;
                snapshot.quorum_mode = c.quorum;
            }
            _ => snapshot.config_unread = true,
        }
        Ok(snapshot)
    }

    async fn password(&self) -> Result<Option<String>, ConnectorError> {
        if self.api.username.is_none() {
            return Ok(None);
        }
        let Some(lookup) = self.secret_lookup.clone() else {
            return Ok(None);
        };
        let secret = self.endpoint.password.clone().unwrap_or_default();
        match tokio::task::spawn_blocking(move || lookup(&secret)).await {
            Ok(Ok(p)) => Ok(Some(p)),
            Ok(Err(e @ SecretError::Credentials(_))) => Err(ConnectorError::Auth(format!(
                "Patroni \"{}\": {e}",
                self.endpoint.name
            ))),
            Ok(Err(e)) => Err(ConnectorError::Auth(format!(
                "Patroni \"{}\" has username {} but no password was found ({e}); store it with \
                 `scaleboard secret set`. Nothing was changed.",
                self.endpoint.name,
                self.api.username.as_deref().unwrap_or_default()
            ))),
            Err(e) => Err(ConnectorError::Failed(e.to_string())),
        }
    }

    async fn write(&self, run: Execution<'_>) -> Result<String, ConnectorError> {
        let action = run.action;
        let (method, path, body, kind) = request(action)?;
        let moves_leader = matches!(
            action,
            Action::PatroniFailover { .. }
                | Action::PatroniSwitchover {
                    scheduled_at: None,
                    ..
                }
        );
        if moves_leader {
            // The timeline the re-check read right before this write (else a read now).
            let timeline = match run.fresh {
                Some(Snapshot::Patroni(p)) => p.timeline(),
                _ => self.read().await.ok().and_then(|p| p.timeline()),
            };
            *self
                .switched_from
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = timeline;
        }
        let password = self.password().await?;
        let answer = self
            .api
            .send(method, path, body.as_ref(), password.as_deref())
            .await?;
        answers::translate(kind, answer.status, &answer.body)
            .map(|text| format!("{text} (asked {})", answer.url))
    }
}

/// The HTTP request an action is: method, path, JSON body, and which write it is.
pub fn request(
    action: &Action,
) -> Result<
    (
        reqwest::Method,
        &'static str,
        Option<serde_json::Value>,
        Write,
    ),
    ConnectorError,
> {
    match action {
        Action::PatroniSwitchover {
            leader,
            candidate,
            scheduled_at,
            ..
        } => {
            let mut body = serde_json::json!({ "leader": leader });
            if let Some(c) = candidate {
                body["candidate"] = c.clone().into();
            }
            if let Some(at) = scheduled_at {
                body["scheduled_at"] = at.clone().into();
            }
            Ok((
                reqwest::Method::POST,
                "/switchover",
                Some(body),
                Write::Switchover,
            ))
        }
        Action::PatroniFailover { candidate, .. } => Ok((
            reqwest::Method::POST,
            "/failover",
            Some(serde_json::json!({ "candidate": candidate })),
            Write::Failover,
        )),
        Action::PatroniCancelSwitchover { .. } => Ok((
            reqwest::Method::DELETE,
            "/switchover",
            None,
            Write::CancelSwitchover,
        )),
        other => Err(ConnectorError::Unsupported(format!(
            "a Patroni endpoint cannot {}",
            other.kind()
        ))),
    }
}

/// Lag per replica and the timeline, for the plots.
fn samples(endpoint: &str, s: &PatroniSnapshot) -> Vec<Sample> {
    let mut out = Vec::new();
    for m in &s.members {
        let target = format!("{endpoint}/{}", m.name);
        if let Some(lag) = m.lag_bytes {
            out.push(Sample::new(&target, "lag_bytes", lag as f64));
        }
        if let Some(tl) = m.timeline {
            out.push(Sample::new(&target, "timeline", f64::from(tl)));
        }
    }
    out
}

impl Connector for PatroniConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(async move {
            let snapshot = self.read_cluster(true).await?;
            let notices = snapshot
                .unanswered
                .iter()
                .map(|m| {
                    format!(
                        "Patroni {}: a member's REST API did not answer ({m})",
                        self.info.id
                    )
                })
                .collect();
            Ok(PollOutput {
                samples: samples(&self.info.id, &snapshot),
                snapshot: Snapshot::Patroni(Box::new(snapshot)),
                notices,
            })
        })
    }

    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        Box::pin(async move {
            request(action)?;
            Ok(Some(Snapshot::Patroni(Box::new(self.read().await?))))
        })
    }

    fn execute<'a>(&'a self, run: Execution<'a>) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(async move { self.write(run).await })
    }
}

/// The REST API URLs for an endpoint: its own `urls`, then `http(s)://HOST:port` for every
/// server host of the `discover_from` PostgreSQL endpoint (https when a CA file is given).
pub fn endpoint_urls(
    e: &PatroniEndpoint,
    postgres: Option<&crate::profiles::PostgresEndpoint>,
) -> Vec<String> {
    let mut urls: Vec<String> = e.urls.iter().map(|u| u.trim().to_string()).collect();
    if let Some(pg) = postgres {
        let defaults = super::postgres::dsn::Defaults::from_env();
        let scheme = if e.ca_file.is_some() { "https" } else { "http" };
        for text in std::iter::once(&pg.primary_dsn).chain(&pg.replica_dsns) {
            if let Ok(d) = super::postgres::dsn::parse(text, &defaults) {
                let url = format!("{scheme}://{}:{}", d.host, e.port);
                if !d.host.starts_with('/') && !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_patronis_own_fields() {
        let a = Action::PatroniSwitchover {
            endpoint: "p".into(),
            cluster: "c".into(),
            leader: "m1".into(),
            candidate: Some("m2".into()),
            scheduled_at: Some("2026-12-01T03:00+00:00".into()),
        };
        let (m, path, body, _) = request(&a).unwrap();
        assert_eq!((m, path), (reqwest::Method::POST, "/switchover"));
        assert_eq!(
            body.unwrap(),
            serde_json::json!({"leader": "m1", "candidate": "m2", "scheduled_at": "2026-12-01T03:00+00:00"})
        );
        let c = Action::PatroniCancelSwitchover {
            endpoint: "p".into(),
            cluster: "c".into(),
        };
        assert_eq!(request(&c).unwrap().0, reqwest::Method::DELETE);
    }

    #[test]
    fn discovery_asks_the_postgres_hosts_at_the_port() {
        let e = PatroniEndpoint {
            name: "ha".into(),
            urls: vec!["http://a:8008".into()],
            discover_from: Some("main".into()),
            port: 8010,
            ..PatroniEndpoint::default()
        };
        let pg = crate::profiles::PostgresEndpoint {
            name: "main".into(),
            primary_dsn: "postgres://u@db1:5432/x".into(),
            replica_dsns: vec!["host=db2 port=5433 user=u".into()],
            ..Default::default()
        };
        assert_eq!(
            endpoint_urls(&e, Some(&pg)),
            vec!["http://a:8008", "http://db1:8010", "http://db2:8010"]
        );
    }
}
