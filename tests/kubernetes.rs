//! The Kubernetes connector against the protocol-level fake API server in
//! `tests/support/fake_kube.rs`: listing across contexts, watch updates without new LISTs,
//! scale and autoscaler actions through the engine pipeline.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use scaleboard::actions::audit::{AuditOutcome, AuditRecord};
use scaleboard::actions::{Action, DryRunOutcome, FleetView, GuardLevel, PlanPolicy, plan};
use scaleboard::connectors::Connector;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::engine::{
    ActionStage, Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event,
};
use scaleboard::model::clock::{Clock, ManualClock};
use scaleboard::model::snapshot::{
    DatabaseSnapshot, Snapshot, Workload, WorkloadKind, WorkloadRef,
};
use scaleboard::profiles::{KubernetesEndpoint, Profile};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_kube::{self, FakeKube, Res};

const START: i64 = 1_793_628_000_000;

/// Two fake clusters, "east" and "west", and a kubeconfig naming both.
struct Clusters {
    east: FakeKube,
    west: FakeKube,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

fn clusters() -> Clusters {
    let east = FakeKube::start();
    let west = FakeKube::start();
    east.put(&fake_kube::deployment("nexus", "writer-service", 3, 3));
    east.put(&fake_kube::deployment("nexus", "api-gateway", 4, 4));
    east.put(&fake_kube::hpa("nexus", "api-gateway", 2, 10, 70));
    east.put(&fake_kube::statefulset("nexus", "ledger", 3, 3));
    east.put(&fake_kube::deployment("billing", "invoicer", 2, 2));
    west.put(&fake_kube::deployment("nexus", "writer-service", 5, 5));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        fake_kube::kubeconfig(&[("east", &east), ("west", &west)]),
    )
    .unwrap();
    Clusters {
        east,
        west,
        dir,
        kubeconfig,
    }
}

impl Clusters {
    fn endpoint(&self, contexts: &[&str], namespaces: &[&str]) -> KubernetesEndpoint {
        KubernetesEndpoint {
            name: "k8s".into(),
            kubeconfig: Some(self.kubeconfig.clone()),
            contexts: contexts.iter().map(|c| (*c).to_string()).collect(),
            namespaces: namespaces.iter().map(|n| (*n).to_string()).collect(),
        }
    }
}

/// The fake clusters' workloads: `ledger` is their one StatefulSet.
fn wref(scope: &str, name: &str) -> WorkloadRef {
    let kind = if name == "ledger" {
        WorkloadKind::StatefulSet
    } else {
        WorkloadKind::Deployment
    };
    WorkloadRef::new("k8s", scope, kind, name)
}

fn workloads(snapshot: &Snapshot) -> &[Workload] {
    match snapshot {
        Snapshot::Workloads(list) => list,
        other => panic!("expected workloads, got {other:?}"),
    }
}

/// A LIST of a watched resource (metrics.k8s.io has no watch: it is read every 15 s; the
/// cluster autoscaler's status ConfigMap is one GET every 5 minutes).
fn is_list(request: &str) -> bool {
    request.starts_with("GET ")
        && !request.contains("watch=true")
        && !request.contains("metrics.k8s.io")
        && !request.contains("/configmaps/cluster-autoscaler-status")
        && !request.starts_with("GET /version")
}

/// Deployments, StatefulSets, ReplicaSets, HPAs, Pods, ResourceQuotas and LimitRanges (one
/// watch each per namespace scope) and Nodes (one, cluster-wide).
const WATCHED: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_workloads_and_autoscalers_across_two_contexts() {
    let c = clusters();
    let connector = KubernetesConnector::new(c.endpoint(&["east", "west"], &[]));
    let out = connector.poll().await.unwrap();
    let list = workloads(&out.snapshot);
    let ids: Vec<String> = list.iter().map(|w| w.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "east/billing/deployment/invoicer",
            "east/nexus/deployment/api-gateway",
            "east/nexus/statefulset/ledger",
            "east/nexus/deployment/writer-service",
            "west/nexus/deployment/writer-service",
        ]
    );
    let ledger = list.iter().find(|w| w.id.name == "ledger").unwrap();
    assert_eq!(ledger.id.kind, WorkloadKind::StatefulSet);
    let gw = list.iter().find(|w| w.id.name == "api-gateway").unwrap();
    let hpa = gw.autoscaler.as_ref().unwrap();
    assert_eq!(
        (hpa.min_replicas, hpa.max_replicas, hpa.target_cpu_percent),
        (2, 10, 70)
    );
    let west = list
        .iter()
        .find(|w| w.id == wref("west/nexus", "writer-service"))
        .unwrap();
    assert_eq!((west.desired, west.ready), (5, 5));
    assert!(
        out.samples
            .iter()
            .any(|s| s.target == "k8s/west/nexus/deployment/writer-service")
    );

    // A chosen namespace set watches only those namespaces.
    let only = KubernetesConnector::new(c.endpoint(&["east"], &["billing"]));
    let out = only.poll().await.unwrap();
    let ids: Vec<String> = workloads(&out.snapshot)
        .iter()
        .map(|w| w.id.to_string())
        .collect();
    assert_eq!(ids, ["east/billing/deployment/invoicer"]);
    assert!(
        c.east
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /apis/apps/v1/namespaces/billing/deployments?"))
    );
    drop(c.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_updates_arrive_without_new_lists() {
    let c = clusters();
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &[]));
    connector.poll().await.unwrap();
    let lists = c.east.count_requests(is_list);
    assert_eq!(lists, WATCHED, "{:?}", c.east.requests());
    // Let the watches open, then change the deployment behind the connector's back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.east.count_requests(|r| r.contains("watch=true")) < WATCHED {
        assert!(Instant::now() < deadline, "watches never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.east.state().auto_ready = false;
    c.east
        .modify(Res::Deployments, "nexus", "writer-service", |d| {
            d["spec"]["replicas"] = 6.into();
            d["status"]["readyReplicas"] = 4.into();
        });
    let target = wref("east/nexus", "writer-service");
    loop {
        let out = connector.poll().await.unwrap();
        let w = workloads(&out.snapshot)
            .iter()
            .find(|w| w.id == target)
            .unwrap()
            .clone();
        if (w.desired, w.ready) == (6, 4) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watch event never arrived: {w:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        c.east.count_requests(is_list),
        lists,
        "a poll issued a LIST: {:?}",
        c.east.requests()
    );
}

// ----- Through the engine pipeline -----------------------------------------------------------

#[derive(Default)]
struct View {
    snapshots: HashMap<String, Snapshot>,
    statuses: HashMap<String, ConnStatus>,
}

impl FleetView for View {
    fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
        self.snapshots.values().find_map(|s| match s {
            Snapshot::Workloads(list) => list.iter().find(|w| &w.id == id),
            _ => None,
        })
    }
    fn database(&self, _endpoint: &str) -> Option<&DatabaseSnapshot> {
        None
    }
}

struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    view: View,
    dir: tempfile::TempDir,
    next_id: u64,
}

fn rig(endpoint: KubernetesEndpoint) -> Rig {
    rig_with(endpoint, |_| {})
}

/// A rig whose engine settings the test adjusts (e.g. a short verification time-out).
fn rig_with(endpoint: KubernetesEndpoint, adjust: impl FnOnce(&mut EngineConfig)) -> Rig {
    rig_profile(endpoint, adjust, |_| {})
}

/// A rig whose engine settings and profile (e.g. its refresh interval) the test adjusts.
fn rig_profile(
    endpoint: KubernetesEndpoint,
    adjust: impl FnOnce(&mut EngineConfig),
    adjust_profile: impl FnOnce(&mut Profile),
) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let mut config = EngineConfig::new(
        clock.clone(),
        dir.path().join("config"),
        dir.path().join("data"),
    );
    adjust(&mut config);
    let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    let mut profile = Profile::named("k8s-test");
    profile.kubernetes.push(endpoint);
    adjust_profile(&mut profile);
    engine
        .send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 1,
        })))
        .unwrap();
    let mut rig = Rig {
        engine,
        clock,
        view: View::default(),
        dir,
        next_id: 1,
    };
    rig.until("first snapshot", |v, _| v.snapshots.contains_key("k8s"));
    rig
}

impl Rig {
    fn until(&mut self, what: &str, cond: impl Fn(&View, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(50)) else {
                self.clock.advance(Duration::from_secs(1));
                continue;
            };
            match &event {
                Event::Snapshot {
                    endpoint, snapshot, ..
                } => {
                    self.view
                        .snapshots
                        .insert(endpoint.clone(), snapshot.clone());
                }
                Event::Status {
                    endpoint, status, ..
                } => {
                    self.view.statuses.insert(endpoint.clone(), *status);
                }
                _ => {}
            }
            if cond(&self.view, &event) {
                return event;
            }
        }
    }

    fn plan(&self, action: Action) -> scaleboard::actions::Plan {
        let policy = PlanPolicy {
            profile: "k8s-test".into(),
            read_only: false,
            max_failover_lag_bytes: 1 << 20,
            kube_context: None,
            patroni_links: Vec::new(),
        };
        plan(action, &self.view, &policy)
    }

    fn execute(&mut self, plan: scaleboard::actions::Plan) -> AuditRecord {
        self.execute_with(plan, || {})
    }

    /// Execute a plan; `during_grace` runs once the grace period counts down (the manual clock
    /// stands still meanwhile), as a second client acting between confirmation and the write.
    fn execute_with(
        &mut self,
        plan: scaleboard::actions::Plan,
        during_grace: impl FnOnce(),
    ) -> AuditRecord {
        let id = scaleboard::actions::ActionId(self.next_id);
        self.next_id += 1;
        self.engine
            .send(Command::Execute {
                id,
                plan: Box::new(plan),
                forced: false,
            })
            .unwrap();
        self.until("grace period", |_, e| {
            matches!(e, Event::ActionProgress { id: i, stage: ActionStage::Grace { .. } } if *i == id)
        });
        during_grace();
        match self.until(
            "action finished",
            |_, e| matches!(e, Event::ActionFinished { id: i, .. } if *i == id),
        ) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        }
    }

    /// Every record of the engine's audit log, as written to disk.
    fn audit(&self) -> Vec<AuditRecord> {
        let log = scaleboard::actions::audit::AuditLog::new(&self.dir.path().join("data"));
        let read = log.read_all().unwrap();
        assert_eq!(read.damage.lines, 0);
        read.records
    }
}

