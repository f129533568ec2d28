//! The profile editor's MySQL/MariaDB section: clusters with their primary and replica URLs,
//! the failover lag limit in seconds, and the password set through the keyring.

use super::profile_editor::{list_row, text_row};
use crate::profiles::{EndpointKind, MysqlEndpoint, SecretRef};

/// Edits the clusters in place; returns the secret the operator asked to set, if any.
pub fn mysql_endpoints_ui(
    ui: &mut egui::Ui,
    profile_name: &str,
    list: &mut Vec<MysqlEndpoint>,
) -> Option<SecretRef> {
    let mut secret = None;
    let mut remove = None;
    for (i, m) in list.iter_mut().enumerate() {
        egui::Grid::new(("mysql", i)).num_columns(2).show(ui, |ui| {
            text_row(ui, "Name", &mut m.name);
            text_row(ui, "Primary URL", &mut m.primary_url);
            list_row(ui, "Replica URLs", &mut m.replica_urls);
            ui.label("Max failover lag (seconds)");
            ui.add(egui::DragValue::new(&mut m.max_failover_lag_seconds).range(1..=3600));
            ui.end_row();
        });
        if ui.button("Set password…").clicked() {
            let r = SecretRef::for_endpoint(profile_name, EndpointKind::Mysql, &m.name);
            m.password = Some(r.clone());
            secret = Some(r);
        }
        if ui.small_button("Remove").clicked() {
            remove = Some(i);
        }
    }
    if let Some(i) = remove {
        list.remove(i);
    }
    if ui.button("Add MySQL/MariaDB cluster").clicked() {
        list.push(MysqlEndpoint {
            name: format!("mysql-{}", list.len() + 1),
            primary_url: "mysql://root@127.0.0.1:3306".into(),
            ..Default::default()
        });
    }
    secret
}
