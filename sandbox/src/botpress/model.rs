//! The Runtime API's resources, serialized exactly as its `User`, `Conversation`, `Message` and
//! `Event` schemas describe them (camelCase, optional fields left out rather than `null`, except
//! `failureReason`, which the schema requires and allows to be `null`).

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// Tags: string keys to string values, sorted so JSON output is stable across runs.
pub type Tags = BTreeMap<String, String>;

/// Now, as Botpress writes timestamps: ISO 8601 in UTC with milliseconds.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Tags,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub channel: String,
    /// Name of the integration that created it.
    pub integration: String,
    pub tags: Tags,
}

/// Whom a message goes to, seen from the bot: `incoming` messages come from an integration (the
/// HITL plugin relays them to the end user), `outgoing` ones come from the bot itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Map<String, Value>,
    pub direction: Direction,
    pub user_id: String,
    pub conversation_id: String,
    pub tags: Tags,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    pub created_at: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `pending` when created now, `scheduled` when created with a `schedule`.
    pub status: &'static str,
    pub failure_reason: Option<String>,
}

/// A resource as the API returns it. Serializing these plain structs cannot fail; `Null` would only
/// show up if that ever changed, which the tests would catch at once.
pub fn to_json<T: Serialize>(resource: &T) -> Value {
    serde_json::to_value(resource).unwrap_or(Value::Null)
}
