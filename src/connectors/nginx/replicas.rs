//! A linked workload's running replicas as nginx would address them, read with `docker ps` and
//! `docker inspect` on the workload's engine.

use std::time::Duration;

use serde_json::Value;

use crate::connectors::docker::command::docker;
use crate::connectors::docker::process::run;
use crate::model::snapshot::DockerTarget;
use crate::profiles::model::{UpstreamAddressing, UpstreamLink};

const DOCKER_TIMEOUT: Duration = Duration::from_secs(20);

/// One running replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub id: String,
    pub name: String,
    /// `State.StartedAt`, Unix epoch milliseconds.
    pub started_ms: i64,
    /// Address on each network: (network, IP).
    pub networks: Vec<(String, String)>,
    /// (container port, host port) for published TCP ports.
    pub published: Vec<(u16, u16)>,
    /// Compose's container number (`com.docker.compose.container-number`): a scale down stops
    /// the highest numbers first.
    pub number: Option<u32>,
}

impl Replica {
    /// The `server` address nginx should list for this replica, or why there is none.
    pub fn address(&self, link: &UpstreamLink) -> Result<String, String> {
        match link.addressing {
            UpstreamAddressing::ContainerIp => {
                let net = match &link.network {
                    Some(n) => self.networks.iter().find(|(name, _)| name == n),
                    None => self.networks.first(),
                };
                net.map(|(_, ip)| format!("{ip}:{}", link.port))
                    .ok_or_else(|| {
                        format!(
                            "{} has no address on {}",
                            self.name,
                            link.network.as_deref().unwrap_or("any network")
                        )
                    })
            }
            UpstreamAddressing::Published => self
                .published
                .iter()
                .find(|(c, _)| *c == link.port)
                .map(|(_, h)| format!("{}:{h}", link.host.as_deref().unwrap_or("127.0.0.1")))
                .ok_or_else(|| format!("{} publishes no host port for {}", self.name, link.port)),
            UpstreamAddressing::Dns => Ok(format!(
                "{}:{}",
                link.host.as_deref().unwrap_or_default(),
                link.port
            )),
        }
    }
}

