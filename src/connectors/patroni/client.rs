//! The REST API of a Patroni cluster through whichever member answers: the configured URLs
//! first (the one that answered last in front), then the members' own `api_url`s as `/cluster`
//! lists them, so a cluster stays readable while any one member is down.

use crate::connectors::ConnectorError;
use crate::connectors::http::{TlsOptions, client, plain_error};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How long one member may take to answer a read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// A switchover or failover answers once Patroni has seen the result (it waits up to ~30 s).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Api {
    endpoint: String,
    read: Result<reqwest::Client, String>,
    write: Result<reqwest::Client, String>,
    /// Base URLs without a trailing slash, most recently answering first.
    urls: Mutex<Vec<String>>,
    pub username: Option<String>,
}

/// One answer: the base URL that gave it, its status and body.
pub struct Answer {
    pub url: String,
    pub status: u16,
    pub body: String,
}

impl Api {
    pub fn new(
        endpoint: &str,
        urls: Vec<String>,
        ca_file: Option<&Path>,
        username: Option<String>,
    ) -> Self {
        let tls = TlsOptions {
            skip_verify: false,
            ca_file,
        };
        Self {
            endpoint: endpoint.to_string(),
            read: client(READ_TIMEOUT, &tls),
            write: client(WRITE_TIMEOUT, &tls),
            urls: Mutex::new(
                urls.into_iter()
                    .map(|u| u.trim().trim_end_matches('/').to_string())
                    .collect(),
            ),
            username: username.filter(|u| !u.trim().is_empty()),
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds members' API URLs (`http://h:8008/patroni`) as fallbacks, after the known ones.
    pub fn learn(&self, api_urls: impl Iterator<Item = String>) {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        for u in api_urls {
            let base = u
                .trim_end_matches('/')
                .trim_end_matches("/patroni")
                .to_string();
            if !base.is_empty() && !urls.contains(&base) {
                urls.push(base);
            }
        }
    }

    fn answered(&self, url: &str) {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = urls.iter().position(|u| u == url) {
            let u = urls.remove(i);
            urls.insert(0, u);
        }
    }

    /// GET `path` from the first member that answers 2xx; the reasons of those that did not are
    /// returned beside it (for the snapshot's "did not answer" list).
    pub async fn get(&self, path: &str) -> Result<(Answer, Vec<String>), ConnectorError> {
        let client = self.read.as_ref().map_err(|e| self.failed(e))?;
        let mut misses = Vec::new();
        let mut last: Option<ConnectorError> = None;
        for url in self.urls() {
            match client.get(format!("{url}{path}")).send().await {
                Ok(r) if r.status().is_success() => {
                    let status = r.status().as_u16();
                    match r.text().await {
                        Ok(body) => {
                            self.answered(&url);
                            return Ok((Answer { url, status, body }, misses));
                        }
                        Err(e) => misses.push(format!("{url}: {}", plain_error(&e))),
                    }
                }
                Ok(r) if r.status().as_u16() == 401 => {
                    let e = ConnectorError::Auth(format!(
                        "{url}{path} answered 401: the REST API wants a user name and password \
                         for reads too; set username and the password of endpoint {}",
                        self.endpoint
                    ));
                    misses.push(format!("{url}: 401"));
                    last = Some(e);
                }
                Ok(r) => {
                    misses.push(format!("{url}: HTTP {}", r.status().as_u16()));
                }
                Err(e) => {
                    let words = plain_error(&e);
                    misses.push(format!("{url}: {words}"));
                    last = Some(if e.is_timeout() {
                        ConnectorError::Timeout(format!("{url}{path}"))
                    } else {
                        ConnectorError::Unreachable {
                            endpoint: url.clone(),
                            reason: words,
                        }
                    });
                }
            }
        }
        Err(match last {
            Some(ConnectorError::Auth(e)) => ConnectorError::Auth(e),
            _ if misses.is_empty() => ConnectorError::Failed(format!(
                "Patroni endpoint {} has no REST API URL to ask",
                self.endpoint
            )),
            _ => ConnectorError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!("no member's REST API answered: {}", misses.join("; ")),
            },
        })
    }

    /// One write (POST/DELETE) to the first member whose API accepts a connection. A member
    /// that answers at all (any status) gave Patroni's verdict; only transport errors move on.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        password: Option<&str>,
    ) -> Result<Answer, ConnectorError> {
        let client = self.write.as_ref().map_err(|e| self.failed(e))?;
        let mut misses = Vec::new();
        for url in self.urls() {
            let mut req = client.request(method.clone(), format!("{url}{path}"));
            if let Some(user) = &self.username {
                req = req.basic_auth(user, password);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    return Ok(Answer { url, status, body });
                }
                // Sent and no answer: Patroni may be acting on it. Never ask a second member.
                Err(e) if e.is_timeout() => {
                    return Err(ConnectorError::Timeout(format!(
                        "{url}{path} took the request and did not answer within {} s; read the \
                         cluster to see whether it happened",
                        WRITE_TIMEOUT.as_secs()
                    )));
                }
                Err(e) => misses.push(format!("{url}: {}", plain_error(&e))),
            }
        }
        Err(ConnectorError::Unreachable {
            endpoint: self.endpoint.clone(),
            reason: format!(
                "no member's REST API took the request, nothing was changed: {}",
                misses.join("; ")
            ),
        })
    }

    fn failed(&self, e: &str) -> ConnectorError {
        ConnectorError::Failed(format!("Patroni endpoint {}: {e}", self.endpoint))
    }
}
