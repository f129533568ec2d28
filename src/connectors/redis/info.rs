//! Reading `INFO`: the raw counters of one poll, and the per-interval figures derived from two
//! of them (hit ratio, ops/s, evictions/s, expired/s).

use crate::model::snapshot::{CacheNode, CacheReplica, CacheReplication};
use std::collections::HashMap;

/// The fields of one `INFO` reply that the cache panel uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    pub run_id: String,
    pub role: String,
    pub connected_clients: u32,
    pub blocked_clients: u32,
    pub used_memory: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub fragmentation_ratio: Option<f64>,
    pub total_commands: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub cluster_enabled: bool,
    pub keys_per_db: Vec<(u32, u64)>,
    pub replication: CacheReplication,
}

/// Parses the text of `INFO` (sections of `key:value` lines).
pub fn parse(text: &str) -> Info {
    let map: HashMap<&str, &str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect();
    let num = |k: &str| map.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let small = |k: &str| u32::try_from(num(k)).unwrap_or(u32::MAX);
    let mut keys_per_db: Vec<(u32, u64)> = map
        .iter()
        .filter_map(|(k, v)| {
            let db = k.strip_prefix("db")?.parse::<u32>().ok()?;
            let keys = fields(v).get("keys")?.parse::<u64>().ok()?;
            Some((db, keys))
        })
        .collect();
    keys_per_db.sort_unstable();
    let offset = num("master_repl_offset");
    let mut replicas: Vec<(u32, CacheReplica)> = map
        .iter()
        .filter_map(|(k, v)| {
            let index = k.strip_prefix("slave")?.parse::<u32>().ok()?;
            let f = fields(v);
            let replica_offset = f.get("offset")?.parse::<u64>().ok()?;
            Some((
                index,
                CacheReplica {
                    address: format!(
                        "{}:{}",
                        f.get("ip").copied().unwrap_or("?"),
                        f.get("port").copied().unwrap_or("?")
                    ),
                    state: f.get("state").copied().unwrap_or("?").to_owned(),
                    offset: replica_offset,
                    lag_bytes: offset.saturating_sub(replica_offset),
                    lag_secs: f.get("lag").and_then(|l| l.parse().ok()),
                },
            ))
        })
        .collect();
    replicas.sort_by_key(|(i, _)| *i);
    let role = map.get("role").copied().unwrap_or("unknown");
    let replica = role == "slave";
    Info {
        run_id: map.get("run_id").copied().unwrap_or_default().to_owned(),
        role: if replica { "replica" } else { role }.to_owned(),
        connected_clients: small("connected_clients"),
        blocked_clients: small("blocked_clients"),
        used_memory: num("used_memory"),
        maxmemory: num("maxmemory"),
        maxmemory_policy: map
            .get("maxmemory_policy")
            .copied()
            .unwrap_or("?")
            .to_owned(),
        fragmentation_ratio: map
            .get("mem_fragmentation_ratio")
            .and_then(|v| v.parse().ok()),
        total_commands: num("total_commands_processed"),
        keyspace_hits: num("keyspace_hits"),
        keyspace_misses: num("keyspace_misses"),
        evicted_keys: num("evicted_keys"),
        expired_keys: num("expired_keys"),
        cluster_enabled: num("cluster_enabled") == 1,
        keys_per_db,
        replication: CacheReplication {
            offset: if replica {
                num("slave_repl_offset").max(offset)
            } else {
                offset
            },
            master: replica.then(|| {
                format!(
                    "{}:{}",
                    map.get("master_host").copied().unwrap_or("?"),
                    map.get("master_port").copied().unwrap_or("?")
                )
            }),
            master_link_up: replica.then(|| map.get("master_link_status") == Some(&"up")),
            replicas: replicas.into_iter().map(|(_, r)| r).collect(),
        },
    }
}

/// `keys=1,expires=0,avg_ttl=0` → map.
fn fields(v: &str) -> HashMap<&str, &str> {
    v.split(',').filter_map(|kv| kv.split_once('=')).collect()
}

/// Per-second change of a counter, 0 when it went backwards (restart) or no time passed.
fn rate(now: u64, before: u64, secs: f64) -> f64 {
    if secs <= 0.0 || now < before {
        0.0
    } else {
        (now - before) as f64 / secs
    }
}

