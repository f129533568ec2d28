//! Guards of the action pipeline's planning step, in words, on hand-made snapshots.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use scaleboard::actions::{Action, FleetView, GuardLevel, PlanPolicy, plan};
use scaleboard::model::snapshot::{
    Autoscaler, DatabaseSnapshot, DbRole, DbServer, Workload, WorkloadKind, WorkloadRef,
};

struct Fleet {
    workloads: Vec<Workload>,
    db: Option<DatabaseSnapshot>,
}

impl FleetView for Fleet {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.workloads.iter().find(|w| &w.id == id)
    }
    fn database(&self, _endpoint: &str) -> Option<&DatabaseSnapshot> {
        self.db.as_ref()
    }
}

fn id(name: &str) -> WorkloadRef {
    WorkloadRef {
        endpoint: "prod".into(),
        scope: "nexus".into(),
        name: name.into(),
        kind: WorkloadKind::Deployment,
    }
}

fn workload(name: &str, kind: WorkloadKind, replicas: u32) -> Workload {
    Workload {
        id: WorkloadRef { kind, ..id(name) },
        revision: None,
        resource_version: None,
        stale_since: None,
        desired: replicas,
        ready: replicas,
        available: replicas,
        updated: replicas,
        cpu_percent: Some(50.0),
        memory_percent: Some(40.0),
        autoscaler: None,
        fixed_host_port: None,
        pending_reason: None,
        docker: None,
        scale_denied: None,
        autoscale_denied: None,
    }
}

fn policy(read_only: bool) -> PlanPolicy {
    PlanPolicy {
        profile: "prod".into(),
        read_only,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    }
}

fn reasons(p: &scaleboard::actions::Plan, level: GuardLevel) -> Vec<String> {
    p.guards
        .iter()
        .filter(|g| g.level == level)
        .map(|g| g.reason.clone())
        .collect()
}

#[test]
fn scale_shows_kubectl_line_and_passes() {
    let fleet = Fleet {
        workloads: vec![workload("writer-service", WorkloadKind::Deployment, 3)],
        db: None,
    };
    let p = plan(
        Action::ScaleWorkload {
            workload: id("writer-service"),
            replicas: 5,
        },
        &fleet,
        &policy(false),
    );
    assert_eq!(
        p.command,
        "kubectl --context prod -n nexus scale deployment/writer-service --replicas=5"
    );
    assert!(!p.refused());
    assert_eq!(p.before, "3 replicas (3 ready)");
    assert_eq!(p.after, "5 replicas");
    assert!(p.dangerous, "every manual scale asks for the typed name");
}

#[test]
fn autoscaler_warning_offers_to_edit_the_autoscaler() {
    let mut w = workload("api-gateway", WorkloadKind::Deployment, 3);
    w.autoscaler = Some(Autoscaler {
        name: "api-gateway".into(),
        min_replicas: 2,
        max_replicas: 10,
        target_cpu_percent: 70,
        current_cpu_percent: Some(40.0),
        last_scale_at: None,
        metrics: Vec::new(),
    });
    let fleet = Fleet {
        workloads: vec![w],
        db: None,
    };
    let p = plan(
        Action::ScaleWorkload {
            workload: id("api-gateway"),
            replicas: 6,
        },
        &fleet,
        &policy(false),
    );
    let warns = reasons(&p, GuardLevel::Warn);
    assert!(
        warns.iter().any(|r| r.contains("will undo a manual scale")),
        "{warns:?}"
    );
    let alt = p.alternative.expect("edit-autoscaler alternative");
    assert_eq!(
        alt.action,
        Action::SetAutoscaler {
            workload: id("api-gateway"),
            min_replicas: 6,
            max_replicas: 10,
            target_cpu_percent: 70
        }
    );
}

#[test]
fn fixed_host_port_refuses_a_second_container_and_names_the_port() {
    let mut w = workload("web", WorkloadKind::ComposeService, 1);
    w.fixed_host_port = Some(8080);
    let fleet = Fleet {
        workloads: vec![w],
        db: None,
    };
    let p = plan(
        Action::ScaleWorkload {
            workload: fleet.workloads[0].id.clone(),
            replicas: 2,
        },
        &fleet,
        &policy(false),
    );
    assert!(p.refused());
    assert!(
        reasons(&p, GuardLevel::Refuse)
            .iter()
            .any(|r| r.contains("8080"))
    );
    assert!(
        p.command
            .starts_with("docker compose -p nexus up -d --no-recreate --scale web=2")
    );
}

