//! Checks a profile (or a set of profiles) before it is saved.
//!
//! Every problem names the profile and the field it is about, in plain words. The most important
//! rule: a DSN or URL that embeds a password is refused, so secrets never reach the profile file.

use std::collections::HashMap;
use std::fmt;

use super::model::{Profile, REFRESH_RANGE, SecretRef};

/// What the user is told when a DSN or URL carries a password (followed by where to put it:
/// see `Checker::embedded_password`).
pub const EMBEDDED_PASSWORD: &str = "the password must not be in the profile";

/// One step of a [`Problem`]'s place in the file, relative to its `[[profile]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    Key(String),
    /// 0-based index into a list.
    Index(usize),
}

/// One thing wrong with a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The profile's name as written (may be empty).
    pub profile: String,
    /// The field, e.g. `postgres[main].primary_dsn`.
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
    /// Where the field is inside the profile's table (keys and list indexes), so a loaded file
    /// can point at its line and column; empty for the profile as a whole.
    pub path: Vec<PathPart>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.profile.trim().is_empty() {
            write!(f, "{}: {}", self.field, self.message)
        } else {
            write!(
                f,
                "profile \"{}\", {}: {}",
                self.profile, self.field, self.message
            )
        }
    }
}

/// A field as shown to the user (`postgres[main].primary_dsn`) and as found in the file
/// (`postgres`, 0, `primary_dsn`).
#[derive(Debug, Clone, Default)]
struct Loc {
    field: String,
    path: Vec<PathPart>,
}

impl Loc {
    fn key(&self, key: &str) -> Self {
        let mut path = self.path.clone();
        path.push(PathPart::Key(key.to_owned()));
        let field = if self.field.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.field)
        };
        Self { field, path }
    }

    /// Element `index` of the list `key`, shown as `key[label]`.
    fn item(&self, key: &str, index: usize, label: &str) -> Self {
        let mut loc = self.key(key);
        loc.path.push(PathPart::Index(index));
        loc.field = format!("{}[{label}]", loc.field);
        loc
    }

    /// The single table `key`, shown as `key[label]`.
    fn single(&self, key: &str, label: &str) -> Self {
        let mut loc = self.key(key);
        loc.field = format!("{}[{label}]", loc.field);
        loc
    }
}

struct Collector<'a> {
    profile: &'a str,
    problems: Vec<Problem>,
}

impl Collector<'_> {
    fn push(&mut self, loc: &Loc, message: impl Into<String>) {
        self.problems.push(Problem {
            profile: self.profile.to_owned(),
            field: loc.field.clone(),
            message: message.into(),
            path: loc.path.clone(),
        });
    }

    /// The endpoint `kind[index]` (a list element when `list`), labelled by its name; an empty
    /// name is a problem and the label is then its 1-based position.
    fn name(&mut self, kind: &str, index: usize, name: &str, list: bool) -> Loc {
        let label = if name.trim().is_empty() {
            (index + 1).to_string()
        } else {
            name.to_owned()
        };
        let loc = if list {
            Loc::default().item(kind, index, &label)
        } else {
            Loc::default().single(kind, &label)
        };
        if name.trim().is_empty() {
            self.push(&loc.key("name"), "the name must not be empty");
        }
        loc
    }

    /// Where the password goes instead: the command that saves it (OS keyring, or
    /// credentials.toml on a machine without one), for the endpoints that take one.
    fn embedded_password(&self, loc: &Loc) -> String {
        if loc.field.starts_with("team.") {
            return format!(
                "{EMBEDDED_PASSWORD}: remove it from the address and keep it in ~/.pgpass, \
                 PGPASSWORD or the keyring entry {}/postgres/team",
                self.profile
            );
        }
        let (kind, rest) = loc.field.split_once('[').unwrap_or((&loc.field, ""));
        let name = rest.split_once(']').map(|(n, _)| n);
        match name {
            Some(name) if !matches!(kind, "health" | "compose") => format!(
                "{EMBEDDED_PASSWORD}: remove it from the address and save it with `scaleboard \
                 secret set {}/{name}`",
                self.profile
            ),
            _ => format!(
                "{EMBEDDED_PASSWORD}: remove it from the address (this endpoint takes no \
                 password from Scaleboard)"
            ),
        }
    }

    /// A URL that must be present, use one of `schemes`, and carry no password.
    fn url(&mut self, loc: &Loc, value: &str, schemes: &[&str]) {
        let value = value.trim();
        if value.is_empty() {
            self.push(loc, "the address must not be empty");
            return;
        }
        if !schemes.is_empty() {
            let lower = value.to_ascii_lowercase();
            let ok = schemes
                .iter()
                .any(|s| lower.starts_with(&format!("{s}://")));
            if !ok {
                let list: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
                self.push(
                    loc,
                    format!("the address must start with {}", list.join(" or ")),
                );
            }
        }
        if embeds_password(value) {
            let message = self.embedded_password(loc);
            self.push(loc, message);
        }
    }

    fn dsn(&mut self, loc: &Loc, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            self.push(loc, "the connection string must not be empty");
            return;
        }
        if !value.contains("://") && !value.contains('=') {
            self.push(
                loc,
                "the connection string must be a postgres:// URL or libpq key=value pairs",
            );
        }
        if embeds_password(value) {
            let message = self.embedded_password(loc);
            self.push(loc, message);
        }
    }

    fn secret(&mut self, loc: &Loc, secret: Option<&SecretRef>) {
        if let Some(s) = secret {
            if s.service.trim().is_empty() {
                self.push(&loc.key("service"), "the keyring service must not be empty");
            }
            if s.account.trim().is_empty() {
                self.push(&loc.key("account"), "the keyring account must not be empty");
            }
        }
    }

    /// A queue's consuming workload (all three names given) and its configured throughput.
    fn queue_link(
        &mut self,
        loc: &Loc,
        workload: Option<(&Loc, &super::model::QueueWorkload)>,
        jobs_per_worker_per_sec: Option<f64>,
    ) {
        if let Some((wloc, w)) = workload
            && [&w.endpoint, &w.scope, &w.name]
                .iter()
                .any(|s| s.trim().is_empty())
        {
            self.push(
                wloc,
                "the linked workload needs an endpoint, a scope and a name",
            );
        }
        if let Some(rate) = jobs_per_worker_per_sec
            && !(rate.is_finite() && rate > 0.0)
        {
            self.push(
                &loc.key("jobs_per_worker_per_sec"),
                "jobs per worker per second must be a number above 0",
            );
        }
    }

    fn percent(&mut self, loc: &Loc, value: f64) {
        if !(value.is_finite() && value > 0.0 && value <= 100.0) {
            self.push(loc, "must be a percentage above 0 and at most 100");
        }
    }
}

