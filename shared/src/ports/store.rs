use async_trait::async_trait;

use crate::model::{AgentUser, AssignmentMark, ChannelSetup, Customer, HandoffSession};

use super::{DeliveryStatus, IdempotencyLedger};

/// The store failed. The relay answers 503 whatever the cause, so HubSpot or Botpress sends
/// the work again (an operator can mend a wrong table or a missing permission meanwhile);
/// `transient`
/// tells an operator's command whether the same call may pass as it is (exit 4, "try again")
/// or the store refused it (exit 1, "fix what it names").
#[derive(Debug, thiserror::Error)]
#[error("store {operation} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
    /// The store was out of reach, busy or throttling, not refusing the call.
    pub transient: bool,
}

impl StoreError {
    /// A failure trying again may get past: a network error, a timeout, throttling, a 5xx.
    pub fn new(operation: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            operation,
            message: error.to_string(),
            transient: true,
        }
    }

    /// A failure the same call will meet again: no such table, no permission, an item
    /// the bridge cannot read.
    pub fn refused(operation: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            transient: false,
            ..Self::new(operation, error)
        }
    }
}

/// Handoff sessions and the thread ⇄ conversation mapping, both directions strongly consistent.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts `session` unless the customer already has an active (opening or open) session
    /// in that bot; returns the session that is now active. Atomic: two racing calls get the
    /// same session.
    async fn insert_or_get_active(
        &self,
        session: HandoffSession,
    ) -> Result<HandoffSession, StoreError>;
    /// Records the HubSpot thread of a session once the opening message is published.
    async fn set_thread(&self, session_id: &str, thread_id: &str) -> Result<(), StoreError>;
    /// Records the Botpress conversation and moves the session from opening to open. Answers
    /// whether the session is active: not when it was closed meanwhile (an opening given up),
    /// whose conversation is recorded all the same, so that conversation's messages meet a
    /// closed handoff rather than none.
    async fn activate(&self, session_id: &str, conversation_id: &str) -> Result<bool, StoreError>;
    /// Records that the bot listens to an open session again from now (a `startHitl` answered
    /// on it: its plugin listens only after that answer), so what goes to the bot meanwhile
    /// waits for it (`listening_again_since_ms`; the opening time stays). Nothing for a
    /// session that is not open.
    async fn listen_again(&self, session_id: &str) -> Result<(), StoreError>;
    /// Closes an active session. Returns `true` only for the call that closed it, so exactly
    /// one of a racing agent close and bot stop tells the other side.
    async fn close(&self, session_id: &str) -> Result<bool, StoreError>;
    /// Records who the thread is assigned to as of `mark`, unless a newer assignment change
    /// is already recorded (the same mark is not newer: it applies again): HubSpot delivers out
    /// of order, so the write is conditional and racing calls keep the newest. Returns whether
    /// it applied (`false` also for an unknown session).
    async fn set_assignee(
        &self,
        session_id: &str,
        actor_id: Option<&str>,
        mark: AssignmentMark,
    ) -> Result<bool, StoreError>;
    /// Moves the session's `replies_relayed_until_ms` to `created_at_ms`, never back: racing
    /// calls keep the latest. An unknown session is left alone.
    async fn advance_replies_relayed_until(
        &self,
        session_id: &str,
        created_at_ms: i64,
    ) -> Result<(), StoreError>;
    async fn find_by_thread(&self, thread_id: &str) -> Result<Option<HandoffSession>, StoreError>;
    /// The session by its own id (for an event that names our `integrationThreadId`, which
    /// carries it, before the session knows its thread).
    async fn find_by_id(&self, session_id: &str) -> Result<Option<HandoffSession>, StoreError>;
    async fn find_by_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<HandoffSession>, StoreError>;
}

/// The custom channel the bridge publishes through and its channel account per inbox.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn channel_setup(&self) -> Result<Option<ChannelSetup>, StoreError>;
    /// Replaces the stored setup, inbox accounts included (the relay merges before saving).
    async fn save_channel_setup(&self, setup: &ChannelSetup) -> Result<(), StoreError>;
}

