//! Connections to the servers of a Redis endpoint: URL and password (from the keyring, on the
//! blocking pool), one multiplexed connection per server kept between polls, pipelines with
//! per-command errors, and connection errors in words.

use super::{RedisPoller, State, TIMEOUT};
use crate::connectors::ConnectorError;
use crate::model::snapshot::CacheNode;
use crate::profiles::SecretError;
use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A TLS handshake still unanswered after this is checked against plain-text Redis: such a
/// server reads the ClientHello as an inline command and waits for a newline that the hello
/// may never contain, so without the check the operator would see only a time-out.
const TLS_SUSPECT_AFTER: Duration = Duration::from_millis(400);
/// The plain-text check (connect, PING, first byte of the reply) gives up after this.
const PROBE_TIMEOUT: Duration = Duration::from_millis(600);

impl RedisPoller {
    /// One extra round trip to one server (first-poll discovery only).
    pub(super) async fn pipeline(
        &self,
        state: &mut State,
        base: &ConnectionInfo,
        address: &str,
        cmds: Vec<redis::Cmd>,
    ) -> Result<Vec<Result<Value, String>>, ConnectorError> {
        let mut conn = self
            .connection(state, base, address)
            .await
            .map_err(|e| classify(&self.endpoint.name, address, &e))?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        run_pipeline(&mut conn, cmds).await.map_err(|e| {
            state.conns.remove(address);
            classify(&self.endpoint.name, address, &e)
        })
    }

    pub(super) async fn connection(
        &self,
        state: &mut State,
        base: &ConnectionInfo,
        address: &str,
    ) -> Result<MultiplexedConnection, String> {
        if let Some(c) = state.conns.get(address) {
            return Ok(c.clone());
        }
        let info = if base.addr().to_string() == address {
            base.clone()
        } else {
            let (host, port) = address
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
                .ok_or_else(|| format!("bad node address {address}"))?;
            let addr = match base.addr() {
                ConnectionAddr::TcpTls {
                    insecure,
                    tls_params,
                    ..
                } => ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure: *insecure,
                    tls_params: tls_params.clone(),
                },
                _ => ConnectionAddr::Tcp(host, port),
            };
            base.clone().set_addr(addr)
        };
        if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
            crate::connectors::rabbitmq::install_crypto_provider();
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let tls = match info.addr() {
            ConnectionAddr::TcpTls { host, port, .. } => Some((host.clone(), *port)),
            _ => None,
        };
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let connect = client.get_multiplexed_async_connection_with_config(&config);
        let conn = match tls {
            Some((host, port)) => tls_connect(connect, &host, port).await?,
            _ => connect.await.map_err(|e| e.to_string())?,
        };
        state.conns.insert(address.to_owned(), conn.clone());
        Ok(conn)
    }

    pub(super) fn base_info(&self) -> Result<ConnectionInfo, ConnectorError> {
        let info = self
            .endpoint
            .url
            .trim()
            .into_connection_info()
            .map_err(|e| {
                ConnectorError::Failed(format!(
                    "Redis \"{}\": the URL is not valid: {e}",
                    self.endpoint.name
                ))
            })?;
        // No CLIENT SETINFO on connect: the server sees only what the poll sends.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        Ok(info.set_redis_settings(settings))
    }

    /// The password: the endpoint's variable, keyring entry or credentials-file entry (the
    /// secret lookup, see `profiles::Resolver`), then `REDISCLI_AUTH` as redis-cli reads it.
    /// Missing everywhere is an error only when the profile names an entry.
    pub(super) async fn read_password(&self) -> Result<Option<String>, ConnectorError> {
        let name = self.endpoint.name.clone();
        let named = self.endpoint.password.clone();
        let missing = match self.lookup.clone() {
            None => None,
            Some(lookup) => {
                let secret = named.clone().unwrap_or_default();
                let shown = secret.to_string();
                let found = tokio::task::spawn_blocking(move || lookup(&secret))
                    .await
                    .map_err(|e| ConnectorError::Failed(e.to_string()))?;
                match found {
                    Ok(pw) => return Ok(Some(pw)),
                    Err(SecretError::Missing(why)) => Some(why),
                    Err(SecretError::NotFound) => {
                        Some(format!("no password is stored under {shown}"))
                    }
                    Err(e @ SecretError::Credentials(_)) => {
                        return Err(ConnectorError::Failed(format!("Redis \"{name}\": {e}")));
                    }
                    Err(e) => {
                        return Err(ConnectorError::Failed(format!(
                            "Redis \"{name}\": cannot read the password {shown}: {e}"
                        )));
                    }
                }
            }
        };
        if let Some(pw) = convention_password() {
            return Ok(Some(pw));
        }
        match (named, missing) {
            (Some(secret), why) => Err(ConnectorError::Failed(format!(
                "Redis \"{name}\": {}",
                why.unwrap_or_else(|| format!(
                    "no password for the entry {secret}, and REDISCLI_AUTH is not set"
                ))
            ))),
            (None, _) => Ok(None),
        }
    }
}

