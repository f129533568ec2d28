//! Planning the promotion of a MySQL/MariaDB replica: the exact statements as the equivalent
//! command, guards in words (another writable server, threads, relay backlog, lag, a GTID gap
//! against the last known source position), and the facts the re-check compares.

use super::plan::{FleetView, Guard, Plan, PlanPolicy, unknown_target};
use super::recheck::Fact;
use crate::connectors::mysql::gtid::missing;
use crate::model::action::Action;
use crate::model::mysql::{MysqlServer, MysqlSnapshot};

/// The statements as one line a user could type, connected to `server`: stop receiving, wait
/// (bounded) for what was received to be applied, then stop, reset and accept writes. The
/// `<…>` in the wait are the replica-status columns read after the IO thread stopped.
pub fn promote_command(server: &MysqlServer) -> String {
    let (host, port) = server
        .address
        .rsplit_once(':')
        .unwrap_or((server.address.as_str(), "3306"));
    let version = server.version.as_deref().unwrap_or_default();
    let flavor = server.flavor;
    let mut sql: Vec<String> = vec![flavor.stop_io_statement(version).to_string()];
    if let Some(r) = &server.replica {
        sql.push(flavor.wait_statement(version, &r.received_target(flavor, false)));
    }
    sql.extend(
        flavor
            .promote_statements(version)
            .iter()
            .map(|s| (*s).to_string()),
    );
    format!(
        "{} -h {host} -P {port} -u {} -p -e \"{};\"",
        server.flavor.client(),
        if server.user.is_empty() {
            "root"
        } else {
            &server.user
        },
        sql.join("; ")
    )
}

fn fence_advice(s: &MysqlServer) -> String {
    let (host, port) = s
        .address
        .rsplit_once(':')
        .unwrap_or((s.address.as_str(), "3306"));
    format!(
        "Fence {name} first: `{client} -h {host} -P {port} -e \"{fence}\"` (users with SUPER \
         still write; stopping it is surer: `mysqladmin -h {host} -P {port} shutdown`, or stop \
         its service on its host), or block it at the load balancer or proxy.",
        name = s.name,
        client = s.flavor.client(),
        fence = s.flavor.fence_statement(),
    )
}

