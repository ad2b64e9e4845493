//! The records the simulated account holds. Plain data: rendering to HubSpot's JSON lives with
//! the endpoints that answer it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// HubSpot's timestamp format: RFC 3339, UTC, milliseconds (`2025-05-16T03:42:04.565Z`).
pub(crate) fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) struct Inbox {
    pub(crate) id: String,
    pub(crate) name: String,
    /// `HELP_DESK` or `INBOX`.
    pub(crate) kind: &'static str,
    pub(crate) created_at: DateTime<Utc>,
}

pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) capabilities: Value,
    pub(crate) webhook_url: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) logo_url: Option<String>,
    pub(crate) connection_redirect_url: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

pub(crate) struct ChannelAccount {
    pub(crate) id: String,
    pub(crate) channel_id: String,
    pub(crate) inbox_id: String,
    pub(crate) name: String,
    pub(crate) authorized: bool,
    /// A `PublicDeliveryIdentifier` object, when the account has one.
    pub(crate) delivery_identifier: Option<Value>,
    pub(crate) created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadStatus {
    Open,
    Closed,
}

impl ThreadStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Closed => "CLOSED",
        }
    }
}

pub(crate) struct Thread {
    pub(crate) id: String,
    pub(crate) status: ThreadStatus,
    pub(crate) assigned_to: Option<String>,
    pub(crate) inbox_id: String,
    pub(crate) channel_id: String,
    pub(crate) channel_account_id: String,
    pub(crate) integration_thread_id: Option<String>,
    /// `type:value` of the customer's delivery identifier; threads without an
    /// `integrationThreadId` are found by it (HubSpot's DELIVERY_IDENTIFIER threading).
    pub(crate) customer_key: Option<String>,
    /// The customer as a `PublicRecipient` (`{deliveryIdentifier, name?}`), taken from the first
    /// message; agent replies are addressed to it.
    pub(crate) customer: Option<Value>,
    pub(crate) associated_contact_id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) closed_at: Option<DateTime<Utc>>,
    pub(crate) latest_received_at: Option<DateTime<Utc>>,
    pub(crate) latest_sent_at: Option<DateTime<Utc>>,
}

pub(crate) struct Message {
    pub(crate) id: String,
    pub(crate) channel_id: String,
    pub(crate) channel_account_id: String,
    pub(crate) thread_id: String,
    /// `INCOMING` or `OUTGOING`.
    pub(crate) direction: String,
    pub(crate) text: String,
    pub(crate) rich_text: Option<String>,
    pub(crate) senders: Value,
    pub(crate) recipients: Value,
    pub(crate) attachments: Value,
    pub(crate) created_by: String,
    /// A `PublicClient` object.
    pub(crate) client: Value,
    pub(crate) in_reply_to_id: Option<String>,
    pub(crate) integration_idempotency_id: Option<String>,
    /// `SENT`, `FAILED`, `READ` or `RECEIVED`.
    pub(crate) status_type: String,
    pub(crate) error_message: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    /// How much of the text HubSpot shows in the message itself (`truncationStatus`); `None`:
    /// all of it.
    pub(crate) shown_chars: Option<usize>,
}

pub(crate) struct Contact {
    pub(crate) id: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    /// HubSpot's `mobilephone` property.
    pub(crate) mobile_phone: Option<String>,
    pub(crate) firstname: String,
    pub(crate) lastname: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
}