/// `host:port` (port 3306 when not given, host in lower case) and the `name` parameter of a
/// `mysql://` URL, as the connector names its servers.
fn mysql_server_id(url: &str) -> (String, Option<String>) {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let (authority, query) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].split_once('?').map_or("", |(_, q)| q)),
        None => (rest, ""),
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (format!("[{h}]"), p.strip_prefix(':').unwrap_or("")),
            None => (host_port.to_string(), ""),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (host_port.to_string(), ""),
        },
    };
    let port = if port.is_empty() { "3306" } else { port };
    let name = query
        .split('&')
        .find_map(|p| p.strip_prefix("name="))
        .map(str::to_string);
    (format!("{}:{port}", host.to_ascii_lowercase()), name)
}

/// Two URLs of one MySQL endpoint must not be the same server or share a name: a promotion
/// picks its server by name, and one server read twice hides a missing one.
fn mysql_servers_unique(c: &mut Collector<'_>, servers: &[(Loc, &str)]) {
    let mut addresses: HashMap<String, &Loc> = HashMap::new();
    let mut names: HashMap<String, &Loc> = HashMap::new();
    for (loc, url) in servers {
        if url.trim().is_empty() {
            continue;
        }
        let (address, name) = mysql_server_id(url);
        if let Some(first) = addresses.get(&address) {
            c.push(
                loc,
                format!(
                    "{address} is already listed in {}: each server of a MySQL endpoint once",
                    first.field
                ),
            );
            continue;
        }
        addresses.insert(address.clone(), loc);
        let name = name.unwrap_or(address);
        if let Some(first) = names.get(&name) {
            c.push(
                loc,
                format!(
                    "the server name \"{name}\" is already used by {}: server names must \
                     differ (a promotion picks its server by name)",
                    first.field
                ),
            );
        } else {
            names.insert(name, loc);
        }
    }
}

