//! The process's memory of which session a `THREAD#` or `CONVERSATION#` item names, so a warm
//! function finds a thread's or a conversation's session with one read (the session item)
//! instead of two (the mapping item, then the session item).
//!
//! Safe because a mapping never names another session while its session lasts: the write that
//! creates one requires it to be free, to name the same session, or to have expired, and a
//! mapping expires with its session. Every use is still checked against the session read: a
//! session that is gone, or no longer names the id, sends the lookup back to the mapping item.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;

/// Mappings remembered per process: a Lambda execution environment meets far fewer, and each
/// costs about 100 bytes.
const ENTRIES: NonZeroUsize = NonZeroUsize::new(4_096).expect("non-zero");

/// Mapping item key (`THREAD#…`, `CONVERSATION#…`) → the session id it names. Shared by the
/// store's clones; the lock is held for one map operation, never across an `.await`.
#[derive(Clone)]
pub(super) struct PointerCache(Arc<Mutex<LruCache<String, String>>>);

impl Default for PointerCache {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(LruCache::new(ENTRIES))))
    }
}

impl PointerCache {
    pub(super) fn session_id(&self, mapping: &str) -> Option<String> {
        self.lock().get(mapping).cloned()
    }

    pub(super) fn remember(&self, mapping: String, session_id: String) {
        self.lock().put(mapping, session_id);
    }

    pub(super) fn forget(&self, mapping: &str) {
        self.lock().pop(mapping);
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, String>> {
        // A panic while holding the lock cannot leave a half-written entry: use it anyway.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_is_shared_by_clones() {
        let cache = PointerCache::default();
        let clone = cache.clone();
        cache.remember("THREAD#1".into(), "s1".into());
        assert_eq!(clone.session_id("THREAD#1").as_deref(), Some("s1"));
        clone.forget("THREAD#1");
        assert_eq!(cache.session_id("THREAD#1"), None);
    }
}
