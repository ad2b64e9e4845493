//! `POST /conversations/v3/custom-channels/{channelId}/messages`: the bridge publishing a customer
//! message (INCOMING) or a bot message (OUTGOING) into the help desk.
//!
//! Threading follows HubSpot's INTEGRATION_THREAD_ID model: the first message with a new
//! `integrationThreadId` opens a thread, later ones join it, and an INCOMING message reopens a
//! CLOSED thread. Without `integrationThreadId` the customer's delivery identifier is the key.
//! A repeated `integrationIdempotencyId` returns the original message and creates nothing, which
//! is what makes the bridge's retries safe.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::channels;
use super::delivery_identifier;
use super::errors::ApiError;
use super::extract::json_body;
use super::messages::render;
use super::model::{Message, Thread, ThreadStatus};
use super::state::{AppState, Store};

/// `ChannelIntegrationMessageEgg`. Everything is optional here and checked by hand, so a missing
/// field gets a message naming it. `attachments`, `recipients` and `timestamp` are not required:
/// the real service accepts messages without them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Egg {
    channel_account_id: Option<String>,
    message_direction: Option<String>,
    text: Option<String>,
    rich_text: Option<String>,
    senders: Option<Vec<Value>>,
    recipients: Option<Vec<Value>>,
    attachments: Option<Vec<Value>>,
    integration_thread_id: Option<String>,
    integration_idempotency_id: Option<String>,
    in_reply_to_id: Option<String>,
    associate_with_contact_id: Option<Value>,
    timestamp: Option<String>,
}

/// `FileAttachment.fileUsageType`.
const FILE_USAGE_TYPES: &[&str] = &["AUDIO", "IMAGE", "OTHER", "STICKER", "VOICE_RECORDING"];

