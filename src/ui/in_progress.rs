//! A colleague's action running now (team mode, `FleetState::in_progress`): marked where its
//! target is shown — on the workload's row, under a database cluster's heading — so an
//! operator sees it before opening a dialog that would refuse anyway.

use std::collections::HashMap;

use super::theme;
use crate::model::snapshot::WorkloadRef;

/// The holder of a lock on this workload, or on its whole endpoint (a Compose project's
/// scale locks the endpoint): "in progress: OPERATOR@HOST since … — what".
pub fn on_workload<'a>(
    in_progress: &'a HashMap<String, String>,
    id: &WorkloadRef,
) -> Option<&'a str> {
    if in_progress.is_empty() {
        return None;
    }
    in_progress
        .get(&id.target())
        .or_else(|| in_progress.get(&format!("{}/*", id.endpoint)))
        .map(String::as_str)
}

/// The holder of any lock inside this endpoint (promote, switchover: `ENDPOINT/*`).
pub fn on_endpoint<'a>(
    in_progress: &'a HashMap<String, String>,
    endpoint: &str,
) -> Option<&'a str> {
    let prefix = format!("{endpoint}/");
    in_progress
        .iter()
        .filter(|(identity, _)| identity.starts_with(&prefix))
        .min_by(|a, b| a.0.cmp(b.0))
        .map(|(_, holder)| holder.as_str())
}

/// "in progress: alice@ops1" beside a row's name, the whole holder line on hover.
pub fn badge_ui(ui: &mut egui::Ui, holder: &str) {
    let who = holder
        .strip_prefix("in progress: ")
        .and_then(|rest| rest.split(" since ").next())
        .unwrap_or("another console");
    ui.colored_label(theme::WARN, format!("in progress: {who}"))
        .on_hover_text(format!("{holder}\nA colleague's action is changing this now: a plan here is refused until it ends."));
}

/// The holder line in full, for a panel section (a database cluster).
pub fn line_ui(ui: &mut egui::Ui, holder: &str) {
    ui.colored_label(theme::WARN, holder).on_hover_text(
        "A colleague's action is changing this cluster now: a plan here is refused until it ends.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::WorkloadKind;

    #[test]
    fn a_workload_is_marked_by_its_own_lock_or_its_endpoints() {
        let api = WorkloadRef {
            endpoint: "prod".into(),
            scope: "nexus".into(),
            name: "api".into(),
            kind: WorkloadKind::Deployment,
        };
        let held = |identity: &str| {
            HashMap::from([(
                identity.to_string(),
                "in progress: a@h since 10:00:00 UTC — scale".to_string(),
            )])
        };
        assert!(on_workload(&held(&api.target()), &api).is_some());
        assert!(on_workload(&held("prod/*"), &api).is_some());
        assert!(on_workload(&held("prod/nexus/deployment/web"), &api).is_none());
        assert!(on_workload(&held("stage/*"), &api).is_none());
        assert!(on_endpoint(&held("prod/*"), "prod").is_some());
        assert!(on_endpoint(&held("prod/*"), "pro").is_none());
    }
}