/// Problems with one profile on its own (not comparing it with others).
pub fn validate_profile(p: &Profile) -> Vec<Problem> {
    let mut c = Collector {
        profile: &p.name,
        problems: Vec::new(),
    };
    let root = Loc::default();
    if p.name.trim().is_empty() {
        c.push(&root.key("name"), "the profile name must not be empty");
    }
    if !REFRESH_RANGE.contains(&p.refresh_interval_secs) {
        c.push(
            &root.key("refresh_interval_secs"),
            format!(
                "the refresh interval must be between {} and {} seconds, not {}",
                REFRESH_RANGE.start(),
                REFRESH_RANGE.end(),
                p.refresh_interval_secs
            ),
        );
    }

    let mut seen: HashMap<(&str, String), usize> = HashMap::new();
    // Endpoint names are the engine's ids (rows, series, actions, status lines), so they must
    // also differ across kinds; health checks are members of one "health" endpoint instead.
    let mut kind_of: HashMap<String, &'static str> = HashMap::new();
    let mut unique = |c: &mut Collector<'_>, kind: &'static str, index: usize, name: &str| {
        let key = (kind, name.trim().to_lowercase());
        if key.1.is_empty() {
            return;
        }
        if kind != "health" {
            let first = *kind_of.entry(key.1.clone()).or_insert(kind);
            if first != kind {
                c.push(
                    &root.item(kind, index, name).key("name"),
                    format!(
                        "\"{name}\" names both a {first} and a {kind} endpoint: endpoint names \
                         must differ across kinds too (they name the window's rows, series and \
                         status lines)"
                    ),
                );
            }
        }
        let n = seen.entry(key).or_insert(0);
        *n += 1;
        if *n == 2 {
            c.push(
                &root.item(kind, index, name).key("name"),
                format!("two {kind} endpoints are both named \"{name}\""),
            );
        }
    };

    for (i, k) in p.kubernetes.iter().enumerate() {
        let f = c.name("kubernetes", i, &k.name, true);
        unique(&mut c, "kubernetes", i, &k.name);
        if k.kubeconfig
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            c.push(
                &f.key("kubeconfig"),
                "the kubeconfig path must not be empty",
            );
        }
    }
    for (i, e) in p.compose.iter().enumerate() {
        let f = c.name("compose", i, &e.name, true);
        unique(&mut c, "compose", i, &e.name);
        if let Some(host) = &e.docker_host {
            c.url(&f.key("docker_host"), host, &[]);
        }
    }
    for (i, e) in p.postgres.iter().enumerate() {
        let f = c.name("postgres", i, &e.name, true);
        unique(&mut c, "postgres", i, &e.name);
        c.dsn(&f.key("primary_dsn"), &e.primary_dsn);
        for (j, r) in e.replica_dsns.iter().enumerate() {
            c.dsn(&f.item("replica_dsns", j, &(j + 1).to_string()), r);
        }
        c.secret(&f.key("password"), e.password.as_ref());
    }
    for (i, e) in p.mysql.iter().enumerate() {
        let f = c.name("mysql", i, &e.name, true);
        unique(&mut c, "mysql", i, &e.name);
        c.url(&f.key("primary_url"), &e.primary_url, &["mysql"]);
        let mut servers = vec![(f.key("primary_url"), e.primary_url.as_str())];
        for (j, r) in e.replica_urls.iter().enumerate() {
            let loc = f.item("replica_urls", j, &(j + 1).to_string());
            c.url(&loc, r, &["mysql"]);
            servers.push((loc, r.as_str()));
        }
        mysql_servers_unique(&mut c, &servers);
        c.secret(&f.key("password"), e.password.as_ref());
        if e.max_failover_lag_seconds == 0 {
            c.push(
                &f.key("max_failover_lag_seconds"),
                "must be at least 1 second (a replica is never exactly 0 s behind for sure)",
            );
        }
    }
    for (i, e) in p.redis.iter().enumerate() {
        let f = c.name("redis", i, &e.name, true);
        unique(&mut c, "redis", i, &e.name);
        c.url(&f.key("url"), &e.url, &["redis", "rediss", "unix"]);
        c.secret(&f.key("password"), e.password.as_ref());
        for (j, q) in e.queues.iter().enumerate() {
            let qf = if q.name.trim().is_empty() {
                let qf = f.item("queues", j, &(j + 1).to_string());
                c.push(&qf.key("name"), "the queue name must not be empty");
                qf
            } else {
                f.item("queues", j, &q.name)
            };
            if q.key.as_ref().is_some_and(|k| k.trim().is_empty()) {
                c.push(&qf.key("key"), "the key must not be empty when given");
            }
            let wloc = qf.key("linked_workload");
            c.queue_link(
                &qf,
                q.linked_workload.as_ref().map(|w| (&wloc, w)),
                q.jobs_per_worker_per_sec,
            );
        }
    }
    if let Some(e) = &p.rabbitmq {
        let f = c.name("rabbitmq", 0, &e.name, false);
        unique(&mut c, "rabbitmq", 0, &e.name);
        c.url(
            &f.key("management_url"),
            &e.management_url,
            &["http", "https"],
        );
        c.secret(&f.key("password"), e.password.as_ref());
        for (j, l) in e.links.iter().enumerate() {
            let lf = f.item("links", j, &(j + 1).to_string());
            if l.queue.trim().is_empty() {
                c.push(&lf.key("queue"), "the queue name must not be empty");
            }
            // Shown as `linked_workload` like a Redis queue's; in the file it is `workload`.
            let mut wloc = lf.key("workload");
            wloc.field = lf.key("linked_workload").field;
            c.queue_link(&lf, Some((&wloc, &l.workload)), l.jobs_per_worker_per_sec);
        }
    }
    for (i, e) in p.health.iter().enumerate() {
        let f = c.name("health", i, &e.name, true);
        unique(&mut c, "health", i, &e.name);
        c.url(&f.key("url"), &e.url, &["http", "https"]);
        if !(100..=599).contains(&e.expected_status) {
            c.push(
                &f.key("expected_status"),
                "the expected status must be an HTTP status code between 100 and 599",
            );
        }
        if e.timeout_ms == 0 {
            c.push(&f.key("timeout_ms"), "the timeout must be more than 0 ms");
        }
        if e.interval_secs > 3600 {
            c.push(
                &f.key("interval_secs"),
                "the probe interval must be at most 3600 seconds (0 means the profile's refresh)",
            );
        }
        if e.ca_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            c.push(&f.key("ca_file"), "the CA file path must not be empty");
        }
        if let Some(url) = &e.nginx_stub_status {
            c.url(&f.key("nginx_stub_status"), url, &["http", "https"]);
        }
    }
    if let Some(e) = &p.prometheus {
        let f = c.name("prometheus", 0, &e.name, false);
        unique(&mut c, "prometheus", 0, &e.name);
        c.url(&f.key("url"), &e.url, &["http", "https"]);
        c.secret(&f.key("token"), e.token.as_ref());
        if !(1..=86_400).contains(&e.history_secs) {
            c.push(
                &f.key("history_secs"),
                "the history to load must be between 1 and 86400 seconds",
            );
        }
        let mut names = std::collections::HashSet::new();
        let presets = e.presets.len();
        for (i, q) in e.all_queries().iter().enumerate() {
            // Presets come first in `all_queries`; in the file they are a list of their own.
            let (list, index) = if i < presets {
                ("presets", i)
            } else {
                ("queries", i - presets)
            };
            let mut qf = if q.name.trim().is_empty() {
                f.item(list, index, &(i + 1).to_string())
            } else {
                f.item(list, index, &q.name)
            };
            if list == "presets" {
                // A preset's query is built in; its problems are shown under `queries`.
                qf.field = f.item("queries", i, &q.name).field;
            }
            if q.name.trim().is_empty() {
                c.push(&qf.key("name"), "the query name must not be empty");
            }
            if q.name.contains('/') {
                c.push(&qf.key("name"), "the query name must not contain \"/\"");
            }
            if !q.name.trim().is_empty() && !names.insert(q.name.trim().to_lowercase()) {
                c.push(
                    &qf.key("name"),
                    format!("two queries are both named \"{}\"", q.name),
                );
            }
            if q.expr.trim().is_empty() {
                c.push(&qf.key("expr"), "the PromQL expression must not be empty");
            }
        }
    }

    for (i, e) in p.pgbouncer.iter().enumerate() {
        let f = c.name("pgbouncer", i, &e.name, true);
        unique(&mut c, "pgbouncer", i, &e.name);
        c.dsn(&f.key("dsn"), &e.dsn);
        if let Some(db) = named_database(&e.dsn)
            && db != "pgbouncer"
        {
            c.push(
                &f.key("dsn"),
                format!(
                    "PgBouncer's admin console is the database \"pgbouncer\", not \"{db}\" \
                     (leave the database out or name pgbouncer)"
                ),
            );
        }
        c.secret(&f.key("password"), e.password.as_ref());
        if let Some(pct) = e.pool_warn_percent {
            c.percent(&f.key("pool_warn_percent"), pct);
        }
    }

    for (i, e) in p.patroni.iter().enumerate() {
        let f = c.name("patroni", i, &e.name, true);
        unique(&mut c, "patroni", i, &e.name);
        for (j, u) in e.urls.iter().enumerate() {
            c.url(
                &f.item("urls", j, &(j + 1).to_string()),
                u,
                &["http", "https"],
            );
        }
        match e.discover_from.as_deref().map(str::trim) {
            None if e.urls.is_empty() => c.push(
                &f.key("urls"),
                "name the REST API of at least one member (urls = [\"http://db1:8008\"]) or a \
                 postgres endpoint to find them on (discover_from = \"main\")",
            ),
            Some("") => c.push(
                &f.key("discover_from"),
                "the postgres endpoint name must not be empty",
            ),
            Some(pg) if !p.postgres.iter().any(|x| x.name == pg) => c.push(
                &f.key("discover_from"),
                format!(
                    "no postgres endpoint of this profile is named \"{pg}\"{}",
                    super::schema::suggest(
                        pg,
                        &p.postgres
                            .iter()
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                    )
                    .map_or(String::new(), |s| format!(" (did you mean \"{s}\"?)"))
                ),
            ),
            _ => {}
        }
        if e.port == 0 {
            c.push(
                &f.key("port"),
                "the REST API port must be between 1 and 65535",
            );
        }
        if e.username.as_ref().is_some_and(|u| u.trim().is_empty()) {
            c.push(
                &f.key("username"),
                "the user name must not be empty when given",
            );
        }
        c.secret(&f.key("password"), e.password.as_ref());
        if e.ca_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            c.push(&f.key("ca_file"), "the CA file path must not be empty");
        }
    }

    if let Some(team) = &p.team {
        let f = root.key("team");
        c.dsn(&f.key("dsn"), &team.dsn);
        if !valid_schema_name(&team.schema) {
            c.push(
                &f.key("schema"),
                "the schema must be a plain name: a lower-case letter or \"_\" first, then letters, digits \
                 or \"_\", at most 63 characters",
            );
        }
        c.secret(&f.key("password"), team.password.as_ref());
    }
    for (i, e) in p.nginx.iter().enumerate() {
        let f = c.name("nginx", i, &e.name, true);
        unique(&mut c, "nginx", i, &e.name);
        nginx_endpoint(&mut c, &f, e, p);
    }

    let t = root.key("thresholds");
    c.percent(&t.key("cpu_percent"), p.thresholds.cpu_percent);
    c.percent(&t.key("memory_percent"), p.thresholds.memory_percent);
    c.percent(
        &t.key("connections_percent"),
        p.thresholds.connections_percent,
    );
    c.percent(
        &t.key("cache_memory_percent"),
        p.thresholds.cache_memory_percent,
    );
    c.percent(
        &t.key("error_rate_percent"),
        p.thresholds.error_rate_percent,
    );
    let th = &p.thresholds;
    if !(th.cache_hit_ratio_floor.is_finite() && (0.0..=1.0).contains(&th.cache_hit_ratio_floor)) {
        c.push(
            &t.key("cache_hit_ratio_floor"),
            "the cache hit ratio floor must be between 0 and 1",
        );
    }
    if !(th.queue_drain_target_minutes.is_finite() && th.queue_drain_target_minutes > 0.0) {
        c.push(
            &t.key("queue_drain_target_minutes"),
            "the target drain time must be more than 0 minutes",
        );
    }
    let builtin = crate::advisor::default_rules();
    for (i, message) in crate::advisor::rules::rule_config_problems(&p.rules, &builtin) {
        let label = p.rules.get(i).map_or("", |r| r.id.as_str());
        c.push(&root.item("rules", i, label), message);
    }
    c.problems
}

