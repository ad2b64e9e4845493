//! Reading a Botpress call: its operation, bot and body, turned into one typed value or a
//! message saying what is wrong (a 400). Pure: no I/O, no relay, so it can be fuzzed.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::botpress_protocol::{bot_context, header};
use crate::model::BotpressContext;
use crate::relay::{CreateUserInput, StartHandoffInput, UserContent, UserFileKind};

/// What Botpress asked for.
#[derive(Debug)]
pub enum BotpressCall {
    Register,
    /// `unregister` and `ping` need nothing done.
    Acknowledge,
    CreateUser(BotpressContext, CreateUserInput),
    StartHitl(BotpressContext, StartHandoffInput),
    StopHitl(BotpressContext, String),
    /// A customer's message on the `hitl` channel, as the parts to relay in order (one, or a
    /// `bloc`'s items).
    UserMessage {
        bot: BotpressContext,
        conversation_id: String,
        message_id: String,
        /// When the customer sent it (the message's `createdAt`), if Botpress said.
        sent_at: Option<DateTime<Utc>>,
        parts: Vec<UserContent>,
    },
}

#[derive(Deserialize)]
struct ActionCall {
    #[serde(rename = "type")]
    action: String,
    #[serde(default)]
    input: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopHitlInput {
    conversation_id: String,
}

#[derive(Deserialize)]
struct MessageCreated {
    #[serde(rename = "type")]
    kind: String,
    payload: Value,
    conversation: Identified,
    message: CreatedMessage,
}

#[derive(Deserialize)]
struct CreatedMessage {
    id: String,
    /// Read leniently: a time that does not parse leaves the message timed by its relaying,
    /// rather than refusing what the customer wrote.
    #[serde(default, rename = "createdAt")]
    created_at: Option<Value>,
}

#[derive(Deserialize)]
struct Identified {
    id: String,
    #[serde(default)]
    channel: Option<String>,
}

/// Reads an (already authenticated) call, or says what is wrong with it.
pub fn read_call(headers: &HeaderMap, body: &[u8]) -> Result<BotpressCall, String> {
    let operation = header(headers, "x-bp-operation").ok_or("missing header x-bp-operation")?;
    match operation {
        "register" => Ok(BotpressCall::Register),
        "unregister" | "ping" => Ok(BotpressCall::Acknowledge),
        // Operations the protocol lists that this integration has nothing to do for: the bot
        // making a user or a conversation on the `hitl` channel itself, an edit of a message
        // or conversation already relayed, a call to the integration's Botpress webhook.
        // Answered 200, as the SDK answers an integration that does not implement them; a 4xx
        // would reach the bot as a failure of its own call.
        "create_user"
        | "create_conversation"
        | "message_updated"
        | "conversation_updated"
        | "webhook_received" => Ok(BotpressCall::Acknowledge),
        "action_triggered" => read_action(bot_context(headers)?, body),
        "message_created" => read_message(bot_context(headers)?, body),
        other => Err(format!(
            "unsupported operation `{other}`: this integration handles register, unregister, ping, action_triggered, message_created, and acknowledges create_user, create_conversation, message_updated, conversation_updated and webhook_received"
        )),
    }
}

fn read_action(bot: BotpressContext, body: &[u8]) -> Result<BotpressCall, String> {
    let call: ActionCall = parse(body, "action_triggered")?;
    match call.action.as_str() {
        "createUser" => {
            let input: CreateUserInput = parse_input(call.input, "createUser")?;
            Ok(BotpressCall::CreateUser(
                bot,
                input.within_botpress_limits(),
            ))
        }
        "startHitl" => Ok(BotpressCall::StartHitl(
            bot,
            parse_input(call.input, "startHitl")?,
        )),
        "stopHitl" => {
            let input: StopHitlInput = parse_input(call.input, "stopHitl")?;
            Ok(BotpressCall::StopHitl(bot, input.conversation_id))
        }
        other => Err(format!(
            "unknown action `{other}`: this integration implements createUser, startHitl and stopHitl"
        )),
    }
}

fn read_message(bot: BotpressContext, body: &[u8]) -> Result<BotpressCall, String> {
    let created: MessageCreated = parse(body, "message_created")?;
    if let Some(channel) = created.conversation.channel.as_deref()
        && channel != "hitl"
    {
        return Err(format!(
            "message_created on channel `{channel}`: this integration only has the `hitl` channel"
        ));
    }
    let parts = match created.kind.as_str() {
        "bloc" => read_bloc(&created.payload)?,
        kind => vec![read_part(kind, &created.payload, "payload")?],
    };
    Ok(BotpressCall::UserMessage {
        bot,
        conversation_id: created.conversation.id,
        message_id: created.message.id,
        sent_at: created
            .message
            .created_at
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc)),
        parts,
    })
}

