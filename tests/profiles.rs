//! profiles.toml under real conditions: typos and refused values are reported on load with line
//! and column (and "did you mean"), only the profile at fault is left out, edits from the window
//! keep the user's text, and an oversized file is refused at once. Temp dirs only.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::profiles::store::PROFILES_FILE;
use scaleboard::profiles::{
    HealthEndpoint, Issue, MAX_FILE_BYTES, Profile, ProfileStore, RejectedProfile, StoreError,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A config dir holding `text` as profiles.toml.
fn with_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(PROFILES_FILE);
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn names(store: &ProfileStore) -> Vec<&str> {
    store.profiles().iter().map(|p| p.name.as_str()).collect()
}

fn rejected<'a>(store: &'a ProfileStore, name: &str) -> &'a RejectedProfile {
    store
        .issues()
        .rejected(name)
        .unwrap_or_else(|| panic!("{name} not rejected: {:?}", store.issues()))
}

fn only_issue(r: &RejectedProfile) -> &Issue {
    assert_eq!(r.issues.len(), 1, "{r}");
    &r.issues[0]
}

const GOOD: &str = r#"
[[profile]]
name = "good"
[[profile.health]]
name = "web"
url = "http://127.0.0.1:8080/healthz"
"#;

#[test]
fn unknown_key_is_refused_with_position_and_suggestion() {
    let text = format!(
        r#"[[profile]]
name = "typo"

[[profile.postgres]]
name = "main"
primary_dns = "postgres://app@db1/app"
{GOOD}"#
    );
    let (dir, _) = with_file(&text);
    let store = ProfileStore::load(dir.path());
    assert!(store.damaged().is_none());
    assert_eq!(names(&store), ["good"], "the other profile still loads");
    assert!(store.get("typo").is_none(), "never handed out to connect");
    let r = rejected(&store, "typo");
    assert_eq!(r.line, 1);
    let msgs: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
    // In file order: without the typo's value the DSN is empty, which is refused too (and
    // never the default local socket); then the typo itself.
    assert_eq!(
        msgs,
        [
            "line 4, column 1: postgres[main].primary_dsn: the connection string must not be empty",
            "line 6, column 1: unknown key \"primary_dns\" in postgres[main]; \
             did you mean \"primary_dsn\"?",
        ]
    );
}

#[test]
fn uri_for_url_is_refused() {
    let text = format!(
        "{GOOD}\n[[profile]]\nname = \"checks\"\n[[profile.health]]\nname = \"api\"\nuri = \"http://api/healthz\"\n"
    );
    let (dir, _) = with_file(&text);
    let store = ProfileStore::load(dir.path());
    assert_eq!(names(&store), ["good"]);
    let r = rejected(&store, "checks");
    assert_eq!(r.line, 8);
    let typo = r
        .issues
        .iter()
        .find(|i| i.message.contains("\"uri\""))
        .unwrap();
    assert_eq!((typo.line, typo.column), (12, 1), "{r}");
    assert_eq!(
        typo.message,
        "unknown key \"uri\" in health[api]; did you mean \"url\"?"
    );
    // No silent "0/1 up": the check has no address, and says so.
    assert!(
        r.issues.iter().any(|i| i.to_string()
            == "line 10, column 1: health[api].url: the address must not be empty"),
        "{r}"
    );
}

#[test]
fn misspelt_tables_are_refused() {
    // A misspelt sub-table rejects its profile; a misspelt top-level table is a file issue.
    let text = format!(
        r#"last_used = "good"
{GOOD}
[[profile]]
name = "lb"
[[profile.helth]]
name = "front"
url = "http://front/"

[[profiles]]
name = "lost"
"#
    );
    let (dir, _) = with_file(&text);
    let store = ProfileStore::load(dir.path());
    assert_eq!(names(&store), ["good"]);
    assert_eq!(
        store.last_used_profile().map(|p| p.name.as_str()),
        Some("good")
    );
    let issue = only_issue(rejected(&store, "lb"));
    assert_eq!((issue.line, issue.column), (11, 11), "{issue}");
    assert!(
        issue
            .message
            .contains("unknown key \"helth\" in the profile; did you mean \"health\"?"),
        "{issue}"
    );
    let file = &store.issues().file;
    assert_eq!(file.len(), 1, "{file:?}");
    assert_eq!((file[0].line, file[0].column), (15, 3));
    assert!(
        file[0]
            .message
            .contains("unknown key \"profiles\" in the file; did you mean \"profile\"?"),
        "{}",
        file[0]
    );
}

