//! What the scheduled run finishes: work HubSpot could not take when it was asked, in a way
//! that may pass, and that nothing else would ever ask for again. Two kinds: the close of a
//! thread whose handoff the bot ended (`pending_closes.rs`), and the SENT or FAILED an agent's
//! message is to show (`owed_statuses.rs`). Each kind is worked through oldest first, within
//! the run's budget, and stops at the first failure that says HubSpot is failing for every
//! item of its kind now; the rest wait for the next run.

use super::{Relay, RelayError};
use crate::adapters::budget;
use crate::ports::{OwedStatus, PendingClose, StoreError, UpstreamError};

/// Work still failing this long after it was left is given up, with an error for a person:
/// long enough to outlast an outage over a weekend.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);

/// No item is started with less than this left of the run's budget: it would run past the
/// scheduled function's timeout.
const LEFT_TO_START_ONE: std::time::Duration = std::time::Duration::from_secs(2);

/// One item left for the scheduled run.
#[derive(Debug)]
pub(super) enum LeftForLater {
    Close(PendingClose),
    Status(OwedStatus),
}

/// What one scheduled run did with one kind of work, for its log line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Made (a thread found gone counts as closed).
    done: usize,
    /// Given up: refused for good, or failing past [`GIVE_UP_AFTER`].
    given_up: usize,
    /// Left for the next run.
    left: usize,
}

/// Whether HubSpot's `failure` may pass, so the work is worth leaving for the scheduled run:
/// a 5xx or a timeout, or a refusal of what every call needs (the token, a scope, the rate).
pub(super) fn may_pass(failure: &UpstreamError) -> bool {
    failure.retryable || is_not_the_items_fault(failure)
}

/// A rejected token, a missing scope, a rate limit: nothing about the item, so no reason to
/// give it up, however old.
fn is_not_the_items_fault(error: &UpstreamError) -> bool {
    refuses_the_bridge(error) || error.status == Some(429)
}

/// HubSpot refuses the bridge itself (a rejected token or grant, a missing scope): it lasts
/// until a person mends it.
pub(super) fn refuses_the_bridge(error: &UpstreamError) -> bool {
    matches!(error.status, Some(401 | 403))
}

/// Whether `item`, failing with `error`, waits for the next run (and so does the rest of its
/// kind) rather than being given up. A close waits whatever its age when the refusal is not
/// the thread's (a person may mend the token or the scope, and the thread must close); a
/// status [`GIVE_UP_AFTER`] old is given up whatever the failure: the agent has long moved on,
/// and statuses, one per agent message, must not pile up behind a refusal for good.
fn waits_for_the_next_run(item: &LeftForLater, error: &UpstreamError, stale: bool) -> bool {
    match item {
        LeftForLater::Close(_) => is_not_the_items_fault(error) || (error.retryable && !stale),
        LeftForLater::Status(_) => !stale && may_pass(error),
    }
}

impl LeftForLater {
    /// The kind of work, for the log.
    fn kind(&self) -> &'static str {
        match self {
            Self::Close(_) => "thread closes",
            Self::Status(_) => "message statuses",
        }
    }

    fn since_ms(&self) -> i64 {
        match self {
            Self::Close(close) => close.since_ms,
            Self::Status(owed) => owed.since_ms,
        }
    }

    /// The thread or message the item is about, for the log (a FAILED status's reason may
    /// quote what Botpress said of the message, so it is not logged).
    fn id(&self) -> &str {
        match self {
            Self::Close(close) => &close.thread_id,
            Self::Status(owed) => &owed.message_id,
        }
    }
}

impl Relay {
    /// The scheduled run's part in the relay: closes the threads left for later, then sets the
    /// message statuses left for later. A kind that fails is logged and tried again next run;
    /// the other still runs.
    pub async fn finish_left_for_later(&self) {
        if let Err(error) = self.close_pending_threads().await {
            tracing::warn!(%error, "could not close the threads left for later; trying again next run");
        }
        if let Err(error) = self.set_owed_statuses().await {
            tracing::warn!(%error, "could not set the message statuses left for later; trying again next run");
        }
    }

