//! The supervisor owns the endpoints of the connected profile: it starts and stops their poll
//! loops, routes actions to the right connector, and tracks cancellation of running actions.

use super::files::Files;
use super::pipeline::{ActionRun, finish_refused};
use super::poll::PollLoop;
use super::types::{Command, Event};
use super::{ConnectRequest, EngineConfig, EventSink};
use crate::actions::audit::AuditLog;
use crate::actions::{ActionId, Plan};
use crate::connectors::Connector;
use crate::connectors::registry;
use crate::profiles::Profile;
use crate::team::TeamStore;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

struct Connected {
    profile: Profile,
    connectors: HashMap<String, Arc<dyn Connector>>,
    polls: Vec<JoinHandle<()>>,
    poll_now: Arc<Notify>,
    team: Option<Arc<TeamStore>>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        for task in &self.polls {
            task.abort();
        }
    }
}

/// Clamp a refresh interval to what profiles allow (1 s to 60 s).
pub fn clamp_interval(secs: u32) -> Duration {
    Duration::from_secs(u64::from(secs.clamp(1, 60)))
}

pub(crate) async fn run(
    config: EngineConfig,
    mut commands: mpsc::Receiver<Command>,
    sink: EventSink,
) {
    let (interval_tx, interval_rx) = watch::channel(Duration::from_secs(2));
    let audit = Arc::new(AuditLog::new(&config.data_dir));
    let files = Files::new(&config.config_dir, &config.data_dir);
    files.run(super::files::FileJob::ProbeKeyring, &sink);
    let mut connected: Option<Connected> = None;
    let mut running: HashMap<ActionId, watch::Sender<bool>> = HashMap::new();
    let mut skip_lb: std::collections::HashSet<ActionId> = std::collections::HashSet::new();
    while let Some(command) = commands.recv().await {
        running.retain(|_, cancel| !cancel.is_closed());
        // An advised action runs exactly like any other; only its audit records cite the advice.
        let (command, advice, takeover) = match command {
            Command::ExecuteAdvised {
                id,
                plan,
                forced,
                advice,
            } => (Command::Execute { id, plan, forced }, Some(advice), None),
            Command::ExecuteTakingOver {
                id,
                plan,
                reason,
                advice,
            } => {
                let forced = true;
                (Command::Execute { id, plan, forced }, advice, Some(reason))
            }
            other => (other, None, None),
        };
        match command {
            Command::Connect(request) => {
                let ConnectRequest { profile, demo_seed } = *request;
                interval_tx.send_replace(clamp_interval(profile.refresh_interval_secs));
                // Dropping the old connection aborts its poll loops before the new ones start.
                drop(connected.take());
                connected = Some(connect(profile, demo_seed, &config, &sink, &interval_rx).await);
            }
            Command::SetRefresh { interval } => {
                interval_tx
                    .send_replace(interval.clamp(Duration::from_secs(1), Duration::from_secs(60)));
            }
            Command::PollNow => {
                if let Some(c) = &connected {
                    c.poll_now.notify_waiters();
                }
            }
            Command::Execute { id, plan, forced } => {
                let admitted = admit(connected.as_ref(), &plan, forced);
                let (c, connector) = match admitted {
                    Ok(found) => found,
                    Err(why) => {
                        let now = config.clock.now_ms();
                        let team = connected.as_ref().and_then(|c| c.team.as_ref());
                        finish_refused(&sink, &audit, team, now, id, &plan, forced, &why, advice)
                            .await;
                        continue;
                    }
                };
                let lb = if skip_lb.remove(&id) {
                    connector.leave_load_balancer(&plan.action);
                    None
                } else {
                    super::pipeline_lb::for_action(&c.profile, &plan.action, &audit, &config.clock)
                        .await
                };
                let lb = match lb {
                    None => None,
                    Some(Ok(mut steps)) => {
                        steps.team = c.team.clone();
                        Some(Arc::new(steps))
                    }
                    Some(Err(why)) => {
                        let now = config.clock.now_ms();
                        let why = format!("the load balancer's side cannot be prepared: {why}");
                        let team = c.team.as_ref();
                        finish_refused(&sink, &audit, team, now, id, &plan, forced, &why, advice)
                            .await;
                        continue;
                    }
                };
                let (cancel_tx, cancel_rx) = watch::channel(false);
                running.insert(id, cancel_tx);
                let run = ActionRun {
                    id,
                    plan: *plan,
                    forced,
                    connector,
                    sink: sink.clone(),
                    clock: Arc::clone(&config.clock),
                    grace: config.grace,
                    verify_timeout: config.verify_timeout,
                    poll_timeout: config.poll_timeout,
                    audit: Arc::clone(&audit),
                    poll_now: Arc::clone(&c.poll_now),
                    advice,
                    team: c.team.clone(),
                    takeover,
                    lb,
                };
                tokio::spawn(run.run(cancel_rx));
            }
            Command::SkipLoadBalancer { id } => {
                skip_lb.insert(id);
            }
            Command::Cancel { id } => {
                if let Some(cancel) = running.get(&id) {
                    cancel.send_replace(true);
                }
            }
            Command::DryRun { key, action } => {
                let connector = connected
                    .as_ref()
                    .and_then(|c| c.connectors.get(action.endpoint()).cloned());
                let sink = sink.clone();
                // A bulk plan asks once per workload: more time than one poll gets.
                let timeout = config.poll_timeout * 3;
                tokio::spawn(async move {
                    use crate::actions::DryRunOutcome;
                    let outcome = match connector {
                        None => DryRunOutcome::NotOffered,
                        Some(c) => match tokio::time::timeout(timeout, c.dry_run(&action)).await {
                            Ok(Ok(None)) => DryRunOutcome::NotOffered,
                            Ok(Ok(Some(text))) => DryRunOutcome::Accepted(text),
                            Ok(Err(e)) if e.is_verdict() => DryRunOutcome::Refused(e.to_string()),
                            Ok(Err(e)) => DryRunOutcome::NoAnswer(e.to_string()),
                            Err(_) => DryRunOutcome::NoAnswer(format!(
                                "no answer within {} s",
                                timeout.as_secs_f32()
                            )),
                        },
                    };
                    sink.emit(Event::DryRun { key, outcome }).await;
                });
            }
            Command::Files(job) => files.run(job, &sink),
            Command::QueryTeamAudit(query) => {
                let team = connected.as_ref().and_then(|c| c.team.clone());
                super::team_audit::query(team, query, &sink);
            }
            Command::DesktopNotify { summary, body } => {
                tokio::spawn(super::desktop_notify::send(summary, body));
            }
            Command::TestEndpoint {
                profile,
                kind,
                name,
            } => {
                let clock = Arc::clone(&config.clock);
                let sink = sink.clone();
                let timeout = config.poll_timeout;
                tokio::spawn(async move {
                    let result = test_endpoint(&profile, kind, &name, &clock, timeout).await;
                    sink.emit(Event::TestResult { kind, name, result }).await;
                });
            }
            // Turned into `Execute` with its advice or takeover reason above.
            Command::ExecuteAdvised { .. } | Command::ExecuteTakingOver { .. } => {}
            Command::Shutdown => break,
        }
    }
}