/// The cache node as shown: counters turned into rates over `secs` since `prev` (the previous
/// poll of the same server run). Without a previous poll, the hit ratio is the one since start
/// and the rates are zero.
pub fn node(name: &str, now: &Info, prev: Option<&Info>, secs: f64) -> CacheNode {
    let prev = prev.filter(|p| p.run_id == now.run_id && secs > 0.0);
    let (hit_ratio, ops, evictions, expired) = match prev {
        Some(p) => {
            let hits = now.keyspace_hits.saturating_sub(p.keyspace_hits);
            let misses = now.keyspace_misses.saturating_sub(p.keyspace_misses);
            (
                ratio(hits, misses),
                rate(now.total_commands, p.total_commands, secs),
                rate(now.evicted_keys, p.evicted_keys, secs),
                rate(now.expired_keys, p.expired_keys, secs),
            )
        }
        None => (ratio(now.keyspace_hits, now.keyspace_misses), 0.0, 0.0, 0.0),
    };
    CacheNode {
        name: name.to_owned(),
        role: now.role.clone(),
        hit_ratio,
        used_memory_bytes: now.used_memory,
        max_memory_bytes: now.maxmemory,
        eviction_policy: now.maxmemory_policy.clone(),
        evictions_per_sec: evictions,
        ops_per_sec: ops,
        connected_clients: now.connected_clients,
        expired_per_sec: expired,
        fragmentation_ratio: now.fragmentation_ratio,
        blocked_clients: now.blocked_clients,
        keys_per_db: now.keys_per_db.clone(),
        replication: Some(now.replication.clone()),
        cluster: None,
        error: None,
        queue_store: false,
    }
}

fn ratio(hits: u64, misses: u64) -> Option<f64> {
    let total = hits + misses;
    (total > 0).then(|| hits as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\n\r\n# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n# Memory\r\nused_memory:900\r\nmaxmemory:1000\r\nmaxmemory_policy:allkeys-lru\r\nmem_fragmentation_ratio:1.52\r\n# Stats\r\ntotal_commands_processed:100\r\nkeyspace_hits:30\r\nkeyspace_misses:10\r\nevicted_keys:5\r\nexpired_keys:2\r\n# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=7001,state=online,offset=90,lag=1\r\nmaster_repl_offset:100\r\n# Cluster\r\ncluster_enabled:0\r\n# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0\r\ndb3:keys=1,expires=1,avg_ttl=5\r\n";

    #[test]
    fn parses_info_and_derives_rates() {
        let a = parse(MASTER);
        assert_eq!(a.role, "master");
        assert_eq!(a.keys_per_db, vec![(0, 12), (3, 1)]);
        assert_eq!(a.replication.replicas[0].address, "127.0.0.1:7001");
        assert_eq!(a.replication.replicas[0].lag_bytes, 10);
        assert_eq!(a.fragmentation_ratio, Some(1.52));
        let first = node("n", &a, None, 0.0);
        assert_eq!(first.hit_ratio, Some(0.75));
        assert_eq!(first.ops_per_sec, 0.0);
        let mut b = a.clone();
        b.total_commands = 300;
        b.keyspace_hits = 39;
        b.keyspace_misses = 11;
        b.evicted_keys = 25;
        let n = node("n", &b, Some(&a), 2.0);
        assert_eq!(n.hit_ratio, Some(0.9));
        assert_eq!(n.ops_per_sec, 100.0);
        assert_eq!(n.evictions_per_sec, 10.0);
        assert_eq!(n.memory_percent(), Some(90.0));
        // A restart (new run id) starts over instead of producing negative rates.
        b.run_id = "other".into();
        assert_eq!(node("n", &b, Some(&a), 2.0).ops_per_sec, 0.0);
    }

    #[test]
    fn parses_replica() {
        let r = parse(
            "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:7000\r\nmaster_link_status:up\r\nslave_repl_offset:77\r\nmaster_repl_offset:77\r\n",
        );
        assert_eq!(r.role, "replica");
        assert_eq!(r.replication.master.as_deref(), Some("127.0.0.1:7000"));
        assert_eq!(r.replication.master_link_up, Some(true));
        assert_eq!(r.replication.offset, 77);
    }
}