/// What `kubectl scale --replicas=N` sends: a merge patch of the scale subresource, from
/// another client (field manager `kubectl-scale`), with no precondition.
fn kubectl_scale(kube: &FakeKube, plural: &str, ns: &str, name: &str, replicas: u32) {
    let path =
        format!("/apis/apps/v1/namespaces/{ns}/{plural}/{name}/scale?fieldManager=kubectl-scale");
    let body = format!(r#"{{"spec":{{"replicas":{replicas}}}}}"#);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answer = rt.block_on(raw(
        kube,
        reqwest::Method::PATCH,
        &path,
        "application/merge-patch+json",
        &body,
        true,
    ));
    assert_eq!(answer.status().as_u16(), 200);
}

/// What `kubectl autoscale` sends: a POST of a new HPA (field manager `kubectl-autoscale`).
fn kubectl_autoscale(kube: &FakeKube, hpa: &HorizontalPodAutoscaler) {
    let ns = hpa.metadata.namespace.clone().unwrap();
    let path = format!(
        "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers?fieldManager=kubectl-autoscale"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answer = rt.block_on(raw(
        kube,
        reqwest::Method::POST,
        &path,
        "application/json",
        &serde_json::to_string(hpa).unwrap(),
        true,
    ));
    assert_eq!(answer.status().as_u16(), 201);
}

/// PATCHes of the scale subresource, as "METHOD path?query".
fn scale_patches(kube: &FakeKube) -> Vec<String> {
    kube.requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH ") && r.contains("/scale?"))
        .collect()
}

#[test]
fn scale_goes_through_the_scale_subresource_and_is_verified() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east", "west"], &[]));
    let target = wref("west/nexus", "writer-service");
    let plan = rig.plan(Action::ScaleWorkload {
        workload: target.clone(),
        replicas: 7,
    });
    assert_eq!(
        plan.command,
        "kubectl --context west -n nexus scale deployment/writer-service --replicas=7"
    );
    assert!(!plan.refused(), "{:?}", plan.guards);
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert!(
        record.detail.contains("verified: 7 desired, 7 ready"),
        "{}",
        record.detail
    );
    let patches: Vec<String> = c
        .west
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH "))
        .collect();
    assert_eq!(
        patches,
        [
            "PATCH /apis/apps/v1/namespaces/nexus/deployments/writer-service/scale?&fieldManager=scaleboard"
        ]
    );
    let d = c
        .west
        .get(Res::Deployments, "nexus", "writer-service")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 7);
    // The server records who set the replicas: Scaleboard, through the scale subresource.
    let managed = d["metadata"]["managedFields"].as_array().unwrap();
    assert!(
        managed.iter().any(|m| m["manager"] == "scaleboard"
            && m["subresource"] == "scale"
            && m["fieldsV1"]["f:spec"]["f:replicas"].is_object()),
        "{managed:?}"
    );
    assert!(
        managed.iter().all(|m| m["manager"] != "unknown"),
        "{managed:?}"
    );
    // The re-check and verification read the target itself, never list every workload again.
    assert!(
        c.west.requests().iter().any(
            |r| r.starts_with("GET /apis/apps/v1/namespaces/nexus/deployments/writer-service?")
        ),
        "{:?}",
        c.west.requests()
    );
    // The other context's workload of the same name is untouched.
    let east = c
        .east
        .get(Res::Deployments, "nexus", "writer-service")
        .unwrap();
    assert_eq!(east["spec"]["replicas"], 3);
}

#[test]
fn stateful_set_scale_reports_pending_until_pods_are_ready() {
    let c = clusters();
    c.east.state().auto_ready = false;
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let target = wref("east/nexus", "ledger");
    let plan = rig.plan(Action::ScaleWorkload {
        workload: target.clone(),
        replicas: 5,
    });
    assert!(
        plan.command
            .contains("scale statefulset/ledger --replicas=5")
    );
    let id = scaleboard::actions::ActionId(1);
    rig.engine
        .send(Command::Execute {
            id,
            plan: Box::new(plan),
            forced: false,
        })
        .unwrap();
    rig.until("verifying", |_, e| {
        matches!(e, Event::ActionProgress { stage: ActionStage::Verifying { observed }, .. } if observed.contains("5 desired, 3 ready"))
    });
    // The pods come up: the watch brings the change, verification completes.
    c.east.modify(Res::StatefulSets, "nexus", "ledger", |s| {
        s["status"]["readyReplicas"] = 5.into();
    });
    let done = rig.until("finished", |_, e| matches!(e, Event::ActionFinished { .. }));
    let Event::ActionFinished { record, .. } = done else {
        unreachable!()
    };
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
}

#[test]
fn scaling_a_workload_with_an_hpa_warns_and_offers_the_hpa_edit() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &[]));
    let target = wref("east/nexus", "api-gateway");
    let plan = rig.plan(Action::ScaleWorkload {
        workload: target.clone(),
        replicas: 8,
    });
    let warning = plan
        .guards
        .iter()
        .find(|g| g.level == GuardLevel::Warn && g.reason.contains("will undo a manual scale"))
        .unwrap_or_else(|| panic!("no HPA warning in {:?}", plan.guards));
    assert!(warning.reason.contains("Autoscaler api-gateway"));
    let alternative = plan.alternative.clone().unwrap();
    assert_eq!(
        alternative.action,
        Action::SetAutoscaler {
            workload: target.clone(),
            min_replicas: 8,
            max_replicas: 10,
            target_cpu_percent: 70,
        }
    );
    // Take the alternative: edit the HPA.
    let edit = rig.plan(alternative.action);
    assert!(
        edit.command
            .contains("kubectl --context east -n nexus patch hpa api-gateway")
    );
    let record = rig.execute(edit);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    let hpa = c.east.get(Res::Hpas, "nexus", "api-gateway").unwrap();
    assert_eq!(hpa["spec"]["minReplicas"], 8);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert!(c.east.requests().iter().any(|r| r.starts_with(
        "PATCH /apis/autoscaling/v2/namespaces/nexus/horizontalpodautoscalers/api-gateway?"
    )));
}

#[test]
fn autoscaler_is_created_and_deleted() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &[]));
    let target = wref("east/nexus", "writer-service");
    let create = rig.plan(Action::SetAutoscaler {
        workload: target.clone(),
        min_replicas: 2,
        max_replicas: 6,
        target_cpu_percent: 65,
    });
    assert_eq!(
        create.command,
        "kubectl --context east -n nexus autoscale deployment/writer-service --cpu-percent=65 --min=2 --max=6"
    );
    let record = rig.execute(create);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    let hpa = c.east.get(Res::Hpas, "nexus", "writer-service").unwrap();
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "writer-service");
    assert_eq!(hpa["metadata"]["managedFields"][0]["manager"], "scaleboard");
    // Verification reads only the target; the window's view follows with the endpoint's own
    // next poll (which the pipeline asks for), not with a second full poll.
    rig.until("the view shows the autoscaler", |r, _| {
        r.workload(&target)
            .and_then(|w| w.autoscaler.as_ref())
            .is_some_and(|h| h.max_replicas == 6)
    });

    let delete = rig.plan(Action::DeleteAutoscaler {
        workload: target.clone(),
    });
    assert_eq!(
        delete.command,
        "kubectl --context east -n nexus delete hpa writer-service"
    );
    assert!(delete.dangerous);
    let record = rig.execute(delete);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert!(c.east.get(Res::Hpas, "nexus", "writer-service").is_none());
    rig.until("the view shows no autoscaler", |r, _| {
        r.workload(&target).is_some_and(|w| w.autoscaler.is_none())
    });
    // The deletion was conditioned on the version the re-check read.
    let deletes: Vec<_> = c
        .east
        .state()
        .writes
        .iter()
        .filter(|w| w.method == "DELETE")
        .cloned()
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
}

#[test]
fn deleting_an_autoscaler_changed_after_the_recheck_is_a_conflict() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let delete = rig.plan(Action::DeleteAutoscaler {
        workload: wref("east/nexus", "api-gateway"),
    });
    // Between the re-check's read and the DELETE, another client edits the HPA: the delete
    // carries the version the re-check read as a precondition, and the server refuses it.
    let record = rig.execute_with(delete, || c.east.state().conflicts = 1);
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:?}");
    assert!(record.detail.contains("409 Conflict"), "{}", record.detail);
    assert!(c.east.get(Res::Hpas, "nexus", "api-gateway").is_some());
}

