//! The SENT or FAILED an agent's message shows in the help desk, when HubSpot fails to take it.
//! The message itself is handled by then (delivered, or refused for good), and its delivery is
//! complete, so HubSpot's retry would not bring the status back: the status is remembered
//! instead, and the scheduled run sets it (`left_for_later.rs`). Relaying the message again to
//! reach its status was the alternative, and worse: a bot's `stopHitl` in between would mark
//! FAILED a message the customer got, and one reply's status would hold back the next reply.

use super::left_for_later::{LeftForLater, may_pass, refuses_the_bridge};
use super::{Relay, RelayError};
use crate::model::AgentMessage;
use crate::ports::{DeliveryStatus, UpstreamError};

impl Relay {
    /// Shows the agent what became of their message. A failure that may pass leaves the status
    /// for the scheduled run ([`worth_leaving_for_later`]); any other (the message gone from
    /// HubSpot) is logged. Neither is
    /// raised: the message itself was handled.
    pub(super) async fn mark_reply(&self, reply: &AgentMessage, status: DeliveryStatus) {
        let status = briefly(status);
        let Err(failure) = self
            .hubspot
            .set_message_status(&reply.channel_id, &reply.message_id, &status)
            .await
        else {
            return;
        };
        if !worth_leaving_for_later(&status, &failure) {
            tracing::warn!(error = %failure, message_id = reply.message_id, "HubSpot refused the agent message's status; it is not left for later");
            return;
        }
        match self
            .store
            .remember_status(&reply.channel_id, &reply.message_id, &status)
            .await
        {
            Ok(()) => tracing::warn!(
                error = %failure,
                message_id = reply.message_id,
                "HubSpot could not take the agent message's status now; the scheduled run sets it"
            ),
            Err(error) => tracing::error!(
                error = %failure,
                store_error = %error,
                message_id = reply.message_id,
                "HubSpot could not take the agent message's status, nor could it be left for the scheduled run; the agent does not see it"
            ),
        }
    }

    /// Sets the statuses remembered by [`Relay::mark_reply`], oldest first, within the current
    /// budget.
    pub(super) async fn set_owed_statuses(&self) -> Result<(), RelayError> {
        let owed = self.store.statuses_owed().await?;
        self.work_through(owed.into_iter().map(LeftForLater::Status).collect())
            .await
    }
}

/// Whether a status HubSpot failed to take is left for the scheduled run. Not one refused for
/// good (the message gone); and not a SENT while HubSpot refuses the bridge itself (a
/// rejected grant, a missing scope), which may last until a person mends it while every agent
/// message adds one: a FAILED is still kept then, as the agent must learn of it.
fn worth_leaving_for_later(status: &DeliveryStatus, failure: &UpstreamError) -> bool {
    may_pass(failure) && !(refuses_the_bridge(failure) && *status == DeliveryStatus::Sent)
}

/// The longest reason a FAILED status shows, in characters: a line for the agent, not every
/// word Botpress said of each refused part; and what the store keeps of a status owed stays
/// small (`dynamodb_store::statuses_owed` keeps them all in one item).
const REASON_CHARS: usize = 1_000;

/// `status` with its reason cut to [`REASON_CHARS`], marked where cut.
fn briefly(status: DeliveryStatus) -> DeliveryStatus {
    match status {
        DeliveryStatus::Failed(reason) if reason.chars().count() > REASON_CHARS => {
            let cut: String = reason.chars().take(REASON_CHARS - 1).collect();
            DeliveryStatus::Failed(format!("{cut}…"))
        }
        status => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_status_is_not_kept_while_hubspot_refuses_the_bridge() {
        let failure = |status: u16, retryable: bool| crate::ports::UpstreamError {
            service: crate::ports::Service::HubSpot,
            operation: "update message status",
            status: Some(status),
            retryable,
            message: String::new(),
        };
        let sent = DeliveryStatus::Sent;
        let failed = DeliveryStatus::Failed("why".into());
        for (status, error, kept) in [
            (&sent, failure(503, true), true),
            (&sent, failure(429, true), true),
            (&sent, failure(401, false), false),
            (&failed, failure(401, false), true),
            (&failed, failure(403, false), true),
            (&failed, failure(404, false), false),
        ] {
            assert_eq!(
                worth_leaving_for_later(status, &error),
                kept,
                "{status:?} {error:?}"
            );
        }
    }

    #[test]
    fn a_long_reason_is_cut_to_a_thousand_characters() {
        let long = DeliveryStatus::Failed("é".repeat(1_500));
        let DeliveryStatus::Failed(cut) = briefly(long) else {
            panic!("still FAILED")
        };
        assert_eq!(cut.chars().count(), REASON_CHARS);
        assert!(cut.ends_with('…'));
        let short = DeliveryStatus::Failed("no".into());
        assert_eq!(briefly(short.clone()), short);
        assert_eq!(briefly(DeliveryStatus::Sent), DeliveryStatus::Sent);
    }
}
