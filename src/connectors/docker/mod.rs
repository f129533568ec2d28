//! Docker engines: Compose projects and Swarm services, seen and scaled.
//!
//! This connector drives the `docker` CLI (and `docker compose` / `docker-compose` to scale)
//! rather than an Engine API crate such as bollard, because:
//! - the CLI reaches every engine the operator's shell reaches, the same way: the local socket,
//!   `DOCKER_HOST` with `unix://`, `tcp://` + TLS (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) and
//!   `ssh://`, and named Docker contexts — an API client would have to re-implement context
//!   resolution and ssh tunnelling;
//! - scaling a Compose service needs the compose CLI anyway (Compose is a client-side tool: the
//!   engine has no "scale" call for it), so the CLI is already a requirement;
//! - the plan shows the exact command that runs, and no new dependency tree enters the build.
//!
//! A poll is `docker ps -a -q` + one `docker inspect` of those containers (labels, health,
//! restart counts, published ports), `docker service ls` beside it, then one
//! `docker stats --no-stream` for the running containers (the CLI collects them concurrently)
//! under a short deadline: when stats are slow the poll goes on without CPU/memory (a gap).
//! With Swarm services, one `docker service inspect` of them adds their version index.
//!
//! The re-check before a write and verification after it read the target only
//! ([`Connector::read_fresh`]): a Compose project's containers (`docker ps -a --filter
//! label=com.docker.compose.project=P` + inspect of those), or one Swarm service (`service ls`
//! filtered to it, `service inspect` of it, its tasks' containers), grouped by the same code as
//! the poll, so the facts a plan rests on compare equal when nothing changed.
//!
//! A write runs the plan's [`CommandLine`] itself, byte for byte: the line the operator approved
//! and the audit recorded. A plan without one is refused; no line is rebuilt at execute time.