pub fn plan_promote(
    action: &Action,
    endpoint: &str,
    cluster: &str,
    replica: &str,
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let Some(db) = fleet.mysql(endpoint) else {
        return unknown_target(
            action,
            policy,
            format!("MySQL cluster {cluster} has not been seen yet."),
        );
    };
    let mut guards = Vec::new();
    let candidate = db.servers.iter().find(|s| s.name == replica);
    match candidate {
        None => guards.push(Guard::refuse(format!(
            "{replica} is not part of {cluster} (servers: {}).",
            db.servers
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Some(c) if !c.reachable => guards.push(Guard::refuse(format!(
            "{replica} does not answer{}: a server that cannot be reached cannot be promoted.",
            c.error
                .as_deref()
                .map_or(String::new(), |e| format!(" ({e})"))
        ))),
        Some(c) => candidate_guards(db, c, &mut guards),
    }
    // What Scaleboard cannot reach may still be up for the applications (a network split).
    for other in db
        .servers
        .iter()
        .filter(|s| s.name != replica && !s.reachable)
    {
        guards.push(Guard::warn(format!(
            "{} does not answer{}: make sure it is down or fenced before {replica} takes              writes (a server Scaleboard cannot reach may still reach its clients).",
            other.name,
            other
                .error
                .as_deref()
                .map_or(String::new(), |e| format!(" ({e})"))
        )));
    }
    for other in db
        .servers
        .iter()
        .filter(|s| s.name != replica && s.writable())
    {
        guards.push(Guard::refuse(format!(
            "{} still answers and accepts writes (read_only OFF): promoting {replica} now would \
             leave two writable servers, and the writes they split can not be merged. {} \
             Force this only once it is fenced.",
            other.name,
            fence_advice(other)
        )));
    }
    let command = match candidate {
        Some(c) => promote_command(c),
        None => String::new(),
    };
    Plan {
        action: action.clone(),
        title: format!("Promote {replica} in {cluster}"),
        before: before(db, replica),
        after: format!(
            "{replica}: source, read_only OFF, no replica configuration (its IO thread is \
             stopped first and what it received is applied, waiting at most {} s — else \
             nothing is reset; then the replica threads are stopped and their settings \
             cleared)",
            crate::model::mysql::CATCH_UP_WAIT_SECONDS
        ),
        command,
        guards,
        dangerous: true,
        alternative: None,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

fn candidate_guards(db: &MysqlSnapshot, c: &MysqlServer, guards: &mut Vec<Guard>) {
    let name = &c.name;
    let Some(r) = &c.replica else {
        guards.push(Guard::refuse(format!(
            "{name} has no replica configuration: it is already a source{}.",
            if c.writable() {
                " and accepts writes"
            } else {
                " (read-only); turn read_only off by hand if that is what you want"
            }
        )));
        return;
    };
    let keyword = c
        .flavor
        .replica_keyword(c.version.as_deref().unwrap_or_default());
    // An IO thread that is connected proves its source is up, even when Scaleboard cannot
    // reach it (a network split): promoting now makes two sources. Skipped when that source
    // is a profile server seen writable: the guard below already refuses for it.
    let source_seen_writable = db
        .servers
        .iter()
        .any(|s| s.name != *name && s.writable() && s.address == r.source);
    if r.io_running() && !source_seen_writable {
        guards.push(Guard::refuse(format!(
            "{name} is still connected to its source {source}: that source is alive — fence or \
             stop it first (`SET GLOBAL read_only=ON` or stop the server on {source}; a \
             network split can hide it from Scaleboard while {name} still reaches it), or \
             stop {name}'s IO thread (STOP {keyword} IO_THREAD) if you are sure, then plan \
             again.",
            source = r.source,
        )));
    }
    // Received but not applied: by GTID when both positions are known, else by file/offset.
    let backlog = match (c.received_position(), c.applied_position()) {
        (Some(recv), Some(applied)) => missing(c.flavor, recv, applied).map(|g| (g, recv, applied)),
        _ => None,
    };
    let waiting = match &backlog {
        Some((g, _, _)) => g.transactions > 0,
        None => r.relay_behind_by_position(),
    };
    // A stopped SQL thread matters only for what it has not applied: after a promotion that
    // stopped half-way everything received may well be applied, and saying otherwise is false.
    if !r.sql_running {
        let error = r
            .last_sql_error
            .as_deref()
            .map_or(String::new(), |e| format!(" ({e})"));
        if waiting {
            guards.push(Guard::refuse(format!(
                "The SQL thread of {name} is stopped{error}: what it received is not applied. \
                 Start it (START {keyword} SQL_THREAD), let it catch up, then plan again."
            )));
        } else {
            guards.push(Guard::warn(format!(
                "The SQL thread of {name} is stopped{error}, but everything it received is \
                 applied{}.",
                match (c.received_position(), c.applied_position()) {
                    (Some(recv), Some(applied)) => format!(" (received {recv}, applied {applied})"),
                    _ => format!(
                        " (read up to {}:{}, executed up to {}:{})",
                        r.read_log_file, r.read_log_pos, r.exec_log_file, r.exec_log_pos
                    ),
                }
            )));
        }
    }
    grant_guards(c, guards);
    match backlog {
        Some((g, recv, applied)) if g.transactions > 0 => guards.push(Guard::refuse(format!(
            "{name}'s relay log is not fully applied: received {recv}, applied {applied} \
             ({} transaction{} waiting: {}). Promoting now would drop them.",
            g.transactions,
            if g.transactions == 1 { "" } else { "s" },
            g.named
        ))),
        None if r.relay_behind_by_position() => guards.push(Guard::refuse(format!(
            "{name}'s relay log is not fully applied: read up to {}:{}, executed up to {}:{}.",
            r.read_log_file, r.read_log_pos, r.exec_log_file, r.exec_log_pos
        ))),
        _ => {}
    }
    let limit = db.max_failover_lag_seconds;
    match c.lag_seconds {
        Some(lag) if lag > limit as f64 => guards.push(Guard::refuse(format!(
            "{name} is {lag:.0} s behind its source, more than the maximum failover lag of \
             {limit} s."
        ))),
        Some(lag) => guards.push(Guard::pass(format!(
            "{name} is {lag:.0} s behind its source (limit {limit} s)."
        ))),
        None if r.sql_running => guards.push(Guard::warn(format!(
            "Seconds behind the source is unknown on {name} (NULL: the IO thread is {}); the \
             positions below are what counts.",
            r.io_running
        ))),
        None => {}
    }
    // The GTID gap against the source, or its last known position when it is gone.
    match (&db.last_source_position, c.applied_position()) {
        (Some(src), Some(applied)) => match missing(c.flavor, src, applied) {
            Some(g) if g.transactions > 0 => guards.push(Guard::refuse(format!(
                "GTID gap: the last known source position {src} holds {} transaction{} that \
                 {name} has not applied ({}): promoting it would lose them.",
                g.transactions,
                if g.transactions == 1 { "" } else { "s" },
                g.named
            ))),
            Some(_) => guards.push(Guard::pass(format!(
                "{name} has applied everything the last known source position {src} holds \
                 (applied {applied})."
            ))),
            None => guards.push(Guard::warn(format!(
                "The positions {src} and {applied} could not be compared."
            ))),
        },
        _ => guards.push(Guard::warn(format!(
            "No source GTID position was ever seen, so what {name} may miss is unknown."
        ))),
    }
    if let Some(e) = &r.last_io_error {
        guards.push(Guard::warn(format!(
            "{name}'s IO thread reports: {e} (expected when its source is down)."
        )));
    }
}

/// Every privilege the whole promotion needs, checked before its first write: a missing one
/// would stop it half-way (MariaDB 10.11 refuses `RESET SLAVE ALL` without RELOAD after
/// `STOP SLAVE` has run).
fn grant_guards(c: &MysqlServer, guards: &mut Vec<Guard>) {
    let name = &c.name;
    let user = if c.user.is_empty() { "root" } else { &c.user };
    let version = c.version.as_deref().unwrap_or_default();
    let Some(grants) = &c.grants else {
        guards.push(Guard::warn(format!(
            "The privileges of {user} on {name} could not be read (SHOW GRANTS did not \
             answer): a missing one would stop the promotion half-way (it needs {}).",
            needs_text(c)
        )));
        return;
    };
    let missing = crate::connectors::mysql::grants::missing(c.flavor, version, grants);
    if missing.is_empty() {
        guards.push(Guard::pass(format!(
            "{user} has the privileges the promotion needs on {name} ({}).",
            needs_text(c)
        )));
        return;
    }
    let words: Vec<String> = missing.iter().map(|n| n.missing_text(c.flavor)).collect();
    if grants.via_roles {
        guards.push(Guard::warn(format!(
            "SHOW GRANTS for {user} on {name} does not list everything the promotion needs \
             ({}); it also has roles, which may grant them. Check before you confirm.",
            words.join("; ")
        )));
    } else {
        guards.push(Guard::refuse(format!(
            "{user} on {name}: {}. Nothing would be run: grant it first (GRANT … ON *.* TO \
             the user), then plan again.",
            words.join("; ")
        )));
    }
}

fn needs_text(c: &MysqlServer) -> String {
    crate::connectors::mysql::grants::promotion_needs(
        c.flavor,
        c.version.as_deref().unwrap_or_default(),
    )
    .iter()
    .map(|n| format!("{}: {}", n.statement, n.privileges(c.flavor)))
    .collect::<Vec<_>>()
    .join("; ")
}

/// The topology kept in the plan and the audit record as "before".
fn before(db: &MysqlSnapshot, replica: &str) -> String {
    let mut lines = vec![format!(
        "last known source position {}",
        db.last_source_position.as_deref().unwrap_or("unknown")
    )];
    for s in &db.servers {
        let mark = if s.name == replica { "-> " } else { "   " };
        let state = if !s.reachable {
            format!(
                "unreachable{}",
                s.error
                    .as_deref()
                    .map_or(String::new(), |e| format!(": {e}"))
            )
        } else if let Some(r) = &s.replica {
            format!(
                "replica of {}, IO {}, SQL {}, lag {}, applied {}",
                r.source,
                r.io_running,
                if r.sql_running { "Yes" } else { "No" },
                s.lag_text(),
                s.applied_position().unwrap_or("?")
            )
        } else {
            format!(
                "SOURCE, read_only {}, at {}",
                if s.read_only { "ON" } else { "OFF" },
                s.applied_position().unwrap_or("?")
            )
        };
        if s.reachable {
            lines.push(format!("{mark}{} ({}): {state}", s.name, s.flavor.label()));
        } else {
            lines.push(format!("{mark}{}: {state}", s.name));
        }
    }
    lines.join("\n")
}

/// What the promotion's verdict rests on: compared right before the write.
pub fn facts(replica: &str, db: Option<&MysqlSnapshot>, out: &mut Vec<Fact>) {
    let Some(db) = db else {
        out.push(Fact {
            what: "MySQL cluster".into(),
            value: "not seen".into(),
        });
        return;
    };
    let mut writable: Vec<&str> = db.writable().map(|s| s.name.as_str()).collect();
    writable.sort_unstable();
    let mut fact = |what: String, value: String| out.push(Fact { what, value });
    fact(
        "servers accepting writes".into(),
        if writable.is_empty() {
            "none".into()
        } else {
            writable.join(", ")
        },
    );
    let Some(c) = db.servers.iter().find(|s| s.name == replica) else {
        fact(replica.into(), "not part of the cluster".into());
        return;
    };
    let state = match (&c.replica, c.reachable) {
        (_, false) => "unreachable".to_string(),
        (None, true) => "no replica configuration".to_string(),
        (Some(r), true) => format!(
            "IO thread {}, SQL thread {}",
            r.io_running,
            if r.sql_running { "Yes" } else { "No" }
        ),
    };
    fact(format!("replica threads of {replica}"), state);
    // Positions only matter (and only hold still) when no other server takes writes.
    if c.reachable && writable.iter().all(|w| *w == replica) {
        fact(
            format!("applied position of {replica}"),
            c.applied_position().unwrap_or("none").to_string(),
        );
        if let Some(recv) = c.received_position() {
            fact(format!("received position of {replica}"), recv.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mysql::{MysqlFlavor, ReplicaStatus};
    use crate::model::snapshot::{DatabaseSnapshot, DbRole, Workload, WorkloadRef};

    struct One(MysqlSnapshot);

    impl FleetView for One {
        fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
            None
        }
        fn database(&self, _: &str) -> Option<&DatabaseSnapshot> {
            None
        }
        fn mysql(&self, _: &str) -> Option<&MysqlSnapshot> {
            Some(&self.0)
        }
    }

    fn mysql8(name: &str, executed: &str, replica: Option<ReplicaStatus>) -> MysqlServer {
        MysqlServer {
            name: name.into(),
            address: format!("{name}:3306"),
            user: "admin".into(),
            reachable: true,
            flavor: MysqlFlavor::MySql,
            version: Some("8.0.36".into()),
            read_only: replica.is_some(),
            super_read_only: Some(replica.is_some()),
            role: if replica.is_some() {
                DbRole::Replica
            } else {
                DbRole::Primary
            },
            gtid_executed: Some(executed.into()),
            replica,
            max_connections: 100,
            ..MysqlServer::default()
        }
    }

    fn policy() -> PlanPolicy {
        PlanPolicy {
            profile: "p".into(),
            read_only: false,
            max_failover_lag_bytes: 0,
            kube_context: None,
            patroni_links: Vec::new(),
        }
    }

    fn action() -> Action {
        Action::PromoteMysqlReplica {
            endpoint: "e".into(),
            cluster: "c".into(),
            replica: "db2".into(),
        }
    }

    fn reasons_at(plan: &Plan, level: super::super::GuardLevel) -> Vec<String> {
        plan.guards
            .iter()
            .filter(|g| g.level == level)
            .map(|g| g.reason.clone())
            .collect()
    }

    #[test]
    fn mysql8_promotion_shows_replica_statements_and_names_a_gtid_gap() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let db = MysqlSnapshot {
            cluster: "c".into(),
            servers: vec![
                MysqlServer {
                    reachable: false,
                    error: Some("connection refused".into()),
                    ..mysql8("db1", "", None)
                },
                mysql8(
                    "db2",
                    &format!("{u}:1-90"),
                    Some(ReplicaStatus {
                        io_running: "Connecting".into(),
                        sql_running: true,
                        retrieved_gtid_set: Some(format!("{u}:1-90")),
                        ..ReplicaStatus::default()
                    }),
                ),
            ],
            last_source_position: Some(format!("{u}:1-100")),
            max_failover_lag_seconds: 5,
        };
        let plan = super::super::plan::plan(action(), &One(db.clone()), &policy());
        assert_eq!(
            plan.command,
            "mysql -h db2 -P 3306 -u admin -p -e \"STOP REPLICA IO_THREAD; SELECT \
             WAIT_FOR_EXECUTED_GTID_SET('<Retrieved_Gtid_Set>', 10); STOP REPLICA; RESET \
             REPLICA ALL; SET GLOBAL super_read_only=OFF; SET GLOBAL read_only=OFF;\""
        );
        let refused: Vec<&str> = plan
            .guards
            .iter()
            .filter(|g| g.level == super::super::GuardLevel::Refuse)
            .map(|g| g.reason.as_str())
            .collect();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].contains("10 transactions") && refused[0].contains(&format!("{u}:91-100")),
            "{refused:?}"
        );
        assert!(
            reasons_at(&plan, super::super::GuardLevel::Warn)
                .iter()
                .any(|w| w.starts_with(
                    "db1 does not answer (connection refused): make sure it \
                                        is down or fenced"
                )),
            "{:#?}",
            plan.guards
        );
        // MySQL before 8.0.22 knows only the SLAVE statements.
        let mut old = db.clone();
        old.servers[1].version = Some("8.0.21".into());
        let plan = super::super::plan::plan(action(), &One(old), &policy());
        assert!(
            plan.command.contains(
                "STOP SLAVE IO_THREAD; SELECT WAIT_FOR_EXECUTED_GTID_SET('<Retrieved_Gtid_Set>', \
                 10); STOP SLAVE; RESET SLAVE ALL;"
            ),
            "{}",
            plan.command
        );
        // Connected to its source (IO thread Yes) while no profile server is writable: that
        // source is alive somewhere Scaleboard cannot see.
        let mut split = db.clone();
        split.last_source_position = Some(format!("{u}:1-90"));
        if let Some(r) = split.servers[1].replica.as_mut() {
            r.io_running = "Yes".into();
            r.source = "10.0.0.9:3306".into();
        }
        let plan = super::super::plan::plan(action(), &One(split), &policy());
        let refused = reasons_at(&plan, super::super::GuardLevel::Refuse);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].starts_with(
                "db2 is still connected to its source 10.0.0.9:3306: that source is alive — \
                 fence or stop it first"
            ),
            "{refused:?}"
        );
        // A caught-up candidate with the source gone passes, and its positions are facts.
        let mut caught_up = db;
        caught_up.last_source_position = Some(format!("{u}:1-90"));
        let plan = super::super::plan::plan(action(), &One(caught_up), &policy());
        assert!(!plan.refused(), "{:#?}", plan.guards);
        let facts: Vec<String> = plan
            .observed
            .iter()
            .map(|f| format!("{}={}", f.what, f.value))
            .collect();
        assert!(
            facts.contains(&"servers accepting writes=none".to_string()),
            "{facts:?}"
        );
        assert!(
            facts.contains(&"replica threads of db2=IO thread Connecting, SQL thread Yes".into()),
            "{facts:?}"
        );
        assert!(
            facts.contains(&format!("applied position of db2={u}:1-90")),
            "{facts:?}"
        );
    }
}