/// A schema name the team store can use unquoted in SQL (no quoting games, no injection).
pub fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// An nginx endpoint: one place to read the configuration from, a usable status URL, and
/// links that name an upstream, a workload of this profile's Docker endpoints and a port.
fn nginx_endpoint(c: &mut Collector<'_>, f: &Loc, e: &super::model::NginxEndpoint, p: &Profile) {
    use super::model::UpstreamAddressing;
    match (&e.config, &e.container) {
        (None, None) => c.push(
            &f.key("config"),
            "name the configuration file (config = \"/etc/nginx/nginx.conf\") or the container \
             nginx runs in (container = \"lb\")",
        ),
        (Some(_), Some(_)) => c.push(
            &f.key("container"),
            "give either config (a file on this machine) or container, not both",
        ),
        (Some(path), None) if path.as_os_str().is_empty() => {
            c.push(&f.key("config"), "the configuration path must not be empty");
        }
        (None, Some(name)) if name.trim().is_empty() => {
            c.push(&f.key("container"), "the container name must not be empty");
        }
        _ => {}
    }
    if let Some(host) = &e.docker_host {
        c.url(&f.key("docker_host"), host, &[]);
    }
    for (key, cmd) in [
        ("test_command", &e.test_command),
        ("reload_command", &e.reload_command),
    ] {
        if cmd.as_ref().is_some_and(|s| s.trim().is_empty()) {
            c.push(&f.key(key), "the command must not be empty when given");
        }
    }
    if let Some(url) = &e.stub_status_url {
        c.url(&f.key("stub_status_url"), url, &["http", "https"]);
    }
    if e.drain_timeout_secs > 3600 {
        c.push(
            &f.key("drain_timeout_secs"),
            "the drain wait must be at most 3600 seconds (0 means the default, 30)",
        );
    }
    let mut upstreams = std::collections::HashSet::new();
    for (j, l) in e.links.iter().enumerate() {
        let label = if l.upstream.trim().is_empty() {
            (j + 1).to_string()
        } else {
            l.upstream.clone()
        };
        let lf = f.item("links", j, &label);
        if l.upstream.trim().is_empty() {
            c.push(&lf.key("upstream"), "the upstream name must not be empty");
        } else if !upstreams.insert(l.upstream.trim().to_owned()) {
            c.push(
                &lf.key("upstream"),
                format!("the upstream \"{}\" is linked twice", l.upstream),
            );
        }
        let w = &l.workload;
        if [&w.endpoint, &w.scope, &w.name]
            .iter()
            .any(|s| s.trim().is_empty())
        {
            c.push(
                &lf.key("workload"),
                "the workload needs an endpoint, a scope (Compose project, or \"swarm\") and a name",
            );
        } else if !p.compose.iter().any(|d| d.name == w.endpoint) {
            let names: Vec<&str> = p.compose.iter().map(|d| d.name.as_str()).collect();
            c.push(
                &lf.key("workload").key("endpoint"),
                format!(
                    "no Docker endpoint of this profile is named \"{}\"{}",
                    w.endpoint,
                    super::schema::suggest(&w.endpoint, &names)
                        .map_or(String::new(), |s| format!(" (did you mean \"{s}\"?)"))
                ),
            );
        }
        if l.port == 0 {
            c.push(&lf.key("port"), "the port must be between 1 and 65535");
        }
        if l.addressing == UpstreamAddressing::Dns
            && l.host.as_ref().is_none_or(|h| h.trim().is_empty())
        {
            c.push(
                &lf.key("host"),
                "a dns upstream needs the name nginx resolves (host = \"api\")",
            );
        }
    }
}

