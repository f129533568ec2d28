//! `[[profile.nginx]]` in profiles.toml: a full section loads, a typo is refused with its line,
//! column and "did you mean", and links are checked against the profile's Docker endpoints.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use scaleboard::profiles::store::PROFILES_FILE;
use scaleboard::profiles::{ProfileStore, UpstreamAddressing};

fn load(text: &str) -> (tempfile::TempDir, ProfileStore) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(PROFILES_FILE), text).unwrap();
    let store = ProfileStore::load(dir.path());
    (dir, store)
}

const PROFILE: &str = r#"[[profile]]
name = "shop"

[[profile.compose]]
name = "docker"

[[profile.nginx]]
name = "front"
config = "/etc/nginx/nginx.conf"
pid_file = "/run/nginx.pid"
reload_command = "systemctl reload nginx"
stub_status_url = "http://127.0.0.1:8080/nginx_status"
drain_timeout_secs = 20

[[profile.nginx.links]]
upstream = "nexus_api"
workload = { endpoint = "docker", scope = "nexus", name = "api-gateway" }
port = 3001
network = "nexus_default"
"#;

#[test]
fn a_full_section_loads() {
    let (_d, store) = load(PROFILE);
    let p = store
        .get("shop")
        .unwrap_or_else(|| panic!("{:?}", store.issues()));
    let n = &p.nginx[0];
    assert_eq!(n.name, "front");
    assert_eq!(n.reload_command.as_deref(), Some("systemctl reload nginx"));
    assert_eq!(n.drain_timeout_secs, 20);
    let l = &n.links[0];
    assert_eq!((l.upstream.as_str(), l.port), ("nexus_api", 3001));
    assert_eq!(l.addressing, UpstreamAddressing::ContainerIp);
    assert_eq!(l.workload.name, "api-gateway");
}

#[test]
fn a_typo_is_refused_with_line_and_column() {
    let text = PROFILE.replace("reload_command", "reload_comand");
    let (_d, store) = load(&text);
    assert!(store.get("shop").is_none());
    let r = store.issues().rejected("shop").unwrap();
    let typo = r
        .issues
        .iter()
        .find(|i| i.message.contains("reload_comand"))
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!((typo.line, typo.column), (11, 1), "{r}");
    assert!(
        typo.message.ends_with("did you mean \"reload_command\"?"),
        "{}",
        typo.message
    );
    // In a link too.
    let text = PROFILE.replace("port = 3001", "prot = 3001");
    let (_d, store) = load(&text);
    let r = store.issues().rejected("shop").unwrap();
    let msgs: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("line 18, column 1: unknown key \"prot\"")
                && m.contains("did you mean \"port\"?")),
        "{msgs:?}"
    );
}

#[test]
fn links_and_sources_are_checked() {
    let text = PROFILE
        .replace("endpoint = \"docker\"", "endpoint = \"dokker\"")
        .replace("config = \"/etc/nginx/nginx.conf\"\n", "");
    let (_d, store) = load(&text);
    let r = store.issues().rejected("shop").unwrap();
    let msgs: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("nginx[front].config: name the configuration file")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains(
            "no Docker endpoint of this profile is named \"dokker\" (did you mean \"docker\"?)"
        )),
        "{msgs:?}"
    );
    let text = PROFILE.replace("port = 3001", "port = 3001\naddressing = \"dns\"");
    let (_d, store) = load(&text);
    let r = store.issues().rejected("shop").unwrap();
    assert!(
        r.to_string()
            .contains("a dns upstream needs the name nginx resolves"),
        "{r}"
    );
}
