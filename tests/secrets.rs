//! Secrets on a machine without an OS keyring, through the real `scaleboard` binary: `secret
//! set|delete|list`, the credentials file (0600, refused when looser), the per-endpoint
//! environment variables and the ecosystems' conventions (PGPASSFILE, PGPASSWORD, REDISCLI_AUTH),
//! against real RabbitMQ, PostgreSQL and Redis servers (tests/support).
//!
//! The machine is left alone: every run of the binary gets an empty environment with a temp
//! HOME and config dir, and a D-Bus session address that leads nowhere, so the real keyring
//! code runs and finds no Secret Service (the normal case on a server) even on a desktop whose
//! keyring is unlocked; the user's keyring, `~/.pgpass` and config dir are never reached.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A temp HOME with a config dir, and the binary run inside it.
struct Sandbox {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Sandbox {
    fn new(profiles_toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(dir.path().join("config/profiles.toml"), profiles_toml).unwrap();
        Self { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn credentials(&self) -> PathBuf {
        self.config().join("credentials.toml")
    }

    fn profiles_text(&self) -> String {
        std::fs::read_to_string(self.config().join("profiles.toml")).unwrap()
    }

    /// The binary with nothing of this machine's environment but PATH.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaleboard"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}/no-bus", self.dir.path().display()),
            )
            .env("RUST_LOG", "debug")
            .arg("--config-dir")
            .arg(self.config())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run_with_stdin(args, env, None)
    }

    fn run_with_stdin(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = self.command(args, env);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            // The binary may refuse the target before it reads stdin: a broken pipe is fine.
            let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
        }
        let out: Output = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `scaleboard secret set TARGET` with the value on stdin; must succeed quickly.
    fn set(&self, target: &str, value: &str, env: &[(&str, &str)]) -> Run {
        let started = Instant::now();
        let run = self.run_with_stdin(&["secret", "set", target], env, Some(&format!("{value}\n")));
        assert_eq!(run.code, 0, "{run:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no keyring must be found out quickly: {:?}",
            started.elapsed()
        );
        run
    }

