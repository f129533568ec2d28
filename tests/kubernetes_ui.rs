//! The window against the protocol-level fake API server: workloads of two contexts listed live,
//! a denied action shown disabled with its reason, the server's dry run in the dialog, and a
//! namespace scaled to zero from the bulk bar with the namespace typed to confirm.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::app::{PanelId, ScaleboardApp};
use support::fake_kube::{self, FakeKube, Res};
use support::start;

fn workload<'a>(
    app: &'a ScaleboardApp,
    scope: &str,
    name: &str,
) -> Option<&'a scaleboard::model::snapshot::Workload> {
    app.fleet
        .workloads()
        .find(|w| w.id.scope == scope && w.id.name == name)
}

#[test]
fn kubernetes_workloads_denied_buttons_dry_run_and_bulk_scale_in_the_window() {
    let east = FakeKube::start();
    let west = FakeKube::start();
    east.put(&fake_kube::deployment("nexus", "writer-service", 3, 3));
    west.put(&fake_kube::deployment("nexus", "writer-service", 5, 5));
    west.put(&fake_kube::deployment("billing", "invoicer", 2, 2));
    west.put(&fake_kube::deployment("billing", "reporter", 1, 1));
    east.state()
        .denied
        .insert(("patch".into(), "deployments/scale".into()));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        fake_kube::kubeconfig(&[("east", &east), ("west", &west)]),
    )
    .unwrap();
    let profiles = format!(
        "[[profile]]\nname = \"k8s-ui\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
         kubeconfig = \"{}\"\ncontexts = [\"east\", \"west\"]\n",
        kubeconfig.display()
    );
    let mut t = start(Some(&profiles), Some("k8s-ui"));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    // Polls after the first wait on the manual clock: move it, in case the first was early.
    t.advance_until("workloads of both contexts", |a| {
        a.view.panel == PanelId::Workloads
            && workload(a, "east/nexus", "writer-service").is_some()
            && workload(a, "west/nexus", "writer-service").is_some()
    });

    // east denies `patch deployments/scale`: the button is there, disabled, with the reason.
    t.harness
        .get_all_by_label("writer-service")
        .next()
        .unwrap()
        .click();
    t.run_until("east writer selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.scope == "east/nexus")
    });
    let scale = t.harness.get_by_label("Scale…");
    assert!(scale.accesskit_node().is_disabled());
    let reason = workload(t.app(), "east/nexus", "writer-service")
        .unwrap()
        .scale_denied
        .clone()
        .unwrap();
    assert!(
        reason.contains("may not patch deployments/scale"),
        "{reason}"
    );

    // west allows it: the dialog shows the server's dry run verdict.
    t.harness
        .get_all_by_label("writer-service")
        .nth(1)
        .unwrap()
        .click();
    t.run_until("west writer selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.scope == "west/nexus")
    });
    let scale = t.harness.get_by_label("Scale…");
    assert!(!scale.accesskit_node().is_disabled());
    scale.click();
    t.run_until("scale form", |a| a.actions.scale_form.is_some());
    t.harness.get_by_label("Preview scale").click();
    t.run_until("dry run answered", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| {
            d.dry_run_pending.is_none()
                && d.plan
                    .guards
                    .iter()
                    .any(|g| g.reason.contains("Dry run: the API server accepted"))
        })
    });
    t.harness.key_press(Key::Escape);
    t.run_until("dialog closed", |a| a.actions.dialog.is_none());

    // Bulk: tick west's billing namespace, scale all to 0, type "billing" to confirm.
    t.harness.get_by_label("invoicer").click();
    t.run_until("invoicer selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.name == "invoicer")
    });
    t.harness.get_by_label("Select namespace").click();
    t.run_until("namespace ticked", |a| a.actions.bulk_selected.len() == 2);
    t.harness.get_by_label("Preview bulk scale").click();
    t.run_until("bulk dialog with the dry run answered", |a| {
        a.actions
            .dialog
            .as_ref()
            .is_some_and(|d| d.dry_run_pending.is_none())
    });
    assert!(
        t.app()
            .actions
            .dialog
            .as_ref()
            .unwrap()
            .plan
            .guards
            .iter()
            .any(|g| g.reason.contains("accepted all 2 scales")),
        "{:?}",
        t.app().actions.dialog.as_ref().unwrap().plan.guards
    );
    let dialog = t.app().actions.dialog.as_ref().unwrap();
    assert_eq!(dialog.plan.before, "invoicer 2, reporter 1");
    assert_eq!(dialog.plan.after, "invoicer 0, reporter 0");
    assert!(!dialog.can_confirm(), "the namespace must be typed first");
    let label = "Type \"billing\" to confirm:";
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .click();
    t.harness.run_steps(2);
    t.harness
        .get_by_role_and_label(Role::TextInput, label)
        .type_text("billing");
    t.run_until("confirmable", |a| {
        a.actions.dialog.as_ref().is_some_and(|d| d.can_confirm())
    });
    t.harness.get_by_label("Confirm").click();
    t.run_until("grace", |a| a.actions.in_flight().count() == 1);
    t.advance_until("bulk scale finished", |a| {
        a.actions.running.iter().any(|r| r.record.is_some())
    });
    let record = t.app().actions.running[0].record.clone().unwrap();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    assert_eq!(record.before, "invoicer 2, reporter 1");
    for name in ["invoicer", "reporter"] {
        assert_eq!(
            west.get(Res::Deployments, "billing", name).unwrap()["spec"]["replicas"],
            0
        );
    }
    assert_eq!(
        west.get(Res::Deployments, "nexus", "writer-service")
            .unwrap()["spec"]["replicas"],
        5
    );
}

