//! Real MariaDB servers for tests: a GTID primary and a read-only replica
//! (`MASTER_USE_GTID=slave_pos`) in a temp dir, on free loopback ports, each `mariadbd` a child
//! process of the test that is killed when the [`MariaPair`] drops, also when a test panics.
//!
//! One `mariadb-install-db` per pair: the replica's data directory is a copy of the fresh one
//! (no binlog yet, so no GTID history to disagree on). Users are created with
//! `sql_log_bin=0` on each server so nothing but the test's own writes replicates.
//! A missing binary fails the test with the Debian package to install.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MARIADBD: &str = "/usr/sbin/mariadbd";
/// A user that must log in with a password.
pub const PW_USER: &str = "pwuser";
pub const PW_PASSWORD: &str = "right-password";

pub struct MyServer {
    pub name: String,
    pub port: u16,
    pub server_id: u32,
    pub data: PathBuf,
    pub socket: PathBuf,
    child: Mutex<Option<Child>>,
}

impl MyServer {
    /// The running `mariadbd`'s process id.
    pub fn pid(&self) -> u32 {
        self.child
            .lock()
            .unwrap()
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    /// The profile URL: passwordless root over TCP, named for the window.
    pub fn url(&self) -> String {
        self.url_as("root")
    }

    /// The profile URL for a password-less `user`.
    pub fn url_as(&self, user: &str) -> String {
        format!("mysql://{user}@127.0.0.1:{}?name={}", self.port, self.name)
    }
}

pub struct MariaPair {
    pub dir: tempfile::TempDir,
    pub primary: MyServer,
    pub replica: MyServer,
}

fn binary(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.exists(),
        "{path} is missing: install the Debian packages mariadb-server and mariadb-client \
         (apt-get install mariadb-server mariadb-client; scripts/test.sh does it)"
    );
    p
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
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
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl MariaPair {
    pub fn start() -> Self {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("sb-my-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let template = dir.path().join("template");
        // A private tmpdir: concurrent bootstraps sharing /tmp trip over each other's
        // temporary tables ("Unknown table 'mysql.tmp_user_sys'").
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("tmp dir: {e}"));
        let mut c = Command::new(binary("/usr/bin/mariadb-install-db"));
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", template.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=8M",
                "--innodb-buffer-pool-size=16M",
            ]);
        if is_root() {
            c.arg("--user=root");
        }
        run(c, "mariadb-install-db");
        let server = |name: &str, id: u32| {
            let data = dir.path().join(name);
            run(
                {
                    let mut c = Command::new("cp");
                    c.arg("-a").arg(&template).arg(&data);
                    c
                },
                "copy the data directory",
            );
            MyServer {
                name: name.into(),
                port: free_port(),
                server_id: id,
                socket: dir.path().join(format!("{name}.sock")),
                data,
                child: Mutex::new(None),
            }
        };
        let pair = Self {
            primary: server("primary", 1),
            replica: server("replica", 2),
            dir,
        };
        pair.start_again(&pair.primary);
        pair.start_again(&pair.replica);
        for s in [&pair.primary, &pair.replica] {
            pair.sql(
                s,
                &format!(
                    "SET sql_log_bin=0; \
                     CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'replpw'; \
                     GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'; \
                     CREATE USER '{PW_USER}'@'127.0.0.1' IDENTIFIED BY '{PW_PASSWORD}'; \
                     GRANT ALL ON *.* TO '{PW_USER}'@'127.0.0.1'; \
                     CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'apppw'; \
                     GRANT SELECT, INSERT ON app.* TO 'app'@'127.0.0.1'"
                ),
            );
        }
        pair.sql(
            &pair.replica,
            &format!(
                "SET GLOBAL read_only=ON; \
                 CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
                 MASTER_PASSWORD='replpw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; \
                 START SLAVE",
                pair.primary.port
            ),
        );
        pair.sql(
            &pair.primary,
            "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT); \
             INSERT INTO app.t (v) VALUES (1), (2)",
        );
        pair.wait_caught_up();
        eprintln!("MariaDB pair ready in {:?}", started.elapsed());
        pair
    }

    /// Start a (stopped) server and wait until it accepts connections on its socket.
    pub fn start_again(&self, s: &MyServer) {
        let mut c = Command::new(binary(MARIADBD));
        c.arg("--no-defaults");
        if is_root() {
            c.arg("--user=root");
        }
        c.args([
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--log-bin",
            "--binlog-format=ROW",
            "--log-slave-updates",
            "--gtid-strict-mode=1",
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=8M",
        ])
        .arg(format!("--server-id={}", s.server_id))
        .arg(format!("--port={}", s.port))
        .arg(format!("--socket={}", s.socket.display()))
        .arg(format!(
            "--pid-file={}",
            s.data.with_extension("pid").display()
        ))
        .arg(format!(
            "--log-error={}",
            s.data.with_extension("err").display()
        ))
        .arg(format!("--datadir={}", s.data.display()))
        .arg(format!(
            "--tmpdir={}",
            self.dir.path().join("tmp").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start mariadbd: {e}"));
        *s.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.try_sql(s, "SELECT 1").0 {
            assert!(
                Instant::now() < deadline,
                "{} did not start: {}",
                s.name,
                std::fs::read_to_string(s.data.with_extension("err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop a server cleanly (SIGTERM) and wait for it to exit.
    pub fn stop(&self, s: &MyServer) {
        if let Some(mut child) = s.child.lock().unwrap().take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .output();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn try_sql(&self, s: &MyServer, sql: &str) -> (bool, String) {
        let out = Command::new(binary("/usr/bin/mariadb"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", s.socket.display()))
            .args(["-u", "root", "-N", "-B", "-e", sql])
            .output();
        match out {
            Ok(o) => (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).trim().to_string()
                    + &String::from_utf8_lossy(&o.stderr),
            ),
            Err(e) => (false, e.to_string()),
        }
    }

    /// Run SQL as root over the server's socket; returns the tab-separated output.
    pub fn sql(&self, s: &MyServer, sql: &str) -> String {
        let (ok, text) = self.try_sql(s, sql);
        assert!(ok, "{} on {}: {text}", sql, s.name);
        text
    }

    /// Run SQL over TCP as `app`, a user with no privilege beyond INSERT/SELECT on `app.*`
    /// (so `read_only` stops it, unlike root): Err holds the client's error.
    pub fn app_sql(&self, s: &MyServer, sql: &str) -> Result<String, String> {
        let out = Command::new(binary("/usr/bin/mariadb"))
            .arg("--no-defaults")
            .args(["-h", "127.0.0.1", "-P", &s.port.to_string()])
            .args(["-u", "app", "-papppw", "-N", "-B", "-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// A password-less user `name`@127.0.0.1 with `grants` ON *.* (e.g. "SUPER") on both
    /// servers, kept out of the binlog so nothing replicates.
    pub fn create_user(&self, name: &str, grants: &str) {
        for s in [&self.primary, &self.replica] {
            self.sql(
                s,
                &format!(
                    "SET sql_log_bin=0; CREATE USER '{name}'@'127.0.0.1'; \
                     GRANT {grants} ON *.* TO '{name}'@'127.0.0.1'"
                ),
            );
        }
    }

    /// Until the replica has applied what the primary wrote.
    pub fn wait_caught_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let want = self.sql(&self.primary, "SELECT @@gtid_binlog_pos");
        loop {
            let have = self.sql(&self.replica, "SELECT @@gtid_slave_pos");
            if have == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replica at {have}, primary at {want}: {}",
                self.sql(&self.replica, "SHOW SLAVE STATUS\\G")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A client session holding `LOCK TABLES app.t WRITE` on one server: the replica's SQL thread
/// waits on it, so what the IO thread receives stays unapplied. Released when the session's
/// `SLEEP` ends or this guard drops (the client is killed).
pub struct TableLock(Child);

impl TableLock {
    pub fn release(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl MariaPair {
    /// Hold a write lock on `app.t` on `s` for `secs` seconds; returns once it is held.
    pub fn lock_table(&self, s: &MyServer, secs: u32) -> TableLock {
        let sleeping = "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                        WHERE INFO LIKE 'SELECT SLEEP%'";
        let before: u32 = self.sql(s, sleeping).parse().unwrap_or(0);
        let child = Command::new(binary("/usr/bin/mariadb"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", s.socket.display()))
            .args(["-u", "root", "-N", "-B", "-e"])
            .arg(format!("LOCK TABLES app.t WRITE; SELECT SLEEP({secs})"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the mariadb client: {e}"));
        let lock = TableLock(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.sql(s, sleeping).parse::<u32>().unwrap_or(0) <= before {
            assert!(Instant::now() < deadline, "the table lock was never taken");
            std::thread::sleep(Duration::from_millis(50));
        }
        lock
    }

    /// One column of the replica's `SHOW SLAVE STATUS`.
    pub fn slave_status(&self, column: &str) -> String {
        // Without -N: the vertical output keeps its column names.
        let out = Command::new(binary("/usr/bin/mariadb"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.replica.socket.display()))
            .args(["-u", "root", "-B", "-e", "SHOW SLAVE STATUS\\G"])
            .output()
            .unwrap_or_else(|e| panic!("mariadb: {e}"));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{column}: ")))
            .unwrap_or_default()
            .to_string()
    }

    /// Until the replica's IO thread has received what the primary wrote (applied or not).
    pub fn wait_received(&self) {
        let want = self.sql(&self.primary, "SELECT @@gtid_binlog_pos");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.slave_status("Gtid_IO_Pos") != want {
            assert!(
                Instant::now() < deadline,
                "the IO thread never received {want}: {}",
                self.sql(&self.replica, "SHOW SLAVE STATUS\\G")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MariaPair {
    fn drop(&mut self) {
        for s in [&self.primary, &self.replica] {
            let child = s.child.lock().map(|mut c| c.take()).unwrap_or(None);
            if let Some(mut child) = child {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
