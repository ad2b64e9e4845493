//! Reading a Botpress call: its operation, bot and body, turned into one typed value or a
//! message saying what is wrong (a 400). Pure: no I/O, no relay, so it can be fuzzed.

use axum::http::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::botpress_protocol::{bot_context, header};
use crate::model::BotpressContext;
use crate::relay::{CreateUserInput, StartHandoffInput};

/// What Botpress asked for.
#[derive(Debug)]
pub enum BotpressCall {
    Register,
    /// `unregister` and `ping` need nothing done.
    Acknowledge,
    CreateUser(BotpressContext, CreateUserInput),
    StartHitl(BotpressContext, StartHandoffInput),
    StopHitl(BotpressContext, String),
    UserText {
        bot: BotpressContext,
        conversation_id: String,
        message_id: String,
        text: String,
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
    message: Identified,
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
        "action_triggered" => read_action(bot_context(headers)?, body),
        "message_created" => read_message(bot_context(headers)?, body),
        other => Err(format!(
            "unsupported operation `{other}`: this integration handles register, unregister, ping, action_triggered and message_created"
        )),
    }
}

fn read_action(bot: BotpressContext, body: &[u8]) -> Result<BotpressCall, String> {
    let call: ActionCall = parse(body, "action_triggered")?;
    match call.action.as_str() {
        "createUser" => Ok(BotpressCall::CreateUser(
            bot,
            parse_input(call.input, "createUser")?,
        )),
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
    if created.kind != "text" {
        return Err(format!(
            "message type `{}` cannot be relayed to HubSpot yet; only text is supported",
            created.kind
        ));
    }
    let text = created
        .payload
        .get("text")
        .and_then(Value::as_str)
        .ok_or("message_created: a text message needs payload.text (a string)")?;
    Ok(BotpressCall::UserText {
        bot,
        conversation_id: created.conversation.id,
        message_id: created.message.id,
        text: text.to_string(),
    })
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|error| format!("{what}: the body is not what Botpress sends: {error}"))
}

fn parse_input<T: DeserializeOwned>(input: Value, action: &str) -> Result<T, String> {
    serde_json::from_value(input).map_err(|error| format!("{action}: invalid input: {error}"))
}
