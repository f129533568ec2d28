//! GTID positions of both families, compared: which transactions one position holds that another
//! does not, counted and named (the "GTID gap" a promotion would lose).
//!
//! - MariaDB: a list of `domain-server-seq`, one per replication domain; with
//!   `gtid_strict_mode` a domain's sequence numbers only grow, so the gap in a domain is the
//!   sequence numbers between the two positions.
//! - MySQL: a set `uuid[:tag]:a-b:c,uuid2:…` (newlines allowed); the gap is the set difference.

use crate::model::mysql::MysqlFlavor;
use std::collections::BTreeMap;

/// Transactions in one position that another lacks.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Gap {
    pub transactions: u64,
    /// The missing transactions in the family's own notation (`0-1-10..0-1-12`, `uuid:10-12`).
    pub named: String,
}

/// The transactions `ahead` holds that `behind` does not. Unparsable text gives `None`.
pub fn missing(flavor: MysqlFlavor, ahead: &str, behind: &str) -> Option<Gap> {
    match flavor {
        MysqlFlavor::MariaDb => mariadb_missing(ahead, behind),
        MysqlFlavor::MySql => mysql_missing(ahead, behind),
    }
}

/// domain -> (server, seq).
fn parse_mariadb(text: &str) -> Option<BTreeMap<u32, (u32, u64)>> {
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split('-');
        let domain = it.next()?.parse().ok()?;
        let server = it.next()?.parse().ok()?;
        let seq = it.next()?.parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        out.insert(domain, (server, seq));
    }
    Some(out)
}

fn mariadb_missing(ahead: &str, behind: &str) -> Option<Gap> {
    let a = parse_mariadb(ahead)?;
    let b = parse_mariadb(behind)?;
    let mut gap = Gap::default();
    let mut names = Vec::new();
    for (domain, (server, seq)) in &a {
        let have = b.get(domain).map_or(0, |(_, s)| *s);
        if *seq > have {
            gap.transactions += seq - have;
            if seq - have == 1 {
                names.push(format!("{domain}-{server}-{seq}"));
            } else {
                names.push(format!(
                    "{domain}-{server}-{}..{domain}-{server}-{seq}",
                    have + 1
                ));
            }
        }
    }
    gap.named = names.join(", ");
    Some(gap)
}

type Intervals = Vec<(u64, u64)>;

/// `uuid[:tag]` -> sorted, merged inclusive intervals.
fn parse_mysql(text: &str) -> Option<BTreeMap<String, Intervals>> {
    let mut out: BTreeMap<String, Intervals> = BTreeMap::new();
    for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let mut parts = member.split(':');
        let uuid = parts.next()?.trim().to_ascii_lowercase();
        let mut key = uuid.clone();
        for p in parts {
            let p = p.trim();
            if p.starts_with(|c: char| c.is_ascii_digit()) {
                let (lo, hi) = match p.split_once('-') {
                    Some((l, h)) => (l.parse().ok()?, h.parse().ok()?),
                    None => {
                        let n = p.parse().ok()?;
                        (n, n)
                    }
                };
                out.entry(key.clone()).or_default().push((lo, hi));
            } else {
                key = format!("{uuid}:{p}");
            }
        }
    }
    for list in out.values_mut() {
        list.sort_unstable();
        let mut merged: Intervals = Vec::with_capacity(list.len());
        for &(lo, hi) in list.iter() {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        *list = merged;
    }
    Some(out)
}

/// `a` minus `b`, both sorted and merged.
fn subtract(a: &[(u64, u64)], b: &[(u64, u64)]) -> Intervals {
    let mut out = Vec::new();
    for &(lo, hi) in a {
        let mut start = lo;
        for &(blo, bhi) in b {
            if bhi < start || blo > hi {
                continue;
            }
            if blo > start {
                out.push((start, blo - 1));
            }
            start = bhi.saturating_add(1);
            if start > hi {
                break;
            }
        }
        if start <= hi {
            out.push((start, hi));
        }
    }
    out
}

fn mysql_missing(ahead: &str, behind: &str) -> Option<Gap> {
    let a = parse_mysql(ahead)?;
    let b = parse_mysql(behind)?;
    let mut gap = Gap::default();
    let mut names = Vec::new();
    for (key, intervals) in &a {
        let rest = subtract(intervals, b.get(key).map_or(&[][..], Vec::as_slice));
        if rest.is_empty() {
            continue;
        }
        let mut text = key.clone();
        for (lo, hi) in &rest {
            gap.transactions += hi - lo + 1;
            if lo == hi {
                text.push_str(&format!(":{lo}"));
            } else {
                text.push_str(&format!(":{lo}-{hi}"));
            }
        }
        names.push(text);
    }
    gap.named = names.join(", ");
    Some(gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_gap_per_domain_is_named() {
        let g = missing(MysqlFlavor::MariaDb, "0-1-12,1-2-5", "0-1-9,1-2-5").unwrap();
        assert_eq!(g.transactions, 3);
        assert_eq!(g.named, "0-1-10..0-1-12");
        let none = missing(MysqlFlavor::MariaDb, "0-1-9", "0-1-9").unwrap();
        assert_eq!(none.transactions, 0);
        let new_domain = missing(MysqlFlavor::MariaDb, "0-1-3,2-7-1", "0-1-3").unwrap();
        assert_eq!(new_domain.named, "2-7-1");
        assert!(missing(MysqlFlavor::MariaDb, "garbage", "").is_none());
        assert_eq!(
            missing(MysqlFlavor::MariaDb, "", "").unwrap().transactions,
            0
        );
    }

    #[test]
    fn mysql_gap_is_the_set_difference() {
        let u = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
        let ahead = format!("{u}:1-10:12,\nabc:tag:1-2");
        let behind = format!("{}:1-5:7", u.to_lowercase());
        let g = missing(MysqlFlavor::MySql, &ahead, &behind).unwrap();
        assert_eq!(g.transactions, 4 + 1 + 2);
        assert_eq!(
            g.named,
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:6:8-10:12, abc:tag:1-2"
        );
        assert_eq!(
            missing(MysqlFlavor::MySql, &behind, &ahead)
                .unwrap()
                .transactions,
            0
        );
    }
}
