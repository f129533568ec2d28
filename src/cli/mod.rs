//! The command line: the same engine and pipeline as the window, without the window.

pub mod advise;
pub mod capacity;
pub mod capacity_docker;
pub mod cost;
mod db_view;
pub mod follow;
pub mod kube;
pub mod lb;
pub mod pick;
pub mod promote;
pub mod scale;
pub mod secret;
pub mod switchover;
pub mod team;

use crate::actions::audit::{AuditFilter, AuditLog, Damage};
use crate::engine::{Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event};
use crate::health::{Reachability, assess_endpoint};
use crate::model::clock::SystemClock;
use crate::profiles::{AppDirs, Profile, ProfileStore};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, serde::Serialize)]
pub struct EndpointReport {
    pub endpoint: String,
    pub label: String,
    /// ok, degraded, stale, down, or unknown (no outcome within the command's --timeout).
    pub status: String,
    /// Why it is not ok, worst first.
    pub reasons: Vec<String>,
    /// Every member (server, node, queue, check) with its own state and reason.
    pub members: Vec<crate::health::MemberHealth>,
    pub error: Option<String>,
    pub summary: String,
    /// This endpoint's own exit code: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub exit_code: u8,
    /// A Kubernetes endpoint's contexts, each with its own state (ok, degraded, stale, down,
    /// missing) and what of it is loaded; absent for other kinds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<ContextReport>,
}

#[derive(Debug, serde::Serialize)]
pub struct ContextReport {
    pub context: String,
    pub state: &'static str,
    pub reason: Option<String>,
    /// What has been read ("workloads", "pod details", …) and what is still being read.
    pub loaded: Vec<&'static str>,
    pub loading: Vec<&'static str>,
}

/// The contexts of a workloads snapshot, for the JSON report.
fn context_reports(snapshot: Option<&crate::model::snapshot::Snapshot>) -> Vec<ContextReport> {
    let Some(crate::model::snapshot::Snapshot::Workloads(list)) = snapshot else {
        return Vec::new();
    };
    list.sources
        .iter()
        .map(|s| ContextReport {
            context: s
                .name
                .strip_prefix("context ")
                .unwrap_or(&s.name)
                .to_owned(),
            state: s.state.label(),
            reason: s.reason.clone(),
            loaded: s.progress.loaded.clone(),
            loading: s.progress.loading.clone(),
        })
        .collect()
}

/// Whether an error is the reader of our output having gone away (`… | head -1`): the command
/// then ends quietly with its own exit code, never an error message or a panic.
pub fn is_closed_output(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(
                |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

/// Output that could not be written because its reader went away is no error of the command.
pub fn ignore_closed_output(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if is_closed_output(&e) => Ok(()),
        r => r,
    }
}

/// A writer that goes on when its reader has gone away (`… | head -1`): an action being
/// followed must reach its audited outcome whoever still reads its progress.
pub struct KeepGoing<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> KeepGoing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            closed: false,
        }
    }
}

impl<W: Write> Write for KeepGoing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
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

/// An engine of the command's own, connected to `profile` and polling every second whatever
/// the profile's refresh interval: a probe still running (or a watch answering after the first
/// poll) is collected by the next poll, not one refresh interval later.
pub(crate) fn one_shot_engine(dirs: &AppDirs, profile: Profile) -> anyhow::Result<EngineHandle> {
    let config = EngineConfig::new(
        Arc::new(SystemClock),
        dirs.config_dir.clone(),
        dirs.data_dir.clone(),
    );
    let engine = EngineHandle::start(config, Arc::new(|| {}))?;
    engine.send(Command::Connect(Box::new(ConnectRequest {
        profile,
        demo_seed: 42,
    })))?;
    engine.send(Command::SetRefresh {
        interval: Duration::from_secs(1),
    })?;
    Ok(engine)
}

