//! What a scale behind a linked upstream will do on nginx's side, in words and as a diff of the
//! upstream block (the rest of the file is untouched): shown with the plan before confirming.

use super::edit::{Leaving, apply, diff, upstream_edits};
use super::replicas::Replica;
use super::site::Site;
use super::{Config, digest};
use crate::model::exec::CommandLine;
use crate::profiles::{NginxEndpoint, UpstreamAddressing, UpstreamLink};

fn shell(argv: Vec<String>) -> String {
    CommandLine {
        argv,
        env: Vec::new(),
        cwd: None,
    }
    .display()
}

/// The preview lines; `now` are the running replicas (lowest container numbers first), `to` the
/// new count, `master_pid` nginx's master as read now.
pub fn render(
    e: &NginxEndpoint,
    link: &UpstreamLink,
    config: &Config,
    now: &[Replica],
    to: u32,
    master_pid: Option<u32>,
) -> Vec<String> {
    let Some((file, up)) = config.upstream(&link.upstream) else {
        return vec![format!(
            "Load balancer: nginx {} has no upstream \"{}\": the scale cannot be put behind it",
            e.name, link.upstream
        )];
    };
    let test = shell(super::test_command(e));
    let reload = shell(super::reload_command(e));
    let site = Site::of(e, config);
    let in_container = matches!(site, Site::Container(_));
    let mut out = vec![format!(
        "Load balancer: nginx {}, upstream {} in {}{} (digest {}, master pid {}); re-checked \
         before each write",
        e.name,
        up.name,
        file.path.display(),
        e.container
            .as_ref()
            .filter(|_| in_container)
            .map_or(String::new(), |c| format!(" in container {c}")),
        digest(&file.text),
        master_pid.map_or("unknown".into(), |p| p.to_string())
    )];
    if in_container {
        out.push(format!(
            "  re-check: {}; write: {}",
            site.recheck_words(&file.path),
            site.write_words(&file.path)
        ));
    }
    let to = usize::try_from(to).unwrap_or(usize::MAX);
    let addresses = |rs: &[Replica]| -> Vec<String> {
        rs.iter().filter_map(|r| r.address(link).ok()).collect()
    };
    if link.addressing == UpstreamAddressing::Dns {
        out.push(if to >= now.len() {
            format!("  up: start the replicas → wait until they answer → `{reload}` (nginx resolves the name again)")
        } else {
            format!(
                "  down: stop the replicas → `{reload}`; no drain: a name has no server line per \
                 replica to mark down, so until the reload nginx keeps sending the leaving \
                 replicas their share of requests, which fail (or are retried on another server \
                 as proxy_next_upstream allows)"
            )
        });
        return out;
    }
    let (target, steps) = if to >= now.len() {
        let mut t = addresses(now);
        for i in now.len()..to {
            t.push(format!("<replica {}>:{}", i + 1, link.port));
        }
        (
            t,
            format!(
                "  up: start the replicas → wait until they answer → write the upstream → `{test}` → `{reload}` → verify"
            ),
        )
    } else {
        (
            addresses(&now[..to]),
            format!(
                "  down: mark the leaving servers down → `{test}` → `{reload}` → wait until their \
                 connections drain (at most {} s) → stop the replicas → remove their lines → \
                 `{test}` → `{reload}`",
                super::drain_timeout(e).as_secs()
            ),
        )
    };
    out.push(steps);
    let after = apply(
        &file.text,
        &upstream_edits(&file.text, up, &target, Leaving::MarkDown),
    );
    out.extend(diff(&file.text, &after).lines().map(|l| format!("    {l}")));
    out
}