#[test]
fn embedded_password_is_refused_on_load() {
    let text = format!(
        "[[profile]]\nname = \"leaky\"\n[[profile.postgres]]\nname = \"main\"\nprimary_dsn = \"postgres://app:hunter2@db1/app\"\n{GOOD}"
    );
    let (dir, _) = with_file(&text);
    let store = ProfileStore::load(dir.path());
    assert_eq!(names(&store), ["good"]);
    let issue = only_issue(rejected(&store, "leaky"));
    assert_eq!((issue.line, issue.column), (5, 1));
    assert_eq!(
        issue.message,
        "postgres[main].primary_dsn: the password must not be in the profile: remove it from \
         the address and save it with `scaleboard secret set leaky/main`"
    );
    // The same for a Redis URL and a libpq string.
    let text = "[[profile]]\nname = \"r\"\n[[profile.redis]]\nname = \"c\"\n  url = \"redis://:pw@cache:6379\"\n\
                [[profile.postgres]]\nname = \"p\"\nprimary_dsn = \"host=db password=x\"\n";
    let (dir, _) = with_file(text);
    let store = ProfileStore::load(dir.path());
    let r = rejected(&store, "r");
    let at: Vec<(usize, usize)> = r.issues.iter().map(|i| (i.line, i.column)).collect();
    assert_eq!(at, [(5, 3), (8, 1)], "{r}");
}

#[test]
fn zero_interval_and_zero_timeout_are_refused_on_load() {
    let text = format!(
        "[[profile]]\nname = \"fast\"\nrefresh_interval_secs = 0\n[[profile.health]]\nname = \"h\"\nurl = \"http://h/\"\ntimeout_ms = 0\n{GOOD}"
    );
    let (dir, path) = with_file(&text);
    let mut store = ProfileStore::load(dir.path());
    assert_eq!(names(&store), ["good"]);
    let r = rejected(&store, "fast");
    let got: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "line 3, column 1: refresh_interval_secs: the refresh interval must be between 1 \
             and 60 seconds, not 0",
            "line 7, column 1: health[h].timeout_ms: the timeout must be more than 0 ms",
        ]
    );
    // Later saves of the other profiles still work, and leave the refused one as written.
    let mut good = store.get("good").unwrap().clone();
    good.read_only = true;
    store.upsert(good).unwrap();
    let after = fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with(&text[..text.find(GOOD).unwrap()]),
        "{after}"
    );
    assert_eq!(ProfileStore::load(dir.path()).profiles().len(), 1);
    // The refused one cannot be overwritten from the window either.
    assert!(matches!(
        store.upsert(Profile::named("fast")),
        Err(StoreError::Rejected(_))
    ));
}

#[test]
fn duplicate_names_reject_the_later_one() {
    let text = format!("{GOOD}{GOOD}");
    let (dir, _) = with_file(&text);
    let store = ProfileStore::load(dir.path());
    assert_eq!(names(&store), ["good"]);
    let issue = only_issue(&store.issues().rejected[0]);
    assert_eq!((issue.line, issue.column), (9, 1));
    assert!(
        issue.message.contains("another profile (line 2)"),
        "{issue}"
    );
}

const COMMENTED: &str = r#"# Scaleboard profiles for the ops team.
# Keep prod first.

last_used = "prod"   # opened at start

[[profile]]
name = "prod"
refresh_interval_secs = 5 # every five seconds
read_only = true

# The main cluster.
[[profile.postgres]]
name = "main"
primary_dsn = "postgres://app@db1/app"
replica_dsns = [
    "host=db2 user=app dbname=app", # the replica in zone b
]

[[profile.health]]
name   = "web"
url    = "https://web.example/healthz"
timeout_ms = 1500    # the LB gives up at 2 s

# Staging: just a cache.
[[profile]]
name = "staging"
[[profile.redis]]
name = "cache"     # shared
url = "redis://cache:6379/0"
"#;

/// `text` with each `(from, to)` replaced exactly once.
fn replaced(text: &str, edits: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in edits {
        assert_eq!(out.matches(from).count(), 1, "{from}");
        out = out.replacen(from, to, 1);
    }
    out
}

