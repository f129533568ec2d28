//! One look at every linked upstream of a profile: the configuration read fresh, the linked
//! workloads' running replicas, and the drift between them, with the monitoring exit code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::drift::{Drift, compare};
use super::{Config, NginxError, load_local, parse_dump};
use crate::model::exec::CommandLine;
use crate::model::snapshot::DockerTarget;
use crate::profiles::{NginxEndpoint, Profile};

pub use crate::health::{EXIT_CRITICAL, EXIT_OK, EXIT_UNKNOWN, EXIT_WARNING};

/// One linked upstream, checked.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub nginx: String,
    pub upstream: String,
    pub workload: String,
    /// The linked workload's identity (its row in the Workloads panel).
    pub workload_ref: crate::model::snapshot::WorkloadRef,
    /// The file that holds the upstream block.
    pub file: Option<String>,
    pub drift: Option<Drift>,
    pub error: Option<String>,
    pub summary: String,
    /// What fixes a DNS-name drift: the endpoint's reload command.
    pub reload_command: String,
    pub exit_code: u8,
    /// What a scale preview needs, as read with this report (the window renders the diff from
    /// it without I/O).
    #[serde(skip)]
    pub preview: Option<PreviewInput>,
}

/// The inputs of [`super::preview::render`] for one link.
#[derive(Debug, Clone)]
pub struct PreviewInput {
    pub endpoint: NginxEndpoint,
    pub link: crate::profiles::UpstreamLink,
    pub config: Config,
    pub replicas: Vec<super::replicas::Replica>,
    pub master_pid: Option<u32>,
}

impl PreviewInput {
    /// The preview lines of a scale to `to` replicas.
    pub fn render(&self, to: u32) -> Vec<String> {
        super::preview::render(
            &self.endpoint,
            &self.link,
            &self.config,
            &self.replicas,
            to,
            self.master_pid,
        )
    }
}

/// The worst of several exit codes: critical over warning over unknown over ok.
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    crate::health::worst_exit_code(codes)
}

/// The Docker engine of a profile's Docker endpoint.
pub fn docker_target(profile: &Profile, endpoint: &str) -> Option<DockerTarget> {
    profile
        .compose
        .iter()
        .find(|c| c.name == endpoint)
        .map(|c| DockerTarget {
            host: c.docker_host.clone(),
            context: c.docker_context.clone(),
        })
}

/// The configuration of an endpoint, read fresh.
pub async fn read_config(e: &NginxEndpoint) -> Result<Config, NginxError> {
    if let Some(path) = &e.config {
        let path = path.clone();
        return tokio::task::spawn_blocking(move || load_local(&path))
            .await
            .map_err(|e| NginxError::Other(e.to_string()))?;
    }
    let container = super::container::Container {
        name: e.container.clone().unwrap_or_default(),
        docker_host: e.docker_host.clone(),
    };
    let line = CommandLine {
        argv: container.argv(&["exec", &container.name, "nginx", "-T"]),
        env: Vec::new(),
        cwd: None,
    };
    let ran = crate::connectors::docker::process::run(&line, Duration::from_secs(20))
        .await
        .map_err(|e| NginxError::Other(e.to_string()))?;
    if !ran.success {
        return Err(NginxError::Other(format!(
            "`{}` failed: {}",
            line.display(),
            ran.output()
        )));
    }
    parse_dump(&ran.stdout)
}

/// Where nginx's pid file is: the endpoint's, else the `pid` directive (relative to the main
/// file's directory), for a local configuration only.
pub fn pid_file(e: &NginxEndpoint, config: &Config) -> Option<PathBuf> {
    if let Some(p) = &e.pid_file {
        return Some(p.clone());
    }
    let main = e.config.as_ref()?;
    let p = config.pid_path()?;
    Some(if p.is_absolute() {
        p
    } else {
        main.parent().unwrap_or(Path::new(".")).join(p)
    })
}

/// nginx's master pid now: from the pid file on this machine, from `docker top` in a container.
pub async fn master_pid(e: &NginxEndpoint, config: &Config) -> Option<u32> {
    super::site::Site::of(e, config).master().await
}

