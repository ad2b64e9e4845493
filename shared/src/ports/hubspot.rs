use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{AgentMessage, CrmAddress, DeliveryIdentifier};

use super::{FetchedFile, UpstreamError};

/// What the bridge asks HubSpot to create as its custom channel.
#[derive(Clone, Debug)]
pub struct ChannelSpec {
    pub name: String,
    pub description: String,
    pub webhook_url: String,
}

/// A custom channel of our app found by its `webhookUrl`.
#[derive(Clone, Debug)]
pub struct ExistingChannel {
    pub id: String,
    /// What HubSpot holds as its `capabilities` (an older bridge may have declared fewer).
    pub capabilities: serde_json::Value,
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
    /// Files uploaded to the file manager, published as `FILE` attachments.
    pub attachments: Vec<FileAttachment>,
    /// The message's `timestamp`: for a customer's message, when they sent it, so the thread
    /// keeps the order they wrote in when a slow file is published after the text that
    /// followed it; for what the bridge writes itself (the opening, the transcript), the time
    /// of publishing.
    pub sent_at: DateTime<Utc>,
}

/// A file in HubSpot's file manager, attached to a published message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileAttachment {
    pub file_id: String,
    /// HubSpot's `fileUsageType`: `IMAGE`, `AUDIO` or `OTHER`.
    pub usage: &'static str,
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

impl DeliveryStatus {
    /// HubSpot's `statusType` for it, which the stores keep too.
    pub fn status_type(&self) -> &'static str {
        match self {
            Self::Sent => "SENT",
            Self::Failed(_) => "FAILED",
        }
    }

    /// The reason a FAILED status shows the agent (HubSpot's `errorMessage`).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Sent => None,
            Self::Failed(reason) => Some(reason),
        }
    }

    /// The status a store kept as [`DeliveryStatus::status_type`] and
    /// [`DeliveryStatus::reason`]: anything but SENT reads as FAILED.
    pub fn from_parts(status_type: &str, reason: Option<String>) -> Self {
        match status_type {
            "SENT" => Self::Sent,
            _ => Self::Failed(reason.unwrap_or_default()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStatus {
    Open,
    Closed,
}

/// Where a read of a thread's history stops.
#[derive(Clone, Copy, Debug)]
pub enum HistoryBound<'a> {
    /// Before this message (earlier creation time, or the same and a smaller id), which is
    /// itself left out.
    Message(&'a AgentMessage),
    /// Up to this moment (ms since the epoch), included.
    Moment(i64),
}

impl HistoryBound<'_> {
    /// Whether a history entry created at `created_at_ms` (unknown: `None`) with `id` is not
    /// before the bound (the bound's own message, or later), and so is left out of the read.
    pub fn is_after(&self, created_at_ms: Option<i64>, id: &str) -> bool {
        match self {
            Self::Message(message) => {
                // By id too: a reply whose event gave no `createdAt` is timed by the event
                // (`eventTimestamp`, later than the history's time), and must not be taken for
                // a reply before itself, which would wait on its own claim for ever.
                id == message.message_id
                    || created_at_ms.is_none_or(|created_at| {
                        (created_at, id) >= (message.created_at_ms, message.message_id.as_str())
                    })
            }
            Self::Moment(at_ms) => created_at_ms.is_none_or(|created_at| created_at > *at_ms),
        }
    }
}

/// An agent as the actors API describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentProfile {
    pub actor_id: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// An inbox of the HubSpot account, as the inboxes listing names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxSummary {
    pub id: String,
    pub name: String,
    /// A Help Desk inbox (`type: HELP_DESK`), the kind the bridge connects to.
    pub help_desk: bool,
}

/// What a CRM contact is created with: how to reach the customer, and their name.
#[derive(Clone, Debug)]
pub struct NewContact {
    pub address: CrmAddress,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
}

/// How a CRM contact can be reached: the properties a delivery identifier is made from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactAddress {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile_phone: Option<String>,
}

/// What a create-contact call found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreatedContact {
    /// HubSpot created it now.
    Created(String),
    /// A contact with that email address existed already (HubSpot's 409 names it).
    AlreadyExisted(String),
}

/// A channel account found on an inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundChannelAccount {
    pub id: String,
    /// `false` when an admin (or `hitl teardown`) disabled it: HubSpot takes no messages
    /// through it until it is authorized again.
    pub authorized: bool,
}

