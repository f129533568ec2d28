//! Drift: the servers an upstream lists vs the replicas running behind it. Pure, so the CLI,
//! the Health panel and the plan all say the same thing.

use serde::Serialize;

use super::parse::Upstream;
use super::replicas::Replica;
use crate::profiles::model::{UpstreamAddressing, UpstreamLink};

/// A replica that started this close after nginx's reload is taken as resolved by it.
pub const RELOAD_SLACK_MS: i64 = 500;

/// What one linked upstream looks like next to its workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub upstream: String,
    /// `project/service` or `swarm/service`.
    pub workload: String,
    pub replicas: usize,
    /// Replicas nginx sends requests to.
    pub behind: usize,
    /// Replicas nginx does not know (not listed, listed as `down`, or — for a DNS name —
    /// started after nginx last resolved it).
    pub missing: Vec<String>,
    /// Active listed servers without a running replica behind them.
    pub orphans: Vec<String>,
    /// Listed servers marked `down` (left by a drain, or by hand).
    pub down: Vec<String>,
    /// A reload would fix it (DNS names) rather than an edit.
    pub reload_fixes: bool,
    /// Reasons a replica has no address nginx could use.
    pub problems: Vec<String>,
}

impl Drift {
    pub fn in_sync(&self) -> bool {
        self.missing.is_empty() && self.orphans.is_empty() && self.problems.is_empty()
    }

    /// "LB: 2 of 3 replicas behind nexus_api; 1 listed server has no replica".
    pub fn summary(&self) -> String {
        let mut s = format!(
            "LB: {} of {} replica{} behind {}",
            self.behind,
            self.replicas,
            if self.replicas == 1 { "" } else { "s" },
            self.upstream
        );
        if !self.orphans.is_empty() {
            let n = self.orphans.len();
            s.push_str(&format!(
                "; {n} listed server{} {} no replica",
                if n == 1 { "" } else { "s" },
                if n == 1 { "has" } else { "have" }
            ));
        }
        if self.reload_fixes && !self.missing.is_empty() {
            s.push_str("; started after nginx's last reload: a reload puts them behind it");
        }
        for p in &self.problems {
            s.push_str("; ");
            s.push_str(p);
        }
        s
    }
}

/// Compare. `reloaded_ms`: when nginx last (re)loaded its configuration, for DNS names.
pub fn compare(
    link: &UpstreamLink,
    up: &Upstream,
    replicas: &[Replica],
    reloaded_ms: Option<i64>,
) -> Drift {
    let active: Vec<&str> = up
        .servers
        .iter()
        .filter(|s| !s.down && !s.backup)
        .map(|s| s.address.as_str())
        .collect();
    let down: Vec<String> = up
        .servers
        .iter()
        .filter(|s| s.down)
        .map(|s| s.address.clone())
        .collect();
    let mut d = Drift {
        upstream: up.name.clone(),
        workload: format!("{}/{}", link.workload.scope, link.workload.name),
        replicas: replicas.len(),
        behind: 0,
        missing: Vec::new(),
        orphans: Vec::new(),
        down,
        reload_fixes: false,
        problems: Vec::new(),
    };
    if link.addressing == UpstreamAddressing::Dns {
        let name = replicas.first().and_then(|r| r.address(link).ok());
        let listed = name.as_deref().is_some_and(|n| active.contains(&n));
        for r in replicas {
            // Both times come from clocks read differently (Docker's, the kernel's ticks):
            // within the slack a replica counts as resolved, not as a false alarm.
            let after_reload = reloaded_ms.is_some_and(|t| r.started_ms > t + RELOAD_SLACK_MS);
            if listed && !after_reload {
                d.behind += 1;
            } else {
                d.missing.push(r.name.clone());
                d.reload_fixes |= listed;
            }
        }
        return d;
    }
    let mut addresses = Vec::new();
    for r in replicas {
        match r.address(link) {
            Ok(a) => {
                if active.contains(&a.as_str()) {
                    d.behind += 1;
                } else {
                    d.missing.push(a.clone());
                }
                addresses.push(a);
            }
            Err(e) => d.problems.push(e),
        }
    }
    d.orphans = active
        .iter()
        .filter(|a| !addresses.iter().any(|x| x == *a))
        .map(ToString::to_string)
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::super::parse::file_facts;
    use super::*;

    fn replica(name: &str, ip: &str, started_ms: i64) -> Replica {
        Replica {
            id: name.into(),
            name: name.into(),
            started_ms,
            networks: vec![("n".into(), ip.into())],
            published: Vec::new(),
            number: None,
        }
    }

    fn link(addressing: UpstreamAddressing) -> UpstreamLink {
        UpstreamLink {
            upstream: "nexus_api".into(),
            port: 8080,
            addressing,
            host: Some("api".into()),
            ..UpstreamLink::default()
        }
    }

    #[test]
    fn counts_missing_and_orphan_servers() {
        let f = file_facts(
            "upstream nexus_api { server 10.0.0.2:8080; server 10.0.0.9:8080; server 10.0.0.7:8080 down; }",
        )
        .unwrap();
        let reps = [
            replica("a", "10.0.0.2", 0),
            replica("b", "10.0.0.3", 0),
            replica("c", "10.0.0.4", 0),
        ];
        let d = compare(
            &link(UpstreamAddressing::ContainerIp),
            &f.upstreams[0],
            &reps,
            None,
        );
        assert_eq!(d.behind, 1);
        assert_eq!(d.missing, ["10.0.0.3:8080", "10.0.0.4:8080"]);
        assert_eq!(d.orphans, ["10.0.0.9:8080"]);
        assert_eq!(d.down, ["10.0.0.7:8080"]);
        assert!(!d.in_sync());
        assert_eq!(
            d.summary(),
            "LB: 1 of 3 replicas behind nexus_api; 1 listed server has no replica"
        );
        let ok = compare(
            &link(UpstreamAddressing::ContainerIp),
            &f.upstreams[0],
            &[replica("a", "10.0.0.2", 0), replica("z", "10.0.0.9", 0)],
            None,
        );
        assert!(ok.in_sync(), "{ok:?}");
    }

    #[test]
    fn a_dns_name_covers_only_replicas_started_before_the_reload() {
        let f = file_facts("upstream nexus_api { server api:8080; }").unwrap();
        let reps = [replica("a", "x", 100), replica("b", "y", 3000)];
        let d = compare(
            &link(UpstreamAddressing::Dns),
            &f.upstreams[0],
            &reps,
            Some(200),
        );
        assert_eq!((d.behind, d.missing.clone()), (1, vec!["b".to_string()]));
        assert!(d.reload_fixes);
        assert!(
            d.summary().contains("a reload puts them behind it"),
            "{}",
            d.summary()
        );
        let d = compare(
            &link(UpstreamAddressing::Dns),
            &f.upstreams[0],
            &reps,
            Some(4000),
        );
        assert!(d.in_sync());
        // Within the slack of the two clocks: taken as resolved.
        let d = compare(
            &link(UpstreamAddressing::Dns),
            &f.upstreams[0],
            &reps,
            Some(3000 - RELOAD_SLACK_MS + 1),
        );
        assert!(d.in_sync());
    }
}
