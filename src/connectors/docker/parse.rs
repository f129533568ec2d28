//! Reading what the `docker` CLI prints: `docker inspect` JSON, `docker stats` and
//! `docker service ls` JSON lines, and the one fact of a Compose file that no label carries
//! (`deploy.mode: global`). Pure functions, unit-tested on captured output.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const SWARM_SERVICE: &str = "com.docker.swarm.service.name";
/// Compose's digest of a service's configuration: it changes when `up` would recreate.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";

/// One container as `docker inspect` describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    /// `State.Status`: created, running, restarting, exited, …
    pub state: String,
    /// `State.Health.Status` when the container has a health check.
    pub health: Option<String>,
    pub restart_count: u32,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
    /// Host ports published as one fixed number (not a range, not ephemeral).
    pub fixed_host_ports: Vec<u16>,
    /// What `HostConfig` reserves and limits (Compose's `deploy.resources` land here).
    pub resources: Resources,
}

/// A container's `HostConfig` resources; 0 in the JSON (unset) is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// `MemoryReservation`: the soft limit Compose's `reservations.memory` maps to.
    pub memory_reservation: Option<u64>,
    /// `Memory`: the hard limit (`limits.memory`, `mem_limit`).
    pub memory_limit: Option<u64>,
    /// `NanoCpus` (`--cpus`, `limits.cpus`) or `CpuQuota / CpuPeriod`, in milli-CPU.
    pub cpu_limit_milli: Option<u64>,
}

fn resources(v: &Value) -> Resources {
    let n = |k: &str| {
        v.pointer(&format!("/HostConfig/{k}"))
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
    };
    let cpu = n("NanoCpus").map(|nano| nano / 1_000_000).or_else(|| {
        let (quota, period) = (n("CpuQuota")?, n("CpuPeriod").unwrap_or(100_000));
        Some(quota * 1000 / period)
    });
    Resources {
        memory_reservation: n("MemoryReservation"),
        memory_limit: n("Memory"),
        cpu_limit_milli: cpu,
    }
}

impl Container {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// A Compose container started by `up` (not by `run`).
    pub fn compose_service(&self) -> Option<(&str, &str)> {
        let oneoff = self
            .label(ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        match (self.label(PROJECT), self.label(SERVICE)) {
            (Some(p), Some(s)) if !oneoff => Some((p, s)),
            _ => None,
        }
    }

    /// The name Compose would have given; anything else means `container_name` is set.
    pub fn has_custom_name(&self) -> bool {
        let Some((project, service)) = self.compose_service() else {
            return false;
        };
        // Compose v1 prefixes a short id while it recreates a container.
        let name = match self.name.split_once('_') {
            Some((prefix, rest))
                if prefix.len() == 12 && prefix.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                rest
            }
            _ => &self.name,
        };
        !['_', '-'].iter().any(|sep| {
            name.strip_prefix(&format!("{project}{sep}{service}{sep}"))
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// `docker inspect ID…` output.
pub fn containers(json: &str) -> Result<Vec<Container>, String> {
    let list: Vec<Value> =
        serde_json::from_str(json).map_err(|e| format!("docker inspect printed no JSON: {e}"))?;
    Ok(list.iter().map(container).collect())
}

fn container(v: &Value) -> Container {
    let labels = v
        .pointer("/Config/Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut fixed_host_ports: Vec<u16> = v
        .pointer("/HostConfig/PortBindings")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|b| b.get("HostPort")?.as_str()?.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .collect();
    fixed_host_ports.sort_unstable();
    fixed_host_ports.dedup();
    Container {
        id: str_at(v, &["Id"]).unwrap_or_default().to_string(),
        name: str_at(v, &["Name"])
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        labels,
        running: v
            .pointer("/State/Running")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        state: str_at(v, &["State", "Status"])
            .unwrap_or("unknown")
            .to_string(),
        health: str_at(v, &["State", "Health", "Status"]).map(String::from),
        restart_count: v
            .get("RestartCount")
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        created_ms: str_at(v, &["Created"])
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp_millis()),
        fixed_host_ports,
        resources: resources(v),
    }
}

/// One container's `docker stats --no-stream` line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
}

/// `docker stats --no-stream --no-trunc --format '{{json .}}'` output, by full container id.
pub fn stats(lines: &str) -> HashMap<String, Stats> {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let id = str_at(&v, &["ID"])?.to_string();
            let percent = |k: &str| str_at(&v, &[k])?.trim().trim_end_matches('%').parse().ok();
            let memory_bytes = str_at(&v, &["MemUsage"])
                .and_then(|u| u.split('/').next())
                .and_then(size_bytes);
            Some((
                id,
                Stats {
                    cpu_percent: percent("CPUPerc"),
                    memory_percent: percent("MemPerc"),
                    memory_bytes,
                },
            ))
        })
        .collect()
}

/// `"1.5MiB"`, `"328KiB"`, `"0B"`, `"2.1GB"` as bytes.
pub fn size_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim() {
        "B" | "" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0_f64.powi(4),
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    // Float to int: a non-negative size well inside u64 (`as` saturates anyway).
    let bytes = (number * factor).round() as u64;
    Some(bytes)
}

/// One Swarm service from `docker service ls --format '{{json .}}'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmService {
    pub name: String,
    pub mode: String,
    pub running: u32,
    pub desired: u32,
    /// The service object's `Version.Index` from `docker service inspect`: it moves when the
    /// service's spec changes (a scale, an update), not when its tasks come and go.
    pub version: Option<u64>,
}

