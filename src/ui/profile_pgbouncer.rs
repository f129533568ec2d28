//! The profile form's PgBouncer admin consoles: name, DSN, the "pool nearly full" level and the
//! password (set through the keyring like the other endpoints).

use crate::profiles::{EndpointKind, PgbouncerEndpoint, SecretRef};

/// Draws the list; returns the secret the operator asked to set, if any.
pub fn pgbouncer_endpoints_ui(
    ui: &mut egui::Ui,
    profile_name: &str,
    list: &mut Vec<PgbouncerEndpoint>,
) -> Option<SecretRef> {
    let mut secret = None;
    let mut remove = None;
    for (i, e) in list.iter_mut().enumerate() {
        egui::Grid::new(("pgbouncer", i))
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Name");
                ui.text_edit_singleline(&mut e.name);
                ui.end_row();
                ui.label("Admin console DSN");
                ui.text_edit_singleline(&mut e.dsn)
                    .on_hover_text("postgres://user@host:6432/pgbouncer, without a password");
                ui.end_row();
                ui.label("Pool warning (%)");
                let mut own = e.pool_warn_percent.is_some();
                ui.horizontal(|ui| {
                    if ui
                        .checkbox(&mut own, "own level")
                        .on_hover_text("Off: the profile's connections threshold")
                        .changed()
                    {
                        e.pool_warn_percent = own.then_some(80.0);
                    }
                    if let Some(pct) = e.pool_warn_percent.as_mut() {
                        ui.add(egui::DragValue::new(pct).range(1.0..=100.0).suffix(" %"));
                    }
                });
                ui.end_row();
            });
        if ui.button("Set password…").clicked() {
            let r = SecretRef::for_endpoint(profile_name, EndpointKind::Pgbouncer, &e.name);
            e.password = Some(r.clone());
            secret = Some(r);
        }
        if ui.small_button("Remove").clicked() {
            remove = Some(i);
        }
    }
    if let Some(i) = remove {
        list.remove(i);
    }
    if ui.button("Add PgBouncer").clicked() {
        list.push(PgbouncerEndpoint {
            name: format!("pgbouncer-{}", list.len() + 1),
            dsn: "postgres://pgbouncer@127.0.0.1:6432/pgbouncer".into(),
            ..Default::default()
        });
    }
    secret
}
