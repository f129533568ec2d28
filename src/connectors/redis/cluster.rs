//! Redis Cluster: which node serves a key (CRC16 of the key or its `{hash tag}`, mod 16384),
//! and what `CLUSTER NODES` / `CLUSTER INFO` say about nodes, slots and failures.

use crate::model::snapshot::CacheCluster;

pub const SLOTS: u16 = 16384;

/// The hash slot of a key, as Redis Cluster computes it.
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|&b| b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    crc16(hashed) % SLOTS
}

/// CRC16-CCITT (XModem), the variant Redis Cluster uses.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One line of `CLUSTER NODES`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterNode {
    /// "host:port" (the client port).
    pub address: String,
    pub master: bool,
    pub failing: bool,
    /// Slot ranges served, inclusive.
    pub slots: Vec<(u16, u16)>,
}

/// Parses `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong>
/// <epoch> <link> <slot> <slot>...`.
pub fn parse_nodes(text: &str) -> Vec<ClusterNode> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let address = f[1].split(['@', ',']).next()?.to_owned();
            let flags: Vec<&str> = f[2].split(',').collect();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(ClusterNode {
                address,
                master: flags.contains(&"master"),
                failing: flags.contains(&"fail") || flags.contains(&"fail?"),
                slots,
            })
        })
        .collect()
}

/// The cluster's health from `CLUSTER INFO` and the node list.
pub fn summary(info: &str, nodes: &[ClusterNode]) -> CacheCluster {
    let field = |k: &str| {
        info.lines()
            .find_map(|l| l.trim_end().strip_prefix(k)?.strip_prefix(':'))
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    };
    CacheCluster {
        state_ok: info.lines().any(|l| l.trim_end() == "cluster_state:ok"),
        slots_ok: field("cluster_slots_ok"),
        slots_assigned: field("cluster_slots_assigned"),
        failing_nodes: nodes
            .iter()
            .filter(|n| n.failing)
            .map(|n| n.address.clone())
            .collect(),
        known_nodes: field("cluster_known_nodes"),
    }
}

/// The address of the master serving `slot`.
pub fn owner(nodes: &[ClusterNode], slot: u16) -> Option<&str> {
    nodes
        .iter()
        .filter(|n| n.master && !n.failing)
        .find(|n| n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
        .map(|n| n.address.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(key_slot("123456789"), 0x31C3 % SLOTS);
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), key_slot("foo{}{bar}"));
    }

    #[test]
    fn parses_nodes_and_info() {
        let nodes = parse_nodes(
            "a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n\
             b 127.0.0.1:7001@17001 master,fail - 0 0 2 disconnected 5461-10922\n\
             c 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383\n",
        );
        assert_eq!(nodes.len(), 3);
        assert_eq!(owner(&nodes, 100), Some("127.0.0.1:7000"));
        assert_eq!(owner(&nodes, 6000), None);
        let s = summary(
            "cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:10922\r\ncluster_known_nodes:3\r\n",
            &nodes,
        );
        assert!(!s.state_ok);
        assert_eq!(s.slots_ok, 10922);
        assert_eq!(s.failing_nodes, vec!["127.0.0.1:7001".to_owned()]);
    }
}
