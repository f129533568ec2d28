//! The Patroni part of the profile form: REST API URLs or a PostgreSQL endpoint to find them on,
//! the basic-auth user (the password goes to the keyring), the CA file.

use crate::profiles::{EndpointKind, PatroniEndpoint, Profile, SecretRef};

fn optional_row(ui: &mut egui::Ui, label: &str, hint: &str, value: &mut Option<String>) {
    let mut text = value.clone().unwrap_or_default();
    ui.label(label);
    if ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .hint_text(hint)
                .desired_width(360.0),
        )
        .changed()
    {
        *value = (!text.trim().is_empty()).then(|| text.trim().to_string());
    }
    ui.end_row();
}

/// Returns the keyring entry to ask a password for, when "Set password…" was clicked.
pub fn patroni_endpoints_ui(ui: &mut egui::Ui, profile: &mut Profile) -> Option<SecretRef> {
    let mut secret = None;
    let profile_name = profile.name.clone();
    let mut remove = None;
    for (i, e) in profile.patroni.iter_mut().enumerate() {
        egui::Grid::new(("patroni", i))
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Name");
                ui.add(egui::TextEdit::singleline(&mut e.name).desired_width(360.0));
                ui.end_row();
                let mut urls = e.urls.join(", ");
                ui.label("REST API URLs");
                if ui
                    .add(
                        egui::TextEdit::singleline(&mut urls)
                            .hint_text("http://db1:8008, http://db2:8008")
                            .desired_width(360.0),
                    )
                    .changed()
                {
                    e.urls = urls
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                }
                ui.end_row();
                optional_row(
                    ui,
                    "Or find them on PostgreSQL endpoint",
                    "name of a PostgreSQL endpoint",
                    &mut e.discover_from,
                );
                ui.label("REST API port");
                ui.add(egui::DragValue::new(&mut e.port).range(1..=65535));
                ui.end_row();
                optional_row(
                    ui,
                    "User (basic auth)",
                    "restapi.authentication.username",
                    &mut e.username,
                );
                let mut ca = e.ca_file.as_ref().map(|p| p.display().to_string());
                optional_row(ui, "CA file (https)", "PEM file", &mut ca);
                e.ca_file = ca.map(Into::into);
                optional_row(
                    ui,
                    "patronictl config",
                    "shown in the equivalent command",
                    &mut e.patronictl_config,
                );
            });
        ui.horizontal(|ui| {
            if ui.button("Set password…").clicked() {
                let r = SecretRef::for_endpoint(&profile_name, EndpointKind::Patroni, &e.name);
                e.password = Some(r.clone());
                secret = Some(r);
            }
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        });
    }
    if let Some(i) = remove {
        profile.patroni.remove(i);
    }
    if ui.button("Add Patroni cluster").clicked() {
        profile.patroni.push(PatroniEndpoint {
            name: format!("patroni-{}", profile.patroni.len() + 1),
            ..PatroniEndpoint::default()
        });
    }
    secret
}