/// Check every link of every nginx endpoint of the profile.
pub async fn check(profile: &Profile) -> Vec<LinkReport> {
    let mut out = Vec::new();
    for e in &profile.nginx {
        let config = read_config(e).await;
        let master = match &config {
            Ok(c) => master_pid(e, c).await,
            Err(_) => None,
        };
        // From /proc: a container's pids are host pids, the same as ours only when the engine
        // runs on this machine.
        let local_pids = e.container.is_none()
            || e.docker_host
                .as_deref()
                .is_none_or(|h| h.starts_with("unix://"));
        let reloaded = master
            .filter(|_| local_pids)
            .and_then(super::guarded::reloaded_ms);
        for link in &e.links {
            let mut r = check_link(profile, e, link, config.as_ref(), reloaded).await;
            if let Some(p) = r.preview.as_mut() {
                p.master_pid = master;
            }
            out.push(r);
        }
    }
    out
}

async fn check_link(
    profile: &Profile,
    e: &NginxEndpoint,
    link: &crate::profiles::UpstreamLink,
    config: Result<&Config, &NginxError>,
    reloaded_ms: Option<i64>,
) -> LinkReport {
    let mut r = LinkReport {
        nginx: e.name.clone(),
        upstream: link.upstream.clone(),
        workload: format!(
            "{}/{}/{}",
            link.workload.endpoint, link.workload.scope, link.workload.name
        ),
        workload_ref: link.workload.workload_ref(),
        file: None,
        drift: None,
        error: None,
        summary: String::new(),
        reload_command: CommandLine {
            argv: super::reload_command(e),
            env: Vec::new(),
            cwd: None,
        }
        .display(),
        exit_code: EXIT_UNKNOWN,
        preview: None,
    };
    let config = match config {
        Ok(c) => c,
        Err(err) => {
            r.error = Some(format!("cannot read nginx's configuration: {err}"));
            r.summary = format!("LB: {}", r.error.clone().unwrap_or_default());
            return r;
        }
    };
    let Some((file, up)) = config.upstream(&link.upstream) else {
        r.error = Some(format!(
            "no upstream named \"{}\" in nginx's configuration ({} file(s) read)",
            link.upstream,
            config.files.len()
        ));
        r.summary = format!("LB: {}", r.error.clone().unwrap_or_default());
        r.exit_code = EXIT_CRITICAL;
        return r;
    };
    r.file = Some(file.path.display().to_string());
    let Some(target) = docker_target(profile, &link.workload.endpoint) else {
        r.error = Some(format!(
            "no Docker endpoint named \"{}\"",
            link.workload.endpoint
        ));
        r.summary = format!("LB: {}", r.error.clone().unwrap_or_default());
        return r;
    };
    let replicas = match super::replicas::running(&target, link).await {
        Ok(r) => r,
        Err(err) => {
            r.error = Some(format!("cannot list the replicas: {err}"));
            r.summary = format!("LB: {}", r.error.clone().unwrap_or_default());
            return r;
        }
    };
    let d = compare(link, up, &replicas, reloaded_ms);
    // Only the file that holds the upstream: that is all a preview edits.
    r.preview = Some(PreviewInput {
        endpoint: e.clone(),
        link: link.clone(),
        config: Config {
            files: vec![file.clone()],
        },
        replicas,
        master_pid: None,
    });
    r.summary = d.summary();
    if d.reload_fixes && !d.missing.is_empty() {
        r.summary.push_str(&format!(" (`{}`)", r.reload_command));
    }
    r.exit_code = if d.in_sync() {
        EXIT_OK
    } else if d.behind == 0 && d.replicas > 0 {
        EXIT_CRITICAL
    } else {
        EXIT_WARNING
    };
    r.drift = Some(d);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_code_wins() {
        assert_eq!(worst([EXIT_OK, EXIT_UNKNOWN]), EXIT_UNKNOWN);
        assert_eq!(worst([EXIT_UNKNOWN, EXIT_WARNING]), EXIT_WARNING);
        assert_eq!(worst([EXIT_CRITICAL, EXIT_WARNING]), EXIT_CRITICAL);
    }
}