#[test]
fn an_unreachable_cluster_is_reported_not_hung() {
    let c = clusters();
    // A context whose server is gone: the watchers back off; the poll reports it.
    let dead = FakeKube::start();
    let url = dead.url();
    drop(dead);
    let text = std::fs::read_to_string(&c.kubeconfig)
        .unwrap()
        .replace(&c.west.url(), &url);
    std::fs::write(&c.kubeconfig, text).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let connector = KubernetesConnector::new(c.endpoint(&["west"], &[]));
    let err = rt.block_on(connector.poll()).err().unwrap();
    assert!(
        err.to_string().contains("cannot reach k8s: west: "),
        "{err}"
    );
    // Later polls answer at once instead of waiting for the dead context again.
    let t = Instant::now();
    assert!(rt.block_on(connector.poll()).is_err());
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_watch_relists_and_recovers() {
    let c = clusters();
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &["nexus"]));
    connector.poll().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while c.east.count_requests(|r| r.contains("watch=true")) < WATCHED {
        assert!(Instant::now() < deadline, "watches never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lists = c.east.count_requests(is_list);
    // The server drops every watch and compacts its history; meanwhile the deployment changes.
    c.east.expire_watches();
    c.east.state().auto_ready = false;
    c.east
        .modify(Res::Deployments, "nexus", "writer-service", |d| {
            d["spec"]["replicas"] = 9.into();
        });
    let target = wref("east/nexus", "writer-service");
    loop {
        let out = connector.poll().await.unwrap();
        let w = workloads(&out.snapshot)
            .iter()
            .find(|w| w.id == target)
            .unwrap()
            .clone();
        if w.desired == 9 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {w:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        c.east.count_requests(is_list) > lists,
        "410 should force a fresh LIST: {:?}",
        c.east.requests()
    );
}

/// Slow access reviews (hundreds of namespaces, a loaded API server) do not hold up the first
/// view: rows come at once with their actions disabled as "checking access", and the real
/// answers replace that when they arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_access_reviews_do_not_hold_up_the_first_view() {
    let c = clusters();
    c.east.state().review_delay = Duration::from_secs(3);
    c.east
        .state()
        .denied
        .insert(("patch".into(), "deployments/scale".into()));
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &["nexus"]));
    let started = Instant::now();
    let out = connector.poll().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "the first view waited {:?} for the reviews",
        started.elapsed()
    );
    let list = workloads(&out.snapshot);
    let writer = list.iter().find(|w| w.id.name == "writer-service").unwrap();
    assert!(
        writer
            .scale_denied
            .as_deref()
            .is_some_and(|r| r.starts_with("checking whether you may")),
        "{writer:?}"
    );
    // The answers arrive in the background and replace the placeholder.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = connector.poll().await.unwrap();
        let list = workloads(&out.snapshot);
        let writer = list.iter().find(|w| w.id.name == "writer-service").unwrap();
        let ledger = list.iter().find(|w| w.id.name == "ledger").unwrap();
        if writer
            .scale_denied
            .as_deref()
            .is_some_and(|r| r.contains("may not patch deployments/scale"))
        {
            assert!(ledger.scale_denied.is_none(), "{ledger:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reviews never arrived: {writer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_review_denial_disables_the_action_with_its_reason() {
    let c = clusters();
    c.east
        .state()
        .denied
        .insert(("patch".into(), "deployments/scale".into()));
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &["nexus"]));
    let out = connector.poll().await.unwrap();
    let list = workloads(&out.snapshot);
    let writer = list.iter().find(|w| w.id.name == "writer-service").unwrap();
    let reason = writer.scale_denied.clone().unwrap();
    assert!(
        reason.contains("may not patch deployments/scale in namespace nexus"),
        "{reason}"
    );
    assert!(writer.autoscale_denied.is_none());
    // StatefulSets are reviewed separately and stay allowed.
    let ledger = list.iter().find(|w| w.id.name == "ledger").unwrap();
    assert!(ledger.scale_denied.is_none());
    // The plan refuses with the same reason.
    struct One(Workload);
    impl FleetView for One {
        fn workload(&self, id: &WorkloadRef) -> Option<&Workload> {
            (id == &self.0.id).then_some(&self.0)
        }
        fn database(&self, _: &str) -> Option<&DatabaseSnapshot> {
            None
        }
    }
    let policy = PlanPolicy {
        profile: "k8s-test".into(),
        read_only: false,
        max_failover_lag_bytes: 0,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let p = plan(
        Action::ScaleWorkload {
            workload: writer.id.clone(),
            replicas: 4,
        },
        &One(writer.clone()),
        &policy,
    );
    assert!(p.refused());
    assert!(p.guards.iter().any(|g| g.reason == reason));
    // Forced anyway, the server answers 403 and the reason is reported, not swallowed.
    let action = Action::ScaleWorkload {
        workload: writer.id.clone(),
        replicas: 4,
    };
    let err = connector
        .execute(scaleboard::model::exec::Execution::bare(&action))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403 Forbidden"), "{err}");
    // Reviews are asked once per namespace, not on every poll.
    let reviews = c
        .east
        .count_requests(|r| r.contains("selfsubjectaccessreviews"));
    connector.poll().await.unwrap();
    assert_eq!(
        c.east
            .count_requests(|r| r.contains("selfsubjectaccessreviews")),
        reviews
    );
}

#[test]
fn bulk_scale_of_a_namespace_records_every_workload() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &[]));
    let targets: Vec<(WorkloadRef, u32)> = ["api-gateway", "ledger", "writer-service"]
        .iter()
        .map(|n| (wref("east/nexus", n), 0))
        .collect();
    let action = Action::ScaleWorkloads {
        endpoint: "k8s".into(),
        targets,
    };
    // The operator types the namespace to confirm a namespace-wide scale.
    assert_eq!(action.target_name(), "nexus");
    let plan = rig.plan(action);
    assert!(plan.dangerous);
    assert!(!plan.refused(), "{:?}", plan.guards);
    assert_eq!(
        plan.command,
        "kubectl --context east -n nexus scale deployment api-gateway writer-service --replicas=0 && kubectl --context east -n nexus scale statefulset ledger --replicas=0"
    );
    assert_eq!(plan.before, "api-gateway 4, ledger 3, writer-service 3");
    assert_eq!(plan.after, "api-gateway 0, ledger 0, writer-service 0");
    assert!(
        plan.guards.iter().any(|g| g.level == GuardLevel::Warn
            && g.reason.contains("api-gateway (autoscaler api-gateway")),
        "{:?}",
        plan.guards
    );
    assert!(
        plan.guards
            .iter()
            .any(|g| g.reason.contains("stops every replica of 3 workload(s)")),
        "{:?}",
        plan.guards
    );
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert_eq!(record.before, "api-gateway 4, ledger 3, writer-service 3");
    assert_eq!(record.after, "api-gateway 0, ledger 0, writer-service 0");
    for (res, name) in [
        (Res::Deployments, "api-gateway"),
        (Res::StatefulSets, "ledger"),
        (Res::Deployments, "writer-service"),
    ] {
        assert_eq!(
            c.east.get(res, "nexus", name).unwrap()["spec"]["replicas"],
            0,
            "{name}"
        );
    }
    // Another namespace is untouched.
    assert_eq!(
        c.east.get(Res::Deployments, "billing", "invoicer").unwrap()["spec"]["replicas"],
        2
    );
}

#[test]
fn a_conflict_at_write_time_is_reported_and_never_retried() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let target = wref("east/nexus", "writer-service");
    let plan = rig.plan(Action::ScaleWorkload {
        workload: target.clone(),
        replicas: 5,
    });
    // The re-check reads the deployment unchanged; then someone else writes it just before our
    // patch lands: the resourceVersion the re-check read is stale, the server answers 409.
    let record = rig.execute_with(plan, || c.east.state().conflicts = 1);
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:?}");
    assert!(
        record
            .detail
            .starts_with("not run: changed since planned: ")
            && record.detail.contains("409 Conflict"),
        "{}",
        record.detail
    );
    // Exactly one write, conditioned on a version, and no second try with a fresher one.
    let scale_requests: Vec<String> = c
        .east
        .requests()
        .into_iter()
        .filter(|r| r.contains("/deployments/writer-service/scale"))
        .collect();
    assert_eq!(
        scale_requests,
        [
            "PATCH /apis/apps/v1/namespaces/nexus/deployments/writer-service/scale?&fieldManager=scaleboard"
        ]
    );
    assert_eq!(c.east.state().writes_by(Some("scaleboard")).len(), 1);
    assert_eq!(
        c.east
            .get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        3
    );
    // The audit log holds the intent (a write was sent) and the outcome, linked by id.
    let audit = rig.audit();
    let ours: Vec<&AuditRecord> = audit.iter().filter(|r| r.id == record.id).collect();
    assert_eq!(
        ours.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [AuditOutcome::Intent, AuditOutcome::NotRun]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_fold_under_their_workloads_with_usage_and_stuck_reasons() {
    let c = clusters();
    c.east.put(&fake_kube::replicaset(
        "nexus",
        "writer-service",
        "7d4f9",
        3,
    ));
    for i in 0..3 {
        let name = format!("writer-service-7d4f9-{i}");
        c.east.put(&fake_kube::pod(
            "nexus",
            &name,
            "ReplicaSet",
            "writer-service-7d4f9",
            "500m",
            "256Mi",
        ));
        c.east.put_pod_metrics("nexus", &name, "250m", "64Mi");
    }
    c.east.put(&fake_kube::pod(
        "nexus",
        "ledger-0",
        "StatefulSet",
        "ledger",
        "1",
        "1Gi",
    ));
    c.east
        .put_pod_metrics("nexus", "ledger-0", "1500m", "512Mi");
    // invoicer wants 2 but one pod cannot be scheduled.
    c.east
        .put(&fake_kube::replicaset("billing", "invoicer", "5c8", 2));
    c.east.put(&fake_kube::pod(
        "billing",
        "invoicer-5c8-a",
        "ReplicaSet",
        "invoicer-5c8",
        "100m",
        "64Mi",
    ));
    c.east.put(&fake_kube::unschedulable(
        fake_kube::pod(
            "billing",
            "invoicer-5c8-b",
            "ReplicaSet",
            "invoicer-5c8",
            "100m",
            "64Mi",
        ),
        "0/3 nodes are available: 3 Insufficient cpu.",
    ));
    c.east.modify(Res::Deployments, "billing", "invoicer", |d| {
        d["status"]["readyReplicas"] = 1.into();
    });
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &[]));
    let out = connector.poll().await.unwrap();
    let list = workloads(&out.snapshot);
    let find = |name: &str| list.iter().find(|w| w.id.name == name).unwrap();
    let writer = find("writer-service");
    assert_eq!(writer.cpu_percent, Some(50.0), "{writer:?}");
    assert_eq!(writer.memory_percent, Some(25.0), "{writer:?}");
    assert_eq!(find("ledger").cpu_percent, Some(150.0));
    let invoicer = find("invoicer");
    assert_eq!(
        invoicer.pending_reason.as_deref(),
        Some(
            "pod invoicer-5c8-b Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."
        )
    );
    // Usage is plotted too.
    assert!(out.samples.iter().any(
        |s| s.target == "k8s/east/nexus/deployment/writer-service" && s.metric == "cpu_percent"
    ),);
    assert!(out.notices.is_empty(), "{:?}", out.notices);
    // A ready workload shows no stuck reason even if an old pod is waiting.
    assert!(writer.pending_reason.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_metrics_server_is_said_once() {
    let c = clusters();
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &["nexus"]));
    let first = connector.poll().await.unwrap();
    assert_eq!(first.notices.len(), 1, "{:?}", first.notices);
    assert!(
        first.notices[0].contains("metrics-server not installed"),
        "{}",
        first.notices[0]
    );
    assert!(
        workloads(&first.snapshot)
            .iter()
            .all(|w| w.cpu_percent.is_none())
    );
    // Once for pod usage, once for node usage (the Clusters panel's "used").
    let asked = c.east.count_requests(|r| r.contains("metrics.k8s.io"));
    assert_eq!(asked, 2, "{:#?}", c.east.requests());
    // The next polls neither repeat the notice nor ask the missing API again.
    for _ in 0..3 {
        let next = connector.poll().await.unwrap();
        assert!(next.notices.is_empty(), "{:?}", next.notices);
    }
    assert_eq!(
        c.east.count_requests(|r| r.contains("metrics.k8s.io")),
        asked
    );
}