/// One poll of every endpoint of a profile. Returns the reports and the command's exit code
/// (monitoring-plugins convention, see [`crate::health::worst_exit_code`]).
///
/// Each endpoint's report is the outcome of its poll, not a view taken mid-poll: a health check
/// whose probe is still running (slower than a poll waits) is waited for up to its own time-out
/// (at most [`crate::connectors::http_probe::MAX_PROBE_TIMEOUT_MS`]), through the engine's next
/// polls. The whole command never takes longer than `timeout`; an endpoint with no outcome by
/// then is "unknown" (exit code 3), not down.
pub fn status(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
) -> anyhow::Result<(Vec<EndpointReport>, u8)> {
    let limits = profile.thresholds.clone();
    let mut engine = one_shot_engine(dirs, profile)?;
    let deadline = Instant::now() + timeout;
    let mut endpoints: Option<Vec<(String, String)>> = None;
    // Per endpoint: how it answered, its error, its snapshot.
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
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
                let e = seen.entry(endpoint).or_default();
                e.reach = Some(Reachability::Answering);
                e.snapshot = Some(snapshot);
            }
            Event::Status {
                endpoint,
                status,
                error,
                ..
            } if status != ConnStatus::Connecting => {
                let e = seen.entry(endpoint).or_default();
                e.reach = Some(match status {
                    ConnStatus::Ok | ConnStatus::Connecting => Reachability::Answering,
                    ConnStatus::Stale => Reachability::Stale,
                    ConnStatus::Down => Reachability::Down,
                });
                if error.is_some() {
                    e.error = error;
                }
            }
            Event::Notice(text) => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
            _ => {}
        }
        if let Some(list) = &endpoints
            && list
                .iter()
                .all(|(id, _)| seen.get(id).is_some_and(Seen::settled))
        {
            break;
        }
    }
    let Some(list) = endpoints else {
        // The engine did not even list the endpoints in time: nothing was judged.
        let _ = writeln!(
            std::io::stderr(),
            "scaleboard: no endpoint was polled within the --timeout of {} s",
            timeout.as_secs_f32()
        );
        return Ok((Vec::new(), crate::health::EXIT_UNKNOWN));
    };
    let mut out = Vec::new();
    for (id, label) in list {
        let mut e = seen.remove(&id).unwrap_or_default();
        let pending = e.snapshot.as_mut().map(take_in_flight).unwrap_or_default();
        let reach = match e.reach {
            // Neither an answer nor a failure in time: nothing to judge (exit code 3).
            None => Reachability::Connecting,
            // A single poll that failed means down: there is no earlier view to be stale against.
            Some(Reachability::Stale) => Reachability::Down,
            Some(reach) => reach,
        };
        let mut health = assess_endpoint(reach, e.error.as_deref(), e.snapshot.as_ref(), &limits);
        let no_outcome = format!(
            "no outcome within the --timeout of {} s",
            timeout.as_secs_f32()
        );
        if reach == Reachability::Connecting {
            let why =
                format!("{no_outcome}: its poll was still connecting or waiting for an answer");
            health.reasons.retain(|r| r != "not polled yet");
            health.reasons.insert(0, why.clone());
            e.error = Some(why);
        }
        for name in &pending {
            let why = format!("{no_outcome} (its probe was still running)");
            health.reasons.push(format!("{name}: {why}"));
            health.members.push(crate::health::MemberHealth {
                name: name.clone(),
                state: crate::health::HealthState::Connecting,
                reason: Some(why),
            });
        }
        let mut exit_code = health.exit_code();
        if !pending.is_empty() {
            exit_code = crate::health::worst_exit_code([exit_code, crate::health::EXIT_UNKNOWN]);
        }
        out.push(EndpointReport {
            endpoint: id,
            label,
            exit_code,
            status: if exit_code == crate::health::EXIT_UNKNOWN {
                "unknown".into()
            } else {
                health.state.label().into()
            },
            reasons: health.reasons,
            members: health.members,
            error: e.error,
            contexts: context_reports(e.snapshot.as_ref()),
            summary: e
                .snapshot
                .as_ref()
                .map(crate::connectors::summary)
                .unwrap_or_default(),
        });
    }
    let code = crate::health::worst_exit_code(out.iter().map(|r| r.exit_code));
    Ok((out, code))
}

/// Takes out the health checks whose probe was still running when the command's time ran out:
/// their "slow: no answer for … yet" is no outcome. Returns their names.
fn take_in_flight(snapshot: &mut crate::model::snapshot::Snapshot) -> Vec<String> {
    let crate::model::snapshot::Snapshot::Health(checks) = snapshot else {
        return Vec::new();
    };
    let names = checks
        .iter()
        .filter(|c| c.in_flight)
        .map(|c| c.name.clone())
        .collect();
    checks.retain(|c| !c.in_flight);
    names
}

