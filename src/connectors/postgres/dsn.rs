//! Connection strings as libpq reads them: `postgres://user@host:port/db?sslmode=require` URLs
//! and `host=… port=… user=…` key/value strings, plus libpq's password file.
//!
//! tokio-postgres parses neither `verify-ca`/`verify-full` nor `passfile`, so the connector
//! parses the string itself and builds a `tokio_postgres::Config` from the parts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// libpq's `sslmode`, all six values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode \"{other}\" is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    /// Whether the server certificate is checked against trusted roots.
    pub fn verifies_chain(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

/// One server's connection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Dsn {
    /// Host name, IP address, or a Unix socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<String>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub passfile: Option<PathBuf>,
    pub application_name: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub options: Option<String>,
}

impl Dsn {
    /// `host:port`, how the server is named when the DSN gives no `application_name`.
    pub fn address(&self) -> String {
        if self.host.starts_with('/') {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Defaults that libpq takes from the environment (`PGHOST`, `PGUSER`, …).
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    pub host: Option<String>,
    pub port: Option<String>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: Option<String>,
    pub passfile: Option<String>,
    pub password: Option<String>,
}

impl Defaults {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            host: var("PGHOST"),
            port: var("PGPORT"),
            user: var("PGUSER"),
            dbname: var("PGDATABASE"),
            sslmode: var("PGSSLMODE"),
            passfile: var("PGPASSFILE"),
            password: var("PGPASSWORD"),
        }
    }
}

const KNOWN: [&str; 11] = [
    "host",
    "hostaddr",
    "port",
    "user",
    "dbname",
    "password",
    "sslmode",
    "sslrootcert",
    "passfile",
    "application_name",
    "connect_timeout",
];

/// Parse a DSN (URL or key/value) into settings, filling gaps from `defaults` like libpq.
pub fn parse(text: &str, defaults: &Defaults) -> Result<Dsn, String> {
    let text = text.trim();
    let pairs = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        parse_url(text)?
    } else {
        parse_key_values(text)?
    };
    for key in pairs.keys() {
        if !KNOWN.contains(&key.as_str())
            && !matches!(
                key.as_str(),
                "options" | "target_session_attrs" | "gssencmode"
            )
        {
            return Err(format!("unknown connection option \"{key}\""));
        }
    }
    let get = |k: &str| pairs.get(k).filter(|v| !v.is_empty()).cloned();
    let host = get("hostaddr")
        .or_else(|| get("host"))
        .or_else(|| defaults.host.clone())
        .unwrap_or_else(default_host);
    if host.contains(',') {
        return Err("several hosts in one connection string are not supported: list each server as its own DSN".into());
    }
    let port_text = get("port")
        .or_else(|| defaults.port.clone())
        .unwrap_or_else(|| "5432".into());
    let port = port_text
        .parse::<u16>()
        .map_err(|_| format!("port \"{port_text}\" is not a port number"))?;
    let user = get("user")
        .or_else(|| defaults.user.clone())
        .unwrap_or_else(crate::model::units::os_user);
    let dbname = get("dbname")
        .or_else(|| defaults.dbname.clone())
        .unwrap_or_else(|| user.clone());
    let sslmode = SslMode::parse(
        &get("sslmode")
            .or_else(|| defaults.sslmode.clone())
            .unwrap_or_else(|| "prefer".into()),
    )?;
    let connect_timeout = match get("connect_timeout") {
        None => None,
        Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
            format!("connect_timeout \"{t}\" is not a number of seconds")
        })?)),
    };
    Ok(Dsn {
        host,
        port,
        user,
        dbname,
        password: get("password"),
        sslmode,
        sslrootcert: get("sslrootcert").map(PathBuf::from),
        passfile: get("passfile")
            .or_else(|| defaults.passfile.clone())
            .map(PathBuf::from),
        application_name: get("application_name"),
        connect_timeout,
        options: get("options"),
    })
}

fn default_host() -> String {
    if cfg!(unix) && Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql".into()
    } else {
        "localhost".into()
    }
}

fn parse_key_values(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!(
                "\"{key}\" has no value: expected key=value pairs or a postgres:// URL"
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("the quoted value of \"{key}\" is not closed")),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.insert(key, value);
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-escape in \"{text}\""))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("\"{text}\" is not UTF-8 once decoded"))
}

fn parse_url(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let rest = text.split_once("://").map(|(_, r)| r).ok_or("not a URL")?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        out.insert("user".into(), percent_decode(user)?);
        if let Some(p) = password {
            out.insert("password".into(), percent_decode(p)?);
        }
    }
    if !hostport.is_empty() {
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (h, after) = inner
                .split_once(']')
                .ok_or("an IPv6 address in brackets is not closed")?;
            (h.to_string(), after.strip_prefix(':').map(str::to_string))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (hostport.to_string(), None),
            }
        };
        if !host.is_empty() {
            out.insert("host".into(), percent_decode(&host)?);
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            out.insert("port".into(), p);
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        out.insert("dbname".into(), percent_decode(db)?);
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k)?, percent_decode(v)?);
    }
    Ok(out)
}

