//! Containers grouped into workloads: one per Compose (project, service), one per Swarm service.

use super::SWARM_SCOPE;
use super::parse::{self, Container, Stats, SwarmService};
use crate::model::snapshot::{
    ComposeCli, ComposeProject, DockerDetails, DockerTarget, HealthCounts, Workload, WorkloadKind,
    WorkloadRef,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

pub(super) struct Context<'a> {
    pub endpoint: &'a str,
    pub target: &'a DockerTarget,
    pub cli: Option<ComposeCli>,
    pub stats: &'a HashMap<String, Stats>,
}

/// Compose services, grouped by project and service, sorted.
pub(super) async fn compose(ctx: &Context<'_>, containers: &[Container]) -> Vec<Workload> {
    let mut projects: BTreeMap<&str, BTreeMap<&str, Vec<&Container>>> = BTreeMap::new();
    for c in containers {
        if let Some((project, service)) = c.compose_service() {
            projects
                .entry(project)
                .or_default()
                .entry(service)
                .or_default()
                .push(c);
        }
    }
    let mut out = Vec::new();
    for (project, services) in projects {
        // The newest container speaks for the project: it was created by the latest `up`.
        let Some(newest) = services
            .values()
            .flatten()
            .max_by_key(|c| c.created_ms)
            .copied()
        else {
            continue;
        };
        let files = project_files(ctx.cli, newest).await;
        for (service, members) in services {
            let id = WorkloadRef {
                endpoint: ctx.endpoint.to_string(),
                scope: project.to_string(),
                name: service.to_string(),
                kind: WorkloadKind::ComposeService,
            };
            let mut w = workload(ctx, id, &members);
            w.revision = Some(compose_revision(&files, &members));
            if let Some(d) = w.docker.as_mut() {
                d.global_mode = files.global.contains(service);
                d.compose = Some(files.project.clone());
                d.container_name = members
                    .iter()
                    .find(|c| c.has_custom_name())
                    .map(|c| c.name.clone());
            }
            w.fixed_host_port = members
                .iter()
                .flat_map(|c| c.fixed_host_ports.iter().copied())
                .min();
            out.push(w);
        }
    }
    out
}

/// Swarm services from `docker service ls`, with what the local tasks' containers add.
pub(super) fn swarm(
    ctx: &Context<'_>,
    containers: &[Container],
    services: &[SwarmService],
) -> Vec<Workload> {
    services
        .iter()
        .map(|s| {
            let members: Vec<&Container> = containers
                .iter()
                .filter(|c| c.label(parse::SWARM_SERVICE) == Some(s.name.as_str()))
                .collect();
            let id = WorkloadRef {
                endpoint: ctx.endpoint.to_string(),
                scope: SWARM_SCOPE.to_string(),
                name: s.name.clone(),
                kind: WorkloadKind::SwarmService,
            };
            let mut w = workload(ctx, id, &members);
            w.desired = s.desired;
            w.available = s.running;
            w.ready = s.running;
            w.updated = s.desired;
            w.pending_reason = (s.running < s.desired)
                .then(|| format!("{} of {} tasks running", s.running, s.desired));
            w.revision = s.version.map(|v| format!("version {v}"));
            if let Some(d) = w.docker.as_mut() {
                d.global_mode = s.mode == "global";
            }
            w
        })
        .collect()
}

