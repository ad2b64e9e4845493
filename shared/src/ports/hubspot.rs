use async_trait::async_trait;

use crate::model::DeliveryIdentifier;

use super::UpstreamError;

/// What the bridge asks HubSpot to create as its custom channel.
#[derive(Clone, Debug)]
pub struct ChannelSpec {
    pub name: String,
    pub description: String,
    pub webhook_url: String,
}

/// A customer's message going into the Help Desk.
#[derive(Clone, Debug)]
pub struct IncomingMessage {
    pub channel_id: String,
    pub channel_account_id: String,
    pub integration_thread_id: String,
    /// HubSpot drops a second message with the same id: our retries never double.
    pub idempotency_id: String,
    pub text: String,
    pub sender_name: String,
    pub sender: DeliveryIdentifier,
}

/// What HubSpot answered to a publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedMessage {
    pub message_id: String,
    pub thread_id: String,
}

/// What became of an agent's message on the customer's side, as HubSpot shows it to the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Sent,
    /// With the reason, which the agent sees.
    Failed(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStatus {
    Open,
    Closed,
}

/// An agent as the actors API describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentProfile {
    pub actor_id: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// The HubSpot calls the relay makes.
#[async_trait]
pub trait HubSpotGateway: Send + Sync {
    /// The id of a custom channel of our app whose `webhookUrl` is `webhook_url`.
    async fn find_channel(&self, webhook_url: &str) -> Result<Option<String>, UpstreamError>;
    async fn create_channel(&self, spec: &ChannelSpec) -> Result<String, UpstreamError>;
    /// The id of a (not archived) account of the channel connected to `inbox_id`.
    async fn find_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
    ) -> Result<Option<String>, UpstreamError>;
    async fn create_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
        name: &str,
    ) -> Result<String, UpstreamError>;
    /// The CRM contact id for an email address or phone number.
    async fn find_contact(
        &self,
        identifier: &DeliveryIdentifier,
    ) -> Result<Option<String>, UpstreamError>;
    async fn publish_incoming(
        &self,
        message: &IncomingMessage,
    ) -> Result<PublishedMessage, UpstreamError>;
    async fn set_thread_status(
        &self,
        thread_id: &str,
        status: ThreadStatus,
    ) -> Result<(), UpstreamError>;
    async fn agent_profile(&self, actor_id: &str) -> Result<Option<AgentProfile>, UpstreamError>;
    /// Marks an outgoing (agent) message SENT or FAILED on our channel.
    async fn set_message_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), UpstreamError>;
}
