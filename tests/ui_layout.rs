//! Layout at scale and on ordinary screens: the Overview of a 3,000-workload cluster shows the
//! fleet and the workloads that matter (not the first names), kinds without an endpoint take no
//! plot; the Workloads table follows the keyboard a page at a time; the Queues table's advice
//! and Apply stay on a 1280 px screen; emoji and CJK names draw without missing glyphs.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use scaleboard::app::{EndpointState, PanelId, ScaleboardApp};
use scaleboard::engine::{Area, ConnStatus, EndpointInfo};
use scaleboard::health::{EndpointHealth, HealthState};
use scaleboard::metrics::SeriesKey;
use scaleboard::model::snapshot::{Snapshot, Workload, WorkloadKind, WorkloadRef};
use std::time::Duration;
use support::{START_MS, TestApp, start};

const EMPTY_PROFILE: &str = "last_used = \"big\"\n\n[[profile]]\nname = \"big\"\n";

fn workload(i: usize, desired: u32, ready: u32, cpu: f64, name: &str) -> Workload {
    Workload {
        id: WorkloadRef::new(
            "k8s",
            format!("prod/team-{:02}", i % 30),
            WorkloadKind::Deployment,
            name,
        ),
        revision: None,
        resource_version: None,
        stale_since: None,
        desired,
        ready,
        available: ready,
        updated: ready,
        cpu_percent: Some(cpu),
        memory_percent: Some(40.0),
        autoscaler: None,
        fixed_host_port: None,
        pending_reason: None,
        docker: None,
        scale_denied: None,
        autoscale_denied: None,
    }
}

/// 3,000 healthy workloads named fill-00000…, plus a few that matter, sorted last by name.
fn big_cluster() -> Vec<Workload> {
    let mut list: Vec<Workload> = (0..3000)
        .map(|i| {
            workload(
                i,
                3,
                3,
                10.0 + (i % 50) as f64 * 0.5,
                &format!("fill-{i:05}"),
            )
        })
        .collect();
    list.push(workload(1, 10, 2, 30.0, "zz-crashing"));
    list.push(workload(2, 6, 3, 25.0, "zz-rolling"));
    list.push(workload(3, 2, 2, 97.0, "zz-hot"));
    list
}

fn endpoint(snapshot: Vec<Workload>, status: ConnStatus, updated_at: i64) -> EndpointState {
    let state = match status {
        ConnStatus::Ok => HealthState::Ok,
        ConnStatus::Stale => HealthState::Stale,
        ConnStatus::Down => HealthState::Down,
        ConnStatus::Connecting => HealthState::Connecting,
    };
    EndpointState {
        info: EndpointInfo {
            id: "k8s".into(),
            label: "Kubernetes (fake)".into(),
            area: Area::Workloads,
            demo: false,
        },
        status,
        last_error: None,
        updated_at: Some(updated_at),
        snapshot: Some(Snapshot::Workloads(snapshot.into())),
        health: EndpointHealth {
            state,
            reasons: Vec::new(),
            members: Vec::new(),
            critical: false,
        },
    }
}

/// An endpoint of `area` with no snapshot, in `state` with one reason.
fn area_endpoint(id: &str, area: Area, state: HealthState, reason: &str) -> EndpointState {
    EndpointState {
        info: EndpointInfo {
            id: id.into(),
            label: id.into(),
            area,
            demo: false,
        },
        status: ConnStatus::Ok,
        last_error: None,
        updated_at: Some(START_MS),
        snapshot: None,
        health: EndpointHealth {
            state,
            reasons: vec![reason.to_owned()],
            members: Vec::new(),
            critical: false,
        },
    }
}

/// A profile with no endpoint, then the fleet set directly (after the engine's endpoint list,
/// which would replace it, has arrived).
fn start_with(fleet: impl Fn() -> EndpointState) -> TestApp {
    start_with_all(|| vec![fleet()])
}

fn start_with_all(fleet: impl Fn() -> Vec<EndpointState>) -> TestApp {
    let mut t = start(Some(EMPTY_PROFILE), Some("big"));
    let n = fleet().len();
    for _ in 0..20 {
        t.harness.state_mut().fleet.endpoints = fleet();
        for _ in 0..10 {
            t.harness.step();
            std::thread::sleep(Duration::from_millis(5));
        }
        if t.app().fleet.endpoints.len() == n {
            break;
        }
    }
    assert_eq!(t.app().fleet.endpoints.len(), n, "the fleet was replaced");
    t
}

