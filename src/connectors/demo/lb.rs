//! The demo's load balancer: a simulated nginx whose upstream `staging_api` fronts the
//! demo-staging Compose project's `api` service. The upstream is a text read by the real parser
//! and compared by the real drift check, so the Health panel, the workload row, the advisor and
//! the scale dialog show what they would for a real nginx. It starts drifted, the way the
//! issue's new user found theirs: one replica nginx does not know, one listed server whose
//! container is gone. A demo scale of `api` rewrites the simulated upstream the way the preview
//! shows (unless the operator unticks the load-balancer box); nothing real is read or written.

use super::sim::{COMPOSE_PROJECT, DemoFleet};
use crate::connectors::nginx::drift::compare;
use crate::connectors::nginx::edit::{Leaving, apply, upstream_edits};
use crate::connectors::nginx::parse::file_facts;
use crate::connectors::nginx::replicas::Replica;
use crate::connectors::nginx::status::{LinkReport, PreviewInput};
use crate::connectors::nginx::{Config, ConfigFile};
use crate::health::{EXIT_CRITICAL, EXIT_OK, EXIT_UNKNOWN, EXIT_WARNING};
use crate::model::action::Action;
use crate::model::exec::CommandLine;
use crate::model::snapshot::{WorkloadKind, WorkloadRef};
use crate::profiles::model::QueueWorkload;
use crate::profiles::{NginxEndpoint, UpstreamAddressing, UpstreamLink};

/// The simulated nginx, labelled as a demo wherever its name shows.
pub const NGINX: &str = "demo-lb (DEMO)";
pub const UPSTREAM: &str = "staging_api";
/// The Compose service behind it.
pub const SERVICE: &str = "api";
const PORT: u16 = 8080;
const NETWORK: &str = "demo-staging_default";
const FILE: &str = "/etc/nginx/conf.d/staging_api.conf";
/// A pid for the preview's "master pid" (the demo has no process).
const MASTER_PID: u32 = 4242;
/// Unticked scales remembered at most (each is consumed by its scale).
const MAX_LEFT: usize = 16;

/// Replica 1 is behind nginx; replica 2 started after the upstream was written by hand; .19 is
/// a container removed long ago.
const INITIAL: &str = "# DEMO: a simulated nginx in front of demo-staging's api service.\n\
# Nothing here is read from or written to a real file.\n\
upstream staging_api {\n    least_conn;\n    \
server 172.18.0.11:8080 max_fails=3 fail_timeout=10s;\n    \
server 172.18.0.19:8080 max_fails=3 fail_timeout=10s;  # api-3, removed by hand\n    \
keepalive 32;\n}\n";

/// The simulated nginx's state.
#[derive(Clone, Debug)]
pub struct SimNginx {
    /// The upstream file as the simulated nginx has it loaded.
    pub text: String,
    /// Scales whose load-balancer step the operator unticked: they leave the upstream alone.
    left: Vec<Action>,
}

impl Default for SimNginx {
    fn default() -> Self {
        Self {
            text: INITIAL.to_string(),
            left: Vec::new(),
        }
    }
}

impl SimNginx {
    /// The operator unticked the load-balancer step of `action`.
    pub fn leave(&mut self, action: &Action) {
        if self.left.len() >= MAX_LEFT {
            self.left.remove(0);
        }
        self.left.push(action.clone());
    }
}

fn endpoint() -> NginxEndpoint {
    NginxEndpoint {
        name: NGINX.into(),
        config: Some(FILE.into()),
        links: vec![link()],
        ..NginxEndpoint::default()
    }
}

fn link() -> UpstreamLink {
    UpstreamLink {
        upstream: UPSTREAM.into(),
        workload: QueueWorkload {
            endpoint: super::COMPOSE_ENDPOINT.into(),
            scope: COMPOSE_PROJECT.into(),
            name: SERVICE.into(),
            kind: Some(WorkloadKind::ComposeService),
        },
        port: PORT,
        addressing: UpstreamAddressing::ContainerIp,
        network: Some(NETWORK.into()),
        host: None,
    }
}

