use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::relay::RelayError;

/// The status a relay error answers with, chosen so each sender does the right thing:
/// 4xx for requests that will never work, 503 for "retry later", 502 for a failing upstream.
pub(super) fn status_of(error: &RelayError) -> StatusCode {
    match error {
        RelayError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        RelayError::UnknownConversation(_) => StatusCode::NOT_FOUND,
        RelayError::NotRegistered => StatusCode::CONFLICT,
        RelayError::InProgress => StatusCode::SERVICE_UNAVAILABLE,
        RelayError::Upstream(upstream) if upstream.retryable => StatusCode::SERVICE_UNAVAILABLE,
        RelayError::Upstream(_) => StatusCode::BAD_GATEWAY,
        RelayError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A JSON error in the shape Botpress shows to the bot: `{"message", "type"}`.
pub(super) fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let kind = if status.is_client_error() {
        "InvalidPayload"
    } else {
        "RuntimeError"
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
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(error = %logged, status = status.as_u16(), "request left for a retry");
    } else if status.is_server_error() {
        tracing::error!(error = %logged, status = status.as_u16(), "request failed");
    } else {
        tracing::warn!(error = %logged, status = status.as_u16(), "request refused");
    }
    error_response(status, message)
}
