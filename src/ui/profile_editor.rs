//! The profile form: settings, endpoints of every kind, thresholds, and secrets (sent to the
//! keyring, never into the profile). Problems are listed live; Save is refused while any exist.

use super::theme;
use crate::app::ScaleboardApp;
use crate::engine::Command;
use crate::engine::files::FileJob;
use crate::profiles::{
    ComposeEndpoint, EndpointKind, HealthEndpoint, KubernetesEndpoint, PostgresEndpoint,
    PrometheusEndpoint, RabbitMqEndpoint, RedisEndpoint, SecretRef, validate_profile,
};

pub(super) fn text_row(ui: &mut egui::Ui, label: &str, value: &mut String) {
    ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(360.0));
    ui.end_row();
}

/// Comma-separated list editing for contexts, projects and replica DSNs.
pub(super) fn list_row(ui: &mut egui::Ui, label: &str, values: &mut Vec<String>) {
    let mut joined = values.join(", ");
    ui.label(label);
    if ui
        .add(egui::TextEdit::singleline(&mut joined).desired_width(360.0))
        .changed()
    {
        *values = joined
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    ui.end_row();
}

type ContextsRead = crate::connectors::kubernetes::ContextsByKubeconfig;
type ContextsOrError = Result<crate::model::endpoint::KubeconfigContexts, String>;

fn app_contexts<'a>(read: &'a ContextsRead, k: &KubernetesEndpoint) -> Option<&'a ContextsOrError> {
    read.get(&k.kubeconfig)
}

/// One checkbox per context of the kubeconfig; ticking adds it to the profile's list.
fn context_picker_ui(ui: &mut egui::Ui, read: Option<&ContextsOrError>, chosen: &mut Vec<String>) {
    match read {
        None => {}
        Some(Err(e)) => {
            ui.colored_label(theme::BAD, e);
        }
        Some(Ok(found)) if found.names.is_empty() => {
            ui.colored_label(theme::WARN, "This kubeconfig has no contexts.");
        }
        Some(Ok(found)) => {
            ui.horizontal_wrapped(|ui| {
                for name in &found.names {
                    let mut on = chosen.contains(name);
                    let label = if found.current.as_ref() == Some(name) {
                        format!("{name} (current)")
                    } else {
                        name.clone()
                    };
                    if ui.checkbox(&mut on, label).changed() {
                        if on {
                            chosen.push(name.clone());
                        } else {
                            chosen.retain(|c| c != name);
                        }
                    }
                }
            });
            if chosen.is_empty() {
                ui.weak("None ticked: the current context is watched.");
            }
        }
    }
}

pub fn profile_editor_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let kube_contexts = std::mem::take(&mut app.profiles.kube_contexts);
    let mut pending_jobs = Vec::new();
    editor_form_ui(app, ui, &kube_contexts, &mut pending_jobs);
    app.profiles.kube_contexts = kube_contexts;
    for job in pending_jobs {
        app.send(Command::Files(job));
    }
}

