//! Cost reports end to end: every format written and read back (CSV by the csv crate, JSON
//! against docs/cost-report.schema.json and strictly into the report types, PDF through
//! `pdftotext`, HTML), formula injection, a damaged model file, live cost following a scale of
//! the demo fleet through the engine, and the CLI.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use chrono::TimeZone;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::actions::{Action, PlanPolicy, plan};
use scaleboard::app::{FleetState, live_inventory};
use scaleboard::cost::report::{CSV_HEADER, DataSource};
use scaleboard::cost::{
    Component, CostLine, CostModel, CostModelStore, CostReport, LiveInventory, LiveWorkload,
    ReportFormat, ReportInput, SEED_TEMPLATE_NAME, seed_template,
};
use scaleboard::engine::files::FileJob;
use scaleboard::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use scaleboard::profiles::Profile;
use serde_json::Value;
use std::path::Path;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEED_TOTALS: [&str; 4] = ["$85.00", "$200.00", "$480.00", "$1,050.00"];

fn input() -> ReportInput {
    ReportInput::planned(
        seed_template(),
        chrono::Utc.with_ymd_and_hms(2025, 6, 1, 9, 30, 0).unwrap(),
    )
}

fn report() -> CostReport {
    CostReport::build(&input()).unwrap()
}

#[test]
fn csv_parses_back_one_row_per_line_per_scenario() {
    let bytes = report().render(ReportFormat::Csv).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_HEADER
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4 * 5);
    let col = |name: &str| CSV_HEADER.iter().position(|h| *h == name).unwrap();
    let phase2: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| r[col("scenario")].starts_with("Phase 2"))
        .collect();
    assert_eq!(phase2.len(), 5);
    assert_eq!(&phase2[0][col("scenario_total")], "200.00");
    assert_eq!(&phase2[0][col("percent_of_mrr_seed_rule")], "6.6");
    assert_eq!(&phase2[0][col("percent_of_mrr_exact")], "6.6667");
    assert_eq!(&phase2[4][col("component")], "monitoring");
    assert_eq!(&phase2[4][col("monthly_cost")], "20.00");
    let totals: Vec<&str> = rows
        .iter()
        .step_by(5)
        .map(|r| &r[col("scenario_total")])
        .collect();
    assert_eq!(totals, ["85.00", "200.00", "480.00", "1050.00"]);
    assert!(rows.iter().all(|r| &r[col("hours_per_month")] == "730"
        && &r[col("currency")] == "USD"
        && &r[col("generated_at")] == "2025-06-01T09:30:00Z"));
}

#[test]
fn csv_neutralises_formula_injection() {
    let mut model = seed_template();
    model.name = "=HYPERLINK(\"http://evil\")".into();
    model.scenarios[0].name = "@SUM(A1:A9)".into();
    model.scenarios[0].lines[0].description = "+cmd|' /C calc'!A0".into();
    model.scenarios[0].lines[1].description = "-2+3".into();
    model.scenarios[0].lines[2].description = "\tTab, \"quoted\"".into();
    let mut input = input();
    input.model = model;
    let bytes = CostReport::build(&input)
        .unwrap()
        .render(ReportFormat::Csv)
        .unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][0], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(&rows[0][1], "'@SUM(A1:A9)");
    assert_eq!(&rows[0][4], "'+cmd|' /C calc'!A0");
    assert_eq!(&rows[1][4], "'-2+3");
    assert_eq!(&rows[2][4], "'\tTab, \"quoted\"");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }
}

/// Checks `value` against the subset of JSON Schema the report schema uses: type (one or a
/// list), const, enum, properties, required, additionalProperties: false, items.
fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("type {other} not handled"),
        });
        if !ok {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not {c}"));
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not in {allowed:?}"));
    }
    if let Value::Object(map) = value {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(req)) = schema.get("required") {
            for r in req {
                if !map.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{at}: missing {r}"));
                }
            }
        }
        for (k, v) in map {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, v, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected {k}"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            validate(s, v, &format!("{at}[{i}]"), errors);
        }
    }
}

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cost-report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn json_matches_its_schema_and_round_trips_strictly() {
    let mut with_live = input();
    with_live.live = Some(LiveInventory {
        source: "demo fleet".into(),
        workloads: vec![LiveWorkload {
            name: "nexus/api".into(),
            kind: "Deployment".into(),
            replicas: 3,
        }],
        database_servers: 2,
        cache_nodes: 1,
    });
    with_live.what_if.insert("nexus/api".into(), 5);
    let schema = schema();
    for input in [input(), with_live] {
        let r = CostReport::build(&input).unwrap();
        let bytes = r.render(ReportFormat::Json).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let mut errors = Vec::new();
        validate(&schema, &value, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
        // The documented types refuse unknown fields: a strict round trip.
        let back: CostReport = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, r);
    }
    // The validator does catch a wrong document.
    let mut bad = serde_json::to_value(report()).unwrap();
    bad["scenarios"][0]["extra"] = Value::Bool(true);
    bad["scenarios"][1]["total_minor"] = Value::String("200".into());
    let mut errors = Vec::new();
    validate(&schema, &bad, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(serde_json::from_value::<CostReport>(bad).is_err());

    let value = serde_json::to_value(report()).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["scenarios"][3]["total_minor"], 105_000);
    assert_eq!(value["scenarios"][3]["percent_of_mrr_seed_rule"], "6.0");
    assert_eq!(value["assumptions"]["hours_per_month"], "730");
}

