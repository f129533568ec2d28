//! The window's stderr (issue #21): against an API server that is down for 30 s and comes
//! back, and a user who may read one namespace only, our log says one line in words per state
//! change — lost, connected again, forbidden — and no library record or debug structure gets
//! through the default filter. The logger is the one `main` starts (`scaleboard::logging`),
//! with the default filter and its output captured instead of written to stderr; the window is the real app, headless.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::app::ScaleboardApp;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_kube::{self, FakeKube};
use support::start;

/// What the logger wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn writer_stale(app: &ScaleboardApp, scope: &str) -> Option<bool> {
    app.fleet
        .workloads()
        .find(|w| w.id.scope == scope && w.id.name == "writer-service")
        .map(|w| w.stale_since.is_some())
}

#[test]
fn the_window_logs_one_line_in_words_per_state_change_and_no_library_dumps() {
    let captured = Captured::default();
    // The filter `main` starts with when RUST_LOG is not set (whatever this process was given).
    env_logger::Builder::new()
        .parse_filters(scaleboard::logging::DEFAULT_FILTER)
        .target(env_logger::Target::Pipe(Box::new(captured.clone())))
        .init();

    let east = FakeKube::start();
    east.put(&fake_kube::deployment("nexus", "writer-service", 3, 3));
    let tenant = FakeKube::start();
    tenant.put(&fake_kube::deployment("nexus", "writer-service", 2, 2));
    tenant.state().only_namespaces = Some(["nexus".to_string()].into());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        // The tenant's context names its namespace, as a namespace-limited user's would.
        fake_kube::kubeconfig_with_namespaces(&[
            ("east", &east, "default"),
            ("tenant", &tenant, "nexus"),
        ]),
    )
    .unwrap();
    let profiles = format!(
        "[[profile]]\nname = \"k8s-logs\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
         kubeconfig = \"{}\"\ncontexts = [\"east\", \"tenant\"]\n",
        kubeconfig.display()
    );
    let mut t = start(Some(&profiles), Some("k8s-logs"));
    t.advance_until("both contexts' workloads", |a| {
        writer_stale(a, "east/nexus") == Some(false)
            && writer_stale(a, "tenant/nexus") == Some(false)
    });

    // Down for 30 s of real time, the window polling all along (the library retries its
    // watches meanwhile, each retry a record the default filter must hold back).
    east.stop();
    let away = Instant::now();
    while away.elapsed() < Duration::from_secs(30) {
        t.advance(1);
        std::thread::sleep(Duration::from_millis(900));
    }
    assert_eq!(
        writer_stale(t.app(), "east/nexus"),
        Some(true),
        "east's rows should be its last view while it is away"
    );
    east.resume();
    t.advance_until("east live again", |a| {
        writer_stale(a, "east/nexus") == Some(false)
    });
    // A few more polls: nothing more to say once it is back.
    t.advance(3);

    let log = captured.text();
    for line in log.lines() {
        for raw in [
            "Status {",
            "Custom {",
            "Some(",
            "hyper::",
            "kube_runtime",
            "kube_client",
        ] {
            assert!(
                !line.contains(raw),
                "raw {raw:?} in a log line: {line}\n{log}"
            );
        }
    }
    let about = |context: &str| -> Vec<String> {
        let tag = format!("] context {context}:");
        log.lines()
            .filter(|l| l.contains(&tag))
            .map(|l| l.split_once(&tag).unwrap().1.trim().to_owned())
            .collect()
    };
    let east_lines = about("east");
    assert_eq!(
        east_lines.len(),
        2,
        "one line lost, one connected again:\n{log}"
    );
    assert!(
        east_lines[0].starts_with("lost: ") && east_lines[0].contains("API server"),
        "{log}"
    );
    assert_eq!(east_lines[1], "connected again", "{log}");
    let tenant_lines = about("tenant");
    assert_eq!(tenant_lines.len(), 1, "one line, forbidden:\n{log}");
    assert!(
        tenant_lines[0].starts_with("forbidden: may not list")
            && tenant_lines[0].ends_with("showing namespace nexus only"),
        "{log}"
    );
}