    /// Works through `items`, one kind of work left for later, oldest first, within the
    /// current budget, forgetting each made or given up.
    pub(super) async fn work_through(&self, items: Vec<LeftForLater>) -> Result<(), RelayError> {
        let Some(kind) = items.first().map(LeftForLater::kind) else {
            return Ok(());
        };
        let now_ms = self.clock.now().timestamp_millis();
        let mut tally = Tally::default();
        let mut items = items.into_iter();
        for item in items.by_ref() {
            if budget::remaining().is_some_and(|left| left < LEFT_TO_START_ONE) {
                tally.left += 1;
                break;
            }
            let stale = now_ms - item.since_ms() > GIVE_UP_AFTER.num_milliseconds();
            match self.attempt(&item).await {
                Ok(()) => tally.done += 1,
                // HubSpot failing now, or refusing what every call needs: the rest would meet
                // it too, and nothing says to give this one up.
                Err(error) if waits_for_the_next_run(&item, &error, stale) => {
                    tracing::warn!(%error, kind, id = item.id(), "HubSpot could not take work left for later now; the rest wait for the next run");
                    tally.left += 1;
                    break;
                }
                Err(error) => {
                    given_up(&item, &error);
                    tally.given_up += 1;
                }
            }
            self.forget(&item).await?;
        }
        tally.left += items.count();
        if tally != Tally::default() {
            tracing::info!(
                kind,
                done = tally.done,
                given_up = tally.given_up,
                left = tally.left,
                "worked through what was left for the scheduled run"
            );
        }
        Ok(())
    }

    async fn attempt(&self, item: &LeftForLater) -> Result<(), UpstreamError> {
        match item {
            LeftForLater::Close(close) => {
                self.close_thread(&close.thread_id).await.map(|_closed| ())
            }
            LeftForLater::Status(owed) => {
                self.hubspot
                    .set_message_status(&owed.channel_id, &owed.message_id, &owed.status)
                    .await
            }
        }
    }

    async fn forget(&self, item: &LeftForLater) -> Result<(), StoreError> {
        match item {
            LeftForLater::Close(close) => self.store.forget_close(close).await,
            LeftForLater::Status(owed) => self.store.forget_status(owed).await,
        }
    }
}

/// Says, for a person, that `item` is given up after `error`, and what they can do.
fn given_up(item: &LeftForLater, error: &UpstreamError) {
    let for_good = !error.retryable;
    match item {
        LeftForLater::Close(close) => tracing::error!(
            %error,
            thread_id = close.thread_id,
            for_good,
            "a thread whose handoff the bot ended could not be closed; given up, close it in the help desk"
        ),
        LeftForLater::Status(owed) => tracing::error!(
            %error,
            message_id = owed.message_id,
            sent = owed.status == crate::ports::DeliveryStatus::Sent,
            for_good,
            "an agent's message status could not be set; given up, the agent does not see it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{DeliveryStatus, Service};

    fn failure(status: Option<u16>, retryable: bool) -> UpstreamError {
        UpstreamError {
            service: Service::HubSpot,
            operation: "test",
            status,
            retryable,
            message: String::new(),
        }
    }

    #[test]
    fn closes_wait_out_a_refusal_of_the_bridge_and_statuses_give_up_after_three_days() {
        let close = LeftForLater::Close(PendingClose {
            thread_id: "t".into(),
            since_ms: 0,
        });
        let status = LeftForLater::Status(OwedStatus {
            channel_id: "c".into(),
            message_id: "m".into(),
            status: DeliveryStatus::Sent,
            since_ms: 0,
        });
        let rejected_grant = failure(Some(401), false);
        let unavailable = failure(Some(503), true);
        let refused = failure(Some(400), false);
        for (item, error, stale, waits) in [
            (&close, &rejected_grant, true, true),
            (&close, &unavailable, false, true),
            (&close, &unavailable, true, false),
            (&close, &refused, false, false),
            (&status, &rejected_grant, false, true),
            (&status, &rejected_grant, true, false),
            (&status, &unavailable, false, true),
            (&status, &unavailable, true, false),
            (&status, &refused, false, false),
        ] {
            assert_eq!(
                waits_for_the_next_run(item, error, stale),
                waits,
                "{item:?} {error:?} stale {stale}"
            );
        }
    }
}
