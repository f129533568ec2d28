//! The team feed task of a connected profile with a team store: tells the UI which targets
//! other consoles are changing (plans then carry a refusing guard) and which actions colleagues
//! recorded (a notification and an audit refresh). Woken by the store's NOTIFY within a moment
//! of each write; reads again every few seconds when notifications are lost.

use super::EventSink;
use super::types::Event;
use crate::team::TeamStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest wait between two reads when no notification comes.
const REREAD_EVERY: Duration = Duration::from_secs(3);
/// Notifications coalesce: a burst of writes costs one read.
const NOTICES: usize = 64;

pub(crate) async fn run(store: Arc<TeamStore>, sink: EventSink) {
    let (tx, mut rx) = mpsc::channel(NOTICES);
    let mut listening = None;
    // Announced: what is shared from the moment this console connected (its own clock; the
    // task may first reach the store after a colleague's first write).
    let mut cursor = Some(chrono::Utc::now().timestamp_micros());
    let mut last_busy: Option<Vec<(String, String)>> = None;
    // Actions already announced as "outcome unknown" (bounded: the store lists at most 200).
    let mut unknown_told: Vec<String> = Vec::new();
    loop {
        if listening
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            listening = store.listen(tx.clone()).await.ok();
        }
        let held = store.held_locks().await;
        if let Err(why) = &held {
            log::debug!("team feed: locks not read: {why}");
        }
        if let Ok(held) = held {
            let mut busy: Vec<(String, String)> = held
                .into_iter()
                .filter(|(_, h)| !store.is_own_action(&h.action_id))
                .map(|(identity, holder)| (identity, holder.to_string()))
                .collect();
            busy.sort();
            if last_busy.as_ref() != Some(&busy) {
                let first = last_busy.is_none();
                sink.emit(Event::InProgressElsewhere(busy.clone())).await;
                last_busy = Some(busy);
                // A lock that went away: its console may have died mid-action.
                let open = store.open_locks().await.unwrap_or_default();
                let gone: Vec<_> = open.into_iter().filter(|l| l.state != "held").collect();
                for l in gone {
                    if unknown_told.contains(&l.action_id) || store.is_own_action(&l.action_id) {
                        continue;
                    }
                    unknown_told.push(l.action_id.clone());
                    if first {
                        continue; // left before this console connected: `team status` lists it
                    }
                    sink.emit(Event::ColleagueAction(format!(
                        "{}@{}: {}: outcome unknown — their console went away while it ran; \
                         check the target",
                        l.operator, l.host, l.summary
                    )))
                    .await;
                }
                if unknown_told.len() > 400 {
                    unknown_told.drain(..200);
                }
            }
        }
        let shared = store.shared_since(&mut cursor).await;
        if let Err(why) = &shared {
            log::debug!("team feed: history not read: {why}");
        }
        if let Ok(rows) = shared {
            for r in rows {
                let what = if r.phase == "intent" {
                    "started".to_owned()
                } else {
                    r.outcome.replace('_', " ")
                };
                let text = format!(
                    "{}@{} ({}): {} {} {} → {}: {what}",
                    r.operator, r.host, r.profile, r.action, r.target, r.before, r.after
                );
                sink.emit(Event::ColleagueAction(text)).await;
            }
        }
        tokio::select! {
            _ = rx.recv() => {
                // Drain the burst.
                while rx.try_recv().is_ok() {}
            }
            () = tokio::time::sleep(REREAD_EVERY) => {}
        }
    }
}