/// The workload the demo's upstream fronts.
pub fn workload_ref() -> WorkloadRef {
    link().workload.workload_ref()
}

/// The running containers of `api`: one per desired replica (Compose starts them at once),
/// numbered from 1, addressed 172.18.0.(10 + n).
fn replicas(fleet: &DemoFleet) -> Vec<Replica> {
    let n = fleet
        .workloads
        .iter()
        .find(|w| w.scope == COMPOSE_PROJECT && w.name == SERVICE)
        .map_or(0, |w| w.desired);
    (1..=n)
        .map(|i| Replica {
            id: format!("demo-{SERVICE}-{i}"),
            name: format!("{COMPOSE_PROJECT}-{SERVICE}-{i}"),
            started_ms: 0,
            networks: vec![(
                NETWORK.into(),
                format!("172.18.{}.{}", i / 240, 10 + i % 240),
            )],
            published: Vec::new(),
            number: Some(i),
        })
        .collect()
}

fn config(text: &str) -> Option<Config> {
    let facts = file_facts(text).ok()?;
    Some(Config {
        files: vec![ConfigFile {
            path: FILE.into(),
            text: text.to_string(),
            facts,
        }],
    })
}

/// What the Health panel, the workload row and the advisor get for the demo's nginx: the same
/// report a real nginx's check gives.
pub fn reports(fleet: &DemoFleet) -> Vec<LinkReport> {
    let e = endpoint();
    let link = link();
    let mut r = LinkReport {
        nginx: NGINX.into(),
        upstream: UPSTREAM.into(),
        workload: format!(
            "{}/{}/{}",
            link.workload.endpoint, link.workload.scope, link.workload.name
        ),
        workload_ref: workload_ref(),
        file: Some(FILE.into()),
        drift: None,
        error: None,
        summary: String::new(),
        reload_command: CommandLine {
            argv: crate::connectors::nginx::reload_command(&e),
            env: Vec::new(),
            cwd: None,
        }
        .display(),
        exit_code: EXIT_UNKNOWN,
        preview: None,
    };
    let replicas = replicas(fleet);
    let read = config(&fleet.nginx.text).and_then(|c| {
        let up = c.upstream(UPSTREAM)?.1.clone();
        Some((c, up))
    });
    let Some((config, up)) = read else {
        r.error = Some("the simulated upstream does not parse".into());
        r.summary = format!("LB: {}", r.error.clone().unwrap_or_default());
        return vec![r];
    };
    let d = compare(&link, &up, &replicas, None);
    r.summary = d.summary();
    r.exit_code = if d.in_sync() {
        EXIT_OK
    } else if d.behind == 0 && d.replicas > 0 {
        EXIT_CRITICAL
    } else {
        EXIT_WARNING
    };
    r.drift = Some(d);
    r.preview = Some(PreviewInput {
        endpoint: e,
        link,
        config,
        replicas,
        master_pid: Some(MASTER_PID),
    });
    vec![r]
}

