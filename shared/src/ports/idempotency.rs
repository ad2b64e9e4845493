use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;

/// What a claim on an idempotency key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nobody has done this work (or an earlier attempt's lease ran out): do it now.
    Acquired,
    /// Another attempt is doing it right now: the sender should retry later.
    InProgress,
    /// It was done; here is what was answered then.
    Completed(Option<String>),
}

/// A change of the relay's state that finishes a unit of work: written with the key's
/// completion in one store operation where the store can, so finishing costs one round trip
/// and the record of the work and its key's "done" never disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishingWrite {
    /// [`SessionStore::advance_replies_relayed_until`](super::SessionStore): an agent reply
    /// was relayed.
    RepliesRelayedUntil {
        session_id: String,
        created_at_ms: i64,
    },
}

/// A record per unit of work (a HubSpot event, a Botpress message), going
/// IN_PROGRESS → COMPLETED with an expiry, written with one conditional write. A retry of
/// finished work is answered from the record; a retry of work in flight is refused.
#[async_trait]
pub trait IdempotencyLedger: Send + Sync {
    /// Claims `key` for `lease`; a lease that ran out (the worker died) can be claimed again.
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError>;
    /// Marks `key` done, remembering `outcome`, for `keep` (longer than the sender retries).
    async fn complete(
        &self,
        key: &str,
        outcome: Option<&str>,
        keep: Duration,
    ) -> Result<(), StoreError>;
    /// Marks `key` done (without an outcome) and makes `finishing`, together.
    async fn complete_with(
        &self,
        key: &str,
        keep: Duration,
        finishing: &FinishingWrite,
    ) -> Result<(), StoreError>;
    /// Gives `key` up after a failure, so the sender's retry can do the work.
    async fn release(&self, key: &str) -> Result<(), StoreError>;
}
