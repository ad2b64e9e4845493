//! Closes HubSpot could not make when the bot ended a handoff. `stopHitl` closes the session
//! at once and asks HubSpot to close the thread; when HubSpot fails in a way that may pass
//! (5xx, a timeout, past the bridge's own retries), the thread is remembered instead of the
//! call failing: Botpress does not promise to send an action again, and nothing else would
//! ever close it. The scheduled run (the token refresher on Lambda, `hitl serve`'s schedule
//! locally) closes what is remembered, unless the thread's agent writes there first: their
//! message closes it then (`Relay::close_now_if_left_for_later`).

use super::{Relay, RelayError};
use crate::adapters::budget;
use crate::ports::UpstreamError;

/// A close still failing this long after it was left is given up, with an error for a person
/// to close the thread by hand: long enough to outlast an outage over a weekend.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);

/// A close is not started with less than this left of the run's budget: it would run past
/// the scheduled function's timeout.
const LEFT_TO_START_A_CLOSE: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest an agent's reply waits for the close of its thread left for later
/// ([`Relay::close_now_if_left_for_later`]): that close failed before, perhaps by hanging, and
/// the reply's delivery must still be answered within its budget. Cut short, the close is
/// left to the schedule.
const CLOSE_BESIDE_A_REPLY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// What one scheduled run did, for its log line.
#[derive(Debug, Default, PartialEq, Eq)]
struct ClosesMade {
    /// Threads closed, or found gone.
    closed: usize,
    /// Threads given up (refused for good, or failing past [`GIVE_UP_AFTER`]).
    given_up: usize,
    /// Threads left for the next run.
    left: usize,
}

impl Relay {
    /// Remembers `thread_id` for the scheduled run after HubSpot's `failure` to close it,
    /// which may pass. When even that fails, the failure is the caller's to answer.
    pub(super) async fn close_later(
        &self,
        session_id: &str,
        thread_id: &str,
        failure: UpstreamError,
    ) -> Result<(), RelayError> {
        match self.store.remember_close(thread_id).await {
            Ok(()) => {
                tracing::warn!(
                    error = %failure,
                    session = session_id,
                    thread_id,
                    "HubSpot could not close the thread now; it is closed later (the scheduled run, or the agent's next message there)"
                );
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, thread_id, "could not remember the thread to close later");
                Err(failure.into())
            }
        }
    }

    /// Closes the threads remembered by [`Relay::close_later`], oldest first, within the
    /// current budget. Stops at the first failure that says HubSpot is failing for every
    /// thread now (one that may pass, a rejected token, a missing scope, a rate limit): the
    /// rest wait for the next run. A close still failing [`GIVE_UP_AFTER`] on in a way that
    /// may pass, or refused for good for this thread, is given up with an error.
    pub async fn close_pending_threads(&self) -> Result<(), RelayError> {
        let now_ms = self.clock.now().timestamp_millis();
        let mut made = ClosesMade::default();
        let mut closes = self.store.closes_pending().await?.into_iter().peekable();
        while closes.peek().is_some() {
            if budget::remaining().is_some_and(|left| left < LEFT_TO_START_A_CLOSE) {
                break;
            }
            let Some(close) = closes.next() else { break };
            let thread_id = close.thread_id.as_str();
            let stale = now_ms - close.since_ms > GIVE_UP_AFTER.num_milliseconds();
            match self.close_thread(thread_id).await {
                // A thread gone from the help desk has nothing left open.
                Ok(_) => made.closed += 1,
                // HubSpot failing now, or refusing what every close needs (the token, a scope,
                // the rate): the rest would meet it too, and nothing says to give this one up.
                Err(error) if is_not_the_threads_fault(&error) || (error.retryable && !stale) => {
                    tracing::warn!(%error, thread_id, "HubSpot could not close a thread now; the rest wait for the next run");
                    made.left += 1;
                    break;
                }
                Err(error) if error.retryable => {
                    tracing::error!(
                        %error,
                        thread_id,
                        "a thread whose handoff the bot ended could not be closed for days; given up, close it in the help desk"
                    );
                    made.given_up += 1;
                }
                Err(error) => {
                    tracing::error!(
                        %error,
                        thread_id,
                        "HubSpot refused for good to close a thread whose handoff the bot ended; close it in the help desk"
                    );
                    made.given_up += 1;
                }
            }
            self.store.forget_close(&close).await?;
        }
        made.left += closes.count();
        if made != ClosesMade::default() {
            tracing::info!(
                closed = made.closed,
                given_up = made.given_up,
                left = made.left,
                "closed the threads left for the scheduled run"
            );
        }
        Ok(())
    }
}

impl Relay {
    /// Makes the close left for later of `thread_id` now, if it has one: for an agent writing
    /// in a thread whose handoff the bot ended (their reply marked FAILED), so the thread
    /// closes as soon as HubSpot answers again, not up to a schedule's period later while the
    /// agent keeps writing into it. Best effort: a failure leaves the close to the schedule,
    /// which also gives it up when it must.
    pub(super) async fn close_now_if_left_for_later(&self, thread_id: &str) {
        let close = match self.store.closes_pending().await {
            Ok(closes) => closes
                .into_iter()
                .find(|close| close.thread_id == thread_id),
            Err(error) => {
                tracing::warn!(%error, thread_id, "could not read the closes left for later");
                return;
            }
        };
        let Some(close) = close else { return };
        let within = budget::remaining().map_or(CLOSE_BESIDE_A_REPLY_WITHIN, |left| {
            left.saturating_sub(CLOSE_BESIDE_A_REPLY_WITHIN)
                .min(CLOSE_BESIDE_A_REPLY_WITHIN)
        });
        let closed = tokio::time::timeout(within, self.close_thread(thread_id)).await;
        let Ok(closed) = closed else {
            tracing::warn!(
                thread_id,
                "HubSpot did not close the thread in time; the scheduled run tries again"
            );
            return;
        };
        match closed {
            Ok(_) => match self.store.forget_close(&close).await {
                Ok(()) => tracing::info!(
                    thread_id,
                    "closed a thread left for the scheduled run, as its agent wrote in it"
                ),
                Err(error) => {
                    tracing::warn!(%error, thread_id, "closed a thread left for later, but could not forget it; the scheduled run finds it closed");
                }
            },
            Err(error) => {
                tracing::warn!(%error, thread_id, "HubSpot still could not close the thread; the scheduled run tries again");
            }
        }
    }
}

/// A rejected token, a missing scope, a rate limit: nothing about the thread, so no reason to
/// give its close up, however old.
fn is_not_the_threads_fault(error: &UpstreamError) -> bool {
    matches!(error.status, Some(401 | 403 | 429))
}
