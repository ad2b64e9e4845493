use serde::{Deserialize, Serialize};

/// A message an agent wrote in the help desk on our channel, as the bridge relays it: read
/// from an `OUTGOING_CHANNEL_MESSAGE_CREATED` event or from the thread's message history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentMessage {
    pub message_id: String,
    pub channel_id: String,
    pub thread_id: String,
    pub actor_id: String,
    pub agent_name: Option<String>,
    /// What the customer reads: the rich text made readable (links kept), or the plain text.
    /// Empty when the message is only attachments.
    pub text: String,
    /// In the order the agent attached them.
    pub attachments: Vec<Attachment>,
    /// When the agent wrote it (ms since the epoch; 0 when HubSpot did not say).
    pub created_at_ms: i64,
    /// HubSpot sent only the start of the text (`truncationStatus: TRUNCATED`): the whole is
    /// read before relaying, so the customer gets every word.
    #[serde(default)]
    pub truncated: bool,
    /// Our `integrationThreadId` for the thread, when the event names it
    /// (`channelIntegrationThreadIds`): it leads to the session even before the session has
    /// recorded the HubSpot thread id.
    #[serde(default)]
    pub integration_thread_id: Option<String>,
}

/// What kind of Botpress message a file becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    Image,
    Audio,
    Video,
    File,
}

/// One thing attached to an agent's message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Attachment {
    /// A HubSpot file with a URL the customer's side can load.
    File {
        kind: FileKind,
        url: String,
        name: Option<String>,
    },
    /// Content Botpress has no message for (a location, a contact card, quick replies, a file
    /// without a URL…), as a line the customer can read instead: never dropped silently.
    Readable(String),
}

impl AgentMessage {
    /// Whether there is anything to relay.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.attachments.is_empty()
    }
}