/// A validated publish request.
struct Publish {
    channel_account_id: String,
    incoming: bool,
    text: String,
    rich_text: Option<String>,
    /// Senders and recipients as they will appear on the message (`PublicSender`/`PublicRecipient`).
    senders: Vec<Value>,
    recipients: Vec<Value>,
    attachments: Vec<Value>,
    integration_thread_id: Option<String>,
    integration_idempotency_id: Option<String>,
    in_reply_to_id: Option<String>,
    associate_with_contact_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl Publish {
    /// The customer side of the conversation: the sender of an INCOMING message, the first
    /// recipient of an OUTGOING one.
    fn customer(&self) -> Option<&Value> {
        if self.incoming {
            self.senders.first()
        } else {
            self.recipients.first()
        }
    }

    fn customer_key(&self) -> Option<String> {
        let identifier = self.customer()?.get("deliveryIdentifier")?;
        Some(delivery_identifier::key(
            identifier.get("type")?.as_str()?,
            identifier.get("value")?.as_str()?,
        ))
    }
}

pub(crate) async fn publish(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(channel_id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let request = validate(json_body(&body)?)?;
    let mut store = shared.store();
    store
        .channel(&channel_id)
        .ok_or_else(|| channels::not_found(&channel_id))?;
    let account_inbox = store
        .channel_accounts
        .iter()
        .find(|account| account.id == request.channel_account_id && account.channel_id == channel_id)
        .map(|account| account.inbox_id.clone())
        .ok_or_else(|| {
            ApiError::field(
                "channelAccountId",
                format!(
                    "Invalid input: 'channelAccountId' {} is not an account of channel {channel_id}",
                    request.channel_account_id
                ),
            )
        })?;

    if let Some(key) = &request.integration_idempotency_id
        && let Some(original) = store.messages.iter().find(|message| {
            message.channel_id == channel_id
                && message.integration_idempotency_id.as_ref() == Some(key)
        })
    {
        return Ok((StatusCode::CREATED, Json(render(original))));
    }

    let mut request = request;
    request.attachments = file_attachments(&store, &channel_id, &request.attachments)?;
    let thread_index = find_or_open_thread(&mut store, &channel_id, &account_inbox, &request);
    let message = build_message(
        &mut store,
        &channel_id,
        thread_index,
        request,
        shared.config.app_id,
    );
    let body = render(&message);
    store.messages.push(message);
    Ok((StatusCode::CREATED, Json(body)))
}

fn validate(egg: Egg) -> Result<Publish, ApiError> {
    let channel_account_id = egg
        .channel_account_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ApiError::missing("channelAccountId"))?;
    let incoming = match egg.message_direction.as_deref() {
        Some("INCOMING") => true,
        Some("OUTGOING") => false,
        Some(other) => {
            return Err(ApiError::field(
                "messageDirection",
                format!(
                    "Invalid input: 'messageDirection' is '{other}'; expected INCOMING or OUTGOING"
                ),
            ));
        }
        None => return Err(ApiError::missing("messageDirection")),
    };
    let text = egg.text.ok_or_else(|| ApiError::missing("text"))?;
    let attachments = egg.attachments.unwrap_or_default();
    if text.trim().is_empty() && attachments.is_empty() {
        return Err(ApiError::field(
            "text",
            "Invalid input: 'text' must not be empty when there are no attachments",
        ));
    }
    let senders = egg.senders.unwrap_or_default();
    if senders.is_empty() {
        return Err(ApiError::field(
            "senders",
            "Invalid input: 'senders' must contain at least one sender",
        ));
    }
    let senders = participants("senders", senders, "actorId")?;
    let recipients = participants("recipients", egg.recipients.unwrap_or_default(), "actorId")?;
    if !incoming && recipients.is_empty() && egg.integration_thread_id.is_none() {
        return Err(ApiError::field(
            "recipients",
            "Invalid input: an OUTGOING message without 'integrationThreadId' needs 'recipients'",
        ));
    }
    for (index, attachment) in attachments.iter().enumerate() {
        let Some(kind) = attachment.get("type").and_then(Value::as_str) else {
            return Err(ApiError::missing(&format!("attachments[{index}].type")));
        };
        if kind == "FILE" {
            if attachment.get("fileId").and_then(Value::as_str).is_none() {
                return Err(ApiError::missing(&format!("attachments[{index}].fileId")));
            }
            if let Some(usage) = attachment.get("fileUsageType")
                && !usage
                    .as_str()
                    .is_some_and(|usage| FILE_USAGE_TYPES.contains(&usage))
            {
                return Err(ApiError::field(
                    &format!("attachments[{index}].fileUsageType"),
                    format!(
                        "Invalid input: 'attachments[{index}].fileUsageType' {usage} is not one of {FILE_USAGE_TYPES:?}"
                    ),
                ));
            }
        }
    }
    let created_at = match egg.timestamp.as_deref() {
        None => Utc::now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::field(
                    "timestamp",
                    format!("Invalid input: 'timestamp' '{text}' is not an ISO 8601 date-time"),
                )
            })?,
    };
    let associate_with_contact_id = match egg.associate_with_contact_id {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => Some(number.to_string()),
        Some(Value::String(text))
            if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() =>
        {
            Some(text)
        }
        Some(other) => {
            return Err(ApiError::field(
                "associateWithContactId",
                format!("Invalid input: 'associateWithContactId' must be an integer, got {other}"),
            ));
        }
    };
    Ok(Publish {
        channel_account_id,
        incoming,
        text,
        rich_text: egg.rich_text,
        senders,
        recipients,
        attachments,
        integration_thread_id: egg.integration_thread_id.filter(|id| !id.is_empty()),
        integration_idempotency_id: egg.integration_idempotency_id.filter(|id| !id.is_empty()),
        in_reply_to_id: egg.in_reply_to_id,
        associate_with_contact_id,
        created_at,
    })
}