/// The TLS connection, or the mismatch named when the server at `host:port` turns out to speak
/// plain-text Redis (checked when the handshake fails or stays unanswered): within
/// `TLS_SUSPECT_AFTER + PROBE_TIMEOUT`, not after the connection time-out.
async fn tls_connect(
    connect: impl Future<Output = redis::RedisResult<MultiplexedConnection>>,
    host: &str,
    port: u16,
) -> Result<MultiplexedConnection, String> {
    let mut connect = std::pin::pin!(connect);
    let early = tokio::select! {
        r = &mut connect => Some(r),
        () = tokio::time::sleep(TLS_SUSPECT_AFTER) => None,
    };
    match early {
        Some(Ok(conn)) => Ok(conn),
        Some(Err(_)) if plain_text_redis(host, port).await => Err(tls_mismatch(host, port)),
        Some(Err(e)) => Err(e.to_string()),
        None if plain_text_redis(host, port).await => Err(tls_mismatch(host, port)),
        None => connect.await.map_err(|e| e.to_string()),
    }
}

/// What a `rediss://` URL pointed at a plain-text server gets told.
pub(super) fn tls_mismatch(host: &str, port: u16) -> String {
    format!(
        "TLS handshake failed: the server at {host}:{port} does not speak TLS (plain-text \
         Redis?) — use redis:// or enable TLS on the server"
    )
}

/// True when `host:port` answers a plain `PING` with a RESP status or error line ("+PONG",
/// "-NOAUTH …"): a TLS server answers bytes that are not a ClientHello with an alert or by
/// closing, never with '+' or '-'. One short connection, only after a TLS attempt went wrong.
async fn plain_text_redis(host: &str, port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut first = [0u8; 1];
        let n = stream.read(&mut first).await.ok()?;
        Some(n == 1 && matches!(first[0], b'+' | b'-'))
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, probe).await,
        Ok(Some(true))
    )
}

/// Environment variable redis-cli reads its password from.
pub const REDISCLI_AUTH: &str = "REDISCLI_AUTH";

/// The password redis-cli would use from the environment (`REDISCLI_AUTH`), when set.
pub fn convention_password() -> Option<String> {
    std::env::var(REDISCLI_AUTH).ok().filter(|p| !p.is_empty())
}

/// Per-command replies of one pipeline, or why the pipeline as a whole failed.
pub(super) type PipelineResult = Result<Vec<Result<Value, String>>, String>;

pub(super) async fn run_pipeline(
    conn: &mut MultiplexedConnection,
    cmds: Vec<redis::Cmd>,
) -> PipelineResult {
    let mut pipe = redis::pipe();
    for c in cmds {
        pipe.add_command(c);
    }
    let replies: Vec<redis::RedisResult<Value>> = pipe
        .ignore_errors()
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(replies
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect())
}

pub(super) fn unreachable_node(address: &str, error: String) -> CacheNode {
    CacheNode {
        name: address.to_owned(),
        role: "unreachable".into(),
        hit_ratio: None,
        used_memory_bytes: 0,
        max_memory_bytes: 0,
        eviction_policy: String::new(),
        evictions_per_sec: 0.0,
        ops_per_sec: 0.0,
        connected_clients: 0,
        expired_per_sec: 0.0,
        fragmentation_ratio: None,
        blocked_clients: 0,
        keys_per_db: Vec::new(),
        replication: None,
        cluster: None,
        error: Some(error),
        queue_store: false,
    }
}

/// A connection or reply error in words: a refused login is not an outage.
pub(super) fn classify(endpoint: &str, address: &str, e: &str) -> ConnectorError {
    let auth = [
        "WRONGPASS",
        "NOAUTH",
        "invalid password",
        "Authentication",
        "NOPERM",
    ]
    .iter()
    .any(|m| e.contains(m));
    if auth {
        ConnectorError::Failed(format!(
            "Redis \"{endpoint}\" ({address}) refused the login: wrong user or password ({e})"
        ))
    } else {
        ConnectorError::Unreachable {
            endpoint: format!("Redis \"{endpoint}\" ({address})"),
            reason: e.to_owned(),
        }
    }
}
