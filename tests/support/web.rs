//! Real web servers for the health and Prometheus tests: nginx (Debian `nginx-light`) with
//! `stub_status`, a fast, a slow (proxied to a slow upstream of our own) and a failing location,
//! an HTTPS server with a certificate made by `openssl`, and Prometheus (Debian `prometheus`)
//! scraping itself. All on free loopback ports, in temp dirs.
//!
//! Every server runs under a tiny `sh` guard that kills it when our end of its stdin closes:
//! on Drop, and also when the test process dies without unwinding, so no server outlives a test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The path of a server binary, or a failure that names the Debian package to install.
pub fn require(binary: &str, candidates: &[&str], package: &str) -> PathBuf {
    for c in candidates {
        let p = Path::new(c);
        if p.exists() {
            return p.to_path_buf();
        }
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .output()
    {
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !path.is_empty() {
            return PathBuf::from(path);
        }
    }
    panic!(
        "{binary} is not installed: install the Debian package `{package}` \
         (apt-get install {package}); scripts/test.sh does this"
    );
}

/// A server process that dies with its guard.
pub struct Guarded {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Guarded {
    pub fn spawn(program: &Path, args: &[String], log: &Path) -> Self {
        let log_file = std::fs::File::create(log).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$@" & p=$!; cat >/dev/null; kill $p 2>/dev/null; wait $p"#)
            .arg("guard")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        Self { child, stdin }
    }

    /// Stop the server and wait until it is gone.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal HTTP/1.0 GET over a plain socket: (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

fn wait_for(what: &str, log: &Path, timeout: Duration, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not start within {timeout:?}; its log:\n{log}");
}

/// An upstream that answers `GET /slow/<ms>` after that many milliseconds (nginx proxies to it).
pub struct SlowUpstream {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl SlowUpstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                std::thread::spawn(move || answer_slowly(conn));
            }
        });
        Self { port, stop }
    }
}

fn answer_slowly(mut conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/");
    let ms: u64 = path
        .rsplit('/')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
    let body = format!("slow {ms} ms\n");
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Drop for SlowUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A CA and a leaf certificate for 127.0.0.1/localhost valid for `leaf_days`, made by openssl.
pub struct TestCerts {
    pub ca_pem: PathBuf,
    pub leaf_pem: PathBuf,
    pub leaf_key: PathBuf,
}

pub fn make_certs(dir: &Path, leaf_days: u32) -> TestCerts {
    let openssl = require("openssl", &["/usr/bin/openssl"], "openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3650",
        "-subj",
        "/CN=Scaleboard test CA",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let days = leaf_days.to_string();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        &days,
        "-extfile",
        "leaf.ext",
    ]);
    TestCerts {
        ca_pem: dir.join("ca.pem"),
        leaf_pem: dir.join("leaf.pem"),
        leaf_key: dir.join("leaf.key"),
    }
}

/// nginx on two free ports: plain HTTP with `/fast`, `/error` (500), `/slow/<ms>` (proxied to
/// a [`SlowUpstream`]) and `/nginx_status`; HTTPS on `https_port` with a certificate valid for
/// `CERT_DAYS` days signed by `certs.ca_pem`.
pub struct Nginx {
    pub port: u16,
    pub https_port: u16,
    pub certs: TestCerts,
    _server: Guarded,
    _upstream: SlowUpstream,
    _dir: tempfile::TempDir,
}

pub const CERT_DAYS: u32 = 30;

impl Nginx {
    pub fn start() -> Self {
        let nginx = require("nginx", &["/usr/sbin/nginx"], "nginx-light");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let certs = make_certs(d, CERT_DAYS);
        let upstream = SlowUpstream::start();
        let (port, https_port) = (free_port(), free_port());
        let conf = format!(
            r#"
worker_processes 1;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream slow_app {{ server 127.0.0.1:{up}; }}
    server {{
        listen 127.0.0.1:{port};
        location = /fast {{ return 200 "ok fast\n"; }}
        location = /health {{ return 200 "{{\"status\":\"ok\"}}\n"; }}
        location = /error {{ return 500 "boom\n"; }}
        location /slow/ {{ proxy_pass http://slow_app; proxy_read_timeout 60s; }}
        location = /nginx_status {{ stub_status; }}
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {leaf};
        ssl_certificate_key {key};
        location / {{ return 200 "ok tls\n"; }}
    }}
}}
"#,
            d = d.display(),
            up = upstream.port,
            leaf = certs.leaf_pem.display(),
            key = certs.leaf_key.display(),
        );
        let conf_path = d.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = d.join("stdout.log");
        let server = Guarded::spawn(
            &nginx,
            &[
                "-p".into(),
                d.display().to_string(),
                "-e".into(),
                d.join("error.log").display().to_string(),
                "-c".into(),
                conf_path.display().to_string(),
                "-g".into(),
                format!("daemon off; pid {}/nginx.pid;", d.display()),
            ],
            &log,
        );
        wait_for(
            "nginx",
            &d.join("error.log"),
            Duration::from_secs(10),
            || {
                http_get(port, "/fast").is_some_and(|(s, _)| s == 200)
                    && TcpStream::connect(("127.0.0.1", https_port)).is_ok()
            },
        );
        Self {
            port,
            https_port,
            certs,
            _server: server,
            _upstream: upstream,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Prometheus scraping itself every second.
pub struct Prometheus {
    pub port: u16,
    server: Option<Guarded>,
    dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Self {
            port: free_port(),
            server: None,
            dir,
        };
        p.restart();
        p
    }

    /// One server for the whole test binary (tests that do not stop it share it).
    pub fn shared() -> &'static Prometheus {
        static SHARED: OnceLock<Prometheus> = OnceLock::new();
        SHARED.get_or_init(Prometheus::start)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut s) = self.server.take() {
            s.stop();
        }
    }

    /// Start (again) on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        let prometheus = require("prometheus", &["/usr/bin/prometheus"], "prometheus");
        let d = self.dir.path();
        let config = d.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
                self.port
            ),
        )
        .unwrap();
        let log = d.join("prometheus.log");
        self.server = Some(Guarded::spawn(
            &prometheus,
            &[
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", d.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{}", self.port),
                "--no-storage.tsdb.use-lockfile".into(),
                "--log.level=warn".into(),
            ],
            &log,
        ));
        let port = self.port;
        wait_for("prometheus", &log, Duration::from_secs(20), || {
            http_get(port, "/-/ready").is_some_and(|(s, _)| s == 200)
        });
    }

    /// Wait until a scrape of itself is queryable, so queries have data.
    pub fn wait_for_scrape(&self) {
        let port = self.port;
        wait_for(
            "prometheus' first scrape",
            &self.dir.path().join("prometheus.log"),
            Duration::from_secs(20),
            || {
                http_get(port, "/api/v1/query?query=up")
                    .is_some_and(|(_, body)| body.contains("\"result\":[{"))
            },
        );
    }
}
