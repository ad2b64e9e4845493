//! The state one simulator instance shares between its HTTP handlers and the test that drives it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{BotpressSimConfig, faults::Faults, store::Store};

/// Shared by the handlers (behind an `Arc`) and by [`super::BotpressSim`]'s accessors.
pub struct SimState {
    pub config: BotpressSimConfig,
    store: Mutex<Store>,
    faults: Mutex<Faults>,
    /// How `getOrCreateUser` treats a user it finds: updated with the name and picture given
    /// (`false`, the default), or returned as it is (`true`). Botpress's document says it
    /// "retrieves" the user and does not say which; the bridge must work with both.
    found_users_kept_as_they_are: AtomicBool,
}

impl SimState {
    pub fn new(config: BotpressSimConfig) -> Self {
        Self {
            config,
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Faults::default()),
            found_users_kept_as_they_are: AtomicBool::new(false),
        }
    }

    /// The store, even after a panic elsewhere poisoned the lock: a failed test thread must not turn
    /// every later assertion into a confusing second panic.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn found_users_kept_as_they_are(&self) -> bool {
        self.found_users_kept_as_they_are.load(Ordering::Relaxed)
    }

    pub fn keep_found_users_as_they_are(&self, keep: bool) {
        self.found_users_kept_as_they_are
            .store(keep, Ordering::Relaxed);
    }
}