#[test]
fn html_is_self_contained_escaped_and_has_the_totals() {
    let mut input = input();
    input.model.scenarios[0].lines[0].description = "<script>alert(1)</script>".into();
    let html = String::from_utf8(
        CostReport::build(&input)
            .unwrap()
            .render(ReportFormat::Html)
            .unwrap(),
    )
    .unwrap();
    for total in SEED_TOTALS {
        assert!(html.contains(total), "{total} missing");
    }
    assert!(html.contains("6.6 %") && html.contains("6.6667 %"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script"));
    assert!(
        !html.contains("src=") && !html.contains("<link"),
        "external resource"
    );
    assert!(html.contains("730 h") && html.contains("2025-06-01T09:30:00Z"));
    assert!(html.contains("<svg"));
}

fn pdftotext(pdf: &Path) -> String {
    let out = Process::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext is missing: install Debian's poppler-utils (scripts/test.sh does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn pdf_text_has_the_totals_ratios_and_assumptions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, report().render(ReportFormat::Pdf).unwrap()).unwrap();
    let text = pdftotext(&path);
    for total in SEED_TOTALS {
        assert!(text.contains(total), "{total} missing from:\n{text}");
    }
    for needle in [
        "Cost report: seed-phases",
        "6.6 %",
        "6.6667 %",
        "6.4 %",
        "6.0 %",
        "730 h",
        "USD",
        "2025-06-01T09:30:00Z",
        "planned",
        "Monitoring",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let fonts = Process::new("pdffonts").arg(&path).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("DejaVuSans"), "{fonts}");
    assert!(
        fonts.lines().skip(2).all(|l| l.contains(" yes ")),
        "a font is not embedded:\n{fonts}"
    );
}

#[test]
fn damaged_model_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cost-models.toml");
    let damaged = b"[[model]]\nname = \"mine\"\ncurrency = \"USD\"\nhours_per_month = [oops\n";
    std::fs::write(&path, damaged).unwrap();
    let mut store = CostModelStore::load(dir.path());
    let err = store.damaged().unwrap().clone();
    assert_eq!(err.line, Some(4), "{err}");
    assert!(err.column.is_some(), "{err}");
    // The built-in template is still there; saving is refused and the file is unchanged.
    assert!(store.get(SEED_TEMPLATE_NAME).is_some());
    let e = store.upsert(CostModel::new("other"), None).unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    assert!(store.duplicate(SEED_TEMPLATE_NAME, "copy").is_err());
    assert_eq!(std::fs::read(&path).unwrap(), damaged);
}

#[test]
fn store_saves_duplicates_renames_and_deletes_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = CostModelStore::load(dir.path());
    assert!(store.saved().is_empty());
    store.duplicate(SEED_TEMPLATE_NAME, "plan-b").unwrap();
    let mut m = store.get("plan-b").unwrap();
    m.scenarios[0].lines.push(CostLine::monthly(
        Component::Custom("Support".into()),
        "vendor support",
        30,
    ));
    store.upsert(m, None).unwrap();
    store.rename("plan-b", "plan-c").unwrap();
    assert!(store.rename(SEED_TEMPLATE_NAME, "x").is_err());
    assert!(store.delete(SEED_TEMPLATE_NAME).is_err());
    let reloaded = CostModelStore::load(dir.path());
    assert!(reloaded.damaged().is_none());
    let c = reloaded.get("plan-c").unwrap();
    assert_eq!(c.totals()[0].total_minor, 11_500);
    assert_eq!(reloaded.all().len(), 2);
    store.delete("plan-c").unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["cost-models.toml"], "no temp files left");
}

// --- live cost through the engine --------------------------------------------------------

const START: i64 = 1_793_628_000_000;

struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    fleet: FleetState,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(START);
        let config = EngineConfig::new(
            clock.clone(),
            dir.path().join("config"),
            dir.path().join("data"),
        );
        let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
        engine
            .send(Command::Connect(Box::new(ConnectRequest {
                profile: Profile::demo_default(),
                demo_seed: 11,
            })))
            .unwrap();
        Self {
            engine,
            clock,
            fleet: FleetState::default(),
            _dir: dir,
        }
    }

    /// Applies events to the fleet state as the app does, until `cond` holds.
    fn until(&mut self, what: &str, cond: impl Fn(&FleetState, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(50)) else {
                self.clock.advance(Duration::from_secs(1));
                continue;
            };
            match &event {
                Event::Endpoints(infos) => self.fleet.reset(infos.clone()),
                Event::Snapshot {
                    endpoint,
                    snapshot,
                    at,
                    ..
                } => {
                    if let Some(e) = self.fleet.endpoint_mut(endpoint) {
                        e.snapshot = Some(snapshot.clone());
                        e.updated_at = Some(*at);
                    }
                }
                _ => {}
            }
            if cond(&self.fleet, &event) {
                return event;
            }
        }
    }
}

fn api() -> WorkloadRef {
    WorkloadRef {
        endpoint: "demo-prod".into(),
        scope: "nexus".into(),
        // No autoscaler on this one, so the scale stays where it was put.
        name: "writer-service".into(),
        kind: WorkloadKind::Deployment,
    }
}

fn replicas(fleet: &FleetState, id: &WorkloadRef) -> Option<u32> {
    fleet.workloads().find(|w| &w.id == id).map(|w| w.desired)
}

#[test]
fn live_cost_follows_a_demo_fleet_scale() {
    let mut rig = Rig::new();
    rig.until("demo workloads", |f, _| {
        replicas(f, &api()).is_some() && f.databases().count() > 0 && f.cache_nodes().count() > 0
    });
    let model = seed_template();
    let before_inv = live_inventory(&rig.fleet, "demo fleet");
    let before_api = replicas(&rig.fleet, &api()).unwrap();
    assert!(before_inv.database_servers > 0 && before_inv.cache_nodes > 0);
    let comps = model.components();
    let before = model.scenario_totals(&model.live_pricing.scenario(&before_inv, "live"), &comps);

    // What-if first: changes the figures, not the fleet.
    let mut what_if = std::collections::BTreeMap::new();
    let target = before_api + 2;
    what_if.insert(api().full(), target);
    let predicted = model.scenario_totals(
        &model
            .live_pricing
            .scenario(&before_inv.with_replicas(&what_if), "what-if"),
        &comps,
    );
    // 2 more replicas at 0.0416 per instance-hour × 730 h = 60.736 per month.
    let diff = predicted.total_minor - before.total_minor;
    assert!((6_073..=6_074).contains(&diff), "{diff}");

    // Then the real scale through the pipeline.
    let policy = PlanPolicy {
        profile: "demo".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let plan = plan(
        Action::ScaleWorkload {
            workload: api(),
            replicas: target,
        },
        &rig.fleet,
        &policy,
    );
    rig.engine
        .send(Command::Execute {
            id: scaleboard::actions::ActionId(1),
            plan: Box::new(plan),
            forced: false,
        })
        .unwrap();
    let Event::ActionFinished { record, .. } = rig.until("scale finished", |_, e| {
        matches!(e, Event::ActionFinished { .. })
    }) else {
        unreachable!()
    };
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:?}");
    rig.until("scaled snapshot", |f, _| {
        replicas(f, &api()) == Some(target)
    });
    let after_inv = live_inventory(&rig.fleet, "demo fleet");
    let after = model.scenario_totals(&model.live_pricing.scenario(&after_inv, "live"), &comps);
    // The scaled workload's line now costs what the what-if predicted (other demo workloads may
    // move on their own autoscalers meanwhile, so compare that line, not the whole fleet).
    let name = api().full();
    let line = |inv: &LiveInventory, t: &scaleboard::cost::ScenarioTotals| {
        let i = inv.workloads.iter().position(|w| w.name == name).unwrap();
        (inv.workloads[i].replicas, t.line_minor[i])
    };
    let predicted_inv = before_inv.with_replicas(&what_if);
    assert_eq!(line(&after_inv, &after), line(&predicted_inv, &predicted));
    assert_eq!(line(&after_inv, &after).0, target);
    assert!(line(&after_inv, &after).1 > line(&before_inv, &before).1);

    // And the engine writes the live report.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.json");
    let mut input = input();
    input.live = Some(after_inv);
    rig.engine
        .send(Command::Files(FileJob::ExportCostReport {
            input: Box::new(input),
            format: ReportFormat::Json,
            path: path.clone(),
        }))
        .unwrap();
    let Event::CostExported { result, .. } =
        rig.until("export", |_, e| matches!(e, Event::CostExported { .. }))
    else {
        unreachable!()
    };
    assert!(result.unwrap() > 0);
    let back: CostReport = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let live = back
        .scenarios
        .iter()
        .find(|s| s.data_source == DataSource::Live)
        .unwrap();
    assert_eq!(live.total_minor, after.total_minor);
}