#[test]
fn the_server_dry_run_shows_admission_errors_before_confirming() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let scale = Action::ScaleWorkload {
        workload: wref("east/nexus", "writer-service"),
        replicas: 6,
    };
    // Accepted: the server validated it (dryRun=All) and stored nothing.
    rig.engine
        .send(Command::DryRun {
            key: 7,
            action: Box::new(scale.clone()),
        })
        .unwrap();
    let answer = rig.until("dry run", |_, e| matches!(e, Event::DryRun { key: 7, .. }));
    let Event::DryRun { outcome, .. } = answer else {
        unreachable!()
    };
    assert!(
        matches!(&outcome, DryRunOutcome::Accepted(t) if t.contains("accepted")),
        "{outcome:?}"
    );
    assert!(
        c.east.requests().iter().any(|r| r.starts_with(
            "PATCH /apis/apps/v1/namespaces/nexus/deployments/writer-service/scale?&dryRun=All"
        ) || r.starts_with(
            "PATCH /apis/apps/v1/namespaces/nexus/deployments/writer-service/scale?dryRun=All"
        )),
        "{:?}",
        c.east.requests()
    );
    assert_eq!(
        c.east
            .get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        3
    );
    // A policy webhook refuses: the reason arrives before anything is confirmed.
    c.east.state().admission_denial = Some("replicas above 5 need a change ticket".into());
    rig.engine
        .send(Command::DryRun {
            key: 8,
            action: Box::new(scale),
        })
        .unwrap();
    let answer = rig.until("dry run", |_, e| matches!(e, Event::DryRun { key: 8, .. }));
    let Event::DryRun { outcome, .. } = answer else {
        unreachable!()
    };
    let DryRunOutcome::Refused(reason) = outcome else {
        panic!("expected a refusal, got {outcome:?}")
    };
    assert!(
        reason.contains("admission webhook \"policy.example.com\" denied the request: replicas above 5 need a change ticket"),
        "{reason}"
    );
    let autoscale = Action::SetAutoscaler {
        workload: wref("east/nexus", "writer-service"),
        min_replicas: 2,
        max_replicas: 4,
        target_cpu_percent: 60,
    };
    rig.engine
        .send(Command::DryRun {
            key: 9,
            action: Box::new(autoscale),
        })
        .unwrap();
    let answer = rig.until("dry run", |_, e| matches!(e, Event::DryRun { key: 9, .. }));
    assert!(matches!(
        answer,
        Event::DryRun {
            outcome: DryRunOutcome::Refused(_),
            ..
        }
    ));
    assert!(c.east.get(Res::Hpas, "nexus", "writer-service").is_none());
    // Dry runs name the field manager too.
    let writes = c.east.state().writes.clone();
    assert!(writes.iter().all(|w| w.dry_run), "{writes:?}");
    assert!(
        writes
            .iter()
            .all(|w| w.field_manager.as_deref() == Some("scaleboard")),
        "{writes:?}"
    );
}

// ----- The command line ----------------------------------------------------------------------

fn cli(c: &Clusters, args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    let config = c.dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"k8s-test\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
             kubeconfig = \"{}\"\ncontexts = [\"east\", \"west\"]\n",
            c.kubeconfig.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", c.dir.path().join("data"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_cli_scales_and_autoscales_with_the_same_plan_and_a_typed_name() {
    let c = clusters();
    // A wrong name typed: nothing changes.
    let (ok, out) = cli(
        &c,
        &[
            "scale",
            "--profile",
            "k8s-test",
            "west/nexus/deployment/writer-service",
            "2",
            "--grace",
            "0",
        ],
        "writer\n",
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "kubectl --context west -n nexus scale deployment/writer-service --replicas=2"
        ),
        "{out}"
    );
    assert!(
        out.contains("Dry run: the API server accepted the scale"),
        "{out}"
    );
    assert!(out.contains("Not confirmed: nothing was changed."), "{out}");
    assert_eq!(
        c.west
            .get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        5
    );
    // The right name: scaled, verified, audited.
    let (ok, out) = cli(
        &c,
        &[
            "scale",
            "--profile",
            "k8s-test",
            "west/nexus/deployment/writer-service",
            "2",
            "--grace",
            "0",
        ],
        "writer-service\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("verified: 2 desired, 2 ready"), "{out}");
    assert_eq!(
        c.west
            .get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        2
    );
    // Autoscale like `kubectl autoscale`, then a whole namespace to zero with --all.
    let (ok, out) = cli(
        &c,
        &[
            "autoscale",
            "--profile",
            "k8s-test",
            "east/nexus/deployment/writer-service",
            "--min",
            "2",
            "--max",
            "5",
            "--cpu-percent",
            "60",
            "--yes",
            "--grace",
            "0",
        ],
        "",
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("autoscale deployment/writer-service --cpu-percent=60 --min=2 --max=5"),
        "{out}"
    );
    let hpa = c.east.get(Res::Hpas, "nexus", "writer-service").unwrap();
    assert_eq!(hpa["spec"]["maxReplicas"], 5);
    let (ok, out) = cli(
        &c,
        &[
            "scale",
            "--profile",
            "k8s-test",
            "east/billing",
            "0",
            "--all",
            "--grace",
            "0",
        ],
        "billing\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("Type \"billing\" to confirm"), "{out}");
    assert_eq!(
        c.east.get(Res::Deployments, "billing", "invoicer").unwrap()["spec"]["replicas"],
        0
    );
    let (_, audit) = cli(&c, &["audit"], "");
    assert!(audit.contains("east/billing"), "{audit}");
    // An unknown target names what exists instead of guessing.
    let (ok, out) = cli(
        &c,
        &[
            "scale",
            "--profile",
            "k8s-test",
            "east/nexus/deployment/nope",
            "1",
            "--yes",
        ],
        "",
    );
    assert!(!ok);
    assert!(out.contains("no Deployment east/nexus/nope"), "{out}");
}

// ----- Kubeconfig, auth and lists as a real client meets them ---------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_from_several_files_with_an_exec_credential_plugin() {
    use std::os::unix::fs::PermissionsExt;
    let c = clusters();
    // east: a token in the file; west: an exec plugin (as EKS/GKE/AKS use) that prints the token.
    let east_file = c.dir.path().join("east.yaml");
    std::fs::write(&east_file, fake_kube::kubeconfig(&[("east", &c.east)])).unwrap();
    let plugin = c.dir.path().join("get-token.sh");
    // The plugin also writes down the environment it was given (secrets must not be in it).
    let plugin_env = c.dir.path().join("plugin-env.txt");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nenv > '{}'\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            plugin_env.display(),
            c.west.token
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let west_file = c.dir.path().join("west.yaml");
    let west = fake_kube::kubeconfig(&[("west", &c.west)]).replace(
        &format!("    token: {}\n", c.west.token),
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            plugin.display()
        ),
    );
    assert!(west.contains("exec:"), "{west}");
    std::fs::write(&west_file, west).unwrap();
    // KUBECONFIG as the operator's shell sets it, and a profile that names no kubeconfig file.
    let config = c.dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        "[[profile]]\nname = \"k8s-env\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
         contexts = [\"east\", \"west\"]\nnamespaces = [\"nexus\"]\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", c.dir.path().join("data"))
        .env(
            "KUBECONFIG",
            format!("{}:{}", east_file.display(), west_file.display()),
        )
        // A secret for another endpoint, and a variable the plugin may need.
        .env("SCALEBOARD_SECRET_K8S_ENV_DB", "hunter2")
        .env("SCALEBOARD_PLUGIN_TEST_KEEP", "kept")
        .args(["status", "--profile", "k8s-env", "--json"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen = std::fs::read_to_string(&plugin_env).unwrap();
    assert!(seen.contains("SCALEBOARD_PLUGIN_TEST_KEEP=kept"), "{seen}");
    assert!(
        !seen.contains("SCALEBOARD_SECRET_") && !seen.contains("hunter2"),
        "a secret variable reached the exec plugin:\n{seen}"
    );
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reports[0]["status"], "ok", "{reports:#}");
    // east/nexus holds 3 workloads, west/nexus 1: both contexts were read.
    let summary = reports[0]["summary"].as_str().unwrap();
    assert!(summary.starts_with("4 workloads"), "{summary}");
    // The plugin's token was the one sent: the fake answers 401 to anything else.
    assert!(c.west.count_requests(|r| r.contains("/deployments")) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_lists_arrive_in_chunks_and_are_all_read() {
    let c = clusters();
    c.east.put(&fake_kube::replicaset(
        "nexus",
        "writer-service",
        "7d4f9",
        1_200,
    ));
    let pods: Vec<_> = (0..1_200)
        .map(|i| {
            fake_kube::pod(
                "nexus",
                &format!("writer-service-7d4f9-{i:04}"),
                "ReplicaSet",
                "writer-service-7d4f9",
                "100m",
                "64Mi",
            )
        })
        .collect();
    c.east.put_all(&pods);
    for i in 0..1_200 {
        c.east.put_pod_metrics(
            "nexus",
            &format!("writer-service-7d4f9-{i:04}"),
            "50m",
            "32Mi",
        );
    }
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &["nexus"]));
    let out = connector.poll().await.unwrap();
    let pod_lists: Vec<String> = c
        .east
        .requests()
        .into_iter()
        .filter(|r| {
            r.starts_with("GET /api/v1/namespaces/nexus/pods?") && !r.contains("watch=true")
        })
        .collect();
    assert_eq!(pod_lists.len(), 3, "{pod_lists:?}");
    assert!(
        pod_lists.iter().all(|r| r.contains("limit=500")),
        "{pod_lists:?}"
    );
    assert_eq!(
        pod_lists.iter().filter(|r| r.contains("continue=")).count(),
        2,
        "{pod_lists:?}"
    );
    // Every pod was folded: 1,200 × 50m used of 1,200 × 100m requested.
    let writer = workloads(&out.snapshot)
        .iter()
        .find(|w| w.id.name == "writer-service")
        .unwrap();
    assert_eq!(writer.cpu_percent, Some(50.0));
}

/// One request to the fake as plain HTTP: (method, path, content type, body, with the token).
async fn raw(
    kube: &FakeKube,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: &str,
    authorized: bool,
) -> reqwest::Response {
    scaleboard::connectors::http::install_crypto_provider();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", kube.url()))
        .header("content-type", content_type)
        .body(body.to_string());
    if authorized {
        request = request.header("authorization", format!("Bearer {}", kube.token));
    }
    request.send().await.unwrap()
}