    fn status(&self, profile: &str, env: &[(&str, &str)]) -> Run {
        self.run(&["status", "--profile", profile, "--timeout", "20"], env)
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The status line of one endpoint label ("RabbitMQ mq", "PostgreSQL orders", …).
/// The endpoint's line of `status` with its reason lines (indented below it) joined on.
fn status_line(run: &Run, label: &str) -> String {
    let mut lines = run.stdout.lines().skip_while(|l| !l.contains(label));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {label} line: {run:?}"));
    let mut out = first.to_string();
    for l in lines.take_while(|l| l.starts_with(' ')) {
        out.push(' ');
        out.push_str(l.trim());
    }
    out
}

/// The secret must be nowhere but where it was put.
fn assert_hidden(secret: &str, runs: &[&Run], sandbox: &Sandbox) {
    for run in runs {
        assert!(!run.all().contains(secret), "the secret leaked: {run:?}");
    }
    assert!(!sandbox.profiles_text().contains(secret));
}

const RABBIT_USER: &str = "sbsecret";
const RABBIT_PASSWORD: &str = "Rabbit-pw 42!";

/// PUT on the management API as guest (creating the test user), as plain HTTP/1.0.
fn rabbit_put(port: u16, path: &str, body: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let code: u16 = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    assert!((200..300).contains(&code), "PUT {path}: {reply}");
}

/// A real RabbitMQ connected with the password given by `scaleboard secret set` on this
/// machine without Secret Service, then with the documented environment variable instead.
/// One test function: the broker takes 20–40 s to start and nextest runs each test in a process.
#[test]
fn rabbitmq_password_from_secret_set_and_from_the_environment_variable() {
    let rabbit = support::rabbitmq::rabbit();
    rabbit_put(
        rabbit.http_port,
        &format!("/api/users/{RABBIT_USER}"),
        &format!("{{\"password\":\"{RABBIT_PASSWORD}\",\"tags\":\"monitoring\"}}"),
    );
    rabbit_put(
        rabbit.http_port,
        &format!("/api/permissions/%2F/{RABBIT_USER}"),
        "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}",
    );
    let sandbox = Sandbox::new(&format!(
        "[[profile]]\nname = \"prod\"\n\n[profile.rabbitmq]\nname = \"mq\"\n\
         management_url = \"{}\"\nuser = \"{RABBIT_USER}\"\nvhost = \"/\"\n",
        rabbit.management_url()
    ));
    let profiles_before = sandbox.profiles_text();

    // Nothing given yet: down, and the error says where it looked and how to give one.
    let run = sandbox.status("prod", &[]);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");
    let line = status_line(&run, "RabbitMQ mq");
    assert!(line.starts_with("down"), "{run:?}");
    assert!(
        line.contains("no password for prod/mq")
            && line.contains("SCALEBOARD_SECRET_PROD_MQ")
            && line.contains("scaleboard secret set prod/mq")
            && line.contains("system keyring (not available"),
        "{run:?}"
    );
    let list = sandbox.run(&["secret", "list"], &[]);
    assert_eq!(list.code, 1, "a required secret is missing: {list:?}");
    assert!(list.stdout.contains("MISSING"), "{list:?}");

    // `secret set` with the password on stdin: no keyring here, so the credentials file.
    let set = sandbox.set("prod/mq", RABBIT_PASSWORD, &[]);
    let credentials = sandbox.credentials();
    assert!(
        set.stdout.contains("No system keyring here")
            && set
                .stdout
                .contains(&format!("in {}", credentials.display())),
        "{set:?}"
    );
    assert_eq!(set.stdout.matches("Saved").count(), 1, "said once: {set:?}");
    assert_eq!(mode(&credentials), 0o600);
    assert_eq!(
        sandbox.profiles_text(),
        profiles_before,
        "profiles.toml untouched"
    );

    let run = sandbox.status("prod", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        status_line(&run, "RabbitMQ mq").starts_with("ok"),
        "{run:?}"
    );
    let list = sandbox.run(&["secret", "list"], &[]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stdout
            .contains(&format!("credentials file {}", credentials.display())),
        "{list:?}"
    );
    assert_hidden(RABBIT_PASSWORD, &[&set, &run, &list], &sandbox);

    // The environment variable instead: delete the saved one first.
    let deleted = sandbox.run(&["secret", "delete", "prod/mq"], &[]);
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert!(
        deleted.stdout.contains("Deleted the password for prod/mq"),
        "{deleted:?}"
    );
    assert!(!credentials.exists(), "the emptied file is removed");
    assert_eq!(sandbox.status("prod", &[]).code, 2, "down: critical");

    let env = [("SCALEBOARD_SECRET_PROD_MQ", RABBIT_PASSWORD)];
    let run = sandbox.status("prod", &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        status_line(&run, "RabbitMQ mq").starts_with("ok"),
        "{run:?}"
    );
    let list = sandbox.run(&["secret", "list", "prod"], &env);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stdout
            .contains("environment variable SCALEBOARD_SECRET_PROD_MQ"),
        "{list:?}"
    );
    assert_hidden(RABBIT_PASSWORD, &[&run, &list], &sandbox);

    // The variable comes first: a wrong saved password does not matter while it is set, and a
    // wrong variable is refused by the broker in plain words.
    sandbox.set("prod/mq", "wrong-password", &[]);
    assert_eq!(sandbox.status("prod", &env).code, 0);
    let run = sandbox.status("prod", &[("SCALEBOARD_SECRET_PROD_MQ", "also-wrong")]);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");
    assert!(
        status_line(&run, "RabbitMQ mq").contains("wrong user or password"),
        "{run:?}"
    );
}

/// The credentials file: created 0600, a looser mode refused by `secret set`, `secret list` and
/// the connectors with the fix in the message, the secret never in profiles.toml, the logs or
/// the listing; the keyring says nothing to commands that need no secret.
#[test]
fn credentials_file_is_private_and_refused_when_others_can_read_it() {
    // RabbitMQ on a closed port: the secret lookup happens before any connection. The profile
    // "twins" has two endpoints named "mq": such a profile is refused on load (endpoint names
    // are the engine's ids and must differ across kinds), so no secret can be set for it.
    let sandbox = Sandbox::new(
        "[[profile]]\nname = \"prod-eu\"\n\n[profile.rabbitmq]\nname = \"mq\"\n\
         management_url = \"http://127.0.0.1:9\"\nuser = \"ops\"\n\
         password = { account = \"prod-eu/rabbitmq/mq\" }\n\n\
         [[profile.kubernetes]]\nname = \"clusters\"\n\n\
         [[profile]]\nname = \"twins\"\n\n[profile.rabbitmq]\nname = \"mq\"\n\
         management_url = \"http://127.0.0.1:9\"\nuser = \"ops\"\n\n\
         [[profile.redis]]\nname = \"mq\"\nurl = \"redis://127.0.0.1:9\"\n",
    );
    let secret = "file-secret-value-1";

    // Two endpoints named "mq": the profile is refused with the reason, nothing is saved.
    let run = sandbox.run_with_stdin(&["secret", "set", "twins/mq"], &[], Some(secret));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("\"mq\" names both a redis and a rabbitmq endpoint"),
        "{run:?}"
    );
    assert!(!sandbox.credentials().exists());
    // A Kubernetes endpoint takes no secret from Scaleboard.
    let run = sandbox.run_with_stdin(&["secret", "set", "prod-eu/clusters"], &[], Some(secret));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("kubeconfig"), "{run:?}");
    // An empty value is not saved.
    let run = sandbox.run_with_stdin(&["secret", "set", "prod-eu/rabbitmq/mq"], &[], Some("\n"));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("empty"), "{run:?}");

    let set = sandbox.set("prod-eu/rabbitmq/mq", secret, &[]);
    let file = sandbox.credentials();
    assert_eq!(mode(&file), 0o600, "created private");
    assert!(std::fs::read_to_string(&file).unwrap().contains(secret));
    let list = sandbox.run(&["secret", "list"], &[]);
    assert!(list.stdout.contains("1 entry, mode 0600"), "{list:?}");
    assert!(
        list.stdout.contains("SCALEBOARD_SECRET_PROD_EU_MQ")
            && !list.stdout.contains("SCALEBOARD_SECRET_TWINS"),
        "the refused profile lists no endpoint: {list:?}"
    );
    assert!(
        list.stdout.contains("prod-eu/clusters (Kubernetes)"),
        "{list:?}"
    );
    // The looked-up secret reaches the connector (it then finds nothing listening).
    let status = sandbox.status("prod-eu", &[]);
    let line = status_line(&status, "RabbitMQ mq");
    assert!(!line.contains("no password"), "{status:?}");
    assert_hidden(secret, &[&set, &list, &status], &sandbox);

    // Others may read it: refused everywhere, naming the file and the fix.
    chmod(&file, 0o644);
    let fix = format!("chmod 600 {}", file.display());
    let run = sandbox.run_with_stdin(
        &["secret", "set", "prod-eu/rabbitmq/mq"],
        &[],
        Some("another"),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&file.display().to_string())
            && run.stderr.contains("mode 0644")
            && run.stderr.contains(&fix),
        "{run:?}"
    );
    assert_eq!(mode(&file), 0o644, "not chmodded behind the user's back");
    assert!(!std::fs::read_to_string(&file).unwrap().contains("another"));
    let list = sandbox.run(&["secret", "list"], &[]);
    assert_eq!(list.code, 1, "{list:?}");
    assert!(
        list.stdout.contains("REFUSED") && list.stdout.contains(&fix),
        "{list:?}"
    );
    let status = sandbox.status("prod-eu", &[]);
    assert!(
        status_line(&status, "RabbitMQ mq").contains(&fix),
        "{status:?}"
    );
    assert_hidden(secret, &[&run, &list, &status], &sandbox);

    chmod(&file, 0o600);
    let deleted = sandbox.run(&["secret", "delete", "prod-eu/rabbitmq/mq"], &[]);
    assert_eq!(deleted.code, 0, "{deleted:?}");
    let again = sandbox.run(&["secret", "delete", "prod-eu/rabbitmq/mq"], &[]);
    assert!(again.stdout.contains("No saved password"), "{again:?}");

    // SCALEBOARD_KEYRING=off: the keyring is not even asked, and says why.
    let off = [("SCALEBOARD_KEYRING", "off")];
    let set = sandbox.set("prod-eu/rabbitmq/mq", secret, &off);
    assert!(
        set.stdout.contains("turned off by SCALEBOARD_KEYRING=off"),
        "{set:?}"
    );

    // Commands that need no secret say nothing about the keyring.
    for args in [
        &["status", "--demo"][..],
        &["audit"][..],
        &["cost", "list"][..],
    ] {
        let run = sandbox
            .command(args, &[])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            !text.to_lowercase().contains("keyring") && !text.contains("secret service"),
            "{args:?}: {text}"
        );
    }
}

