//! `POST /hubspot/webhook`: HubSpot's app webhooks and custom-channel events.
//!
//! Nothing happens before the v3 signature checks out. The answer is 200 only once every event
//! is relayed or safely recorded as done; otherwise HubSpot retries the delivery and the
//! idempotency ledger (for assignments, the mark of the change applied last) makes sure what
//! was already relayed is not relayed again.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::botpress_protocol::header;
use super::error_response::error_response;
use super::hubspot_events::read_delivery;
use crate::adapters::budget;
use crate::adapters::signature::verify_v3;
use crate::app::Bridge;

/// HubSpot waits 5 s for the answer; the rest covers the answer and a cold start's share.
pub(crate) const WEBHOOK_BUDGET: Duration = Duration::from_millis(4_000);

/// The log lines of a webhook refused as forged or unreadable: template.yaml counts them
/// (`HubSpotWebhookRefusedMetric`), as a run of them means HubSpot's own deliveries fail.
const BAD_SIGNATURE: &str = "refused a HubSpot webhook with a bad signature";
const MALFORMED: &str = "refused a malformed HubSpot webhook";

pub(super) async fn receive(
    State(bridge): State<Arc<Bridge>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // From arrival: HubSpot's 5 s count from its request, not from our first call.
    let deadline = Instant::now() + WEBHOOK_BUDGET;
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let now_ms = bridge.clock.now().timestamp_millis();
    let verify = |signed_uri: &str| {
        verify_v3(
            bridge.webhook_signing_key(),
            method.as_str(),
            signed_uri,
            &body,
            header(&headers, "x-hubspot-request-timestamp"),
            header(&headers, "x-hubspot-signature-v3"),
            now_ms,
        )
    };
    let mut candidates = signed_uris(&bridge.public_base_url, path_and_query).into_iter();
    let mut verified = verify(&candidates.next().unwrap_or_default());
    for candidate in candidates {
        if verified.is_ok() {
            break;
        }
        verified = verify(&candidate).or(verified);
    }
    if let Err(error) = verified {
        tracing::warn!(%error, "{BAD_SIGNATURE}");
        return error_response(
            StatusCode::UNAUTHORIZED,
            format!("signature check failed: {error}"),
        );
    }
    let mut delivery = match read_delivery(&body) {
        Ok(delivery) => delivery,
        Err(message) => {
            // serde's messages may quote a value of the body.
            let logged = crate::redact::redact_text(&message);
            tracing::warn!(problem = logged, "{MALFORMED}");
            return error_response(StatusCode::BAD_REQUEST, message);
        }
    };
    for problem in &delivery.refused {
        let logged = crate::redact::redact_text(problem);
        tracing::error!(
            problem = logged,
            "an event of a HubSpot delivery is malformed; the rest of the delivery is relayed"
        );
    }
    if delivery.names_a_portal() {
        match budget::with_deadline(deadline, bridge.tokens.portal_id()).await {
            Ok(Some(ours)) => {
                let dropped = delivery.drop_other_portals(ours);
                if dropped > 0 {
                    tracing::info!(dropped, "ignored events about another HubSpot account");
                }
            }
            Ok(None) => {
                tracing::debug!("HubSpot never named our portal; events are not filtered by it")
            }
            Err(error) => {
                tracing::warn!(%error, "could not learn our HubSpot portal; the delivery is left for a retry");
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("could not tell which HubSpot account this bridge serves: {error}"),
                );
            }
        }
    }
    let outcome = budget::with_deadline(
        deadline,
        bridge.relay.handle_help_desk_events(delivery.events),
    )
    .await;
    for error in &outcome.permanent {
        let logged = crate::redact::redact_text(&error.to_string());
        tracing::error!(error = %logged, "an event could not be relayed and a retry will not help");
    }
    let summary = json!({
        "relayed": outcome.relayed,
        "duplicates": outcome.duplicates,
        "ignored": outcome.ignored + delivery.ignored,
        "failed": outcome.permanent.len() + delivery.refused.len(),
        "left": outcome.left + outcome.retryable.len(),
    });
    if outcome.needs_retry() {
        let reason = outcome
            .retryable
            .first()
            .map(|error| crate::redact::redact_text(&error.to_string()))
            .unwrap_or_else(|| "out of time".to_string());
        tracing::warn!(%summary, reason, "part of a delivery is left for HubSpot's retry");
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not every event could be relayed yet ({reason}); retry the delivery: {summary}"
            ),
        );
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return response;
    }
    Json(summary).into_response()
}

/// The URLs HubSpot may have signed, likeliest first: `PUBLIC_BASE_URL` and the webhook
/// path, where it posted. When the base URL has a path, the request's own path may carry it
/// (a custom domain's API mapping key stays in the path API Gateway hands Lambda) or not (a
/// proxy in front removed it), and a route that begins like the base path cannot tell the
/// two apart, so both readings are tried: the signature says which one HubSpot used.
fn signed_uris(public_base_url: &str, path_and_query: &str) -> Vec<String> {
    let appended = format!("{public_base_url}{path_and_query}");
    match super::base_path(public_base_url) {
        Some(base_path) if path_and_query.starts_with(&format!("{base_path}/")) => {
            let origin = &public_base_url[..public_base_url.len() - base_path.len()];
            vec![format!("{origin}{path_and_query}"), appended]
        }
        _ => vec![appended],
    }
}

#[cfg(test)]
mod tests {
    use super::{BAD_SIGNATURE, MALFORMED};

    /// A reworded log line would silently stop the alarm counting.
    #[test]
    fn the_refused_webhook_alarm_counts_these_lines() {
        let template = include_str!("../../../template.yaml");
        for line in [BAD_SIGNATURE, MALFORMED] {
            assert!(
                template.contains(&format!("$.fields.message = \"{line}\"")),
                "template.yaml's HubSpotWebhookRefusedMetric counts `{line}`"
            );
        }
    }

    #[test]
    fn the_signed_url_counts_the_base_path_once_or_tries_both_readings() {
        use super::signed_uris;
        let root = "https://hooks.example.com";
        assert_eq!(
            signed_uris(root, "/hubspot/webhook?x=1"),
            ["https://hooks.example.com/hubspot/webhook?x=1"]
        );
        let mapped = "https://api.example.com/hitl";
        assert_eq!(
            signed_uris(mapped, "/hubspot/webhook"),
            ["https://api.example.com/hitl/hubspot/webhook"]
        );
        assert_eq!(
            signed_uris(mapped, "/hitl/hubspot/webhook")[0],
            "https://api.example.com/hitl/hubspot/webhook"
        );
        // A base path a route begins with: kept in the path, or stripped by a proxy.
        assert_eq!(
            signed_uris("https://x.example.com/hubspot", "/hubspot/webhook"),
            [
                "https://x.example.com/hubspot/webhook",
                "https://x.example.com/hubspot/hubspot/webhook"
            ]
        );
    }
}
