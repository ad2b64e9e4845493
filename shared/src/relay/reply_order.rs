//! Agent replies reach the bot in the order the agent wrote them, even when HubSpot delivers
//! them out of order in separate deliveries (one delivery is ordered by `batch`).
//!
//! How: the session keeps the creation time of the newest reply relayed (the mark), so the read
//! that finds the thread's session brings it.
//! Before relaying a reply written after the mark, the relay reads the thread's agent messages
//! written after the mark (one HubSpot call, newest first, stopping at the mark) and relays
//! every earlier one first, oldest first, each under the same ledger key its own delivery
//! uses, so each is relayed exactly once whichever delivery gets there first. When the earlier
//! one's own delivery is being relayed right now, the later one waits for it (up to 1.5 s,
//! within its budget: `Relay::once_finishing_or_wait`), and past that is refused with "in
//! progress" (503): HubSpot's retry brings it back after the earlier one is done.
//!
//! Cost: one thread read per reply; with the SENT status that is two HubSpot calls per reply,
//! issue #9's budget, once the agent is cached. A close reads the thread once too, so the
//! agent's last replies reach the customer before the bot hears the handoff ended.
//!
//! Guarantee: a reply is never relayed before an earlier reply of the same thread that HubSpot
//! lists in the thread's history when the later one is relayed. Limits, all of which relay the
//! message late rather than lose it: a reply HubSpot does not list yet (its own eventual
//! consistency); a reply whose creation time equals the mark to the millisecond; a reply
//! without a creation time; a reply the bot refused for good (marked FAILED for the agent,
//! then skipped so it does not hold the thread back); and every reply while HubSpot refuses
//! for good to list the thread (each is relayed as it is delivered rather than not at all).

use super::help_desk_events::agent_message_key;
use super::{Outcome, Relay, RelayError};
use crate::model::{AgentMessage, HandoffSession};
use crate::ports::HistoryBound;

impl Relay {
    /// Relays, oldest first, the thread's replies written before `reply` and not relayed yet.
    pub(super) async fn relay_earlier_replies(
        &self,
        session: &HandoffSession,
        reply: &AgentMessage,
    ) -> Result<(), RelayError> {
        if reply.created_at_ms <= 0 {
            return Ok(());
        }
        if reply.created_at_ms <= relayed_until(session) {
            tracing::info!(
                session = session.id,
                message_id = reply.message_id,
                "agent reply arrived after a later one was relayed; relaying it late"
            );
            return Ok(());
        }
        self.relay_replies_before(session, &reply.thread_id, HistoryBound::Message(reply))
            .await
    }

    /// Relays, oldest first, the thread's replies written up to its close at `closed_at_ms`
    /// and not relayed yet, before the bot hears `hitlStopped`: an agent's last words whose
    /// own delivery is waiting for HubSpot's retry (an earlier reply was still in flight,
    /// Botpress answered a 5xx) would otherwise meet an ended handoff and never reach the
    /// customer. One thread read per close.
    pub(super) async fn relay_replies_before_close(
        &self,
        session: &HandoffSession,
        thread_id: &str,
        closed_at_ms: i64,
    ) -> Result<(), RelayError> {
        self.relay_replies_before(session, thread_id, HistoryBound::Moment(closed_at_ms))
            .await
    }

    /// Relays, oldest first, the thread's replies after the session's mark and before
    /// `before`, each under the ledger key its own delivery uses.
    async fn relay_replies_before(
        &self,
        session: &HandoffSession,
        thread_id: &str,
        before: HistoryBound<'_>,
    ) -> Result<(), RelayError> {
        // Only what lies between the mark and the bound, oldest first (the port's contract).
        let earlier = match self
            .hubspot
            .agent_messages_before(
                thread_id,
                &session.channel_id,
                relayed_until(session),
                before,
            )
            .await
        {
            Ok(earlier) => earlier,
            // HubSpot's retry reads it again.
            Err(error) if error.retryable => return Err(error.into()),
            // No retry would read it (a scope or a thread HubSpot refuses to list): the order is
            // a courtesy, what waits on it is not, so it goes now; any earlier reply still comes
            // with its own delivery.
            Err(error) => {
                tracing::warn!(
                    %error,
                    session = session.id,
                    "the thread's history could not be read; going on without checking for earlier replies"
                );
                return Ok(());
            }
        };
        for message in earlier {
            let key = agent_message_key(&message.message_id);
            match self
                .once_finishing_or_wait(&key, || self.deliver_agent_message(session, &message))
                .await
            {
                Ok(Outcome::Done) => tracing::info!(
                    session = session.id,
                    message_id = message.message_id,
                    "relayed an agent reply ahead of its own delivery, to keep the thread's order"
                ),
                Ok(_) => {}
                // Failed for good and marked FAILED for the agent: it must not hold back the rest.
                Err(error) if !error.retryable() => tracing::warn!(
                    %error,
                    message_id = message.message_id,
                    "an earlier agent reply could not be relayed; going on without it"
                ),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// The session's reply-order mark; before its first reply, every agent message since it
/// opened counts.
fn relayed_until(session: &HandoffSession) -> i64 {
    session
        .replies_relayed_until_ms
        .unwrap_or_else(|| session.created_at.timestamp_millis() - 1)
}
