//! Real `redis-server`s for tests: one per test, on a free loopback port, in a temp dir, killed on
//! drop (also when the test fails). A missing binary fails with the Debian package to install.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const PACKAGE_HINT: &str = "redis-server not found: install the Debian packages `redis-server` and `redis-tools` (scripts/test.sh does)";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{PACKAGE_HINT} ({name} missing)");
}

pub struct RedisServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pid: Option<u32>,
    /// TLS only (`--port 0 --tls-port`), with a self-signed certificate in `dir`.
    tls: bool,
}

impl RedisServer {
    /// Starts a standalone server with extra `--name value` arguments.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra)
    }

    /// Starts a server that speaks only TLS, with a self-signed certificate (`cert.pem` in
    /// its dir) for 127.0.0.1 that clients do not trust unless told to.
    pub fn start_tls() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (Debian package `openssl`) makes the test certificate");
        assert!(status.success(), "openssl could not make a certificate");
        let path = |f: &str| dir.path().join(f).display().to_string();
        let (cert, key) = (path("cert.pem"), path("key.pem"));
        let port = free_port().to_string();
        let args = [
            "--port",
            "0",
            "--tls-port",
            &port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &cert,
            "--tls-auth-clients",
            "no",
        ];
        Self::launch(dir, 0, true, &args)
    }

    /// Starts a standalone server on a given port (to restart one where it was).
    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_arg = port.to_string();
        let mut args = vec!["--port", &port_arg];
        args.extend_from_slice(extra);
        Self::launch(dir, port, false, &args)
    }

    fn launch(dir: tempfile::TempDir, port: u16, tls: bool, args: &[&str]) -> Self {
        let port = if tls {
            args.windows(2)
                .find(|w| w[0] == "--tls-port")
                .and_then(|w| w[1].parse().ok())
                .expect("a TLS port")
        } else {
            port
        };
        let pidfile = dir.path().join("redis.pid");
        let status = Command::new(binary("redis-server"))
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--pidfile")
            .arg(&pidfile)
            .arg("--logfile")
            .arg(dir.path().join("redis.log"))
            .args(args)
            .stdin(Stdio::null())
            .status()
            .expect("run redis-server");
        assert!(status.success(), "redis-server failed to start");
        let mut server = Self {
            port,
            dir,
            pid: None,
            tls,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if server.pid.is_none()
                && let Ok(text) = std::fs::read_to_string(&pidfile)
            {
                server.pid = text.trim().parse().ok();
            }
            // A server with a password answers NOAUTH: it is up all the same.
            let up = match server.cli(&["PING"]) {
                Ok(o) => o.trim() == "PONG",
                Err(e) => e.contains("NOAUTH"),
            };
            if server.pid.is_some() && up {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer: {}",
                std::fs::read_to_string(server.dir.path().join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id (to pause it with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.pid.expect("a running server")
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server; Ok(stdout) or Err(stderr + stdout).
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        self.cli_auth(None, args)
    }

    pub fn cli_auth(&self, auth: Option<(&str, &str)>, args: &[&str]) -> Result<String, String> {
        let mut c = Command::new(binary("redis-cli"));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if self.tls {
            c.args(["--tls", "--cacert"])
                .arg(self.dir.path().join("cert.pem"));
        }
        if let Some((user, pw)) = auth {
            c.args(["--user", user, "--pass", pw, "--no-auth-warning"]);
        }
        let out = c.args(args).output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && !stdout.starts_with("ERR") && !stdout.contains("NOAUTH") {
            Ok(stdout)
        } else {
            Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Feeds many commands at once through `redis-cli` (one per line), for generating traffic.
    pub fn pipe(&self, commands: &str) {
        use std::io::Write;
        let mut child = Command::new(binary("redis-cli"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-cli");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(commands.as_bytes())
            .expect("write commands");
        assert!(child.wait().expect("redis-cli").success());
    }

    /// Calls of a command since the last `CONFIG RESETSTAT`, from `INFO commandstats`.
    pub fn command_calls(&self, command: &str) -> u64 {
        let text = self.cli(&["INFO", "commandstats"]).expect("commandstats");
        let prefix = format!("cmdstat_{command}:calls=");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Kills the server now (as a crash would).
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            // Gone, or a zombie waiting for init to reap it.
            let alive = || {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    s.rsplit(')')
                        .next()
                        .is_some_and(|r| !r.trim_start().starts_with('Z'))
                })
            };
            while alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
