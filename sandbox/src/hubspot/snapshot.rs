//! Plain views of threads and messages for tests to assert on, independent of the JSON the API
//! answers.

use serde_json::Value;

use super::model::{Message, Thread};
use super::state::Store;

#[derive(Clone, Debug)]
pub struct ThreadSnapshot {
    pub id: String,
    /// `OPEN` or `CLOSED`.
    pub status: String,
    pub assigned_to: Option<String>,
    pub inbox_id: String,
    pub channel_id: String,
    pub channel_account_id: String,
    pub integration_thread_id: Option<String>,
    /// The CRM contact (or visitor) id HubSpot associated with the thread.
    pub associated_contact_id: String,
    pub messages: Vec<MessageSnapshot>,
}

#[derive(Clone, Debug)]
pub struct MessageSnapshot {
    pub id: String,
    /// `INCOMING` or `OUTGOING`.
    pub direction: String,
    pub text: String,
    pub senders: Value,
    pub recipients: Value,
    pub integration_idempotency_id: Option<String>,
    /// `RECEIVED`, `SENT`, `FAILED` or `READ` (the latter three as set by the bridge's PATCH).
    pub status: String,
    pub created_at: String,
    /// HubSpot's `attachments` array (files, locations, contacts...), as published.
    pub attachments: Value,
}

pub(crate) fn thread(store: &Store, thread: &Thread) -> ThreadSnapshot {
    ThreadSnapshot {
        id: thread.id.clone(),
        status: thread.status.as_str().to_string(),
        assigned_to: thread.assigned_to.clone(),
        inbox_id: thread.inbox_id.clone(),
        channel_id: thread.channel_id.clone(),
        channel_account_id: thread.channel_account_id.clone(),
        integration_thread_id: thread.integration_thread_id.clone(),
        associated_contact_id: thread.associated_contact_id.clone(),
        messages: store.thread_messages(&thread.id).map(message).collect(),
    }
}

fn message(message: &Message) -> MessageSnapshot {
    MessageSnapshot {
        id: message.id.clone(),
        direction: message.direction.clone(),
        text: message.text.clone(),
        senders: message.senders.clone(),
        recipients: message.recipients.clone(),
        integration_idempotency_id: message.integration_idempotency_id.clone(),
        status: message.status_type.clone(),
        created_at: super::model::iso(message.created_at),
        attachments: message.attachments.clone(),
    }
}
