//! `scaleboard scale`: the same plan, guards, pipeline and audit as the window, on a terminal.
//!
//! ```text
//! scaleboard scale --profile P compose/PROJECT/SERVICE N
//! scaleboard scale --profile P compose/PROJECT --set api=2 --set writer=3
//! scaleboard scale --profile P swarm/SERVICE N
//! scaleboard scale --profile P CONTEXT/NAMESPACE/KIND/NAME N
//! scaleboard scale --profile P CONTEXT/NAMESPACE N --all
//! scaleboard autoscale --profile P CONTEXT/NAMESPACE/KIND/NAME --min 2 --max 10 --cpu-percent 70
//! ```

use crate::actions::audit::AuditOutcome;
use crate::actions::{Action, ActionId, FleetView, Guard, GuardLevel, Plan, PlanPolicy, plan};
use crate::connectors::docker::SWARM_SCOPE;
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use crate::model::clock::SystemClock;
use crate::model::snapshot::{DatabaseSnapshot, Snapshot, Workload, WorkloadKind, WorkloadRef};
use crate::profiles::{AppDirs, Profile};
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ScaleRequest {
    /// `compose/PROJECT/SERVICE`, `compose/PROJECT` (with `set`) or `swarm/SERVICE`.
    pub target: String,
    pub replicas: Option<u32>,
    /// `SERVICE=N` pairs for a whole-project scale.
    pub set: Vec<String>,
    /// Every Deployment and StatefulSet of the namespace (`CONTEXT/NAMESPACE N --all`).
    pub all: bool,
    /// Which endpoint, when several engines hold the same project or service.
    pub endpoint: Option<String>,
    pub run: RunOptions,
}

/// What the operator asked for, before it is matched against the fleet.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Service {
        kind: WorkloadKind,
        scope: String,
        name: String,
        replicas: u32,
    },
    Project {
        project: String,
        services: Vec<(String, u32)>,
    },
    Kube {
        target: super::kube::KubeTarget,
        replicas: u32,
    },
}

fn parse_target(req: &ScaleRequest) -> anyhow::Result<Wanted> {
    let parts: Vec<&str> = req.target.split('/').collect();
    let need_replicas = || {
        req.replicas.ok_or_else(|| {
            anyhow::anyhow!("give the replica count after the target: {} N", req.target)
        })
    };
    match parts.as_slice() {
        ["compose", project, service] if req.set.is_empty() => Ok(Wanted::Service {
            kind: WorkloadKind::ComposeService,
            scope: (*project).to_string(),
            name: (*service).to_string(),
            replicas: need_replicas()?,
        }),
        ["swarm", service] if req.set.is_empty() => Ok(Wanted::Service {
            kind: WorkloadKind::SwarmService,
            scope: SWARM_SCOPE.to_string(),
            name: (*service).to_string(),
            replicas: need_replicas()?,
        }),
        ["compose", project] if !req.set.is_empty() && req.replicas.is_none() => {
            let services = req
                .set
                .iter()
                .map(|pair| {
                    let (s, n) = pair
                        .split_once('=')
                        .with_context(|| format!("--set {pair}: expected SERVICE=N"))?;
                    let n: u32 = n
                        .parse()
                        .with_context(|| format!("--set {pair}: {n} is not a replica count"))?;
                    Ok((s.to_string(), n))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Wanted::Project {
                project: (*project).to_string(),
                services,
            })
        }
        _ => match super::kube::parse(&req.target, req.all) {
            Some(target) => Ok(Wanted::Kube {
                target,
                replicas: need_replicas()?,
            }),
            None => bail!(
                "target \"{}\" not understood: use CONTEXT/NAMESPACE/KIND/NAME N, \
                 CONTEXT/NAMESPACE N --all, compose/PROJECT/SERVICE N, \
                 compose/PROJECT --set SERVICE=N…, or swarm/SERVICE N",
                req.target
            ),
        },
    }
}

#[derive(Default)]
pub(super) struct CliFleet {
    snapshots: HashMap<String, Snapshot>,
}

impl FleetView for CliFleet {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.workloads().find(|w| &w.id == id)
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Databases(db)) => Some(db),
            _ => None,
        }
    }
    fn capacity(&self, endpoint: &str) -> Option<&crate::model::capacity::CapacityView> {
        match self.snapshots.get(endpoint) {
            Some(Snapshot::Workloads(list)) => list.capacity.as_deref(),
            _ => None,
        }
    }
}

