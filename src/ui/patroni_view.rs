//! Patroni clusters in the Databases panel: members (role, state, timeline, lag, tags, pending
//! restart), the timeline history, a scheduled switchover, lag plots, and the Switchover… /
//! Failover… / Cancel scheduled buttons, which open the same confirm dialog as Promote.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use crate::actions::Action;
use crate::actions::plan::{format_bytes, format_lsn};
use crate::app::ScaleboardApp;
use crate::metrics::SeriesKey;
use crate::model::patroni::{PatroniMember, PatroniSnapshot};

/// History lines shown (newest first); the snapshot keeps more.
const HISTORY_SHOWN: usize = 8;

/// The lag plot's series: every member this view knows (the leader, whose lag is none, and
/// members that dropped out included), sorted by name, so a member keeps its place and its
/// colour when another member drops out or a switchover moves the leader.
pub fn lag_lines<'a>(endpoint: &str, p: &'a PatroniSnapshot) -> Vec<(SeriesKey, &'a str)> {
    p.known_member_names()
        .into_iter()
        .map(|name| {
            (
                SeriesKey::new(format!("{endpoint}/{name}"), "lag_bytes"),
                name,
            )
        })
        .collect()
}

/// A member Patroni could hand the leader lock to: running, not tagged nofailover, and its
/// own REST API answering (Patroni asks it before promoting).
fn can_lead(p: &PatroniSnapshot, m: &PatroniMember) -> bool {
    m.is_running() && !m.nofailover && !p.silent.iter().any(|s| s.name == m.name)
}

pub fn patroni_clusters_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    // Drawn from the fleet's own snapshots (borrowed, never cloned per frame); the chart cache
    // is a different field, and the one action a click proposes waits until the loop is done.
    let read_only = app.profiles.active.read_only;
    let now = app.clock.now_ms();
    let range = app.view.range;
    let mut proposed = None;
    for (e, p) in app.fleet.patroni_snapshots() {
        let endpoint = e.info.id.as_str();
        ui.separator();
        let holder = super::in_progress::on_endpoint(&app.fleet.in_progress, endpoint);
        cluster_ui(ui, endpoint, p, read_only, holder, &mut proposed);
        let lines = lag_lines(endpoint, p);
        let plot: Vec<PlotLine<'_>> = lines
            .iter()
            .map(|(k, l)| PlotLine {
                key: k.clone(),
                label: l,
            })
            .collect();
        time_plot_ui(
            ui,
            &format!("patroni_lag{endpoint}"),
            "Patroni replica lag",
            "bytes",
            &plot,
            &app.store,
            &mut app.charts,
            range,
            now,
            150.0,
        );
    }
    if let Some(action) = proposed {
        app.propose(action);
    }
}