/// Counts, health, restarts and resource use of one service's containers.
fn workload(ctx: &Context<'_>, id: WorkloadRef, members: &[&Container]) -> Workload {
    let running: Vec<&Container> = members.iter().copied().filter(|c| c.running).collect();
    let ready = count(running.iter().filter(|c| is_ready(c)));
    let health = members.iter().any(|c| c.health.is_some()).then(|| {
        let n = |s: &str| count(running.iter().filter(|c| c.health.as_deref() == Some(s)));
        HealthCounts {
            healthy: n("healthy"),
            unhealthy: n("unhealthy"),
            starting: n("starting"),
        }
    });
    let stats: Vec<&Stats> = running
        .iter()
        .filter_map(|c| ctx.stats.get(&c.id))
        .collect();
    let mean = |f: fn(&Stats) -> Option<f64>| {
        let values: Vec<f64> = stats.iter().filter_map(|s| f(s)).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let memory_bytes =
        (!stats.is_empty()).then(|| stats.iter().filter_map(|s| s.memory_bytes).sum());
    let mut states: BTreeMap<&str, u32> = BTreeMap::new();
    for c in members.iter().filter(|c| !c.running) {
        *states.entry(c.state.as_str()).or_default() += 1;
    }
    let pending_reason = if !states.is_empty() {
        let parts: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
        Some(format!("containers not running: {}", parts.join(", ")))
    } else {
        health
            .filter(|h| h.starting + h.unhealthy > 0)
            .map(|h| format!("health: {} starting, {} unhealthy", h.starting, h.unhealthy))
    };
    let mut names: Vec<String> = members.iter().map(|c| c.name.clone()).collect();
    names.sort();
    let total = count(members.iter());
    Workload {
        id,
        revision: None,
        resource_version: None,
        stale_since: None,
        desired: total,
        ready,
        available: count(running.iter()),
        updated: total,
        cpu_percent: mean(|s| s.cpu_percent),
        memory_percent: mean(|s| s.memory_percent),
        autoscaler: None,
        fixed_host_port: None,
        pending_reason,
        docker: Some(Box::new(DockerDetails {
            target: ctx.target.clone(),
            compose: None,
            containers: names,
            container_name: None,
            global_mode: false,
            health,
            restarts: members.iter().map(|c| c.restart_count).sum(),
            memory_bytes,
        })),
        // The docker CLI reports what the user's socket permissions allow only when it runs.
        scale_denied: None,
        autoscale_denied: None,
    }
}

/// Running, and healthy when it has a health check.
fn is_ready(c: &Container) -> bool {
    c.running && matches!(c.health.as_deref(), None | Some("healthy"))
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// A service seen before that has no container now (scaled to 0): kept, with zero counts.
pub(super) fn scaled_to_zero(old: &Workload) -> Workload {
    let mut w = old.clone();
    w.desired = 0;
    w.ready = 0;
    w.available = 0;
    w.updated = 0;
    w.cpu_percent = None;
    w.memory_percent = None;
    w.pending_reason = None;
    if let Some(d) = w.docker.as_mut() {
        d.containers.clear();
        d.health = None;
        d.restarts = 0;
        d.memory_bytes = None;
    }
    w
}

struct ProjectFiles {
    project: ComposeProject,
    global: BTreeSet<String>,
    /// Digest of the files' paths and contents (an unreadable file counts with its error).
    digest: u64,
}

/// What changes when the service's spec changes: the project's compose files (their contents,
/// as `up` would read them now) and Compose's own config hash of the service's containers (it
/// moves when a container is recreated with other options).
fn compose_revision(files: &ProjectFiles, members: &[&Container]) -> String {
    let hashes: BTreeSet<&str> = members
        .iter()
        .filter_map(|c| c.label(parse::CONFIG_HASH))
        .map(|h| h.get(..12).unwrap_or(h))
        .collect();
    let hashes = if hashes.is_empty() {
        "none".to_string()
    } else {
        hashes.into_iter().collect::<Vec<_>>().join("+")
    };
    format!("files {:016x}, service config {hashes}", files.digest)
}

/// FNV-1a, 64 bit: a digest that is the same in every build (std's hasher promises no such
/// thing), for telling "changed" from "unchanged", not for security.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    /// Adds a length-prefixed field, so ("ab","c") and ("a","bc") differ.
    fn field(&mut self, bytes: &[u8]) {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The project's files from its labels: where they are, whether they still exist and are
/// unchanged since the newest container was created, and which services are `global`.
async fn project_files(cli: Option<ComposeCli>, newest: &Container) -> ProjectFiles {
    let working_dir = newest
        .label(parse::WORKING_DIR)
        .unwrap_or_default()
        .to_string();
    let config_files: Vec<String> = newest
        .label(parse::CONFIG_FILES)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let path = Path::new(f);
            if path.is_absolute() || working_dir.is_empty() {
                f.to_string()
            } else {
                Path::new(&working_dir).join(path).display().to_string()
            }
        })
        .collect();
    let mut warnings = Vec::new();
    let mut global = BTreeSet::new();
    let mut digest = Fnv::new();
    digest.field(working_dir.as_bytes());
    if config_files.is_empty() {
        warnings.push(
            "its containers carry no com.docker.compose.project.config_files label, so the \
             compose files are unknown"
                .to_string(),
        );
    }
    for file in &config_files {
        digest.field(file.as_bytes());
        match tokio::fs::metadata(file).await {
            Err(e) => {
                digest.field(format!("unreadable: {:?}", e.kind()).as_bytes());
                warnings.push(format!("compose file {file} cannot be read: {e}"));
            }
            Ok(meta) => {
                let modified_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_millis()).ok());
                if let Some(m) = modified_ms
                    && newest.created_ms > 0
                    && m > newest.created_ms
                {
                    warnings.push(format!(
                        "compose file {file} changed after the project's containers were \
                         created ({} vs {}): scaling uses the file as it is now",
                        format_ms(m),
                        format_ms(newest.created_ms)
                    ));
                }
                match tokio::fs::read(file).await {
                    Ok(bytes) => {
                        digest.field(&bytes);
                        // Union over the files: an override file rarely turns global mode off.
                        global.extend(parse::global_services(&String::from_utf8_lossy(&bytes)));
                    }
                    Err(e) => digest.field(format!("unreadable: {:?}", e.kind()).as_bytes()),
                }
            }
        }
    }
    ProjectFiles {
        project: ComposeProject {
            config_files,
            working_dir,
            cli,
            file_warnings: warnings,
        },
        global,
        digest: digest.0,
    }
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(digest: u64) -> ProjectFiles {
        ProjectFiles {
            project: ComposeProject {
                config_files: vec!["/srv/a/docker-compose.yml".into()],
                working_dir: "/srv/a".into(),
                cli: None,
                file_warnings: Vec::new(),
            },
            global: BTreeSet::new(),
            digest,
        }
    }

    fn container(hash: Option<&str>) -> Container {
        let mut labels = BTreeMap::new();
        if let Some(h) = hash {
            labels.insert(parse::CONFIG_HASH.to_string(), h.to_string());
        }
        Container {
            id: "c".into(),
            name: "a_api_1".into(),
            labels,
            running: true,
            state: "running".into(),
            health: None,
            restart_count: 0,
            created_ms: 0,
            fixed_host_ports: Vec::new(),
            resources: Default::default(),
        }
    }

    #[test]
    fn compose_revision_names_the_files_digest_and_each_config_hash_once() {
        let a = container(Some("50edbd3708aa04fe33094af74143fe63"));
        let b = container(Some("50edbd3708aa04fe33094af74143fe63"));
        let c = container(Some("0123456789abcdef"));
        assert_eq!(
            compose_revision(&files(0xab), &[&a, &b]),
            "files 00000000000000ab, service config 50edbd3708aa"
        );
        assert_eq!(
            compose_revision(&files(0xab), &[&a, &c]),
            "files 00000000000000ab, service config 0123456789ab+50edbd3708aa"
        );
        assert_eq!(
            compose_revision(&files(1), &[&container(None)]),
            "files 0000000000000001, service config none"
        );
    }

    #[test]
    fn digest_is_fixed_and_separates_fields() {
        let digest = |fields: &[&str]| {
            let mut d = Fnv::new();
            for f in fields {
                d.field(f.as_bytes());
            }
            d.0
        };
        // The same in every build and on every machine (a plan and its re-check may even be
        // computed by different builds of one version).
        assert_eq!(digest(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest(&["ab", "c"]), digest(&["ab", "c"]));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        assert_ne!(digest(&["services: {}"]), digest(&["services: {} "]));
    }

    #[tokio::test]
    async fn project_files_digest_follows_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, "services:\n  api:\n    image: x\n").unwrap();
        let mut c = container(None);
        c.labels
            .insert(parse::CONFIG_FILES.into(), "docker-compose.yml".into());
        c.labels
            .insert(parse::WORKING_DIR.into(), dir.path().display().to_string());
        let first = project_files(None, &c).await.digest;
        assert_eq!(project_files(None, &c).await.digest, first);
        std::fs::write(&file, "services:\n  api:\n    image: y\n").unwrap();
        let edited = project_files(None, &c).await.digest;
        assert_ne!(edited, first);
        std::fs::remove_file(&file).unwrap();
        let gone = project_files(None, &c).await;
        assert_ne!(gone.digest, edited);
        assert!(!gone.project.file_warnings.is_empty());
    }
}