fn plot_labels(app: &ScaleboardApp, id: &str) -> Vec<String> {
    scaleboard::ui::overview_panel::overview_plots(app)
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.lines.into_iter().map(|(_, l)| l).collect())
        .unwrap_or_default()
}

#[test]
fn overview_of_3000_workloads_shows_totals_and_the_ones_that_matter() {
    let mut t = start_with(|| endpoint(big_cluster(), ConnStatus::Ok, START_MS));
    t.harness.step();
    t.harness.step();
    let app = t.app();
    // Totals of the whole fleet, as numbers and as two series.
    let all = &app.overview.totals.all;
    assert_eq!(all.workloads, 3003);
    assert_eq!(all.desired, 3000 * 3 + 10 + 6 + 2);
    assert_eq!(all.ready, 3000 * 3 + 2 + 3 + 2);
    assert_eq!(all.not_ready, 2);
    for metric in ["desired", "ready", "not_ready"] {
        let key = SeriesKey::new(scaleboard::app::overview::FLEET_TARGET, metric);
        assert!(app.store.latest(&key).is_some(), "no fleet {metric} series");
    }
    // Per namespace: 30 of them, the one with the crashing workload first.
    assert_eq!(app.overview.totals.scopes.len(), 30);
    assert_eq!(app.overview.totals.scopes[0].label, "prod/team-01");
    t.harness.get_by_label_contains("Fleet: 3,003 workloads");
    t.harness.get_by_label("prod/team-01");

    // The plots: fleet totals, then the top workloads, never the first names.
    let ids: Vec<&str> = scaleboard::ui::overview_panel::overview_plots(app)
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["ov_fleet", "ov_replicas", "ov_cpu"], "{ids:?}");
    let fleet = plot_labels(app, "ov_fleet");
    assert_eq!(fleet, ["desired", "ready", "not ready"]);
    let replicas = plot_labels(app, "ov_replicas");
    assert!(replicas[0].starts_with("zz-crashing"), "{replicas:?}");
    assert!(replicas[1].starts_with("zz-rolling"), "{replicas:?}");
    // Only two are not ready: two lines, not three healthy first names to fill the plot.
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    let cpu = plot_labels(app, "ov_cpu");
    assert!(cpu[0].starts_with("zz-hot"), "{cpu:?}");
    assert!(
        !replicas
            .iter()
            .chain(&cpu)
            .any(|l| l.starts_with("fill-00000")),
        "the first names are not what matters: {replicas:?} {cpu:?}"
    );
    // Kinds without an endpoint: one line, no plot, no tile.
    t.harness
        .get_by_label("No endpoint for databases, caches, queues, health checks in this profile.");
    assert!(
        t.harness
            .query_by_label_contains("Replication lag")
            .is_none()
    );
    assert!(t.harness.query_by_label_contains("Queue depth").is_none());

    // Another measure, and a pin of one of the 3,000.
    t.harness.state_mut().view.overview_rank = scaleboard::app::overview::Rank::HighestCpu;
    let pinned = t
        .app()
        .fleet
        .workloads()
        .find(|w| w.id.name == "fill-01234")
        .unwrap()
        .id
        .clone();
    t.harness.state_mut().view.pinned.insert(pinned.clone());
    t.harness.step();
    t.harness.step();
    let replicas = plot_labels(t.app(), "ov_replicas");
    assert!(replicas[0].starts_with("zz-hot"), "{replicas:?}");
    assert!(
        replicas.last().unwrap().starts_with("fill-01234")
            && replicas.last().unwrap().ends_with("(pinned)"),
        "{replicas:?}"
    );
    // The pinned workload's series exists even though nobody selected it.
    assert!(
        t.app()
            .store
            .contains(&SeriesKey::new(pinned.target(), "replicas"))
    );
    t.harness.get_by_label("fill-01234 ×");
}