impl CliFleet {
    /// Snapshots in endpoint order (stable output).
    pub(super) fn sorted(&self) -> Vec<&Snapshot> {
        let mut ids: Vec<&String> = self.snapshots.keys().collect();
        ids.sort();
        ids.into_iter().map(|id| &self.snapshots[id]).collect()
    }

    pub(super) fn workloads(&self) -> impl Iterator<Item = &Workload> {
        self.snapshots.values().flat_map(|s| match s {
            Snapshot::Workloads(list) => list.as_slice(),
            _ => &[],
        })
    }
}

/// Match the wanted target against the fleet: exactly one endpoint must hold it.
fn resolve(fleet: &CliFleet, wanted: Wanted, endpoint: Option<&str>) -> anyhow::Result<Action> {
    if let Wanted::Kube { target, replicas } = &wanted {
        return super::kube::scale_action(fleet, target, *replicas, endpoint);
    }
    let (kind, scope, name) = match &wanted {
        Wanted::Service {
            kind, scope, name, ..
        } => (*kind, scope.clone(), Some(name.clone())),
        Wanted::Project { project, .. } => (WorkloadKind::ComposeService, project.clone(), None),
        Wanted::Kube { .. } => unreachable!("handled above"),
    };
    let mut endpoints: Vec<&str> = fleet
        .workloads()
        .filter(|w| w.id.kind == kind && w.id.scope == scope)
        .filter(|w| name.as_ref().is_none_or(|n| &w.id.name == n))
        .filter(|w| endpoint.is_none_or(|e| w.id.endpoint == e))
        .map(|w| w.id.endpoint.as_str())
        .collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    let endpoint = match endpoints.as_slice() {
        [one] => (*one).to_string(),
        [] => {
            let mut seen: Vec<String> = fleet
                .workloads()
                .filter(|w| w.id.kind == kind)
                .map(|w| format!("{}:{}", w.id.endpoint, w.id))
                .collect();
            seen.sort();
            bail!(
                "no {} named {} found; seen: {}",
                kind.label(),
                name.map_or(scope.clone(), |n| format!("{scope}/{n}")),
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                }
            )
        }
        many => bail!(
            "found on several endpoints ({}): choose one with --endpoint",
            many.join(", ")
        ),
    };
    Ok(match wanted {
        Wanted::Service {
            kind,
            scope,
            name,
            replicas,
        } => Action::ScaleWorkload {
            workload: WorkloadRef::new(endpoint, scope, kind, name),
            replicas,
        },
        Wanted::Project { project, services } => Action::ScaleComposeServices {
            endpoint,
            project,
            services,
        },
        Wanted::Kube { .. } => unreachable!("handled above"),
    })
}

pub fn print_plan(plan: &Plan, mut out: impl Write) -> std::io::Result<()> {
    writeln!(out, "{}", plan.title)?;
    writeln!(out, "  before:  {}", plan.before)?;
    writeln!(out, "  after:   {}", plan.after)?;
    writeln!(out, "  command: {}", plan.command)?;
    for g in &plan.guards {
        let level = match g.level {
            GuardLevel::Pass => "ok",
            GuardLevel::Warn => "WARN",
            GuardLevel::Refuse => "REFUSED",
        };
        writeln!(out, "  [{level}] {}", g.reason)?;
    }
    writeln!(out, "  {}", plan.recheck_note())?;
    Ok(())
}

