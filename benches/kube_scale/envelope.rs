//! The envelope mode (issue #25): clusters at Kubernetes' published limits — 150,000 pods in
//! 10,000 workloads on 5,000 nodes — and at 30,000 pods (one context and five), served by the
//! protocol-level fake API server in pages of 500 with `limit`/`continue`, every pod 7.9 KB of
//! JSON made and serialised per page (see `pod_json.rs` for the calibration).
//!
//! Per cluster size: the first view (a fresh connector's first poll that shows every workload),
//! all pod details in (the first poll whose contexts all have their pods), one bare LIST of the
//! same pods from the same server (pages of 500 over HTTP, bytes read and counted, nothing
//! decoded: the floor any client pays), and the console's memory growth with everything in.

use super::fake_kube::{self, FakeKube, GeneratedPods};
use super::pod_json::{Layout, generator};
use super::{live_bytes, rss_bytes};
use scaleboard::connectors::Connector;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::model::snapshot::Snapshot;
use scaleboard::profiles::KubernetesEndpoint;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the measuring loop polls until the first view is in.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// How often it then asks whether the pods are listed (the caches' states only, no rows
/// built), to poll the moment they are: "all pod details in" is that poll's end, without a
/// poll interval's wait in it and without 30,000 pods folded four times a second meanwhile.
const LISTED_EVERY: Duration = Duration::from_millis(10);

/// Deployments, their ReplicaSets and the nodes of `layout`, history compacted; no pods.
pub(super) fn workloads_cluster(layout: &Layout) -> FakeKube {
    let kube = FakeKube::start();
    for w in 0..layout.workloads {
        let ns = layout.namespace(w);
        let name = layout.workload(w);
        let n = i32::try_from(layout.pods_per_workload).unwrap();
        kube.put(&fake_kube::deployment(&ns, &name, n, n));
        kube.put(&fake_kube::replicaset(&ns, &name, "6b7c9f8d4", n));
    }
    for n in 0..layout.nodes {
        kube.put(&fake_kube::node(
            &format!("node-{n:04}"),
            "32",
            "128Gi",
            "110",
        ));
    }
    kube.compact();
    kube
}

/// A cluster of `layout` whose pods are made for each LIST page (see `pod_json.rs`).
pub(super) fn cluster(layout: Layout) -> FakeKube {
    let kube = workloads_cluster(&layout);
    let count = layout.pods();
    let make = generator(layout);
    kube.state().generated_pods = Some(GeneratedPods {
        count,
        make: Arc::new(make),
    });
    kube
}

struct Figures {
    first_view: Duration,
    details_in: Duration,
    live_mib: f64,
    rss_mib: f64,
}

fn measure(
    rt: &tokio::runtime::Runtime,
    endpoint: &KubernetesEndpoint,
    expected: usize,
) -> Figures {
    let rss_before = rss_bytes();
    let live_before = live_bytes();
    let connector = KubernetesConnector::new(endpoint.clone());
    let t = Instant::now();
    let mut first_view = None;
    let mut failed = Vec::new();
    let details_in = loop {
        let out = match rt.block_on(connector.poll()) {
            Ok(out) => out,
            // Said with the figures: a poll that failed is not a view.
            Err(e) => {
                failed.push(format!("at {:.1} s: {e}", t.elapsed().as_secs_f64()));
                assert!(t.elapsed() < Duration::from_secs(600), "{failed:?}");
                std::thread::sleep(POLL_EVERY);
                continue;
            }
        };
        let Snapshot::Workloads(list) = &out.snapshot else {
            panic!("not workloads")
        };
        if list.len() == expected {
            first_view.get_or_insert_with(|| t.elapsed());
            if list.pod_details_progress().is_none() {
                break t.elapsed();
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "{} of {expected} shown, {:?}",
            list.len(),
            list.sources
        );
        if first_view.is_none() {
            std::thread::sleep(POLL_EVERY);
            continue;
        }
        while !connector.pod_details_listed() {
            assert!(t.elapsed() < Duration::from_secs(600), "pods never listed");
            std::thread::sleep(LISTED_EVERY);
        }
    };
    if !failed.is_empty() {
        eprintln!("polls that failed on the way: {failed:?}");
    }
    let live_mib = live_bytes().saturating_sub(live_before) as f64 / 1_048_576.0;
    let rss_mib = rss_bytes().saturating_sub(rss_before) as f64 / 1_048_576.0;
    drop(connector);
    Figures {
        first_view: first_view.unwrap_or(details_in),
        details_in,
        live_mib,
        rss_mib,
    }
}

/// One LIST of every pod in pages of 500, bytes read and nothing decoded. (reqwest needs the
/// crypto provider a connector installs; one is made first.)
pub(super) fn bare_list(rt: &tokio::runtime::Runtime, kube: &FakeKube) -> (Duration, u64, usize) {
    let http = reqwest::Client::new();
    let t = Instant::now();
    let (bytes, pages) = rt.block_on(async {
        let mut token = String::new();
        let (mut bytes, mut pages) = (0u64, 0usize);
        loop {
            let mut url = format!("{}/api/v1/pods?limit=500", kube.url());
            if !token.is_empty() {
                url.push_str(&format!("&continue={token}"));
            }
            let body = http
                .get(&url)
                .bearer_auth(&kube.token)
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .bytes()
                .await
                .unwrap();
            bytes += body.len() as u64;
            pages += 1;
            // The continue token is in the list's metadata, which comes before the items (as
            // the real server writes it).
            let head = String::from_utf8_lossy(&body[..body.len().min(512)]);
            let head = head.split("\"items\"").next().unwrap_or_default();
            match head
                .split("\"continue\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            {
                Some(next) => token = next.to_string(),
                None => break,
            }
        }
        (bytes, pages)
    });
    (t.elapsed(), bytes, pages)
}

pub(super) fn endpoint(kubeconfig: &std::path::Path, contexts: &[String]) -> KubernetesEndpoint {
    KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig.to_path_buf()),
        contexts: contexts.to_vec(),
        namespaces: Vec::new(),
    }
}

