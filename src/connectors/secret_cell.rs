//! A looked-up password or token kept between polls, and looked up again once the server
//! refuses it: a secret changed with `scaleboard secret set` (or in the keyring, or the
//! credentials file) reaches a running window at the next poll after the refusal, with no
//! reconnect.

use std::future::Future;

pub struct SecretCell<T> {
    value: tokio::sync::Mutex<Option<T>>,
}

impl<T: Clone> Default for SecretCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> SecretCell<T> {
    pub const fn new() -> Self {
        Self {
            value: tokio::sync::Mutex::const_new(None),
        }
    }

    /// The kept value, or the one `init` looks up (kept when it succeeds). Concurrent callers
    /// wait for one lookup instead of each asking the keyring.
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut value = self.value.lock().await;
        if let Some(v) = value.as_ref() {
            return Ok(v.clone());
        }
        let v = init().await?;
        *value = Some(v.clone());
        Ok(v)
    }

    /// The server refused the secret: the next use looks it up again. A lookup already under
    /// way reads the current secret anyway, so a busy cell is left alone.
    pub fn forget(&self) {
        if let Ok(mut value) = self.value.try_lock() {
            *value = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SecretCell;

    #[tokio::test]
    async fn kept_until_forgotten_then_looked_up_again() {
        let cell = SecretCell::<String>::new();
        let first: Result<_, ()> = cell.get_or_try_init(|| async { Ok("old".into()) }).await;
        assert_eq!(first.unwrap(), "old");
        let kept: Result<_, ()> = cell.get_or_try_init(|| async { Ok("new".into()) }).await;
        assert_eq!(kept.unwrap(), "old", "kept between polls");
        cell.forget();
        let again: Result<_, ()> = cell.get_or_try_init(|| async { Ok("new".into()) }).await;
        assert_eq!(again.unwrap(), "new", "looked up again after a refusal");
        let failed = SecretCell::<String>::new();
        assert!(failed.get_or_try_init(|| async { Err(()) }).await.is_err());
        let later: Result<_, ()> = failed.get_or_try_init(|| async { Ok("x".into()) }).await;
        assert_eq!(later.unwrap(), "x", "a failed lookup is not kept");
    }
}