#[test]
fn the_profile_editor_picks_contexts_from_the_kubeconfig() {
    let east = FakeKube::start();
    let west = FakeKube::start();
    let mut t = start(None, None);
    let kubeconfig = t.dir.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        fake_kube::kubeconfig(&[("east", &east), ("west", &west)]),
    )
    .unwrap();
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num9);
    t.run_until("profiles panel", |a| a.view.panel == PanelId::Profiles);
    t.harness.get_by_label("New profile").click_accesskit();
    t.run_until("editor open", |a| a.profiles.editor.is_some());
    t.open_section("Kubernetes", "Add Kubernetes endpoint");
    t.harness
        .get_by_label("Add Kubernetes endpoint")
        .click_accesskit();
    t.run_until("endpoint added", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.kubernetes.len() == 1)
    });
    // The path as typed into the form.
    t.harness
        .state_mut()
        .profiles
        .editor
        .as_mut()
        .unwrap()
        .1
        .kubernetes[0]
        .kubeconfig = Some(kubeconfig.clone());
    t.harness.run_steps(2);
    t.harness
        .get_by_label("Pick contexts from the kubeconfig")
        .click();
    t.run_until("contexts read", |a| {
        a.profiles
            .kube_contexts
            .contains_key(&Some(kubeconfig.clone()))
    });
    t.harness.get_by_label("east (current)");
    t.harness.get_by_label("west").click();
    t.run_until("west ticked", |a| {
        a.profiles
            .editor
            .as_ref()
            .is_some_and(|(_, p)| p.kubernetes[0].contexts == ["west"])
    });
    // A kubeconfig that is not there is said in words, not a panic.
    t.harness
        .state_mut()
        .profiles
        .editor
        .as_mut()
        .unwrap()
        .1
        .kubernetes[0]
        .kubeconfig = Some(t.dir.path().join("missing.yaml"));
    t.harness.run_steps(2);
    t.harness
        .get_by_label("Pick contexts from the kubeconfig")
        .click();
    t.run_until("error read", |a| {
        a.profiles.kube_contexts.values().any(|r| {
            r.as_ref()
                .is_err_and(|e| e.contains("cannot read kubeconfig"))
        })
    });
    t.harness.get_by_label_contains("missing.yaml");
}