pub fn swarm_services(lines: &str) -> Vec<SwarmService> {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            // "2/3", or "1/1 (max 1 per node)", or for jobs "0/1 (1/1 completed)".
            let replicas = str_at(&v, &["Replicas"])?.split_whitespace().next()?;
            let (running, desired) = replicas.split_once('/')?;
            Some(SwarmService {
                name: str_at(&v, &["Name"])?.to_string(),
                mode: str_at(&v, &["Mode"]).unwrap_or("replicated").to_string(),
                running: running.parse().ok()?,
                desired: desired.parse().ok()?,
                version: None,
            })
        })
        .collect()
}

/// `docker service inspect ID…` output: `Version.Index` by service name.
pub fn service_versions(json: &str) -> Result<HashMap<String, u64>, String> {
    if json.trim().is_empty() {
        // Every service named was removed since it was listed.
        return Ok(HashMap::new());
    }
    let list: Vec<Value> = serde_json::from_str(json)
        .map_err(|e| format!("docker service inspect printed no JSON: {e}"))?;
    Ok(list
        .iter()
        .filter_map(|v| {
            let name = str_at(v, &["Spec", "Name"])?.to_string();
            let index = v.pointer("/Version/Index")?.as_u64()?;
            Some((name, index))
        })
        .collect())
}