/// Problems with a whole set of profiles: each one on its own, plus names that are not unique
/// (compared ignoring case and surrounding spaces).
pub fn validate_set(profiles: &[Profile]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in profiles {
        problems.extend(validate_profile(p));
        let key = p.name.trim().to_lowercase();
        if key.is_empty() {
            continue;
        }
        let n = counts.entry(key).or_insert(0);
        *n += 1;
        if *n == 2 {
            problems.push(Problem {
                profile: p.name.clone(),
                field: "name".to_owned(),
                message: format!("another profile is already named \"{}\"", p.name.trim()),
                path: vec![PathPart::Key("name".to_owned())],
            });
        }
    }
    problems
}

/// The database a DSN names (URL path or `dbname=`), when it names one.
fn named_database(dsn: &str) -> Option<String> {
    let dsn = dsn.trim();
    if let Some(idx) = dsn.find("://") {
        let rest = &dsn[idx + 3..];
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (_, path) = rest.split_once('/')?;
        return (!path.is_empty()).then(|| path.to_owned());
    }
    dsn.split_whitespace().find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == "dbname" && !v.is_empty()).then(|| v.trim_matches('\'').to_owned())
    })
}

/// True if a DSN or URL carries a password: `scheme://user:pw@host`, `scheme://:pw@host`,
/// `?password=...` in a URL query, or `password=...` in a libpq key/value string.
pub fn embeds_password(dsn: &str) -> bool {
    let dsn = dsn.trim();
    if let Some(idx) = dsn.find("://") {
        let rest = &dsn[idx + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':')
                && !userinfo[colon + 1..].is_empty()
            {
                return true;
            }
        }
        if let Some(q) = rest.find('?') {
            let query = rest[q + 1..].split('#').next().unwrap_or("");
            return query.split('&').any(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                is_password_key(key) && !value.is_empty()
            });
        }
        false
    } else {
        keyvalue_has_password(dsn)
    }
}

