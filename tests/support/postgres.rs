//! Real PostgreSQL 15 servers for tests: a primary and N streaming replicas (pg_basebackup -R,
//! one physical slot each) in a temp dir, on free loopback ports, `fsync=off`. Every server is
//! stopped (and killed if need be) when the [`PgCluster`] drops, also when a test panics.
//!
//! The server programs refuse to run as root, so as root they run as the `postgres` user
//! (`runuser -u postgres --`), which gets the temp dir. A missing binary fails the test with the
//! Debian package to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// A role that must log in with a password (scram-sha-256), member of pg_monitor.
pub const PW_USER: &str = "pwuser";
pub const PW_PASSWORD: &str = "right-password";

pub struct PgServer {
    pub name: String,
    pub port: u16,
    pub data: PathBuf,
}

impl PgServer {
    /// A DSN the connector reads: trusted superuser over TCP, named by `application_name`.
    pub fn dsn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable application_name={}",
            self.port, self.name
        )
    }
}

pub struct PgCluster {
    pub dir: tempfile::TempDir,
    pub primary: PgServer,
    pub replicas: Vec<PgServer>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn binary(name: &str) -> PathBuf {
    let path = Path::new(BIN).join(name);
    assert!(
        path.exists(),
        "{} is missing: install the Debian packages postgresql-15 and postgresql-client-15 \
         (apt-get install postgresql-15 postgresql-client-15; scripts/test.sh does it)",
        path.display()
    );
    path
}

/// A server program, run as `postgres` when we are root.
fn server_cmd(name: &str) -> Command {
    let bin = binary(name);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn append(path: &Path, text: &str) {
    let mut old = std::fs::read_to_string(path).unwrap_or_default();
    old.push_str(text);
    std::fs::write(path, old).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn chown_postgres(path: &Path) {
    if is_root() {
        let mut c = Command::new("chown");
        c.args(["-R", "postgres:postgres"]).arg(path);
        run(c, "chown");
    }
}

impl PgCluster {
    /// A primary and `replicas` streaming replicas named replica_a, replica_b, …
    pub fn start(replicas: usize) -> Self {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("scaleboard-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        chown_postgres(dir.path());
        let primary = PgServer {
            name: "primary".into(),
            port: free_port(),
            data: dir.path().join("primary"),
        };
        let mut cluster = Self {
            dir,
            primary,
            replicas: Vec::new(),
        };
        let mut init = server_cmd("initdb");
        init.arg("-D").arg(&cluster.primary.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        run(init, "initdb");
        let hba = cluster.primary.data.join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba).unwrap_or_default();
        std::fs::write(
            &hba,
            format!("host all {PW_USER} 127.0.0.1/32 scram-sha-256\n{old}"),
        )
        .unwrap_or_else(|e| panic!("pg_hba.conf: {e}"));
        append(
            &cluster.primary.data.join("postgresql.conf"),
            &format!(
                "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n\
                 wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\n\
                 hot_standby = on\nwal_receiver_status_interval = 1s\n\
                 cluster_name = 'primary'\nshared_buffers = 16MB\n",
                cluster.primary.port,
                cluster.dir.path().display()
            ),
        );
        chown_postgres(&cluster.primary.data);
        cluster.pg_ctl_start(&cluster.primary.data);
        cluster.psql(
            cluster.primary.port,
            &format!(
                "CREATE ROLE {PW_USER} LOGIN PASSWORD '{PW_PASSWORD}'; GRANT pg_monitor TO {PW_USER};"
            ),
        );
        for i in 0..replicas {
            let name = format!("replica_{}", (b'a' + i as u8) as char);
            cluster.add_replica(&name);
        }
        eprintln!(
            "PostgreSQL cluster (primary + {replicas}) up in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        cluster
    }

    fn add_replica(&mut self, name: &str) {
        let server = PgServer {
            name: name.into(),
            port: free_port(),
            data: self.dir.path().join(name),
        };
        let mut backup = server_cmd("pg_basebackup");
        backup
            .args(["-h", "127.0.0.1", "-p", &self.primary.port.to_string()])
            .args(["-U", "postgres", "-D"])
            .arg(&server.data)
            .args(["-R", "-X", "stream", "-c", "fast", "-C", "-S", name]);
        run(backup, "pg_basebackup");
        append(
            &server.data.join("postgresql.conf"),
            &format!("\nport = {}\ncluster_name = '{name}'\n", server.port),
        );
        self.pg_ctl_start(&server.data);
        self.replicas.push(server);
    }

    fn pg_ctl_start(&self, data: &Path) {
        let mut c = server_cmd("pg_ctl");
        c.arg("-D")
            .arg(data)
            .arg("-l")
            .arg(data.with_extension("log"))
            .args(["-w", "-t", "30", "start"]);
        run(c, "pg_ctl start");
    }

    /// Start a stopped server again (`pg_ctl start`), waiting for it to accept connections.
    pub fn start_again(&self, server: &PgServer) {
        self.pg_ctl_start(&server.data);
    }

    /// `pg_ctl stop -m MODE` (fast, immediate…), waiting for it.
    pub fn stop(&self, server: &PgServer, mode: &str) {
        let mut c = server_cmd("pg_ctl");
        c.arg("-D")
            .arg(&server.data)
            .args(["-m", mode, "-w", "-t", "30", "stop"]);
        run(c, "pg_ctl stop");
    }

    /// Run SQL as the superuser over TCP; returns the unaligned, tuples-only output.
    pub fn psql(&self, port: u16, sql: &str) -> String {
        let mut c = Command::new(binary("psql"));
        c.args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
        ])
        .args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
        .args(["-c", sql]);
        let out = run(c, &format!("psql -p {port} -c {sql}"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Wait until the primary reports `n` standbys streaming and every replica has replayed the
    /// primary's current position.
    pub fn wait_caught_up(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let streaming = self.psql(
                self.primary.port,
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            );
            let target = self.psql(self.primary.port, "SELECT pg_current_wal_lsn()");
            let all = self.replicas.iter().all(|r| {
                self.psql(
                    r.port,
                    &format!("SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
                ) == "t"
            });
            if streaming == n.to_string() && all {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replicas did not catch up: {streaming} streaming"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Write about `bytes` of WAL on the primary.
    pub fn write_wal(&self, bytes: usize) {
        let rows = bytes / 1100 + 1;
        self.psql(
            self.primary.port,
            &format!(
                "CREATE TABLE IF NOT EXISTS filler (v text); \
                 INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, {rows});"
            ),
        );
    }

    /// A password file for [`PW_USER`] with the given password, mode 0600 (libpq and the
    /// connector ignore a password file that the group or others can read).
    pub fn passfile(&self, password: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join(format!("pgpass-{password}"));
        std::fs::write(&path, format!("127.0.0.1:*:*:{PW_USER}:{password}\n"))
            .unwrap_or_else(|e| panic!("pgpass: {e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("pgpass mode: {e}"));
        path
    }

    /// Turn TLS on for the primary with a certificate for `localhost` signed by a fresh test
    /// CA; returns the CA certificate's path (for `sslrootcert`).
    pub fn enable_tls(&self) -> PathBuf {
        let dir = self.dir.path().join("tls");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("tls dir: {e}"));
        let openssl = |args: &[&str]| {
            let mut c = Command::new("openssl");
            c.current_dir(&dir).args(args);
            run(c, &format!("openssl {}", args.join(" ")));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=scaleboard test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap_or_else(|e| panic!("ext.cnf: {e}"));
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ]);
        chown_postgres(&dir);
        let mut chmod = Command::new("chmod");
        chmod.arg("600").arg(dir.join("server.key"));
        run(chmod, "chmod server.key");
        for (key, value) in [
            (
                "ssl_cert_file",
                dir.join("server.crt").display().to_string(),
            ),
            ("ssl_key_file", dir.join("server.key").display().to_string()),
            ("ssl", "on".to_string()),
        ] {
            self.psql(
                self.primary.port,
                &format!("ALTER SYSTEM SET {key} = '{value}'"),
            );
        }
        self.psql(self.primary.port, "SELECT pg_reload_conf()");
        std::thread::sleep(Duration::from_millis(300));
        dir.join("ca.crt")
    }

    fn all(&self) -> impl Iterator<Item = &PgServer> {
        std::iter::once(&self.primary).chain(self.replicas.iter())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Read the postmaster pids first: pg_ctl may fail, the kill must not.
        let pids: Vec<(String, PathBuf)> = self
            .all()
            .filter_map(|s| {
                let text = std::fs::read_to_string(s.data.join("postmaster.pid")).ok()?;
                Some((text.lines().next()?.trim().to_string(), s.data.clone()))
            })
            .collect();
        for s in self.all() {
            if s.data.join("postmaster.pid").exists()
                && let Ok(mut c) = std::panic::catch_unwind(|| server_cmd("pg_ctl"))
            {
                let _ = c
                    .arg("-D")
                    .arg(&s.data)
                    .args(["-m", "immediate", "-w", "-t", "10", "stop"])
                    .output();
            }
        }
        for (pid, data) in pids {
            // Only a process that is still this server's postmaster (pids get reused).
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*data.to_string_lossy()) {
                let _ = Command::new("kill").args(["-KILL", &pid]).output();
            }
        }
    }
}
