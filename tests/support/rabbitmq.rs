//! One real RabbitMQ (with the management plugin) per test binary: it takes 20–40 s to answer, so
//! it starts once, on free loopback ports with private dirs, nodename, cookie and epmd. A
//! watchdog shell in its own process group kills the broker and epmd when the test process is
//! gone, also after a failed test or a crash. Missing binaries fail with the Debian package.

use super::redis::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

pub struct Rabbit {
    pub amqp_port: u16,
    pub http_port: u16,
    pub dir: tempfile::TempDir,
    _watchdog: Child,
}

impl Rabbit {
    pub fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }
}

/// The broker of this test binary, started on first use.
pub fn rabbit() -> &'static Rabbit {
    static RABBIT: OnceLock<Rabbit> = OnceLock::new();
    RABBIT.get_or_init(start)
}

/// Starts the broker; a port taken by another test between picking it and the broker binding
/// it (`eaddrinuse`) is a race of the test machine, not a failure: try again on fresh ports.
fn start() -> Rabbit {
    for attempt in 1..=3 {
        match try_start() {
            Ok(rabbit) => return rabbit,
            Err(log) if attempt < 3 && log.contains("eaddrinuse") => {
                eprintln!(
                    "RabbitMQ: a port was taken meanwhile (eaddrinuse); again on fresh ports"
                );
            }
            Err(log) => panic!("RabbitMQ did not start: {log}"),
        }
    }
    unreachable!("the last attempt either returns or panics")
}

fn try_start() -> Result<Rabbit, String> {
    assert!(
        Path::new(SERVER).exists() && Path::new("/usr/bin/epmd").exists(),
        "RabbitMQ not found: install the Debian package `rabbitmq-server` (scripts/test.sh does)"
    );
    assert!(
        Path::new("/usr/bin/amqp-consume").exists(),
        "amqp-consume not found: install the Debian package `amqp-tools` (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for sub in ["mnesia", "log", "home"] {
        std::fs::create_dir_all(d.join(sub)).expect("dirs");
    }
    let (amqp_port, http_port, dist_port, epmd_port) =
        (free_port(), free_port(), free_port(), free_port());
    std::fs::write(d.join("enabled_plugins"), "[rabbitmq_management].\n").expect("plugins file");
    std::fs::write(
        d.join("rabbitmq.conf"),
        format!(
            "listeners.tcp.default = 127.0.0.1:{amqp_port}\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {http_port}\ncollect_statistics_interval = 500\n"
        ),
    )
    .expect("config");
    let node = format!("sbtest{}@localhost", std::process::id());
    // The watchdog: epmd in the foreground (so it stays in this process group), the broker once
    // epmd answers, then wait for the test process to end and kill the whole group.
    let script = format!(
        "epmd -port {epmd_port} & \
         for i in $(seq 1 100); do epmd -port {epmd_port} -names >/dev/null 2>&1 && break; sleep 0.05; done; \
         {SERVER} > {log} 2>&1 & \
         while kill -0 {parent} 2>/dev/null; do sleep 0.3; done; \
         kill -KILL 0",
        log = d.join("server.out").display(),
        parent = std::process::id()
    );
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(d)
        .env("HOME", d.join("home"))
        .env("RABBITMQ_NODENAME", &node)
        .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_NODE_PORT", amqp_port.to_string())
        .env("RABBITMQ_DIST_PORT", dist_port.to_string())
        .env("ERL_EPMD_ADDRESS", "127.0.0.1")
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", d.join("log"))
        .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
        .env(
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the RabbitMQ watchdog shell");
    let rabbit = Rabbit {
        amqp_port,
        http_port,
        dir,
        _watchdog: watchdog,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = Instant::now();
    while http_get(http_port, "/api/overview").is_none_or(|(code, _)| code != 200) {
        let log = std::fs::read_to_string(rabbit.dir.path().join("server.out")).unwrap_or_default();
        // The broker gave up (e.g. a port taken): stop its group now instead of waiting 120 s.
        if log.contains("init terminating") || Instant::now() >= deadline {
            let group = format!("-{}", rabbit._watchdog.id());
            let _ = Command::new("kill").args(["-KILL", &group]).status();
            return Err(if log.is_empty() {
                "the management API did not answer within 120 s".into()
            } else {
                log
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "RabbitMQ management API answered after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(rabbit)
}

/// A plain HTTP GET as guest (no client library: used before anything else is up).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, text))
}

/// The management API as guest, for declaring queues and publishing in tests.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(rabbit: &Rabbit) -> Self {
        scaleboard::connectors::rabbitmq::install_crypto_provider();
        Self {
            client: reqwest::Client::new(),
            base: rabbit.management_url(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> String {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .basic_auth("guest", Some("guest"))
            .json(&body)
            .send()
            .await
            .expect("management API");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: HTTP {status}: {text}");
        text
    }

    pub async fn declare(&self, queue: &str) {
        self.send(
            reqwest::Method::PUT,
            &format!("/api/queues/%2F/{queue}"),
            serde_json::json!({"durable": false, "auto_delete": false}),
        )
        .await;
    }

    pub async fn publish(&self, queue: &str, count: usize) {
        for i in 0..count {
            let text = self
                .send(
                    reqwest::Method::POST,
                    "/api/exchanges/%2F/amq.default/publish",
                    serde_json::json!({"properties": {}, "routing_key": queue,
                        "payload": format!("job {i}"), "payload_encoding": "string"}),
                )
                .await;
            assert!(text.contains("\"routed\":true"), "{text}");
        }
    }

    /// The broker's own view of a queue (what the connector should agree with).
    pub async fn queue(&self, queue: &str) -> serde_json::Value {
        let text = self
            .client
            .get(format!("{}/api/queues/%2F/{queue}", self.base))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .expect("management API")
            .text()
            .await
            .expect("body");
        serde_json::from_str(&text).expect("json")
    }
}

/// A real AMQP consumer (`amqp-consume` from amqp-tools): takes one message at a time and acks
/// it after running `sleep secs_per_message`. Killed on drop.
pub struct Consumer(Child);

impl Consumer {
    pub fn start(rabbit: &Rabbit, queue: &str, secs_per_message: f64) -> Self {
        let child = Command::new("amqp-consume")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &rabbit.amqp_port.to_string(),
            ])
            .args(["--username", "guest", "--password", "guest"])
            .args(["-q", queue, "-p", "1"])
            .args(["sleep", &secs_per_message.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("amqp-consume");
        Self(child)
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
