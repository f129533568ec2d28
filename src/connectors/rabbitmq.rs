//! RabbitMQ through its management HTTP API: `/api/overview` (is it up, who is it) and
//! `/api/queues` (ready, unacknowledged, consumers, publish/deliver/ack rates), paged, with
//! basic auth and an optional vhost filter. Rates are the broker's own (`*_details.rate`).

use super::{Connector, ConnectorError, PollOutput};
use crate::connectors::redis::{SecretLookup, queue_output};
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{Queue, QueuePart};
use crate::profiles::{RabbitMqEndpoint, SecretError};
use serde::Deserialize;
use std::sync::Once;
use std::time::Duration;

/// Queues asked for per page.
pub const PAGE_SIZE: u32 = 500;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Installs ring as the process-wide rustls provider (the build has only that one). Idempotent.
/// Runs before any TLS client is built: reqwest here, `rediss://` connections in the Redis
/// connector.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only means a provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub struct RabbitMqConnector {
    info: EndpointInfo,
    endpoint: RabbitMqEndpoint,
    lookup: Option<SecretLookup>,
    client: Result<reqwest::Client, String>,
    password: super::secret_cell::SecretCell<Option<String>>,
    page_size: u32,
}

impl RabbitMqConnector {
    pub fn new(endpoint: RabbitMqEndpoint, lookup: Option<SecretLookup>) -> Self {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("scaleboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string());
        Self {
            info: EndpointInfo {
                id: endpoint.name.clone(),
                label: format!("RabbitMQ {}", endpoint.name),
                area: Area::Queues,
                demo: false,
            },
            endpoint,
            lookup,
            client,
            password: super::secret_cell::SecretCell::new(),
            page_size: PAGE_SIZE,
        }
    }

    /// Asks for fewer queues per page (tests of paging).
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The password for basic auth: the endpoint's variable, keyring entry or credentials-file
    /// entry (the secret lookup, see `profiles::Resolver`), read again after a 401. Asked when the endpoint
    /// has a user or names an entry; found nowhere is an error that says where it looked.
    async fn password(&self) -> Result<Option<String>, ConnectorError> {
        let Some(lookup) = self.lookup.clone() else {
            return Ok(None);
        };
        if self.endpoint.user.trim().is_empty() && self.endpoint.password.is_none() {
            return Ok(None);
        }
        let secret = self.endpoint.password.clone().unwrap_or_default();
        let name = self.endpoint.name.clone();
        let found = self
            .password
            .get_or_try_init(|| async move {
                let shown = secret.to_string();
                tokio::task::spawn_blocking(move || lookup(&secret))
                    .await
                    .map_err(|e| ConnectorError::Failed(e.to_string()))?
                    .map(Some)
                    .map_err(|e| match e {
                        e @ (SecretError::Missing(_) | SecretError::Credentials(_)) => {
                            ConnectorError::Failed(format!("RabbitMQ \"{name}\": {e}"))
                        }
                        e => ConnectorError::Failed(format!(
                            "RabbitMQ \"{name}\": cannot read the password {shown}: {e}"
                        )),
                    })
            })
            .await?;
        Ok(found)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        path: &str,
        password: Option<&str>,
    ) -> Result<T, ConnectorError> {
        let base = self.endpoint.management_url.trim().trim_end_matches('/');
        let url = format!("{base}{path}");
        let mut request = client.get(&url);
        if !self.endpoint.user.is_empty() {
            request = request.basic_auth(&self.endpoint.user, password);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ConnectorError::Unreachable {
                endpoint: format!("RabbitMQ \"{}\" ({base})", self.endpoint.name),
                reason: error_chain(&e),
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            self.password.forget();
            return Err(ConnectorError::Failed(format!(
                "RabbitMQ \"{}\" refused the login of user \"{}\": wrong user or password (HTTP 401)",
                self.endpoint.name, self.endpoint.user
            )));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ConnectorError::Failed(format!(
                "RabbitMQ \"{}\": {path} answered HTTP {status}: {}",
                self.endpoint.name,
                body.chars().take(200).collect::<String>()
            )));
        }
        response.json::<T>().await.map_err(|e| {
            ConnectorError::Failed(format!(
                "RabbitMQ \"{}\": {path} sent an answer that could not be read: {e}",
                self.endpoint.name
            ))
        })
    }

    async fn poll_inner(&self) -> Result<PollOutput, ConnectorError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| ConnectorError::Failed(format!("cannot build an HTTP client: {e}")))?;
        let password = self.password().await?;
        let overview: Overview = self
            .get(client, "/api/overview", password.as_deref())
            .await?;
        let prefix = match &self.endpoint.vhost {
            Some(v) => format!("/api/queues/{}", encode_segment(v)),
            None => "/api/queues".to_owned(),
        };
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let path = format!(
                "{prefix}?page={page}&page_size={}&pagination=true&columns=name,vhost,messages,messages_ready,messages_unacknowledged,consumers,message_stats",
                self.page_size
            );
            let reply: QueuePage = self.get(client, &path, password.as_deref()).await?;
            all.extend(reply.items);
            if page >= reply.page_count {
                break;
            }
            page += 1;
        }
        let node = overview.node.unwrap_or_default();
        let list: Vec<Queue> = all
            .into_iter()
            .filter(|q| self.endpoint.queues.is_empty() || self.endpoint.queues.contains(&q.name))
            .map(|q| self.queue(q, &node))
            .collect();
        Ok(queue_output(&self.info.id, &list))
    }

    fn queue(&self, q: ApiQueue, node: &str) -> Queue {
        let show_vhost = self.endpoint.vhost.is_none() && q.vhost != "/";
        let name = if show_vhost {
            format!("{}/{}", q.vhost, q.name)
        } else {
            q.name.clone()
        };
        let s = q.message_stats.unwrap_or_default();
        let inp = s.publish_details.rate;
        let out = s.ack_details.rate + s.deliver_no_ack_details.rate + s.get_no_ack_details.rate;
        let link = self
            .endpoint
            .links
            .iter()
            .find(|l| l.queue == name || l.queue == q.name);
        Queue {
            consumers: Some(q.consumers),
            in_per_sec: Some(inp),
            out_per_sec: Some(out),
            growth_per_sec: Some(inp - out),
            parts: vec![
                QueuePart {
                    label: "ready",
                    count: q.messages_ready,
                },
                QueuePart {
                    label: "unacked",
                    count: q.messages_unacknowledged,
                },
                QueuePart {
                    label: "delivered/s",
                    count: s.deliver_get_details.rate.round() as u64,
                },
            ],
            linked_workload: link.map(|l| l.workload.workload_ref()),
            jobs_per_worker_per_sec: link.and_then(|l| l.jobs_per_worker_per_sec),
            ..Queue::new(
                name,
                format!("RabbitMQ {node} vhost {}", q.vhost),
                q.messages.max(q.messages_ready + q.messages_unacknowledged),
            )
        }
    }
}

