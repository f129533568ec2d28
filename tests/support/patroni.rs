//! A real Patroni 3 cluster for tests: one etcd and three Patroni members (m1, m2, m3) running
//! PostgreSQL 15, all on free loopback ports in a temp dir. m3 is tagged `nofailover`. The REST
//! API asks basic auth (`admin` / [`REST_PASSWORD`]) for its write endpoints, as production
//! setups do. Everything is killed when the [`PatroniCluster`] drops, also when a test panics.
//!
//! Patroni runs PostgreSQL, which refuses to run as root, so as root the members run as the
//! `postgres` user. Each member is started through `sh -c 'echo $$ > pid; exec patroni …'` so
//! the pid we signal is Patroni's own, not runuser's.

use super::postgres::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SCOPE: &str = "sbtest";
pub const REST_USER: &str = "admin";
pub const REST_PASSWORD: &str = "rest-secret";
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Member {
    pub name: String,
    pub api_port: u16,
    pub pg_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Member {
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("patroni.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

pub struct PatroniCluster {
    pub dir: tempfile::TempDir,
    pub members: Vec<Member>,
    pub etcd_port: u16,
    etcd: Option<Child>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn need(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package {package} (apt-get install patroni \
         etcd-server etcd-client postgresql-15; scripts/test.sh does it)"
    );
}

/// `sh -c SCRIPT` as the postgres user when we are root.
fn as_postgres(script: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }
}

fn signal(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// A short blocking HTTP/1.0 GET without auth (Patroni answers reads without it): (status, body).
pub fn get(url: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let addr: std::net::SocketAddr = host.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

impl PatroniCluster {
    /// Three members on plain HTTP.
    pub fn start() -> Self {
        Self::start_with(3, false)
    }

    /// One member whose REST API speaks HTTPS with a self-signed certificate for 127.0.0.1
    /// (`cert.pem` in its dir, the file a profile's `ca_file` names). Ready once it leads.
    pub fn start_tls() -> Self {
        Self::start_with(1, true)
    }

    fn start_with(count: usize, tls: bool) -> Self {
        need("/usr/bin/patroni", "patroni");
        need("/usr/bin/etcd", "etcd-server");
        need(&format!("{PG_BIN}/postgres"), "postgresql-15");
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("sb-patroni-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let etcd_port = free_port();
        let peer_port = free_port();
        let etcd_dir = dir.path().join("etcd");
        let etcd = Command::new("etcd")
            .args(["--name", "e1", "--data-dir"])
            .arg(&etcd_dir)
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{etcd_port}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-cluster",
                &format!("e1=http://127.0.0.1:{peer_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join("etcd.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start etcd: {e}"));
        let mut cluster = Self {
            dir,
            members: Vec::new(),
            etcd_port,
            etcd: Some(etcd),
        };
        cluster.wait("etcd", Duration::from_secs(20), |c| {
            get(&format!("http://127.0.0.1:{}/health", c.etcd_port))
                .is_some_and(|(s, b)| s == 200 && b.contains("true"))
        });
        if is_root() {
            let _ = Command::new("chmod")
                .arg("755")
                .arg(cluster.dir.path())
                .status();
        }
        for (i, name) in ["m1", "m2", "m3"].iter().take(count).enumerate() {
            let member = Member {
                name: (*name).to_string(),
                api_port: free_port(),
                pg_port: free_port(),
                dir: cluster.dir.path().join(name),
                child: None,
            };
            std::fs::create_dir_all(&member.dir).unwrap();
            if tls {
                self_signed(&member.dir);
            }
            std::fs::write(
                member.dir.join("patroni.yml"),
                config(&member, etcd_port, i == 2, tls),
            )
            .unwrap();
            if is_root() {
                let _ = Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&member.dir)
                    .status();
            }
            cluster.members.push(member);
            cluster.spawn(i);
            if i == 0 && !tls {
                // The first member bootstraps the cluster; the others clone from it.
                cluster.wait("m1 to lead", Duration::from_secs(40), |c| {
                    get(&format!("{}/leader", c.members[0].api_url()))
                        .is_some_and(|(s, _)| s == 200)
                });
            }
        }
        if tls {
            // HTTPS is not spoken here: the test reads it through the connector.
            cluster.wait("m1's REST API port", Duration::from_secs(40), |c| {
                std::net::TcpStream::connect(("127.0.0.1", c.members[0].api_port)).is_ok()
            });
            return cluster;
        }
        cluster.wait("3 running members", Duration::from_secs(60), |c| {
            c.cluster_json().is_some_and(|v| {
                let m = v["members"].as_array().cloned().unwrap_or_default();
                m.len() == 3
                    && m.iter().all(|x| x["state"] == "running")
                    && m.iter()
                        .filter(|x| x["role"] != "leader")
                        .all(|x| x["lag"].is_number())
            })
        });
        eprintln!(
            "Patroni cluster of 3 ready in {:.1} s",
            started.elapsed().as_secs_f32()
        );
        cluster
    }

    /// Start (or start again) member `i`'s Patroni.
    pub fn spawn(&mut self, i: usize) {
        let m = &self.members[i];
        let script = format!(
            "echo $$ > {dir}/patroni.pid; exec patroni {dir}/patroni.yml >> {dir}/patroni.log 2>&1",
            dir = m.dir.display()
        );
        let child = as_postgres(&script)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start patroni {}: {e}", m.name));
        self.members[i].child = Some(child);
    }

    /// `GET /cluster` from the first member that answers.
    pub fn cluster_json(&self) -> Option<serde_json::Value> {
        self.members.iter().find_map(|m| {
            let (s, body) = get(&format!("{}/cluster", m.api_url()))?;
            (s == 200).then(|| serde_json::from_str(&body).ok())?
        })
    }

    pub fn leader(&self) -> Option<String> {
        let v = self.cluster_json()?;
        v["members"]
            .as_array()?
            .iter()
            .find(|m| m["role"] == "leader")
            .and_then(|m| m["name"].as_str().map(str::to_owned))
    }

    pub fn member(&self, name: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no member {name}"))
    }

    /// Sends `sig` (e.g. `-STOP`, `-KILL`) to member `name`'s Patroni process (not to its
    /// PostgreSQL, which keeps running).
    pub fn signal_patroni(&self, name: &str, sig: &str) {
        let pid = self
            .member(name)
            .pid()
            .unwrap_or_else(|| panic!("no Patroni pid for {name}"));
        signal(pid, sig);
    }

    /// SIGSTOP to member `name`'s Patroni (a hung process); the guard sends SIGCONT when it
    /// drops, also when the test fails, so the cluster can be stopped cleanly.
    pub fn pause_patroni(&self, name: &str) -> Paused {
        let pid = self
            .member(name)
            .pid()
            .unwrap_or_else(|| panic!("no Patroni pid for {name}"));
        signal(pid, "-STOP");
        Paused(pid)
    }

    /// Maintenance mode on: Patroni stops failing over (and restarting PostgreSQL) by itself.
    pub fn pause(&self) {
        let out = as_postgres(&format!(
            "patronictl -c {}/patroni.yml pause {SCOPE} --wait",
            self.members[0].dir.display()
        ))
        .output()
        .unwrap();
        assert!(out.status.success(), "patronictl pause: {out:?}");
        self.wait("the cluster to show paused", Duration::from_secs(20), |c| {
            c.cluster_json().is_some_and(|v| v["pause"] == true)
        });
    }

    /// Stops a member's PostgreSQL behind Patroni's back (`pg_ctl stop -m immediate`).
    pub fn stop_postgres(&self, name: &str) {
        let m = self.member(name);
        let out = as_postgres(&format!(
            "{PG_BIN}/pg_ctl stop -D {} -m immediate",
            m.data_dir().display()
        ))
        .output()
        .unwrap();
        assert!(out.status.success(), "pg_ctl stop: {out:?}");
    }

    pub fn wait(&self, what: &str, limit: Duration, cond: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; member logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The tail of every member's log, for failure messages.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let log = std::fs::read_to_string(m.dir.join("patroni.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!(
                    "--- {}\n{}",
                    m.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A self-signed certificate for 127.0.0.1 that is not a CA (rustls refuses a CA certificate as
/// a server's own), usable as its own trust anchor.
fn self_signed(dir: &Path) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap_or_else(|e| panic!("openssl (Debian package openssl) cannot run: {e}"));
    assert!(out.status.success(), "openssl req: {out:?}");
}

fn config(m: &Member, etcd_port: u16, nofailover: bool, tls: bool) -> String {
    let dir = m.dir.display();
    let tls = if tls {
        format!("  certfile: {dir}/cert.pem\n  keyfile: {dir}/key.pem\n")
    } else {
        String::new()
    };
    format!(
        r#"scope: {SCOPE}
name: {name}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{api}
  connect_address: 127.0.0.1:{api}
{tls}  authentication:
    username: {REST_USER}
    password: {REST_PASSWORD}
etcd3:
  hosts: 127.0.0.1:{etcd_port}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_log_hints: "on"
        fsync: "off"
        max_wal_senders: 10
        max_replication_slots: 10
  initdb:
    - encoding: UTF8
    - auth: trust
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {dir}/data
  bin_dir: {PG_BIN}
  pgpass: {dir}/pgpass
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
  authentication:
    replication:
      username: replicator
      password: rep-pass
    superuser:
      username: postgres
      password: pg-pass
  parameters:
    unix_socket_directories: {dir}
tags:
  nofailover: {nofailover}
  noloadbalance: false
  clonefrom: false
  nosync: false
"#,
        name = m.name,
        api = m.api_port,
        pg = m.pg_port,
    )
}

/// A Patroni process stopped with SIGSTOP; continued on drop.
pub struct Paused(i32);

impl Drop for Paused {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        // Patroni first (TERM stops its PostgreSQL unless paused), then anything left.
        let pids: Vec<i32> = self.members.iter().filter_map(Member::pid).collect();
        for pid in &pids {
            // A member paused with SIGSTOP would not act on TERM.
            signal(*pid, "-CONT");
            signal(*pid, "-TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        for pid in &pids {
            if alive(*pid) {
                signal(*pid, "-KILL");
            }
        }
        for m in &self.members {
            // A paused or killed Patroni leaves its PostgreSQL running: stop it by its pid file.
            if let Ok(text) = std::fs::read_to_string(m.data_dir().join("postmaster.pid"))
                && let Some(pid) = text
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse::<i32>().ok())
            {
                signal(pid, "-QUIT");
            }
        }
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(mut etcd) = self.etcd.take() {
            let _ = etcd.kill();
            let _ = etcd.wait();
        }
    }
}
