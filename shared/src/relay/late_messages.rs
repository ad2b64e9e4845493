//! A customer's message that goes into the thread as its handoff ends, or after. The bot's
//! HITL plugin sends what goes to the agent only while the handoff is on for it, so such a
//! message was written during the handoff: Botpress retried it past the end, or it raced the
//! end (`stopHitl`, or the agent closing the thread, while the customer typed). Refused, it
//! would be lost without a trace (the plugin tells the customer nothing of a refusal), so it
//! goes into the thread's record like any other; but HubSpot reopens a closed thread for an
//! incoming message, and the customer is back with the bot, so the thread is closed again
//! rather than left open for replies that reach nobody.

use super::{Relay, RelayError};
use crate::model::{HandoffSession, SessionStatus};

impl Relay {
    /// After a customer's message went into `threads`, closes them again if the handoff has
    /// ended: as read before the message was published (`ended_before`), or since. The second
    /// read closes the race with `stopHitl`, which closes the session before the thread: a
    /// message published before the session closed is followed by `stopHitl`'s own close, and
    /// one published after is seen here. (The agent's close ends the session only once the bot
    /// has heard `hitlStopped`: a message published in between reopens the thread for them.)
    pub(super) async fn close_if_the_handoff_ended(
        &self,
        session: &HandoffSession,
        ended_before: bool,
        threads: &[String],
    ) -> Result<(), RelayError> {
        if !ended_before && !self.ended_meanwhile(session).await {
            return Ok(());
        }
        for thread_id in threads {
            self.close_again(&session.id, thread_id).await?;
        }
        Ok(())
    }

    /// Whether the open `session` has closed since it was read. Best effort: a failed read is
    /// logged and taken as open, leaving the thread as the publish left it.
    async fn ended_meanwhile(&self, session: &HandoffSession) -> bool {
        match self.store.find_by_id(&session.id).await {
            Ok(now) => now.is_some_and(|now| now.status == SessionStatus::Closed),
            Err(error) => {
                tracing::warn!(%error, session = session.id, "could not read whether the handoff ended while a customer's message went in");
                false
            }
        }
    }

    /// Closes `thread_id` again after a message of its ended handoff reopened it. A close left
    /// for later (`stopHitl`'s, which HubSpot failed to make) is made now; another that HubSpot
    /// fails to make now is left for later the same way; one refused for good is logged (the
    /// thread gone to the trash counts as closed).
    async fn close_again(&self, session_id: &str, thread_id: &str) -> Result<(), RelayError> {
        if self.close_now_if_left_for_later(thread_id).await {
            return Ok(());
        }
        match self.close_thread(thread_id).await {
            Ok(_) => {
                tracing::info!(
                    session = session_id,
                    thread_id,
                    "closed again a thread a customer's message reopened after its handoff ended"
                );
                Ok(())
            }
            Err(error) if error.retryable => self.close_later(session_id, thread_id, error).await,
            Err(error) => {
                tracing::error!(%error, session = session_id, thread_id, "HubSpot refused to close again a thread a customer's message reopened after its handoff ended; it is left open");
                Ok(())
            }
        }
    }
}
