//! `scaleboard capacity`: one poll of a profile's workload endpoints, then per Kubernetes
//! context its capacity (allocatable, requested, headroom), the nodes with problems, quotas,
//! whether a cluster autoscaler could add nodes, and per workload how many more replicas
//! would fit now (the plans' fit check with no upper bound, capped by the namespace's quota).

use crate::capacity::{apply_limit_range, fit_replicas};
use crate::engine::{ConnStatus, Event};
use crate::model::capacity::{
    AutoscalerPresence, CapacityView, ContextCapacity, QuotaRoom, ReplicaNeeds, format_cpu_milli,
};
use crate::model::endpoint::Area;
use crate::model::snapshot::{Snapshot, Workload};
use crate::model::units::format_bytes;
use crate::profiles::{AppDirs, Profile};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// More replicas than any cluster runs of one workload: "how many fit" is asked up to this.
const UNBOUNDED: u64 = 100_000;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Resources {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    pub pods: u64,
}

/// Usage from metrics-server, summed over the nodes that report it.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Used {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    pub nodes_reporting: usize,
}

#[derive(Debug, Serialize)]
pub struct NodeProblem {
    pub node: String,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct QuotaReport {
    pub namespace: String,
    pub name: String,
    pub used: Resources,
    pub hard_cpu_milli: Option<u64>,
    pub hard_memory_bytes: Option<u64>,
    pub hard_pods: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct WorkloadFit {
    /// `namespace/kind/name`.
    pub workload: String,
    pub replicas: u32,
    /// How many more would be admitted and scheduled now; `None` when it was not checked.
    pub more_fit: Option<u64>,
    /// What one replica requests (after LimitRange defaults), in words.
    pub each: String,
    /// What stops the next replica, or why it was not checked.
    pub limit: String,
}

#[derive(Debug, Serialize)]
pub struct ContextReport {
    pub endpoint: String,
    pub label: String,
    pub context: String,
    /// Why the nodes cannot be seen; the figures below are then empty.
    pub nodes_error: Option<String>,
    pub nodes: usize,
    pub allocatable: Resources,
    pub requested: Resources,
    pub headroom: Resources,
    /// `None` when no node reports usage; `usage_note` then says why.
    pub used: Option<Used>,
    pub usage_note: Option<String>,
    pub problem_nodes: Vec<NodeProblem>,
    pub autoscaler: String,
    pub quotas: Vec<QuotaReport>,
    pub notes: Vec<String>,
    pub workloads: Vec<WorkloadFit>,
}

#[derive(Debug, Serialize)]
pub struct CapacityReport {
    pub contexts: Vec<ContextReport>,
    /// Docker engines (Compose and Swarm endpoints).
    pub engines: Vec<super::capacity_docker::EngineReport>,
    /// Workload endpoints that gave no capacity (not Kubernetes, not answering), with why.
    pub without_capacity: Vec<String>,
    /// 0 when some context's nodes or some engine's size were read, 3 when none could be.
    pub exit_code: u8,
}

/// Per workload endpoint: its label, its last snapshot (if any), its error.
type Polled = BTreeMap<
    String,
    (
        String,
        Option<crate::model::workloads::WorkloadList>,
        Option<String>,
    ),
>;

/// Poll the profile's workload endpoints once (up to `timeout`) and report their capacity.
pub fn capacity(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
) -> anyhow::Result<CapacityReport> {
    let polled = poll(dirs, profile, timeout)?;
    Ok(report(&polled))
}

fn poll(dirs: &AppDirs, profile: Profile, timeout: Duration) -> anyhow::Result<Polled> {
    let mut engine = super::one_shot_engine(dirs, profile)?;
    let deadline = Instant::now() + timeout;
    let mut polled: Polled = BTreeMap::new();
    // Endpoints still waited for: a Kubernetes one until its snapshot carries the capacity
    // view (the nodes watch may answer a poll after the workloads), or a second snapshot.
    let mut waiting: Option<BTreeMap<String, u32>> = None;
    while Instant::now() < deadline {
        let Some(event) = engine.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        match event {
            Event::Endpoints(infos) => {
                let workloads: Vec<_> = infos
                    .into_iter()
                    .filter(|i| i.area == Area::Workloads)
                    .collect();
                waiting = Some(workloads.iter().map(|i| (i.id.clone(), 0)).collect());
                for i in workloads {
                    polled.insert(i.id, (i.label, None, None));
                }
            }
            Event::Snapshot {
                endpoint,
                snapshot: Snapshot::Workloads(list),
                ..
            } => {
                let done =
                    list.capacity.is_some() || !list.iter().any(|w| w.id.kind.is_kubernetes());
                if let Some(w) = waiting.as_mut().and_then(|w| w.get_mut(&endpoint)) {
                    *w += 1;
                    if done || *w >= 2 {
                        waiting.as_mut().map(|w| w.remove(&endpoint));
                    }
                }
                if let Some(e) = polled.get_mut(&endpoint) {
                    e.1 = Some(list);
                }
            }
            Event::Status {
                endpoint,
                status: ConnStatus::Down | ConnStatus::Stale,
                error,
                ..
            } => {
                if let Some(e) = polled.get_mut(&endpoint) {
                    e.2 = error.or(e.2.take());
                    if e.1.is_none() {
                        waiting.as_mut().map(|w| w.remove(&endpoint));
                    }
                }
            }
            Event::Notice(text) => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
            _ => {}
        }
        if waiting.as_ref().is_some_and(BTreeMap::is_empty) {
            break;
        }
    }
    Ok(polled)
}

fn report(polled: &Polled) -> CapacityReport {
    let mut contexts = Vec::new();
    let mut engines = Vec::new();
    let mut without = Vec::new();
    for (id, (label, list, error)) in polled {
        let Some(view) = list.as_ref().and_then(|l| l.capacity.as_deref()) else {
            let why = match (list, error) {
                (_, Some(e)) => e.clone(),
                (Some(_), None) => {
                    "no capacity data (its nodes or engine not read yet)".to_string()
                }
                (None, None) => "no answer within the --timeout".to_string(),
            };
            without.push(format!("{label}: {why}"));
            continue;
        };
        let rows: &[Workload] = list.as_ref().map_or(&[], |l| l.as_slice());
        for (context, ctx) in &view.contexts {
            contexts.push(context_report(id, label, context, ctx, view, rows));
        }
        if let Some(engine) = &view.engine {
            engines.push(super::capacity_docker::engine_report(
                id, label, engine, view, rows,
            ));
        }
    }
    let read = contexts.iter().any(|c| c.nodes_error.is_none())
        || engines.iter().any(|e| e.size_error.is_none());
    CapacityReport {
        contexts,
        engines,
        without_capacity: without,
        exit_code: if read { 0 } else { crate::health::EXIT_UNKNOWN },
    }
}

fn context_report(
    endpoint: &str,
    label: &str,
    context: &str,
    ctx: &ContextCapacity,
    view: &CapacityView,
    rows: &[Workload],
) -> ContextReport {
    let nodes = ctx.nodes.as_deref().unwrap_or_default();
    let mut allocatable = Resources::default();
    let mut requested = Resources::default();
    let mut used = Used::default();
    let mut problem_nodes = Vec::new();
    for n in nodes {
        let r = &n.room;
        if let Some(u) = n.used {
            used.cpu_milli += u.cpu_milli;
            used.memory_bytes += u.memory_bytes;
            used.nodes_reporting += 1;
        }
        allocatable.cpu_milli += r.allocatable_cpu_milli;
        allocatable.memory_bytes += r.allocatable_memory_bytes;
        allocatable.pods += r.allocatable_pods;
        requested.cpu_milli += r.requested_cpu_milli;
        requested.memory_bytes += r.requested_memory_bytes;
        requested.pods += r.pods;
        let mut problems = Vec::new();
        if !r.ready {
            problems.push("not ready".to_string());
        }
        problems.extend(n.pressure.iter().cloned());
        if r.unschedulable {
            problems.push("cordoned".into());
        }
        if !problems.is_empty() {
            problem_nodes.push(NodeProblem {
                node: r.name.clone(),
                problems,
            });
        }
    }
    let headroom = Resources {
        cpu_milli: allocatable.cpu_milli.saturating_sub(requested.cpu_milli),
        memory_bytes: allocatable
            .memory_bytes
            .saturating_sub(requested.memory_bytes),
        pods: allocatable.pods.saturating_sub(requested.pods),
    };
    let autoscaler = match &ctx.autoscaler {
        AutoscalerPresence::Seen(what) => format!("running ({what})"),
        AutoscalerPresence::NotSeen => "not running".into(),
        AutoscalerPresence::Unknown => "unknown (kube-system is not visible)".into(),
    };
    let quotas = ctx
        .quotas
        .iter()
        .flat_map(|(ns, qs)| {
            qs.iter().map(move |q| QuotaReport {
                namespace: ns.clone(),
                name: q.name.clone(),
                used: Resources {
                    cpu_milli: q.used_requests_cpu_milli,
                    memory_bytes: q.used_requests_memory_bytes,
                    pods: q.used_pods,
                },
                hard_cpu_milli: q.hard_requests_cpu_milli,
                hard_memory_bytes: q.hard_requests_memory_bytes,
                hard_pods: q.hard_pods,
            })
        })
        .collect();
    let workloads = rows
        .iter()
        .filter(|w| w.id.kind.is_kubernetes())
        .filter_map(|w| {
            let (c, ns) =
                w.id.scope
                    .rsplit_once('/')
                    .unwrap_or((endpoint, w.id.scope.as_str()));
            (c == context).then(|| workload_fit(w, ns, ctx, view))
        })
        .collect();
    ContextReport {
        endpoint: endpoint.into(),
        label: label.into(),
        context: context.into(),
        nodes_error: ctx.nodes.as_ref().err().cloned(),
        nodes: nodes.len(),
        allocatable,
        requested,
        headroom,
        used: (used.nodes_reporting > 0).then_some(used),
        usage_note: ctx.usage_note.clone(),
        problem_nodes,
        autoscaler,
        quotas,
        notes: [&ctx.partial_pods, &ctx.admission_unknown]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        workloads,
    }
}

/// How many replicas `quota` still admits of `needs` (`None`: it does not limit them).
fn quota_room(q: &QuotaRoom, needs: &ReplicaNeeds) -> Option<u64> {
    let per = |hard: Option<u64>, used: u64, each: Option<u64>| {
        hard.map(|h| match each {
            Some(0) => UNBOUNDED,
            Some(e) => h.saturating_sub(used) / e,
            // The quota limits a resource the pod does not request: the API server rejects it.
            None => 0,
        })
    };
    [
        per(q.hard_pods, q.used_pods, Some(1)),
        per(
            q.hard_requests_cpu_milli,
            q.used_requests_cpu_milli,
            needs.cpu_milli,
        ),
        per(
            q.hard_requests_memory_bytes,
            q.used_requests_memory_bytes,
            needs.memory_bytes,
        ),
    ]
    .into_iter()
    .flatten()
    .min()
}

fn workload_fit(w: &Workload, ns: &str, ctx: &ContextCapacity, view: &CapacityView) -> WorkloadFit {
    let name = w.id.to_string();
    let not_checked = |why: &str| WorkloadFit {
        workload: name.clone(),
        replicas: w.desired,
        more_fit: None,
        each: "—".into(),
        limit: why.into(),
    };
    let Some(declared) = view.needs.get(&w.id) else {
        return not_checked("not checked: its pod template was not read");
    };
    let Ok(nodes) = &ctx.nodes else {
        return not_checked("not checked: the nodes are not visible");
    };
    let (needs, _) = apply_limit_range(declared.clone(), ctx.limit_ranges.get(ns));
    let rooms: Vec<_> = nodes.iter().map(|n| n.room.clone()).collect();
    // Replicas already Pending without a node take the first room that frees up.
    let waiting = view.waiting.get(&w.id).copied().unwrap_or(0);
    let on_nodes = fit_replicas(&rooms, &needs, UNBOUNDED).fitting;
    let on_nodes = on_nodes.saturating_sub(waiting);
    let by_quota = ctx
        .quotas
        .get(ns)
        .into_iter()
        .flatten()
        .filter_map(|q| quota_room(q, &needs).map(|n| (n, q.name.as_str())))
        .min();
    let each = match (needs.cpu_milli, needs.memory_bytes) {
        (None, None) => "no requests (only the pod count is checked)".to_string(),
        (c, m) => format!(
            "{} cpu, {} memory",
            c.map_or("no".into(), format_cpu_milli),
            m.map_or("no".into(), format_bytes)
        ),
    };
    let (more, limit) = match by_quota {
        Some((q, quota)) if q < on_nodes => (q, format!("ResourceQuota {quota}")),
        _ if waiting > 0 => (
            on_nodes,
            format!("room on the nodes, {waiting} Pending already waiting for it"),
        ),
        _ => (on_nodes, "room on the nodes".to_string()),
    };
    WorkloadFit {
        workload: name,
        replicas: w.desired,
        more_fit: Some(more),
        each,
        limit,
    }
}

fn cores(milli: u64) -> String {
    format!("{:.1}", milli as f64 / 1000.0)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

pub fn print_capacity(
    report: &CapacityReport,
    json: bool,
    mut out: impl Write,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    if report.contexts.is_empty() && report.engines.is_empty() {
        writeln!(
            out,
            "No Kubernetes context or Docker engine gave capacity data."
        )?;
    }
    for c in &report.contexts {
        writeln!(out, "{} · context {}", c.label, c.context)?;
        if let Some(e) = &c.nodes_error {
            writeln!(out, "  nodes not visible: {e}")?;
        } else {
            let (a, r, h) = (&c.allocatable, &c.requested, &c.headroom);
            writeln!(out, "  nodes       {}", c.nodes)?;
            writeln!(
                out,
                "  cpu         {} of {} cores requested ({}), headroom {}",
                cores(r.cpu_milli),
                cores(a.cpu_milli),
                percent(r.cpu_milli, a.cpu_milli),
                cores(h.cpu_milli)
            )?;
            writeln!(
                out,
                "  memory      {} of {} requested ({}), headroom {}",
                format_bytes(r.memory_bytes),
                format_bytes(a.memory_bytes),
                percent(r.memory_bytes, a.memory_bytes),
                format_bytes(h.memory_bytes)
            )?;
            writeln!(
                out,
                "  pods        {} of {} ({}), headroom {}",
                r.pods,
                a.pods,
                percent(r.pods, a.pods),
                h.pods
            )?;
            match (&c.used, &c.usage_note) {
                (Some(u), _) => {
                    let of = if u.nodes_reporting < c.nodes {
                        format!(" ({} of {} nodes report usage)", u.nodes_reporting, c.nodes)
                    } else {
                        String::new()
                    };
                    writeln!(
                        out,
                        "  used        cpu {} of {} cores ({}), memory {} of {} ({}){of}",
                        cores(u.cpu_milli),
                        cores(a.cpu_milli),
                        percent(u.cpu_milli, a.cpu_milli),
                        format_bytes(u.memory_bytes),
                        format_bytes(a.memory_bytes),
                        percent(u.memory_bytes, a.memory_bytes)
                    )?;
                }
                (None, Some(note)) => writeln!(out, "  used        not shown: {note}")?,
                (None, None) => writeln!(out, "  used        no node reports usage yet")?,
            }
        }
        for p in &c.problem_nodes {
            writeln!(out, "  problem     {}: {}", p.node, p.problems.join(", "))?;
        }
        writeln!(out, "  autoscaler  {}", c.autoscaler)?;
        for q in &c.quotas {
            let of = |used: String, hard: Option<String>| match hard {
                Some(h) => format!("{used} of {h}"),
                None => used,
            };
            writeln!(
                out,
                "  quota       {}/{}: requests.cpu {}, requests.memory {}, pods {}",
                q.namespace,
                q.name,
                of(
                    format_cpu_milli(q.used.cpu_milli),
                    q.hard_cpu_milli.map(format_cpu_milli)
                ),
                of(
                    format_bytes(q.used.memory_bytes),
                    q.hard_memory_bytes.map(format_bytes)
                ),
                of(q.used.pods.to_string(), q.hard_pods.map(|p| p.to_string()))
            )?;
        }
        for n in &c.notes {
            writeln!(out, "  note        {n}")?;
        }
        if !c.workloads.is_empty() {
            writeln!(out, "  workloads   (how many more replicas fit now)")?;
        }
        for w in &c.workloads {
            match w.more_fit {
                Some(n) => writeln!(
                    out,
                    "    {:<40} {:>3} {}, {n} more fit (each {}; limited by {})",
                    w.workload,
                    w.replicas,
                    crate::model::units::noun(u64::from(w.replicas), "replica", "replicas"),
                    w.each,
                    w.limit
                )?,
                None => writeln!(
                    out,
                    "    {:<40} {:>3} {}, {}",
                    w.workload,
                    w.replicas,
                    crate::model::units::noun(u64::from(w.replicas), "replica", "replicas"),
                    w.limit
                )?,
            }
        }
    }
    for e in &report.engines {
        super::capacity_docker::print_engine(e, &mut out)?;
    }
    for w in &report.without_capacity {
        writeln!(out, "no capacity: {w}")?;
    }
    Ok(())
}