/// Min, median and max.
pub(super) fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// One size: `contexts` clusters of `layout`'s shape, measured `reps` times. Each repetition
/// takes one bare LIST and one fresh connector's load back to back (alternating which goes
/// first), so the ratio compares runs under the same load of this shared machine.
fn size(
    rt: &tokio::runtime::Runtime,
    label: &str,
    contexts: usize,
    reps: usize,
    layout: fn() -> Layout,
) {
    let started = Instant::now();
    let shape = layout();
    let (workloads, pods, nodes) = (shape.workloads, shape.pods(), shape.nodes);
    let clusters: Vec<FakeKube> = (0..contexts).map(|_| cluster(layout())).collect();
    eprintln!(
        "{label}: {contexts} × ({workloads} deployments, {workloads} replicasets, {nodes} nodes, \
         {pods} generated pods) set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..contexts).map(|c| format!("c{c}")).collect();
    let pairs: Vec<(&str, &FakeKube)> = names.iter().map(String::as_str).zip(&clusters).collect();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&pairs)).unwrap();
    let endpoint = endpoint(&kubeconfig, &names);
    // One bare LIST first, not counted: the process's first pass through 235 MB of pages grows
    // its heap (190 MiB resident, page faults) and made whichever run came first the slowest.
    let (warm, _, _) = bare_list(rt, &clusters[0]);
    eprintln!(
        "{label}: warm-up bare LIST {:.2} s (not counted)",
        warm.as_secs_f64()
    );
    let (mut firsts, mut details, mut lists, mut ratios) = (vec![], vec![], vec![], vec![]);
    let (mut live, mut rss, mut size) = (Vec::new(), Vec::new(), (0, 0));
    for rep in 0..reps {
        let list_first = rep % 2 == 1;
        let mut list = None;
        if list_first {
            list = Some(bare_list(rt, &clusters[0]));
        }
        let f = measure(rt, &endpoint, workloads * contexts);
        let (took, bytes, pages) = list.unwrap_or_else(|| bare_list(rt, &clusters[0]));
        size = (bytes, pages);
        eprintln!(
            "{label}, run {}: first view {:.2} s; all pod details in {:.2} s; bare LIST {:.2} s; \
             ratio {:.2}; grew by {:.1} MiB live heap, {:.1} MiB resident",
            rep + 1,
            f.first_view.as_secs_f64(),
            f.details_in.as_secs_f64(),
            took.as_secs_f64(),
            f.details_in.as_secs_f64() / took.as_secs_f64(),
            f.live_mib,
            f.rss_mib
        );
        firsts.push(f.first_view.as_secs_f64());
        details.push(f.details_in.as_secs_f64());
        lists.push(took.as_secs_f64());
        ratios.push(f.details_in.as_secs_f64() / took.as_secs_f64());
        live.push(f.live_mib);
        rss.push(f.rss_mib);
    }
    let (bytes, pages) = size;
    let show = |(lo, mid, hi): (f64, f64, f64)| format!("{mid:.2} ({lo:.2}–{hi:.2})");
    eprintln!(
        "{label}, median (min–max) of {reps}: first view (all {} workloads) {} s; all pod \
         details in {} s (a poll as soon as the pods are listed); one bare LIST of one cluster's {pods} pods {} s \
         ({:.0} MB in {pages} pages, {:.2} KB a pod); details in / bare LIST of the same run = \
         {}; console grew by {} MiB live heap, {} MiB resident",
        workloads * contexts,
        show(spread(firsts)),
        show(spread(details)),
        show(spread(lists)),
        bytes as f64 / 1e6,
        bytes as f64 / pods as f64 / 1e3,
        show(spread(ratios)),
        show(spread(live)),
        show(spread(rss)),
    );
}