/// The `Status` body of an error answer: (code, reason), checked to match the HTTP status.
async fn status_of(r: reqwest::Response) -> (u16, String) {
    let code = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["code"], code, "{body}");
    (
        code,
        body["reason"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_api_server_rejects_what_a_real_one_rejects() {
    use reqwest::Method;
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "web", 2, 2));
    let scale = "/apis/apps/v1/namespaces/nexus/deployments/web/scale";
    let merge = "application/merge-patch+json";
    let hpa = r#"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"}}}"#;
    let cases: [(Method, &str, &str, &str, bool, u16); 9] = [
        // No token.
        (Method::GET, "/apis/apps/v1/deployments", "", "", false, 401),
        // Unknown resource, unknown object.
        (
            Method::GET,
            "/apis/apps/v1/namespaces/nexus/gizmos",
            "",
            "",
            true,
            404,
        ),
        (
            Method::GET,
            "/apis/apps/v1/namespaces/nexus/deployments/nope",
            "",
            "",
            true,
            404,
        ),
        // A patch in a content type the server does not take.
        (
            Method::PATCH,
            scale,
            "application/json",
            r#"{"spec":{"replicas":3}}"#,
            true,
            415,
        ),
        // Server-side apply without a fieldManager.
        (
            Method::PATCH,
            "/apis/apps/v1/namespaces/nexus/deployments/web",
            "application/apply-patch+yaml",
            r#"{"spec":{"replicas":3}}"#,
            true,
            400,
        ),
        // Negative replicas; replicas of the wrong type; an HPA without maxReplicas.
        (
            Method::PATCH,
            scale,
            merge,
            r#"{"spec":{"replicas":-1}}"#,
            true,
            422,
        ),
        (
            Method::PATCH,
            "/apis/apps/v1/namespaces/nexus/deployments/web",
            merge,
            r#"{"spec":{"replicas":"three"}}"#,
            true,
            422,
        ),
        (
            Method::POST,
            "/apis/autoscaling/v2/namespaces/nexus/horizontalpodautoscalers",
            "application/json",
            hpa,
            true,
            422,
        ),
        // A stale resourceVersion precondition.
        (
            Method::PATCH,
            scale,
            merge,
            r#"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":3}}"#,
            true,
            409,
        ),
    ];
    for (method, path, content_type, body, authorized, code) in cases {
        let what = format!("{method} {path} {body}");
        let r = raw(&kube, method, path, content_type, body, authorized).await;
        assert_eq!(status_of(r).await.0, code, "{what}");
    }
    // Nothing above changed the deployment.
    assert_eq!(
        kube.get(Res::Deployments, "nexus", "web").unwrap()["spec"]["replicas"],
        2
    );
    // A watch from a compacted resourceVersion: an ERROR event carrying 410 Gone.
    kube.compact();
    let r = raw(
        &kube,
        Method::GET,
        "/apis/apps/v1/namespaces/nexus/deployments?watch=true&resourceVersion=1",
        "",
        "",
        true,
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let first = r.text().await.unwrap();
    let event: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["code"], 410, "{event}");
    // metrics.k8s.io is absent until metrics-server "is installed".
    let r = raw(
        &kube,
        Method::GET,
        "/apis/metrics.k8s.io/v1beta1/pods",
        "",
        "",
        true,
    )
    .await;
    assert_eq!(status_of(r).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_pods_and_a_dead_context_do_not_hide_what_can_be_seen() {
    let c = clusters();
    // east: this user may not list pods cluster-wide (common with namespace-scoped RBAC).
    c.east.state().denied.insert(("list".into(), "pods".into()));
    // west: the server is gone.
    let dead = FakeKube::start();
    let url = dead.url();
    drop(dead);
    let text = std::fs::read_to_string(&c.kubeconfig)
        .unwrap()
        .replace(&c.west.url(), &url);
    std::fs::write(&c.kubeconfig, text).unwrap();
    let connector = KubernetesConnector::new(c.endpoint(&["east", "west"], &[]));
    // Workloads come first: the pod lists (and the problems reading them) may be a poll later,
    // and a problem is said once, so the notices are gathered over the polls.
    let mut notices: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let out = connector.poll().await.unwrap();
        notices.extend(out.notices.iter().cloned());
        let said = |start: &str| notices.iter().any(|n| n.starts_with(start));
        let all_said = said("context east: your credentials may not list pods")
            && said("context east: cannot list pods in namespace default")
            && said("context west: no answer from the API server");
        if all_said || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let list = workloads(&out.snapshot);
    assert_eq!(list.len(), 4, "{list:?}");
    assert!(list.iter().all(|w| w.id.scope.starts_with("east/")));
    // HPAs are still shown; pods are not (not in all namespaces, and not in the context's
    // namespace either), and each problem is named in words.
    assert!(list.iter().any(|w| w.autoscaler.is_some()));
    assert!(
        notices.iter().any(|n| n.starts_with(
            "context east: your credentials may not list pods in all namespaces (list pods in \
             all namespaces: the API server answered 403 Forbidden: pods is forbidden: User \
             \"fake-user\" cannot list resource \"pods\" in API group \"\" at the cluster scope); \
             showing namespace default only"
        )),
        "{:?}",
        notices
    );
    assert!(
        notices.iter().any(|n| n.starts_with(
            "context east: cannot list pods in namespace default: the API server answered 403 \
             Forbidden: pods is forbidden"
        ) && n.contains("stuck pods and CPU/memory are not shown")),
        "{:?}",
        notices
    );
    assert!(
        notices.iter().any(
            |n| n.starts_with("context west: no answer from the API server: ")
                && n.ends_with("(its workloads are not shown)")
        ),
        "{:?}",
        notices
    );
    assert!(
        notices
            .iter()
            .all(|n| !n.contains("Status {") && !n.contains("ApiError")),
        "{:?}",
        notices
    );
}

#[test]
fn verification_names_the_pod_that_cannot_be_scheduled() {
    let c = clusters();
    c.east.state().auto_ready = false;
    c.east.put(&fake_kube::replicaset(
        "nexus",
        "writer-service",
        "7d4f9",
        3,
    ));
    for i in 0..3 {
        c.east.put(&fake_kube::pod(
            "nexus",
            &format!("writer-service-7d4f9-{i}"),
            "ReplicaSet",
            "writer-service-7d4f9",
            "500m",
            "256Mi",
        ));
    }
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let plan = rig.plan(Action::ScaleWorkload {
        workload: wref("east/nexus", "writer-service"),
        replicas: 4,
    });
    let id = scaleboard::actions::ActionId(1);
    rig.engine
        .send(Command::Execute {
            id,
            plan: Box::new(plan),
            forced: false,
        })
        .unwrap();
    // The new pod cannot be placed, as the scheduler reports it.
    rig.until("verifying", |_, e| {
        matches!(
            e,
            Event::ActionProgress {
                stage: ActionStage::Verifying { .. },
                ..
            }
        )
    });
    c.east.put(&fake_kube::unschedulable(
        fake_kube::pod(
            "nexus",
            "writer-service-7d4f9-3",
            "ReplicaSet",
            "writer-service-7d4f9",
            "500m",
            "256Mi",
        ),
        "0/3 nodes are available: 3 Insufficient memory.",
    ));
    let event = rig.until("the stuck pod named", |_, e| {
        matches!(e, Event::ActionProgress {
            stage: ActionStage::Verifying { observed }, ..
        } if observed.contains("pod writer-service-7d4f9-3 Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient memory."))
    });
    let Event::ActionProgress {
        stage: ActionStage::Verifying { observed },
        ..
    } = event
    else {
        unreachable!()
    };
    assert!(
        observed.starts_with("applied, not ready yet: 4 desired, 3 ready"),
        "{observed}"
    );
    // Once it runs, verification completes.
    c.east.put(&fake_kube::pod(
        "nexus",
        "writer-service-7d4f9-3",
        "ReplicaSet",
        "writer-service-7d4f9",
        "500m",
        "256Mi",
    ));
    c.east
        .modify(Res::Deployments, "nexus", "writer-service", |d| {
            d["status"]["readyReplicas"] = 4.into();
        });
    let done = rig.until("finished", |_, e| matches!(e, Event::ActionFinished { .. }));
    let Event::ActionFinished { record, .. } = done else {
        unreachable!()
    };
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
}

// ----- Issue #17: the right target, a fresh plan, writes that change only what was asked ------

#[test]
fn a_deployment_and_a_statefulset_of_one_name_are_two_targets() {
    let c = clusters();
    c.east.put(&fake_kube::deployment("shop", "db", 2, 2));
    c.east.put(&fake_kube::statefulset("shop", "db", 3, 3));
    let deployment = WorkloadRef::new("k8s", "east/shop", WorkloadKind::Deployment, "db");
    let statefulset = WorkloadRef::new("k8s", "east/shop", WorkloadKind::StatefulSet, "db");
    // Both rows, each with its own series.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &["shop"]));
    let out = rt.block_on(connector.poll()).unwrap();
    let rows = workloads(&out.snapshot);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let replicas_of = |target: &str| {
        out.samples
            .iter()
            .find(|s| s.target == target && s.metric == "replicas")
            .map(|s| s.value)
    };
    assert_eq!(replicas_of("k8s/east/shop/deployment/db"), Some(2.0));
    assert_eq!(replicas_of("k8s/east/shop/statefulset/db"), Some(3.0));
    drop(connector);

    let mut rig = rig(c.endpoint(&["east"], &["shop"]));
    let plan = rig.plan(Action::ScaleWorkload {
        workload: statefulset.clone(),
        replicas: 4,
    });
    assert!(
        plan.command.contains("scale statefulset/db --replicas=4"),
        "{}",
        plan.command
    );
    assert_eq!(plan.before, "3 replicas (3 ready)");
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert_eq!(record.target, "k8s/east/shop/statefulset/db");
    let replicas = |res: Res| c.east.get(res, "shop", "db").unwrap()["spec"]["replicas"].clone();
    assert_eq!(replicas(Res::StatefulSets), 4);
    assert_eq!(replicas(Res::Deployments), 2);
    assert_eq!(
        scale_patches(&c.east),
        ["PATCH /apis/apps/v1/namespaces/shop/statefulsets/db/scale?&fieldManager=scaleboard"]
    );

    let plan = rig.plan(Action::ScaleWorkload {
        workload: deployment.clone(),
        replicas: 5,
    });
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert_eq!(record.target, "k8s/east/shop/deployment/db");
    assert_eq!(replicas(Res::Deployments), 5);
    assert_eq!(replicas(Res::StatefulSets), 4);

    // The command line names the kind: the StatefulSet alone changes.
    let (ok, out) = cli(
        &c,
        &[
            "scale",
            "--profile",
            "k8s-test",
            "east/shop/statefulset/db",
            "6",
            "--yes",
            "--grace",
            "0",
        ],
        "",
    );
    assert!(ok, "{out}");
    assert!(out.contains("scale statefulset/db --replicas=6"), "{out}");
    assert_eq!(replicas(Res::StatefulSets), 6);
    assert_eq!(replicas(Res::Deployments), 5);

    // Both in one bulk action: each is its own target.
    rig.until("the CLI's scale in the view", |v, _| {
        v.workload(&statefulset).is_some_and(|w| w.desired == 6)
    });
    let plan = rig.plan(Action::ScaleWorkloads {
        endpoint: "k8s".into(),
        targets: vec![(deployment.clone(), 1), (statefulset.clone(), 2)],
    });
    assert!(!plan.refused(), "{:?}", plan.guards);
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert_eq!(replicas(Res::Deployments), 1);
    assert_eq!(replicas(Res::StatefulSets), 2);
}

#[test]
fn a_scale_by_someone_else_during_the_grace_period_stops_the_write() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let target = wref("east/nexus", "writer-service");
    let plan = rig.plan(Action::ScaleWorkload {
        workload: target.clone(),
        replicas: 5,
    });
    assert!(!plan.refused(), "{:?}", plan.guards);
    // `kubectl scale --replicas=7` while the grace period counts down.
    let record = rig.execute_with(plan, || {
        kubectl_scale(&c.east, "deployments", "nexus", "writer-service", 7);
    });
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:?}");
    assert!(
        record.detail.contains(
            "desired replicas of east/nexus/deployment/writer-service: 3 when planned, 7 now"
        ),
        "{}",
        record.detail
    );
    // Nothing written by us: the other client's 7 stands.
    assert_eq!(
        c.east
            .get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        7
    );
    assert!(c.east.state().writes_by(Some("scaleboard")).is_empty());
    assert_eq!(
        scale_patches(&c.east),
        [
            "PATCH /apis/apps/v1/namespaces/nexus/deployments/writer-service/scale?fieldManager=kubectl-scale"
        ]
    );
    // The audit record says so; no intent was written, since nothing was about to be written.
    let audit = rig.audit();
    let ours: Vec<&AuditRecord> = audit.iter().filter(|r| r.id == record.id).collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].outcome, AuditOutcome::NotRun);
    assert!(
        ours[0].detail.contains("changed since planned"),
        "{}",
        ours[0].detail
    );
    assert!(
        ours[0].detail.contains("3 when planned, 7 now"),
        "{}",
        ours[0].detail
    );
}