/// The engine's own last check before an action runs, whatever the UI allowed: a read-only
/// profile, an unforced refusal or an unknown endpoint stop it here (and are audited).
fn admit<'a>(
    connected: Option<&'a Connected>,
    plan: &Plan,
    forced: bool,
) -> Result<(&'a Connected, Arc<dyn Connector>), String> {
    let c = connected.ok_or("no profile is connected")?;
    if c.profile.read_only {
        return Err(format!("profile \"{}\" is read-only", c.profile.name));
    }
    if plan.refused() && !forced {
        return Err("a guard refused it and it was not forced".into());
    }
    let endpoint = plan.action.endpoint();
    let connector = c
        .connectors
        .get(endpoint)
        .cloned()
        .ok_or_else(|| format!("endpoint {endpoint} is not connected"))?;
    Ok((c, connector))
}

async fn connect(
    profile: Profile,
    demo_seed: u64,
    config: &EngineConfig,
    sink: &EventSink,
    interval: &watch::Receiver<Duration>,
) -> Connected {
    let built = registry::build(&profile, &config.clock, demo_seed);
    for (kind, name) in &built.unsupported {
        sink.emit(Event::Notice(format!(
            "Profile \"{}\": the {} connector is not built yet (issue {}), so endpoint \"{name}\" is not polled.",
            profile.name,
            kind.label(),
            registry::pending_issue(*kind)
        )))
        .await;
    }
    let team = TeamStore::for_profile(&profile, &config.data_dir);
    if let Some(team) = team.clone() {
        // Records left "not shared yet" by an earlier run go out as soon as the store answers.
        let sink = sink.clone();
        tokio::spawn(async move {
            match team.flush_pending().await {
                Ok(0) => {}
                Ok(n) => {
                    sink.emit(Event::Notice(format!(
                        "Team store: {n} audit records that were not shared yet are shared now."
                    )))
                    .await;
                }
                Err(why) => {
                    let why = team.unreachable(&why);
                    sink.emit(Event::Notice(format!("Team mode: {why}."))).await;
                }
            }
        });
    }
    let connectors = built.connectors;
    sink.emit(Event::Endpoints(
        connectors.iter().map(|c| c.info().clone()).collect(),
    ))
    .await;
    let poll_now = Arc::new(Notify::new());
    let feed = team
        .clone()
        .map(|store| tokio::spawn(super::team_feed::run(store, sink.clone())));
    let mut polls: Vec<JoinHandle<()>> = connectors
        .iter()
        .map(|connector| {
            tokio::spawn(
                PollLoop {
                    connector: Arc::clone(connector),
                    sink: sink.clone(),
                    clock: Arc::clone(&config.clock),
                    interval: interval.clone(),
                    poll_now: Arc::clone(&poll_now),
                    timeout: config.poll_timeout,
                }
                .run(),
            )
        })
        .chain(feed)
        .collect();
    if !profile.nginx.is_empty() {
        polls.push(tokio::spawn(super::pipeline_lb::watch(
            profile.clone(),
            sink.clone(),
            interval.clone(),
            Arc::clone(&poll_now),
        )));
    }
    Connected {
        profile,
        connectors: connectors
            .into_iter()
            .map(|c| (c.info().id.clone(), c))
            .collect(),
        polls,
        poll_now,
        team,
    }
}

async fn test_endpoint(
    profile: &Profile,
    kind: crate::profiles::EndpointKind,
    name: &str,
    clock: &Arc<dyn crate::model::clock::Clock>,
    timeout: Duration,
) -> Result<String, String> {
    let Some(connector) = registry::build_endpoint(profile, kind, name, clock) else {
        return Err(format!(
            "the {} connector is not built yet (issue {})",
            kind.label(),
            registry::pending_issue(kind)
        ));
    };
    match tokio::time::timeout(timeout, connector.poll()).await {
        Ok(Ok(out)) => Ok(crate::connectors::summary(&out.snapshot)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}
