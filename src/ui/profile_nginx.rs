//! The profile form's nginx load balancers (`[[profile.nginx]]`): where the configuration is read
//! (a file on this machine, or a container), how it is tested and reloaded, the `stub_status`
//! URL and drain wait, and which upstream fronts which Compose or Swarm service on which port.
//! The form checks nothing itself: the editor's problem list is the profile file's validation.

use crate::profiles::model::QueueWorkload;
use crate::profiles::{NginxEndpoint, Profile, UpstreamAddressing, UpstreamLink};

const ADDRESSING: [(UpstreamAddressing, &str); 3] = [
    (
        UpstreamAddressing::ContainerIp,
        "container IP (one server per replica)",
    ),
    (
        UpstreamAddressing::Published,
        "published port (one server per replica)",
    ),
    (
        UpstreamAddressing::Dns,
        "Docker DNS name (one server, resolved at reload)",
    ),
];

fn addressing_label(a: UpstreamAddressing) -> &'static str {
    ADDRESSING
        .iter()
        .find(|(x, _)| *x == a)
        .map_or("?", |(_, label)| label)
}

/// A labelled text field (found by its label in tests and by screen readers).
fn text_field(ui: &mut egui::Ui, label: &str, hint: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(value)
            .hint_text(hint)
            .desired_width(360.0),
    )
    .labelled_by(l.id);
    ui.end_row();
}

/// An optional field: empty is `None`. The text is kept as typed (a command's spaces survive
/// typing); only a blank one is dropped.
fn optional_field(ui: &mut egui::Ui, label: &str, hint: &str, value: &mut Option<String>) {
    let mut text = value.clone().unwrap_or_default();
    let l = ui.label(label);
    if ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .hint_text(hint)
                .desired_width(360.0),
        )
        .labelled_by(l.id)
        .changed()
    {
        *value = (!text.trim().is_empty()).then_some(text);
    }
    ui.end_row();
}

fn optional_path(
    ui: &mut egui::Ui,
    label: &str,
    hint: &str,
    value: &mut Option<std::path::PathBuf>,
) {
    let mut text = value.as_ref().map(|p| p.display().to_string());
    optional_field(ui, label, hint, &mut text);
    *value = text.map(Into::into);
}

/// Draws every nginx endpoint of the profile with its links, and the add/remove buttons.
pub fn nginx_endpoints_ui(ui: &mut egui::Ui, profile: &mut Profile) {
    let docker_names: Vec<String> = profile.compose.iter().map(|c| c.name.clone()).collect();
    let mut remove = None;
    for (i, e) in profile.nginx.iter_mut().enumerate() {
        egui::Grid::new(("nginx", i)).num_columns(2).show(ui, |ui| {
            text_field(ui, "nginx name", "front", &mut e.name);
            optional_path(
                ui,
                "Configuration file",
                "/etc/nginx/nginx.conf (its includes are followed)",
                &mut e.config,
            );
            optional_field(
                ui,
                "Or container",
                "lb (read with docker exec lb nginx -T)",
                &mut e.container,
            );
            optional_field(
                ui,
                "Container's DOCKER_HOST",
                "empty = the environment's",
                &mut e.docker_host,
            );
            optional_path(
                ui,
                "pid file",
                "empty = the pid directive of the configuration",
                &mut e.pid_file,
            );
            optional_field(
                ui,
                "Test command",
                "empty = nginx -t (through docker exec for a container)",
                &mut e.test_command,
            );
            optional_field(
                ui,
                "Reload command",
                "empty = nginx -s reload (shown in every plan)",
                &mut e.reload_command,
            );
            optional_field(
                ui,
                "stub_status URL",
                "http://127.0.0.1:8080/nginx_status",
                &mut e.stub_status_url,
            );
            let l = ui.label("Drain wait (s)");
            ui.add(egui::DragValue::new(&mut e.drain_timeout_secs).range(0..=3600))
                .labelled_by(l.id)
                .on_hover_text("0 = 30 s: the longest wait for a leaving server's connections");
            ui.end_row();
        });
        ui.indent(("nginx_links", i), |ui| {
            ui.label("Upstreams and the services behind them");
            links_ui(ui, i, &docker_names, &mut e.links);
        });
        if ui.small_button("Remove nginx").clicked() {
            remove = Some(i);
        }
        ui.separator();
    }
    if let Some(i) = remove {
        profile.nginx.remove(i);
    }
    if ui.button("Add nginx").clicked() {
        profile.nginx.push(NginxEndpoint {
            name: format!("nginx-{}", profile.nginx.len() + 1),
            config: Some("/etc/nginx/nginx.conf".into()),
            ..NginxEndpoint::default()
        });
    }
}

fn links_ui(ui: &mut egui::Ui, id: usize, docker_names: &[String], links: &mut Vec<UpstreamLink>) {
    let mut remove = None;
    for (j, l) in links.iter_mut().enumerate() {
        egui::Grid::new(("nginx_link", id, j))
            .num_columns(2)
            .show(ui, |ui| {
                text_field(ui, "Upstream", "nexus_api", &mut l.upstream);
                let label = ui.label("Docker endpoint");
                egui::ComboBox::from_id_salt(("nginx_link_endpoint", id, j))
                    .selected_text(if l.workload.endpoint.is_empty() {
                        "(choose)"
                    } else {
                        l.workload.endpoint.as_str()
                    })
                    .show_ui(ui, |ui| {
                        for name in docker_names {
                            ui.selectable_value(
                                &mut l.workload.endpoint,
                                name.clone(),
                                name.as_str(),
                            );
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();
                text_field(
                    ui,
                    "Project (or swarm)",
                    "the Compose project, or swarm",
                    &mut l.workload.scope,
                );
                text_field(ui, "Service", "api", &mut l.workload.name);
                let label = ui.label("Port");
                ui.add(egui::DragValue::new(&mut l.port).range(0..=65535))
                    .labelled_by(label.id)
                    .on_hover_text("The port the replicas listen on (the container port)");
                ui.end_row();
                let label = ui.label("Addressing");
                egui::ComboBox::from_id_salt(("nginx_link_addressing", id, j))
                    .selected_text(addressing_label(l.addressing))
                    .show_ui(ui, |ui| {
                        for (a, text) in ADDRESSING {
                            ui.selectable_value(&mut l.addressing, a, text);
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();
                let (label, hint, value) = match l.addressing {
                    UpstreamAddressing::ContainerIp => (
                        "Network",
                        "the Docker network nginx reaches them on (empty = the first)",
                        &mut l.network,
                    ),
                    UpstreamAddressing::Published => (
                        "Host",
                        "the host nginx connects to (empty = 127.0.0.1)",
                        &mut l.host,
                    ),
                    UpstreamAddressing::Dns => {
                        ("Host", "the name nginx resolves, e.g. api", &mut l.host)
                    }
                };
                optional_field(ui, label, hint, value);
            });
        if ui.small_button("Remove upstream link").clicked() {
            remove = Some(j);
        }
    }
    if let Some(j) = remove {
        links.remove(j);
    }
    if ui.small_button("Add upstream link").clicked() {
        links.push(UpstreamLink {
            workload: QueueWorkload {
                endpoint: docker_names.first().cloned().unwrap_or_default(),
                ..QueueWorkload::default()
            },
            port: 8080,
            ..UpstreamLink::default()
        });
    }
}