/// The HubSpot calls the relay makes.
#[async_trait]
pub trait HubSpotGateway: Send + Sync {
    /// The custom channel of our app whose `webhookUrl` is `webhook_url`.
    async fn find_channel(
        &self,
        webhook_url: &str,
    ) -> Result<Option<ExistingChannel>, UpstreamError>;
    /// Creates the channel with `channel_limits::channel_capabilities`.
    async fn create_channel(&self, spec: &ChannelSpec) -> Result<String, UpstreamError>;
    /// Replaces the channel's `capabilities` (the Custom Channels `PATCH` of the channel).
    async fn update_channel_capabilities(
        &self,
        channel_id: &str,
        capabilities: &serde_json::Value,
    ) -> Result<(), UpstreamError>;
    /// A (not archived) account of the channel connected to `inbox_id`: an authorized one
    /// when there is one, else a disabled one.
    async fn find_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
    ) -> Result<Option<FoundChannelAccount>, UpstreamError>;
    /// Enables a disabled channel account again (`authorized: true`).
    async fn authorize_channel_account(
        &self,
        channel_id: &str,
        account_id: &str,
    ) -> Result<(), UpstreamError>;
    async fn create_channel_account(
        &self,
        channel_id: &str,
        inbox_id: &str,
        name: &str,
    ) -> Result<String, UpstreamError>;
    /// The CRM contact id for an email address or phone number.
    async fn find_contact(&self, address: &CrmAddress) -> Result<Option<String>, UpstreamError>;
    /// The email address and phone numbers of the CRM contact `contact_id`; `None` when
    /// HubSpot has no such contact (deleted or merged away).
    async fn contact_address(
        &self,
        contact_id: &str,
    ) -> Result<Option<ContactAddress>, UpstreamError>;
    /// Creates a CRM contact (`POST /crm/v3/objects/contacts`). HubSpot keeps email addresses
    /// unique, so a second create with the same email answers the existing contact.
    async fn create_contact(&self, contact: &NewContact) -> Result<CreatedContact, UpstreamError>;
    /// Every inbox of the account that is not archived.
    async fn list_inboxes(&self) -> Result<Vec<InboxSummary>, UpstreamError>;
    async fn publish_incoming(
        &self,
        message: &IncomingMessage,
    ) -> Result<PublishedMessage, UpstreamError>;
    async fn set_thread_status(
        &self,
        thread_id: &str,
        status: ThreadStatus,
    ) -> Result<(), UpstreamError>;
    /// The agent a thread is assigned to now (`assignedTo`), `None` when unassigned.
    async fn thread_assignee(&self, thread_id: &str) -> Result<Option<String>, UpstreamError>;
    /// Uploads a customer's file to the file manager (private) and returns its id.
    async fn upload_file(&self, file: &FetchedFile) -> Result<String, UpstreamError>;
    async fn agent_profile(&self, actor_id: &str) -> Result<Option<AgentProfile>, UpstreamError>;
    /// Several agents in one call (`actors/batch/read`); actors HubSpot does not know are
    /// left out of the answer.
    async fn agent_profiles(
        &self,
        actor_ids: &[String],
    ) -> Result<Vec<AgentProfile>, UpstreamError>;
    /// The agents' messages on `channel_id` in a thread written after `after_ms` (ms since the
    /// epoch) and before `before` (earlier creation time, or the same and a smaller id), oldest
    /// first: the replies the relay must relay before a later reply, or before the thread's
    /// close. Internal comments, other channels' messages and the message `before` names are
    /// not included.
    async fn agent_messages_before(
        &self,
        thread_id: &str,
        channel_id: &str,
        after_ms: i64,
        before: HistoryBound<'_>,
    ) -> Result<Vec<AgentMessage>, UpstreamError>;
    /// The whole text of a message HubSpot truncated (`.../original-content`), made readable
    /// as a message's own text is.
    async fn original_text(
        &self,
        thread_id: &str,
        message_id: &str,
    ) -> Result<String, UpstreamError>;
    /// Marks an outgoing (agent) message SENT or FAILED on our channel.
    async fn set_message_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), UpstreamError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_status_reads_back_from_its_parts() {
        for status in [DeliveryStatus::Sent, DeliveryStatus::Failed("why".into())] {
            let reason = status.reason().map(str::to_string);
            assert_eq!(
                DeliveryStatus::from_parts(status.status_type(), reason),
                status
            );
        }
        assert_eq!(DeliveryStatus::Failed("x".into()).status_type(), "FAILED");
    }

    #[test]
    fn a_bound_keeps_what_came_before_it() {
        let reply = AgentMessage {
            message_id: "m5".into(),
            channel_id: "c".into(),
            thread_id: "t".into(),
            actor_id: "A-1".into(),
            agent_name: None,
            text: "Bye".into(),
            attachments: Vec::new(),
            created_at_ms: 500,
            truncated: false,
            integration_thread_id: None,
        };
        let before_reply = HistoryBound::Message(&reply);
        assert!(!before_reply.is_after(Some(499), "m9"));
        assert!(
            !before_reply.is_after(Some(500), "m4"),
            "same time, smaller id"
        );
        assert!(before_reply.is_after(Some(500), "m6"));
        assert!(
            before_reply.is_after(Some(400), "m5"),
            "the reply itself, by id"
        );
        assert!(
            before_reply.is_after(None, "m1"),
            "untimed: not known to be before"
        );

        let up_to_close = HistoryBound::Moment(500);
        assert!(
            !up_to_close.is_after(Some(500), "m9"),
            "the moment itself is included"
        );
        assert!(up_to_close.is_after(Some(501), "m1"));
        assert!(up_to_close.is_after(None, "m1"));
    }
}
