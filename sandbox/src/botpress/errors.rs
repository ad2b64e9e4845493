//! Errors in the shape Botpress answers them.
//!
//! Botpress's clients (and so the bridge) read `type` to decide what went wrong and `message` to
//! log it, so every failure the simulator produces, injected or real, carries the same body:
//! `{"id": "err_…", "code": <status>, "type": "<kind>", "message": "…"}`.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::ids::new_id;

/// One error answer of the Runtime API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Botpress's error type, e.g. `InvalidPayload`.
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_payload(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidPayload", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// An error for an arbitrary status (fault injection), with the type Botpress uses for it.
    /// A number that is not an HTTP status becomes 500, so a typo in a test still yields a failure.
    pub fn for_status(status: u16, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, kind_for(status), message)
    }

    /// The JSON body Botpress sends with this error.
    pub fn body(&self) -> Value {
        json!({
            "id": new_id("err"),
            "code": self.status.as_u16(),
            "type": self.kind,
            "message": self.message,
        })
    }
}

/// Botpress's error type for a status, as its API client names them.
fn kind_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "InvalidPayload",
        401 => "Unauthorized",
        402 => "PaymentRequired",
        403 => "Forbidden",
        404 => "ResourceNotFound",
        405 => "MethodNotFound",
        409 => "AlreadyExists",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        429 => "RateLimited",
        500 => "Internal",
        _ => "Unknown",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_botpress_shape() {
        let body = ApiError::not_found("no such user").body();
        assert_eq!(body["code"], 404);
        assert_eq!(body["type"], "ResourceNotFound");
        assert_eq!(body["message"], "no such user");
        assert!(body["id"].as_str().is_some_and(|id| id.starts_with("err_")));
    }

    #[test]
    fn injected_statuses_get_botpress_types() {
        assert_eq!(ApiError::for_status(429, "slow down").kind, "RateLimited");
        assert_eq!(ApiError::for_status(503, "down").kind, "Unknown");
        assert_eq!(
            ApiError::for_status(503, "down").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::for_status(7, "typo").status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