#[test]
fn a_flat_zero_line_gets_a_zero_based_axis() {
    use egui_plot::PlotPoint;
    let zeros = [PlotPoint::new(0.0, 0.0), PlotPoint::new(1.0, 0.0)];
    assert_eq!(
        scaleboard::ui::charts::non_negative_top(zeros.iter()),
        Some(1.0)
    );
    let some = [PlotPoint::new(0.0, 5.0), PlotPoint::new(1.0, 10.0)];
    assert_eq!(
        scaleboard::ui::charts::non_negative_top(some.iter()),
        Some(11.0)
    );
    let signed = [PlotPoint::new(0.0, -1.0)];
    assert_eq!(
        scaleboard::ui::charts::non_negative_top(signed.iter()),
        None
    );
}

/// The name on row `i` of the table as sorted on screen.
fn row_name(app: &ScaleboardApp, i: usize) -> String {
    let mut rows: Vec<&Workload> = app.fleet.workloads().collect();
    app.workload_sort.apply(&mut rows);
    rows[i].id.name.clone()
}

fn selected_index(app: &ScaleboardApp) -> Option<usize> {
    let id = app.selected_workload.as_ref()?;
    let mut rows: Vec<&Workload> = app.fleet.workloads().collect();
    app.workload_sort.apply(&mut rows);
    rows.iter().position(|w| &w.id == id)
}

#[test]
fn workloads_table_follows_the_keyboard_a_page_at_a_time() {
    let mut t = start_with(|| endpoint(big_cluster(), ConnStatus::Ok, START_MS));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    // The table uses the panel's height: far more than the old 11 rows at 900 px.
    let page = t.app().view.workload_page_rows;
    assert!(page >= 18, "only {page} rows per page");
    t.harness.get_by_label(&row_name(t.app(), 0));
    assert!(t.harness.query_by_label(&row_name(t.app(), 60)).is_none());

    t.harness.key_press(Key::ArrowDown);
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(0));
    t.harness.key_press(Key::ArrowDown);
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(1));
    // The selected row's details take room: the page is what fits now.
    t.harness.step();
    let page = t.app().view.workload_page_rows;
    t.harness.key_press(Key::PageDown);
    t.harness.step();
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(1 + page));
    // The view followed: the new row is laid out (only visible rows are).
    let name = row_name(t.app(), 1 + page);
    assert!(
        t.harness.query_all_by_label(&name).next().is_some(),
        "{name} not visible after Page Down"
    );
    assert!(t.harness.query_by_label(&row_name(t.app(), 0)).is_none());
    t.harness.key_press(Key::PageUp);
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(1));
    t.harness.key_press(Key::End);
    t.harness.step();
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(3002));
    let last = row_name(t.app(), 3002);
    assert!(t.harness.query_all_by_label(&last).next().is_some());
    t.harness.key_press(Key::Home);
    t.harness.step();
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(0));
    assert!(
        t.harness
            .query_all_by_label(&row_name(t.app(), 0))
            .next()
            .is_some()
    );

    // Typing in the filter keeps the keys for the text field.
    t.harness.get_by_role(Role::TextInput).click();
    t.harness.run_steps(2);
    t.harness.key_press(Key::End);
    t.harness.step();
    assert_eq!(selected_index(t.app()), Some(0));
}

#[test]
fn stale_rows_are_greyed_with_their_age() {
    let mut t = start_with(|| endpoint(big_cluster(), ConnStatus::Stale, START_MS - 34_000));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    t.harness.get_by_label_contains("k8s is not answering");
    assert!(
        t.harness
            .query_all_by_label("prod/team-00 · 34 s old")
            .next()
            .is_some()
    );
}

#[test]
fn queue_advice_and_apply_stay_on_a_1280_px_screen() {
    let toml = "last_used = \"demo\"\n\n[[profile]]\nname = \"demo\"\ndemo = true\n\n[profile.thresholds]\nqueue_drain_target_minutes = 0.1\n";
    let mut t = start(Some(toml), None);
    t.harness.set_size(egui::vec2(1280.0, 800.0));
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num5);
    t.run_until("queues panel", |a| a.view.panel == PanelId::Queues);
    t.run_until("queues listed", |a| a.fleet.queues().count() >= 2);
    t.advance(3);
    let apply = t.harness.query_all_by_label("Apply").next().unwrap();
    let rect = apply.rect();
    assert!(
        rect.left() >= 140.0 && rect.right() <= 1280.0,
        "Apply is off screen at 1280 px: {rect:?}"
    );
    let advice = t
        .harness
        .query_all_by_label_contains("scale workers from ")
        .next()
        .unwrap()
        .rect();
    assert!(
        advice.left() < 1280.0 - 100.0,
        "advice starts at {advice:?}"
    );
}