#[test]
fn window_edit_changes_only_what_changed() {
    let (dir, path) = with_file(COMMENTED);
    let mut store = ProfileStore::load(dir.path());
    assert!(store.issues().is_empty(), "{:?}", store.issues());
    let mut prod = store.get("prod").unwrap().clone();
    prod.refresh_interval_secs = 10;
    prod.health[0].timeout_ms = 2500;
    prod.thresholds.cpu_percent = 60.0;
    prod.health.push(HealthEndpoint {
        name: "api".into(),
        url: "https://api.example/healthz".into(),
        ..HealthEndpoint::default()
    });
    store.upsert(prod.clone()).unwrap();

    let after = fs::read_to_string(&path).unwrap();
    let expected = replaced(
        COMMENTED,
        &[
            (
                "refresh_interval_secs = 5 # every five seconds",
                "refresh_interval_secs = 10 # every five seconds",
            ),
            (
                "timeout_ms = 1500    # the LB gives up at 2 s\n",
                "timeout_ms = 2500    # the LB gives up at 2 s\n\n\
                 [[profile.health]]\nname = \"api\"\nurl = \"https://api.example/healthz\"\n\
                 expected_status = 200\ntimeout_ms = 2000\ninterval_secs = 0\ntls_verify = true\n\n\
                 [profile.thresholds]\ncpu_percent = 60.0\n",
            ),
        ],
    );
    assert_eq!(after, expected);
    let again = ProfileStore::load(dir.path());
    assert_eq!(again.get("prod"), Some(&prod));
    assert_eq!(again.get("staging"), store.get("staging"));
}

#[test]
fn untouched_parts_stay_byte_for_byte() {
    // Whatever the edit, the text before the edited profile and after it is unchanged.
    let (dir, path) = with_file(COMMENTED);
    let mut store = ProfileStore::load(dir.path());
    let mut staging = store.get("staging").unwrap().clone();
    staging.redis[0].url = "redis://cache2:6379/0".into();
    staging.read_only = true;
    store.upsert(staging).unwrap();
    let after = fs::read_to_string(&path).unwrap();
    let split = COMMENTED.find("# Staging").unwrap();
    assert_eq!(&after[..split], &COMMENTED[..split]);
    assert_eq!(
        &after[split..],
        "# Staging: just a cache.\n[[profile]]\nname = \"staging\"\nread_only = true\n\
         [[profile.redis]]\nname = \"cache\"     # shared\nurl = \"redis://cache2:6379/0\"\n"
    );
}

#[test]
fn switching_profile_rewrites_one_value_only() {
    let (dir, path) = with_file(COMMENTED);
    let mut store = ProfileStore::load(dir.path());
    store.set_last_used(Some("staging")).unwrap();
    let after = fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        replaced(
            COMMENTED,
            &[(
                "last_used = \"prod\"   # opened at start",
                "last_used = \"staging\"   # opened at start"
            )]
        )
    );
    // Choosing the profile already recorded writes nothing at all.
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    store.set_last_used(Some("staging")).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);

    // A file without last_used gets it under its opening comment, nothing else changes.
    let no_last = COMMENTED.replace("last_used = \"prod\"   # opened at start\n\n", "");
    fs::write(&path, &no_last).unwrap();
    let mut store = ProfileStore::load(dir.path());
    store.set_last_used(Some("prod")).unwrap();
    let after = fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        replaced(
            &no_last,
            &[(
                "# Keep prod first.\n\n[[profile]]",
                "# Keep prod first.\nlast_used = \"prod\"\n\n[[profile]]"
            )]
        )
    );
}

#[test]
fn rename_duplicate_delete_keep_the_rest() {
    let (dir, path) = with_file(COMMENTED);
    let mut store = ProfileStore::load(dir.path());
    store.rename("prod", "production").unwrap();
    let after = fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        replaced(
            COMMENTED,
            &[
                ("last_used = \"prod\"", "last_used = \"production\""),
                ("name = \"prod\"", "name = \"production\""),
            ]
        )
    );
    store.duplicate("staging", "staging 2").unwrap();
    let dup = fs::read_to_string(&path).unwrap();
    assert!(dup.starts_with(&after), "appended after staging:\n{dup}");
    assert_eq!(names(&store), ["production", "staging", "staging 2"]);
    store.delete("staging 2").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), after);
    store.delete("production").unwrap();
    let left = fs::read_to_string(&path).unwrap();
    assert!(
        left.starts_with("# Scaleboard profiles for the ops team.\n# Keep prod first.\n"),
        "{left}"
    );
    assert!(
        left.ends_with(&COMMENTED[COMMENTED.find("# Staging").unwrap()..]),
        "{left}"
    );
    assert!(!left.contains("last_used"), "{left}");
}