#[test]
fn engine_reports_a_damaged_model_file() {
    let mut rig = Rig::new();
    let config = rig._dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let path = config.join("cost-models.toml");
    std::fs::write(&path, "[[model]\n").unwrap();
    rig.engine
        .send(Command::Files(FileJob::LoadCostModels))
        .unwrap();
    let Event::CostModels { damaged, .. } =
        rig.until("models", |_, e| matches!(e, Event::CostModels { .. }))
    else {
        unreachable!()
    };
    assert_eq!(damaged.unwrap().line, Some(1));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[[model]\n");
}

// --- CLI ---------------------------------------------------------------------------------

#[test]
fn cli_lists_models_and_writes_all_four_formats() {
    let dir = tempfile::tempdir().unwrap();
    let cli = || {
        let mut cmd = Process::new(env!("CARGO_BIN_EXE_scaleboard"));
        cmd.env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
            .env_remove("SCALEBOARD_DATA_DIR");
        cmd
    };
    let out = cli().args(["cost", "list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("seed-phases") && list.contains("built in") && list.contains("$1,050.00"),
        "{list}"
    );

    for format in ["csv", "json", "html", "pdf"] {
        let file = dir.path().join(format!("seed.{format}"));
        let out = cli()
            .args([
                "cost",
                "report",
                "--model",
                "seed-phases",
                "--format",
                format,
                "--out",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&file).unwrap();
        match format {
            "csv" => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.contains("1050.00"), "{text}");
            }
            "json" => {
                let r: CostReport = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(r.scenarios[3].total_minor, 105_000);
            }
            "html" => assert!(String::from_utf8(bytes).unwrap().contains("$1,050.00")),
            _ => {
                assert!(bytes.starts_with(b"%PDF-"));
                assert!(pdftotext(&file).contains("$1,050.00"));
            }
        }
    }
    let out = cli()
        .args([
            "cost", "report", "--model", "nope", "--format", "csv", "--out",
        ])
        .arg(dir.path().join("x.csv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("seed-phases"));
}

#[test]
fn the_cli_adds_the_live_run_rate_of_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.json");
    let out = Process::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env_remove("SCALEBOARD_DATA_DIR")
        .args([
            "cost", "report", "--demo", "--live", "--format", "json", "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: CostReport = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(r.assumptions.data_source, "planned and live");
    assert_eq!(
        r.assumptions.live_source.as_deref(),
        Some("demo fleet (simulated)")
    );
    let live = r
        .scenarios
        .iter()
        .find(|s| s.name == "Live run rate (demo fleet (simulated))")
        .unwrap_or_else(|| {
            panic!(
                "{:?}",
                r.scenarios.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert!(live.total_minor > 0, "{live:?}");
}

/// `cost report --live --what-if`: the what-if is priced in the report and the command says
/// whether it fits the demo cluster and, if not, the nodes it needs at $140.16 each.
#[test]
fn the_cli_what_if_says_whether_it_fits_and_what_the_nodes_cost() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("what-if.json");
    let out = Process::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env_remove("SCALEBOARD_DATA_DIR")
        .args([
            "cost",
            "report",
            "--demo",
            "--live",
            "--what-if",
            "search-index=5",
            "--format",
            "json",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("what-if demo-prod: nexus/statefulset/search-index 2 → 5: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    // Three more of 1.5 CPU each, within the namespace's quota: the demo's free nodes hold two
    // at most (the fewest api-gateway replicas its HPA allows leave the most room), and an
    // empty m5.xlarge-like node takes two.
    let (fit, nodes) = line
        .split_once(" — needs ")
        .unwrap_or_else(|| panic!("{line}"));
    assert!(fit.contains("new replicas fit"), "{line}");
    let count: u32 = nodes.split(' ').next().unwrap().parse().unwrap();
    assert!(
        nodes.contains("of 3.9 CPU / 14.9 GiB (m5.xlarge): +$"),
        "{line}"
    );
    let cost = format!("+${:.2}/month", 140.16 * f64::from(count));
    assert!(line.ends_with(&cost), "{line} (expected {cost})");
    let r: CostReport = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(
        r.scenarios
            .iter()
            .any(|s| s.data_source == DataSource::WhatIf),
        "{:?}",
        r.scenarios.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
}