/// Decoding one page of 500 pods as the server sends it: into k8s-openapi's `Pod` (what the
/// watch cache decoded before issue #25) and into the light `LitePod` it decodes now; the
/// fastest of 5 each, and the live heap one decoded page holds.
fn decode_page() {
    use k8s_openapi::api::core::v1::Pod;
    use scaleboard::connectors::kubernetes::LitePod;
    let layout = Layout {
        workloads: 50,
        pods_per_workload: 10,
        nodes: 10,
        namespaces: 5,
    };
    let make = generator(layout);
    let page = serde_json::json!({
        "kind": "PodList", "apiVersion": "v1", "metadata": { "resourceVersion": "1" },
        "items": (0..500).map(&make).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec(&page).unwrap();
    fn time<T: serde::de::DeserializeOwned + Clone>(bytes: &[u8]) -> (Duration, f64) {
        let mut best = Duration::MAX;
        let mut held = 0.0;
        for _ in 0..5 {
            let before = live_bytes();
            let t = Instant::now();
            let list: kube::core::ObjectList<T> = serde_json::from_slice(bytes).unwrap();
            best = best.min(t.elapsed());
            held = live_bytes().saturating_sub(before) as f64 / 1_048_576.0;
            drop(list);
        }
        (best, held)
    }
    let (full, full_heap) = time::<Pod>(&bytes);
    let (lite, lite_heap) = time::<LitePod>(&bytes);
    eprintln!(
        "decode one page of 500 pods ({:.1} MB): k8s-openapi Pod {:.1} ms holding {:.1} MiB; \
         LitePod {:.1} ms holding {:.1} MiB",
        bytes.len() as f64 / 1e6,
        full.as_secs_f64() * 1e3,
        full_heap,
        lite.as_secs_f64() * 1e3,
        lite_heap
    );
}

pub fn run() {
    // The bare LIST's HTTP client needs the process's crypto provider, which a connector installs.
    drop(KubernetesConnector::new(KubernetesEndpoint {
        name: "provider".into(),
        kubeconfig: None,
        contexts: Vec::new(),
        namespaces: Vec::new(),
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let thirty = || Layout {
        workloads: 3_000,
        pods_per_workload: 10,
        nodes: 1_000,
        namespaces: 100,
    };
    let envelope = || Layout {
        workloads: 10_000,
        pods_per_workload: 15,
        nodes: 5_000,
        namespaces: 100,
    };
    if std::env::var("SCALEBOARD_BENCH").is_ok_and(|v| v == "envelope-smoke") {
        // A check that the mode works, in seconds (debug builds): not a figure.
        let small = || Layout {
            workloads: 300,
            pods_per_workload: 10,
            nodes: 100,
            namespaces: 10,
        };
        decode_page();
        size(&rt, "smoke: 3,000 pods, one context", 1, 2, small);
        size(&rt, "smoke: 3,000 pods, two contexts", 2, 1, small);
        super::churn::run(&small());
        super::relist::run(&small());
        super::stream::run(&small());
        return;
    }
    // `SCALEBOARD_ENVELOPE=30k,150k,five,churn,relist,stream` picks parts (all by default).
    let parts = std::env::var("SCALEBOARD_ENVELOPE").unwrap_or_default();
    let part = |p: &str| parts.is_empty() || parts.split(',').any(|x| x == p);
    if part("decode") {
        decode_page();
    }
    if part("30k") {
        size(&rt, "30,000 pods, one context", 1, 5, thirty);
    }
    if part("150k") {
        size(&rt, "150,000 pods, one context", 1, 3, envelope);
    }
    if part("five") {
        size(&rt, "30,000 pods, five contexts", 5, 1, thirty);
    }
    if part("churn") {
        super::churn::run(&thirty());
    }
    if part("relist") {
        super::relist::run(&envelope());
    }
    if part("stream") {
        super::stream::run(&envelope());
    }
}
