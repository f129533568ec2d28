//! Where nginx runs, and so how its files are read and written and its processes seen: on this
//! machine (the file system, the pid file, /proc) or in a container (`docker cp`, `docker top`).
//! The guarded write, the drain wait and the re-check ask a [`Site`] and do not care which.

use std::path::{Path, PathBuf};

use super::Config;
use super::container::Container;
use crate::profiles::NginxEndpoint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// Files on this machine; the master pid from `pid_file`, its workers from /proc.
    Local { pid_file: Option<PathBuf> },
    /// Files and processes inside a container.
    Container(Container),
}

impl Site {
    /// The site of an endpoint, with the configuration as read (for the `pid` directive).
    pub fn of(e: &NginxEndpoint, config: &Config) -> Site {
        match (&e.config, &e.container) {
            (None, Some(name)) => Site::Container(Container {
                name: name.clone(),
                docker_host: e.docker_host.clone(),
            }),
            _ => Site::Local {
                pid_file: super::status::pid_file(e, config),
            },
        }
    }

    pub async fn read(&self, path: &Path) -> Result<String, String> {
        match self {
            Site::Local { .. } => {
                let path = path.to_path_buf();
                tokio::task::spawn_blocking(move || {
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))
                })
                .await
                .map_err(|e| e.to_string())?
            }
            Site::Container(c) => c.read(path).await,
        }
    }

    pub async fn write(&self, path: &Path, text: &str) -> Result<(), String> {
        match self {
            Site::Local { .. } => {
                let (path, text) = (path.to_path_buf(), text.to_string());
                tokio::task::spawn_blocking(move || super::guarded::replace(&path, &text))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Site::Container(c) => c
                .write(path, text)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
        }
    }

    /// nginx's master pid now (a host pid for a container: `docker top` shows those).
    pub async fn master(&self) -> Option<u32> {
        match self {
            Site::Local { pid_file } => pid_file.as_deref().and_then(super::guarded::master_pid),
            Site::Container(c) => c.processes().await.ok()?.master,
        }
    }

    /// The master's worker processes now.
    pub async fn workers(&self, master: u32) -> Vec<u32> {
        match self {
            Site::Local { .. } => super::guarded::workers(master),
            Site::Container(c) => c
                .processes()
                .await
                .ok()
                .filter(|p| p.master == Some(master))
                .map(|p| p.workers)
                .unwrap_or_default(),
        }
    }

    /// How the re-check reads the file and the master, for plans.
    pub fn recheck_words(&self, path: &Path) -> String {
        match self {
            Site::Local { pid_file } => format!(
                "{} and {}",
                path.display(),
                pid_file.as_ref().map_or("no pid file".into(), |p| format!(
                    "the master pid in {}",
                    p.display()
                ))
            ),
            Site::Container(c) => format!(
                "`{}` and the master pid from `{}`",
                c.read_line(path).display(),
                shell(c.argv(&["top", &c.name, "-o", "pid,ppid,args"]))
            ),
        }
    }

    /// How a new file gets there, for plans: "write F" or the `docker cp` line.
    pub fn write_words(&self, path: &Path) -> String {
        match self {
            Site::Local { .. } => format!("write {}", path.display()),
            Site::Container(c) => format!(
                "`{}` ({} as a one-file tar, its owner and mode kept)",
                c.write_line(path).display(),
                path.display()
            ),
        }
    }

    /// "" on this machine; " (`docker cp …`)" for a container: how an edit is written.
    pub fn via(&self, path: &Path) -> String {
        match self {
            Site::Local { .. } => String::new(),
            Site::Container(c) => format!(" (`{}`)", c.write_line(path).display()),
        }
    }
}

fn shell(argv: Vec<String>) -> String {
    crate::model::exec::CommandLine {
        argv,
        env: Vec::new(),
        cwd: None,
    }
    .display()
}
