use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BotpressContext, Customer, DeliveryIdentifier};

/// When an assignment change happened, in HubSpot's order: its `occurredAt`, then, between
/// changes of one millisecond, its event id (the higher id taken as the later change: HubSpot
/// documents no order of its ids, and within one millisecond nothing else tells). A change
/// without a numeric event id (the opening's read of the thread's assignee; an event whose id
/// is not a number) comes before every change of its millisecond that has one. The derived
/// order is that order (`None` first).
///
/// A retry of the change applied last carries the same mark, so it is known for what it is
/// without a ledger key of its own, even after another change of the same millisecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AssignmentMark {
    pub at_ms: i64,
    pub event_id: Option<i64>,
}

impl AssignmentMark {
    pub fn new(at_ms: i64, event_id: Option<i64>) -> Self {
        Self { at_ms, event_id }
    }
}

/// Where a handoff is in its life.
///
/// `Opening` exists so a `startHitl` that failed half-way (thread published, Botpress
/// conversation not yet created) is resumed by Botpress's retry instead of opening a second
/// thread: every step after the insert is idempotent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Opening,
    Open,
    Closed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opening => "opening",
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "opening" => Some(Self::Opening),
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// One customer's handoff: a HubSpot thread on one side, a Botpress `hitl` conversation on
/// the other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffSession {
    /// Our own id; also the seed of the idempotency id of the opening message.
    pub id: String,
    pub bot: BotpressContext,
    /// The Botpress user id of the customer (`createUser`'s output).
    pub customer_user_id: String,
    pub channel_id: String,
    pub channel_account_id: String,
    /// The `integrationThreadId` we publish with; HubSpot threads our messages by it.
    pub integration_thread_id: String,
    /// HubSpot's `conversationsThreadId`, known once the opening message is published.
    pub thread_id: Option<String>,
    /// The Botpress `hitl` conversation, known once it is created.
    pub conversation_id: Option<String>,
    pub status: SessionStatus,
    /// The actor id of the agent the thread is assigned to, if any.
    pub assigned_actor_id: Option<String>,
    /// When the newest assignment change applied happened (an unassignment included): HubSpot
    /// delivers changes out of order, and an older one must not undo it.
    pub assignment_mark: Option<AssignmentMark>,
    pub created_at: DateTime<Utc>,
    /// Who the customer is to the help desk: the sender of every message published into the
    /// thread, fixed when the handoff opens. Kept on the session so relaying a customer's
    /// message needs no second read; `None` on sessions stored by older versions, whose
    /// customer is read from the customer store instead.
    pub customer: Option<SessionCustomer>,
    /// The creation time (ms) of the newest agent reply relayed into the conversation: replies
    /// written later may have unrelayed predecessors (`relay::reply_order`). `None` before the
    /// first reply.
    pub replies_relayed_until_ms: Option<i64>,
    /// When (ms) the handoff opened (its bot conversation recorded; a later listening again is
    /// [`Self::listening_again_since_ms`]). The bot's HITL plugin
    /// starts listening only after `startHitl` answers, so what is sent in the moments after
    /// is scheduled for later (`relay::help_desk_events`). `None` before, and on sessions
    /// stored by older versions.
    #[serde(default)]
    pub activated_at_ms: Option<i64>,
    /// When (ms) the bot began to listen again: a later `startHitl` was answered on the open
    /// handoff (a retry whose answer was lost, the customer asking again), and its plugin
    /// listens only after that answer, as after the opening. `None`: since the opening.
    #[serde(default)]
    pub listening_again_since_ms: Option<i64>,
}

/// The customer as the thread's messages name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCustomer {
    pub name: String,
    pub identifier: DeliveryIdentifier,
}

impl From<&Customer> for SessionCustomer {
    fn from(customer: &Customer) -> Self {
        Self {
            name: customer.name.clone(),
            identifier: customer.identifier.clone(),
        }
    }
}

/// What a session's `integrationThreadId` (the thread id HubSpot knows us by) starts with; the
/// session's id follows, so an event naming it leads to the session before the session has
/// recorded its HubSpot thread.
const INTEGRATION_THREAD_PREFIX: &str = "bp-";

impl HandoffSession {
    /// The id of the session an `integrationThreadId` of ours names (sessions made before it
    /// carried the id name none).
    pub fn id_in_integration_thread_id(integration_thread_id: &str) -> Option<&str> {
        integration_thread_id
            .strip_prefix(INTEGRATION_THREAD_PREFIX)
            .filter(|id| uuid::Uuid::parse_str(id).is_ok())
    }

    pub fn new(
        bot: BotpressContext,
        customer_user_id: String,
        channel_id: String,
        channel_account_id: String,
        now: DateTime<Utc>,
    ) -> Self {
        let id = uuid::Uuid::new_v4().to_string();
        Self {
            integration_thread_id: format!("{INTEGRATION_THREAD_PREFIX}{id}"),
            id,
            bot,
            customer_user_id,
            channel_id,
            channel_account_id,
            thread_id: None,
            conversation_id: None,
            status: SessionStatus::Opening,
            assigned_actor_id: None,
            assignment_mark: None,
            created_at: now,
            customer: None,
            replies_relayed_until_ms: None,
            activated_at_ms: None,
            listening_again_since_ms: None,
        }
    }

    /// The session with `customer` as the sender of the thread's messages.
    pub fn for_customer(mut self, customer: &Customer) -> Self {
        self.customer = Some(SessionCustomer::from(customer));
        self
    }

    /// The idempotency id of the opening message: stable across retries of `startHitl`.
    pub fn opening_message_idempotency_id(&self) -> String {
        format!("open-{}", self.id)
    }

    pub fn is_active(&self) -> bool {
        self.status != SessionStatus::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_integration_thread_id_names_the_session() {
        let bot = BotpressContext {
            bot_id: "bot".into(),
            integration_id: "int".into(),
            integration_alias: "hubspot-hitl".into(),
        };
        let session = HandoffSession::new(bot, "u".into(), "c".into(), "a".into(), Utc::now());
        assert_eq!(
            HandoffSession::id_in_integration_thread_id(&session.integration_thread_id),
            Some(session.id.as_str())
        );
        assert_eq!(
            HandoffSession::id_in_integration_thread_id("bp-not-a-uuid"),
            None
        );
        assert_eq!(HandoffSession::id_in_integration_thread_id("other"), None);
    }
}
