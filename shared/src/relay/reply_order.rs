//! Agent replies reach the bot in the order the agent wrote them, even when HubSpot delivers
//! them out of order in separate deliveries (one delivery is ordered by `batch`).
//!
//! How: the session keeps the creation time of the newest reply relayed (the mark), so the read
//! that finds the thread's session brings it.
//! Before relaying a reply written after the mark, the relay reads the thread's agent messages
//! written after the mark (one HubSpot call, newest first, stopping at the mark) and relays
//! every earlier one first, oldest first, each under the same ledger key its own delivery
//! uses, so each is relayed exactly once whichever delivery gets there first. When the earlier
//! one's own delivery is being relayed right now, the later one is refused with "in progress"
//! (503): HubSpot's retry brings it back after the earlier one is done.
//!
//! Cost: one thread read per reply; with the SENT status that is two HubSpot calls per reply,
//! issue #9's budget, once the agent is cached.
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
        // Before the first reply of the session, every agent message since it opened counts.
        let mark = session
            .replies_relayed_until_ms
            .unwrap_or_else(|| session.created_at.timestamp_millis() - 1);
        if reply.created_at_ms <= mark {
            tracing::info!(
                session = session.id,
                message_id = reply.message_id,
                "agent reply arrived after a later one was relayed; relaying it late"
            );
            return Ok(());
        }
        // Only what lies between the mark and this reply, oldest first (the port's contract).
        let earlier = match self
            .hubspot
            .agent_messages_before(&reply.thread_id, &session.channel_id, mark, reply)
            .await
        {
            Ok(earlier) => earlier,
            // HubSpot's retry reads it again.
            Err(error) if error.retryable => return Err(error.into()),
            // No retry would read it (a scope or a thread HubSpot refuses to list): the order is
            // a courtesy, the reply itself is not, so it goes now; any earlier one still comes
            // with its own delivery.
            Err(error) => {
                tracing::warn!(
                    %error,
                    session = session.id,
                    message_id = reply.message_id,
                    "the thread's history could not be read; relaying the reply without checking for earlier ones"
                );
                return Ok(());
            }
        };
        for message in earlier {
            let key = agent_message_key(&message.message_id);
            match self
                .once_finishing(&key, self.deliver_agent_message(session, &message))
                .await
            {
                Ok(Outcome::Done) => tracing::info!(
                    session = session.id,
                    message_id = message.message_id,
                    "relayed an earlier agent reply before a later one"
                ),
                Ok(_) => {}
                // Failed for good and marked FAILED for the agent: it must not hold back the rest.
                Err(error) if !error.retryable() => tracing::warn!(
                    %error,
                    message_id = message.message_id,
                    "an earlier agent reply could not be relayed; relaying the later one anyway"
                ),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}