#[test]
fn hand_edits_made_while_open_are_kept() {
    let (dir, path) = with_file(COMMENTED);
    let mut store = ProfileStore::load(dir.path());
    // The user edits the file by hand while the window is open...
    let by_hand = COMMENTED.replace("read_only = true", "read_only = false # by hand");
    fs::write(&path, &by_hand).unwrap();
    // ...then saves a change to another field from the window.
    let mut prod = store.get("prod").unwrap().clone();
    prod.refresh_interval_secs = 3;
    store.upsert(prod).unwrap();
    let after = fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        replaced(
            &by_hand,
            &[("refresh_interval_secs = 5 #", "refresh_interval_secs = 3 #")]
        )
    );
    assert!(!store.get("prod").unwrap().read_only);
}

#[test]
fn new_file_is_written_with_only_what_differs_from_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = ProfileStore::load(dir.path());
    let mut p = Profile::named("fresh");
    p.health.push(HealthEndpoint {
        name: "h".into(),
        url: "http://h/".into(),
        ..HealthEndpoint::default()
    });
    store.upsert(p.clone()).unwrap();
    store.set_last_used(Some("fresh")).unwrap();
    let text = fs::read_to_string(dir.path().join(PROFILES_FILE)).unwrap();
    assert_eq!(
        text,
        "# Scaleboard connection profiles.\n\
         # Passwords and tokens are kept in the OS keyring, never in this file.\n\
         last_used = \"fresh\"\n\n\
         [[profile]]\nname = \"fresh\"\n\n\
         [[profile.health]]\nname = \"h\"\nurl = \"http://h/\"\nexpected_status = 200\n\
         timeout_ms = 2000\ninterval_secs = 0\ntls_verify = true\n"
    );
    assert_eq!(ProfileStore::load(dir.path()).get("fresh"), Some(&p));
}

fn assert_refused_quickly(dir: &Path, started: Instant) {
    let store = ProfileStore::load(dir);
    let elapsed = started.elapsed();
    let d = store.damaged().expect("an oversized file is refused");
    assert!(d.message.contains("larger than the 4 MiB"), "{d}");
    assert!(store.profiles().is_empty());
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

#[test]
fn oversized_file_is_refused_quickly() {
    // 50 MB, as in the report (sparse: the size alone refuses it, nothing is parsed).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(PROFILES_FILE);
    fs::File::create(&path)
        .unwrap()
        .set_len(50_000_000)
        .unwrap();
    assert_refused_quickly(dir.path(), Instant::now());
    let mut store = ProfileStore::load(dir.path());
    assert!(matches!(
        store.upsert(Profile::named("x")),
        Err(StoreError::Damaged(_))
    ));
    assert_eq!(fs::metadata(&path).unwrap().len(), 50_000_000);

    // Real TOML one byte over the limit is refused the same way.
    let mut text = String::from(GOOD);
    while (text.len() as u64) <= MAX_FILE_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    fs::write(&path, &text).unwrap();
    assert_refused_quickly(dir.path(), Instant::now());

    // Just under it still loads.
    let under = &text[..text[..MAX_FILE_BYTES as usize].rfind('\n').unwrap() + 1];
    fs::write(&path, under).unwrap();
    let started = Instant::now();
    let store = ProfileStore::load(dir.path());
    assert!(store.damaged().is_none());
    assert_eq!(names(&store), ["good"]);
    eprintln!(
        "a {} byte file loads in {:?}",
        under.len(),
        started.elapsed()
    );
}

#[test]
fn cli_refuses_a_profile_with_errors() {
    let text = format!(
        "last_used = \"fast\"\n[[profile]]\nname = \"fast\"\nrefresh_interval_secs = 0\n{GOOD}"
    );
    let (dir, _) = with_file(&text);
    let store = ProfileStore::load(dir.path());
    for name in [Some("fast"), None] {
        let err = scaleboard::cli::choose_profile(&store, name, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "profile \"fast\" (line 2) has errors and was not loaded:\n  \
                 line 4, column 1: refresh_interval_secs"
            ),
            "{err}"
        );
    }
    let good = scaleboard::cli::choose_profile(&store, Some("good"), false).unwrap();
    assert_eq!(good.name, "good");
}

