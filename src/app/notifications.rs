//! Errors and notices reach the operator exactly once as a toast, and stay in a bounded list.

use crate::model::snapshot::TimeMs;
use std::collections::VecDeque;

pub const MAX_NOTIFICATIONS: usize = 200;
pub const TOAST_MS: TimeMs = 6_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug)]
pub struct Notification {
    pub at: TimeMs,
    pub level: Level,
    pub text: String,
}

#[derive(Default)]
pub struct Notifications {
    pub list: VecDeque<Notification>,
    pub unread: usize,
}

impl Notifications {
    pub fn push(&mut self, at: TimeMs, level: Level, text: impl Into<String>) {
        if self.list.len() == MAX_NOTIFICATIONS {
            self.list.pop_front();
        }
        self.list.push_back(Notification {
            at,
            level,
            text: text.into(),
        });
        self.unread += 1;
    }

    /// Notifications young enough to show as toasts.
    pub fn toasts(&self, now: TimeMs) -> impl Iterator<Item = &Notification> {
        self.list
            .iter()
            .rev()
            .take_while(move |n| now - n.at < TOAST_MS)
    }
}
