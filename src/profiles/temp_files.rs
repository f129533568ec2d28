//! Temp files of the atomic writers left behind by a process that was killed between creating
//! and renaming them (`kill -9` during a save): `.profiles.toml.tmp-PID-N`,
//! `.cost-models.toml.tmp-PID-N` ([`super::store::write_atomic`]) and
//! `.credentials.toml.PID.tmp` ([`super::CredentialsFile`]). They are removed at start-up when
//! their process no longer runs; a file of a running process (another Scaleboard saving right
//! now) is left alone.

use std::path::{Path, PathBuf};

/// Removes the stale temp files in `dir`; returns the ones removed.
pub fn remove_stale_temp_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = writer_pid(&name.to_string_lossy()) else {
            continue;
        };
        if process_runs(pid) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                log::info!(
                    "removed {}, left by process {pid} which no longer runs",
                    path.display()
                );
                removed.push(path);
            }
            Err(e) => log::warn!("could not remove {}: {e}", path.display()),
        }
    }
    removed
}

/// The pid in the name of one of our temp files, or None for any other file.
fn writer_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    // `.NAME.tmp-PID-N`
    if let Some((_, tail)) = rest.rsplit_once(".tmp-") {
        let (pid, counter) = tail.split_once('-')?;
        counter.parse::<u64>().ok()?;
        return pid.parse().ok();
    }
    // `.credentials.toml.PID.tmp`
    let pid = rest
        .strip_prefix(super::credentials_file::FILE_NAME)?
        .strip_prefix('.')?
        .strip_suffix(".tmp")?;
    pid.parse().ok()
}

/// Whether a process with this pid runs (a zombie does not). Where that cannot be told, it is
/// assumed to run, so nothing is removed.
fn process_runs(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_none_or(|state| !matches!(state, 'Z' | 'X')),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_temp_file_names_carry_a_pid() {
        assert_eq!(writer_pid(".profiles.toml.tmp-4242-0"), Some(4242));
        assert_eq!(writer_pid(".cost-models.toml.tmp-17-3"), Some(17));
        assert_eq!(writer_pid(".credentials.toml.99.tmp"), Some(99));
        assert_eq!(writer_pid("profiles.toml"), None);
        assert_eq!(writer_pid(".profiles.toml.tmp-x-0"), None);
        assert_eq!(writer_pid(".profiles.toml.tmp-12"), None);
        assert_eq!(writer_pid(".credentials.toml.tmp"), None);
        assert_eq!(writer_pid(".bashrc"), None);
    }
}