/// Customers known from `createUser`.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn save_customer(&self, customer: &Customer) -> Result<(), StoreError>;
    async fn customer(
        &self,
        bot_id: &str,
        botpress_user_id: &str,
    ) -> Result<Option<Customer>, StoreError>;
}

/// Botpress users standing for agents, per bot.
#[async_trait]
pub trait AgentStore: Send + Sync {
    async fn agent_user(
        &self,
        bot_id: &str,
        actor_id: &str,
    ) -> Result<Option<AgentUser>, StoreError>;
    async fn save_agent_user(&self, agent: &AgentUser) -> Result<(), StoreError>;
}

/// A HubSpot thread the bridge still has to close: the bot ended its handoff while HubSpot
/// failed in a way that may pass, so the scheduled run closes it (or the next message there, the
/// agent's or the customer's, `Relay::close_now_if_left_for_later`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingClose {
    pub thread_id: String,
    /// When the close was first left for later (epoch milliseconds): a close still failing
    /// days later is given up with an error for a person to see.
    pub since_ms: i64,
}

/// Threads left to close later: by the scheduled run, or when their agent writes there.
#[async_trait]
pub trait PendingCloseStore: Send + Sync {
    /// Remembers that `thread_id` is still to be closed, as of now.
    async fn remember_close(&self, thread_id: &str) -> Result<(), StoreError>;
    /// Every close still to be made, oldest first.
    async fn closes_pending(&self) -> Result<Vec<PendingClose>, StoreError>;
    /// Forgets `close` (made, or given up by the scheduled run); a close remembered again
    /// since stays.
    async fn forget_close(&self, close: &PendingClose) -> Result<(), StoreError>;
}

/// The SENT or FAILED an agent's message is still to show in the help desk: HubSpot failed to
/// take it in a way that may pass (5xx, a timeout, a rate limit; a refusal of the bridge itself
/// for a FAILED, `relay::owed_statuses`) after the message itself was
/// handled, so the scheduled run sets it. The message is not relayed again for it: its
/// delivery is done (or refused), and redoing it to reach the status would risk the customer
/// getting it twice or the agent reading FAILED for a message that went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedStatus {
    pub channel_id: String,
    pub message_id: String,
    pub status: DeliveryStatus,
    /// When the status was last left for later (epoch milliseconds): a status still failing
    /// days later is given up.
    pub since_ms: i64,
}

/// Message statuses left for the scheduled run to set.
#[async_trait]
pub trait OwedStatusStore: Send + Sync {
    /// Remembers that `message_id` is still to show `status`, as of now; a status remembered
    /// for it before is replaced (the last word on the message is the one it shows).
    async fn remember_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), StoreError>;
    /// Every status still owed, oldest first.
    async fn statuses_owed(&self) -> Result<Vec<OwedStatus>, StoreError>;
    /// Forgets `owed` (set, or given up); a status remembered again since stays.
    async fn forget_status(&self, owed: &OwedStatus) -> Result<(), StoreError>;
}

/// Deleting what has run out: idempotency records and locks past their expiry, sessions closed
/// 30 days ago (with the customer's address they carry).
#[async_trait]
pub trait ExpiringStore: Send + Sync {
    /// Deletes what has expired by now; returns how many records went. A store whose records
    /// expire on their own (DynamoDB's TTL) has nothing to do.
    async fn purge_expired(&self) -> Result<usize, StoreError>;

    /// Gives an expiry to the customer records an older version saved without one, so they go
    /// 30 days from now unless used; returns how many. `hitl setup` runs it (after an
    /// upgrade); a store that does this when it is opened (SQLite) has nothing to do.
    async fn expire_untimed(&self) -> Result<usize, StoreError> {
        Ok(0)
    }
}

/// Everything the relay keeps, for adapters that keep it all in one place.
pub trait BridgeStore:
    SessionStore
    + ChannelStore
    + CustomerStore
    + AgentStore
    + IdempotencyLedger
    + ExpiringStore
    + PendingCloseStore
    + OwedStatusStore
{
}

impl<T> BridgeStore for T where
    T: SessionStore
        + ChannelStore
        + CustomerStore
        + AgentStore
        + IdempotencyLedger
        + ExpiringStore
        + PendingCloseStore
        + OwedStatusStore
{
}