#[test]
fn read_only_profile_refuses_everything() {
    let fleet = Fleet {
        workloads: vec![workload("writer-service", WorkloadKind::Deployment, 3)],
        db: None,
    };
    let p = plan(
        Action::ScaleWorkload {
            workload: id("writer-service"),
            replicas: 4,
        },
        &fleet,
        &policy(true),
    );
    assert!(p.refused());
    assert!(reasons(&p, GuardLevel::Refuse)[0].contains("read-only"));
}

#[test]
fn typos_and_zero_are_caught() {
    let fleet = Fleet {
        workloads: vec![workload("writer-service", WorkloadKind::Deployment, 3)],
        db: None,
    };
    let huge = plan(
        Action::ScaleWorkload {
            workload: id("writer-service"),
            replicas: 5000,
        },
        &fleet,
        &policy(false),
    );
    assert!(huge.refused());
    let zero = plan(
        Action::ScaleWorkload {
            workload: id("writer-service"),
            replicas: 0,
        },
        &fleet,
        &policy(false),
    );
    assert!(
        reasons(&zero, GuardLevel::Warn)
            .iter()
            .any(|r| r.contains("serve nothing"))
    );
    let jump = plan(
        Action::ScaleWorkload {
            workload: id("writer-service"),
            replicas: 30,
        },
        &fleet,
        &policy(false),
    );
    assert!(
        reasons(&jump, GuardLevel::Warn)
            .iter()
            .any(|r| r.contains("Big jump"))
    );
    let missing = plan(
        Action::ScaleWorkload {
            workload: id("nope"),
            replicas: 2,
        },
        &fleet,
        &policy(false),
    );
    assert!(missing.refused());
}

#[test]
fn autoscaler_ranges_are_validated() {
    let fleet = Fleet {
        workloads: vec![workload("writer-service", WorkloadKind::Deployment, 3)],
        db: None,
    };
    let bad = plan(
        Action::SetAutoscaler {
            workload: id("writer-service"),
            min_replicas: 5,
            max_replicas: 2,
            target_cpu_percent: 70,
        },
        &fleet,
        &policy(false),
    );
    assert!(bad.refused());
    let good = plan(
        Action::SetAutoscaler {
            workload: id("writer-service"),
            min_replicas: 2,
            max_replicas: 10,
            target_cpu_percent: 70,
        },
        &fleet,
        &policy(false),
    );
    assert!(!good.refused());
    assert_eq!(
        good.command,
        "kubectl --context prod -n nexus autoscale deployment/writer-service --cpu-percent=70 --min=2 --max=10"
    );
}

fn server(name: &str, role: DbRole, lsn: u64, reachable: bool) -> DbServer {
    DbServer {
        name: name.into(),
        role,
        reachable,
        in_recovery: role == DbRole::Replica,
        lsn,
        lag_bytes: None,
        lag_seconds: None,
        connections: 10,
        max_connections: 100,
        tps: 0.0,
        size_bytes: 0,
        timeline: Some(1),
        ..DbServer::default()
    }
}

#[test]
fn promotion_refuses_lagging_replicas_and_live_primaries() {
    let promote = |replica: &str| Action::PromoteReplica {
        endpoint: "pg".into(),
        cluster: "orders".into(),
        replica: replica.into(),
    };
    let db = DatabaseSnapshot {
        cluster: "orders".into(),
        servers: vec![
            server("main", DbRole::Primary, 100 << 20, false),
            server("close", DbRole::Replica, (100 << 20) - 1000, true),
            server("far", DbRole::Replica, 90 << 20, true),
        ],
        // The primary is down: the connector remembers where it was last seen.
        last_primary_lsn: Some(100 << 20),
        ..DatabaseSnapshot::default()
    };
    let fleet = Fleet {
        workloads: vec![],
        db: Some(db.clone()),
    };
    // Primary down, candidate close behind: allowed.
    let ok = plan(promote("close"), &fleet, &policy(false));
    assert!(!ok.refused(), "{:?}", ok.guards);
    assert!(ok.dangerous);
    // 10 MiB behind with a 1 MiB limit: refused, naming the lag.
    let far = plan(promote("far"), &fleet, &policy(false));
    assert!(
        reasons(&far, GuardLevel::Refuse)
            .iter()
            .any(|r| r.contains("10.0 MiB behind")),
        "{:?}",
        far.guards
    );
    // The old primary still answers: two primaries would accept writes.
    let mut live = db;
    live.servers[0].reachable = true;
    let fleet = Fleet {
        workloads: vec![],
        db: Some(live),
    };
    let split = plan(promote("close"), &fleet, &policy(false));
    assert!(split.refused());
    assert!(
        reasons(&split, GuardLevel::Refuse)
            .iter()
            .any(|r| r.contains("two primaries"))
    );
}

