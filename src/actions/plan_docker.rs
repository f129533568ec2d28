//! Planning for Docker: the exact compose / `docker service` line, and the guards that say in
//! words why a Compose or Swarm service cannot run more containers.

use super::plan::{FleetView, Guard, MAX_REPLICAS, Plan, PlanPolicy, unknown_target};
use super::plan_fit::Target;
use crate::capacity::fit_replicas;
use crate::connectors::docker::command;
use crate::model::action::Action;
use crate::model::capacity::{CapacityView, EngineCapacity, NodeRoom, format_cpu_milli};
use crate::model::exec::CommandLine;
use crate::model::snapshot::{DockerDetails, Workload, WorkloadKind, WorkloadRef};
use crate::model::units::format_bytes;

/// The line the connector will run, as text and as the process itself (or, for the demo fleet,
/// only the text of the line it stands for).
pub(super) fn scale_command(w: &Workload, replicas: u32) -> (String, Option<CommandLine>) {
    let id = &w.id;
    let details = w.docker.as_deref();
    if w.id.kind == WorkloadKind::SwarmService
        && let Some(d) = details
    {
        let line = command::swarm_scale(&d.target, &id.name, replicas);
        return (line.display(), Some(line));
    }
    if let Some(d) = details
        && let Some(compose) = &d.compose
    {
        let scales = [(id.name.clone(), replicas)];
        let line = command::compose_scale(&d.target, &id.scope, compose, &scales);
        return (line.display(), Some(line));
    }
    if w.id.kind == WorkloadKind::SwarmService {
        let line = command::swarm_scale(&Default::default(), &id.name, replicas);
        return (line.display(), None);
    }
    let text = format!(
        "docker compose -p {} up -d --no-recreate --scale {}={replicas} {}",
        id.scope, id.name, id.name
    );
    (text, None)
}

/// Why this service cannot run `replicas` containers: fixed host port, `container_name`,
/// global mode. Each names its reason.
pub(super) fn capacity_guards(w: &Workload, replicas: u32) -> Vec<Guard> {
    let name = &w.id.name;
    let mut guards = Vec::new();
    if let Some(port) = w.fixed_host_port
        && replicas > 1
    {
        guards.push(Guard::refuse(format!(
            "{name} publishes fixed host port {port}: a second container could not bind it. \
             Remove the fixed port (use a range or no host port) before scaling above 1."
        )));
    }
    let Some(d) = w.docker.as_deref() else {
        return guards;
    };
    if let Some(container_name) = &d.container_name
        && replicas > 1
    {
        guards.push(Guard::refuse(format!(
            "{name} sets container_name \"{container_name}\": container names are unique, so it \
             can run one container only. Remove container_name before scaling above 1."
        )));
    }
    if d.global_mode {
        let how = match w.id.kind {
            WorkloadKind::SwarmService => "--mode global",
            _ => "deploy.mode: global",
        };
        guards.push(Guard::refuse(format!(
            "{name} runs in global mode ({how}): one container per node, so it has no replica \
             count to set."
        )));
    }
    guards
}

/// Guards about the Compose project as a whole: its files and the compose command.
pub(super) fn project_guards(project: &str, d: &DockerDetails) -> Vec<Guard> {
    let Some(compose) = &d.compose else {
        return Vec::new();
    };
    let mut guards = Vec::new();
    if compose.cli.is_none() {
        guards.push(Guard::refuse(
            "Neither `docker compose` (v2) nor `docker-compose` (v1) is installed on this \
             machine: Compose services cannot be scaled from here.",
        ));
    }
    for warning in &compose.file_warnings {
        guards.push(Guard::warn(format!("Project {project}: {warning}.")));
    }
    guards
}

