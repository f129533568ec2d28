//! The command line, run as a process against a temp config dir.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use std::process::Command;

fn scaleboard(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env_remove("SCALEBOARD_DATA_DIR");
    cmd
}

#[test]
fn version_prints_the_package_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn status_polls_the_demo_fleet_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir)
        .args(["status", "--demo", "--json"])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = reports.as_array().unwrap();
    assert_eq!(list.len(), 9);
    // Every demo endpoint answers; the demo's job queues carry a simulated backlog that may be
    // over the profile's threshold, and its PgBouncer pool may be busy (clients waiting, or near
    // its limit), which is "degraded" with the reason, never silently ok.
    for r in list {
        match r["status"].as_str().unwrap() {
            "ok" => assert!(r["reasons"].as_array().unwrap().is_empty(), "{r:#}"),
            "degraded" => assert!(
                r["reasons"][0]
                    .as_str()
                    .unwrap()
                    .contains("over the backlog threshold")
                    || r["reasons"][0]
                        .as_str()
                        .unwrap()
                        .starts_with("pool orders/app: "),
                "{r:#}"
            ),
            other => panic!("{other}: {r:#}"),
        }
    }
    let all_ok = list.iter().all(|r| r["status"] == "ok");
    assert_eq!(
        out.status.success(),
        all_ok,
        "exit code and states disagree"
    );
    assert!(list.iter().any(|r| {
        r["summary"]
            .as_str()
            .unwrap()
            .contains("accounts-db: 2 servers, 1 writable")
    }));
    assert!(
        list.iter()
            .any(|r| r["summary"].as_str().unwrap().contains("orders-db"))
    );
    let pgb = list
        .iter()
        .find(|r| r["endpoint"] == "demo-pgbouncer")
        .unwrap_or_else(|| panic!("no demo PgBouncer: {reports:#}"));
    assert!(
        pgb["summary"]
            .as_str()
            .unwrap()
            .starts_with("PgBouncer 1.18.0 (demo) at pgbouncer.demo:6432: 2 pools"),
        "{pgb:#}"
    );
}

#[test]
fn status_of_an_unknown_profile_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir)
        .args(["status", "--profile", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no saved profile is named \"nope\""));
}

#[test]
fn audit_on_an_empty_log_says_so_and_csv_has_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir).arg("audit").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("No audit records"));
    let out = scaleboard(&dir).args(["audit", "--csv"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("id,")
            || String::from_utf8_lossy(&out.stdout).contains("when")
    );
}

/// Ctrl-C during the grace period cancels through the pipeline: the cancellation is audited,
/// nothing is changed, and the process exits with code 130 only after the record is written.
#[test]
fn ctrl_c_in_the_grace_period_cancels_through_the_pipeline_and_exits_130() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = scaleboard(&dir)
        .args([
            "scale",
            "--demo",
            "compose/demo-staging/api",
            "4",
            "--yes",
            "--grace",
            "30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
        if line.starts_with("Starting in") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{seen}{rest}");
    assert!(
        rest.contains("Interrupted: cancelling through the pipeline"),
        "{rest}"
    );
    assert!(
        rest.contains("Cancelled: cancelled by the operator during the grace period"),
        "{rest}"
    );
    let log = std::fs::read_to_string(dir.path().join("config/data/audit.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("\"outcome\":\"cancelled\""), "{log}");
}
