//! `POST /botpress`: what Botpress sends the integration (lifecycle, actions, user messages).
//! Authenticate, read the call, act within the time budget, answer in Botpress's shapes.

use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::botpress_call::{BotpressCall, read_call};
use super::botpress_protocol::authenticate;
use super::error_response::{error_response, relay_error_response};
use crate::adapters::budget;
use crate::app::Bridge;
use crate::relay::RelayError;

/// Botpress waits up to 30 s for an integration; keep well inside it.
pub(crate) const BOTPRESS_BUDGET: Duration = Duration::from_secs(20);

pub(super) async fn receive(
    State(bridge): State<Arc<Bridge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = authenticate(&headers, &bridge.botpress_shared_secret) {
        tracing::warn!(%error, "refused an unauthenticated Botpress call");
        return error_response(StatusCode::UNAUTHORIZED, error.to_string());
    }
    let call = match read_call(&headers, &body) {
        Ok(call) => call,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    let deadline = Instant::now() + BOTPRESS_BUDGET;
    match budget::with_deadline(deadline, perform(&bridge, call)).await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => relay_error_response(error),
    }
}

/// Does what the call asks; the answer is the JSON Botpress expects for it.
async fn perform(bridge: &Bridge, call: BotpressCall) -> Result<Value, RelayError> {
    let relay = &bridge.relay;
    let output = match call {
        BotpressCall::Register => {
            let setup = relay.register().await?;
            return Ok(json!({
                "channelId": setup.channel_id,
                "channelAccountId": setup.channel_account_id,
            }));
        }
        BotpressCall::Acknowledge => return Ok(json!({})),
        BotpressCall::UserMessage {
            bot,
            conversation_id,
            message_id,
            sent_at,
            parts,
        } => {
            relay
                .forward_user_message(&bot, &conversation_id, &message_id, sent_at, &parts)
                .await?;
            return Ok(json!({}));
        }
        BotpressCall::CreateUser(bot, input) => {
            json!({ "userId": relay.create_user(&bot, input).await? })
        }
        BotpressCall::StartHitl(bot, input) => {
            json!({ "conversationId": relay.start_handoff(&bot, input).await? })
        }
        BotpressCall::StopHitl(bot, conversation_id) => {
            relay.stop_handoff(&bot, &conversation_id).await?;
            json!({})
        }
    };
    Ok(json!({ "output": output, "meta": { "cost": 0 } }))
}