/// How an action from the command line runs: confirmation, force, grace, verification time,
/// connect timeout.
pub struct RunOptions {
    /// Skip the typed-name confirmation.
    pub yes: bool,
    /// Run even though a guard refuses (recorded as forced in the audit).
    pub force: bool,
    pub grace: Duration,
    /// How long the new state may take to show before the outcome is "timed out".
    pub verify_timeout: Duration,
    /// How long to wait for every endpoint's first poll.
    pub connect_timeout: Duration,
    /// Scale without the load-balancer steps of a linked nginx upstream (`--no-lb`).
    pub no_lb: bool,
    /// Take over the change lock another console holds on the target (team mode), with this
    /// typed reason; recorded in the team store and the audit, and the run counts as forced.
    pub take_over: Option<String>,
}

/// Plan, confirm, run through the engine, report. Returns whether the action succeeded.
pub fn scale(
    dirs: &AppDirs,
    profile: Profile,
    req: &ScaleRequest,
    input: impl BufRead,
    out: impl Write,
) -> anyhow::Result<bool> {
    let wanted = parse_target(req)?;
    run_action(dirs, profile, &req.run, input, out, |fleet| {
        resolve(fleet, wanted, req.endpoint.as_deref())
    })
}

/// Connect to the profile, find the target in the first snapshots, then plan, confirm,
/// execute, verify and audit through the engine — the window's pipeline, on a terminal.
pub(super) fn run_action(
    dirs: &AppDirs,
    profile: Profile,
    req: &RunOptions,
    mut input: impl BufRead,
    mut out: impl Write,
    resolve: impl FnOnce(&CliFleet) -> anyhow::Result<Action>,
) -> anyhow::Result<bool> {
    let mut config = EngineConfig::new(
        Arc::new(SystemClock),
        dirs.config_dir.clone(),
        dirs.data_dir.clone(),
    );
    config.grace = req.grace;
    config.verify_timeout = req.verify_timeout;
    let policy = PlanPolicy {
        profile: profile.name.clone(),
        read_only: profile.read_only,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let lb_profile = (!profile.nginx.is_empty()).then(|| profile.clone());
    let mut engine = EngineHandle::start(config, Arc::new(|| {}))?;
    engine.send(Command::Connect(Box::new(ConnectRequest {
        profile,
        demo_seed: 42,
    })))?;
    let fleet = first_snapshots(&mut engine, req.connect_timeout, &mut out)?;
    let action = resolve(&fleet)?;
    let mut plan = plan(action, &fleet, &policy);
    if !plan.refused() {
        dry_run(&mut engine, &mut plan, req.connect_timeout)?;
    }
    print_plan(&plan, &mut out)?;
    if let Some(p) = &lb_profile
        && let Some(lines) = super::lb::preview(p, &plan.action)
    {
        if req.no_lb {
            writeln!(out, "  Load balancer: left as it is (--no-lb)")?;
        } else {
            for line in lines {
                writeln!(out, "  {line}")?;
            }
        }
    }
    if plan.refused() && !req.force {
        writeln!(
            out,
            "Refused: nothing was changed (use --force to override)."
        )?;
        return Ok(false);
    }
    if !req.yes {
        let name = plan.action.target_name();
        write!(out, "Type \"{name}\" to confirm: ")?;
        out.flush()?;
        let mut typed = String::new();
        input.read_line(&mut typed)?;
        if typed.trim() != name {
            writeln!(out, "Not confirmed: nothing was changed.")?;
            return Ok(false);
        }
    }
    if req.no_lb {
        engine.send(Command::SkipLoadBalancer { id: ActionId(1) })?;
    }
    let command = match &req.take_over {
        Some(reason) => Command::ExecuteTakingOver {
            id: ActionId(1),
            plan: Box::new(plan),
            reason: reason.clone(),
            advice: None,
        },
        None => Command::Execute {
            id: ActionId(1),
            plan: Box::new(plan),
            forced: req.force,
        },
    };
    let record = super::follow::follow_command(&mut engine, command, "Executing…", &mut out)?;
    Ok(record.outcome == AuditOutcome::Succeeded)
}

/// Ask the endpoint for a server-side dry run; its verdict joins the plan's guards (as in the
/// window's dialog), so a refusal by admission control stops the action before confirmation.
fn dry_run(engine: &mut EngineHandle, plan: &mut Plan, timeout: Duration) -> anyhow::Result<()> {
    const KEY: u64 = 1;
    engine.send(Command::DryRun {
        key: KEY,
        action: Box::new(plan.action.clone()),
    })?;
    let deadline = Instant::now() + timeout;
    while let Some(event) = engine.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        if let Event::DryRun { key: KEY, outcome } = event {
            plan.guards.extend(outcome.guard());
            return Ok(());
        }
    }
    plan.guards.push(Guard::warn(format!(
        "The server's dry run did not answer within {} s.",
        timeout.as_secs()
    )));
    Ok(())
}

