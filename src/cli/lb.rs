//! `scaleboard lb check`: every linked nginx upstream next to the replicas behind it, with the
//! monitoring exit codes (0 in sync, 1 drift, 2 an upstream missing or no replica behind it,
//! 3 nothing could be read).

use std::io::Write;

use crate::connectors::nginx::status::{LinkReport, check, worst};
use crate::profiles::Profile;

/// Check the profile's links; the reports and the exit code.
pub fn lb_check(profile: &Profile) -> anyhow::Result<(Vec<LinkReport>, u8)> {
    if profile.nginx.is_empty() {
        anyhow::bail!(
            "profile \"{}\" has no [[profile.nginx]] section: nothing to check",
            profile.name
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reports = rt.block_on(check(profile));
    let code = worst(reports.iter().map(|r| r.exit_code));
    Ok((reports, code))
}

pub fn print_lb(reports: &[LinkReport], json: bool, mut out: impl Write) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut out, reports)?;
        writeln!(out)?;
        return Ok(());
    }
    for r in reports {
        let state = match r.exit_code {
            0 => "ok",
            1 => "drift",
            2 => "critical",
            _ => "unknown",
        };
        writeln!(
            out,
            "{}/{} → {}: {state}: {}",
            r.nginx, r.upstream, r.workload, r.summary
        )?;
        if let Some(d) = &r.drift {
            for m in &d.missing {
                writeln!(out, "  not behind nginx: {m}")?;
            }
            for o in &d.orphans {
                writeln!(out, "  listed without a replica: {o}")?;
            }
            for down in &d.down {
                writeln!(out, "  listed as down: {down}")?;
            }
        }
    }
    Ok(())
}

/// `status`'s view of the links: one line per drifting or unreadable upstream.
pub fn status_lines(profile: &Profile) -> (Vec<String>, u8) {
    if profile.nginx.is_empty() {
        return (Vec::new(), crate::health::EXIT_OK);
    }
    match lb_check(profile) {
        Ok((reports, code)) => (
            reports
                .iter()
                .filter(|r| r.exit_code != crate::health::EXIT_OK)
                .map(|r| format!("warning: {}/{}: {}", r.nginx, r.upstream, r.summary))
                .collect(),
            code,
        ),
        Err(e) => (
            vec![format!("warning: load balancers: {e}")],
            crate::health::EXIT_UNKNOWN,
        ),
    }
}

/// The load-balancer part of a scale plan, read now (configuration, master pid, replicas), or
/// nothing when the target is not behind a linked upstream.
pub fn preview(profile: &Profile, action: &crate::actions::Action) -> Option<Vec<String>> {
    use crate::connectors::nginx::{preview, replicas, status};
    let crate::actions::Action::ScaleWorkload {
        workload,
        replicas: to,
    } = action
    else {
        return None;
    };
    let (e, link) = profile.nginx.iter().find_map(|e| {
        e.links
            .iter()
            .find(|l| l.workload.workload_ref() == *workload)
            .map(|l| (e, l))
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let lines = rt.block_on(async {
        let config = match status::read_config(e).await {
            Ok(c) => c,
            Err(err) => return vec![format!("Load balancer: nginx {}: {err}", e.name)],
        };
        let pid = status::master_pid(e, &config).await;
        let target = status::docker_target(profile, &link.workload.endpoint);
        let now = match target {
            Some(t) => replicas::running(&t, link).await.unwrap_or_default(),
            None => Vec::new(),
        };
        preview::render(e, link, &config, &now, *to, pid)
    });
    Some(lines)
}