#[test]
fn window_shows_the_errors_and_does_not_connect() {
    use egui_kittest::kittest::Queryable;
    let text = format!(
        "last_used = \"leaky\"\n[[profile]]\nname = \"leaky\"\ndemo = true\n[[profile.redis]]\nname = \"c\"\nurl = \"redis://:pw@c:6379\"\n{GOOD}"
    );
    let mut t = support::start(Some(&text), None);
    assert!(t.app().profiles.active.demo);
    assert_eq!(t.app().profiles.active.name, "Demo fleet");
    assert!(
        t.app().notifications.list.iter().any(|n| n.text.contains(
            "profile \"leaky\" (line 2) has errors and was not loaded: line 7, column 1"
        )),
        "notified"
    );
    assert_eq!(t.app().profiles.list.len(), 1);
    t.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num9);
    t.run_until("profiles panel", |a| {
        a.view.panel == scaleboard::app::PanelId::Profiles
    });
    t.harness
        .get_by_label_contains("profile \"leaky\" (line 2): not loaded, not connected");
    t.harness.get_by_label(
        "line 7, column 1: redis[c].url: the password must not be in the profile: remove it \
         from the address and save it with `scaleboard secret set leaky/c`",
    );
    // Fixed in an editor, then reloaded from the panel: no restart.
    let file = support::config_dir(&t.dir).join("profiles.toml");
    let fixed = fs::read_to_string(&file)
        .unwrap()
        .replace("redis://:pw@c:6379", "redis://c:6379");
    fs::write(&file, fixed).unwrap();
    t.harness.get_by_label("Reload profiles.toml").click();
    t.run_until("reloaded", |a| a.profiles.list.len() == 2);
    assert!(t.app().profiles.issues.is_empty());
    assert!(
        t.app().notifications.list.iter().any(|n| n
            .text
            .contains("profiles.toml reloaded: 2 profiles, no errors")),
        "the reload is reported"
    );
}

#[test]
fn readme_reference_examples_load_without_an_error() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("### `profiles.toml` reference")
        .expect("reference section");
    let section = &readme[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let blocks: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert_eq!(
        blocks.len(),
        11,
        "one example per endpoint kind, plus thresholds"
    );
    for block in blocks {
        let (dir, _) = with_file(block);
        let store = ProfileStore::load(dir.path());
        assert!(store.damaged().is_none(), "{block}");
        assert!(store.issues().is_empty(), "{:?}\n{block}", store.issues());
        assert_eq!(store.profiles().len(), 1, "{block}");
    }
}

#[test]
fn list_and_table_edits_keep_the_users_form() {
    let text = r#"[[profile]]
name = "a"

# first check
[[profile.health]]
name = "one"
url = "http://one/"

# second check: the one we keep
[[profile.health]]
name = "two"
url = "http://two/"   # port 80

[[profile.postgres]]
name = "pg"
primary_dsn = "host=db user=app"

# the secret, as a table
[profile.postgres.password]
account = "a/postgres/pg"

[[profile]]
name = "b"
"#;
    let (dir, path) = with_file(text);
    let mut store = ProfileStore::load(dir.path());
    assert!(store.issues().is_empty(), "{:?}", store.issues());
    let mut a = store.get("a").unwrap().clone();
    a.health.remove(0);
    a.postgres[0].password.as_mut().unwrap().account = "a/postgres/main".into();
    store.upsert(a.clone()).unwrap();
    let after = fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        replaced(
            text,
            &[
                (
                    "# first check\n[[profile.health]]\nname = \"one\"\nurl = \"http://one/\"\n\n",
                    ""
                ),
                (
                    "account = \"a/postgres/pg\"",
                    "account = \"a/postgres/main\""
                ),
            ]
        )
    );
    assert_eq!(ProfileStore::load(dir.path()).get("a"), Some(&a));

    // A copy of the first profile lands between the two, the rest unchanged.
    store.duplicate("a", "a copy").unwrap();
    let dup = fs::read_to_string(&path).unwrap();
    assert!(dup.starts_with(&after[..after.find("[[profile]]\nname = \"b\"").unwrap()]));
    assert!(dup.ends_with("[[profile]]\nname = \"b\"\n"), "{dup}");
    let again = ProfileStore::load(dir.path());
    assert_eq!(names(&again), ["a", "a copy", "b"]);
    let mut copy = a.clone();
    copy.name = "a copy".into();
    assert_eq!(again.get("a copy"), Some(&copy));
}

