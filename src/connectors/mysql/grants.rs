//! The login user's global privileges, read with `SHOW GRANTS`, against what a promotion
//! needs, so a missing one refuses the plan before anything is written instead of stopping the
//! promotion half-way (MariaDB 10.11 wants RELOAD for `RESET SLAVE ALL` on top of SUPER).
//!
//! What each statement needs (MariaDB `sql/privilege.h`, MySQL reference manual):
//! - `STOP`/`START SLAVE|REPLICA`: SUPER, or REPLICATION SLAVE ADMIN (MariaDB ≥ 10.5.2) /
//!   REPLICATION_SLAVE_ADMIN (MySQL 8).
//! - `RESET SLAVE|REPLICA ALL`: RELOAD, in both families.
//! - `SET GLOBAL read_only` / `super_read_only`: SUPER or SYSTEM_VARIABLES_ADMIN (MySQL 8);
//!   SUPER or READ_ONLY ADMIN (MariaDB 10.5.2–10.10); READ_ONLY ADMIN alone from MariaDB 10.11
//!   (MDEV-29596 took it out of SUPER; 10.11.19 answers SUPER-only users with error 1227
//!   "you need … the READ_ONLY ADMIN privilege").
//!
//! Only privilege names are kept from the answer: a `SHOW GRANTS` line may carry a password
//! hash, which must never reach a snapshot, a log or the audit.

use crate::model::mysql::{Grants, MysqlFlavor, version_numbers};

/// `SHOW GRANTS` answer lines to the global privileges they name. Lines granting on a database
/// or table are ignored (the replication statements need global privileges); a line granting
/// a role marks that some privileges may come through it.
pub fn parse(lines: &[String]) -> Grants {
    let mut grants = Grants::default();
    for line in lines {
        let Some(rest) = line.trim().strip_prefix("GRANT ") else {
            continue;
        };
        let Some((privileges, target)) = rest.split_once(" ON ") else {
            // `GRANT role TO user`: the role's privileges are not listed here.
            if rest.contains(" TO ") {
                grants.via_roles = true;
            }
            continue;
        };
        let on = target.split(" TO ").next().unwrap_or("").trim();
        if on != "*.*" {
            continue;
        }
        for p in privileges.split(',') {
            let name = normalise(p);
            if !name.is_empty() && !grants.global.contains(&name) {
                grants.global.push(name);
            }
        }
    }
    grants
}

/// `REPLICATION SLAVE ADMIN` and `REPLICATION_SLAVE_ADMIN` alike, upper case; MariaDB's alias
/// `REPLICATION REPLICA ADMIN` is the same privilege.
fn normalise(privilege: &str) -> String {
    let name = privilege
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .to_ascii_uppercase();
    match name.as_str() {
        "REPLICATION_REPLICA_ADMIN" => "REPLICATION_SLAVE_ADMIN".into(),
        "ALL" => "ALL_PRIVILEGES".into(),
        _ => name,
    }
}

/// One step of the promotion and the privileges of which it needs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub statement: String,
    pub any_of: Vec<&'static str>,
}

