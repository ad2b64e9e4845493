//! The state one simulator instance shares between its HTTP handlers and the test that drives it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{BotpressSimConfig, faults::Faults, store::Store};

/// Shared by the handlers (behind an `Arc`) and by [`super::BotpressSim`]'s accessors.
pub struct SimState {
    pub config: BotpressSimConfig,
    store: Mutex<Store>,
    faults: Mutex<Faults>,
}

impl SimState {
    pub fn new(config: BotpressSimConfig) -> Self {
        Self {
            config,
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Faults::default()),
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
}
