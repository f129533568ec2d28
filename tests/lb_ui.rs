//! The load balancer in the window without real servers: the demo's simulated nginx (its drift
//! in the Health panel, on the workload row and in the Alerts panel; a demo scale previews the
//! upstream diff and puts every replica behind it), and the profile form's nginx section.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::app::{PanelId, ScaleboardApp};
use scaleboard::profiles::{NginxEndpoint, ProfileStore, UpstreamAddressing, UpstreamLink};
use support::{TestApp, start};

const DRIFT: &str = "LB: 1 of 2 replicas behind staging_api; 1 listed server has no replica";

fn drift_firing(a: &ScaleboardApp) -> bool {
    a.advisor
        .advisor
        .book
        .firing()
        .any(|x| x.rule_id == "lb-drift")
}

fn lb_summary(a: &ScaleboardApp) -> Option<String> {
    a.fleet.load_balancers.first().map(|r| r.summary.clone())
}

#[test]
fn the_demo_shows_an_upstream_drift_and_a_scale_previews_and_fixes_it() {
    let mut t = start(None, None);
    t.run_until("the demo's load balancer and the api row", |a| {
        !a.fleet.load_balancers.is_empty() && a.fleet.workloads().any(|w| w.id.name == "api")
    });
    assert!(t.app().is_demo());
    t.harness.state_mut().view.panel = PanelId::Health;
    t.harness.run_steps(3);
    t.harness.get_by_label("Load balancers");
    t.harness
        .get_by_label("nginx demo-lb (DEMO) → demo-staging/demo-staging/api");
    t.harness.get_by_label(DRIFT);
    t.harness
        .get_by_label("    not behind nginx: 172.18.0.12:8080");
    t.harness
        .get_by_label("    listed without a replica: 172.18.0.19:8080");

    t.harness.state_mut().view.panel = PanelId::Workloads;
    t.harness.run_steps(3);
    t.harness.get_by_label("LB 1/2");

    // The advisor's drift rule: a warning naming the upstream and the counts, nothing to apply.
    t.advance_until("the drift rule fires", drift_firing);
    let alert = t
        .app()
        .advisor
        .advisor
        .book
        .firing()
        .find(|x| x.rule_id == "lb-drift")
        .unwrap()
        .clone();
    assert_eq!(alert.severity, scaleboard::advisor::Severity::Warning);
    assert_eq!(
        alert.target,
        "demo-staging/demo-staging/service/api/staging_api"
    );
    t.run_until("its proposal", |a| {
        a.advisor.proposals.contains_key(&alert.key())
    });
    let proposal = t.app().advisor.proposals[&alert.key()].clone();
    assert!(
        proposal.line.starts_with(
            "nginx demo-lb (DEMO), upstream staging_api: 1 of 2 replicas not behind it, 1 \
             listed server without a replica: rewrite the upstream"
        ),
        "{}",
        proposal.line
    );
    assert!(proposal.action.is_none(), "words only");

    // A demo scale of api shows the upstream step, labelled as simulated, with the diff.
    let api = t.app().fleet.load_balancers[0].workload_ref.clone();
    t.harness
        .state_mut()
        .propose(scaleboard::actions::Action::ScaleWorkload {
            workload: api,
            replicas: 3,
        });
    t.harness.run_steps(3);
    t.harness.get_by_label(
        "Load balancer: update nginx demo-lb (DEMO), upstream staging_api in the same action",
    );
    t.harness.get_by_label_contains(
        "DEMO: a simulated nginx — the upstream below changes in the simulation only",
    );
    t.harness.get_by_label_contains(
        "up: start the replicas → wait until they answer → write the upstream → `nginx -t`",
    );
    t.harness
        .get_by_label("    +     server 172.18.0.12:8080 max_fails=3 fail_timeout=10s;");
    t.harness
        .get_by_label("    +     server <replica 3>:8080 max_fails=3 fail_timeout=10s;");
    {
        let d = t.harness.state_mut().actions.dialog.as_mut().unwrap();
        d.typed_name = d.plan.action.target_name();
    }
    t.run_until("confirmable", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.state_mut().confirm();
    t.advance_until("the scale finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t
        .app()
        .actions
        .running
        .iter()
        .find_map(|r| r.record.clone())
        .unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    t.advance_until("every replica behind the upstream", |a| {
        lb_summary(a).as_deref() == Some("LB: 3 of 3 replicas behind staging_api")
    });
    t.advance_until("the drift rule resolves", |a| !drift_firing(a));
    t.harness.state_mut().view.panel = PanelId::Workloads;
    t.harness.run_steps(3);
    t.harness.get_by_label("LB 3/3");
}

/// Unticked, the demo's scale leaves the simulated upstream as it was: the drift grows.
#[test]
fn an_unticked_demo_scale_leaves_the_upstream_alone() {
    let mut t = start(None, None);
    t.run_until("the demo's load balancer", |a| {
        !a.fleet.load_balancers.is_empty()
    });
    let api = t.app().fleet.load_balancers[0].workload_ref.clone();
    t.harness
        .state_mut()
        .propose(scaleboard::actions::Action::ScaleWorkload {
            workload: api,
            replicas: 3,
        });
    t.harness.run_steps(3);
    t.harness
        .get_by_label(
            "Load balancer: update nginx demo-lb (DEMO), upstream staging_api in the same action",
        )
        .click_accesskit();
    t.harness.run_steps(2);
    {
        let d = t.harness.state_mut().actions.dialog.as_mut().unwrap();
        assert!(!d.load_balancer.as_ref().unwrap().follow);
        d.typed_name = d.plan.action.target_name();
    }
    t.run_until("confirmable", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.state_mut().confirm();
    t.advance_until("the scale finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    t.advance_until("the third replica runs, not behind nginx", |a| {
        lb_summary(a).as_deref()
            == Some("LB: 1 of 3 replicas behind staging_api; 1 listed server has no replica")
    });
}

fn editor_nginx(t: &TestApp) -> NginxEndpoint {
    t.app().profiles.editor.as_ref().unwrap().1.nginx[0].clone()
}

/// Focused through AccessKit: the form is taller than the window, a pointer click on a field
/// below its edge would miss.
fn type_into(t: &mut TestApp, label: &str, text: &str) {
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .focus();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    t.harness.run_steps(2);
}

#[test]
fn the_profile_editor_adds_an_nginx_validated_like_the_file_and_saves_it() {
    let mut t = start(None, None);
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.harness
        .state_mut()
        .profiles
        .editor
        .as_mut()
        .unwrap()
        .1
        .name = "lb-form".into();
    t.open_section("Docker Compose", "Add Docker engine");
    t.harness
        .get_by_label("Add Docker engine")
        .click_accesskit();
    t.run_until("docker engine added", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.compose.len() == 1)
    });
    t.open_section("nginx load balancers", "Add nginx");
    t.harness.get_by_label("Add nginx").click_accesskit();
    t.run_until("nginx added", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.nginx.len() == 1)
    });
    t.harness.get_by_label("Add upstream link").click();
    t.run_until("link added", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.nginx[0].links.len() == 1)
    });
    // The file's own checks, live: an empty link is refused until it names its upstream and
    // service.
    t.harness
        .get_by_label_contains("the upstream name must not be empty");
    t.harness.get_by_label_contains(
        "the workload needs an endpoint, a scope (Compose project, or \"swarm\") and a name",
    );
    type_into(&mut t, "Upstream", "nexus_api");
    type_into(&mut t, "Project (or swarm)", "shop");
    type_into(&mut t, "Service", "api");
    assert!(
        t.harness
            .query_by_label_contains("the upstream name must not be empty")
            .is_none()
    );
    // A file and a container at once: refused as in the file.
    type_into(&mut t, "Or container", "lb");
    t.harness.get_by_label_contains(
        "give either config (a file on this machine) or container, not both",
    );
    t.harness
        .state_mut()
        .profiles
        .editor
        .as_mut()
        .unwrap()
        .1
        .nginx[0]
        .container = None;
    t.harness.run_steps(2);
    // A command keeps its spaces as typed.
    type_into(
        &mut t,
        "Reload command",
        "nginx -s reload -c /etc/nginx/nginx.conf",
    );
    type_into(
        &mut t,
        "stub_status URL",
        "http://127.0.0.1:8080/nginx_status",
    );
    // A DNS-name upstream needs the name nginx resolves.
    // Through AccessKit: the form is taller than the window, the combo may be below its edge.
    t.harness
        .get_by_role_and_label(Role::ComboBox, "Addressing")
        .click_accesskit();
    t.harness.run_steps(2);
    t.harness
        .get_by_label("Docker DNS name (one server, resolved at reload)")
        .click_accesskit();
    t.harness.run_steps(2);
    t.harness
        .get_by_label_contains("a dns upstream needs the name nginx resolves");
    type_into(&mut t, "Host", "api");
    let problems =
        scaleboard::profiles::validate_profile(&t.app().profiles.editor.as_ref().unwrap().1);
    assert!(problems.is_empty(), "{problems:?}");
    let expected = NginxEndpoint {
        name: "nginx-1".into(),
        config: Some("/etc/nginx/nginx.conf".into()),
        reload_command: Some("nginx -s reload -c /etc/nginx/nginx.conf".into()),
        stub_status_url: Some("http://127.0.0.1:8080/nginx_status".into()),
        links: vec![UpstreamLink {
            upstream: "nexus_api".into(),
            workload: scaleboard::profiles::model::QueueWorkload {
                endpoint: "docker-1".into(),
                scope: "shop".into(),
                name: "api".into(),
                kind: None,
            },
            port: 8080,
            addressing: UpstreamAddressing::Dns,
            network: None,
            host: Some("api".into()),
        }],
        ..NginxEndpoint::default()
    };
    assert_eq!(editor_nginx(&t), expected);
    t.harness.get_by_label("Save profile").click_accesskit();
    t.run_until("saved", |a| {
        a.profiles.list.iter().any(|p| p.name == "lb-form")
    });
    // Read back from the file as the next start would.
    let store = ProfileStore::load(&support::config_dir(&t.dir));
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(text.contains("upstream = \"nexus_api\""), "{text}");
    let saved = store.get("lb-form").unwrap();
    assert_eq!(saved.nginx, vec![expected]);
    assert!(scaleboard::profiles::validate_profile(saved).is_empty());

    // Remove the link and the nginx again.
    t.harness.get_by_label("Edit").click();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.open_section("nginx load balancers", "Remove nginx");
    t.harness
        .get_by_label("Remove upstream link")
        .click_accesskit();
    t.run_until("link removed", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.nginx[0].links.is_empty())
    });
    t.harness.get_by_label("Remove nginx").click_accesskit();
    t.run_until("nginx removed", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.nginx.is_empty())
    });
}