/// A `bloc`'s items, each a part of its own (a bloc inside a bloc is refused). A blank text
/// item (an empty caption beside a photo, say) is left out rather than the whole bloc, and
/// the photo with it, refused: it has nothing to relay.
fn read_bloc(payload: &Value) -> Result<Vec<UserContent>, String> {
    let items = payload
        .get("items")
        .and_then(Value::as_array)
        .ok_or("message_created: a bloc message needs payload.items (an array)")?;
    if items.is_empty() {
        return Err("message_created: the bloc has no items".to_string());
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = format!("payload.items[{index}]");
            let kind = item
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("message_created: {at}.type is missing"))?;
            if kind == "bloc" {
                return Err(format!("message_created: {at} is a bloc inside a bloc"));
            }
            let payload = item.get("payload").unwrap_or(&Value::Null);
            read_bloc_item(kind, payload, &format!("{at}.payload"))
        })
        .filter(|part| !matches!(part, Ok(UserContent::Text(text)) if text.trim().is_empty()))
        .collect::<Result<Vec<_>, String>>()
        .and_then(|parts| {
            if parts.is_empty() {
                Err(
                    "message_created: the bloc has nothing to relay: its texts are empty"
                        .to_string(),
                )
            } else {
                Ok(parts)
            }
        })
}

/// One item of a bloc. Besides what a message may be, a bloc's items may be a `location`, or
/// a `markdown` in older SDKs (`messages.defaults.bloc`): written out as text, as in the
/// transcript, rather than the whole bloc (and what the customer wrote beside them) refused.
fn read_bloc_item(kind: &str, payload: &Value, at: &str) -> Result<UserContent, String> {
    let (readable, needs) = match kind {
        "location" => {
            let number = |field: &str| payload.get(field).is_some_and(Value::is_number);
            (
                number("latitude") && number("longitude"),
                "latitude and .longitude (numbers)",
            )
        }
        "markdown" => (
            payload.get("markdown").is_some_and(Value::is_string),
            "markdown (a string)",
        ),
        _ => return read_part(kind, payload, at),
    };
    if !readable {
        return Err(format!("message_created: a {kind} needs {at}.{needs}"));
    }
    Ok(UserContent::Text(crate::relay::describe_message(
        kind, payload,
    )))
}

/// One text or file part; `at` names where it is, for the error message.
fn read_part(kind: &str, payload: &Value, at: &str) -> Result<UserContent, String> {
    let string = |field: &str| payload.get(field).and_then(Value::as_str);
    let (file_kind, url_field) = match kind {
        "text" => {
            let text = string("text").ok_or_else(|| {
                format!("message_created: a text message needs {at}.text (a string)")
            })?;
            return Ok(UserContent::Text(text.to_string()));
        }
        "image" => (UserFileKind::Image, "imageUrl"),
        "file" => (UserFileKind::File, "fileUrl"),
        "audio" => (UserFileKind::Audio, "audioUrl"),
        "video" => (UserFileKind::Video, "videoUrl"),
        other => {
            return Err(format!(
                "message type `{other}` cannot be relayed to HubSpot; the hitl channel relays text, image, file, audio, video and bloc"
            ));
        }
    };
    let url = string(url_field)
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .ok_or_else(|| {
            format!("message_created: an {kind} message needs {at}.{url_field} (a URL)")
        })?;
    Ok(UserContent::File {
        kind: file_kind,
        url: url.to_string(),
        title: string("title").map(str::to_string),
    })
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|error| format!("{what}: the body is not what Botpress sends: {error}"))
}

fn parse_input<T: DeserializeOwned>(input: Value, action: &str) -> Result<T, String> {
    serde_json::from_value(input).map_err(|error| format!("{action}: invalid input: {error}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_blocs_blank_texts_are_left_out_and_a_bloc_of_nothing_else_refused() {
        let parts = read_bloc(&json!({ "items": [
            { "type": "text", "payload": { "text": "  " } },
            { "type": "image", "payload": { "imageUrl": "https://files.example.com/a.png" } },
            { "type": "text", "payload": { "text": "See?" } },
        ]}))
        .unwrap();
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(matches!(
            &parts[0],
            UserContent::File {
                kind: UserFileKind::Image,
                ..
            }
        ));
        assert_eq!(parts[1], UserContent::Text("See?".to_string()));

        let blank = read_bloc(&json!({ "items": [
            { "type": "text", "payload": { "text": "" } },
            { "type": "text", "payload": { "text": " \n " } },
        ]}))
        .unwrap_err();
        assert!(blank.contains("nothing to relay"), "{blank}");
        // A broken item still refuses the bloc, blank texts or not.
        let broken = read_bloc(&json!({ "items": [
            { "type": "text", "payload": { "text": "" } },
            { "type": "image", "payload": {} },
        ]}))
        .unwrap_err();
        assert!(broken.contains("imageUrl"), "{broken}");
    }
}