/// Wait until every endpoint has answered once (or failed), keeping the snapshots.
pub(super) fn first_snapshots(
    engine: &mut EngineHandle,
    timeout: Duration,
    out: &mut impl Write,
) -> anyhow::Result<CliFleet> {
    let deadline = Instant::now() + timeout;
    let mut fleet = CliFleet::default();
    let mut endpoints: Option<Vec<String>> = None;
    let mut answered: HashMap<String, bool> = HashMap::new();
    while Instant::now() < deadline {
        let Some(event) = engine.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        match event {
            Event::Endpoints(list) => endpoints = Some(list.into_iter().map(|i| i.id).collect()),
            Event::Snapshot {
                endpoint, snapshot, ..
            } => {
                answered.insert(endpoint.clone(), true);
                fleet.snapshots.insert(endpoint, snapshot);
            }
            Event::Status {
                endpoint,
                error: Some(error),
                ..
            } => {
                writeln!(out, "{endpoint}: {error}")?;
                answered.entry(endpoint).or_insert(false);
            }
            Event::Notice(text) => writeln!(out, "{text}")?,
            _ => {}
        }
        if let Some(list) = &endpoints
            && list.iter().all(|e| answered.contains_key(e))
        {
            break;
        }
    }
    if fleet.snapshots.is_empty() {
        bail!(
            "no endpoint of this profile answered within {} s",
            timeout.as_secs()
        );
    }
    Ok(fleet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str, replicas: Option<u32>, set: &[&str]) -> ScaleRequest {
        ScaleRequest {
            target: target.into(),
            replicas,
            set: set.iter().map(ToString::to_string).collect(),
            all: false,
            endpoint: None,
            run: RunOptions {
                no_lb: false,
                take_over: None,
                yes: true,
                force: false,
                grace: Duration::ZERO,
                verify_timeout: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(1),
            },
        }
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target(&req("compose/shop/web", Some(3), &[])).unwrap(),
            Wanted::Service {
                kind: WorkloadKind::ComposeService,
                scope: "shop".into(),
                name: "web".into(),
                replicas: 3
            }
        );
        assert_eq!(
            parse_target(&req("compose/shop", None, &["api=2", "writer=3"])).unwrap(),
            Wanted::Project {
                project: "shop".into(),
                services: vec![("api".into(), 2), ("writer".into(), 3)]
            }
        );
        assert!(matches!(
            parse_target(&req("swarm/web", Some(1), &[])).unwrap(),
            Wanted::Service {
                kind: WorkloadKind::SwarmService,
                ..
            }
        ));
        assert!(parse_target(&req("compose/shop/web", None, &[])).is_err());
        assert!(parse_target(&req("k8s/x", Some(1), &[])).is_err());
        assert!(matches!(
            parse_target(&req("prod/shop/deployment/web", Some(4), &[])).unwrap(),
            Wanted::Kube { replicas: 4, .. }
        ));
        assert!(parse_target(&req("prod/shop/deployment/web", None, &[])).is_err());
        assert!(parse_target(&req("compose/shop", None, &["api"])).is_err());
    }
}
