//! A scale behind a linked nginx upstream: one action whose execute step runs ordered sub-steps,
//! each with its own intent and outcome record (id `PARENT/lb-N-STEP`, so a kill between steps
//! leaves a record that says which step is unknown).
//!
//! - up: start the replicas → wait until they answer → write the upstream → `nginx -t` →
//!   reload → verify the upstream lists them.
//! - down: mark the leaving servers `down` → `nginx -t` → reload → wait until the workers that
//!   held their connections are gone (bounded; `stub_status` says what was still in flight) →
//!   stop the replicas → remove the leaving lines → `nginx -t` → reload.
//!
//! Before any step, and again right before each write, the configuration file's bytes and
//! nginx's master pid must be what they were when the action was confirmed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::actions::audit::{AuditLog, AuditOutcome, AuditRecord, os_user};
use crate::connectors::nginx;
use crate::connectors::nginx::edit::{Leaving, apply as apply_edits, upstream_edits};
use crate::connectors::nginx::guarded::{self, FileChange, GuardError};
use crate::connectors::nginx::replicas::{Replica, running};
use crate::connectors::nginx::status::{docker_target, pid_file};
use crate::connectors::{Connector, ConnectorError};
use crate::model::action::Action;
use crate::model::clock::Clock;
use crate::model::exec::{CommandLine, Execution};
use crate::model::snapshot::{DockerTarget, WorkloadKind};
use crate::profiles::{NginxEndpoint, Profile, UpstreamAddressing, UpstreamLink};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The drift of every linked upstream, read every refresh interval (and at once after an
/// action, through `poll_now`) and sent to the window. Aborted with the connection.
pub(crate) async fn watch(
    profile: Profile,
    sink: super::EventSink,
    interval: tokio::sync::watch::Receiver<Duration>,
    poll_now: Arc<tokio::sync::Notify>,
) {
    loop {
        let reports = nginx::status::check(&profile).await;
        sink.emit(super::types::Event::LoadBalancers(reports)).await;
        let wait = *interval.borrow();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = poll_now.notified() => {}
        }
    }
}

/// Extra time the execute step may take beyond a plain scale: readiness wait, drain, reloads.
pub(crate) fn extra_time(lb: &LbSteps) -> Duration {
    READY_TIMEOUT + nginx::drain_timeout(&lb.endpoint) + Duration::from_secs(60)
}

/// What was seen when the action was confirmed, and how to reach both sides.
pub(crate) struct LbSteps {
    pub endpoint: NginxEndpoint,
    pub link: UpstreamLink,
    pub target: DockerTarget,
    pub replicas: u32,
    pub profile: String,
    pub file: PathBuf,
    pub before: String,
    pub pid_file: Option<PathBuf>,
    pub master_pid: Option<u32>,
    pub audit: Arc<AuditLog>,
    pub clock: Arc<dyn Clock>,
    /// The profile's team store: step records are shared like every other record.
    pub team: Option<Arc<crate::team::TeamStore>>,
}

/// The nginx link of a scale action on a linked Compose or Swarm service, with the file and
/// master pid read now (the re-check compares with them). `None`: not behind a linked upstream.
/// `Some(Err)`: linked, but nginx's side cannot be read (the action is refused; `--no-lb` or the
/// dialog's checkbox runs the scale alone).
pub(crate) fn for_action(
    profile: &Profile,
    action: &Action,
    audit: &Arc<AuditLog>,
    clock: &Arc<dyn Clock>,
) -> Option<Result<LbSteps, String>> {
    let Action::ScaleWorkload { workload, replicas } = action else {
        return None;
    };
    if !matches!(
        workload.kind,
        WorkloadKind::ComposeService | WorkloadKind::SwarmService
    ) {
        return None;
    }
    let (endpoint, link) = profile.nginx.iter().find_map(|e| {
        e.links
            .iter()
            .find(|l| l.workload.workload_ref() == *workload)
            .map(|l| (e, l))
    })?;
    Some(prepare(profile, endpoint, link, *replicas, audit, clock))
}

