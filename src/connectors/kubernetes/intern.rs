//! Strings that repeat across the watch caches' objects — a pod's namespace, its owner's kind
//! and name, its node — held once and shared. At 150,000 pods in 100 namespaces, 10,000
//! ReplicaSets and 5,000 nodes, each of these strings is repeated 15 to 1,500 times.
//!
//! One table for the process: contexts share namespace names and kinds. Strings no cached
//! object holds any more (a ReplicaSet replaced by a rollout, a node gone) are dropped when the
//! table has doubled since it was last swept, so it stays within twice what is in use.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

/// Below this the table is not swept: a few thousand short strings are nothing to keep.
const SWEEP_FROM: usize = 4_096;

struct Table {
    strings: HashSet<Arc<str>, foldhash::fast::RandomState>,
    /// Size after the last sweep.
    swept_at: usize,
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| {
    Mutex::new(Table {
        strings: HashSet::default(),
        swept_at: 0,
    })
});

/// The shared copy of `s`.
pub(super) fn intern(s: &str) -> Arc<str> {
    let mut table = TABLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(held) = table.strings.get(s) {
        return Arc::clone(held);
    }
    if table.strings.len() >= SWEEP_FROM.max(2 * table.swept_at) {
        table.strings.retain(|s| Arc::strong_count(s) > 1);
        table.swept_at = table.strings.len();
    }
    let held: Arc<str> = Arc::from(s);
    table.strings.insert(Arc::clone(&held));
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_string() {
        let a = intern("team-042-intern-test");
        let b = intern(&String::from("team-042-intern-test"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "team-042-intern-test");
        assert!(!Arc::ptr_eq(&a, &intern("team-043-intern-test")));
    }

    #[test]
    fn unused_strings_are_swept() {
        let kept = intern("kept-by-a-cached-object");
        for i in 0..3 * SWEEP_FROM {
            drop(intern(&format!("gone-{i}")));
        }
        let table = TABLE.lock().unwrap();
        assert!(
            table.strings.len() < 2 * SWEEP_FROM + 64,
            "{}",
            table.strings.len()
        );
        assert!(table.strings.contains("kept-by-a-cached-object"));
        drop(table);
        drop(kept);
    }
}
