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

/// `scaleboard CMD | head -1` where head is gone before the first line: every write fails
/// with a broken pipe, and the command ends quietly with its own exit code, never a panic (101)
/// nor an error message.
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        "[[profile]]\nname = \"prod\"\n\n[[profile.redis]]\nname = \"cache\"\n\
         url = \"redis://127.0.0.1:1\"\npassword = { account = \"prod/cache\" }\n",
    )
    .unwrap();
    let cases: [(&[&str], &[i32]); 7] = [
        (&["secret", "list"], &[0, 1]),
        // An action is followed to its outcome all the same (checked in the audit log below).
        (
            &[
                "scale",
                "--demo",
                "compose/demo-staging/api",
                "1",
                "--yes",
                "--grace",
                "0",
            ],
            &[0],
        ),
        (&["audit"], &[0]),
        (&["audit", "--csv"], &[0]),
        (&["status", "--demo"], &[0, 1, 2, 3]),
        (&["cost", "list"], &[0]),
        (&["advise", "--demo", "--window", "20s"], &[0, 1, 2, 3]),
    ];
    for (args, codes) in cases {
        let mut child = scaleboard(&dir)
            .env("SCALEBOARD_KEYRING", "off")
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(
            code.is_some_and(|c| codes.contains(&c)),
            "{args:?}: exit {code:?}\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
            "{args:?}: {stderr}"
        );
    }
    let audit = std::fs::read_to_string(config.join("data/audit.jsonl")).unwrap();
    assert!(audit.contains("\"outcome\":\"succeeded\""), "{audit}");
}

/// `--verify-timeout SECS` bounds the verification of every acting command: the demo's Compose
/// service becomes ready one replica every 2 s, so 2 → 6 replicas is applied but not ready
/// within 1 s (the default waits 180 s).
#[test]
fn verify_timeout_bounds_the_verification() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir)
        .args(["scale", "--demo", "compose/demo-staging/api", "6"])
        .args(["--yes", "--grace", "0", "--verify-timeout", "1"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Applied, not ready: ") && stdout.contains("not ready yet after 1 s: "),
        "{stdout}"
    );
    // Every acting command takes the flag.
    for command in ["scale", "autoscale", "promote", "switchover", "failover"] {
        let help = scaleboard(&dir).args([command, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(
            text.contains("--verify-timeout <SECS>") && text.contains("--grace <SECS>"),
            "{command}: {text}"
        );
    }
}

/// The grace period of the database commands is the README's 5 s (it was 3 s), like scale's.
#[test]
fn promote_waits_the_five_second_grace_period() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = scaleboard(&dir)
        .args(["promote", "--demo", "--yes", "--force", "pg-replica-1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let first = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
        if line.starts_with("Starting in") {
            break line;
        }
    };
    // Cancelled through the pipeline in the grace period: nothing is promoted (the demo
    // refuses it anyway while its primary answers, hence --force).
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(first.trim(), "Starting in 5 s (Ctrl-C cancels)…", "{seen}");
    assert_eq!(code, Some(130), "{seen}");
}

/// The demo fleet comes with its history: `advise` judges at once instead of sampling for the
/// whole window, and says nothing about sampling.
#[test]
fn advise_answers_at_once_where_history_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir)
        .args(["advise", "--demo", "--json", "--window", "10m"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(report["window_secs"], 600, "{report:#}");
    assert!(
        report["sampled_secs"].as_u64().unwrap() < 600,
        "sampled the whole window: {report:#}"
    );
    assert!(!stderr.contains("sampling"), "{stderr}");
}

/// Without history (a health check probed for the first time) `advise` samples for the window
/// and tells on stderr how long is left, every 10 s.
#[test]
fn advise_tells_the_time_left_while_it_samples() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"web\"\n\n[[profile.health]]\nname = \"site\"\n\
             url = \"http://127.0.0.1:{port}/health\"\n"
        ),
    )
    .unwrap();
    let out = scaleboard(&dir)
        .args(["advise", "--profile", "web", "--json", "--window", "12s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert!(report["sampled_secs"].as_u64().unwrap() >= 12, "{report:#}");
    assert!(
        stderr.lines().any(|l| l
            .starts_with("sampling 12 s (no history to judge the rules on yet): 0:0")
            && l.ends_with(" left…")),
        "{stderr}"
    );
}

/// The exit codes are in `status --help`, in scaleboard-status(1) (generated from the same
/// clap text) and in scaleboard(1)'s EXIT STATUS.
#[test]
fn exit_codes_are_documented_in_help_and_man_pages() {
    let dir = tempfile::tempdir().unwrap();
    let help = scaleboard(&dir)
        .args(["status", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for words in [
        "0 every endpoint ok",
        "1 warning",
        "2 critical",
        "3 unknown",
        "ends within --timeout",
    ] {
        assert!(help.contains(words), "{words}: {help}");
    }
    let out_dir = dir.path().join("man");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = scaleboard(&dir)
        .args(["man", "--out-dir"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let page = std::fs::read_to_string(out_dir.join("scaleboard-status.1")).unwrap();
    assert!(
        page.contains("3 unknown") && page.contains("2 critical"),
        "{page}"
    );
    let main = std::fs::read_to_string(out_dir.join("scaleboard.1")).unwrap();
    let exit = &main[main.find(".SH EXIT STATUS").unwrap()..];
    assert!(
        exit.contains("WARNING") && exit.contains("CRITICAL") && exit.contains("UNKNOWN"),
        "{exit}"
    );
}