fn is_password_key(key: &str) -> bool {
    let key = key.trim();
    key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("pass")
}

/// libpq key/value: `host=h password = 'x y' dbname=d`. Keys and '=' may be separated by spaces;
/// values may be single-quoted with backslash escapes.
fn keyvalue_has_password(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < n && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[key_start..i].iter().collect();
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n || chars[i] != '=' {
            // Not a key=value pair; skip this word.
            if i == key_start {
                i += 1;
            }
            continue;
        }
        i += 1;
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < n && chars[i] == '\'' {
            i += 1;
            while i < n && chars[i] != '\'' {
                if chars[i] == '\\' && i + 1 < n {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < n && !chars[i].is_whitespace() {
                value.push(chars[i]);
                i += 1;
            }
        }
        if is_password_key(&key) && !value.is_empty() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::model::{PostgresEndpoint, RedisEndpoint};

    #[test]
    fn detects_embedded_passwords() {
        for bad in [
            "postgres://user:pw@host/db",
            "postgresql://u:secret@h:5432/db?sslmode=require",
            "redis://:pw@host:6379",
            "https://u:p@host/metrics",
            "host=db password=hunter2 dbname=app",
            "host=db password = 'a b' dbname=app",
            "host=db PASSWORD=x",
            "postgres://u@h/db?password=x",
        ] {
            assert!(embeds_password(bad), "{bad}");
        }
        for good in [
            "postgres://user@host/db",
            "postgres://host/db",
            "redis://host:6379/0",
            "redis://user@host",
            "https://host:9090/",
            "host=db user=app dbname=app",
            "host=db passfile=/x/.pgpass",
            "host=db password=''",
            "http://host/path?q=a@b:c",
        ] {
            assert!(!embeds_password(good), "{good}");
        }
    }

    #[test]
    fn refuses_password_in_profile() {
        let mut p = Profile::named("prod");
        p.postgres.push(PostgresEndpoint {
            name: "main".into(),
            primary_dsn: "postgres://u:secret@h/db".into(),
            ..PostgresEndpoint::default()
        });
        let problems = validate_profile(&p);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "postgres[main].primary_dsn");
        assert!(problems[0].to_string().contains(EMBEDDED_PASSWORD));
    }

    #[test]
    fn checks_queue_sources() {
        use crate::profiles::model::{QueueLink, QueueWorkload, RabbitMqEndpoint, RedisQueue};
        let mut p = Profile::named("prod");
        p.redis.push(RedisEndpoint {
            name: "jobs".into(),
            url: "redis://h".into(),
            queues: vec![
                RedisQueue {
                    name: "emails".into(),
                    jobs_per_worker_per_sec: Some(0.0),
                    linked_workload: Some(QueueWorkload {
                        endpoint: "k8s".into(),
                        scope: String::new(),
                        name: "worker".into(),
                        kind: None,
                    }),
                    ..RedisQueue::default()
                },
                RedisQueue::default(),
            ],
            ..Default::default()
        });
        p.rabbitmq = Some(RabbitMqEndpoint {
            name: "mq".into(),
            management_url: "http://mq:15672".into(),
            links: vec![QueueLink::default()],
            ..Default::default()
        });
        p.thresholds.queue_drain_target_minutes = 0.0;
        let fields: Vec<String> = validate_profile(&p).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "redis[jobs].queues[emails].linked_workload",
                "redis[jobs].queues[emails].jobs_per_worker_per_sec",
                "redis[jobs].queues[2].name",
                "rabbitmq[mq].links[1].queue",
                "rabbitmq[mq].links[1].linked_workload",
                "thresholds.queue_drain_target_minutes",
            ]
        );
    }

    #[test]
    fn queue_sources_from_toml() {
        use crate::profiles::model::QueuePreset;
        let text = r#"
name = "prod"
[[redis]]
name = "jobs"
url = "redis://app@10.0.0.5:6379"
password = { account = "prod/redis/jobs" }
[[redis.queues]]
preset = "bullmq"
name = "emails"
linked_workload = { endpoint = "k8s", scope = "prod/default", name = "email-worker" }
jobs_per_worker_per_sec = 5.0
[[redis.queues]]
preset = "custom"
name = "events"
key = "stream:events"

[rabbitmq]
name = "mq"
management_url = "http://rabbit:15672"
user = "ops"
vhost = "/"
links = [{ queue = "orders", workload = { endpoint = "compose", scope = "shop", name = "worker" } }]

[thresholds]
queue_drain_target_minutes = 10.0
"#;
        let p: Profile = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(validate_profile(&p), Vec::new());
        assert_eq!(p.redis[0].queues[1].preset, QueuePreset::Custom);
        assert_eq!(
            p.redis[0].password.as_ref().map(|s| s.service.as_str()),
            Some("scaleboard")
        );
        assert_eq!(p.rabbitmq.as_ref().map(|r| r.links.len()), Some(1));
    }

    #[test]
    fn endpoint_names_differ_across_kinds_but_health_checks_may_reuse_them() {
        let mut p = Profile::named("prod");
        p.redis.push(RedisEndpoint {
            name: "mq".into(),
            url: "redis://127.0.0.1:6379".into(),
            ..Default::default()
        });
        p.rabbitmq = Some(crate::profiles::RabbitMqEndpoint {
            name: "mq".into(),
            management_url: "http://127.0.0.1:15672".into(),
            ..Default::default()
        });
        let problems = validate_profile(&p);
        assert!(
            problems.iter().any(|x| x
                .message
                .contains("\"mq\" names both a redis and a rabbitmq endpoint")),
            "{problems:?}"
        );
        p.rabbitmq = None;
        p.health.push(crate::profiles::HealthEndpoint {
            name: "mq".into(),
            url: "http://127.0.0.1/health".into(),
            ..Default::default()
        });
        assert!(
            validate_profile(&p).is_empty(),
            "{:?}",
            validate_profile(&p)
        );
    }

    #[test]
    fn checks_pgbouncer_endpoints() {
        use crate::profiles::model::PgbouncerEndpoint;
        let mut p = Profile::named("prod");
        let ep = |name: &str, dsn: &str, warn: Option<f64>| PgbouncerEndpoint {
            name: name.into(),
            dsn: dsn.into(),
            password: None,
            pool_warn_percent: warn,
        };
        p.pgbouncer = vec![
            ep("ok-url", "postgres://stats@h:6432/pgbouncer", Some(85.0)),
            ep("ok-kv", "host=h port=6432 user=stats", None),
            ep("pw", "postgres://stats:secret@h:6432/pgbouncer", None),
            ep("app-db", "host=h port=6432 user=stats dbname=orders", None),
            ep("warn", "postgres://stats@h:6432", Some(0.0)),
            ep("", "", None),
        ];
        let problems = validate_profile(&p);
        let fields: Vec<&str> = problems.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "pgbouncer[pw].dsn",
                "pgbouncer[app-db].dsn",
                "pgbouncer[warn].pool_warn_percent",
                "pgbouncer[6].name",
                "pgbouncer[6].dsn",
            ],
            "{problems:?}"
        );
        assert!(problems[0].message.contains(EMBEDDED_PASSWORD));
        assert!(problems[1].message.contains("\"orders\""), "{problems:?}");
    }

    #[test]
    fn checks_the_team_store() {
        let mut p = Profile::named("prod");
        let text = "name = \"prod\"\n[team]\ndsn = \"postgres://ops@db/team\"\n";
        p.team = Some(toml::from_str::<Profile>(text).unwrap().team.unwrap());
        let team = p.team.as_ref().unwrap();
        assert_eq!((team.schema.as_str(), team.require), ("scaleboard", true));
        assert!(
            validate_profile(&p).is_empty(),
            "{:?}",
            validate_profile(&p)
        );

        let team = p.team.as_mut().unwrap();
        team.dsn = "postgres://ops:hunter2@db/team".into();
        team.schema = "Team; DROP".into();
        let problems = validate_profile(&p);
        let fields: Vec<&str> = problems.iter().map(|q| q.field.as_str()).collect();
        assert_eq!(fields, ["team.dsn", "team.schema"], "{problems:?}");
        assert!(
            problems[0].message.contains("prod/postgres/team"),
            "{problems:?}"
        );
        assert!(problems[0].path == [PathPart::Key("team".into()), PathPart::Key("dsn".into())]);
        assert!(valid_schema_name("ops_audit2") && !valid_schema_name("2x"));
    }

    #[test]
    fn checks_names_refresh_and_urls() {
        let mut p = Profile::named("");
        p.refresh_interval_secs = 0;
        p.redis.push(RedisEndpoint::default());
        p.redis.push(RedisEndpoint {
            name: "a".into(),
            url: "http://x".into(),
            password: None,
            ..Default::default()
        });
        let fields: Vec<String> = validate_profile(&p).into_iter().map(|p| p.field).collect();
        assert!(fields.contains(&"name".to_owned()));
        assert!(fields.contains(&"refresh_interval_secs".to_owned()));
        assert!(fields.contains(&"redis[1].name".to_owned()));
        assert!(fields.contains(&"redis[1].url".to_owned()));
        assert!(fields.contains(&"redis[a].url".to_owned()));

        let set = [Profile::named("Prod"), Profile::named(" prod ")];
        let problems = validate_set(&set);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("already named"));
        assert!(validate_set(&[Profile::demo_default()]).is_empty());
    }
}