fn prepare(
    profile: &Profile,
    endpoint: &NginxEndpoint,
    link: &UpstreamLink,
    replicas: u32,
    audit: &Arc<AuditLog>,
    clock: &Arc<dyn Clock>,
) -> Result<LbSteps, String> {
    let Some(main) = &endpoint.config else {
        return Err(format!(
            "nginx {} runs in a container: Scaleboard reads its upstreams there but does not \
             write them yet; scale with --no-lb (or untick the load-balancer box) and edit the \
             upstream by hand",
            endpoint.name
        ));
    };
    let config = nginx::load_local(main).map_err(|e| format!("nginx {}: {e}", endpoint.name))?;
    let (file, _) = config.upstream(&link.upstream).ok_or_else(|| {
        format!(
            "nginx {}: no upstream named \"{}\" in its configuration",
            endpoint.name, link.upstream
        )
    })?;
    let target = docker_target(profile, &link.workload.endpoint)
        .ok_or_else(|| format!("no Docker endpoint named \"{}\"", link.workload.endpoint))?;
    let pid_path = pid_file(endpoint, &config);
    Ok(LbSteps {
        endpoint: endpoint.clone(),
        link: link.clone(),
        target,
        replicas,
        profile: profile.name.clone(),
        file: file.path.clone(),
        before: file.text.clone(),
        master_pid: pid_path.as_deref().and_then(guarded::master_pid),
        pid_file: pid_path,
        audit: Arc::clone(audit),
        clock: Arc::clone(clock),
        team: None,
    })
}

fn line(argv: Vec<String>) -> String {
    CommandLine {
        argv,
        env: Vec::new(),
        cwd: None,
    }
    .display()
}

impl LbSteps {
    fn test(&self) -> Vec<String> {
        nginx::test_command(&self.endpoint)
    }

    fn reload(&self) -> Vec<String> {
        nginx::reload_command(&self.endpoint)
    }

