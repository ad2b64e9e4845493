//! Closes HubSpot could not make when the bot ended a handoff. `stopHitl` closes the session
//! at once and asks HubSpot to close the thread; when HubSpot fails in a way that may pass
//! (5xx, a timeout, past the bridge's own retries), the thread is remembered instead of the
//! call failing: Botpress does not promise to send an action again, and nothing else would
//! ever close it. The scheduled run (the token refresher on Lambda, `hitl serve`'s schedule
//! locally) closes what is remembered, unless the thread's agent writes there first, or a late
//! message of the customer goes in: that closes it then (`Relay::close_now_if_left_for_later`).

use super::left_for_later::LeftForLater;
use super::{Relay, RelayError};
use crate::adapters::budget;
use crate::ports::UpstreamError;

/// The longest an agent's reply waits for the close of its thread left for later
/// ([`Relay::close_now_if_left_for_later`]): that close failed before, perhaps by hanging, and
/// the reply's delivery must still be answered within its budget. Cut short, the close is
/// left to the schedule.
const CLOSE_BESIDE_A_REPLY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

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
                    "HubSpot could not close the thread now; it is closed later (the scheduled run, or the next message there)"
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
    /// current budget (`left_for_later.rs`: the run stops at HubSpot failing for every thread
    /// now, and gives up a close refused for good for its thread or failing for days).
    pub(super) async fn close_pending_threads(&self) -> Result<(), RelayError> {
        let closes = self.store.closes_pending().await?;
        self.work_through(closes.into_iter().map(LeftForLater::Close).collect())
            .await
    }
}

impl Relay {
    /// Makes the close left for later of `thread_id` now, if it has one: for an agent writing
    /// in a thread whose handoff the bot ended (their reply marked FAILED), so the thread
    /// closes as soon as HubSpot answers again, not up to a schedule's period later while the
    /// agent keeps writing into it; and for a customer's late message there. Best effort: a
    /// failure leaves the close to the schedule, which also gives it up when it must. Answers
    /// whether the thread had a close left for later, which the schedule makes if this fails.
    pub(super) async fn close_now_if_left_for_later(&self, thread_id: &str) -> bool {
        let close = match self.store.closes_pending().await {
            Ok(closes) => closes
                .into_iter()
                .find(|close| close.thread_id == thread_id),
            Err(error) => {
                tracing::warn!(%error, thread_id, "could not read the closes left for later");
                return false;
            }
        };
        let Some(close) = close else { return false };
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
            return true;
        };
        match closed {
            Ok(_) => match self.store.forget_close(&close).await {
                Ok(()) => tracing::info!(
                    thread_id,
                    "closed a thread left for the scheduled run, as a message came in it"
                ),
                Err(error) => {
                    tracing::warn!(%error, thread_id, "closed a thread left for later, but could not forget it; the scheduled run finds it closed");
                }
            },
            Err(error) => {
                tracing::warn!(%error, thread_id, "HubSpot still could not close the thread; the scheduled run tries again");
            }
        }
        true
    }
}
