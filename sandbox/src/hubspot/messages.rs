//! Reading a published message back and recording its delivery status:
//! `GET`/`PATCH /conversations/v3/custom-channels/{channelId}/messages/{messageId}`.
//! (Publishing is in `publish.rs`.)

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
    response::IntoResponse,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::channels;
use super::errors::ApiError;
use super::extract::json_body;
use super::model::{Message, iso};
use super::state::AppState;

/// A `PublicConversationsMessage` with every required field.
pub(crate) fn render(message: &Message) -> Value {
    let mut status = json!({ "statusType": message.status_type });
    if let Some(error) = &message.error_message {
        status["failureDetails"] = json!({ "errorMessage": error, "errorMessageTokens": {} });
    }
    let mut body = json!({
        "id": message.id,
        "type": "MESSAGE",
        "channelId": message.channel_id,
        "channelAccountId": message.channel_account_id,
        "conversationsThreadId": message.thread_id,
        "createdAt": iso(message.created_at),
        "updatedAt": iso(message.updated_at),
        "createdBy": message.created_by,
        "client": message.client,
        "senders": message.senders,
        "recipients": message.recipients,
        "text": message.text,
        "direction": message.direction,
        "truncationStatus": "NOT_TRUNCATED",
        "archived": false,
        "attachments": message.attachments,
        "status": status,
    });
    if let Some(rich_text) = &message.rich_text {
        body["richText"] = json!(rich_text);
    }
    if let Some(shown) = message
        .shown_chars
        .filter(|&n| message.text.chars().count() > n)
    {
        let text: String = message.text.chars().take(shown).collect();
        body["richText"] = json!(format!("<p>{}</p>", super::agent::escape_html(&text)));
        body["text"] = json!(text);
        body["truncationStatus"] = json!("TRUNCATED");
    }
    if let Some(in_reply_to) = &message.in_reply_to_id {
        body["inReplyToId"] = json!(in_reply_to);
    }
    body
}

/// `PublicChannelIntegrationMessageUpdateRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusUpdate {
    status_type: Option<String>,
    error_message: Option<String>,
}

fn message_not_found(message_id: &str) -> ApiError {
    ApiError::not_found(format!("Message {message_id} not found"))
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    store
        .channel(&channel_id)
        .ok_or_else(|| channels::not_found(&channel_id))?;
    let message = store
        .messages
        .iter()
        .find(|message| message.id == message_id && message.channel_id == channel_id)
        .ok_or_else(|| message_not_found(&message_id))?;
    Ok(Json(render(message)))
}

pub(crate) async fn update_status(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path((channel_id, message_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let update: StatusUpdate = json_body(&body)?;
    let status_type = update
        .status_type
        .ok_or_else(|| ApiError::missing("statusType"))?;
    if !["SENT", "FAILED", "READ"].contains(&status_type.as_str()) {
        return Err(ApiError::field(
            "statusType",
            format!(
                "Invalid input: 'statusType' is '{status_type}'; expected one of SENT, FAILED, READ"
            ),
        ));
    }
    let mut store = shared.store();
    store
        .channel(&channel_id)
        .ok_or_else(|| channels::not_found(&channel_id))?;
    let message = store
        .messages
        .iter_mut()
        .find(|message| message.id == message_id && message.channel_id == channel_id)
        .ok_or_else(|| message_not_found(&message_id))?;
    message.error_message = if status_type == "FAILED" {
        update.error_message
    } else {
        None
    };
    message.status_type = status_type;
    message.updated_at = Utc::now();
    Ok(Json(render(message)))
}

/// `GET /conversations/v3/conversations/threads/{threadId}/messages/{messageId}/original-content`:
/// the whole text and rich text of a message (`PublicMessageContent`), which differ from the
/// message's own when its `truncationStatus` is not `NOT_TRUNCATED`.
pub(crate) async fn original_content(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let store = shared.store();
    let message = store
        .messages
        .iter()
        .find(|message| message.id == message_id && message.thread_id == thread_id)
        .ok_or_else(|| message_not_found(&message_id))?;
    let mut content = json!({ "text": message.text });
    if let Some(rich_text) = &message.rich_text {
        content["richText"] = json!(rich_text);
    }
    Ok(Json(content))
}
