//! `scaleboard promote REPLICA`: the same plan, guards, pipeline and audit as the window's
//! Promote button, with the confirmation typed on stdin.

use crate::actions::audit::AuditOutcome;
use crate::actions::{Action, ActionId, GuardLevel, PlanPolicy, plan};
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle};
use crate::model::clock::SystemClock;
use crate::model::snapshot::Snapshot;
use crate::profiles::{AppDirs, Profile};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

pub struct PromoteArgs {
    /// The server to promote, as the Databases panel names it (optionally `ENDPOINT/NAME`).
    pub replica: String,
    pub force: bool,
    pub yes: bool,
    /// How long to wait for the first snapshots.
    pub timeout: Duration,
    /// Between the confirmation and the write (Ctrl-C cancels).
    pub grace: Duration,
    /// How long the new state may take to show before the outcome is "timed out".
    pub verify_timeout: Duration,
}

/// The servers a snapshot names (PostgreSQL or MySQL/MariaDB), with whether it is MySQL.
fn servers_of(snapshot: &Snapshot) -> Option<(&str, Vec<&str>, bool)> {
    match snapshot {
        Snapshot::Databases(db) => Some((
            db.cluster.as_str(),
            db.servers.iter().map(|s| s.name.as_str()).collect(),
            false,
        )),
        Snapshot::Mysql(db) => Some((
            db.cluster.as_str(),
            db.servers.iter().map(|s| s.name.as_str()).collect(),
            true,
        )),
        _ => None,
    }
}

/// Returns whether the promotion succeeded (and was verified).
pub fn promote(
    dirs: &AppDirs,
    profile: Profile,
    args: &PromoteArgs,
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
    let lag_limits: HashMap<String, u64> = profile
        .postgres
        .iter()
        .map(|p| (p.name.clone(), p.max_failover_lag_bytes))
        .collect();
    let patroni_links = crate::actions::PatroniLink::of_profile(&profile);
    engine.send(Command::Connect(Box::new(ConnectRequest {
        profile,
        demo_seed: 42,
    })))?;
    let (wanted_endpoint, replica) = match args.replica.split_once('/') {
        Some((e, r)) => (Some(e.to_string()), r.to_string()),
        None => (None, args.replica.clone()),
    };

    // 1. Wait until every database endpoint reported once.
    let view = super::db_view::collect(&mut engine, None, args.timeout, &mut out)?;
    let matches = view
        .snapshots
        .iter()
        .filter_map(|(endpoint, s)| {
            let (cluster, names, mysql) = servers_of(s)?;
            (wanted_endpoint.as_ref().is_none_or(|w| w == endpoint) && names.contains(&&*replica))
                .then(|| (endpoint.clone(), (cluster.to_string(), mysql)))
        })
        .collect();
    let found = super::pick::choose(
        &replica,
        matches,
        &format!("name the endpoint (ENDPOINT/{replica})"),
    )
    .map_err(anyhow::Error::msg)?
    .map(|(endpoint, (cluster, mysql))| (endpoint, cluster, mysql));
    let Some((endpoint, cluster, mysql)) = found else {
        let known: Vec<String> = view
            .snapshots
            .iter()
            .filter_map(|(e, s)| {
                let (_, names, _) = servers_of(s)?;
                Some(names.iter().map(|n| format!("{e}/{n}")).collect::<Vec<_>>())
            })
            .flatten()
            .collect();
        anyhow::bail!(
            "no database server named \"{}\" answered in profile \"{}\"{}",
            args.replica,
            profile_name,
            if known.is_empty() {
                " (no database endpoint answered)".to_string()
            } else {
                format!("; servers: {}", known.join(", "))
            }
        );
    };

    // 2. Plan and show it.
    let policy = PlanPolicy {
        profile: profile_name,
        read_only,
        max_failover_lag_bytes: lag_limits
            .get(&endpoint)
            .copied()
            .unwrap_or(crate::profiles::model::MIB),
        kube_context: None,
        patroni_links,
    };
    let action = if mysql {
        Action::PromoteMysqlReplica {
            endpoint,
            cluster,
            replica: replica.clone(),
        }
    } else {
        Action::PromoteReplica {
            endpoint,
            cluster,
            replica: replica.clone(),
        }
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
            "Not promoting: a guard refuses. Fix what it says, or re-run with --force once you \
             are sure (the audit log will record the override)."
        )?;
        return Ok(false);
    }
    let forced = args.force && plan.refused();

    // 3. Confirm by typing the name.
    if !args.yes {
        write!(out, "Type the replica's name ({replica}) to promote it: ")?;
        out.flush()?;
        let mut line = String::new();
        input.read_line(&mut line)?;
        if line.trim() != replica {
            writeln!(out, "Not confirmed; nothing was done.")?;
            return Ok(false);
        }
    }

    // 4. Execute through the pipeline and wait for the audited result.
    let record = super::follow::follow(
        &mut engine,
        ActionId(1),
        plan,
        forced,
        if mysql {
            "Promoting (stop the replica threads, clear the replica configuration, read_only OFF)…"
        } else {
            "Executing pg_promote…"
        },
        &mut out,
    )?;
    Ok(record.outcome == AuditOutcome::Succeeded)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
