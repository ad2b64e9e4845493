//! A customer's message that goes into the thread as its handoff ends, or after. The bot's
//! HITL plugin sends what goes to the agent only while the handoff is on for it, so such a
//! message was written during the handoff: Botpress retried it past the end, or it raced the
//! end (`stopHitl`, or the agent closing the thread, while the customer typed). Refused, it
//! would be lost without a trace (the plugin tells the customer nothing of a refusal), so it
//! goes into the thread's record like any other; but HubSpot reopens a closed thread for an
//! incoming message, and the customer is back with the bot, so the thread is closed again
//! rather than left open for replies that reach nobody.
//!
//! Every way a handoff ends closes the session in the store and then the thread (`stopHitl`
//! closes the session before the thread; the agent's close is made again once the session
//! is closed), and a message reads the session after HubSpot answered its publish, by when
//! HubSpot has reopened the thread. So whichever comes first, the last close follows the
//! reopening.

use super::thread_close::ThreadClosed;
use super::{Relay, RelayError};
use crate::model::{HandoffSession, SessionStatus};

impl Relay {
    /// After a customer's message went into `threads`, closes them again if the handoff has
    /// ended: as read before the message was published (`ended_before`), or since. A failed
    /// read fails the message, for Botpress's retry (which publishes nothing twice, and
    /// finds the handoff ended or not).
    pub(super) async fn close_if_the_handoff_ended(
        &self,
        session: &HandoffSession,
        ended_before: bool,
        threads: &[String],
    ) -> Result<(), RelayError> {
        if threads.is_empty() || !(ended_before || self.ended_meanwhile(session).await?) {
            return Ok(());
        }
        for thread_id in threads {
            self.close_again(&session.id, thread_id).await?;
        }
        Ok(())
    }

    /// Closes the agent's closed thread once more, now that its session is closed: a
    /// customer's message published since the agent closed it (the bot not yet told) reopened
    /// it, and found the session still open. HubSpot takes the close of a closed thread as
    /// done. Best effort: a failure is logged, and the thread left as it is.
    pub(super) async fn keep_closed(&self, session: &HandoffSession) {
        let Some(thread_id) = &session.thread_id else {
            return;
        };
        if let Err(error) = self.close_reopened(&session.id, thread_id).await {
            tracing::warn!(%error, session = session.id, thread_id, "could not make sure the agent's closed thread stays closed");
        }
    }

    /// Whether the open `session` has closed since it was read.
    async fn ended_meanwhile(&self, session: &HandoffSession) -> Result<bool, RelayError> {
        let now = self.store.find_by_id(&session.id).await?;
        Ok(now.is_some_and(|now| now.status == SessionStatus::Closed))
    }

    /// Closes `thread_id` again after a message of its ended handoff reopened it. A close left
    /// for later (`stopHitl`'s, which HubSpot failed to make) is made now.
    async fn close_again(&self, session_id: &str, thread_id: &str) -> Result<(), RelayError> {
        if self.close_now_if_left_for_later(thread_id).await {
            return Ok(());
        }
        self.close_reopened(session_id, thread_id).await
    }

    /// Closes a thread of an ended handoff that may have been reopened. A close HubSpot fails
    /// to make now is left for later, as `stopHitl`'s is; one refused for good is logged.
    async fn close_reopened(&self, session_id: &str, thread_id: &str) -> Result<(), RelayError> {
        match self.close_thread(thread_id).await {
            Ok(ThreadClosed::Now) => Ok(()),
            Ok(ThreadClosed::Gone) => {
                tracing::info!(
                    session = session_id,
                    thread_id,
                    "the thread of an ended handoff is gone from the help desk; nothing to close"
                );
                Ok(())
            }
            Err(error) if error.retryable => self.close_later(session_id, thread_id, error).await,
            Err(error) => {
                tracing::error!(%error, session = session_id, thread_id, "HubSpot refused to close a thread of an ended handoff; it is left open");
                Ok(())
            }
        }
    }
}
