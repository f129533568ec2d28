//! Desktop notifications over a real D-Bus: a private `dbus-daemon` (Debian `dbus-daemon`) per
//! test, with a notification service on it that answers `org.freedesktop.Notifications.Notify`
//! with the spec's signature (`susssasa{sv}i` → `u`; a call with any other signature is refused
//! by the bus peer, so the test fails). The desktop's own notification daemons need a display;
//! the bus, the wire format and the method are the real ones.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One received notification: (application name, summary, body).
type Received = (String, String, String);

struct Bus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let mut child = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--nopidfile",
                "--print-address=1",
                &format!("--address=unix:path={}", socket.display()),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon) must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        Self {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Notifications {
    tx: std::sync::Mutex<mpsc::Sender<Received>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.tx.lock().unwrap().send((app_name, summary, body));
        1
    }
}

/// The notification service on `bus`, and what it receives.
fn serve(rt: &tokio::runtime::Runtime, bus: &Bus) -> (zbus::Connection, mpsc::Receiver<Received>) {
    let (tx, rx) = mpsc::channel();
    let service = Notifications {
        tx: std::sync::Mutex::new(tx),
    };
    let connection = rt.block_on(async {
        zbus::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at("/org/freedesktop/Notifications", service)
            .unwrap()
            .build()
            .await
            .unwrap()
    });
    (connection, rx)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Points this process's session bus at `bus`: one test in this binary, so no other test
/// thread reads the environment meanwhile (`cargo test` runs tests of a binary as threads).
#[allow(unsafe_code)]
fn use_bus(bus: &Bus) {
    // SAFETY: the only test of this binary calls it first, before it starts any thread.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address) };
}

/// Firing alerts of the window after one frame (focused or not).
fn step(t: &mut support::TestApp, focused: bool) -> BTreeSet<(String, String, String)> {
    t.harness
        .input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .focused = Some(focused);
    t.harness.step();
    std::thread::sleep(Duration::from_millis(5));
    t.app()
        .advisor
        .advisor
        .book
        .firing()
        .map(|a| {
            (
                a.rule_id.clone(),
                a.target.clone(),
                format!("Scaleboard {}: {}", a.severity.label(), a.title),
            )
        })
        .collect()
}

/// One test (one bus for the process): a direct send; a focused window that says nothing; an
/// unfocused one that notifies once each time an alert starts firing, not on every frame.
#[test]
fn desktop_notifications_over_a_real_session_bus() {
    let bus = Bus::start();
    use_bus(&bus);
    let rt = runtime();
    let (_service, rx) = serve(&rt, &bus);

    rt.block_on(scaleboard::engine::desktop_notify::send(
        "Scaleboard critical: Long queue".into(),
        "depth of demo-queues/bull:reports 20458 (above 1000)".into(),
    ));
    let (app, summary, body) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(app, "Scaleboard");
    assert_eq!(summary, "Scaleboard critical: Long queue");
    assert!(body.contains("bull:reports"), "{body}");

    // Focused: the Alerts panel is in front of the operator.
    let mut t = support::start(None, None);
    let deadline = Instant::now() + Duration::from_secs(40);
    while step(&mut t, true).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no alert fired on the demo fleet"
        );
    }
    for _ in 0..50 {
        step(&mut t, true);
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "a focused window sent a notification"
    );
    drop(t);

    // Unfocused from the first frame: one notification per alert that starts firing.
    let mut t = support::start(None, None);
    let mut firing: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut expected = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut frames_after = 0;
    while frames_after < 100 {
        assert!(
            Instant::now() < deadline,
            "no alert fired on the demo fleet"
        );
        let now = step(&mut t, false);
        expected.extend(now.difference(&firing).map(|k| k.2.clone()));
        firing = now;
        if !expected.is_empty() {
            frames_after += 1;
        }
    }
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
            panic!("{} of {} notifications: {got:?}", got.len(), expected.len())
        }));
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(1000)).is_err(),
        "more notifications than alerts that started firing ({expected:?})"
    );
    let mut summaries: Vec<String> = got.iter().map(|g| g.1.clone()).collect();
    summaries.sort();
    expected.sort();
    assert_eq!(summaries, expected);
    assert!(got.iter().all(|g| g.0 == "Scaleboard" && !g.2.is_empty()));
}