mod capacity;
pub mod command;
mod engine_room;
mod group;
pub mod parse;
pub mod process;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::exec::Execution;
use crate::model::snapshot::{
    ComposeCli, DockerTarget, Sample, Snapshot, Workload, WorkloadKind, WorkloadRef,
};
use crate::profiles::ComposeEndpoint;
use command::CommandLine;
use parse::Container;
use process::{Ran, RunError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The scope (second part of a [`WorkloadRef`]) of every Swarm service. Parentheses cannot occur
/// in a Compose project name, so it never collides with one.
pub const SWARM_SCOPE: &str = "(swarm)";

const LIST_TIMEOUT: Duration = Duration::from_secs(3);
const STATS_TIMEOUT: Duration = Duration::from_secs(3);
/// The whole poll stays under the engine's default poll timeout (10 s).
const POLL_BUDGET: Duration = Duration::from_secs(8);
/// Below the pipeline's execute timeout, so the connector reports its own, clearer, error.
const SCALE_TIMEOUT: Duration = Duration::from_secs(110);

pub struct DockerConnector {
    info: EndpointInfo,
    target: DockerTarget,
    projects: Vec<String>,
    compose_cli: tokio::sync::OnceCell<Option<ComposeCli>>,
    /// Services seen before, so a service scaled to 0 stays listed while its project lives.
    seen: Mutex<BTreeMap<WorkloadRef, Workload>>,
    /// The engine's size and when it was read: it changes with the host, not between polls.
    size: Mutex<Option<(Instant, capacity::EngineSize)>>,
}

/// How long the engine's size (`docker info`) is kept before it is read again.
const SIZE_TTL: Duration = Duration::from_secs(300);

impl DockerConnector {
    pub fn new(endpoint: &ComposeEndpoint) -> Self {
        let target = DockerTarget {
            host: endpoint.docker_host.clone(),
            context: endpoint.docker_context.clone(),
        };
        let via = match (&target.context, &target.host) {
            (Some(c), _) => format!("context {c}"),
            (None, Some(h)) => h.clone(),
            (None, None) => "local engine".into(),
        };
        Self {
            info: EndpointInfo {
                id: endpoint.name.clone(),
                label: format!("{} (Docker, {via})", endpoint.name),
                area: Area::Workloads,
                demo: false,
            },
            target,
            projects: endpoint.projects.clone(),
            compose_cli: tokio::sync::OnceCell::new(),
            seen: Mutex::new(BTreeMap::new()),
            size: Mutex::new(None),
        }
    }

    fn engine_name(&self) -> String {
        match (&self.target.context, &self.target.host) {
            (Some(c), _) => format!("Docker context \"{c}\""),
            (None, Some(h)) => format!("Docker engine {h}"),
            (None, None) => "the local Docker engine".into(),
        }
    }

    async fn compose_cli(&self) -> Option<ComposeCli> {
        *self.compose_cli.get_or_init(process::detect_compose).await
    }

    /// Run `docker ARGS…`; a failure to reach the engine becomes [`ConnectorError::Unreachable`],
    /// any other failure is returned as it ran (some commands print useful output and fail).
    async fn docker_raw(&self, args: &[&str], timeout: Duration) -> Result<Ran, ConnectorError> {
        let line = command::docker(&self.target, args);
        let ran = process::run(&line, timeout)
            .await
            .map_err(|e| self.run_error(&e))?;
        if ran.success {
            return Ok(ran);
        }
        let output = ran.output();
        if is_unreachable(&output) {
            return Err(ConnectorError::Unreachable {
                endpoint: self.engine_name(),
                reason: output,
            });
        }
        Ok(ran)
    }

    /// Like [`Self::docker_raw`], and a non-zero exit is an error too.
    async fn docker(&self, args: &[&str], timeout: Duration) -> Result<Ran, ConnectorError> {
        let ran = self.docker_raw(args, timeout).await?;
        if ran.success {
            return Ok(ran);
        }
        Err(ConnectorError::Failed(format!(
            "`{}` failed: {}",
            command::docker(&self.target, args).display(),
            ran.output()
        )))
    }

    fn run_error(&self, e: &RunError) -> ConnectorError {
        match e {
            RunError::Timeout { .. } => {
                ConnectorError::Timeout(format!("{} (on {})", e, self.engine_name()))
            }
            _ => ConnectorError::Failed(e.to_string()),
        }
    }

    /// Containers of the engine, or only those with the label `filter` (`key=value`).
    async fn containers(&self, filter: Option<&str>) -> Result<Vec<Container>, ConnectorError> {
        let label = filter.map(|f| format!("label={f}"));
        let mut ps = vec!["ps", "-a", "-q", "--no-trunc"];
        if let Some(label) = &label {
            ps.extend(["--filter", label.as_str()]);
        }
        let ids = self.docker(&ps, LIST_TIMEOUT).await?;
        let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["inspect"];
        args.extend(&ids);
        // A container removed between ps and inspect makes inspect fail, yet it still prints
        // the others: use what it printed.
        let ran = self.docker_raw(&args, LIST_TIMEOUT).await?;
        parse::containers(&ran.stdout).map_err(|e| {
            ConnectorError::Failed(format!("{e}; docker inspect said: {}", ran.output()))
        })
    }

    /// Swarm services (all, or the one named `only`) with their version index, or none when
    /// this engine is not a Swarm manager.
    async fn swarm_services(
        &self,
        only: Option<&str>,
    ) -> Result<
        (
            Vec<parse::SwarmService>,
            HashMap<String, capacity::SwarmSpec>,
        ),
        ConnectorError,
    > {
        let filter = only.map(|name| format!("name={name}"));
        let mut ls = vec!["service", "ls", "--format", "{{json .}}"];
        if let Some(filter) = &filter {
            ls.extend(["--filter", filter.as_str()]);
        }
        let mut services = match self.docker(&ls, LIST_TIMEOUT).await {
            Ok(ran) => parse::swarm_services(&ran.stdout),
            Err(ConnectorError::Failed(m)) if m.contains("not a swarm manager") => Vec::new(),
            Err(e) => return Err(e),
        };
        // The name filter matches by prefix: keep the one service asked for.
        if let Some(name) = only {
            services.retain(|s| s.name == name);
        }
        if services.is_empty() {
            return Ok((services, HashMap::new()));
        }
        let mut inspect = vec!["service", "inspect"];
        inspect.extend(services.iter().map(|s| s.name.as_str()));
        // A service removed since `ls` makes inspect fail, yet it prints the others.
        let ran = self.docker_raw(&inspect, LIST_TIMEOUT).await?;
        let versions = parse::service_versions(&ran.stdout).map_err(|e| {
            ConnectorError::Failed(format!(
                "{e}; docker service inspect said: {}",
                ran.output()
            ))
        })?;
        services.retain(|s| versions.contains_key(&s.name));
        for s in &mut services {
            s.version = versions.get(&s.name).copied();
        }
        Ok((services, capacity::swarm_specs(&ran.stdout)))
    }

    async fn stats(&self, ids: &[&str], timeout: Duration) -> HashMap<String, parse::Stats> {
        if ids.is_empty() || timeout.is_zero() {
            return HashMap::new();
        }
        let mut args = vec![
            "stats",
            "--no-stream",
            "--no-trunc",
            "--format",
            "{{json .}}",
        ];
        args.extend(ids);
        match self.docker(&args, timeout).await {
            Ok(ran) => parse::stats(&ran.stdout),
            Err(e) => {
                log::debug!("{}: stats skipped: {e}", self.info.id);
                HashMap::new()
            }
        }
    }

    /// Everything this endpoint shows: Compose services, then Swarm services.
    async fn observe(
        &self,
        with_stats: bool,
    ) -> Result<(Vec<Workload>, crate::model::capacity::CapacityView), ConnectorError> {
        let started = Instant::now();
        let (containers, swarm) = tokio::join!(self.containers(None), self.swarm_services(None));
        let all = containers?;
        let (swarm, specs) = swarm?;
        let capacity = self.capacity(&all, specs).await;
        let containers: Vec<Container> = all
            .into_iter()
            .filter(|c| match c.compose_service() {
                Some((project, _)) => {
                    self.projects.is_empty() || self.projects.iter().any(|p| p == project)
                }
                None => c.label(parse::SWARM_SERVICE).is_some(),
            })
            .collect();
        let stats = if with_stats {
            let ids: Vec<&str> = containers
                .iter()
                .filter(|c| c.running)
                .map(|c| c.id.as_str())
                .collect();
            let left = POLL_BUDGET.saturating_sub(started.elapsed());
            self.stats(&ids, left.min(STATS_TIMEOUT)).await
        } else {
            HashMap::new()
        };
        let ctx = group::Context {
            endpoint: &self.info.id,
            target: &self.target,
            cli: self.compose_cli().await,
            stats: &stats,
        };
        let mut list = group::compose(&ctx, &containers).await;
        self.keep_scaled_to_zero(&mut list);
        list.extend(group::swarm(&ctx, &containers, &swarm));
        Ok((list, capacity))
    }

    fn keep_scaled_to_zero(&self, list: &mut Vec<Workload>) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let live: std::collections::BTreeSet<String> =
            list.iter().map(|w| w.id.scope.clone()).collect();
        seen.retain(|id, _| live.contains(&id.scope));
        for old in seen.values() {
            if !list.iter().any(|w| w.id == old.id) {
                list.push(group::scaled_to_zero(old));
            }
        }
        for w in list.iter() {
            seen.insert(w.id.clone(), w.clone());
        }
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// What [`Self::keep_scaled_to_zero`] adds, for one project read alone: services of it seen
    /// by the poll and without a container now, at zero — also when no container of the project
    /// is left (every service scaled to 0), so verifying that reads 0, not "not reported".
    /// Leaves the memory as it is: the poll keeps it.
    fn add_scaled_to_zero(&self, project: &str, list: &mut Vec<Workload>) {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for old in seen
            .values()
            .filter(|w| w.id.kind == WorkloadKind::ComposeService && w.id.scope == project)
        {
            if !list.iter().any(|w| w.id == old.id) {
                list.push(group::scaled_to_zero(old));
            }
        }
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// One Compose project, read fresh: its containers only, grouped as the poll groups them.
    async fn fresh_compose(&self, project: &str) -> Result<Vec<Workload>, ConnectorError> {
        if !self.projects.is_empty() && !self.projects.iter().any(|p| p == project) {
            // Not watched by this endpoint: the poll does not list it either.
            return Ok(Vec::new());
        }
        let filter = format!("{}={project}", parse::PROJECT);
        let containers = self.containers(Some(&filter)).await?;
        let stats = HashMap::new();
        let ctx = group::Context {
            endpoint: &self.info.id,
            target: &self.target,
            cli: self.compose_cli().await,
            stats: &stats,
        };
        let mut list: Vec<Workload> = group::compose(&ctx, &containers)
            .await
            .into_iter()
            .filter(|w| w.id.scope == project)
            .collect();
        self.add_scaled_to_zero(project, &mut list);
        Ok(list)
    }

    /// One Swarm service, read fresh: its `service ls` line, its version, its tasks' containers.
    async fn fresh_swarm(&self, service: &str) -> Result<Vec<Workload>, ConnectorError> {
        let filter = format!("{}={service}", parse::SWARM_SERVICE);
        let (services, containers) = tokio::join!(
            self.swarm_services(Some(service)),
            self.containers(Some(&filter))
        );
        let ((services, _), containers) = (services?, containers?);
        let stats = HashMap::new();
        let ctx = group::Context {
            endpoint: &self.info.id,
            target: &self.target,
            cli: None,
            stats: &stats,
        };
        Ok(group::swarm(&ctx, &containers, &services))
    }

    /// The action's targets read fresh, or `None` for actions this engine does not carry out.
    async fn read_target(&self, action: &Action) -> Result<Option<Snapshot>, ConnectorError> {
        let list = match action {
            Action::ScaleWorkload { workload, .. } => match workload.kind {
                WorkloadKind::SwarmService => self.fresh_swarm(&workload.name).await?,
                WorkloadKind::ComposeService => self.fresh_compose(&workload.scope).await?,
                _ => return Ok(None),
            },
            Action::ScaleComposeServices { project, .. } => self.fresh_compose(project).await?,
            _ => return Ok(None),
        };
        // The fit is re-checked on the engine as it is now: every container, every service.
        let (all, swarm) = tokio::join!(self.containers(None), self.swarm_services(None));
        let capacity = self.capacity(&all?, swarm?.1).await;
        let mut list = crate::model::workloads::WorkloadList::from(list);
        list.capacity = Some(std::sync::Arc::new(capacity));
        Ok(Some(Snapshot::Workloads(list)))
    }

    /// Run the approved line itself. A time-out is "no answer in time" (the engine may have
    /// acted), an engine that cannot be reached is [`ConnectorError::Unreachable`], anything
    /// else keeps docker's own words.
    async fn run_action(&self, line: &CommandLine) -> Result<String, ConnectorError> {
        let ran = process::run(line, SCALE_TIMEOUT)
            .await
            .map_err(|e| match e {
                RunError::Timeout { .. } => {
                    ConnectorError::Timeout(format!("`{}`: {e}", line.display()))
                }
                _ => ConnectorError::Failed(format!("`{}`: {e}", line.display())),
            })?;
        let transcript = format!("$ {}\n{}", line.display(), ran.output());
        if ran.success {
            return Ok(transcript);
        }
        if is_unreachable(&ran.output()) {
            return Err(ConnectorError::Unreachable {
                endpoint: self.engine_name(),
                reason: transcript,
            });
        }
        let code = ran
            .code
            .map_or("a signal".to_string(), |c| format!("code {c}"));
        Err(ConnectorError::Failed(format!(
            "exited with {code}: {transcript}"
        )))
    }
}

/// What the docker and compose CLIs print when they cannot reach the engine at all.
fn is_unreachable(output: &str) -> bool {
    [
        "Cannot connect to the Docker daemon",
        "Couldn't connect to Docker daemon",
        "error during connect",
    ]
    .iter()
    .any(|m| output.contains(m))
        || (output.contains("context") && output.contains("not found"))
}

/// The programs a Docker plan may run. Anything else in a plan's line is a bug upstream, and is
/// refused rather than run.
const PROGRAMS: [&str; 2] = ["docker", "docker-compose"];

impl Connector for DockerConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(async move {
            let (list, capacity) = self.observe(true).await?;
            let samples = samples(&list);
            let mut list = crate::model::workloads::WorkloadList::from(list);
            list.capacity = Some(std::sync::Arc::new(capacity));
            Ok(PollOutput {
                snapshot: Snapshot::Workloads(list),
                samples,
                notices: Vec::new(),
            })
        })
    }

    fn execute<'a>(&'a self, run: Execution<'a>) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(async move {
            match run.action {
                Action::ScaleWorkload { .. } | Action::ScaleComposeServices { .. } => {}
                other => {
                    return Err(ConnectorError::Unsupported(format!(
                        "a Docker engine cannot {} (only scaling)",
                        other.kind()
                    )));
                }
            }
            let Some(line) = run.command_line else {
                return Err(ConnectorError::Failed(
                    "nothing was run: this plan carries no command line. A Docker write runs \
                     only the exact command that was planned, approved and audited, and none \
                     is rebuilt at execute time; plan again."
                        .into(),
                ));
            };
            let program = line.argv.first().map_or("", String::as_str);
            if !PROGRAMS.contains(&program) {
                return Err(ConnectorError::Failed(format!(
                    "nothing was run: the plan's command `{}` does not start with docker or \
                     docker-compose",
                    line.display()
                )));
            }
            self.run_action(line).await
        })
    }

    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        Box::pin(async move { self.read_target(action).await })
    }
}

