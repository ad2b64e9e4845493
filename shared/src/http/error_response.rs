use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::relay::RelayError;

/// The status a relay error answers with, chosen so each sender does the right thing: 503
/// for "retry later", 4xx for requests that will never work. An upstream's refusal no retry
/// will change (HubSpot or Botpress answered 4xx for good) is a 400 too, of type
/// `RuntimeError`: Botpress shows the `message` of a 4xx to the bot and does not retry it,
/// where any 5xx is to it an unexplained internal error (`INTEGRATION-PROTOCOL.md`).
pub(super) fn status_of(error: &RelayError) -> StatusCode {
    match error {
        RelayError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        RelayError::UnknownConversation(_) => StatusCode::NOT_FOUND,
        RelayError::NotRegistered => StatusCode::CONFLICT,
        RelayError::InProgress => StatusCode::SERVICE_UNAVAILABLE,
        RelayError::Upstream(upstream) if upstream.retryable => StatusCode::SERVICE_UNAVAILABLE,
        RelayError::Upstream(_) => StatusCode::BAD_REQUEST,
        RelayError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Whether the request failed through no fault of its own: Botpress's `RuntimeError`, where
/// `InvalidPayload` says the request itself was wrong.
fn is_runtime_error(error: &RelayError) -> bool {
    matches!(
        error,
        RelayError::Upstream(_) | RelayError::InProgress | RelayError::Store(_)
    )
}

/// A JSON error in the shape Botpress shows to the bot: `{"message", "type"}`, the type
/// told by the status (a 4xx: the request was wrong).
pub(super) fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    error_response_of_type(status, !status.is_client_error(), message)
}

fn error_response_of_type(
    status: StatusCode,
    runtime_error: bool,
    message: impl Into<String>,
) -> Response {
    let kind = if runtime_error {
        "RuntimeError"
    } else {
        "InvalidPayload"
    };
    let mut response = (
        status,
        Json(json!({ "message": message.into(), "type": kind })),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("2"));
    }
    response
}

/// Logs a relay error at the level it deserves and turns it into a response. ERROR is kept
/// for what a person must look at (template.yaml alarms on any ERROR line): an upstream
/// refusal no retry will change. A 503 is left for the sender's retry, which usually
/// succeeds; a run of them raises the 5xx alarm instead.
pub(super) fn relay_error_response(error: RelayError) -> Response {
    let status = status_of(&error);
    let message = error.to_string();
    // The caller may need the address to fix its data; the logs never get it.
    let logged = crate::redact::redact_text(&message);
    if error.retryable() {
        tracing::warn!(error = %logged, status = status.as_u16(), "request left for a retry");
    } else if matches!(error, RelayError::Upstream(_)) {
        tracing::error!(error = %logged, status = status.as_u16(), "request failed");
    } else {
        tracing::warn!(error = %logged, status = status.as_u16(), "request refused");
    }
    error_response_of_type(status, is_runtime_error(&error), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Service, UpstreamError};

    async fn answer(error: RelayError) -> (StatusCode, serde_json::Value, bool) {
        let response = relay_error_response(error);
        let status = response.status();
        let retry_after = response.headers().contains_key(RETRY_AFTER);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap(), retry_after)
    }

    /// Botpress shows the bot a 4xx's message and does not retry it; a 5xx is to it an
    /// unexplained internal error, so only what a retry may mend answers 5xx.
    #[tokio::test]
    async fn each_failure_answers_botpress_so_the_bot_sees_why_and_retries_only_what_may_work() {
        let refused = UpstreamError::from_status(Service::HubSpot, "publish", 400, "bad channel");
        let (status, body, retry_after) = answer(RelayError::Upstream(refused)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["type"], "RuntimeError");
        assert!(
            body["message"].as_str().unwrap().contains("bad channel"),
            "{body}"
        );
        assert!(!retry_after);

        let throttled = UpstreamError::from_status(Service::HubSpot, "publish", 429, "slow down");
        let (status, body, retry_after) = answer(RelayError::Upstream(throttled)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["type"], "RuntimeError");
        assert!(retry_after);

        let (status, body, _) = answer(RelayError::InvalidInput("no userId".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["type"], "InvalidPayload");
    }
}
