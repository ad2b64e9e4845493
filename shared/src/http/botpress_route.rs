//! `POST /botpress`: what Botpress sends the integration (lifecycle, actions, user messages).

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::botpress_protocol::{authenticate, bot_context, header};
use super::error_response::{error_response, relay_error_response};
use crate::app::Bridge;
use crate::model::BotpressContext;
use crate::relay::{CreateUserInput, RelayError, StartHandoffInput};

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

pub(super) async fn receive(
    State(bridge): State<Arc<Bridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = authenticate(&headers, &bridge.botpress_shared_secret) {
        tracing::warn!(%error, "refused an unauthenticated Botpress call");
        return error_response(StatusCode::UNAUTHORIZED, error.to_string());
    }
    let Some(operation) = header(&headers, "x-bp-operation") else {
        return error_response(StatusCode::BAD_REQUEST, "missing header x-bp-operation");
    };
    match operation {
        "register" => register(&bridge).await,
        "unregister" | "ping" => Json(json!({})).into_response(),
        "action_triggered" => with_bot(&headers, |bot| action(&bridge, bot, &body)).await,
        "message_created" => with_bot(&headers, |bot| message(&bridge, bot, &body)).await,
        other => error_response(
            StatusCode::BAD_REQUEST,
            format!(
                "unsupported operation `{other}`: this integration handles register, unregister, ping, action_triggered and message_created"
            ),
        ),
    }
}

async fn with_bot<F, Fut>(headers: &HeaderMap, handle: F) -> Response
where
    F: FnOnce(BotpressContext) -> Fut,
    Fut: Future<Output = Response>,
{
    match bot_context(headers) {
        Ok(bot) => handle(bot).await,
        Err(message) => error_response(StatusCode::BAD_REQUEST, message),
    }
}

async fn register(bridge: &Bridge) -> Response {
    match bridge.relay.register().await {
        Ok(setup) => Json(json!({
            "channelId": setup.channel_id,
            "channelAccountId": setup.channel_account_id,
        }))
        .into_response(),
        Err(error) => relay_error_response(error),
    }
}

/// Why a Botpress call is refused: its request is wrong, or the relay failed.
enum Refusal {
    BadRequest(String),
    Relay(RelayError),
}

impl From<RelayError> for Refusal {
    fn from(error: RelayError) -> Self {
        Self::Relay(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest(message) => error_response(StatusCode::BAD_REQUEST, message),
            Self::Relay(error) => relay_error_response(error),
        }
    }
}

async fn action(bridge: &Bridge, bot: BotpressContext, body: &[u8]) -> Response {
    match run_action(bridge, &bot, body).await {
        Ok(output) => Json(json!({ "output": output, "meta": { "cost": 0 } })).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn run_action(bridge: &Bridge, bot: &BotpressContext, body: &[u8]) -> Result<Value, Refusal> {
    let call: ActionCall = parse(body, "action_triggered")?;
    let output = match call.action.as_str() {
        "createUser" => {
            let input: CreateUserInput = parse_input(call.input, "createUser")?;
            json!({ "userId": bridge.relay.create_user(bot, input).await? })
        }
        "startHitl" => {
            let input: StartHandoffInput = parse_input(call.input, "startHitl")?;
            json!({ "conversationId": bridge.relay.start_handoff(bot, input).await? })
        }
        "stopHitl" => {
            let input: StopHitlInput = parse_input(call.input, "stopHitl")?;
            bridge
                .relay
                .stop_handoff(bot, &input.conversation_id)
                .await?;
            json!({})
        }
        other => {
            return Err(Refusal::BadRequest(format!(
                "unknown action `{other}`: this integration implements createUser, startHitl and stopHitl"
            )));
        }
    };
    Ok(output)
}

async fn message(bridge: &Bridge, bot: BotpressContext, body: &[u8]) -> Response {
    match relay_message(bridge, &bot, body).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn relay_message(bridge: &Bridge, bot: &BotpressContext, body: &[u8]) -> Result<(), Refusal> {
    let created: MessageCreated = parse(body, "message_created")?;
    if let Some(channel) = created.conversation.channel.as_deref()
        && channel != "hitl"
    {
        return Err(Refusal::BadRequest(format!(
            "message_created on channel `{channel}`: this integration only has the `hitl` channel"
        )));
    }
    if created.kind != "text" {
        return Err(Refusal::BadRequest(format!(
            "message type `{}` cannot be relayed to HubSpot yet; only text is supported",
            created.kind
        )));
    }
    let text = created
        .payload
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Refusal::BadRequest(
                "message_created: a text message needs payload.text (a string)".to_string(),
            )
        })?;
    bridge
        .relay
        .forward_user_text(bot, &created.conversation.id, &created.message.id, text)
        .await?;
    Ok(())
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|error| {
        Refusal::BadRequest(format!(
            "{what}: the body is not what Botpress sends: {error}"
        ))
    })
}

fn parse_input<T: DeserializeOwned>(input: Value, action: &str) -> Result<T, Refusal> {
    serde_json::from_value(input)
        .map_err(|error| Refusal::BadRequest(format!("{action}: invalid input: {error}")))
}