#[test]
fn a_context_that_is_not_watched_shows_in_the_status_bar_and_the_workloads_header() {
    let east = FakeKube::start();
    east.put(&fake_kube::deployment("nexus", "api-gateway", 4, 4));
    east.put(&fake_kube::hpa("nexus", "api-gateway", 2, 10, 60));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("east", &east)])).unwrap();
    let profiles = format!(
        "[[profile]]\nname = \"k8s-ui\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
         kubeconfig = \"{}\"\ncontexts = [\"east\", \"gone\"]\n",
        kubeconfig.display()
    );
    let mut t = start(Some(&profiles), Some("k8s-ui"));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.advance_until("east's workloads", |a| {
        a.view.panel == PanelId::Workloads && workload(a, "east/nexus", "api-gateway").is_some()
    });
    t.harness.run_steps(2);
    // The status bar names it beside the endpoint, not only a passing notification.
    t.harness.get_by_label("context gone not watched");
    // The Workloads header says which context and why.
    t.harness
        .get_by_label_contains("k8s: context gone not watched: missing: no context of this name");

    // The autoscale dialog: pre-filled from the HPA; only the field the operator changes is
    // proposed as changed, the others keep the HPA's values as they are at the preview.
    t.harness.get_by_label("api-gateway").click_accesskit();
    t.run_until("api-gateway selected", |a| {
        a.selected_workload
            .as_ref()
            .is_some_and(|w| w.name == "api-gateway")
    });
    t.harness.get_by_label("Autoscale…").click();
    t.run_until("autoscale form", |a| a.actions.autoscale_form.is_some());
    let form = t.app().actions.autoscale_form.as_ref().unwrap();
    assert_eq!((form.min, form.max, form.cpu), (2, 10, 60));
    t.harness
        .state_mut()
        .actions
        .autoscale_form
        .as_mut()
        .unwrap()
        .max = 12;
    // Someone else moves the CPU target meanwhile: the untouched field follows the HPA.
    east.modify(Res::Hpas, "nexus", "api-gateway", |h| {
        h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 50.into();
    });
    t.advance_until("the HPA's new CPU target", |a| {
        workload(a, "east/nexus", "api-gateway")
            .and_then(|w| w.autoscaler.as_ref())
            .is_some_and(|h| h.target_cpu_percent == 50)
    });
    t.harness.get_by_label("Preview autoscaler").click();
    t.run_until("autoscale plan", |a| a.actions.dialog.is_some());
    let plan = &t.app().actions.dialog.as_ref().unwrap().plan;
    assert_eq!(
        plan.action,
        scaleboard::actions::Action::SetAutoscaler {
            workload: workload(t.app(), "east/nexus", "api-gateway")
                .unwrap()
                .id
                .clone(),
            min_replicas: 2,
            max_replicas: 12,
            target_cpu_percent: 50,
        }
    );
    assert!(
        plan.after.contains("CPU target 50 % (unchanged)")
            && plan.after.contains("min 2 (unchanged)"),
        "{}",
        plan.after
    );
}

/// Issue #25: the workloads show before their pods, and the status bar says so until the pods
/// are in ("pod details loading (0 of 1 context in)"); then the words go.
#[test]
fn the_status_bar_says_pod_details_are_loading_until_they_arrive() {
    let east = FakeKube::start();
    east.put(&fake_kube::deployment("nexus", "api-gateway", 4, 4));
    east.state()
        .list_delay_by_resource
        .insert("pods", std::time::Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("east", &east)])).unwrap();
    let profiles = format!(
        "[[profile]]\nname = \"k8s-ui\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
         kubeconfig = \"{}\"\ncontexts = [\"east\"]\n",
        kubeconfig.display()
    );
    let mut t = start(Some(&profiles), Some("k8s-ui"));
    let loading = |a: &ScaleboardApp| {
        a.fleet.endpoints.iter().any(|e| {
            matches!(&e.snapshot, Some(scaleboard::model::snapshot::Snapshot::Workloads(l))
                if l.pod_details_progress().is_some())
        })
    };
    t.advance_until("east's workloads", |a| {
        workload(a, "east/nexus", "api-gateway").is_some()
    });
    assert!(loading(t.app()), "the pods came with the first view");
    t.harness.run_steps(2);
    t.harness
        .get_by_label("pod details loading (0 of 1 context in)");
    t.advance_until("the pods", |a| !loading(a));
    t.harness.run_steps(2);
    assert!(
        t.harness
            .query_by_label_contains("pod details loading")
            .is_none()
    );
}