/// Checks `FILE` attachments against the file manager and the channel's declared
/// capabilities (count, size, MIME types), and shows them as HubSpot does (with name and url).
fn file_attachments(
    store: &Store,
    channel_id: &str,
    attachments: &[Value],
) -> Result<Vec<Value>, ApiError> {
    let capabilities = store
        .channel(channel_id)
        .map(|channel| channel.capabilities.clone())
        .unwrap_or(Value::Null);
    let files: Vec<&Value> = attachments
        .iter()
        .filter(|attachment| attachment.get("type").and_then(Value::as_str) == Some("FILE"))
        .collect();
    if let Some(max) = capabilities
        .get("maxFileAttachmentCount")
        .and_then(Value::as_u64)
        && files.len() as u64 > max
    {
        return Err(ApiError::field(
            "attachments",
            format!(
                "Invalid input: the channel accepts at most {max} file attachments per message"
            ),
        ));
    }
    let max_size = capabilities
        .get("maxFileAttachmentSizeBytes")
        .and_then(Value::as_u64);
    let allowed_types: Option<Vec<&str>> = capabilities
        .get("allowedFileAttachmentMimeTypes")
        .and_then(Value::as_array)
        .map(|types| types.iter().filter_map(Value::as_str).collect());
    attachments
        .iter()
        .enumerate()
        .map(|(index, attachment)| {
            if attachment.get("type").and_then(Value::as_str) != Some("FILE") {
                return Ok(attachment.clone());
            }
            let at = format!("attachments[{index}].fileId");
            let id = attachment.get("fileId").and_then(Value::as_str).unwrap_or_default();
            let file = store.files.iter().find(|file| file.id == id).ok_or_else(|| {
                ApiError::field(&at, format!("Invalid input: '{at}' {id} is not a file in the file manager"))
            })?;
            if max_size.is_some_and(|max| file.size as u64 > max) {
                return Err(ApiError::field(
                    &at,
                    format!("Invalid input: file {id} is larger than the channel's maxFileAttachmentSizeBytes"),
                ));
            }
            if let Some(allowed) = &allowed_types
                && !allowed.contains(&file.content_type.as_str())
            {
                return Err(ApiError::field(
                    &at,
                    format!(
                        "Invalid input: file {id} is of type {}, not one of the channel's allowedFileAttachmentMimeTypes",
                        file.content_type
                    ),
                ));
            }
            Ok(super::file_manager::attachment_view(
                file,
                attachment.get("fileUsageType").and_then(Value::as_str),
            ))
        })
        .collect()
}

/// Checks each `ChannelIntegrationParticipant` and turns it into the message's
/// `PublicSender`/`PublicRecipient` (`senderActorId` becomes `actorId`).
fn participants(field: &str, list: Vec<Value>, actor_field: &str) -> Result<Vec<Value>, ApiError> {
    list.into_iter()
        .enumerate()
        .map(|(index, participant)| {
            let at = format!("{field}[{index}]");
            if !participant.is_object() {
                return Err(ApiError::field(
                    &at,
                    format!("Invalid input: '{at}' must be an object"),
                ));
            }
            let (kind, value) = delivery_identifier::validate(
                &format!("{at}.deliveryIdentifier"),
                participant.get("deliveryIdentifier"),
            )?;
            let mut out = json!({ "deliveryIdentifier": { "type": kind, "value": value } });
            if let Some(name) = participant.get("name").and_then(Value::as_str) {
                out["name"] = json!(name);
            }
            if let Some(actor) = participant.get("senderActorId").and_then(Value::as_str) {
                out[actor_field] = json!(actor);
            }
            Ok(out)
        })
        .collect()
}

/// Returns the index of the thread the message belongs to, opening or reopening it as needed.
fn find_or_open_thread(
    store: &mut Store,
    channel_id: &str,
    inbox_id: &str,
    request: &Publish,
) -> usize {
    let customer_key = request.customer_key();
    let existing = store.threads.iter().rposition(|thread| {
        thread.channel_account_id == request.channel_account_id
            && match &request.integration_thread_id {
                Some(id) => thread.integration_thread_id.as_ref() == Some(id),
                None => customer_key.is_some() && thread.customer_key == customer_key,
            }
    });
    if let Some(index) = existing {
        let thread = &mut store.threads[index];
        if request.incoming && thread.status == ThreadStatus::Closed {
            thread.status = ThreadStatus::Open;
            thread.closed_at = None;
        }
        if thread.customer.is_none() {
            thread.customer = request.customer().cloned();
            thread.customer_key = customer_key;
        }
        return index;
    }
    let associated_contact_id = match &request.associate_with_contact_id {
        Some(id) => id.clone(),
        None => matching_contact(store, request.customer()).unwrap_or_else(|| store.ids.visitor()),
    };
    let thread = Thread {
        id: store.ids.thread(),
        status: ThreadStatus::Open,
        assigned_to: None,
        inbox_id: inbox_id.to_string(),
        channel_id: channel_id.to_string(),
        channel_account_id: request.channel_account_id.clone(),
        integration_thread_id: request.integration_thread_id.clone(),
        customer_key,
        customer: request.customer().cloned(),
        associated_contact_id,
        created_at: request.created_at,
        closed_at: None,
        latest_received_at: None,
        latest_sent_at: None,
    };
    store.threads.push(thread);
    store.threads.len() - 1
}