#[test]
fn emoji_and_cjk_names_render_without_missing_glyphs() {
    // egui_kittest panics on any missing glyph: every name below must find a font or the
    // code-point fallback.
    let names = [
        "🚀-launcher",
        "支付服务",
        "注文-api",
        "결제-worker",
        "データ処理",
        "🦀🔥✅-crab",
        "🫨-shaking", // Unicode 15: in no bundled font, drawn as its code point
    ];
    let mut t = start_with(move || {
        endpoint(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| workload(i, 1, 1, 10.0, n))
                .collect(),
            ConnStatus::Ok,
            START_MS,
        )
    });
    t.harness.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    t.run_until("workloads panel", |a| a.view.panel == PanelId::Workloads);
    for name in names {
        t.harness.get_by_label(name);
    }
    // Fonts cover all but the newest emoji, which the drawn code-point box shows.
    let ctx = t.harness.ctx.clone();
    let font = egui::FontId::proportional(14.0);
    let missing: String = ctx.fonts_mut(|f| {
        names
            .concat()
            .chars()
            .filter(|c| !f.has_glyph(&font, *c))
            .collect()
    });
    // egui's Noto Emoji predates 🦀 (U+1F980) and 🫨 (U+1FAE8): both are drawn as code points.
    assert_eq!(missing, "🦀🫨");
}

/// A 300-character reason, as a real connector writes them (an error chain with addresses).
fn long_reason() -> String {
    let mut r = String::from(
        "cannot reach PostgreSQL \"orders\" (10.20.30.40:5432): connection refused after 3 attempts; ",
    );
    while r.len() < 300 {
        r.push_str(
            "the replica pg-replica-2 has not answered, check the network and the server log; ",
        );
    }
    r.truncate(300);
    r
}

#[test]
fn every_overview_tile_fits_a_1024_px_window_even_with_a_300_character_reason() {
    let reason = long_reason();
    assert_eq!(reason.chars().count(), 300);
    let fleet = {
        let reason = reason.clone();
        move || {
            let mut k8s = endpoint(big_cluster(), ConnStatus::Ok, START_MS);
            k8s.health.state = HealthState::Degraded;
            k8s.health.reasons = vec![reason.clone()];
            vec![
                k8s,
                area_endpoint("pg", Area::Databases, HealthState::Down, &reason),
                area_endpoint("redis", Area::Cache, HealthState::Degraded, &reason),
                area_endpoint("jobs", Area::Queues, HealthState::Stale, &reason),
                area_endpoint(
                    "checks",
                    Area::Health,
                    HealthState::Degraded,
                    "2 of 7 checks down",
                ),
            ]
        }
    };
    let mut t = start_with_all(fleet);
    t.harness.set_size(egui::vec2(1024.0, 768.0));
    t.harness.run_steps(4);
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1024.0, 768.0));
    for panel in ["Workloads", "Databases", "Cache", "Queues", "Health"] {
        let tile = t
            .harness
            .get_by_role_and_label(Role::Group, &format!("{panel} tile"))
            .rect();
        assert!(
            window.contains_rect(tile) && tile.width() >= 100.0,
            "the {panel} tile is not (wholly) in the 1024 px window: {tile:?}"
        );
        // The link that opens the panel is inside it.
        let link = t.harness.get_by_role_and_label(Role::Link, panel).rect();
        assert!(
            tile.contains_rect(link),
            "{panel}: link {link:?} outside {tile:?}"
        );
    }
    // The reason is cut at the tile's edge, not dropped: its words start inside a tile, and the
    // whole text is there on hover.
    let cut = t
        .harness
        .query_all_by_label_contains("cannot reach PostgreSQL")
        .map(|n| n.rect())
        .collect::<Vec<_>>();
    assert!(!cut.is_empty(), "no reason shown");
    for r in &cut {
        assert!(window.contains_rect(*r), "a reason runs off: {r:?}");
    }
    let health = t
        .harness
        .get_by_role_and_label(Role::Group, "Health tile")
        .rect();
    let checks = t.harness.get_by_label("2 of 7 checks down").rect();
    assert!(
        health.contains_rect(checks),
        "{checks:?} outside {health:?}"
    );
    let whole = |t: &TestApp| t.harness.query_all_by_label(&reason).count();
    let before = whole(&t);
    t.harness
        .query_all_by_label_contains("cannot reach PostgreSQL")
        .next()
        .unwrap()
        .hover();
    // egui waits half a second before showing a tooltip: 60 frames of 1/60 s.
    t.harness.run_steps(60);
    assert!(
        whole(&t) > before,
        "the full reason is not shown on hover ({before} before)"
    );
}

