//! nginx as a load balancer: its configuration read from a local file (includes followed) or
//! from a container (`nginx -T`), its upstream blocks parsed with byte spans, guarded edits of
//! one block (digest and master pid re-checked, `nginx -t`, the old file put back when the test
//! fails), reload, and the facts drift needs (master pid, time of the last reload).
//!
//! - [`parse`]: the lossless reader of upstream blocks.
//! - [`edit`]: span edits of one upstream, and the preview diff.
//! - [`replicas`]: a workload's running replicas and their addresses, from `docker inspect`.
//! - [`drift`]: configured servers vs running replicas.
//! - [`guarded`]: the write → test → reload (or restore) sequence.
//! - [`site`]: where nginx runs (this machine or a container): how its files are read and
//!   written and its processes seen.
//! - [`container`]: `docker cp` (the archive API) and `docker top` for nginx in a container.
//! - [`status`]: every linked upstream of a profile checked, with exit codes.

pub mod container;
pub mod drift;
pub mod edit;
pub mod guarded;
pub mod parse;
pub mod preview;
pub mod replicas;
pub mod site;
pub mod status;

use std::path::{Path, PathBuf};

use crate::profiles::NginxEndpoint;
use parse::{FileFacts, Upstream};

/// Most files followed through `include`s (a loop or a huge glob stops here).
pub const MAX_FILES: usize = 256;
/// Largest configuration file read.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum NginxError {
    #[error("could not read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}, {source}")]
    Parse {
        path: String,
        source: parse::ParseError,
    },
    #[error("{0}")]
    Other(String),
}

/// One configuration file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
    pub facts: FileFacts,
}

/// Every file of a configuration, main file first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub files: Vec<ConfigFile>,
}

impl Config {
    /// The upstream named `name` and the file that holds it.
    pub fn upstream(&self, name: &str) -> Option<(&ConfigFile, &Upstream)> {
        self.files.iter().find_map(|f| {
            f.facts
                .upstreams
                .iter()
                .find(|u| u.name == name)
                .map(|u| (f, u))
        })
    }

    /// The `pid` directive of the main file, if any.
    pub fn pid_path(&self) -> Option<PathBuf> {
        let main = self.files.first()?;
        let tree = parse::directives(&main.text).ok()?;
        let d = tree.iter().find(|d| d.name == "pid")?;
        d.args.first().map(PathBuf::from)
    }
}

/// A short, stable digest of a file's bytes (FNV-1a, 64 bit): shown in plans and compared at
/// the re-check. Collisions are not a concern: the re-check also compares the bytes.
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn read_bounded(path: &Path) -> Result<String, NginxError> {
    let fail = |reason: String| NginxError::Read {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "it is {} bytes, more than the {MAX_FILE_BYTES} read",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))
}

/// `*` and `?` in one path component.
fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Files an `include` names: relative to the main file's directory (nginx's conf prefix when
/// started with `-c`), a glob in the last component expanded in name order, as nginx does.
fn include_paths(base: &Path, arg: &str) -> Vec<PathBuf> {
    let full = if Path::new(arg).is_absolute() {
        PathBuf::from(arg)
    } else {
        base.join(arg)
    };
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![full];
    }
    let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Read a local configuration and every file it includes (each once, at most [`MAX_FILES`]).
pub fn load_local(main: &Path) -> Result<Config, NginxError> {
    let base = main.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut config = Config::default();
    let mut queue = vec![main.to_path_buf()];
    while let Some(path) = queue.pop() {
        if config.files.iter().any(|f| f.path == path) {
            continue;
        }
        if config.files.len() >= MAX_FILES {
            return Err(NginxError::Other(format!(
                "{} includes more than {MAX_FILES} files",
                main.display()
            )));
        }
        let text = read_bounded(&path)?;
        let facts = parse::file_facts(&text).map_err(|source| NginxError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        // Depth first, in order: push in reverse so the first include is read next.
        let mut next: Vec<PathBuf> = facts
            .includes
            .iter()
            .flat_map(|i| include_paths(&base, i))
            .collect();
        next.reverse();
        queue.extend(next);
        config.files.push(ConfigFile { path, text, facts });
    }
    Ok(config)
}

/// Split `nginx -T` output into its files (`# configuration file PATH:` headers).
pub fn parse_dump(dump: &str) -> Result<Config, NginxError> {
    const HEAD: &str = "# configuration file ";
    let mut config = Config::default();
    let mut current: Option<(PathBuf, String)> = None;
    let flush = |cur: Option<(PathBuf, String)>, config: &mut Config| -> Result<(), NginxError> {
        if let Some((path, mut text)) = cur {
            // nginx -T adds one newline after each file.
            if text.ends_with("\n\n") {
                text.pop();
            }
            let facts = parse::file_facts(&text).map_err(|source| NginxError::Parse {
                path: path.display().to_string(),
                source,
            })?;
            config.files.push(ConfigFile { path, text, facts });
        }
        Ok(())
    };
    for line in dump.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(HEAD)
            && let Some(path) = rest.trim_end().strip_suffix(':')
        {
            flush(current.take(), &mut config)?;
            current = Some((PathBuf::from(path), String::new()));
            continue;
        }
        if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
        }
    }
    flush(current.take(), &mut config)?;
    if config.files.is_empty() {
        return Err(NginxError::Other(
            "nginx -T printed no configuration file".into(),
        ));
    }
    Ok(config)
}