/// After a demo scale of `api` to `to` replicas (the fleet already at `to`): the simulated
/// upstream gets the edit the preview showed — new servers added, leaving and orphaned ones
/// marked `down` — unless the operator unticked the step. Returns what was done, for the
/// action's output.
pub fn follow_scale(fleet: &mut DemoFleet, action: &Action, before: u32, to: u32) -> String {
    if let Some(i) = fleet.nginx.left.iter().position(|a| a == action) {
        fleet.nginx.left.remove(i);
        return format!(
            "; simulated upstream {UPSTREAM} left as it is (load-balancer step unticked)"
        );
    }
    let link = link();
    let now = replicas(fleet);
    let Some((file, up)) = config(&fleet.nginx.text).and_then(|c| {
        let (f, u) = c.upstream(UPSTREAM)?;
        Some((f.text.clone(), u.clone()))
    }) else {
        return String::new();
    };
    let target: Vec<String> = now.iter().filter_map(|r| r.address(&link).ok()).collect();
    let new = apply(
        &file,
        &upstream_edits(&file, &up, &target, Leaving::MarkDown),
    );
    let changed = new != file;
    fleet.nginx.text = new;
    if !changed {
        return format!("; simulated upstream {UPSTREAM} already lists the {to} replicas");
    }
    format!(
        "; simulated upstream {UPSTREAM} rewritten for {before} -> {to} replicas, `nginx -t` and \
         `nginx -s reload` simulated"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> DemoFleet {
        DemoFleet::new(7, 1_793_628_000_000)
    }

    #[test]
    fn the_demo_starts_with_a_drift() {
        let f = fleet();
        let r = &reports(&f)[0];
        assert_eq!(
            r.summary,
            "LB: 1 of 2 replicas behind staging_api; 1 listed server has no replica"
        );
        let d = r.drift.as_ref().unwrap();
        assert_eq!(d.missing, ["172.18.0.12:8080"]);
        assert_eq!(d.orphans, ["172.18.0.19:8080"]);
        assert_eq!(r.exit_code, EXIT_WARNING);
        assert_eq!(
            r.workload_ref,
            WorkloadRef::new(
                super::super::COMPOSE_ENDPOINT,
                COMPOSE_PROJECT,
                WorkloadKind::ComposeService,
                SERVICE
            )
        );
    }

    #[test]
    fn a_scale_preview_shows_the_upstream_diff() {
        let f = fleet();
        let lines = reports(&f)[0].preview.as_ref().unwrap().render(3);
        let text = lines.join("\n");
        assert!(
            text.contains("upstream staging_api in /etc/nginx/conf.d/staging_api.conf"),
            "{text}"
        );
        assert!(text.contains("up: start the replicas"), "{text}");
        assert!(
            text.contains("+     server 172.18.0.12:8080 max_fails=3 fail_timeout=10s;"),
            "{text}"
        );
        assert!(
            text.contains("+     server <replica 3>:8080 max_fails=3 fail_timeout=10s;"),
            "{text}"
        );
        assert!(
            text.contains("fail_timeout=10s down;"),
            "the orphan is marked down: {text}"
        );
    }

    #[test]
    fn a_demo_scale_puts_every_replica_behind_the_upstream_unless_left() {
        let mut f = fleet();
        let action = Action::ScaleWorkload {
            workload: workload_ref(),
            replicas: 3,
        };
        f.workload_mut(COMPOSE_PROJECT, SERVICE).unwrap().desired = 3;
        let said = follow_scale(&mut f, &action, 2, 3);
        assert!(said.contains("rewritten for 2 -> 3"), "{said}");
        let r = &reports(&f)[0];
        assert!(r.drift.as_ref().unwrap().in_sync(), "{}", r.summary);
        assert_eq!(r.summary, "LB: 3 of 3 replicas behind staging_api");
        assert!(
            f.nginx.text.starts_with("# DEMO: a simulated nginx"),
            "comments kept"
        );

        let down = Action::ScaleWorkload {
            workload: workload_ref(),
            replicas: 2,
        };
        f.nginx.leave(&down);
        f.workload_mut(COMPOSE_PROJECT, SERVICE).unwrap().desired = 2;
        let said = follow_scale(&mut f, &down, 3, 2);
        assert!(said.contains("left as it is"), "{said}");
        let r = &reports(&f)[0];
        assert_eq!(
            r.summary,
            "LB: 2 of 2 replicas behind staging_api; 1 listed server has no replica"
        );
        // The next scale follows again: the unticked choice was for that action only.
        let said = follow_scale(&mut f, &down, 2, 2);
        assert!(said.contains("rewritten"), "{said}");
        assert!(reports(&f)[0].drift.as_ref().unwrap().in_sync());
    }
}