fn cluster_ui(
    ui: &mut egui::Ui,
    endpoint: &str,
    p: &PatroniSnapshot,
    read_only: bool,
    holder: Option<&str>,
    proposed: &mut Option<Action>,
) {
    ui.heading(format!("Patroni cluster {} ({endpoint})", p.cluster));
    if let Some(holder) = holder {
        super::in_progress::line_ui(ui, holder);
    }
    ui.label(format!(
        "{}{} · read from {}",
        p.config_text(),
        if p.paused {
            " · PAUSED (maintenance mode)"
        } else {
            ""
        },
        p.answered_by
    ));
    let leader = p.leader();
    match leader {
        None => {
            ui.colored_label(
                theme::BAD,
                "No leader: no member holds the leader lock. Fail over to a healthy member.",
            );
        }
        Some(l) if !l.is_running() => {
            ui.colored_label(
                theme::BAD,
                format!(
                    "Leader {} is {}: fail over to a healthy member.",
                    l.name, l.state
                ),
            );
        }
        Some(_) => {}
    }
    if p.split_brain() {
        let writers: Vec<&str> = p.silent_writers().iter().map(|s| s.name.as_str()).collect();
        ui.colored_label(
            theme::BAD,
            egui::RichText::new(format!(
                "SPLIT BRAIN: {} accepts writes outside Patroni while {} leads. Fence it now \
                 (stop that PostgreSQL or block it at the load balancer).",
                writers.join(", "),
                leader.map_or("another member", |l| l.name.as_str())
            ))
            .strong(),
        );
    }
    for silent in &p.silent {
        ui.colored_label(theme::BAD, silent.describe());
    }
    let healthy_leader = leader.filter(|l| l.is_running()).map(|l| l.name.clone());
    egui::Grid::new(("patroni_grid", endpoint))
        .striped(true)
        .num_columns(8)
        .show(ui, |ui| {
            for h in [
                "Member", "Role", "State", "Timeline", "Lag", "Tags", "Host", "",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for m in &p.members {
                member_row_ui(ui, p, m);
                if !read_only && !m.role.is_leader() && !can_lead(p, m) {
                    ui.label(why_not_candidate(p, m))
                        .on_hover_text("Patroni would refuse a switchover or failover to it");
                } else if !read_only && !m.role.is_leader() {
                    match &healthy_leader {
                        Some(l) => {
                            if ui
                                .button("Switchover…")
                                .on_hover_text(format!(
                                    "Hand the leader lock from {l} to {}",
                                    m.name
                                ))
                                .clicked()
                            {
                                *proposed = Some(Action::PatroniSwitchover {
                                    endpoint: endpoint.to_string(),
                                    cluster: p.cluster.clone(),
                                    leader: l.clone(),
                                    candidate: Some(m.name.clone()),
                                    scheduled_at: None,
                                });
                            }
                        }
                        None => {
                            if ui
                                .button("Failover…")
                                .on_hover_text(format!("Make {} the leader", m.name))
                                .clicked()
                            {
                                *proposed = Some(Action::PatroniFailover {
                                    endpoint: endpoint.to_string(),
                                    cluster: p.cluster.clone(),
                                    candidate: m.name.clone(),
                                });
                            }
                        }
                    }
                } else {
                    ui.label("");
                }
                ui.end_row();
            }
        });
    if !read_only {
        ui.horizontal(|ui| {
            if let Some(l) = &healthy_leader {
                let id = ui.scope_id().with(("patroni_at", endpoint));
                let mut at: String = ui.data_mut(|d| d.get_temp(id).unwrap_or_default());
                if ui
                    .button("Switchover… (Patroni's choice)")
                    .on_hover_text(
                        "Patroni picks the healthiest member; with a time below, it is scheduled",
                    )
                    .clicked()
                {
                    *proposed = Some(Action::PatroniSwitchover {
                        endpoint: endpoint.to_string(),
                        cluster: p.cluster.clone(),
                        leader: l.clone(),
                        candidate: None,
                        scheduled_at: (!at.trim().is_empty()).then(|| at.trim().to_string()),
                    });
                }
                ui.label("at (optional, ISO 8601):");
                ui.add(
                    egui::TextEdit::singleline(&mut at)
                        .hint_text("2026-12-01T03:00:00+00:00")
                        .desired_width(200.0),
                );
                ui.data_mut(|d| d.insert_temp(id, at));
            }
            if p.scheduled_switchover.is_some() && ui.button("Cancel scheduled").clicked() {
                *proposed = Some(Action::PatroniCancelSwitchover {
                    endpoint: endpoint.to_string(),
                    cluster: p.cluster.clone(),
                });
            }
        });
    }
    if let Some(sw) = &p.scheduled_switchover {
        ui.colored_label(
            theme::WARN,
            format!(
                "Switchover scheduled at {}{}{}",
                sw.at,
                sw.from
                    .as_deref()
                    .map_or(String::new(), |f| format!(" from {f}")),
                sw.to
                    .as_deref()
                    .map_or(String::new(), |t| format!(" to {t}"))
            ),
        );
    }
    if !p.history.is_empty() {
        egui::CollapsingHeader::new(format!("Timeline history ({})", p.history.len()))
            .id_salt(("patroni_history", endpoint))
            .show(ui, |ui| {
                for h in p.history.iter().rev().take(HISTORY_SHOWN) {
                    ui.label(format!(
                        "timeline {} ended at {}{}{} ({})",
                        h.timeline,
                        format_lsn(h.lsn),
                        h.timestamp
                            .as_deref()
                            .map_or(String::new(), |t| format!(" on {t}")),
                        h.new_leader
                            .as_deref()
                            .map_or(String::new(), |l| format!(", new leader {l}")),
                        h.reason
                    ));
                }
            });
    }
}

/// Why a member's row has no Switchover…/Failover… button, in a word or two.
fn why_not_candidate(p: &PatroniSnapshot, m: &PatroniMember) -> &'static str {
    if m.nofailover {
        "nofailover: cannot lead"
    } else if p.silent.iter().any(|s| s.name == m.name) {
        "Patroni not answering"
    } else {
        "not running"
    }
}

fn member_row_ui(ui: &mut egui::Ui, p: &PatroniSnapshot, m: &PatroniMember) {
    ui.label(&m.name);
    if m.role.is_leader() {
        ui.label(egui::RichText::new(m.role.label()).strong());
    } else {
        ui.label(m.role.label());
    }
    if m.is_running() {
        ui.label(&m.state);
    } else {
        ui.colored_label(theme::BAD, &m.state);
    }
    ui.label(m.timeline.map_or("—".into(), |t| t.to_string()));
    let lag = m.lag_bytes.map_or("—".into(), format_bytes);
    if m.lag_bytes.is_some_and(|l| l > p.lag_limit()) {
        ui.colored_label(theme::WARN, lag)
            .on_hover_text("over maximum_lag_on_failover: Patroni will not promote it");
    } else {
        ui.label(lag);
    }
    let mut tags = m.tags_text();
    if m.pending_restart {
        if !tags.is_empty() {
            tags.push_str(", ");
        }
        tags.push_str("pending restart");
    }
    if m.nofailover || m.pending_restart {
        ui.colored_label(theme::WARN, tags);
    } else {
        ui.label(tags);
    }
    ui.label(m.address());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::patroni::{PatroniRole, SilentMember};

    fn member(name: &str, role: PatroniRole) -> PatroniMember {
        PatroniMember {
            name: name.into(),
            role,
            state: "running".into(),
            ..PatroniMember::default()
        }
    }

    /// The plot colours series by their place in the list: a member keeps its place (so its
    /// colour) when another member drops out of /cluster, or when the leader moves.
    #[test]
    fn a_member_keeps_its_plot_line_when_another_drops_out() {
        let before = PatroniSnapshot {
            members: vec![
                member("m1", PatroniRole::Leader),
                member("m2", PatroniRole::Replica),
                member("m3", PatroniRole::Replica),
            ],
            ..PatroniSnapshot::default()
        };
        let after = PatroniSnapshot {
            members: vec![
                member("m1", PatroniRole::Replica),
                member("m3", PatroniRole::Leader),
            ],
            silent: vec![SilentMember {
                name: "m2".into(),
                last_role: Some(PatroniRole::Replica),
                ..SilentMember::default()
            }],
            ..PatroniSnapshot::default()
        };
        let place = |p: &PatroniSnapshot, name: &str| {
            lag_lines("ha", p).iter().position(|(_, n)| *n == name)
        };
        for name in ["m1", "m2", "m3"] {
            assert_eq!(place(&before, name), place(&after, name), "{name}");
        }
    }
}