impl Connector for RabbitMqConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.poll_inner())
    }

    fn execute<'a>(
        &'a self,
        run: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let action = run.action;
        Box::pin(async move {
            Err(ConnectorError::Unsupported(format!(
                "RabbitMQ endpoint \"{}\" has no actions ({} is carried out by the workload's endpoint)",
                self.endpoint.name,
                action.kind()
            )))
        })
    }
}

/// A reqwest error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Percent-encodes one URL path segment ("/" → "%2F").
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Overview {
    node: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QueuePage {
    items: Vec<ApiQueue>,
    page_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiQueue {
    name: String,
    vhost: String,
    messages: u64,
    messages_ready: u64,
    messages_unacknowledged: u64,
    consumers: u32,
    message_stats: Option<MessageStats>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MessageStats {
    publish_details: Rate,
    ack_details: Rate,
    deliver_no_ack_details: Rate,
    get_no_ack_details: Rate,
    deliver_get_details: Rate,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Rate {
    rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_vhosts() {
        assert_eq!(encode_segment("/"), "%2F");
        assert_eq!(encode_segment("prod app"), "prod%20app");
        assert_eq!(encode_segment("a-b_c"), "a-b_c");
    }

    #[test]
    fn builds_an_https_client() {
        install_crypto_provider();
        let client = reqwest::Client::builder().https_only(true).build();
        assert!(client.is_ok());
    }
}
