//! The REST API of a Patroni cluster through whichever member answers: the configured URLs
//! first (the one that answered last in front), then the members' own `api_url`s as `/cluster`
//! lists them, so a cluster stays readable while any one member is down.
//!
//! Writes, and with them the basic-auth password, go only to the URLs of the profile and its
//! discovery: a URL learned from `/cluster` is whatever a member advertises (possibly plain
//! http), so it is read from only, and only when it does not downgrade https to http.

use crate::connectors::ConnectorError;
use crate::connectors::http::{TlsOptions, client_with_connect, plain_error};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How long one member may take to answer a read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// A switchover or failover answers once Patroni has seen the result (it waits up to ~30 s).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a TCP connect may take: a member that cannot be reached in this time is passed
/// over (nothing was sent to it) for the next one.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Api {
    endpoint: String,
    read: Result<reqwest::Client, String>,
    write: Result<reqwest::Client, String>,
    /// Base URLs without a trailing slash, most recently answering first.
    urls: Mutex<Vec<String>>,
    /// The profile's and discovery's URLs: the only ones written to (and sent the password).
    configured: Vec<String>,
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
        Self::with_connect_timeout(endpoint, urls, ca_file, username, CONNECT_TIMEOUT)
    }

    fn with_connect_timeout(
        endpoint: &str,
        urls: Vec<String>,
        ca_file: Option<&Path>,
        username: Option<String>,
        connect: Duration,
    ) -> Self {
        let tls = TlsOptions {
            skip_verify: false,
            ca_file,
        };
        let configured: Vec<String> = urls
            .into_iter()
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
            .collect();
        Self {
            endpoint: endpoint.to_string(),
            read: client_with_connect(READ_TIMEOUT, connect.min(READ_TIMEOUT), &tls),
            write: client_with_connect(WRITE_TIMEOUT, connect, &tls),
            urls: Mutex::new(configured.clone()),
            configured,
            username: username.filter(|u| !u.trim().is_empty()),
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds members' API URLs (`http://h:8008/patroni`) as read fallbacks, after the known
    /// ones; plain http ones are left out when the profile's URLs are https.
    pub fn learn(&self, api_urls: impl Iterator<Item = String>) {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        for base in api_urls.filter_map(|u| self.read_base(&u)) {
            if !urls.contains(&base) {
                urls.push(base);
            }
        }
    }

    /// A member's advertised API URL as a base URL this client may read from: `None` when it
    /// would downgrade the profile's https to plain http.
    pub fn read_base(&self, api_url: &str) -> Option<String> {
        let https = self
            .configured
            .iter()
            .any(|u| u.to_ascii_lowercase().starts_with("https://"));
        let base = api_url
            .trim()
            .trim_end_matches('/')
            .trim_end_matches("/patroni")
            .to_string();
        let lower = base.to_ascii_lowercase();
        let ok = if https {
            lower.starts_with("https://")
        } else {
            lower.starts_with("http://") || lower.starts_with("https://")
        };
        ok.then_some(base)
    }

    /// The profile's and discovery's URLs.
    pub fn configured(&self) -> &[String] {
        &self.configured
    }

    /// Whether the REST API at `base` answers at all (any HTTP status is Patroni's own
    /// answer): `Err` in words when it refuses, hangs past [`READ_TIMEOUT`] or breaks.
    pub async fn probe(&self, base: &str) -> Result<(), String> {
        let client = self.read.as_ref().map_err(Clone::clone)?;
        match client.get(format!("{base}/patroni")).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.is_timeout() => Err(format!(
                "no answer within {} s (hung?)",
                READ_TIMEOUT.as_secs()
            )),
            Err(e) if ConnectorError::refused_in_chain(&e) => {
                Err("connection refused: Patroni is not running there".into())
            }
            Err(e) => Err(plain_error(&e)),
        }
    }

    /// The configured URLs, most recently answering first: where writes go.
    fn write_urls(&self) -> Vec<String> {
        self.urls()
            .into_iter()
            .filter(|u| self.configured.contains(u))
            .collect()
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
        // Every URL refused the connection: no Patroni runs at any of them.
        let mut all_refused = true;
        for url in self.urls() {
            match client.get(format!("{url}{path}")).send().await {
                Ok(r) if r.status().is_success() => {
                    let status = r.status().as_u16();
                    match r.text().await {
                        Ok(body) => {
                            self.answered(&url);
                            return Ok((Answer { url, status, body }, misses));
                        }
                        Err(e) => {
                            all_refused = false;
                            misses.push(format!("{url}: {}", plain_error(&e)));
                        }
                    }
                }
                Ok(r) if r.status().as_u16() == 401 => {
                    all_refused = false;
                    let e = ConnectorError::Auth(format!(
                        "{url}{path} answered 401: the REST API wants a user name and password \
                         for reads too; set username and the password of endpoint {}",
                        self.endpoint
                    ));
                    misses.push(format!("{url}: 401"));
                    last = Some(e);
                }
                Ok(r) => {
                    all_refused = false;
                    misses.push(format!("{url}: HTTP {}", r.status().as_u16()));
                }
                Err(e) => {
                    let words = plain_error(&e);
                    misses.push(format!("{url}: {words}"));
                    all_refused &= ConnectorError::refused_in_chain(&e);
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
            _ if all_refused => ConnectorError::NotListening {
                endpoint: self.endpoint.clone(),
                reason: format!(
                    "every member's REST API refused the connection: {}",
                    misses.join("; ")
                ),
            },
            _ => ConnectorError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!("no member's REST API answered: {}", misses.join("; ")),
            },
        })
    }

    /// One write (POST/DELETE) to the first configured member whose API accepts a connection.
    /// A member that answers at all (any status) gave Patroni's verdict; a failed connect (in
    /// [`CONNECT_TIMEOUT`]) sent nothing, so the next one is asked; once connected, no answer
    /// means Patroni may be acting on it, and no other member is asked.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        password: Option<&str>,
    ) -> Result<Answer, ConnectorError> {
        let client = self.write.as_ref().map_err(|e| self.failed(e))?;
        let mut misses = Vec::new();
        for url in self.write_urls() {
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
                // Not connected: nothing was sent, so the next member may be asked.
                Err(e) if e.is_connect() || e.is_builder() => {
                    misses.push(format!("{url}: cannot connect: {}", plain_error(&e)));
                }
                // Sent and no answer: Patroni may be acting on it. Never ask a second member.
                Err(e) if e.is_timeout() => {
                    return Err(ConnectorError::Timeout(format!(
                        "{url}{path} took the request and did not answer within {} s; read the \
                         cluster to see whether it happened",
                        WRITE_TIMEOUT.as_secs()
                    )));
                }
                // Connected, then broke: the request may have reached Patroni.
                Err(e) => {
                    return Err(ConnectorError::Unreachable {
                        endpoint: url.clone(),
                        reason: format!(
                            "the connection broke after {url}{path} was sent ({}); Patroni may \
                             have acted on it: read the cluster to see whether it happened",
                            plain_error(&e)
                        ),
                    });
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write as _};
    use std::net::TcpListener;

    /// A one-shot HTTP server on loopback: answers `200 ok` to the first request and hands
    /// the request's head back.
    fn answer_once() -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .unwrap();
            String::from_utf8_lossy(&head).into_owned()
        });
        (url, handle)
    }

    #[tokio::test]
    async fn a_write_that_cannot_connect_in_time_asks_the_next_member() {
        // Takes the TCP connection and never speaks TLS: the connect (TLS included) times out,
        // and nothing was sent.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let (good, server) = answer_once();
        let api = Api::with_connect_timeout(
            "ha",
            vec![
                format!("https://{}", silent.local_addr().unwrap()),
                good.clone(),
            ],
            None,
            None,
            Duration::from_millis(300),
        );
        let answer = tokio::time::timeout(
            Duration::from_secs(20),
            api.send(reqwest::Method::POST, "/switchover", None, None),
        )
        .await
        .expect("the write should not wait for the write timeout")
        .unwrap_or_else(|e| panic!("the second member should have been asked: {e}"));
        assert_eq!((answer.url.as_str(), answer.status), (good.as_str(), 200));
        assert!(server.join().unwrap().starts_with("POST /switchover"));
    }

    #[tokio::test]
    async fn learned_urls_are_read_only_and_never_downgrade_https() {
        let api = Api::new("ha", vec!["https://a:8008".into()], None, Some("u".into()));
        api.learn(
            [
                "http://b:8008/patroni".to_string(),
                "https://c:8008/patroni".to_string(),
            ]
            .into_iter(),
        );
        assert_eq!(api.urls(), vec!["https://a:8008", "https://c:8008"]);

        // The configured member is down; a member /cluster advertised would take a connection.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let down = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let learned = TcpListener::bind("127.0.0.1:0").unwrap();
        learned.set_nonblocking(true).unwrap();
        let learned_url = format!("http://{}", learned.local_addr().unwrap());
        let api = Api::new("ha", vec![down], None, Some("u".into()));
        api.learn(std::iter::once(format!("{learned_url}/patroni")));
        assert!(api.urls().contains(&learned_url), "learned for reads");
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            api.send(reqwest::Method::POST, "/switchover", None, Some("secret")),
        )
        .await;
        assert!(
            matches!(sent, Ok(Err(ConnectorError::Unreachable { .. }))),
            "{:?}",
            sent.map(|r| r.map(|a| a.url))
        );
        assert!(
            learned.accept().is_err(),
            "the write (and its password) went to a URL learned from /cluster"
        );
    }
}
