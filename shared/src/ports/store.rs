use async_trait::async_trait;

use crate::model::{AgentUser, ChannelSetup, Customer, HandoffSession};

use super::IdempotencyLedger;

/// The store failed; the work can be retried.
#[derive(Debug, thiserror::Error)]
#[error("store {operation} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(operation: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            operation,
            message: error.to_string(),
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
    /// Records the Botpress conversation and moves the session from opening to open.
    async fn activate(&self, session_id: &str, conversation_id: &str) -> Result<(), StoreError>;
    /// Closes an active session. Returns `true` only for the call that closed it, so exactly
    /// one of a racing agent close and bot stop tells the other side.
    async fn close(&self, session_id: &str) -> Result<bool, StoreError>;
    /// Records who the thread is assigned to. Returns `false` when it already was.
    async fn set_assignee(
        &self,
        session_id: &str,
        actor_id: Option<&str>,
    ) -> Result<bool, StoreError>;
    async fn find_by_thread(&self, thread_id: &str) -> Result<Option<HandoffSession>, StoreError>;
    async fn find_by_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<HandoffSession>, StoreError>;
}

/// The custom channel and channel account the bridge publishes through.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn channel_setup(&self) -> Result<Option<ChannelSetup>, StoreError>;
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

/// Everything the relay keeps, for adapters that keep it all in one place.
pub trait BridgeStore:
    SessionStore + ChannelStore + CustomerStore + AgentStore + IdempotencyLedger
{
}

impl<T> BridgeStore for T where
    T: SessionStore + ChannelStore + CustomerStore + AgentStore + IdempotencyLedger
{
}
