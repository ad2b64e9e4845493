use std::future::Future;
use std::time::Duration;

use super::{Relay, RelayError};
use crate::ports::{Claim, FinishingWrite};

/// How long one attempt may hold a key before another may take over (the worker died), when
/// no request budget applies. With a budget, the lease ends shortly after it: by then the
/// attempt has answered or its process is gone (Lambda's timeout is just past the budget),
/// so the sender's retry is not refused for longer than needed.
const LEASE_WITHOUT_BUDGET: Duration = Duration::from_secs(60);
const LEASE_PAST_BUDGET: Duration = Duration::from_secs(3);
/// How long a finished key is remembered: longer than HubSpot's 24 hours of retries.
const REMEMBER: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// How long a claim made now may be held: see [`LEASE_WITHOUT_BUDGET`].
pub(super) fn claim_lease() -> Duration {
    crate::adapters::budget::remaining()
        .map(|left| left + LEASE_PAST_BUDGET)
        .unwrap_or(LEASE_WITHOUT_BUDGET)
}

/// What happened to one unit of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Relayed now.
    Done,
    /// Not ours (a thread the bridge did not open, an event we do not act on): acknowledged.
    Ignored,
    /// Relayed by an earlier delivery; this retry changed nothing.
    AlreadyDone,
}

impl Relay {
    /// Runs `work` at most once per `key`: a retry of finished work is answered from the
    /// ledger, a retry of work in flight is refused, a failed attempt is released so the
    /// sender's retry can do it.
    pub(crate) async fn once<F>(&self, key: &str, work: F) -> Result<Outcome, RelayError>
    where
        F: Future<Output = Result<Outcome, RelayError>>,
    {
        self.once_finishing(key, async { Ok((work.await?, None)) })
            .await
    }

    /// [`Relay::once`] for work that ends with a write of its own: the work answers it
    /// instead of making it, and it is made together with the key's completion (one round
    /// trip instead of two).
    pub(crate) async fn once_finishing<F>(&self, key: &str, work: F) -> Result<Outcome, RelayError>
    where
        F: Future<Output = Result<(Outcome, Option<FinishingWrite>), RelayError>>,
    {
        match self.store.claim(key, claim_lease()).await? {
            Claim::Completed(_) => return Ok(Outcome::AlreadyDone),
            Claim::InProgress => return Err(RelayError::InProgress),
            Claim::Acquired => {}
        }
        match work.await {
            Ok((outcome, finishing)) => {
                match finishing {
                    Some(finishing) => self.store.complete_with(key, REMEMBER, &finishing).await?,
                    None => self.store.complete(key, None, REMEMBER).await?,
                }
                Ok(outcome)
            }
            Err(error) => {
                if let Err(release_error) = self.store.release(key).await {
                    tracing::warn!(%release_error, key, "could not release an idempotency key; its lease will expire");
                }
                Err(error)
            }
        }
    }
}