/// The command lines of an endpoint, split into words (a simple split: quotes group words).
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `nginx -t` as configured, or the default for where nginx runs.
pub fn test_command(e: &NginxEndpoint) -> Vec<String> {
    match (&e.test_command, &e.container) {
        (Some(c), _) => words(c),
        (None, Some(c)) => in_container(e, c, &["nginx", "-t"]),
        (None, None) => words("nginx -t"),
    }
}

/// `nginx -s reload` as configured, or the default for where nginx runs.
pub fn reload_command(e: &NginxEndpoint) -> Vec<String> {
    match (&e.reload_command, &e.container) {
        (Some(c), _) => words(c),
        (None, Some(c)) => in_container(e, c, &["nginx", "-s", "reload"]),
        (None, None) => words("nginx -s reload"),
    }
}

/// `docker [-H HOST] exec C ARGS…`.
fn in_container(e: &NginxEndpoint, name: &str, args: &[&str]) -> Vec<String> {
    let c = container::Container {
        name: name.to_string(),
        docker_host: e.docker_host.clone(),
    };
    let mut all = vec!["exec", name];
    all.extend(args);
    c.argv(&all)
}

/// The drain wait of an endpoint (0 → 30 s).
pub fn drain_timeout(e: &NginxEndpoint) -> std::time::Duration {
    let secs = if e.drain_timeout_secs == 0 {
        30
    } else {
        e.drain_timeout_secs
    };
    std::time::Duration::from_secs(u64::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_includes_with_globs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("conf.d")).unwrap();
        std::fs::write(
            d.path().join("nginx.conf"),
            "events {}\nhttp {\n  include conf.d/*.conf;\n  include extra.inc;\n}\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("conf.d/b.conf"),
            "upstream b { server b:1; }\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("conf.d/a.conf"),
            "upstream a { server a:1; }\n",
        )
        .unwrap();
        std::fs::write(d.path().join("conf.d/skip.txt"), "not { valid").unwrap();
        std::fs::write(d.path().join("extra.inc"), "# nothing\n").unwrap();
        let c = load_local(&d.path().join("nginx.conf")).unwrap();
        let names: Vec<String> = c
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["nginx.conf", "a.conf", "b.conf", "extra.inc"]);
        let (file, up) = c.upstream("b").unwrap();
        assert!(file.path.ends_with("conf.d/b.conf"));
        assert_eq!(up.servers[0].address, "b:1");
        assert!(c.upstream("zzz").is_none());
    }

    #[test]
    fn a_parse_error_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("nginx.conf"), "http {\n  upstream a {\n").unwrap();
        let e = load_local(&d.path().join("nginx.conf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nginx.conf, line 2, column 14"), "{e}");
    }

    #[test]
    fn splits_an_nginx_dump() {
        let dump = "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n\
            # configuration file /etc/nginx/nginx.conf:\nhttp { include /etc/nginx/up.conf; }\n\n\
            # configuration file /etc/nginx/up.conf:\nupstream api { server 10.0.0.2:80; }\n\n";
        let c = parse_dump(dump).unwrap();
        assert_eq!(c.files.len(), 2);
        assert_eq!(c.files[1].text, "upstream api { server 10.0.0.2:80; }\n");
        assert_eq!(c.upstream("api").unwrap().1.servers.len(), 1);
        assert!(parse_dump("nothing").is_err());
    }

    #[test]
    fn commands_and_digest() {
        assert_eq!(
            words("nginx -s reload -p '/tmp/a b' -c x"),
            ["nginx", "-s", "reload", "-p", "/tmp/a b", "-c", "x"]
        );
        let e = NginxEndpoint {
            container: Some("lb".into()),
            ..NginxEndpoint::default()
        };
        assert_eq!(test_command(&e), ["docker", "exec", "lb", "nginx", "-t"]);
        let e = NginxEndpoint {
            docker_host: Some("unix:///d.sock".into()),
            ..e
        };
        assert_eq!(
            reload_command(&e),
            [
                "docker",
                "-H",
                "unix:///d.sock",
                "exec",
                "lb",
                "nginx",
                "-s",
                "reload"
            ]
        );
        assert_eq!(
            reload_command(&NginxEndpoint::default()),
            ["nginx", "-s", "reload"]
        );
        assert_ne!(digest("a"), digest("b"));
        assert_eq!(digest("abc"), digest("abc"));
    }
}
