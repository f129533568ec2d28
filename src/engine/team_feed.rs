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
    // Until the first successful read of the open locks, the ones already gone are old news.
    let mut announced_from_start = true;
    loop {
        if listening
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            listening = store.listen(tx.clone()).await.ok();
        }
        // Locks that went away without an outcome: their console died mid-action. Read
        // before the held set, so a lock freed after the window was told it is held is never
        // taken for one that was gone before this console connected; and on every read, so a
        // read that fails is made good by the next.
        match store.open_locks().await {
            Ok(open) => {
                for l in open.into_iter().filter(|l| l.state != "held") {
                    if unknown_told.contains(&l.action_id) || store.is_own_action(&l.action_id) {
                        continue;
                    }
                    unknown_told.push(l.action_id.clone());
                    if announced_from_start {
                        continue; // left before this console connected: `team status` lists it
                    }
                    sink.emit(Event::ColleagueAction(format!(
                        "{}@{}: {}: outcome unknown — their console went away while it ran; \
                         check the target",
                        l.operator, l.host, l.summary
                    )))
                    .await;
                }
                announced_from_start = false;
                if unknown_told.len() > 400 {
                    unknown_told.drain(..200);
                }
            }
            Err(why) => log::debug!("team feed: open locks not read: {why}"),
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
                sink.emit(Event::InProgressElsewhere(busy.clone())).await;
            }
            last_busy = Some(busy);
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
