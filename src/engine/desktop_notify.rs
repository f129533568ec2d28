//! Desktop notifications through the freedesktop `org.freedesktop.Notifications` service over
//! the session D-Bus. Sent from an engine task, never from the UI thread; a bus that is missing
//! or refuses is logged once per run and otherwise ignored (the Alerts panel has it all).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static FAILED_ONCE: AtomicBool = AtomicBool::new(false);

/// One notification on the session bus (`DBUS_SESSION_BUS_ADDRESS`); a failure is logged once
/// per run, never returned: the window goes on without it.
pub async fn send(summary: String, body: String) {
    let result = tokio::time::timeout(Duration::from_secs(5), notify(&summary, &body)).await;
    let problem = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 s".to_string(),
    };
    if !FAILED_ONCE.swap(true, Ordering::Relaxed) {
        log::warn!(
            "desktop notifications are unavailable ({problem}); alerts stay in the Alerts panel"
        );
    }
}

async fn notify(summary: &str, body: &str) -> zbus::Result<()> {
    let connection = zbus::Connection::session().await?;
    let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    connection
        .call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &(
                "Scaleboard",
                0u32,
                "dialog-warning",
                summary,
                body,
                Vec::<&str>::new(),
                hints,
                -1i32,
            ),
        )
        .await?;
    Ok(())
}