#[test]
fn an_autoscaler_created_during_the_grace_period_stops_the_scale() {
    let c = clusters();
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let target = wref("east/nexus", "writer-service");
    let plan = rig.plan(Action::ScaleWorkload {
        workload: target.clone(),
        replicas: 5,
    });
    let record = rig.execute_with(plan, || {
        kubectl_autoscale(
            &c.east,
            &fake_kube::hpa("nexus", "writer-service", 2, 6, 70),
        );
    });
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:?}");
    assert!(
        record.detail.contains(
            "autoscaler of east/nexus/deployment/writer-service: none when planned, \
             writer-service (min 2, max 6, CPU 70 %) now"
        ),
        "{}",
        record.detail
    );
    assert_eq!(
        c.east
            .get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        3
    );
    assert!(c.east.state().writes_by(Some("scaleboard")).is_empty());
    let audit = rig.audit();
    let last = audit.iter().rfind(|r| r.id == record.id).unwrap();
    assert_eq!(last.outcome, AuditOutcome::NotRun);
    assert!(last.detail.contains("autoscaler of"), "{}", last.detail);
}

/// An HPA on api-gateway with CPU and memory targets, a scale-down behavior, and a label and
/// an annotation of its own.
fn hpa_with_memory_and_behavior() -> HorizontalPodAutoscaler {
    let mut value =
        serde_json::to_value(fake_kube::hpa("nexus", "api-gateway", 2, 10, 70)).unwrap();
    value["metadata"]["annotations"] = serde_json::json!({ "team.example/owner": "payments" });
    value["metadata"]["labels"]["tier"] = "edge".into();
    value["spec"]["metrics"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "type": "Resource",
            "resource": { "name": "memory", "target": { "type": "Utilization", "averageUtilization": 80 } },
        }));
    value["spec"]["behavior"] = serde_json::json!({
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{ "type": "Pods", "value": 1, "periodSeconds": 60 }],
        },
    });
    serde_json::from_value(value).unwrap()
}

#[test]
fn an_autoscaler_edit_keeps_other_metrics_behavior_and_metadata_and_names_its_manager() {
    let c = clusters();
    c.east.put(&hpa_with_memory_and_behavior());
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let target = wref("east/nexus", "api-gateway");
    let words = [
        "memory 80 % of requests",
        "behavior: scaleDown stabilization 300 s, at most 1 pod per 60 s",
    ];
    let hpa = rig
        .view
        .workload(&target)
        .and_then(|w| w.autoscaler.clone())
        .unwrap();
    assert_eq!(hpa.metrics, words);
    let plan = rig.plan(Action::SetAutoscaler {
        workload: target.clone(),
        min_replicas: 3,
        max_replicas: 12,
        target_cpu_percent: 70,
    });
    assert!(!plan.refused(), "{:?}", plan.guards);
    // What the plan rests on names every metric, so a change to any of them stops the write.
    let fact = plan
        .observed
        .iter()
        .find(|f| f.what == "autoscaler of east/nexus/deployment/api-gateway")
        .unwrap();
    assert_eq!(
        fact.value,
        format!(
            "api-gateway (min 2, max 10, CPU 70 %, {}, {})",
            words[0], words[1]
        )
    );
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert!(
        record
            .detail
            .contains("unchanged: CPU target 70 %; kept as they were: memory 80 % of requests"),
        "{}",
        record.detail
    );

    let stored = c.east.get(Res::Hpas, "nexus", "api-gateway").unwrap();
    assert_eq!(stored["spec"]["minReplicas"], 3);
    assert_eq!(stored["spec"]["maxReplicas"], 12);
    let metrics = stored["spec"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2, "{metrics:?}");
    assert_eq!(metrics[0]["resource"]["name"], "cpu");
    assert_eq!(metrics[0]["resource"]["target"]["averageUtilization"], 70);
    assert_eq!(metrics[1]["resource"]["name"], "memory");
    assert_eq!(metrics[1]["resource"]["target"]["averageUtilization"], 80);
    assert_eq!(
        stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        300
    );
    assert_eq!(
        stored["spec"]["behavior"]["scaleDown"]["policies"][0]["value"],
        1
    );
    assert_eq!(
        stored["metadata"]["annotations"]["team.example/owner"],
        "payments"
    );
    assert_eq!(stored["metadata"]["labels"]["tier"], "edge");
    // The write named its field manager, carried the version the re-check read, and the
    // server lists Scaleboard as the manager of the fields it set.
    let writes = c.east.state().writes.clone();
    let hpa_writes: Vec<_> = writes
        .iter()
        .filter(|w| w.path.contains("horizontalpodautoscalers"))
        .collect();
    assert_eq!(hpa_writes.len(), 1, "{hpa_writes:?}");
    assert_eq!(hpa_writes[0].method, "PATCH");
    assert_eq!(hpa_writes[0].field_manager.as_deref(), Some("scaleboard"));
    let managed = stored["metadata"]["managedFields"].as_array().unwrap();
    let ours = managed
        .iter()
        .find(|m| m["manager"] == "scaleboard")
        .unwrap_or_else(|| panic!("{managed:?}"));
    assert_eq!(ours["operation"], "Update");
    assert!(
        ours["fieldsV1"]["f:spec"]["f:minReplicas"].is_object(),
        "{ours}"
    );
    assert!(
        ours["fieldsV1"]["f:spec"].get("f:behavior").is_none(),
        "{ours}"
    );
    // The row after the edit still shows every metric.
    let after = rig.until("the edit in the view", |v, _| {
        v.workload(&target)
            .and_then(|w| w.autoscaler.as_ref())
            .is_some_and(|h| h.min_replicas == 3)
    });
    drop(after);
    let hpa = rig
        .view
        .workload(&target)
        .and_then(|w| w.autoscaler.clone())
        .unwrap();
    assert_eq!(hpa.metrics, words);
}

#[test]
fn an_autoscaler_changed_after_the_recheck_is_a_conflict_not_an_overwrite() {
    let c = clusters();
    c.east.put(&hpa_with_memory_and_behavior());
    let mut rig = rig(c.endpoint(&["east"], &["nexus"]));
    let target = wref("east/nexus", "api-gateway");
    let plan = rig.plan(Action::SetAutoscaler {
        workload: target,
        min_replicas: 3,
        max_replicas: 12,
        target_cpu_percent: 70,
    });
    // Another writer touches the HPA between the re-check's read and our patch.
    let record = rig.execute_with(plan, || c.east.state().conflicts = 1);
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:?}");
    assert!(record.detail.contains("409 Conflict"), "{}", record.detail);
    let stored = c.east.get(Res::Hpas, "nexus", "api-gateway").unwrap();
    assert_eq!(stored["spec"]["minReplicas"], 2);
    assert_eq!(
        c.east
            .state()
            .writes_by(Some("scaleboard"))
            .iter()
            .filter(|w| w.method == "PATCH")
            .count(),
        1
    );
}

