//! The profile form's job queues of one Redis endpoint: library preset, queue name, key, the
//! workload that consumes it (for worker-scaling advice) and a fallback throughput.

use crate::profiles::model::{QueuePreset, QueueWorkload, RedisQueue};

const PRESETS: [(QueuePreset, &str); 5] = [
    (QueuePreset::Bullmq, "BullMQ"),
    (QueuePreset::Sidekiq, "Sidekiq"),
    (QueuePreset::Laravel, "Laravel"),
    (QueuePreset::Celery, "Celery"),
    (QueuePreset::Custom, "Custom key"),
];

fn preset_label(preset: QueuePreset) -> &'static str {
    PRESETS
        .iter()
        .find(|(p, _)| *p == preset)
        .map_or("?", |(_, label)| label)
}

/// `endpoint/scope/name` of the consuming workload, as typed; empty = none.
fn workload_text(w: Option<&QueueWorkload>) -> String {
    w.map(|w| format!("{}/{}/{}", w.endpoint, w.scope, w.name))
        .unwrap_or_default()
}

/// Parses `ENDPOINT/SCOPE/NAME`; a Kubernetes scope holds a `/` (context/namespace), so the
/// first part is the endpoint and the last the name.
fn parse_workload(text: &str) -> Option<QueueWorkload> {
    let (endpoint, rest) = text.trim().split_once('/')?;
    let (scope, name) = rest.rsplit_once('/')?;
    (!endpoint.is_empty() && !scope.is_empty() && !name.is_empty()).then(|| QueueWorkload {
        endpoint: endpoint.to_string(),
        scope: scope.to_string(),
        name: name.to_string(),
        kind: None,
    })
}

pub fn redis_queues_ui(ui: &mut egui::Ui, id: usize, queues: &mut Vec<RedisQueue>) {
    let mut remove = None;
    for (i, q) in queues.iter_mut().enumerate() {
        egui::Grid::new(("redis_queue", id, i))
            .num_columns(2)
            .show(ui, |ui| {
                let label = ui.label("Queue library");
                egui::ComboBox::from_id_salt(("queue_preset", id, i))
                    .selected_text(preset_label(q.preset))
                    .show_ui(ui, |ui| {
                        for (preset, label) in PRESETS {
                            ui.selectable_value(&mut q.preset, preset, label);
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Queue name");
                ui.text_edit_singleline(&mut q.name).labelled_by(label.id);
                ui.end_row();
                let mut key = q.key.clone().unwrap_or_default();
                ui.label("Key / prefix");
                if ui
                    .add(
                        egui::TextEdit::singleline(&mut key).hint_text(match q.preset {
                            QueuePreset::Bullmq => "bull",
                            QueuePreset::Laravel => "queues",
                            QueuePreset::Custom => "the key (default: the name)",
                            QueuePreset::Sidekiq | QueuePreset::Celery => "not used",
                        }),
                    )
                    .changed()
                {
                    q.key = (!key.trim().is_empty()).then(|| key.trim().to_string());
                }
                ui.end_row();
                // The text is kept as typed (in egui's memory) while it is incomplete; the
                // profile gets the workload once it parses.
                let text_id = ui.scope_id().with(("queue_workload", id, i));
                let mut text = ui
                    .data_mut(|d| d.get_temp::<String>(text_id))
                    .unwrap_or_else(|| workload_text(q.linked_workload.as_ref()));
                let label = ui.label("Consumed by");
                ui.vertical(|ui| {
                    if ui
                        .add(
                            egui::TextEdit::singleline(&mut text)
                                .hint_text("ENDPOINT/SCOPE/NAME, e.g. k8s/prod/jobs/worker"),
                        )
                        .labelled_by(label.id)
                        .changed()
                    {
                        q.linked_workload = parse_workload(&text);
                    }
                    if !text.trim().is_empty() && q.linked_workload.is_none() {
                        ui.colored_label(
                            super::theme::WARN,
                            "Not used yet: write it as ENDPOINT/SCOPE/NAME.",
                        );
                    }
                });
                ui.data_mut(|d| d.insert_temp(text_id, text));
                ui.end_row();
                let mut rate = q.jobs_per_worker_per_sec.unwrap_or(0.0);
                ui.label("Jobs/s per worker (until measured)");
                if ui
                    .add(
                        egui::DragValue::new(&mut rate)
                            .range(0.0..=10_000.0)
                            .speed(0.1),
                    )
                    .changed()
                {
                    q.jobs_per_worker_per_sec = (rate > 0.0).then_some(rate);
                }
                ui.end_row();
            });
        if ui.small_button("Remove queue").clicked() {
            remove = Some(i);
        }
    }
    if let Some(i) = remove {
        queues.remove(i);
    }
    if ui.small_button("Add queue").clicked() {
        queues.push(RedisQueue {
            name: format!("queue-{}", queues.len() + 1),
            ..RedisQueue::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_workload_paths() {
        let w = parse_workload("k8s/prod/jobs/worker").unwrap();
        assert_eq!(
            (w.endpoint.as_str(), w.scope.as_str(), w.name.as_str()),
            ("k8s", "prod/jobs", "worker")
        );
        let w = parse_workload("docker/shop/worker").unwrap();
        assert_eq!(w.scope, "shop");
        assert_eq!(workload_text(Some(&w)), "docker/shop/worker");
        assert!(parse_workload("worker").is_none());
        assert!(parse_workload("k8s//worker").is_none());
    }
}