    /// One step's record.
    async fn record(
        &self,
        id: &str,
        step: &str,
        command: &str,
        outcome: AuditOutcome,
        detail: &str,
    ) {
        let r = AuditRecord {
            id: id.to_string(),
            when: chrono::DateTime::from_timestamp_millis(self.clock.now_ms()).unwrap_or_default(),
            os_user: os_user(),
            profile: self.profile.clone(),
            action: "lb-step".into(),
            target: format!(
                "nginx/{}/{}: {step}",
                self.endpoint.name, self.link.upstream
            ),
            before: String::new(),
            after: String::new(),
            command: command.to_string(),
            outcome,
            detail: detail.to_string(),
            forced: false,
            overridden_guards: Vec::new(),
            advice: None,
        };
        let log = Arc::clone(&self.audit);
        let local = r.clone();
        // A step record that cannot be written is logged; the parent's records still say
        // what happened.
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || log.append(&local)).await {
            log::warn!("audit: the step record could not be written: {e}");
        }
        // Then the team store, like every other record (queued when it cannot be reached).
        let mut r = r;
        super::pipeline_team::share_record(self.team.as_ref(), &mut r).await;
    }

    /// Run one step write-ahead: intent, the work, outcome.
    async fn step<T, F>(
        &self,
        parent: &str,
        n: &mut u32,
        step: &str,
        command: &str,
        work: F,
    ) -> Result<T, ConnectorError>
    where
        F: Future<Output = Result<(T, String), ConnectorError>>,
    {
        *n += 1;
        let id = format!("{parent}/lb-{n}-{}", step.replace(' ', "-"));
        self.record(&id, step, command, AuditOutcome::Intent, "about to run")
            .await;
        match work.await {
            Ok((value, detail)) => {
                self.record(&id, step, command, AuditOutcome::Succeeded, &detail)
                    .await;
                Ok(value)
            }
            Err(e) => {
                let outcome = match &e {
                    ConnectorError::Conflict(_) => AuditOutcome::NotRun,
                    e if e.outcome_unknown() => AuditOutcome::Unknown,
                    _ => AuditOutcome::Failed,
                };
                self.record(&id, step, command, outcome, &e.to_string())
                    .await;
                Err(e)
            }
        }
    }

    /// The file and master as confirmed, or a conflict that says what changed.
    fn recheck(&self) -> Result<(), ConnectorError> {
        let now = std::fs::read_to_string(&self.file).map_err(|e| {
            ConnectorError::Failed(format!("cannot read {}: {e}", self.file.display()))
        })?;
        if now != self.before {
            return Err(ConnectorError::Conflict(format!(
                "{} (digest {} when planned, {} now); nothing was changed",
                self.file.display(),
                nginx::digest(&self.before),
                nginx::digest(&now)
            )));
        }
        let pid = self.pid_file.as_deref().and_then(guarded::master_pid);
        if self.master_pid.is_some() && pid != self.master_pid {
            return Err(ConnectorError::Conflict(format!(
                "nginx's master pid ({:?} when planned, {pid:?} now); nothing was changed",
                self.master_pid
            )));
        }
        Ok(())
    }

    async fn replicas(&self) -> Result<Vec<Replica>, ConnectorError> {
        running(&self.target, &self.link)
            .await
            .map_err(ConnectorError::Failed)
    }

    /// Write `after` over the current file (which must still be `current`), test, reload.
    async fn write(&self, current: &str, after: String) -> Result<((), String), ConnectorError> {
        let change = FileChange {
            path: self.file.clone(),
            before: current.to_string(),
            after,
            master_pid: self.master_pid,
        };
        match guarded::apply(
            &change,
            self.pid_file.as_deref(),
            &self.test(),
            &self.reload(),
        )
        .await
        {
            Ok(detail) => Ok(((), detail)),
            Err(GuardError::Changed(what)) => Err(ConnectorError::Conflict(what)),
            Err(e) => Err(ConnectorError::Failed(e.to_string())),
        }
    }

    /// The upstream text with `target` as its active servers.
    fn edited(
        &self,
        current: &str,
        target: &[String],
        leaving: Leaving,
    ) -> Result<String, ConnectorError> {
        let facts = nginx::parse::file_facts(current)
            .map_err(|e| ConnectorError::Failed(format!("{}: {e}", self.file.display())))?;
        let up = facts
            .upstreams
            .iter()
            .find(|u| u.name == self.link.upstream)
            .ok_or_else(|| {
                ConnectorError::Conflict(format!(
                    "the upstream {} is no longer in {}",
                    self.link.upstream,
                    self.file.display()
                ))
            })?;
        Ok(apply_edits(
            current,
            &upstream_edits(current, up, target, leaving),
        ))
    }

    fn addresses(&self, replicas: &[Replica]) -> Result<Vec<String>, ConnectorError> {
        replicas
            .iter()
            .map(|r| r.address(&self.link).map_err(ConnectorError::Failed))
            .collect()
    }

    /// The scale with its load-balancer steps, in the safe order.
    pub(crate) async fn execute(
        &self,
        parent: &str,
        connector: &dyn Connector,
        run: Execution<'_>,
    ) -> Result<String, ConnectorError> {
        self.recheck()?;
        let now = self.replicas().await?;
        let from = u32::try_from(now.len()).unwrap_or(u32::MAX);
        let scale_line = run
            .command_line
            .map_or_else(|| "scale".to_string(), CommandLine::display);
        let dns = self.link.addressing == UpstreamAddressing::Dns;
        let mut n = 0;
        let mut done = Vec::new();
        if self.replicas >= from {
            let out = self
                .step(parent, &mut n, "start replicas", &scale_line, async {
                    let out = connector.execute(run).await?;
                    Ok((out.clone(), out))
                })
                .await?;
            done.push(out);
            let ready = self
                .step(parent, &mut n, "wait ready", "", self.wait_ready())
                .await?;
            let addresses = self.addresses(&ready)?;
            if dns {
                let reload = line(self.reload());
                let detail = self
                    .step(parent, &mut n, "reload", &reload, async {
                        guarded::run(&self.reload())
                            .await
                            .map(|o| ((), format!("reloaded: {o}")))
                            .map_err(ConnectorError::Failed)
                    })
                    .await;
                detail?;
                done.push("nginx reloaded (the name resolves to the new replicas)".into());
                return Ok(done.join("; "));
            }
            let after = self.edited(&self.before, &addresses, Leaving::MarkDown)?;
            let command = format!(
                "write {}; {}; {}",
                self.file.display(),
                line(self.test()),
                line(self.reload())
            );
            self.step(
                parent,
                &mut n,
                "write upstream",
                &command,
                self.write(&self.before, after),
            )
            .await?;
            done.push(self.verify(&addresses)?);
            return Ok(done.join("; "));
        }
        // Down: the highest container numbers leave (what compose stops).
        let keep = usize::try_from(self.replicas).unwrap_or(usize::MAX);
        let (kept, leaving) = now.split_at(keep.min(now.len()));
        let kept_addresses = self.addresses(kept)?;
        let leaving_names: Vec<&str> = leaving.iter().map(|r| r.name.as_str()).collect();
        let mut current = self.before.clone();
        if !dns {
            let after = self.edited(&current, &kept_addresses, Leaving::MarkDown)?;
            let command = format!(
                "mark {} down in {}; {}; {}",
                leaving_names.join(", "),
                self.file.display(),
                line(self.test()),
                line(self.reload())
            );
            let workers_before = self.master_pid.map(guarded::workers).unwrap_or_default();
            self.step(
                parent,
                &mut n,
                "mark down",
                &command,
                self.write(&current, after.clone()),
            )
            .await?;
            current = after;
            let drained = self
                .step(parent, &mut n, "drain", "", async {
                    let d = guarded::drain(
                        self.master_pid,
                        &workers_before,
                        self.endpoint.stub_status_url.as_deref(),
                        nginx::drain_timeout(&self.endpoint),
                    )
                    .await;
                    Ok((d.clone(), d))
                })
                .await?;
            done.push(drained);
        }
        let out = self
            .step(parent, &mut n, "stop replicas", &scale_line, async {
                let out = connector.execute(run).await?;
                Ok((out.clone(), out))
            })
            .await?;
        done.push(out);
        let left = self.replicas().await?;
        let left_addresses = self.addresses(&left)?;
        if !dns && left_addresses != kept_addresses {
            return Err(ConnectorError::Failed(format!(
                "the replicas left running ({}) are not the ones kept in the upstream ({}): \
                 check {}",
                left_addresses.join(", "),
                kept_addresses.join(", "),
                self.file.display()
            )));
        }
        let (step, command, after) = if dns {
            ("reload", line(self.reload()), None)
        } else {
            let after = self.edited(&current, &kept_addresses, Leaving::Remove)?;
            (
                "remove servers",
                format!(
                    "remove {} from {}; {}; {}",
                    leaving_names.join(", "),
                    self.file.display(),
                    line(self.test()),
                    line(self.reload())
                ),
                Some(after),
            )
        };
        match after {
            Some(after) => {
                self.step(parent, &mut n, step, &command, self.write(&current, after))
                    .await?;
            }
            None => {
                self.step(parent, &mut n, step, &command, async {
                    guarded::run(&self.reload())
                        .await
                        .map(|o| ((), format!("reloaded: {o}")))
                        .map_err(ConnectorError::Failed)
                })
                .await?;
            }
        }
        if dns {
            done.push(format!("upstream {} reloaded", self.link.upstream));
        } else {
            done.push(self.verify(&kept_addresses)?);
        }
        Ok(done.join("; "))
    }

    /// The file as nginx now has it lists exactly `addresses` as active servers.
    fn verify(&self, addresses: &[String]) -> Result<String, ConnectorError> {
        let text = std::fs::read_to_string(&self.file).map_err(|e| {
            ConnectorError::Failed(format!("cannot read {}: {e}", self.file.display()))
        })?;
        let facts = nginx::parse::file_facts(&text)
            .map_err(|e| ConnectorError::Failed(format!("{}: {e}", self.file.display())))?;
        let mut listed: Vec<&str> = facts
            .upstreams
            .iter()
            .find(|u| u.name == self.link.upstream)
            .map(|u| {
                u.servers
                    .iter()
                    .filter(|s| !s.down && !s.backup)
                    .map(|s| s.address.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let mut want: Vec<&str> = addresses.iter().map(String::as_str).collect();
        listed.sort_unstable();
        want.sort_unstable();
        if listed == want {
            Ok(format!(
                "upstream {} lists {} server(s), one per running replica",
                self.link.upstream,
                want.len()
            ))
        } else {
            Err(ConnectorError::Failed(format!(
                "upstream {} lists {} after the reload, not the running replicas {}",
                self.link.upstream,
                listed.join(", "),
                want.join(", ")
            )))
        }
    }

    /// Until the workload runs the target count and every replica accepts a connection.
    async fn wait_ready(&self) -> Result<(Vec<Replica>, String), ConnectorError> {
        let start = Instant::now();
        let want = usize::try_from(self.replicas).unwrap_or(usize::MAX);
        loop {
            let now = self.replicas().await?;
            let mut answering = 0;
            if now.len() == want {
                for r in &now {
                    let addr = match self.link.addressing {
                        UpstreamAddressing::Dns => r
                            .networks
                            .first()
                            .map(|(_, ip)| format!("{ip}:{}", self.link.port)),
                        _ => r.address(&self.link).ok(),
                    };
                    let ok = match addr {
                        Some(a) => tokio::time::timeout(
                            Duration::from_secs(1),
                            tokio::net::TcpStream::connect(a),
                        )
                        .await
                        .is_ok_and(|c| c.is_ok()),
                        None => false,
                    };
                    answering += usize::from(ok);
                }
                if answering == want {
                    return Ok((
                        now,
                        format!(
                            "{want} replica(s) answer after {:.1} s",
                            start.elapsed().as_secs_f64()
                        ),
                    ));
                }
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(ConnectorError::Failed(format!(
                    "{} of {want} replica(s) running, {answering} answering after {} s: the \
                     upstream was not changed",
                    now.len(),
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