#[test]
fn a_cluster_without_metrics_server_gets_a_line_instead_of_an_empty_cpu_plot() {
    use support::fake_kube::{self, FakeKube};
    // The fake API server serves no metrics.k8s.io, as a cluster without metrics-server.
    let east = FakeKube::start();
    east.put(&fake_kube::deployment("shop", "web", 2, 2));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("east", &east)])).unwrap();
    let profiles = format!(
        "[[profile]]\nname = \"k8s-cpu\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
         kubeconfig = \"{}\"\ncontexts = [\"east\"]\n",
        kubeconfig.display()
    );
    let mut t = start(Some(&profiles), Some("k8s-cpu"));
    t.advance_until("the workload, and the connector's notice", |a| {
        a.fleet.workloads().any(|w| w.id.name == "web")
            && a.overview.no_metrics_server.contains_key("east")
    });
    t.harness.run_steps(3);
    t.harness
        .get_by_label("No CPU metrics: metrics-server is not installed in context east.");
    assert!(
        t.harness
            .query_by_label_contains("CPU per replica")
            .is_none(),
        "an empty CPU plot is still drawn"
    );
    // Plots that have a source stay.
    t.harness.get_by_label_contains("Replicas, whole fleet");
}

/// Every text painted in the last frame that is visible, with its rectangle (clipped shapes
/// whose text lies outside their clip rectangle are not visible).
fn painted_texts(t: &TestApp) -> Vec<(String, egui::Rect)> {
    fn walk(shape: &egui::Shape, clip: egui::Rect, out: &mut Vec<(String, egui::Rect)>) {
        match shape {
            egui::Shape::Vec(list) => {
                for s in list {
                    walk(s, clip, out);
                }
            }
            egui::Shape::Text(text) => {
                let rect = text.galley.rect.translate(text.pos.to_vec2());
                if clip.contains_rect(rect) {
                    out.push((text.galley.text().to_owned(), rect));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for clipped in &t.harness.output().shapes {
        walk(&clipped.shape, clipped.clip_rect, &mut out);
    }
    out
}

/// The y axis labels of the plot under the title containing `title`: texts painted (and not
/// clipped away) left of the plot area, below the title.
fn y_axis_labels(t: &TestApp, title: &str) -> Vec<String> {
    let title = t.harness.get_by_label_contains(title).rect();
    painted_texts(t)
        .into_iter()
        .filter(|(_, r)| {
            r.top() > title.bottom()
                && r.top() < title.bottom() + 140.0
                && r.left() >= title.left() - 2.0
                && r.right() < title.left() + 90.0
        })
        .map(|(s, _)| s)
        // Numbers with an optional unit suffix: not the legend, not the time axis ("-2m").
        .filter(|s| {
            let digits = s.trim_end_matches(['k', 'M', 'G', 'T', 'P']);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .collect()
}

#[test]
fn plots_of_large_values_keep_their_y_axis_labels() {
    // The fleet plot on a short window (plots at their 140-point minimum): 80,000 replicas
    // (any large measure: bytes of lag, jobs) put the axis top at 88,000, where powers-of-ten
    // grid steps left only "0" labelled; then three billion, whose ten-digit labels the axis
    // had no room for.
    for (desired, suffix) in [(80_000, "k"), (3_000_000_000, "G")] {
        let mut t = start_with(move || {
            endpoint(
                vec![workload(0, desired, desired / 2, 10.0, "huge")],
                ConnStatus::Ok,
                START_MS,
            )
        });
        t.harness.set_size(egui::vec2(1024.0, 600.0));
        t.harness.run_steps(4);
        let labels = y_axis_labels(&t, "Replicas, whole fleet");
        assert!(
            labels.iter().any(|l| l == "0")
                && labels.iter().filter(|l| l.ends_with(suffix)).count() >= 1,
            "{desired}: the y axis shows {labels:?}"
        );
        assert!(
            labels.iter().all(|l| l.len() <= 5),
            "{desired}: labels too wide for the axis: {labels:?}"
        );
    }
}
