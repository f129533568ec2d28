//! The first load at 150,000 pods (issue #25), drawn: the window is open on the Workloads panel
//! from the start, the engine polls at the profile's default refresh, and the frames are counted
//! from the first poll until two polls after every pod is in: the workloads view appears, then
//! the pods stream in (300 pages) and fill in restarts and stuck reasons on the same rows.
//! Measured: when the first view and the pod details arrived, and the frames meanwhile.

use super::envelope::{cluster, endpoint};
use super::fake_kube;
use super::frames::{self, Window};
use super::pod_json::Layout;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::model::snapshot::Snapshot;
use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn run(layout: &Layout) {
    let kube = cluster(*layout);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("c0", &kube)])).unwrap();
    let rt = frames::engine_runtime();
    let mut window = Window::new();
    let connector = Arc::new(KubernetesConnector::new(endpoint(
        &kubeconfig,
        &["c0".to_string()],
    )));
    let t = Instant::now();
    let first_view: Cell<Option<Duration>> = Cell::new(None);
    let details_in: Cell<Option<Duration>> = Cell::new(None);
    let deadline = t + Duration::from_secs(600);
    let run = frames::frames_and_polls(
        &rt,
        &connector,
        &mut window,
        |out| {
            let Snapshot::Workloads(list) = &out.snapshot else {
                return;
            };
            if list.len() == layout.workloads && first_view.get().is_none() {
                first_view.set(Some(t.elapsed()));
            }
            if list.len() == layout.workloads
                && list.pod_details_progress().is_none()
                && details_in.get().is_none()
            {
                details_in.set(Some(t.elapsed()));
            }
        },
        || {
            assert!(Instant::now() < deadline, "the pods never came in");
            // Two more polls after the pods are in.
            details_in
                .get()
                .is_some_and(|at| t.elapsed() > at + frames::REFRESH * 2)
        },
    );
    let secs = |d: &Cell<Option<Duration>>| d.get().map_or(f64::NAN, |d| d.as_secs_f64());
    eprintln!(
        "first load of {} pods in {} workloads, drawn at 60 Hz: workloads in the poll after {:.2} \
         s, every pod in the poll after {:.2} s (polls every {} s); {}; {}; {}",
        layout.pods(),
        layout.workloads,
        secs(&first_view),
        secs(&details_in),
        frames::REFRESH.as_secs(),
        run.polls_words(),
        run.frames_words(),
        frames::Run::intake_words(&window),
    );
    drop(connector);
}