/// PostgreSQL: PGPASSFILE (0600, ignored when looser, as libpq), PGPASSWORD, and `secret set`.
#[test]
fn postgres_password_from_pgpassfile_pgpassword_and_secret_set() {
    use support::postgres::{PW_PASSWORD, PW_USER, PgCluster};
    let cluster = PgCluster::start(0);
    let port = cluster.primary.port;
    let sandbox = Sandbox::new(&format!(
        "[[profile]]\nname = \"prod\"\n\n[[profile.postgres]]\nname = \"orders\"\n\
         primary_dsn = \"host=127.0.0.1 port={port} user={PW_USER} dbname=postgres sslmode=disable application_name=primary\"\n"
    ));

    // No password anywhere: the server's question, and where one can be given.
    let run = sandbox.status("prod", &[]);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");
    let line = status_line(&run, "PostgreSQL orders");
    assert!(
        line.contains("for a password") && line.contains("scaleboard secret set prod/orders"),
        "{run:?}"
    );

    let passfile = sandbox.dir.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{port}:*:{PW_USER}:{PW_PASSWORD}\n"),
    )
    .unwrap();
    chmod(&passfile, 0o600);
    let pf = passfile.display().to_string();
    let env = [("PGPASSFILE", pf.as_str())];
    let run = sandbox.status("prod", &env);
    assert_eq!(run.code, 0, "{run:?}");
    let list = sandbox.run(&["secret", "list"], &env);
    assert!(
        list.stdout
            .contains(&format!("password file {pf} (convention)")),
        "{list:?}"
    );
    assert_hidden(PW_PASSWORD, &[&run, &list], &sandbox);

    // Readable by others: ignored like libpq does, and said so with the fix.
    chmod(&passfile, 0o644);
    let run = sandbox.status("prod", &env);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");
    assert!(run.stderr.contains(&format!("chmod 600 {pf}")), "{run:?}");
    let list = sandbox.run(&["secret", "list"], &env);
    assert!(list.stdout.contains(&format!("chmod 600 {pf}")), "{list:?}");

    // PGPASSWORD.
    let run = sandbox.status("prod", &[("PGPASSWORD", PW_PASSWORD)]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = sandbox.status("prod", &[("PGPASSWORD", "wrong")]);
    assert!(
        status_line(&run, "PostgreSQL orders").contains("wrong password"),
        "{run:?}"
    );

    // `secret set` (credentials file) and the endpoint's variable, both before PGPASSWORD.
    sandbox.set("prod/orders", PW_PASSWORD, &[]);
    let run = sandbox.status("prod", &[("PGPASSWORD", "wrong")]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = sandbox.run(&["secret", "delete", "prod/orders"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = sandbox.status("prod", &[("SCALEBOARD_SECRET_PROD_ORDERS", PW_PASSWORD)]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_hidden(PW_PASSWORD, &[&run], &sandbox);
}

/// Redis: REDISCLI_AUTH as redis-cli reads it, `secret set`, and a named entry found nowhere.
#[test]
fn redis_password_from_rediscli_auth_and_secret_set() {
    let server = support::redis::RedisServer::start(&["--requirepass", "redis-right-pw"]);
    let sandbox = Sandbox::new(&format!(
        "[[profile]]\nname = \"prod\"\n\n[[profile.redis]]\nname = \"cache\"\nurl = \"{}\"\n",
        server.url()
    ));

    let run = sandbox.status("prod", &[]);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");
    assert!(
        status_line(&run, "Redis cache")
            .to_lowercase()
            .contains("auth"),
        "{run:?}"
    );

    let env = [("REDISCLI_AUTH", "redis-right-pw")];
    let run = sandbox.status("prod", &env);
    assert_eq!(run.code, 0, "{run:?}");
    let list = sandbox.run(&["secret", "list"], &env);
    assert!(
        list.stdout.contains("REDISCLI_AUTH (convention)"),
        "{list:?}"
    );
    assert_hidden("redis-right-pw", &[&run, &list], &sandbox);

    let run = sandbox.status("prod", &[("REDISCLI_AUTH", "wrong")]);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");

    // Saved with `secret set`: found before REDISCLI_AUTH.
    sandbox.set("prod/cache", "redis-right-pw", &[]);
    let run = sandbox.status("prod", &[("REDISCLI_AUTH", "wrong")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_hidden("redis-right-pw", &[&run], &sandbox);

    // A profile that names an entry which is found nowhere: the error says where it looked.
    let named = Sandbox::new(&format!(
        "[[profile]]\nname = \"prod\"\n\n[[profile.redis]]\nname = \"cache\"\nurl = \"{}\"\n\
         password = {{ account = \"prod/redis/cache\" }}\n",
        server.url()
    ));
    let run = named.status("prod", &[]);
    let line = status_line(&run, "Redis cache");
    assert!(
        line.contains("no password for prod/cache")
            && line.contains("REDISCLI_AUTH")
            && line.contains("SCALEBOARD_SECRET_PROD_CACHE"),
        "{run:?}"
    );
    let run = named.status("prod", &env);
    assert_eq!(run.code, 0, "{run:?}");
}

/// A stand-in Prometheus API that records the Authorization header of every request and answers
/// every query with an empty result (real Prometheus has no bearer-token check of its own).
fn fake_prometheus() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let auth = text
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default();
            record.lock().unwrap().push(auth);
            let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

/// Prometheus: the bearer token from the endpoint's variable and from `secret set`; a token the
/// profile names but nobody gave is an error that says where it was looked for.
#[test]
fn prometheus_token_from_the_environment_variable_and_secret_set() {
    let (port, seen) = fake_prometheus();
    let sandbox = Sandbox::new(&format!(
        "[[profile]]\nname = \"prod\"\n\n[profile.prometheus]\nname = \"prom\"\n\
         url = \"http://127.0.0.1:{port}\"\ntoken = {{ account = \"prod/prometheus/prom\" }}\n"
    ));
    let run = sandbox.status("prod", &[]);
    assert_eq!(run.code, 2, "critical: the endpoint is down: {run:?}");
    assert!(
        run.stdout.contains("no token for prod/prom")
            && run.stdout.contains("SCALEBOARD_SECRET_PROD_PROM"),
        "{run:?}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "no request without the token"
    );

    let run = sandbox.status("prod", &[("SCALEBOARD_SECRET_PROD_PROM", "tok-from-env")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|a| a == "Bearer tok-from-env"),
        "{seen:?}"
    );
    assert_hidden("tok-from-env", &[&run], &sandbox);

    seen.lock().unwrap().clear();
    let set = sandbox.set("prod/prom", "tok-from-file", &[]);
    assert!(
        set.stdout.contains("Saved the token for prod/prom"),
        "{set:?}"
    );
    let run = sandbox.status("prod", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|a| a == "Bearer tok-from-file"),
        "{seen:?}"
    );
    assert_hidden("tok-from-file", &[&run, &set], &sandbox);
}

/// On a terminal `secret set` asks without echo: the typed value is saved and never shown.
/// `script` (util-linux, Debian's essential `bsdutils`) gives the binary a pseudo-terminal.
#[test]
fn set_asks_without_echo_on_a_terminal() {
    assert!(
        Path::new("/usr/bin/script").exists(),
        "`script` not found: install the Debian package bsdutils"
    );
    let sandbox = Sandbox::new(
        "[[profile]]\nname = \"prod\"\n\n[profile.rabbitmq]\nname = \"mq\"\n\
         management_url = \"http://127.0.0.1:9\"\nuser = \"ops\"\n",
    );
    let binary = env!("CARGO_BIN_EXE_scaleboard");
    let line = format!(
        "'{binary}' --config-dir '{}' secret set prod/mq",
        sandbox.config().display()
    );
    let mut child = Command::new("/usr/bin/script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sandbox.dir.path().join("home"))
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", sandbox.dir.path().display()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Typed after the prompt is up (the terminal discards nothing, but be a person about it).
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"typed-secret-7\r").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "secret set did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("Password for prod/mq (not shown):")
            && shown.contains("Saved the password for prod/mq"),
        "{shown}"
    );
    assert!(!shown.contains("typed-secret-7"), "echoed: {shown}");
    assert!(
        std::fs::read_to_string(sandbox.credentials())
            .unwrap()
            .contains("\"typed-secret-7\"")
    );
}

/// The `SCALEBOARD_SECRET_*` variables given to Scaleboard never reach the processes it starts:
/// a `docker` on PATH that writes down its environment is what the Compose endpoint runs.
#[test]
fn secret_variables_are_not_passed_to_docker() {
    let sandbox = Sandbox::new(
        "[[profile]]\nname = \"prod\"\n\n[[profile.compose]]\nname = \"local\"\n\
         docker_host = \"unix:///nonexistent/docker.sock\"\n",
    );
    let bin = sandbox.dir.path().join("bin");
    let seen = sandbox.dir.path().join("seen");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&seen).unwrap();
    for name in ["docker", "docker-compose"] {
        let script = bin.join(name);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nenv > {}/{name}.$$\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n",
                seen.display()
            ),
        )
        .unwrap();
        chmod(&script, 0o755);
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = sandbox.run(
        &["status", "--profile", "prod", "--timeout", "10"],
        &[
            ("PATH", path.as_str()),
            ("SCALEBOARD_SECRET_PROD_DB", "child-must-not-see-this"),
            ("SCALEBOARD_SECRET_OTHER", "nor-this"),
            ("MARKER_FOR_THE_CHILD", "inherited"),
        ],
    );
    let envs: Vec<String> = std::fs::read_dir(&seen)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(!envs.is_empty(), "docker was never run: {run:?}");
    for env in &envs {
        assert!(
            env.contains("MARKER_FOR_THE_CHILD=inherited"),
            "the rest of the environment is passed on: {env}"
        );
        assert!(!env.contains("SCALEBOARD_SECRET_"), "{env}");
        assert!(!env.contains("child-must-not-see-this"), "{env}");
    }
}

/// A credentials file others can read (mode 0644) fails only the endpoints that need a secret
/// from it: PostgreSQL with its password file, a Redis without a password and Prometheus go on
/// working; the Redis whose password is in the file is down, saying why and how to fix it.
#[test]
fn a_refused_credentials_file_fails_only_the_endpoints_that_need_it() {
    use support::postgres::{PW_PASSWORD, PW_USER, PgCluster};
    let cluster = PgCluster::start(0);
    let port = cluster.primary.port;
    let open = support::redis::RedisServer::start(&[]);
    let locked = support::redis::RedisServer::start(&["--requirepass", "sessions-pw"]);
    let prometheus = support::web::Prometheus::start();
    let sandbox = Sandbox::new(&format!(
        "[[profile]]\nname = \"prod\"\n\n\
         [[profile.postgres]]\nname = \"orders\"\n\
         primary_dsn = \"host=127.0.0.1 port={port} user={PW_USER} dbname=postgres sslmode=disable\"\n\n\
         [[profile.redis]]\nname = \"cache\"\nurl = \"{}\"\n\n\
         [[profile.redis]]\nname = \"sessions\"\nurl = \"{}\"\n\
         password = {{ account = \"prod/sessions\" }}\n\n\
         [profile.prometheus]\nname = \"prom\"\nurl = \"{}\"\n",
        open.url(),
        locked.url(),
        prometheus.url()
    ));
    let passfile = sandbox.dir.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{port}:*:{PW_USER}:{PW_PASSWORD}\n"),
    )
    .unwrap();
    chmod(&passfile, 0o600);
    let pf = passfile.display().to_string();
    let env = [("PGPASSFILE", pf.as_str())];
    sandbox.set("prod/sessions", "sessions-pw", &env);
    let file = sandbox.credentials();
    assert_eq!(mode(&file), 0o600);
    let run = sandbox.status("prod", &env);
    assert_eq!(run.code, 0, "every endpoint answers: {run:?}");

    chmod(&file, 0o644);
    let run = sandbox.status("prod", &env);
    assert_eq!(run.code, 2, "{run:?}");
    for label in ["PostgreSQL orders", "Redis cache", "Prometheus prom"] {
        let line = status_line(&run, label);
        assert!(
            line.starts_with("ok "),
            "{label} must keep working: {run:?}"
        );
    }
    let line = status_line(&run, "Redis sessions");
    assert!(line.starts_with("down "), "{run:?}");
    assert!(
        line.contains("mode 0644") && line.contains(&format!("chmod 600 {}", file.display())),
        "{run:?}"
    );
    assert_hidden("sessions-pw", &[&run], &sandbox);
}