/// Several services of one project in one `up`: the seed's multi-`--scale` line.
pub(super) fn plan_compose_services(
    action: &Action,
    endpoint: &str,
    project: &str,
    services: &[(String, u32)],
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let mut guards = Vec::new();
    let mut found: Vec<(&Workload, u32)> = Vec::new();
    for (i, (service, n)) in services.iter().enumerate() {
        if services[..i].iter().any(|(s, _)| s == service) {
            guards.push(Guard::refuse(format!("{service} is listed twice.")));
            continue;
        }
        let id = WorkloadRef {
            endpoint: endpoint.to_string(),
            scope: project.to_string(),
            name: service.clone(),
            kind: WorkloadKind::ComposeService,
        };
        match fleet.workload(&id) {
            Some(w) if w.id.kind == WorkloadKind::ComposeService => found.push((w, *n)),
            Some(w) => guards.push(Guard::refuse(format!(
                "{service} is a {}, not a Compose service.",
                w.id.kind.label()
            ))),
            None => guards.push(Guard::refuse(format!(
                "Project {project} has no service {service} in the latest snapshot."
            ))),
        }
        if *n > MAX_REPLICAS {
            guards.push(Guard::refuse(format!(
                "{service}: {} is above the limit of {MAX_REPLICAS}; this looks like a typo.",
                crate::model::units::replicas(*n)
            )));
        }
    }
    if services.is_empty() {
        guards.push(Guard::refuse("No service to scale."));
    }
    let Some((first, _)) = found.first() else {
        return unknown_target(
            action,
            policy,
            format!("Compose project {project} is not in the latest snapshot."),
        );
    };
    for (w, n) in &found {
        guards.extend(capacity_guards(w, *n));
        if *n == 0 {
            guards.push(Guard::warn(format!(
                "Scaling {} to 0 stops every container of it.",
                w.id.name
            )));
        }
    }
    if let Some(d) = first.docker.as_deref() {
        guards.extend(project_guards(project, d));
    }
    if found.iter().all(|(w, n)| w.desired == *n) && found.len() == services.len() {
        guards.push(Guard::warn(
            "Every listed service already runs that many containers: nothing would change.",
        ));
    }
    let targets: Vec<Target<'_>> = found
        .iter()
        .map(|(w, n)| Target {
            id: &w.id,
            current: w.desired,
            replicas: *n,
        })
        .collect();
    let fit = fit_guards(fleet, &targets);
    if guards.is_empty() && fit.iter().all(|g| g.level == super::plan::GuardLevel::Pass) {
        guards.push(Guard::pass(format!(
            "{} services of {project} can be scaled in one step.",
            services.len()
        )));
    }
    guards.extend(fit);
    let (command, command_line) = match first.docker.as_deref() {
        Some(DockerDetails {
            target,
            compose: Some(compose),
            ..
        }) => {
            let line = command::compose_scale(target, project, compose, services);
            (line.display(), Some(line))
        }
        _ => {
            let scales: Vec<String> = services
                .iter()
                .map(|(s, n)| format!("--scale {s}={n}"))
                .collect();
            let names: Vec<&str> = services.iter().map(|(s, _)| s.as_str()).collect();
            let text = format!(
                "docker compose -p {project} up -d --no-recreate {} {}",
                scales.join(" "),
                names.join(" ")
            );
            (text, None)
        }
    };
    let list = |f: &dyn Fn(&Workload, u32) -> String| {
        found
            .iter()
            .map(|(w, n)| f(w, *n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Plan {
        action: action.clone(),
        title: format!(
            "Scale Compose services of {project}: {}",
            list(&|w, _| w.id.name.clone())
        ),
        before: list(&|w, _| format!("{} {}", w.id.name, w.desired)),
        after: list(&|w, n| format!("{} {n}", w.id.name)),
        command,
        guards,
        dangerous: true,
        alternative: None,
        profile: policy.profile.clone(),
        command_line,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

/// The fit of Compose and Swarm scale ups. Several targets compete for the same engine: each
/// is placed on the room the ones before it left.
pub(super) fn fit_guards(fleet: &dyn FleetView, targets: &[Target<'_>]) -> Vec<Guard> {
    let mut guards = Vec::new();
    let mut host: Option<NodeRoom> = None;
    let mut nodes: Option<Vec<NodeRoom>> = None;
    for t in targets.iter().filter(|t| t.replicas > t.current) {
        let Some(view) = fleet.capacity(&t.id.endpoint) else {
            continue;
        };
        let Some(engine) = &view.engine else {
            continue;
        };
        let new = u64::from(t.replicas - t.current);
        match t.id.kind {
            WorkloadKind::ComposeService => {
                let Some(room) = host.as_ref().or(engine.host.as_ref()).cloned() else {
                    let why = &engine.counted;
                    guards.push(Guard::warn(format!(
                        "Fit of {} not checked: the engine's size is unknown ({why}).",
                        t.id
                    )));
                    continue;
                };
                let (guard, left) = compose_fit(view, engine, t.id, new, room);
                host = Some(left);
                guards.push(guard);
            }
            WorkloadKind::SwarmService => match &engine.swarm_nodes {
                Ok(all) => {
                    let rooms = nodes.get_or_insert_with(|| all.clone());
                    guards.push(swarm_fit(view, t.id, new, rooms));
                }
                Err(why) => guards.push(Guard::warn(format!(
                    "Fit of {} not checked: the Swarm nodes could not be read ({why}).",
                    t.id
                ))),
            },
            _ => {}
        }
    }
    guards
}

/// One Compose scale up against the engine's free memory. Docker does not enforce a
/// reservation for a plain container: what does not fit still starts, over-committing the host.
fn compose_fit(
    view: &CapacityView,
    engine: &EngineCapacity,
    id: &WorkloadRef,
    new: u64,
    mut room: NodeRoom,
) -> (Guard, NodeRoom) {
    let Some(needs) = view.needs.get(id) else {
        // Scaled to 0: no container is left whose HostConfig says what one reserves.
        return (
            Guard::warn(format!(
                "Fit of {id} not checked: no container of it is left to read its reservations \
                 from."
            )),
            room,
        );
    };
    let Some(each) = needs.memory_bytes else {
        let limits = view.docker_limits.get(id).cloned().unwrap_or_default();
        let set: Vec<String> = [
            limits
                .memory_limit_bytes
                .map(|m| format!("memory {}", format_bytes(m))),
            limits
                .cpu_limit_milli
                .map(|c| format!("cpu {}", format_cpu_milli(c))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let what = if set.is_empty() {
            "nothing set".to_string()
        } else {
            format!("only limits set: {}", set.join(", "))
        };
        return (
            Guard::warn(format!(
                "Fit of {id} cannot be judged: no reservations ({what}). Set \
                 deploy.resources.reservations.memory to have it checked against the engine's \
                 {} of memory.",
                format_bytes(room.allocatable_memory_bytes)
            )),
            room,
        );
    };
    let free = room.free_memory_bytes();
    let fitting = (free / each.max(1)).min(new);
    let numbers = format!(
        "each reserves {}, {} free of {}",
        format_bytes(each),
        format_bytes(free),
        format_bytes(room.allocatable_memory_bytes)
    );
    let what = if new == 1 {
        "new replica"
    } else {
        "new replicas"
    };
    let text = if fitting == new {
        format!(
            "Fit of {id}: fits: {new} of {new} {what} in {}'s free memory ({numbers}).",
            engine.name
        )
    } else {
        let lead = if fitting == 0 {
            format!(
                "none of {new} {what} fit{}",
                if new == 1 { "s" } else { "" }
            )
        } else {
            format!("only {fitting} of {new} {what} fit")
        };
        format!(
            "Fit of {id}: {lead} in {}'s free memory: {} would over-commit it ({numbers}). \
             Docker does not enforce reservations for plain containers: they would start and \
             compete for memory.",
            engine.name,
            new - fitting
        )
    };
    let text = format!(
        "{text} Counted: {}. Cpu not checked: Compose passes no cpu reservation to the engine.",
        engine.counted
    );
    room.requested_memory_bytes += each * new;
    room.pods += new;
    let guard = if fitting == new {
        Guard::pass(text)
    } else {
        Guard::warn(text)
    };
    (guard, room)
}

/// One Swarm scale up, node by node as its scheduler places tasks: reservations are enforced,
/// drained and paused nodes take none, constraints on node labels, role and hostname apply.
fn swarm_fit(view: &CapacityView, id: &WorkloadRef, new: u64, nodes: &mut [NodeRoom]) -> Guard {
    let Some(needs) = view.needs.get(id) else {
        return Guard::warn(format!(
            "Fit of {id} not checked: its service spec was not read."
        ));
    };
    if needs.cpu_milli.is_none() && needs.memory_bytes.is_none() {
        return Guard::warn(format!(
            "Fit of {id} cannot be judged: no reservations (set --reserve-cpu / \
             --reserve-memory to have Swarm place tasks by room)."
        ));
    }
    let report = fit_replicas(nodes, needs, new);
    for (name, count) in &report.placement {
        if let Some(n) = nodes.iter_mut().find(|n| &n.name == name) {
            n.requested_cpu_milli += needs.cpu_milli.unwrap_or(0) * count;
            n.requested_memory_bytes += needs.memory_bytes.unwrap_or(0) * count;
        }
    }
    let verdict = report
        .verdict
        .replace(" cordoned", " drained or paused")
        .replace(
            "not matching the node selector/affinity",
            "not matching the constraints",
        );
    let mut text = format!("Fit of {id}: {verdict}");
    if !report.fits() {
        let eligible = nodes.len() as u64 - report.excluded.values().sum::<u64>();
        // Swarm names the resource shortage only when some node passed the other filters.
        text.push_str(&if eligible == 0 {
            "; Swarm would show them as \"no suitable node\"".to_string()
        } else {
            format!(
                "; Swarm would show them as \"no suitable node (insufficient resources on \
                 {eligible} node{})\"",
                if eligible == 1 { "" } else { "s" }
            )
        });
    }
    text.push('.');
    if !needs.rules_not_applied.is_empty() {
        text.push_str(&format!(
            " Not simulated: {}.",
            needs.rules_not_applied.join(", ")
        ));
    }
    if report.fits() {
        Guard::pass(text)
    } else {
        Guard::warn(text)
    }
}
