//! The guarded change of one nginx file: re-check (the file's bytes and nginx's master pid are
//! what the plan saw) → write → `nginx -t` (the old file back when it fails, nothing reloaded)
//! → reload → confirm that new workers replaced the old ones. And the drain wait on the way down:
//! the workers that still hold requests for a leaving server exit when those requests finish.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::site::Site;
use crate::model::exec::CommandLine;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const RELOAD_CONFIRM: Duration = Duration::from_secs(10);

/// What the plan saw of the file it will change, and the new text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
    /// nginx's master pid when planned, if it could be read.
    pub master_pid: Option<u32>,
}

/// Why a guarded change did not happen, or how far it got.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("not run: {0} changed since planned")]
    Changed(String),
    #[error(
        "nginx -t failed, so the previous {path} was put back and nginx was not reloaded: {output}"
    )]
    TestFailed { path: String, output: String },
    #[error("{0}")]
    Failed(String),
}

/// nginx's master pid from its pid file.
pub fn master_pid(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The master's worker processes (its children), from /proc.
pub fn workers(master: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            stat_fields(*pid)
                .and_then(|f| f.get(1)?.parse::<u32>().ok())
                .is_some_and(|ppid| ppid == master)
        })
        .collect();
    out.sort_unstable();
    out
}

/// When nginx last loaded its configuration: the start of its youngest worker generation
/// (a reload starts new workers; the master keeps its own start time). Unix ms, from the
/// workers' start in clock ticks since boot and the boot time as now minus `/proc/uptime`
/// (centiseconds; `btime` in /proc/stat has whole seconds only).
pub fn reloaded_ms(master: u32) -> Option<i64> {
    let ticks_per_sec = 100; // USER_HZ on Linux
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    #[allow(clippy::cast_possible_truncation)] // an uptime in ms fits an i64
    let boot_ms = chrono::Utc::now().timestamp_millis() - (uptime * 1000.0) as i64;
    workers(master)
        .into_iter()
        .filter_map(|pid| stat_fields(pid)?.get(19)?.parse::<i64>().ok())
        .max()
        .map(|ticks| boot_ms + ticks * 1000 / ticks_per_sec)
}

/// Run one command line of the endpoint; Ok(output) when it exits 0.
pub async fn run(argv: &[String]) -> Result<String, String> {
    let line = CommandLine {
        argv: argv.to_vec(),
        env: Vec::new(),
        cwd: None,
    };
    let ran = crate::connectors::docker::process::run(&line, COMMAND_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if ran.success {
        Ok(ran.output())
    } else {
        Err(format!(
            "`{}` exited with {}: {}",
            line.display(),
            ran.code.map_or("a signal".into(), |c| c.to_string()),
            ran.output()
        ))
    }
}

/// Replace a file's contents atomically (temp file in the same dir, same permissions, rename).
pub(crate) fn replace(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.scaleboard-{}", std::process::id()));
    let perms = std::fs::metadata(path).map(|m| m.permissions()).ok();
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    std::fs::write(&tmp, text).map_err(fail)?;
    if let Some(p) = perms {
        std::fs::set_permissions(&tmp, p).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// Re-check, write, test, reload, on nginx's `site` (where the file is read and written and
/// the master pid read: the re-check and the reload confirmation). Returns what happened, for
/// the audit record.
pub async fn apply(
    change: &FileChange,
    site: &Site,
    test: &[String],
    reload: &[String],
) -> Result<String, GuardError> {
    // Re-check: the bytes and the master are what the plan saw.
    let now = site.read(&change.path).await.map_err(GuardError::Failed)?;
    if now != change.before {
        return Err(GuardError::Changed(format!(
            "{} (digest {} when planned, {} now)",
            change.path.display(),
            super::digest(&change.before),
            super::digest(&now)
        )));
    }
    let pid = site.master().await;
    if change.master_pid.is_some() && pid != change.master_pid {
        return Err(GuardError::Changed(format!(
            "nginx's master process (pid {} when planned, {} now)",
            change.master_pid.map_or("none".into(), |p| p.to_string()),
            pid.map_or("none".into(), |p| p.to_string())
        )));
    }
    let old_workers = match pid {
        Some(p) => site.workers(p).await,
        None => Vec::new(),
    };
    site.write(&change.path, &change.after)
        .await
        .map_err(GuardError::Failed)?;
    if let Err(output) = run(test).await {
        return match site.write(&change.path, &change.before).await {
            Ok(()) => Err(GuardError::TestFailed {
                path: change.path.display().to_string(),
                output,
            }),
            Err(e) => Err(GuardError::Failed(format!(
                "nginx -t failed ({output}) and the previous file could not be put back: {e}"
            ))),
        };
    }
    let tested = format!("{} written; nginx -t passed", change.path.display());
    if let Err(e) = run(reload).await {
        return Err(GuardError::Failed(format!(
            "{tested}; the reload failed: {e}"
        )));
    }
    let Some(master) = pid else {
        return Ok(format!(
            "{tested}; reload sent (no master pid to confirm it)"
        ));
    };
    let deadline = Instant::now() + RELOAD_CONFIRM;
    loop {
        let now = site.workers(master).await;
        if !now.is_empty() && now.iter().any(|w| !old_workers.contains(w)) {
            return Ok(format!("{tested}; reloaded (new workers {now:?})"));
        }
        if Instant::now() > deadline {
            return Err(GuardError::Failed(format!(
                "{tested}; nginx started no new workers within {} s of the reload (see its \
                 error log)",
                RELOAD_CONFIRM.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the workers that ran before `since_workers` are gone (they finish their open
/// requests, including those to leaving servers, then exit) and, with a status page, until no
/// request but ours is being written. Bounded by `limit`; returns what was seen.
pub async fn drain(
    site: &Site,
    master: Option<u32>,
    before: &[u32],
    stub_status: Option<&str>,
    limit: Duration,
) -> String {
    let start = Instant::now();
    let client = match stub_status {
        Some(_) => {
            crate::connectors::http::client(Duration::from_secs(2), &Default::default()).ok()
        }
        None => None,
    };
    loop {
        let now = match master {
            Some(m) => site.workers(m).await,
            None => Vec::new(),
        };
        let old_left: Vec<u32> = now.into_iter().filter(|w| before.contains(w)).collect();
        let writing = match (&client, stub_status) {
            (Some(c), Some(url)) => match c.get(url).send().await {
                Ok(r) => r
                    .text()
                    .await
                    .ok()
                    .and_then(|t| crate::connectors::http_probe::parse_stub_status(&t).ok())
                    .map(|s| s.writing),
                Err(_) => None,
            },
            _ => None,
        };
        // Our own status request is one of the requests being written.
        let busy = writing.is_some_and(|w| w > 1);
        if old_left.is_empty() && !busy {
            return format!(
                "drained in {:.1} s (old workers gone{})",
                start.elapsed().as_secs_f64(),
                writing.map_or(String::new(), |w| format!(", {w} request(s) in progress"))
            );
        }
        if start.elapsed() > limit {
            return format!(
                "drain wait ended after {} s with {} old worker(s) left{}",
                limit.as_secs(),
                old_left.len(),
                writing.map_or(String::new(), |w| format!(
                    " and {w} request(s) in progress"
                ))
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