#[derive(Default)]
struct Seen {
    reach: Option<Reachability>,
    error: Option<String>,
    snapshot: Option<crate::model::snapshot::Snapshot>,
}

impl Seen {
    /// The endpoint's poll has an outcome: it failed, or it answered with no probe still
    /// running and no Kubernetes context still reading its pods (their stuck reasons are
    /// what a not-ready line says; without them by the time-out, the summary says so).
    fn settled(&self) -> bool {
        use crate::model::snapshot::Snapshot;
        self.reach.is_some()
            && !matches!(
                &self.snapshot,
                Some(Snapshot::Health(checks)) if checks.iter().any(|c| c.in_flight)
            )
            && !matches!(
                &self.snapshot,
                Some(Snapshot::Workloads(list)) if list.pod_details_progress().is_some()
            )
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
        write!(out, "{:<9} {:<36} {}", r.status, r.label, r.summary)?;
        if let Some(e) = &r.error
            && !r.reasons.iter().any(|x| x.contains(e.as_str()))
        {
            write!(out, "  error: {e}")?;
        }
        writeln!(out)?;
        for reason in &r.reasons {
            writeln!(out, "          - {reason}")?;
        }
    }
    Ok(())
}

/// `scaleboard audit`: first every action whose outcome is unknown (an intent with no outcome),
/// then the log, one line per action, oldest first. Streams the file twice (the second pass
/// stops where the first did); memory holds only the open intents. Damaged lines are reported
/// on stderr. Exits 0 whatever it finds: unknown outcomes are a finding to act on, not an
/// error of this command. Output closed early (`| head`) ends it quietly.
pub fn audit(dirs: &AppDirs, csv: bool, out: impl Write) -> anyhow::Result<()> {
    let log = AuditLog::new(&dirs.data_dir);
    let result = if csv {
        match log.write_csv_streaming(&AuditFilter::default(), None, out) {
            Ok((_, damage)) => {
                report_damage(&log, &damage);
                Ok(())
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                _ => return Err(e.into()),
            },
        }
    } else {
        print_audit(&log, out)
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn print_audit(log: &AuditLog, out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    let unresolved = log.unresolved_intents()?;
    report_damage(log, &unresolved.damage);
    if unresolved.records == 0 {
        writeln!(out, "No audit records in {}", log.path().display())?;
        return out.flush();
    }
    if unresolved.total > 0 {
        writeln!(
            out,
            "{} action(s) with outcome unknown: recorded as about to change the target, with no \
             outcome after (the process ended between the write and its result). Check each \
             target:",
            unresolved.total
        )?;
        for u in &unresolved.intents {
            writeln!(out, "  {}", u.message())?;
        }
        writeln!(out)?;
    }
    let ids: HashSet<String> = unresolved
        .intents
        .iter()
        .map(|u| u.record.id.clone())
        .collect();
    log.for_each_action(unresolved.read_to, &ids, |a| {
        let r = a.record;
        let start = a.started.unwrap_or(r.when);
        let outcome = if a.unresolved {
            "Outcome unknown: no outcome recorded"
        } else {
            r.outcome.label()
        };
        write!(
            out,
            "{} {} {} {} {}: {} -> {} [{}{}]",
            start.format("%Y-%m-%d %H:%M:%S"),
            r.os_user,
            r.profile,
            r.action,
            r.target,
            r.before,
            r.after,
            outcome,
            if r.forced { ", forced" } else { "" },
        )?;
        if let Some(s) = a.started {
            write!(out, " after {} s", (r.when - s).num_seconds())?;
        }
        if a.unresolved {
            writeln!(out, " command: {}", r.command)
        } else {
            // One line per action: the command's own output lines are joined.
            // "[forced]" is shown above; the words after the outcome, said once.
            let text = crate::actions::audit::outcome_text(r.outcome, false, &r.detail);
            let words = text
                .headline
                .strip_prefix(r.outcome.label())
                .map_or(text.headline.as_str(), |w| w.trim_start_matches([' ', ':']));
            match &text.transcript {
                Some(t) => writeln!(out, " {} ({})", words, t.replace('\n', " / ")),
                None => writeln!(out, " {words}"),
            }
        }
    })?;
    out.flush()
}

fn report_damage(log: &AuditLog, damage: &Damage) {
    if !damage.is_empty() {
        eprintln!("{}: {damage}", log.path().display());
    }
}