fn editor_form_ui(
    app: &mut ScaleboardApp,
    ui: &mut egui::Ui,
    kube_contexts: &ContextsRead,
    pending_jobs: &mut Vec<FileJob>,
) {
    let Some((original, profile)) = app.profiles.editor.as_mut() else {
        return;
    };
    let mut secret_to_set: Option<SecretRef> = None;
    ui.heading(if original.is_some() {
        "Edit profile"
    } else {
        "New profile"
    });
    egui::Grid::new("profile_form")
        .num_columns(2)
        .show(ui, |ui| {
            text_row(ui, "Name", &mut profile.name);
            ui.label("Refresh (s)");
            ui.add(egui::DragValue::new(&mut profile.refresh_interval_secs).range(1..=60));
            ui.end_row();
            ui.label("Options");
            ui.horizontal(|ui| {
                ui.checkbox(&mut profile.read_only, "Read-only (no actions)");
                ui.checkbox(&mut profile.demo, "Use the built-in demo fleet");
            });
            ui.end_row();
        });
    let name = profile.name.clone();
    let mut read_contexts = None;
    ui.collapsing("Kubernetes", |ui| {
        let mut remove = None;
        for (i, k) in profile.kubernetes.iter_mut().enumerate() {
            egui::Grid::new(("k8s", i)).num_columns(2).show(ui, |ui| {
                text_row(ui, "Name", &mut k.name);
                let mut path = k
                    .kubeconfig
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                ui.label("Kubeconfig");
                if ui
                    .add(
                        egui::TextEdit::singleline(&mut path)
                            .hint_text("empty = $KUBECONFIG or ~/.kube/config"),
                    )
                    .changed()
                {
                    k.kubeconfig = (!path.trim().is_empty()).then(|| path.trim().into());
                }
                ui.end_row();
                list_row(ui, "Contexts", &mut k.contexts);
                ui.label("");
                ui.vertical(|ui| {
                    if ui
                        .small_button("Pick contexts from the kubeconfig")
                        .on_hover_text(
                            "Reads the kubeconfig above (or $KUBECONFIG, ~/.kube/config)",
                        )
                        .clicked()
                    {
                        read_contexts = Some(k.kubeconfig.clone());
                    }
                    context_picker_ui(ui, app_contexts(kube_contexts, k), &mut k.contexts);
                });
                ui.end_row();
                list_row(ui, "Namespaces", &mut k.namespaces);
            });
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        }
        if let Some(i) = remove {
            profile.kubernetes.remove(i);
        }
        if ui.button("Add Kubernetes endpoint").clicked() {
            profile.kubernetes.push(KubernetesEndpoint {
                name: format!("cluster-{}", profile.kubernetes.len() + 1),
                ..Default::default()
            });
        }
    });
    if let Some(kubeconfig) = read_contexts.take() {
        pending_jobs.push(FileJob::ReadKubeContexts { kubeconfig });
    }
    ui.collapsing("Docker Compose", |ui| {
        let mut remove = None;
        for (i, c) in profile.compose.iter_mut().enumerate() {
            egui::Grid::new(("compose", i))
                .num_columns(2)
                .show(ui, |ui| {
                    text_row(ui, "Name", &mut c.name);
                    let mut host = c.docker_host.clone().unwrap_or_default();
                    ui.label("DOCKER_HOST");
                    if ui
                        .add(
                            egui::TextEdit::singleline(&mut host).hint_text("empty = local socket"),
                        )
                        .changed()
                    {
                        c.docker_host = (!host.trim().is_empty()).then(|| host.trim().to_string());
                    }
                    ui.end_row();
                    let mut context = c.docker_context.clone().unwrap_or_default();
                    ui.label("Docker context");
                    if ui
                        .add(
                            egui::TextEdit::singleline(&mut context)
                                .hint_text("empty = DOCKER_HOST above"),
                        )
                        .changed()
                    {
                        c.docker_context =
                            (!context.trim().is_empty()).then(|| context.trim().to_string());
                    }
                    ui.end_row();
                    list_row(ui, "Projects", &mut c.projects);
                });
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        }
        if let Some(i) = remove {
            profile.compose.remove(i);
        }
        if ui.button("Add Docker engine").clicked() {
            profile.compose.push(ComposeEndpoint {
                name: format!("docker-{}", profile.compose.len() + 1),
                ..Default::default()
            });
        }
    });
    ui.collapsing("PostgreSQL", |ui| {
        let mut remove = None;
        for (i, p) in profile.postgres.iter_mut().enumerate() {
            egui::Grid::new(("pg", i)).num_columns(2).show(ui, |ui| {
                text_row(ui, "Name", &mut p.name);
                text_row(ui, "Primary DSN", &mut p.primary_dsn);
                list_row(ui, "Replica DSNs", &mut p.replica_dsns);
                ui.label("Max failover lag (bytes)");
                ui.add(egui::DragValue::new(&mut p.max_failover_lag_bytes));
                ui.end_row();
            });
            if ui.button("Set password…").clicked() {
                let r = SecretRef::for_endpoint(&name, EndpointKind::Postgres, &p.name);
                p.password = Some(r.clone());
                secret_to_set = Some(r);
            }
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        }
        if let Some(i) = remove {
            profile.postgres.remove(i);
        }
        if ui.button("Add PostgreSQL cluster").clicked() {
            profile.postgres.push(PostgresEndpoint {
                name: format!("db-{}", profile.postgres.len() + 1),
                ..Default::default()
            });
        }
    });
    ui.collapsing("PgBouncer", |ui| {
        if let Some(s) =
            super::profile_pgbouncer::pgbouncer_endpoints_ui(ui, &name, &mut profile.pgbouncer)
        {
            secret_to_set = Some(s);
        }
    });
    ui.collapsing("MySQL / MariaDB", |ui| {
        if let Some(r) = super::profile_mysql::mysql_endpoints_ui(ui, &name, &mut profile.mysql) {
            secret_to_set = Some(r);
        }
    });
    ui.collapsing("Patroni", |ui| {
        if let Some(s) = super::profile_patroni::patroni_endpoints_ui(ui, profile) {
            secret_to_set = Some(s);
        }
    });
    ui.collapsing("Redis", |ui| {
        let mut remove = None;
        for (i, r) in profile.redis.iter_mut().enumerate() {
            egui::Grid::new(("redis", i)).num_columns(2).show(ui, |ui| {
                text_row(ui, "Name", &mut r.name);
                text_row(ui, "URL", &mut r.url);
            });
            ui.indent(("redis_queues", i), |ui| {
                ui.label("Job queues in this server (none: watched as a cache only)");
                super::profile_queues::redis_queues_ui(ui, i, &mut r.queues);
            });
            if ui.button("Set password…").clicked() {
                let s = SecretRef::for_endpoint(&name, EndpointKind::Redis, &r.name);
                r.password = Some(s.clone());
                secret_to_set = Some(s);
            }
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        }
        if let Some(i) = remove {
            profile.redis.remove(i);
        }
        if ui.button("Add Redis").clicked() {
            profile.redis.push(RedisEndpoint {
                name: format!("redis-{}", profile.redis.len() + 1),
                url: "redis://127.0.0.1:6379".into(),
                password: None,
                ..Default::default()
            });
        }
    });
    ui.collapsing("RabbitMQ and Prometheus", |ui| {
        let rabbit = profile
            .rabbitmq
            .get_or_insert_with(RabbitMqEndpoint::default);
        egui::Grid::new("rabbit").num_columns(2).show(ui, |ui| {
            text_row(ui, "RabbitMQ management URL", &mut rabbit.management_url);
            text_row(ui, "RabbitMQ user", &mut rabbit.user);
        });
        if rabbit.management_url.trim().is_empty() {
            profile.rabbitmq = None;
        } else if rabbit.name.is_empty() {
            rabbit.name = "rabbitmq".into();
        }
        let prom = profile
            .prometheus
            .get_or_insert_with(PrometheusEndpoint::default);
        egui::Grid::new("prom").num_columns(2).show(ui, |ui| {
            text_row(ui, "Prometheus URL", &mut prom.url);
        });
        if prom.url.trim().is_empty() {
            profile.prometheus = None;
        } else {
            if prom.name.is_empty() {
                prom.name = "prometheus".into();
            }
            if ui.button("Set Prometheus token…").clicked() {
                let s = SecretRef::for_endpoint(&name, EndpointKind::Prometheus, &prom.name);
                prom.token = Some(s.clone());
                secret_to_set = Some(s);
            }
            ui.indent("prom_queries", |ui| {
                super::profile_prometheus::prometheus_queries_ui(ui, prom);
            });
        }
    });
    ui.collapsing("Health endpoints", |ui| {
        let mut remove = None;
        for (i, h) in profile.health.iter_mut().enumerate() {
            egui::Grid::new(("health", i))
                .num_columns(2)
                .show(ui, |ui| {
                    text_row(ui, "Name", &mut h.name);
                    text_row(ui, "URL", &mut h.url);
                    let mut group = h.group.clone().unwrap_or_default();
                    ui.label("Group (load balancer)");
                    if ui.text_edit_singleline(&mut group).changed() {
                        h.group = (!group.trim().is_empty()).then(|| group.trim().to_string());
                    }
                    ui.end_row();
                });
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        }
        if let Some(i) = remove {
            profile.health.remove(i);
        }
        if ui.button("Add health endpoint").clicked() {
            profile.health.push(HealthEndpoint {
                name: format!("check-{}", profile.health.len() + 1),
                ..Default::default()
            });
        }
    });
    ui.collapsing("nginx load balancers", |ui| {
        super::profile_nginx::nginx_endpoints_ui(ui, profile);
    });
    ui.collapsing("Alert thresholds", |ui| {
        let t = &mut profile.thresholds;
        egui::Grid::new("thresholds").num_columns(2).show(ui, |ui| {
            ui.label("CPU %");
            ui.add(egui::DragValue::new(&mut t.cpu_percent).range(1.0..=100.0));
            ui.end_row();
            ui.label("Memory %");
            ui.add(egui::DragValue::new(&mut t.memory_percent).range(1.0..=100.0));
            ui.end_row();
            ui.label("Connections % of max");
            ui.add(egui::DragValue::new(&mut t.connections_percent).range(1.0..=100.0));
            ui.end_row();
            ui.label("Replication lag (bytes)");
            ui.add(egui::DragValue::new(&mut t.replication_lag_bytes));
            ui.end_row();
            ui.label("Database size (bytes)");
            ui.add(egui::DragValue::new(&mut t.database_size_bytes));
            ui.end_row();
            ui.label("Queue depth");
            ui.add(egui::DragValue::new(&mut t.queue_depth));
            ui.end_row();
            ui.label("p95 latency (ms)");
            ui.add(egui::DragValue::new(&mut t.p95_latency_ms));
            ui.end_row();
        });
    });
    super::profile_rules::rules_editor_ui(ui, profile);
    let mut test = None;
    ui.collapsing("Test connections", |ui| {
        let endpoints = profile.endpoint_names();
        if endpoints.is_empty() {
            ui.weak("Add an endpoint first.");
        }
        for (kind, ep) in endpoints {
            ui.horizontal(|ui| {
                if ui
                    .button(format!("Test {} \"{ep}\"", kind.label()))
                    .clicked()
                {
                    test = Some((kind, ep.clone()));
                }
                if let Some(result) = app.profiles.test_results.get(&(kind, ep.clone())) {
                    ui.label(result);
                }
            });
        }
    });
    let problems = validate_profile(profile);
    for p in &problems {
        ui.colored_label(theme::BAD, p.to_string());
    }
    let mut save = false;
    let mut close = false;
    ui.horizontal(|ui| {
        save = ui
            .add_enabled(
                problems.is_empty() && app.profiles.damaged.is_none(),
                egui::Button::new("Save profile"),
            )
            .clicked();
        close = ui.button("Close without saving").clicked();
    });
    if let Some((kind, name)) = test
        && let Some((_, profile)) = app.profiles.editor.clone()
    {
        app.profiles.test_results.remove(&(kind, name.clone()));
        app.send(Command::TestEndpoint {
            profile: Box::new(profile),
            kind,
            name,
        });
    }
    if let Some(r) = secret_to_set {
        app.profiles.secret_input.clear();
        app.profiles_secret_target = Some(r);
    }
    secret_prompt_ui(app, ui);
    if save && let Some((previous_name, profile)) = app.profiles.editor.clone() {
        app.send(Command::Files(FileJob::SaveProfile {
            previous_name,
            profile: Box::new(profile),
        }));
    }
    if close {
        app.profiles.editor = None;
    }
}

/// Secrets are typed here and sent straight to the keyring job; the field is cleared at once.
fn secret_prompt_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let Some(target) = app.profiles_secret_target.clone() else {
        return;
    };
    ui.separator();
    ui.label(format!("Secret for {}", target.account));
    let mut submit = false;
    let mut cancel = false;
    ui.horizontal(|ui| {
        let r = ui.add(
            egui::TextEdit::singleline(&mut app.profiles.secret_input)
                .password(true)
                .hint_text("password or token"),
        );
        submit = ui.button("Store secret").clicked()
            || (r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)));
        cancel = ui.button("Cancel").clicked();
    });
    if submit && !app.profiles.secret_input.is_empty() {
        let value = std::mem::take(&mut app.profiles.secret_input);
        app.send(Command::Files(FileJob::SetSecret {
            secret: target,
            value,
        }));
        app.profiles_secret_target = None;
    }
    if cancel {
        app.profiles.secret_input.clear();
        app.profiles_secret_target = None;
    }
}