/// Services of a Compose file with `deploy: mode: global`. A small indentation-based reader of
/// the YAML block style Compose files use (flow style `deploy: {mode: global}` too), not a full
/// YAML parser: it looks for this one key and nothing else.
pub fn global_services(yaml: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut services_indent: Option<usize> = None;
    let mut service: Option<(String, usize)> = None;
    let mut deploy_indent: Option<usize> = None;
    for raw in yaml.lines() {
        let line = raw.split(" #").next().unwrap_or_default().trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let key = unquote(key.trim());
        let value = value.trim();
        if indent == 0 {
            services_indent = (key == "services").then_some(0);
            service = None;
            deploy_indent = None;
            continue;
        }
        if services_indent.is_none() {
            continue;
        }
        match &service {
            Some((_, s_indent)) if indent > *s_indent => {}
            _ => {
                service = Some((key.to_string(), indent));
                deploy_indent = None;
                continue;
            }
        }
        let Some((name, _)) = &service else { continue };
        if key == "deploy" {
            if value.contains("mode") && value.contains("global") {
                out.insert(name.clone());
            }
            deploy_indent = Some(indent);
            continue;
        }
        match deploy_indent {
            Some(d) if indent > d => {
                if key == "mode" && unquote(value) == "global" {
                    out.insert(name.clone());
                }
            }
            _ => deploy_indent = None,
        }
    }
    out
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSPECT: &str = r#"[{"Id":"abc","Name":"/shop_web_1","Created":"2026-11-22T05:02:43.093299875Z",
      "RestartCount":2,"State":{"Status":"running","Running":true,"Health":{"Status":"healthy"}},
      "Config":{"Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"web",
        "com.docker.compose.oneoff":"False","com.docker.compose.project.config_files":"docker-compose.yml"}},
      "HostConfig":{"PortBindings":{"8080/tcp":[{"HostIp":"","HostPort":"18081"}],"9/tcp":[{"HostIp":"","HostPort":""}]}}},
      {"Id":"def","Name":"/my-db","Created":"bad","State":{"Status":"exited","Running":false},
      "Config":{"Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"db"}},
      "HostConfig":{"PortBindings":{}}}]"#;

    #[test]
    fn inspect_output() {
        let list = containers(INSPECT).unwrap();
        let web = &list[0];
        assert_eq!(web.name, "shop_web_1");
        assert_eq!(web.compose_service(), Some(("shop", "web")));
        assert_eq!(web.fixed_host_ports, vec![18081]);
        assert_eq!(web.health.as_deref(), Some("healthy"));
        assert_eq!(web.restart_count, 2);
        assert!(web.running && web.created_ms > 0);
        assert!(!web.has_custom_name());
        let db = &list[1];
        assert!(!db.running && db.health.is_none());
        assert!(db.has_custom_name());
    }

    #[test]
    fn compose_names_v1_v2_and_recreating() {
        let mut c = containers(INSPECT).unwrap().remove(0);
        for name in ["shop-web-12", "0123456789ab_shop_web_1"] {
            c.name = name.into();
            assert!(!c.has_custom_name(), "{name}");
        }
        c.name = "shop_web_x".into();
        assert!(c.has_custom_name());
    }

    #[test]
    fn stats_lines() {
        let s = stats(
            r#"{"CPUPerc":"1.50%","ID":"abc","MemPerc":"0.25%","MemUsage":"1.5MiB / 23.54GiB"}
not json"#,
        );
        let abc = s["abc"];
        assert_eq!(abc.cpu_percent, Some(1.5));
        assert_eq!(abc.memory_percent, Some(0.25));
        assert_eq!(abc.memory_bytes, Some(1_572_864));
        assert_eq!(size_bytes("328KiB"), Some(335_872));
        assert_eq!(size_bytes("0B"), Some(0));
        assert_eq!(size_bytes("--"), None);
    }

    #[test]
    fn service_ls_lines() {
        let list = swarm_services(
            r#"{"ID":"i6","Image":"x","Mode":"replicated","Name":"web","Ports":"","Replicas":"2/3"}
{"Mode":"global","Name":"agent","Replicas":"1/1 (max 1 per node)"}"#,
        );
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].running, list[0].desired), (2, 3));
        assert_eq!(list[1].mode, "global");
        assert_eq!(list[0].version, None);
    }

    #[test]
    fn service_inspect_versions() {
        let v = service_versions(
            r#"[{"ID":"t9i9","Version":{"Index":11},"Spec":{"Name":"web","Mode":{"Replicated":{"Replicas":2}}}},
               {"ID":"x","Spec":{"Name":"no-version"}}]"#,
        )
        .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v["web"], 11);
        assert!(service_versions("Error: no such service").is_err());
        assert!(service_versions(" \n").unwrap().is_empty());
    }

    #[test]
    fn global_mode_in_compose_files() {
        let yaml = r#"
version: "3.8"
services:
  agent:
    image: x
    deploy:
      mode: global   # one per node
  web:
    image: x
    deploy:
      replicas: 2
    environment:
      mode: global
  "probe":
    deploy: { mode: "global" }
volumes:
  mode: {}
"#;
        let g = global_services(yaml);
        assert_eq!(
            g.into_iter().collect::<Vec<_>>(),
            vec!["agent".to_string(), "probe".to_string()]
        );
    }
}