/// The series every Workloads plot reads: running containers, ready ones, CPU and memory.
fn samples(list: &[Workload]) -> Vec<Sample> {
    let mut out = Vec::new();
    for w in list {
        let t = w.id.target();
        out.push(Sample::new(&t, "replicas", f64::from(w.available)));
        out.push(Sample::new(&t, "ready", f64::from(w.ready)));
        if let Some(cpu) = w.cpu_percent {
            out.push(Sample::new(&t, "cpu_percent", cpu));
        }
        if let Some(mem) = w.memory_percent {
            out.push(Sample::new(&t, "memory_percent", mem));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::WorkloadKind;

    fn connector() -> DockerConnector {
        DockerConnector::new(&ComposeEndpoint {
            name: "docker".into(),
            // Never reached: every case below is refused before anything runs.
            docker_host: Some("unix:///nonexistent/docker.sock".into()),
            projects: Vec::new(),
            docker_context: None,
        })
    }

    fn scale() -> Action {
        Action::ScaleWorkload {
            workload: WorkloadRef::new("docker", "shop", WorkloadKind::ComposeService, "api"),
            replicas: 2,
        }
    }

    #[tokio::test]
    async fn execute_without_the_planned_line_runs_nothing() {
        let c = connector();
        let action = scale();
        let err = c.execute(Execution::bare(&action)).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Failed(_)));
        assert!(
            err.to_string()
                .starts_with("nothing was run: this plan carries no command line"),
            "{err}"
        );
        let odd = CommandLine {
            argv: vec!["sh".into(), "-c".into(), "true".into()],
            env: Vec::new(),
            cwd: None,
        };
        let run = Execution {
            action: &action,
            command_line: Some(&odd),
            fresh: None,
        };
        let err = c.execute(run).await.unwrap_err();
        assert!(
            err.to_string().contains("does not start with docker"),
            "{err}"
        );
        let promote = Action::PromoteReplica {
            endpoint: "docker".into(),
            cluster: "c".into(),
            replica: "r".into(),
        };
        let err = c.execute(Execution::bare(&promote)).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Unsupported(_)), "{err}");
        assert!(c.read_fresh(&promote).await.unwrap().is_none());
    }

    #[test]
    fn unreachable_engines_in_the_words_of_both_clis() {
        assert!(is_unreachable(
            "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?"
        ));
        assert!(is_unreachable(
            "Couldn't connect to Docker daemon at http+docker://localhost - is it running?"
        ));
        assert!(is_unreachable(
            "error during connect: Get \"http://%2Fx.sock/v1.24/info\": dial unix"
        ));
        assert!(!is_unreachable("No such service: api"));
    }
}