#[test]
fn bulk_scale_of_a_large_namespace_stays_readable_and_refuses_bad_targets() {
    let mut workloads: Vec<Workload> = (0..2_000)
        .map(|i| workload(&format!("svc-{i:04}"), WorkloadKind::Deployment, 2))
        .collect();
    workloads.push(workload("web", WorkloadKind::ComposeService, 1));
    let fleet = Fleet {
        workloads,
        db: None,
    };
    let targets: Vec<(WorkloadRef, u32)> = (0..2_000)
        .map(|i| (id(&format!("svc-{i:04}")), 0))
        .collect();
    let action = Action::ScaleWorkloads {
        endpoint: "prod".into(),
        targets: targets.clone(),
    };
    assert_eq!(action.target_name(), "nexus");
    let p = plan(action, &fleet, &policy(false));
    assert!(!p.refused(), "{:?}", p.guards);
    assert!(p.dangerous);
    assert!(p.title.ends_with("and 1994 more"), "{}", p.title);
    // Every workload is in before/after (and so in the audit record).
    assert_eq!(p.before.matches(", ").count(), 1_999);
    assert!(
        p.after.starts_with("svc-0000 0, svc-0001 0"),
        "{}",
        &p.after[..40]
    );
    let warn = reasons(&p, GuardLevel::Warn);
    assert!(
        warn.iter()
            .any(|r| r.contains("stops every replica of 2000 workload(s)")
                && r.ends_with("and 1990 more. They will serve nothing.")),
        "{warn:?}"
    );
    assert_eq!(
        p.command,
        "kubectl --context prod -n nexus scale deployment ".to_string()
            + &(0..2_000)
                .map(|i| format!("svc-{i:04}"))
                .collect::<Vec<_>>()
                .join(" ")
            + " --replicas=0"
    );
    // A duplicate, a Compose service and an unknown name are each refused by name.
    let mut bad = targets[..2].to_vec();
    bad.push(targets[0].clone());
    let web = WorkloadRef {
        kind: WorkloadKind::ComposeService,
        ..id("web")
    };
    bad.push((web, 0));
    bad.push((id("ghost"), 0));
    let p = plan(
        Action::ScaleWorkloads {
            endpoint: "prod".into(),
            targets: bad,
        },
        &fleet,
        &policy(false),
    );
    let refused = reasons(&p, GuardLevel::Refuse);
    assert!(
        refused
            .iter()
            .any(|r| r == "nexus/deployment/svc-0000 is listed twice."),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.contains("nexus/service/web is a Compose service")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r == "nexus/deployment/ghost is not in the latest snapshot."),
        "{refused:?}"
    );
    // Read-only profiles refuse it like any other action.
    let p = plan(
        Action::ScaleWorkloads {
            endpoint: "prod".into(),
            targets,
        },
        &fleet,
        &policy(true),
    );
    assert!(p.refused());
}

/// One replica is "1 replica", in the plan's before/after and its guards.
#[test]
fn one_replica_is_singular() {
    let fleet = Fleet {
        workloads: vec![workload("worker", WorkloadKind::Deployment, 1)],
        db: None,
    };
    let p = plan(
        Action::ScaleWorkload {
            workload: id("worker"),
            replicas: 1,
        },
        &fleet,
        &policy(false),
    );
    assert_eq!(p.before, "1 replica (1 ready)");
    assert_eq!(p.after, "1 replica");
    let warns = reasons(&p, GuardLevel::Warn);
    assert!(
        warns
            .iter()
            .any(|r| r == "worker already wants 1 replica: nothing would change."),
        "{warns:?}"
    );
}