#[test]
fn every_kind_of_change_reads_back_as_saved() {
    // One profile with every endpoint kind (the README's examples merged), then one change of
    // each kind; each save is loaded back and compared before it is written.
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("### `profiles.toml` reference").unwrap()..];
    let mut text = String::from("# all kinds\n[[profile]]\nname = \"all\"\n");
    for block in section.split("```toml\n").skip(1).take(11) {
        let block = &block[..block.find("```").unwrap()];
        for line in block.lines().skip(2) {
            if !line.starts_with("refresh_interval_secs") && !line.starts_with("read_only") {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let (dir, _) = with_file(&text);
    let mut store = ProfileStore::load(dir.path());
    assert!(store.issues().is_empty(), "{:?}\n{text}", store.issues());
    let base = store.get("all").unwrap().clone();
    assert!(base.rabbitmq.is_some() && base.prometheus.is_some() && base.kubernetes.len() == 1);
    assert_eq!(base.pgbouncer.len(), 1);

    type Change = fn(&mut Profile);
    let changes: [(&str, Change); 13] = [
        ("contexts", |p| p.kubernetes[0].contexts.clear()),
        ("kubeconfig", |p| p.kubernetes[0].kubeconfig = None),
        ("docker_host", |p| p.compose[0].docker_host = None),
        ("docker_context", |p| {
            p.compose[0].docker_context = Some("remote".into());
        }),
        ("replica", |p| {
            p.postgres[0]
                .replica_dsns
                .push("host=db3 user=monitor".into());
        }),
        ("queue workload", |p| {
            p.redis[0].queues[0].linked_workload.as_mut().unwrap().name = "mailer-v2".into();
        }),
        ("queue removed", |p| {
            p.redis[0].queues.remove(0);
        }),
        ("rabbit link", |p| {
            p.rabbitmq.as_mut().unwrap().links[0].jobs_per_worker_per_sec = Some(2.5);
        }),
        ("prom query", |p| {
            p.prometheus.as_mut().unwrap().queries[0].unit = "msgs".into();
        }),
        ("health off", |p| {
            p.health[0].ca_file = None;
            p.health[0].tls_verify = false;
        }),
        ("threshold", |p| p.thresholds.memory_percent = 75.5),
        ("patroni url", |p| {
            p.patroni[0].urls.push("https://pg2:8008".into());
            p.patroni[0].port = 8010;
        }),
        ("endpoint gone", |p| {
            p.rabbitmq = None;
            p.kubernetes.clear();
        }),
    ];
    let mut expected = base;
    for (what, change) in changes {
        change(&mut expected);
        store
            .upsert(expected.clone())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let again = ProfileStore::load(dir.path());
        assert_eq!(again.get("all"), Some(&expected), "{what}");
    }
    let after = fs::read_to_string(dir.path().join(PROFILES_FILE)).unwrap();
    assert!(
        after.starts_with("# all kinds\n[[profile]]\nname = \"all\"\n"),
        "{after}"
    );
    assert!(
        !after.contains("[profile.rabbitmq]") && !after.contains("kubernetes"),
        "{after}"
    );
}

#[test]
fn patroni_endpoints_need_a_url_or_a_postgres_endpoint_to_discover_from() {
    let text = r#"[[profile]]
name = "ha"
[[profile.postgres]]
name = "billing"
primary_dsn = "postgres://monitor@pg1/postgres"
[[profile.patroni]]
name = "none"
[[profile.patroni]]
name = "typo"
discover_from = "biling"
[[profile.patroni]]
name = "bad"
urls = ["ftp://pg1:8008", "http://u:secret@pg1:8008"]
port = 0
[[profile.patroni]]
name = "fine"
discover_from = "billing"
"#;
    let (dir, _) = with_file(text);
    let store = ProfileStore::load(dir.path());
    let issues = format!("{:?}", store.issues());
    assert!(
        issues.contains("patroni[none].urls: name the REST API"),
        "{issues}"
    );
    assert!(
        issues.contains("no postgres endpoint of this profile is named \\\"biling\\\" (did you mean \\\"billing\\\"?)"),
        "{issues}"
    );
    assert!(
        issues.contains("patroni[bad].urls[1]: the address must start with http:// or https://"),
        "{issues}"
    );
    assert!(
        issues.contains("patroni[bad].urls[2]: the password must not be in the profile: remove it from the address and save it with `scaleboard secret set ha/bad`"),
        "{issues}"
    );
    assert!(issues.contains("patroni[bad].port"), "{issues}");
    assert!(!issues.contains("patroni[fine]"), "{issues}");
    // A misspelt key is found like anywhere else.
    let (dir, _) = with_file(
        "[[profile]]\nname = \"x\"\n[[profile.patroni]]\nname = \"p\"\nurl = [\"http://a:8008\"]\n",
    );
    let issues = format!("{:?}", ProfileStore::load(dir.path()).issues());
    assert!(issues.contains("did you mean \\\"urls\\\""), "{issues}");
}

#[test]
fn duplicate_mysql_server_names_and_addresses_are_refused_with_position() {
    let text = r#"[[profile]]
name = "names"
[[profile.mysql]]
name = "accounts"
primary_url = "mysql://root@db1:3306?name=db2"
replica_urls = ["mysql://root@db2:3306?name=db3",
  "mysql://root@db3?name=db2"]

[[profile]]
name = "addresses"
[[profile.mysql]]
name = "orders"
primary_url = "mysql://root@DB1?name=a"
replica_urls = ["mysql://admin@db1:3306/app?name=b"]

[[profile]]
name = "fine"
[[profile.mysql]]
name = "accounts"
primary_url = "mysql://root@db1?name=db1"
replica_urls = ["mysql://root@db1:3307?name=db2", "mysql://root@db2"]
"#;
    let (dir, _) = with_file(text);
    let store = ProfileStore::load(dir.path());
    assert_eq!(names(&store), ["fine"], "{:?}", store.issues());
    let issue = only_issue(rejected(&store, "names"));
    assert_eq!((issue.line, issue.column), (7, 3), "{issue}");
    assert!(
        issue.message.contains(
            "mysql[accounts].replica_urls[2]: the server name \"db2\" is already used by \
             mysql[accounts].primary_url"
        ),
        "{issue}"
    );
    let issue = only_issue(rejected(&store, "addresses"));
    assert_eq!((issue.line, issue.column), (14, 17), "{issue}");
    assert!(
        issue.message.contains(
            "mysql[orders].replica_urls[1]: db1:3306 is already listed in mysql[orders].primary_url"
        ),
        "{issue}"
    );
}

/// A save killed with SIGKILL between writing its temp file and renaming it leaves
/// `.profiles.toml.tmp-PID-N` (and the credentials file its `.credentials.toml.PID.tmp`): the
/// next start removes those of processes that no longer run, and keeps those of a running one.
#[test]
fn temp_files_of_dead_processes_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::create_dir_all(&config).unwrap();
    // A pid that surely no longer runs: a child that has exited and been reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let alive = std::process::id();
    let stale = [
        format!(".profiles.toml.tmp-{dead}-0"),
        format!(".cost-models.toml.tmp-{dead}-3"),
        format!(".credentials.toml.{dead}.tmp"),
    ];
    let kept = [
        format!(".profiles.toml.tmp-{alive}-0"),
        ".profiles.toml.tmp-x-0".to_owned(),
        "notes.tmp".to_owned(),
    ];
    for name in stale.iter().chain(&kept) {
        fs::write(config.join(name), "half a save").unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_KEYRING", "off")
        .env_remove("SCALEBOARD_DATA_DIR")
        .args(["cost", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for name in &stale {
        assert!(!config.join(name).exists(), "{name} was left behind");
    }
    for name in &kept {
        assert!(config.join(name).exists(), "{name} was removed");
    }
}
