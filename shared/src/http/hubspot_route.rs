//! `POST /hubspot/webhook`: HubSpot's app webhooks and custom-channel events.
//!
//! Nothing happens before the v3 signature checks out. The answer is 200 only once every event
//! is relayed or safely recorded as done; otherwise HubSpot retries the delivery and the
//! idempotency ledger makes sure what was already relayed is not relayed again.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::botpress_protocol::header;
use super::error_response::{error_response, relay_error_response};
use super::hubspot_events::read_delivery;
use crate::adapters::signature::verify_v3;
use crate::app::Bridge;
use crate::relay::Outcome;

pub(super) async fn receive(
    State(bridge): State<Arc<Bridge>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let signed_uri = format!("{}{path_and_query}", bridge.public_base_url);
    let verified = verify_v3(
        bridge.webhook_signing_key(),
        method.as_str(),
        &signed_uri,
        &body,
        header(&headers, "x-hubspot-request-timestamp"),
        header(&headers, "x-hubspot-signature-v3"),
        bridge.clock.now().timestamp_millis(),
    );
    if let Err(error) = verified {
        tracing::warn!(%error, "refused a HubSpot webhook with a bad signature");
        return error_response(
            StatusCode::UNAUTHORIZED,
            format!("signature check failed: {error}"),
        );
    }
    let delivery = match read_delivery(&body) {
        Ok(delivery) => delivery,
        Err(message) => {
            tracing::warn!(message, "refused a malformed HubSpot webhook");
            return error_response(StatusCode::BAD_REQUEST, message);
        }
    };
    let (mut relayed, mut duplicates, mut ignored) = (0, 0, delivery.ignored);
    let mut first_failure = None;
    for event in delivery.events {
        // One failing event does not hold up the others; the whole delivery is then refused
        // so HubSpot retries it, and the ledger skips what was relayed this time.
        match bridge.relay.handle_help_desk_event(event).await {
            Ok(Outcome::Done) => relayed += 1,
            Ok(Outcome::AlreadyDone) => duplicates += 1,
            Ok(Outcome::Ignored) => ignored += 1,
            Err(error) => {
                first_failure.get_or_insert(error);
            }
        }
    }
    match first_failure {
        Some(error) => relay_error_response(error),
        None => Json(json!({ "relayed": relayed, "duplicates": duplicates, "ignored": ignored }))
            .into_response(),
    }
}