/// What a password file gives for one server.
#[derive(Clone, PartialEq, Eq)]
pub enum Passfile {
    /// A line matches: the password (never printed by `Debug`).
    Found(String),
    /// No line matches this server.
    NoMatch,
    /// There is no such file.
    Missing,
    /// Ignored, as libpq ignores it: the group or others may read it (the mode is given).
    TooOpen(u32),
    /// Not a regular file, or unreadable (the reason).
    Unusable(String),
}

impl std::fmt::Debug for Passfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Found(_) => f.write_str("Found(..)"),
            Self::NoMatch => f.write_str("NoMatch"),
            Self::Missing => f.write_str("Missing"),
            Self::TooOpen(mode) => write!(f, "TooOpen({mode:04o})"),
            Self::Unusable(why) => write!(f, "Unusable({why})"),
        }
    }
}

/// Reads a password file as libpq does: `hostname:port:database:username:password` lines, `*`
/// matches anything, `\` escapes `:` and `\`; the first matching line wins. On Unix a file
/// the group or others can access is ignored ("permissions should be u=rw (0600) or less").
pub fn passfile_lookup(path: &Path, dsn: &Dsn) -> Passfile {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Passfile::Missing,
        Err(e) => return Passfile::Unusable(e.to_string()),
    };
    if !meta.is_file() {
        return Passfile::Unusable("not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Passfile::TooOpen(mode);
        }
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Passfile::Unusable(e.to_string()),
    };
    let host = if dsn.host.starts_with('/') {
        "localhost"
    } else {
        dsn.host.as_str()
    };
    let port = dsn.port.to_string();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass_line(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        if matches(&fields[0], host)
            && matches(&fields[1], &port)
            && matches(&fields[2], &dsn.dbname)
            && matches(&fields[3], &dsn.user)
        {
            return Passfile::Found(fields[4..].join(":"));
        }
    }
    Passfile::NoMatch
}

/// The password libpq would use from a password file (see [`passfile_lookup`]). Missing,
/// unreadable or too open files give None; a too open one is reported once per path, in the
/// words libpq uses.
pub fn password_from_file(path: &Path, dsn: &Dsn) -> Option<String> {
    match passfile_lookup(path, dsn) {
        Passfile::Found(p) => Some(p),
        Passfile::TooOpen(mode) => {
            static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
            let mut warned = WARNED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !warned.iter().any(|p| p == path) {
                warned.push(path.to_path_buf());
                log::warn!(
                    "password file \"{}\" has group or world access (mode {mode:04o}) and is \
                     ignored, as libpq does; permissions should be u=rw (0600) or less: chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
            None
        }
        _ => None,
    }
}

fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

/// Where libpq looks for the password file when neither `passfile` nor `PGPASSFILE` is set.
pub fn default_passfile() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().join(".pgpass"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Defaults {
        Defaults {
            user: Some("ops".into()),
            ..Defaults::default()
        }
    }

    #[test]
    fn urls_are_parsed_with_escapes_and_query() {
        let d = parse(
            "postgresql://app%40x@db.example:6543/orders?sslmode=verify-full&application_name=db1",
            &none(),
        )
        .unwrap();
        assert_eq!(d.host, "db.example");
        assert_eq!(d.port, 6543);
        assert_eq!(d.user, "app@x");
        assert_eq!(d.dbname, "orders");
        assert_eq!(d.sslmode, SslMode::VerifyFull);
        assert_eq!(d.application_name.as_deref(), Some("db1"));
        let v6 = parse("postgres://[::1]:5433/x", &none()).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5433));
        assert_eq!(v6.address(), "[::1]:5433");
    }

    #[test]
    fn key_values_with_quotes_and_defaults() {
        let d = parse(
            "host=127.0.0.1 port = 5499 dbname='my db' passfile=/tmp/pg\\ pass",
            &none(),
        )
        .unwrap();
        assert_eq!(d.address(), "127.0.0.1:5499");
        assert_eq!(d.dbname, "my db");
        assert_eq!(d.user, "ops");
        assert_eq!(d.sslmode, SslMode::Prefer);
        assert_eq!(d.passfile, Some(PathBuf::from("/tmp/pg pass")));
        assert!(parse("host=a sslmode=sometimes", &none()).is_err());
        assert!(
            parse("host=a bogus=1", &none())
                .unwrap_err()
                .contains("bogus")
        );
        assert!(parse("host=a,b", &none()).is_err());
    }

    #[test]
    fn pgpass_matches_wildcards_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:5432:*:ops:nope\n127.0.0.1:*:*:ops:se\\:cret\n*:*:*:*:fallback\n",
        )
        .unwrap();
        let d = parse("host=127.0.0.1 port=5999", &none()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(passfile_lookup(&path, &d), Passfile::TooOpen(0o644));
            assert_eq!(password_from_file(&path, &d), None, "ignored like libpq");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(
            passfile_lookup(&dir.path().join("none"), &d),
            Passfile::Missing
        );
        assert_eq!(password_from_file(&path, &d).as_deref(), Some("se:cret"));
        let other = parse("host=elsewhere", &none()).unwrap();
        assert_eq!(
            password_from_file(&path, &other).as_deref(),
            Some("fallback")
        );
    }
}