/// The CRM contact HubSpot would associate with the customer: same email or same phone.
fn matching_contact(store: &Store, customer: Option<&Value>) -> Option<String> {
    let identifier = customer?.get("deliveryIdentifier")?;
    let value = identifier.get("value")?.as_str()?;
    let contact = match identifier.get("type")?.as_str()? {
        "HS_EMAIL_ADDRESS" => store.contacts.iter().find(|contact| {
            contact
                .email
                .as_deref()
                .is_some_and(|email| email.eq_ignore_ascii_case(value))
        }),
        "HS_PHONE_NUMBER" => store
            .contacts
            .iter()
            .find(|contact| contact.phone.as_deref() == Some(value)),
        _ => None,
    };
    contact.map(|contact| contact.id.clone())
}

fn build_message(
    store: &mut Store,
    channel_id: &str,
    thread_index: usize,
    request: Publish,
    app_id: u64,
) -> Message {
    let id = store.ids.message();
    let thread = &mut store.threads[thread_index];
    // The latest message's time: a message published late with an earlier `timestamp` does
    // not move it back.
    let latest = if request.incoming {
        &mut thread.latest_received_at
    } else {
        &mut thread.latest_sent_at
    };
    *latest = (*latest).max(Some(request.created_at));
    let visitor = format!("V-{}", thread.associated_contact_id);
    let mut senders = request.senders;
    if request.incoming {
        for sender in &mut senders {
            if sender.get("actorId").is_none() {
                sender["actorId"] = json!(visitor);
            }
        }
    }
    let created_by = senders
        .first()
        .and_then(|sender| sender.get("actorId"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("I-{app_id}"));
    Message {
        id,
        channel_id: channel_id.to_string(),
        channel_account_id: request.channel_account_id,
        thread_id: thread.id.clone(),
        direction: if request.incoming {
            "INCOMING"
        } else {
            "OUTGOING"
        }
        .to_string(),
        text: request.text,
        rich_text: request.rich_text,
        senders: Value::Array(senders),
        recipients: Value::Array(request.recipients),
        attachments: Value::Array(request.attachments),
        created_by,
        client: json!({ "clientType": "INTEGRATION", "integrationAppId": app_id }),
        in_reply_to_id: request.in_reply_to_id,
        integration_idempotency_id: request.integration_idempotency_id,
        status_type: if request.incoming { "RECEIVED" } else { "SENT" }.to_string(),
        error_message: None,
        created_at: request.created_at,
        updated_at: request.created_at,
        shown_chars: None,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use serde_json::json;

    use super::super::test_support::{Harness, error_category};

    #[tokio::test]
    async fn a_repeated_idempotency_id_returns_the_original_message() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let (status, first) = harness
            .publish_incoming(&channel, &account, "conv-1", "msg-1", "hello")
            .await;
        assert_eq!(status, 201, "{first}");
        let (status, again) = harness
            .publish_incoming(&channel, &account, "conv-1", "msg-1", "hello")
            .await;
        assert_eq!(status, 201);
        assert_eq!(again["id"], first["id"]);
        let threads = harness.sim.threads();
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].messages.len(), 1);
    }

    #[tokio::test]
    async fn messages_thread_by_integration_thread_id_and_reopen_closed_threads() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let (_, a1) = harness
            .publish_incoming(&channel, &account, "conv-a", "a1", "first")
            .await;
        let (_, a2) = harness
            .publish_incoming(&channel, &account, "conv-a", "a2", "second")
            .await;
        let (_, b1) = harness
            .publish_incoming(&channel, &account, "conv-b", "b1", "other")
            .await;
        assert_eq!(a1["conversationsThreadId"], a2["conversationsThreadId"]);
        assert_ne!(a1["conversationsThreadId"], b1["conversationsThreadId"]);

        let thread_id = a1["conversationsThreadId"].as_str().unwrap().to_string();
        let thread = harness.sim.thread(&thread_id).unwrap();
        assert_eq!(thread.status, "OPEN");
        assert_eq!(thread.inbox_id, harness.sim.config().help_desk_inbox_id);
        assert_eq!(thread.integration_thread_id.as_deref(), Some("conv-a"));
        assert_eq!(thread.messages.len(), 2);

        let path = format!("/conversations/v3/conversations/threads/{thread_id}");
        let (status, closed) = harness
            .call(Method::PATCH, &path, Some(json!({ "status": "CLOSED" })))
            .await;
        assert_eq!((status, closed["status"].as_str()), (200, Some("CLOSED")));
        assert!(closed["closedAt"].is_string());

        let (_, a3) = harness
            .publish_incoming(&channel, &account, "conv-a", "a3", "back again")
            .await;
        assert_eq!(a3["conversationsThreadId"], thread_id.as_str());
        assert_eq!(harness.sim.thread(&thread_id).unwrap().status, "OPEN");
        assert_eq!(harness.sim.threads().len(), 2);
    }

    #[tokio::test]
    async fn the_answer_has_every_required_field_and_optional_fields_may_be_omitted() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        // No attachments, recipients or timestamp: the real service accepts that.
        let (status, message) = harness
            .publish_incoming(&channel, &account, "conv-1", "m1", "hi")
            .await;
        assert_eq!(status, 201, "{message}");
        for field in [
            "archived",
            "attachments",
            "channelAccountId",
            "channelId",
            "client",
            "conversationsThreadId",
            "createdAt",
            "createdBy",
            "direction",
            "id",
            "recipients",
            "senders",
            "text",
            "truncationStatus",
            "type",
        ] {
            assert!(message.get(field).is_some(), "missing {field} in {message}");
        }
        assert_eq!(message["client"]["clientType"], "INTEGRATION");
        assert_eq!(
            message["client"]["integrationAppId"],
            harness.sim.config().app_id
        );
        assert_eq!(message["type"], "MESSAGE");
        assert_eq!(message["direction"], "INCOMING");
    }

    #[tokio::test]
    async fn invalid_messages_get_a_validation_error_naming_the_field() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let path = format!("/conversations/v3/custom-channels/{channel}/messages");
        let sender = json!([{ "deliveryIdentifier": { "type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "u" } }]);
        let cases = [
            (
                json!({ "messageDirection": "INCOMING", "text": "x", "senders": sender }),
                "channelAccountId",
            ),
            (
                json!({ "channelAccountId": account, "text": "x", "senders": sender }),
                "messageDirection",
            ),
            (
                json!({ "channelAccountId": account, "messageDirection": "SIDEWAYS", "text": "x", "senders": sender }),
                "messageDirection",
            ),
            (
                json!({ "channelAccountId": account, "messageDirection": "INCOMING", "senders": sender }),
                "text",
            ),
            (
                json!({ "channelAccountId": account, "messageDirection": "INCOMING", "text": "x", "senders": [] }),
                "senders",
            ),
            (
                json!({ "channelAccountId": account, "messageDirection": "INCOMING", "text": "x",
                        "senders": [{ "deliveryIdentifier": { "type": "EMAIL", "value": "u" } }] }),
                "senders[0].deliveryIdentifier.type",
            ),
            (
                json!({ "channelAccountId": "999", "messageDirection": "INCOMING", "text": "x", "senders": sender }),
                "channelAccountId",
            ),
        ];
        for (body, field) in cases {
            let (status, answer) = harness.call(Method::POST, &path, Some(body)).await;
            assert_eq!(status, 400, "{answer}");
            assert_eq!(error_category(&answer), "VALIDATION_ERROR");
            assert!(
                answer["message"].as_str().unwrap().contains(field),
                "{field}: {answer}"
            );
        }
        let (status, answer) = harness
            .call(
                Method::POST,
                "/conversations/v3/custom-channels/42/messages",
                Some(json!({})),
            )
            .await;
        assert_eq!(
            status, 400,
            "an empty egg fails validation before the lookup: {answer}"
        );
        assert!(harness.sim.threads().is_empty());
    }

    #[tokio::test]
    async fn message_status_updates_are_recorded() {
        let harness = Harness::start().await;
        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let (_, message) = harness
            .publish_incoming(&channel, &account, "conv-1", "m1", "hi")
            .await;
        let path = format!(
            "/conversations/v3/custom-channels/{channel}/messages/{}",
            message["id"].as_str().unwrap()
        );
        let (status, updated) = harness
            .call(
                Method::PATCH,
                &path,
                Some(json!({ "statusType": "FAILED", "errorMessage": "bot offline" })),
            )
            .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["status"]["statusType"], "FAILED");
        assert_eq!(
            updated["status"]["failureDetails"]["errorMessage"],
            "bot offline"
        );
        let (status, fetched) = harness.call(Method::GET, &path, None).await;
        assert_eq!(
            (status, fetched["status"]["statusType"].as_str()),
            (200, Some("FAILED"))
        );
        assert_eq!(harness.sim.threads()[0].messages[0].status, "FAILED");
    }
}