#[test]
fn verification_reports_applied_not_ready_with_the_pending_pod_and_the_image_pull_error() {
    let c = clusters();
    c.east.state().auto_ready = false;
    c.east.put(&fake_kube::replicaset(
        "nexus",
        "writer-service",
        "7d4f9",
        3,
    ));
    for i in 0..3 {
        c.east.put(&fake_kube::pod(
            "nexus",
            &format!("writer-service-7d4f9-{i}"),
            "ReplicaSet",
            "writer-service-7d4f9",
            "500m",
            "256Mi",
        ));
    }
    c.east.put(&fake_kube::unschedulable(
        fake_kube::pod(
            "nexus",
            "writer-service-7d4f9-3",
            "ReplicaSet",
            "writer-service-7d4f9",
            "500m",
            "256Mi",
        ),
        "0/3 nodes are available: 3 Insufficient memory.",
    ));
    for i in 0..3 {
        c.east.put(&fake_kube::pod(
            "nexus",
            &format!("ledger-{i}"),
            "StatefulSet",
            "ledger",
            "1",
            "1Gi",
        ));
    }
    c.east.put(&fake_kube::waiting_with(
        fake_kube::pod("nexus", "ledger-3", "StatefulSet", "ledger", "1", "1Gi"),
        "ImagePullBackOff",
        "Back-off pulling image \"registry.example/ledger:9.9\"",
    ));
    let mut rig = rig_with(c.endpoint(&["east"], &["nexus"]), |config| {
        config.verify_timeout = Duration::from_secs(4);
    });
    let plan = rig.plan(Action::ScaleWorkload {
        workload: wref("east/nexus", "writer-service"),
        replicas: 4,
    });
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::AppliedNotReady, "{record:?}");
    assert!(
        record.detail.contains(
            "applied, not ready yet after 4 s: 4 desired, 3 ready; pod writer-service-7d4f9-3 \
             Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient memory."
        ),
        "{}",
        record.detail
    );
    let plan = rig.plan(Action::ScaleWorkload {
        workload: wref("east/nexus", "ledger"),
        replicas: 4,
    });
    let record = rig.execute(plan);
    assert_eq!(record.outcome, AuditOutcome::AppliedNotReady, "{record:?}");
    assert!(
        record.detail.contains(
            "4 desired, 3 ready; pod ledger-3: ImagePullBackOff: Back-off pulling image \
             \"registry.example/ledger:9.9\""
        ),
        "{}",
        record.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_read_equals_the_poll_and_names_quota_and_crash_loops() {
    let c = clusters();
    c.east.state().auto_ready = false;
    // invoicer wants 3, has 2: the ReplicaSet cannot create the third pod (quota).
    c.east
        .put(&fake_kube::replicaset("billing", "invoicer", "5c8", 3));
    for p in ["a", "b"] {
        c.east.put(&fake_kube::pod(
            "billing",
            &format!("invoicer-5c8-{p}"),
            "ReplicaSet",
            "invoicer-5c8",
            "100m",
            "64Mi",
        ));
    }
    c.east.modify(Res::Deployments, "billing", "invoicer", |d| {
        d["spec"]["replicas"] = 3.into();
        d["status"]["readyReplicas"] = 2.into();
        d["status"]["conditions"] = serde_json::json!([
            { "type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated" },
            { "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
              "message": "pods \"invoicer-5c8-c\" is forbidden: exceeded quota: compute, requested: cpu=100m, used: cpu=200m, limited: cpu=200m" },
        ]);
    });
    // ledger's fourth pod crash-loops.
    c.east.modify(Res::StatefulSets, "nexus", "ledger", |s| {
        s["spec"]["replicas"] = 4.into();
    });
    for i in 0..3 {
        c.east.put(&fake_kube::pod(
            "nexus",
            &format!("ledger-{i}"),
            "StatefulSet",
            "ledger",
            "1",
            "1Gi",
        ));
    }
    c.east.put(&fake_kube::crash_looping(
        fake_kube::pod("nexus", "ledger-3", "StatefulSet", "ledger", "1", "1Gi"),
        1,
        5,
    ));
    let connector = KubernetesConnector::new(c.endpoint(&["east"], &[]));
    let polled = connector.poll().await.unwrap();
    let polled = workloads(&polled.snapshot);
    let invoicer = wref("east/billing", "invoicer");
    let ledger = wref("east/nexus", "ledger");
    let row =
        |list: &[Workload], id: &WorkloadRef| list.iter().find(|w| &w.id == id).unwrap().clone();
    let quota = "ReplicaFailure FailedCreate: pods \"invoicer-5c8-c\" is forbidden: exceeded quota: \
                 compute, requested: cpu=100m, used: cpu=200m, limited: cpu=200m";
    assert_eq!(
        row(polled, &invoicer).pending_reason.as_deref(),
        Some(quota)
    );
    let crash = "pod ledger-3: CrashLoopBackOff: back-off 5m0s restarting failed container=app \
                 (last exit: Error, exit code 1; 5 restarts)";
    assert_eq!(row(polled, &ledger).pending_reason.as_deref(), Some(crash));
    assert!(row(polled, &ledger).revision.is_some());
    assert!(row(polled, &ledger).resource_version.is_some());

    // A fresh read of both: the same rows, read from the server, not from the caches.
    let before = c.east.requests().len();
    let action = Action::ScaleWorkloads {
        endpoint: "k8s".into(),
        targets: vec![(invoicer.clone(), 3), (ledger.clone(), 4)],
    };
    let Some(Snapshot::Workloads(fresh)) = connector.read_fresh(&action).await.unwrap() else {
        panic!("no fresh read")
    };
    assert_eq!(fresh.len(), 2);
    assert_eq!(row(&fresh, &invoicer), row(polled, &invoicer));
    assert_eq!(row(&fresh, &ledger), row(polled, &ledger));
    let reads: Vec<String> = c.east.requests()[before..].to_vec();
    assert!(
        reads.contains(&"GET /apis/apps/v1/namespaces/billing/deployments/invoicer?".to_string()),
        "{reads:?}"
    );
    assert!(
        reads.contains(&"GET /apis/apps/v1/namespaces/nexus/statefulsets/ledger?".to_string()),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/nexus/pods?")
                && r.contains("labelSelector=app%3Dledger")),
        "{reads:?}"
    );
    // One HPA list per namespace, no list of every workload.
    assert_eq!(
        reads
            .iter()
            .filter(|r| r.contains("horizontalpodautoscalers"))
            .count(),
        2,
        "{reads:?}"
    );
    assert!(
        !reads
            .iter()
            .any(|r| r.contains("/deployments?") || r.contains("/statefulsets?")),
        "{reads:?}"
    );

    // Once the third pod of invoicer exists but cannot be scheduled, the current pod is named,
    // not the quota condition the ReplicaSet left behind.
    c.east.put(&fake_kube::unschedulable(
        fake_kube::pod(
            "billing",
            "invoicer-5c8-c",
            "ReplicaSet",
            "invoicer-5c8",
            "100m",
            "64Mi",
        ),
        "0/3 nodes are available: 3 Insufficient cpu.",
    ));
    let one = Action::ScaleWorkload {
        workload: invoicer.clone(),
        replicas: 3,
    };
    let Some(Snapshot::Workloads(fresh)) = connector.read_fresh(&one).await.unwrap() else {
        panic!("no fresh read")
    };
    assert_eq!(
        fresh[0].pending_reason.as_deref(),
        Some(
            "pod invoicer-5c8-c Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."
        )
    );
    // A target that is gone is left out (the re-check says "gone now").
    c.east.state().auto_ready = true;
    let gone = Action::ScaleWorkload {
        workload: WorkloadRef::new(
            "k8s",
            "east/nexus",
            WorkloadKind::StatefulSet,
            "writer-service",
        ),
        replicas: 1,
    };
    let Some(Snapshot::Workloads(fresh)) = connector.read_fresh(&gone).await.unwrap() else {
        panic!("no fresh read")
    };
    assert!(fresh.is_empty(), "{fresh:?}");
}

// ---------------------------------------------------------------------------------------------
// Restricted access, a server that goes away, contexts that load at once (issue #16).

/// One cluster and a kubeconfig whose contexts all point at it, each with its namespace.
fn kubeconfig_for(dir: &tempfile::TempDir, contexts: &[(&str, &FakeKube, &str)]) -> PathBuf {
    let path = dir.path().join("kubeconfig.yaml");
    std::fs::write(&path, fake_kube::kubeconfig_with_namespaces(contexts)).unwrap();
    path
}

fn endpoint_for(kubeconfig: &std::path::Path, contexts: &[&str]) -> KubernetesEndpoint {
    KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig.to_path_buf()),
        contexts: contexts.iter().map(|c| (*c).to_string()).collect(),
        namespaces: Vec::new(),
    }
}