/// `docker inspect` JSON → replicas (running ones only).
pub fn parse_inspect(json: &str) -> Result<Vec<Replica>, String> {
    let list: Vec<Value> =
        serde_json::from_str(json).map_err(|e| format!("docker inspect printed no JSON: {e}"))?;
    let mut out = Vec::new();
    for v in list {
        if v.pointer("/State/Running").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let started_ms = v
            .pointer("/State/StartedAt")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map_or(0, |t| t.timestamp_millis());
        let mut networks: Vec<(String, String)> = v
            .pointer("/NetworkSettings/Networks")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(name, n)| {
                        let ip = n.get("IPAddress")?.as_str()?;
                        (!ip.is_empty()).then(|| (name.clone(), ip.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        networks.sort();
        let mut published = Vec::new();
        if let Some(ports) = v
            .pointer("/NetworkSettings/Ports")
            .and_then(Value::as_object)
        {
            for (key, binds) in ports {
                let Some(port) = key.strip_suffix("/tcp").and_then(|p| p.parse().ok()) else {
                    continue;
                };
                for b in binds.as_array().into_iter().flatten() {
                    if let Some(h) = b
                        .get("HostPort")
                        .and_then(Value::as_str)
                        .and_then(|h| h.parse().ok())
                        && !published.contains(&(port, h))
                    {
                        published.push((port, h));
                    }
                }
            }
        }
        out.push(Replica {
            id: v
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: v
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            started_ms,
            networks,
            published,
            number: v
                .pointer("/Config/Labels/com.docker.compose.container-number")
                .and_then(Value::as_str)
                .and_then(|n| n.parse().ok())
                .or_else(|| swarm_slot(&v)),
        });
    }
    out.sort_by(|a, b| a.number.cmp(&b.number).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// A Swarm task's slot, from its container name `SERVICE.SLOT.TASK`: a scale down on one node
/// removes the highest slots first, as Compose stops the highest container numbers.
fn swarm_slot(v: &Value) -> Option<u32> {
    let service = v
        .pointer("/Config/Labels/com.docker.swarm.service.name")
        .and_then(Value::as_str)?;
    let name = v.get("Name")?.as_str()?.trim_start_matches('/');
    name.strip_prefix(service)?
        .strip_prefix('.')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The running replicas of the linked workload (Compose service, or Swarm service tasks on
/// this engine).
pub async fn running(target: &DockerTarget, link: &UpstreamLink) -> Result<Vec<Replica>, String> {
    let w = &link.workload;
    let filters: Vec<String> = if w.scope == "swarm"
        || w.kind == Some(crate::model::snapshot::WorkloadKind::SwarmService)
    {
        vec![format!("label=com.docker.swarm.service.name={}", w.name)]
    } else {
        vec![
            format!("label=com.docker.compose.project={}", w.scope),
            format!("label=com.docker.compose.service={}", w.name),
        ]
    };
    let mut args = vec!["ps", "-q", "--no-trunc", "--filter", "status=running"];
    for f in &filters {
        args.extend(["--filter", f.as_str()]);
    }
    let ps = run(&docker(target, &args), DOCKER_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if !ps.success {
        return Err(format!("docker ps failed: {}", ps.output()));
    }
    let ids: Vec<&str> = ps.stdout.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["inspect"];
    args.extend(ids);
    let ran = run(&docker(target, &args), DOCKER_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if !ran.success {
        return Err(format!("docker inspect failed: {}", ran.output()));
    }
    parse_inspect(&ran.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::model::QueueWorkload;

    const INSPECT: &str = r#"[
      {"Id":"aaa","Name":"/p-api-1","Config":{"Labels":{"com.docker.compose.container-number":"1"}},"State":{"Running":true,"StartedAt":"2026-12-07T09:00:00.123456789Z"},
       "NetworkSettings":{"Networks":{"p_default":{"IPAddress":"172.20.0.2"}},
         "Ports":{"8080/tcp":[{"HostIp":"0.0.0.0","HostPort":"49153"},{"HostIp":"::","HostPort":"49153"}]}}},
      {"Id":"bbb","Name":"/p-api-2","State":{"Running":false,"StartedAt":"2026-12-07T09:00:00Z"},
       "NetworkSettings":{"Networks":{}}}
    ]"#;

    #[test]
    fn swarm_tasks_are_ordered_by_slot() {
        let task = |slot: &str| {
            format!(
                r#"{{"Id":"{slot}","Name":"/web.{slot}.x1y2","Config":{{"Labels":{{"com.docker.swarm.service.name":"web"}}}},
                "State":{{"Running":true}},"NetworkSettings":{{"Networks":{{}}}}}}"#
            )
        };
        let json = format!("[{},{},{}]", task("10"), task("2"), task("1"));
        let r = parse_inspect(&json).unwrap();
        let slots: Vec<Option<u32>> = r.iter().map(|r| r.number).collect();
        assert_eq!(slots, [Some(1), Some(2), Some(10)]);
    }

    #[test]
    fn reads_running_replicas_and_addresses() {
        let r = parse_inspect(INSPECT).unwrap();
        assert_eq!(r.len(), 1, "the stopped one is left out");
        assert_eq!(r[0].name, "p-api-1");
        assert_eq!(r[0].started_ms % 1000, 123);
        assert_eq!(r[0].published, [(8080, 49153)]);
        assert_eq!(r[0].number, Some(1));
        let mut link = UpstreamLink {
            upstream: "api".into(),
            workload: QueueWorkload::default(),
            port: 8080,
            ..UpstreamLink::default()
        };
        assert_eq!(r[0].address(&link).unwrap(), "172.20.0.2:8080");
        link.network = Some("other".into());
        assert!(
            r[0].address(&link)
                .unwrap_err()
                .contains("no address on other")
        );
        link.addressing = UpstreamAddressing::Published;
        assert_eq!(r[0].address(&link).unwrap(), "127.0.0.1:49153");
        link.addressing = UpstreamAddressing::Dns;
        link.host = Some("api".into());
        assert_eq!(r[0].address(&link).unwrap(), "api:8080");
    }
}
