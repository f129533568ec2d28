//! `scaleboard switchover|failover CLUSTER`: Patroni's switchover, failover and the cancel of
//! a scheduled switchover, with the same plan, guards, pipeline and audit as the window's
//! buttons, the confirmation typed on stdin.

use crate::actions::audit::AuditOutcome;
use crate::actions::{Action, ActionId, GuardLevel, PlanPolicy, plan};
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle};
use crate::model::clock::SystemClock;
use crate::model::snapshot::Snapshot;
use crate::profiles::{AppDirs, Profile};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

/// Which Patroni action the command asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Switchover {
        candidate: Option<String>,
        scheduled_at: Option<String>,
    },
    Failover {
        candidate: String,
    },
    CancelScheduled,
}

pub struct SwitchoverArgs {
    /// The Patroni endpoint's name or its cluster (scope) name.
    pub cluster: String,
    pub request: Request,
    pub force: bool,
    pub yes: bool,
    pub timeout: Duration,
    /// Between the confirmation and the write (Ctrl-C cancels).
    pub grace: Duration,
    /// How long the new state may take to show before the outcome is "timed out".
    pub verify_timeout: Duration,
}

/// Returns whether the action succeeded (and was verified).
pub fn switchover(
    dirs: &AppDirs,
    profile: Profile,
    args: &SwitchoverArgs,
    mut input: impl BufRead,
    mut out: impl Write,
) -> anyhow::Result<bool> {
    let mut config = EngineConfig::new(
        Arc::new(SystemClock),
        dirs.config_dir.clone(),
        dirs.data_dir.clone(),
    );
    config.grace = args.grace;
    config.verify_timeout = args.verify_timeout;
    let mut engine = EngineHandle::start(config, Arc::new(|| {}))?;
    let profile_name = profile.name.clone();
    let read_only = profile.read_only;
    let patroni: HashSet<String> = profile.patroni.iter().map(|p| p.name.clone()).collect();
    let patroni_links = crate::actions::PatroniLink::of_profile(&profile);
    let demo = profile.demo;
    engine.send(Command::Connect(Box::new(ConnectRequest {
        profile,
        demo_seed: 42,
    })))?;

    // 1. Wait until every Patroni endpoint reported once.
    let view = super::db_view::collect(
        &mut engine,
        (!demo).then_some(patroni),
        args.timeout,
        &mut out,
    )?;
    let matches = view
        .snapshots
        .iter()
        .filter_map(|(endpoint, s)| match s {
            Snapshot::Patroni(p) if *endpoint == args.cluster || p.cluster == args.cluster => {
                Some((endpoint.clone(), p.clone()))
            }
            _ => None,
        })
        .collect();
    let found = super::pick::choose(&args.cluster, matches, "name the endpoint")
        .map_err(anyhow::Error::msg)?;
    let Some((endpoint, snapshot)) = found else {
        let known: Vec<String> = view
            .snapshots
            .iter()
            .filter_map(|(e, s)| match s {
                Snapshot::Patroni(p) => Some(format!("{e} (cluster {})", p.cluster)),
                _ => None,
            })
            .collect();
        anyhow::bail!(
            "no Patroni cluster named \"{}\" answered in profile \"{}\"{}",
            args.cluster,
            profile_name,
            if known.is_empty() {
                " (no Patroni endpoint answered)".to_string()
            } else {
                format!("; clusters: {}", known.join(", "))
            }
        );
    };

    // 2. Plan and show it.
    let policy = PlanPolicy {
        profile: profile_name,
        read_only,
        max_failover_lag_bytes: snapshot.lag_limit(),
        kube_context: None,
        patroni_links,
    };
    let cluster = snapshot.cluster.clone();
    let action = match &args.request {
        Request::Switchover {
            candidate,
            scheduled_at,
        } => Action::PatroniSwitchover {
            endpoint,
            cluster,
            leader: snapshot
                .leader()
                .map_or_else(|| "(no leader)".to_string(), |l| l.name.clone()),
            candidate: candidate.clone(),
            scheduled_at: scheduled_at.clone(),
        },
        Request::Failover { candidate } => Action::PatroniFailover {
            endpoint,
            cluster,
            candidate: candidate.clone(),
        },
        Request::CancelScheduled => Action::PatroniCancelSwitchover { endpoint, cluster },
    };
    let plan = plan(action, &view, &policy);
    writeln!(out, "{}", plan.title)?;
    writeln!(out, "Before:\n{}", indent(&plan.before))?;
    writeln!(out, "After:\n{}", indent(&plan.after))?;
    writeln!(out, "Equivalent command:\n{}", indent(&plan.command))?;
    writeln!(out, "Guards:")?;
    for g in &plan.guards {
        let tag = match g.level {
            GuardLevel::Pass => "ok     ",
            GuardLevel::Warn => "WARNING",
            GuardLevel::Refuse => "REFUSED",
        };
        writeln!(out, "  [{tag}] {}", g.reason)?;
    }
    writeln!(out, "{}", plan.recheck_note())?;
    if plan.refused() && !args.force {
        writeln!(
            out,
            "Not run: a guard refuses. Fix what it says, or re-run with --force once you are \
             sure (Patroni still makes its own checks; the audit log records the override)."
        )?;
        return Ok(false);
    }
    let forced = args.force && plan.refused();

    // 3. Confirm by typing the name.
    if plan.dangerous && !args.yes {
        let name = plan.action.target_name();
        write!(out, "Type {name} to go on: ")?;
        out.flush()?;
        let mut line = String::new();
        input.read_line(&mut line)?;
        if line.trim() != name {
            writeln!(out, "Not confirmed; nothing was done.")?;
            return Ok(false);
        }
    }

    // 4. Execute through the pipeline and wait for the audited result.
    let verb = match &args.request {
        Request::Switchover { .. } => "Asking Patroni to switch over…",
        Request::Failover { .. } => "Asking Patroni to fail over…",
        Request::CancelScheduled => "Asking Patroni to cancel the scheduled switchover…",
    };
    let record = super::follow::follow(&mut engine, ActionId(1), plan, forced, verb, &mut out)?;
    Ok(record.outcome == AuditOutcome::Succeeded)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
