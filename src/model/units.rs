//! Units and their formatting, and who is at the keyboard: shared by every layer.

/// PostgreSQL's `X/Y` LSN notation.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A child's output as it would read on a terminal: of a line redrawn with carriage returns
/// only its last state, no colour codes, no blank lines.
pub fn terminal_text(text: &str) -> String {
    text.lines()
        .map(|l| strip_ansi(l.rsplit('\r').find(|s| !s.trim().is_empty()).unwrap_or("")))
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte (@ to ~).
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// "1 replica", "3 replicas" (and "0 replicas").
pub fn replicas(n: impl Into<u64>) -> String {
    let n = n.into();
    format!("{n} {}", noun(n, "replica", "replicas"))
}

/// The singular or the plural, as `n` needs ("1 running container", "0 running containers").
pub fn noun(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Who is at the keyboard: `USER`, `LOGNAME` (`USERNAME` on Windows), else the OS account of
/// the process (a systemd service or a minimal container sets neither variable), else its uid,
/// else "unknown".
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
        .or_else(os_account)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The account name of the process's effective user (the password database), or its uid when
/// the database has no entry for it.
fn os_account() -> Option<String> {
    if let Some(name) = whoami::username()
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
    {
        return Some(name);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the process's effective user.
        std::fs::metadata("/proc/self")
            .ok()
            .map(|m| format!("uid {}", m.uid()))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_counts_read_as_words() {
        assert_eq!(replicas(1u32), "1 replica");
        assert_eq!(replicas(0u32), "0 replicas");
        assert_eq!(replicas(3u32), "3 replicas");
    }
}
