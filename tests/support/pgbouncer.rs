//! A real PgBouncer 1.18 (Debian `pgbouncer`) for tests, in front of a test PostgreSQL: its own
//! ini, auth file and log in a temp dir, on a free loopback port, transaction pooling with a
//! small `default_pool_size` so a test can saturate it. PgBouncer refuses to run as root, so as
//! root it runs as the `postgres` user. Stopped (and killed if need be) when dropped, also when a
//! test panics. A missing binary fails the test with the package to install.

use super::postgres::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = "/usr/sbin/pgbouncer";
/// In `admin_users`: may read the admin console.
pub const ADMIN_USER: &str = "pgb_admin";
pub const ADMIN_PASSWORD: &str = "admin-secret";
/// The application's user: PgBouncer checks this password, PostgreSQL trusts the user.
pub const APP_USER: &str = "postgres";
pub const APP_PASSWORD: &str = "app-secret";
/// The pooled database, pointing at the test server's `postgres` database.
pub const APP_DB: &str = "appdb";

pub struct Pgbouncer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub ini: PathBuf,
    pid_file: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Pgbouncer {
    /// PgBouncer in front of PostgreSQL on `pg_port`, with `default_pool_size = pool_size`.
    pub fn start(pg_port: u16, pool_size: u32) -> Self {
        assert!(
            Path::new(BIN).exists(),
            "{BIN} is missing: install the Debian package pgbouncer (apt-get install pgbouncer; \
             scripts/test.sh does it)"
        );
        let dir = tempfile::Builder::new()
            .prefix("scaleboard-pgb-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let port = free_port();
        let ini = dir.path().join("pgbouncer.ini");
        let pid_file = dir.path().join("pgbouncer.pid");
        let auth = dir.path().join("users.txt");
        std::fs::write(
            &auth,
            format!("\"{ADMIN_USER}\" \"{ADMIN_PASSWORD}\"\n\"{APP_USER}\" \"{APP_PASSWORD}\"\n"),
        )
        .unwrap_or_else(|e| panic!("auth file: {e}"));
        std::fs::write(
            &ini,
            format!(
                "[databases]\n{APP_DB} = host=127.0.0.1 port={pg_port} dbname=postgres\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = md5\nauth_file = {}\nadmin_users = {ADMIN_USER}\n\
                 stats_users = {ADMIN_USER}\npool_mode = transaction\n\
                 default_pool_size = {pool_size}\nmax_client_conn = 100\nlogfile = {}\n\
                 pidfile = {}\n",
                auth.display(),
                dir.path().join("pgbouncer.log").display(),
                pid_file.display()
            ),
        )
        .unwrap_or_else(|e| panic!("ini: {e}"));
        let bouncer = Self {
            dir,
            port,
            ini,
            pid_file,
        };
        if is_root() {
            // A root-owned file left in the dir would make the postgres user's start fail.
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(bouncer.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the PgBouncer dir failed");
        }
        bouncer.start_again();
        bouncer
    }

    /// Start (again) with the same ini and port, waiting until it accepts connections.
    pub fn start_again(&self) {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", BIN]);
            c
        } else {
            Command::new(BIN)
        };
        let out = cmd
            .arg("-d")
            .arg(&self.ini)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        assert!(
            out.status.success(),
            "pgbouncer -d failed: {}{}\nlog: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PgBouncer did not listen on {} within 10 s; log: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// The admin console's DSN, without a password (the profile form).
    pub fn admin_dsn(&self) -> String {
        format!(
            "postgres://{ADMIN_USER}@127.0.0.1:{}/pgbouncer?sslmode=disable",
            self.port
        )
    }

    /// An application's connection string through the pool (tokio-postgres form, with password).
    pub fn app_config(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={APP_USER} password={APP_PASSWORD} dbname={APP_DB} sslmode=disable",
            self.port
        )
    }

    fn pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(&self.pid_file).ok()?;
        let pid = pid.trim().to_string();
        // Only a process that is still this PgBouncer (pids get reused).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline)
            .contains(&*self.ini.to_string_lossy())
            .then_some(pid)
    }

    /// Kill it (SIGKILL, as a crash or the OOM killer would) and wait until it is gone.
    pub fn kill(&self) {
        let Some(pid) = self.pid() else {
            return;
        };
        let _ = Command::new("kill").args(["-KILL", &pid]).output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }

    /// Stop it (SIGTERM, then SIGKILL after 5 s) and wait until its port is closed.
    pub fn stop(&self) {
        let Some(pid) = self.pid() else {
            return;
        };
        let _ = Command::new("kill").args(["-TERM", &pid]).output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill").args(["-KILL", &pid]).output();
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        self.stop();
    }
}
