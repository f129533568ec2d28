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
use crate::connectors::nginx::site::Site;
use crate::connectors::nginx::status::docker_target;
use crate::connectors::{Connector, ConnectorError};
use crate::model::action::Action;
use crate::model::clock::Clock;
use crate::model::exec::{CommandLine, Execution};
use crate::model::snapshot::{DockerTarget, WorkloadKind, WorkloadRef};
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
    /// Where nginx runs: how the file is read and written, the master and workers seen.
    pub site: Site,
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
pub(crate) async fn for_action(
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
    let (endpoint, link) = profile
        .nginx
        .iter()
        .find_map(|e| e.links.iter().find(|l| linked(l, workload)).map(|l| (e, l)))?;
    Some(prepare(profile, endpoint, link, *replicas, audit, clock).await)
}

/// The link names this workload. A Swarm service may be written with the scope `swarm` (what
/// the profile's docs say) or `(swarm)` (what the Docker connector's rows carry).
fn linked(l: &UpstreamLink, workload: &WorkloadRef) -> bool {
    let mut id = l.workload.workload_ref();
    if id.kind == WorkloadKind::SwarmService && id.scope == "swarm" {
        id.scope = crate::connectors::docker::SWARM_SCOPE.to_string();
    }
    id == *workload
}

async fn prepare(
    profile: &Profile,
    endpoint: &NginxEndpoint,
    link: &UpstreamLink,
    replicas: u32,
    audit: &Arc<AuditLog>,
    clock: &Arc<dyn Clock>,
) -> Result<LbSteps, String> {
    let config = nginx::status::read_config(endpoint)
        .await
        .map_err(|e| format!("nginx {}: {e}", endpoint.name))?;
    let (file, _) = config.upstream(&link.upstream).ok_or_else(|| {
        format!(
            "nginx {}: no upstream named \"{}\" in its configuration",
            endpoint.name, link.upstream
        )
    })?;
    let target = docker_target(profile, &link.workload.endpoint)
        .ok_or_else(|| format!("no Docker endpoint named \"{}\"", link.workload.endpoint))?;
    let site = Site::of(endpoint, &config);
    // In a container `nginx -T` printed the file; the re-check reads it the way the write
    // will (`docker cp`), so both compare the same bytes.
    let before = match &site {
        Site::Local { .. } => file.text.clone(),
        Site::Container(_) => site
            .read(&file.path)
            .await
            .map_err(|e| format!("nginx {}: {e}", endpoint.name))?,
    };
    Ok(LbSteps {
        endpoint: endpoint.clone(),
        link: link.clone(),
        target,
        replicas,
        profile: profile.name.clone(),
        file: file.path.clone(),
        before,
        master_pid: site.master().await,
        site,
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
    async fn recheck(&self) -> Result<(), ConnectorError> {
        let now = self
            .site
            .read(&self.file)
            .await
            .map_err(ConnectorError::Failed)?;
        if now != self.before {
            return Err(ConnectorError::Conflict(format!(
                "{} (digest {} when planned, {} now); nothing was changed",
                self.file.display(),
                nginx::digest(&self.before),
                nginx::digest(&now)
            )));
        }
        let pid = self.site.master().await;
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
        match guarded::apply(&change, &self.site, &self.test(), &self.reload()).await {
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
        self.recheck().await?;
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
                "{}; {}; {}",
                self.site.write_words(&self.file),
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
            done.push(self.verify(&addresses).await?);
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
                "mark {} down in {}{}; {}; {}",
                leaving_names.join(", "),
                self.file.display(),
                self.site.via(&self.file),
                line(self.test()),
                line(self.reload())
            );
            let workers_before = match self.master_pid {
                Some(m) => self.site.workers(m).await,
                None => Vec::new(),
            };
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
                        &self.site,
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
        let left = self.wait_stopped(kept.len()).await?;
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
                    "remove {} from {}{}; {}; {}",
                    leaving_names.join(", "),
                    self.file.display(),
                    self.site.via(&self.file),
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
            done.push(format!(
                "upstream {} reloaded after the stop (a name cannot be drained: requests sent \
                 to the stopped replicas before the reload were not protected)",
                self.link.upstream
            ));
        } else {
            done.push(self.verify(&kept_addresses).await?);
        }
        Ok(done.join("; "))
    }

    /// The file as nginx now has it lists exactly `addresses` as active servers.
    async fn verify(&self, addresses: &[String]) -> Result<String, ConnectorError> {
        let text = self
            .site
            .read(&self.file)
            .await
            .map_err(ConnectorError::Failed)?;
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

    /// Until no more than `keep` replicas run (`docker service scale --detach` returns before
    /// Swarm has stopped the leaving tasks; Compose returns after). Bounded.
    async fn wait_stopped(&self, keep: usize) -> Result<Vec<Replica>, ConnectorError> {
        let start = Instant::now();
        loop {
            let now = self.replicas().await?;
            if now.len() <= keep {
                return Ok(now);
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(ConnectorError::Failed(format!(
                    "{} replica(s) still running {} s after the scale to {keep}",
                    now.len(),
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
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
