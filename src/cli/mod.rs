//! The command line: the same engine and pipeline as the window, without the window.

pub mod cost;
pub mod follow;
pub mod kube;
pub mod promote;
pub mod scale;

use crate::actions::audit::{AuditLog, write_csv};
use crate::engine::{Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event};
use crate::model::clock::SystemClock;
use crate::profiles::{AppDirs, Profile, ProfileStore};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, serde::Serialize)]
pub struct EndpointReport {
    pub endpoint: String,
    pub label: String,
    pub status: String,
    pub error: Option<String>,
    pub summary: String,
}

/// Pick the profile a command runs on: the named one, else the last used, else the demo.
pub fn choose_profile(
    store: &ProfileStore,
    name: Option<&str>,
    demo: bool,
) -> anyhow::Result<Profile> {
    if demo {
        return Ok(Profile::demo_default());
    }
    if let Some(damaged) = store.damaged() {
        anyhow::bail!("the profile file is damaged: {damaged}");
    }
    // A profile refused on load is never connected: fail with its errors.
    if let Some(rejected) = name
        .or(store.last_used())
        .and_then(|n| store.issues().rejected(n))
    {
        anyhow::bail!("{}", rejected.report());
    }
    match name {
        Some(n) => store
            .get(n)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no saved profile is named \"{n}\"")),
        None => Ok(store
            .last_used_profile()
            .cloned()
            .unwrap_or_else(Profile::demo_default)),
    }
}

/// One poll of every endpoint of a profile. Returns the reports and whether all are up.
pub fn status(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
) -> anyhow::Result<(Vec<EndpointReport>, bool)> {
    let config = EngineConfig::new(
        Arc::new(SystemClock),
        dirs.config_dir.clone(),
        dirs.data_dir.clone(),
    );
    let mut engine = EngineHandle::start(config, Arc::new(|| {}))?;
    engine.send(Command::Connect(Box::new(ConnectRequest {
        profile,
        demo_seed: 42,
    })))?;
    let deadline = Instant::now() + timeout;
    let mut endpoints: Option<Vec<(String, String)>> = None;
    let mut reports: BTreeMap<String, EndpointReport> = BTreeMap::new();
    while Instant::now() < deadline {
        let Some(event) = engine.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        match event {
            Event::Endpoints(infos) => {
                endpoints = Some(infos.into_iter().map(|i| (i.id, i.label)).collect());
            }
            Event::Snapshot {
                endpoint, snapshot, ..
            } => {
                let r = reports
                    .entry(endpoint.clone())
                    .or_insert_with(|| blank(&endpoint));
                r.status = ConnStatus::Ok.label().into();
                r.summary = crate::connectors::summary(&snapshot);
            }
            Event::Status {
                endpoint,
                status,
                error,
                ..
            } if status != ConnStatus::Connecting => {
                let r = reports
                    .entry(endpoint.clone())
                    .or_insert_with(|| blank(&endpoint));
                r.status = status.label().into();
                if error.is_some() {
                    r.error = error;
                }
            }
            Event::Notice(text) => eprintln!("{text}"),
            _ => {}
        }
        if let Some(list) = &endpoints
            && list.iter().all(|(id, _)| reports.contains_key(id))
        {
            break;
        }
    }
    let list = endpoints.unwrap_or_default();
    let mut out = Vec::new();
    for (id, label) in list {
        let mut r = reports.remove(&id).unwrap_or_else(|| {
            let mut r = blank(&id);
            r.status = ConnStatus::Down.label().into();
            r.error = Some(format!("no answer within {} s", timeout.as_secs()));
            r
        });
        r.label = label;
        out.push(r);
    }
    let all_up = out.iter().all(|r| r.status == ConnStatus::Ok.label());
    Ok((out, all_up))
}

fn blank(id: &str) -> EndpointReport {
    EndpointReport {
        endpoint: id.into(),
        label: String::new(),
        status: String::new(),
        error: None,
        summary: String::new(),
    }
}

pub fn print_status(
    reports: &[EndpointReport],
    json: bool,
    mut out: impl Write,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut out, reports)?;
        writeln!(out)?;
        return Ok(());
    }
    if reports.is_empty() {
        writeln!(out, "This profile has no endpoint that can be polled yet.")?;
    }
    for r in reports {
        write!(out, "{:<8} {:<36} {}", r.status, r.label, r.summary)?;
        if let Some(e) = &r.error {
            write!(out, "  error: {e}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

pub fn audit(dirs: &AppDirs, csv: bool, mut out: impl Write) -> anyhow::Result<()> {
    let log = AuditLog::new(&dirs.data_dir);
    let read = log.read_all()?;
    if read.unreadable_lines > 0 {
        eprintln!(
            "{} line(s) of {} could not be read",
            read.unreadable_lines,
            log.path().display()
        );
    }
    if csv {
        write_csv(&read.records, out)?;
        return Ok(());
    }
    if read.records.is_empty() {
        writeln!(out, "No audit records in {}", log.path().display())?;
    }
    for r in &read.records {
        writeln!(
            out,
            "{} {} {} {} {}: {} -> {} [{}{}] {}",
            r.when.format("%Y-%m-%d %H:%M:%S"),
            r.os_user,
            r.profile,
            r.action,
            r.target,
            r.before,
            r.after,
            r.outcome.label(),
            if r.forced { ", forced" } else { "" },
            r.detail
        )?;
    }
    Ok(())
}
