//! Child processes with a deadline. Every child is spawned with `kill_on_drop`: when its future
//! is dropped — timeout, cancelled action, engine shut down with the app — the process is killed.

use super::command::CommandLine;
use crate::model::snapshot::ComposeCli;
use std::process::Stdio;
use std::time::Duration;

#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Both streams, trimmed, for error messages and the audit record: as a terminal would
    /// show them (docker compose's progress lines redrawn with carriage returns and colour
    /// codes keep only their last state).
    pub fn output(&self) -> String {
        let out = crate::model::units::terminal_text(&self.stdout);
        let err = crate::model::units::terminal_text(&self.stderr);
        let (out, err) = (out.trim(), err.trim());
        match (out.is_empty(), err.is_empty()) {
            (true, true) => String::new(),
            (false, true) => out.to_string(),
            (true, false) => err.to_string(),
            (false, false) => format!("{out}\n{err}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{program} is not installed (not found on PATH)")]
    NotFound { program: String },
    #[error("{program} did not finish within {secs} s and was stopped")]
    Timeout { program: String, secs: u64 },
    #[error("could not run {program}: {reason}")]
    Io { program: String, reason: String },
}

/// The child process of a command line: its arguments, its own variables, and this process's
/// environment less the secrets given to Scaleboard (`SCALEBOARD_SECRET_*`): docker and
/// docker-compose need none of them, and a child passes its environment on (to plugins,
/// credential helpers, `docker inspect` of a container started with `--env-file`…).
pub fn command(line: &CommandLine) -> tokio::process::Command {
    let program = line.argv.first().cloned().unwrap_or_default();
    let mut command = tokio::process::Command::new(&program);
    command
        .args(line.argv.iter().skip(1))
        .envs(line.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        if is_secret_var(&name) {
            command.env_remove(&name);
        }
    }
    for (name, _) in &line.env {
        if is_secret_var(std::ffi::OsStr::new(name)) {
            command.env_remove(name);
        }
    }
    if let Some(dir) = &line.cwd {
        command.current_dir(dir);
    }
    command
}

fn is_secret_var(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy()
        .starts_with(crate::profiles::secrets::SECRET_ENV_PREFIX)
}

/// Run a command line to completion, or kill it after `timeout`.
pub async fn run(line: &CommandLine, timeout: Duration) -> Result<Ran, RunError> {
    let program = line.argv.first().cloned().unwrap_or_default();
    let mut command = command(line);
    let child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if line.cwd.as_ref().is_some_and(|d| !dir_exists(d)) => {
            RunError::Io {
                program: program.clone(),
                reason: format!(
                    "working directory {} does not exist",
                    line.cwd.as_deref().unwrap_or_default()
                ),
            }
        }
        std::io::ErrorKind::NotFound => RunError::NotFound {
            program: program.clone(),
        },
        _ => RunError::Io {
            program: program.clone(),
            reason: e.to_string(),
        },
    })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(Ran {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
        Ok(Err(e)) => Err(RunError::Io {
            program,
            reason: e.to_string(),
        }),
        // Dropping the wait future dropped the child: kill_on_drop has killed it.
        Err(_) => Err(RunError::Timeout {
            program,
            secs: timeout.as_secs(),
        }),
    }
}

fn dir_exists(dir: &str) -> bool {
    std::path::Path::new(dir).is_dir()
}

/// Which Compose is installed: `docker compose` (v2) first, then `docker-compose` (v1).
pub async fn detect_compose() -> Option<ComposeCli> {
    let probes = [
        (ComposeCli::V2, vec!["docker", "compose", "version"]),
        (ComposeCli::V1, vec!["docker-compose", "version"]),
    ];
    for (cli, argv) in probes {
        let line = CommandLine {
            argv: argv.into_iter().map(String::from).collect(),
            env: Vec::new(),
            cwd: None,
        };
        if let Ok(ran) = run(&line, Duration::from_secs(10)).await
            && ran.success
        {
            return Some(cli);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_what_a_terminal_would_show() {
        let ran = Ran {
            success: true,
            code: Some(0),
            stdout: String::new(),
            stderr: "Creating shop_api_2 ... \r\u{1b}[1A\u{1b}[2KCreating shop_api_2 ... \u{1b}[32mdone\u{1b}[0m\n\n".into(),
        };
        assert_eq!(ran.output(), "Creating shop_api_2 ... done");
    }

    /// A secret variable the command line itself would set is taken out too (the process's
    /// own `SCALEBOARD_SECRET_*` are removed the same way, see tests/secrets.rs).
    #[test]
    fn secret_variables_are_removed_from_the_child_environment() {
        let line = CommandLine {
            argv: vec!["docker".into(), "ps".into()],
            env: vec![
                ("DOCKER_HOST".into(), "tcp://127.0.0.1:2375".into()),
                ("SCALEBOARD_SECRET_PROD_DB".into(), "pw".into()),
            ],
            cwd: None,
        };
        let command = command(&line);
        let envs: Vec<(String, Option<String>)> = command
            .as_std()
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("DOCKER_HOST".into(), Some("tcp://127.0.0.1:2375".into()))));
        assert!(
            envs.contains(&("SCALEBOARD_SECRET_PROD_DB".into(), None)),
            "{envs:?}"
        );
    }
}