fn no_debug_dumps(texts: &[String]) {
    for t in texts {
        assert!(
            !t.contains("Status {") && !t.contains("ApiError") && !t.contains("ServiceError"),
            "a raw error dump: {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_only_user_sees_its_namespace_and_is_told_what_is_not_visible() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "writer-service", 3, 2));
    kube.put(&fake_kube::hpa("nexus", "writer-service", 2, 10, 70));
    kube.put(&fake_kube::statefulset("nexus", "ledger", 1, 1));
    kube.put(&fake_kube::replicaset(
        "nexus",
        "writer-service",
        "6b7c9",
        3,
    ));
    kube.put(&fake_kube::unschedulable(
        fake_kube::pod(
            "nexus",
            "writer-service-6b7c9-a",
            "ReplicaSet",
            "writer-service-6b7c9",
            "250m",
            "64Mi",
        ),
        "0/3 nodes are available: 3 Insufficient cpu.",
    ));
    // Another team's namespace: this user may not see it.
    kube.put(&fake_kube::deployment("billing", "invoicer", 2, 2));
    // The usual enterprise RBAC: a RoleBinding in one namespace, no ClusterRole.
    kube.state().only_namespaces = Some(["nexus".to_string()].into());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&dir, &[("tenant", &kube, "nexus")]);
    let connector = KubernetesConnector::new(endpoint_for(&kubeconfig, &["tenant"]));
    // The visibility notice is said once every list has settled; the first poll may come
    // back with the workloads before the last namespace-scoped list is in (workloads first).
    let settled_by = Instant::now() + Duration::from_secs(15);
    let out = loop {
        let out = connector.poll().await.unwrap();
        if out.notices.iter().any(|n| n.contains("not visible")) {
            break out;
        }
        assert!(
            Instant::now() < settled_by,
            "no visibility notice: {:?}",
            out.notices
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ids: Vec<String> = workloads(&out.snapshot)
        .iter()
        .map(|w| w.id.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "tenant/nexus/statefulset/ledger",
            "tenant/nexus/deployment/writer-service"
        ]
    );
    let writer = &workloads(&out.snapshot)[1];
    assert!(
        writer.autoscaler.is_some(),
        "HPAs of the namespace are read"
    );
    // Pods of the namespace are read too (watched there): the stuck pod is named.
    c_assert_contains(writer.pending_reason.as_deref(), "Insufficient cpu");
    // One notice says what is not visible, why (the server's own words) and what to do.
    let visibility: Vec<&String> = out
        .notices
        .iter()
        .filter(|n| n.contains("not visible"))
        .collect();
    assert_eq!(visibility.len(), 1, "{:?}", out.notices);
    assert_eq!(
        visibility[0],
        "context tenant: your credentials may not list deployments, statefulsets, \
         horizontalpodautoscalers, pods, replicasets in all namespaces (list deployments in all \
         namespaces: the API server answered 403 Forbidden: deployments.apps is forbidden: User \
         \"fake-user\" cannot list resource \"deployments\" in API group \"apps\" at the cluster \
         scope (the same for statefulsets, horizontalpodautoscalers, pods, replicasets)); showing \
         namespace nexus only (the context's namespace): workloads in other namespaces are not \
         visible. To see them, ask for list and watch on these resources cluster-wide, or name \
         the namespaces you may read in the profile."
    );
    // Nothing else is reported as failing: the namespace itself is fully readable.
    assert!(
        out.notices
            .iter()
            .all(|n| n.contains("not visible") || n.contains("metrics-server not installed")),
        "{:?}",
        out.notices
    );
    no_debug_dumps(&out.notices);
    // The watches run in the namespace, and a change there arrives without a new LIST.
    let deadline = Instant::now() + Duration::from_secs(15);
    // Nodes are cluster-scoped: refused for this user, they are not watched in the namespace.
    while kube.count_requests(|r| r.contains("/namespaces/nexus/") && r.contains("watch=true"))
        < WATCHED - 1
    {
        assert!(
            Instant::now() < deadline,
            "watches never opened: {:?}",
            kube.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lists = kube.count_requests(is_list);
    kube.state().auto_ready = false;
    kube.modify(Res::Deployments, "nexus", "writer-service", |d| {
        d["spec"]["replicas"] = 5.into();
    });
    loop {
        let out = connector.poll().await.unwrap();
        // The same words on every poll: the poll loop says a notice once.
        assert_eq!(
            out.notices
                .iter()
                .filter(|n| n.contains("not visible"))
                .collect::<Vec<_>>(),
            visibility
        );
        if workloads(&out.snapshot)[1].desired == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "the change never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kube.count_requests(is_list), lists, "{:?}", kube.requests());
}

fn c_assert_contains(text: Option<&str>, part: &str) {
    assert!(text.is_some_and(|t| t.contains(part)), "{text:?}");
}

#[test]
fn a_stopped_server_is_stale_within_two_intervals_and_ok_again_within_two_when_it_returns() {
    let c = clusters();
    // The poll loop runs on the manual clock: its refresh interval passes only when the rig
    // advances the clock (1 s per 50 ms without events), so "within 2 intervals" is measured
    // in the engine's own time. A 10 s interval keeps a poll's own (real) run time, which the
    // rig may count as a second or two, well below an interval.
    const INTERVAL_SECS: u32 = 10;
    let mut rig = rig_profile(
        c.endpoint(&["east"], &[]),
        |_| {},
        |p| p.refresh_interval_secs = INTERVAL_SECS,
    );
    rig.until("ok", |v, _| v.statuses.get("k8s") == Some(&ConnStatus::Ok));
    let interval = i64::from(INTERVAL_SECS) * 1000;
    let stopped_at = rig.clock.now_ms();
    c.east.stop();
    let event = rig.until("stale", |_, e| {
        matches!(
            e,
            Event::Status {
                status: ConnStatus::Stale,
                ..
            }
        )
    });
    let Event::Status { at, error, .. } = event else {
        unreachable!()
    };
    let stale_after = at - stopped_at;
    assert!(
        stale_after <= 2 * interval,
        "stale after {stale_after} ms of engine time"
    );
    let error = error.unwrap();
    assert!(
        error.starts_with("cannot reach k8s: east: no answer from the API server: ")
            && error.contains("refused"),
        "{error}"
    );
    no_debug_dumps(std::slice::from_ref(&error));
    // The last view stays (the engine keeps the snapshot; the UI greys it).
    assert_eq!(workloads(&rig.view.snapshots["k8s"]).len(), 4);
    // A real outage lasts: the watches' own retries back off (0.5 s doubling to 8 s, real
    // time) past the few real seconds the rig's engine intervals take, so recovery has to come
    // from the poll that finds the server answering, not from a watch retrying by chance.
    std::thread::sleep(Duration::from_secs(5));
    // Back: ok again by itself, and changes made meanwhile are seen.
    c.east.state().auto_ready = false;
    c.east
        .modify(Res::Deployments, "nexus", "writer-service", |d| {
            d["spec"]["replicas"] = 7.into();
        });
    let returned_at = rig.clock.now_ms();
    c.east.resume();
    // Every failed poll sends a status event: count those between the return and "ok".
    let failed_polls = std::cell::Cell::new(0);
    let event = rig.until("ok again", |v, e| {
        if matches!(
            e,
            Event::Status {
                status: ConnStatus::Stale | ConnStatus::Down,
                ..
            }
        ) {
            failed_polls.set(failed_polls.get() + 1);
        }
        matches!(
            e,
            Event::Status {
                status: ConnStatus::Ok,
                ..
            }
        ) && v.statuses.get("k8s") == Some(&ConnStatus::Ok)
    });
    let Event::Status { at, .. } = event else {
        unreachable!()
    };
    let ok_after = at - returned_at;
    eprintln!(
        "stale {stale_after} ms after the stop, ok {ok_after} ms after the return (engine time, interval {interval} ms)"
    );
    // The first poll after the return is live (before the fix it found the watches still
    // failing and a second poll, two intervals later, was needed: 4 intervals in all). The
    // poll loop polls at most 2 intervals after a failure; the rig counts a poll's own real run
    // time as up to a few engine seconds, hence the half interval.
    assert_eq!(
        failed_polls.get(),
        0,
        "a poll after the return still failed (ok {ok_after} ms after it)"
    );
    assert!(
        ok_after <= 2 * interval + interval / 2,
        "ok {ok_after} ms of engine time after the return: over 2 intervals of {interval} ms"
    );
    // Live, not a stale view let through: the snapshot of that poll has the change made while
    // the server was away.
    let target = wref("east/nexus", "writer-service");
    let w = rig.view.workload(&target).unwrap();
    assert_eq!((w.desired, w.stale_since), (7, None), "{w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_context_down_leaves_the_others_live_and_keeps_its_last_view() {
    let c = clusters();
    let connector = KubernetesConnector::new(c.endpoint(&["east", "west"], &[]));
    let first = connector.poll().await.unwrap();
    assert_eq!(workloads(&first.snapshot).len(), 5);
    c.west.stop();
    let out = connector.poll().await.unwrap();
    // west's rows stay as last seen, marked stale (greyed with their age, not plotted); east
    // keeps answering; west is named with its last answer.
    let now = workloads(&out.snapshot);
    for w in now {
        assert_eq!(
            w.stale_since.is_some(),
            w.id.scope.starts_with("west/"),
            "{w:?}"
        );
    }
    let unmarked: Vec<_> = now
        .iter()
        .cloned()
        .map(|mut w| {
            w.stale_since = None;
            w
        })
        .collect();
    assert_eq!(unmarked, workloads(&first.snapshot));
    assert!(
        !out.samples
            .iter()
            .any(|s| s.target.starts_with("k8s/west/")),
        "a stale view is never plotted as current"
    );
    let west: Vec<&String> = out
        .notices
        .iter()
        .filter(|n| n.starts_with("context west: not answering since "))
        .collect();
    assert_eq!(west.len(), 1, "{:?}", out.notices);
    assert!(
        west[0].ends_with("its workloads show the last view from then"),
        "{}",
        west[0]
    );
    no_debug_dumps(&out.notices);
    // The notice's words stay the same while it is away (said once by the poll loop).
    let again = connector.poll().await.unwrap();
    assert!(again.notices.contains(west[0]), "{:?}", again.notices);
    // Both away: the poll fails, so the poll loop marks the endpoint stale.
    c.east.stop();
    let err = connector.poll().await.err().unwrap().to_string();
    assert!(
        err.starts_with("cannot reach k8s: east: no answer from the API server: "),
        "{err}"
    );
    assert!(err.contains("; west: "), "{err}");
    // Both back: live again by themselves.
    c.east.resume();
    c.west.resume();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(out) = connector.poll().await
            && !out.notices.iter().any(|n| n.contains("not answering"))
        {
            assert_eq!(workloads(&out.snapshot).len(), 5);
            break;
        }
        assert!(Instant::now() < deadline, "never live again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_missing_from_the_kubeconfig_is_named_and_hides_nothing() {
    let c = clusters();
    let connector = KubernetesConnector::new(c.endpoint(&["east", "nowhere"], &[]));
    let out = connector.poll().await.unwrap();
    assert_eq!(workloads(&out.snapshot).len(), 4);
    let expected = format!(
        "context nowhere: no context of this name in {} (it has: east, west); check the \
         profile's contexts (its workloads are not shown)",
        c.kubeconfig.display()
    );
    assert!(out.notices.contains(&expected), "{:?}", out.notices);
    // Alone, it fails the endpoint with the same words.
    let connector = KubernetesConnector::new(c.endpoint(&["nowhere"], &[]));
    let err = connector.poll().await.err().unwrap().to_string();
    assert!(err.contains("nowhere: no context of this name in"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_contexts_load_concurrently() {
    let clusters: Vec<FakeKube> = (0..3).map(|_| FakeKube::start()).collect();
    for (i, kube) in clusters.iter().enumerate() {
        kube.put(&fake_kube::deployment("nexus", &format!("svc-{i}"), 1, 1));
        // A loaded API server: every LIST answers a second late.
        kube.state().list_delay = Duration::from_secs(1);
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(
        &dir,
        &[
            ("a", &clusters[0], "default"),
            ("b", &clusters[1], "default"),
            ("c", &clusters[2], "default"),
        ],
    );
    let connector = KubernetesConnector::new(endpoint_for(&kubeconfig, &["a", "b", "c"]));
    let t = Instant::now();
    let out = connector.poll().await.unwrap();
    let took = t.elapsed();
    // One after another, 3 contexts of 5 lists each would take 3 s at least (15 s if each
    // list waited for the one before).
    assert!(
        took < Duration::from_secs(2),
        "first full view took {took:?}"
    );
    assert_eq!(workloads(&out.snapshot).len(), 3, "{:?}", out.notices);
    assert!(
        !out.notices.iter().any(|n| n.starts_with("loading")),
        "{:?}",
        out.notices
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_is_progress_not_down() {
    let c = clusters();
    // Lists slower than the first poll waits (4 s): the poll answers with a count instead of
    // running into the poll loop's time-out.
    c.east.state().list_delay = Duration::from_secs(6);
    let connector = KubernetesConnector::new(c.endpoint(&["east", "west"], &[]));
    let t = Instant::now();
    let out = connector.poll().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert_eq!(
        workloads(&out.snapshot).len(),
        1,
        "west is shown while east loads"
    );
    assert!(
        out.notices.contains(
            &"loading context east: 0 of 5 lists complete; rows show as they arrive".to_string()
        ),
        "{:?}",
        out.notices
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let out = connector.poll().await.unwrap();
        if !out.notices.iter().any(|n| n.starts_with("loading")) {
            assert_eq!(workloads(&out.snapshot).len(), 5);
            break;
        }
        assert!(Instant::now() < deadline, "never loaded");
    }
}