impl Need {
    /// "RELOAD" or "SUPER or REPLICATION SLAVE ADMIN", as the family spells them.
    pub fn privileges(&self, flavor: MysqlFlavor) -> String {
        self.any_of
            .iter()
            .map(|p| display(flavor, p))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// "missing RELOAD (RESET SLAVE ALL needs it)".
    pub fn missing_text(&self, flavor: MysqlFlavor) -> String {
        format!(
            "missing {} ({} needs {})",
            self.privileges(flavor),
            self.statement,
            if self.any_of.len() == 1 {
                "it"
            } else {
                "one of them"
            }
        )
    }
}

fn display(flavor: MysqlFlavor, privilege: &str) -> String {
    match flavor {
        // MariaDB names them with spaces: `REPLICATION SLAVE ADMIN`, `READ_ONLY ADMIN`.
        MysqlFlavor::MariaDb => match privilege {
            "REPLICATION_SLAVE_ADMIN" => "REPLICATION SLAVE ADMIN".into(),
            "READ_ONLY_ADMIN" => "READ_ONLY ADMIN".into(),
            p => p.to_string(),
        },
        MysqlFlavor::MySql => privilege.to_string(),
    }
}

/// What every statement of the promotion needs, in the order they run. The stop statement
/// also stands for the `START` that undoes it.
pub fn promotion_needs(flavor: MysqlFlavor, version: &str) -> Vec<Need> {
    let keyword = flavor.replica_keyword(version);
    let set_global = match flavor {
        MysqlFlavor::MariaDb if version_numbers(version) >= (10, 11, 0) => vec!["READ_ONLY_ADMIN"],
        MysqlFlavor::MariaDb => vec!["SUPER", "READ_ONLY_ADMIN"],
        MysqlFlavor::MySql => vec!["SUPER", "SYSTEM_VARIABLES_ADMIN"],
    };
    let variables = match flavor {
        MysqlFlavor::MariaDb => "SET GLOBAL read_only=OFF",
        MysqlFlavor::MySql => "SET GLOBAL super_read_only=OFF / read_only=OFF",
    };
    vec![
        Need {
            statement: format!("STOP {keyword}"),
            any_of: vec!["SUPER", "REPLICATION_SLAVE_ADMIN"],
        },
        Need {
            statement: format!("RESET {keyword} ALL"),
            any_of: vec!["RELOAD"],
        },
        Need {
            statement: variables.into(),
            any_of: set_global,
        },
    ]
}

/// The needs `grants` does not cover.
pub fn missing(flavor: MysqlFlavor, version: &str, grants: &Grants) -> Vec<Need> {
    if grants.global.iter().any(|g| g == "ALL_PRIVILEGES") {
        return Vec::new();
    }
    promotion_needs(flavor, version)
        .into_iter()
        .filter(|n| {
            !n.any_of
                .iter()
                .any(|p| grants.global.iter().any(|g| g == p))
        })
        .collect()
}

/// What the statement that was refused needs, in words, for the error: "RESET SLAVE ALL needs
/// RELOAD". `None` for a statement that is not a promotion step.
pub fn requirement(flavor: MysqlFlavor, version: &str, statement: &str) -> Option<String> {
    let upper = statement.to_ascii_uppercase();
    let needs = promotion_needs(flavor, version);
    let need = if upper.starts_with("STOP ") || upper.starts_with("START ") {
        needs.first()
    } else if upper.starts_with("RESET ") {
        needs.get(1)
    } else if upper.starts_with("SET GLOBAL") {
        needs.get(2)
    } else {
        None
    }?;
    Some(format!(
        "{} needs {}",
        need.statement,
        need.privileges(flavor)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|t| (*t).to_string()).collect()
    }

    #[test]
    fn mariadb_super_without_reload_misses_reload_only() {
        let g = parse(&lines(&[
            "GRANT SUPER ON *.* TO `op`@`127.0.0.1` IDENTIFIED BY PASSWORD '*0123456789ABCDEF'",
            "GRANT SELECT, INSERT ON `app`.* TO `op`@`127.0.0.1`",
        ]));
        assert_eq!(g.global, ["SUPER"]);
        assert!(!g.via_roles);
        let texts = |version: &str| -> Vec<String> {
            missing(MysqlFlavor::MariaDb, version, &g)
                .iter()
                .map(|n| n.missing_text(MysqlFlavor::MariaDb))
                .collect()
        };
        assert_eq!(
            texts("10.11.14-MariaDB"),
            [
                "missing RELOAD (RESET SLAVE ALL needs it)",
                "missing READ_ONLY ADMIN (SET GLOBAL read_only=OFF needs it)"
            ]
        );
        // Before 10.11, SUPER still covered read_only.
        assert_eq!(
            texts("10.6.18-MariaDB"),
            ["missing RELOAD (RESET SLAVE ALL needs it)"]
        );
        let fine = parse(&lines(&[
            "GRANT RELOAD, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN ON *.* TO `op`@`%`",
        ]));
        assert!(missing(MysqlFlavor::MariaDb, "10.11.14-MariaDB", &fine).is_empty());
        let all = parse(&lines(&[
            "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
            "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
        ]));
        assert!(missing(MysqlFlavor::MariaDb, "10.11.14-MariaDB", &all).is_empty());
    }

    #[test]
    fn mysql8_dynamic_privileges_and_roles() {
        let g = parse(&lines(&[
            "GRANT RELOAD ON *.* TO `op`@`%`",
            "GRANT REPLICATION_SLAVE_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `op`@`%`",
            "GRANT `dba`@`%` TO `op`@`%`",
        ]));
        assert!(g.via_roles);
        assert!(missing(MysqlFlavor::MySql, "8.0.36", &g).is_empty());
        let none = parse(&lines(&["GRANT USAGE ON *.* TO `op`@`%`"]));
        let texts: Vec<String> = missing(MysqlFlavor::MySql, "8.0.36", &none)
            .iter()
            .map(|n| n.missing_text(MysqlFlavor::MySql))
            .collect();
        assert_eq!(
            texts,
            [
                "missing SUPER or REPLICATION_SLAVE_ADMIN (STOP REPLICA needs one of them)",
                "missing RELOAD (RESET REPLICA ALL needs it)",
                "missing SUPER or SYSTEM_VARIABLES_ADMIN (SET GLOBAL super_read_only=OFF / \
                 read_only=OFF needs one of them)"
            ]
        );
        assert_eq!(
            requirement(MysqlFlavor::MariaDb, "10.11.14", "RESET SLAVE ALL").as_deref(),
            Some("RESET SLAVE ALL needs RELOAD")
        );
        assert_eq!(
            requirement(MysqlFlavor::MariaDb, "10.11.14", "STOP SLAVE IO_THREAD").as_deref(),
            Some("STOP SLAVE needs SUPER or REPLICATION SLAVE ADMIN")
        );
    }
}
