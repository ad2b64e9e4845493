//! Error answers shaped like HubSpot's, so the bridge's error handling meets the bodies it will
//! meet in production: `{"status":"error","message","correlationId","category",...}` for the APIs,
//! and `{"status":"BAD_REFRESH_TOKEN","message","correlationId"}` for the OAuth token endpoint.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// An API error with HubSpot's standard body. Every handler returns `Result<_, ApiError>`, so a
/// malformed request always gets a body the bridge can parse, never a bare axum rejection.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    category: &'static str,
    message: String,
    /// `errors[]` entries; HubSpot names the offending field in `in`.
    errors: Vec<Value>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        category: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            category,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 400 VALIDATION_ERROR about the request as a whole (e.g. JSON that does not parse).
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 400 VALIDATION_ERROR naming one field, in the message and in `errors[].in`.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut error = Self::validation(message.clone());
        error
            .errors
            .push(json!({ "message": message, "in": field, "code": "INVALID" }));
        error
    }

    /// 400 VALIDATION_ERROR for a required field that is missing.
    pub(crate) fn missing(field: &str) -> Self {
        Self::field(
            field,
            format!("Invalid input: required field '{field}' is missing"),
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    pub(crate) fn invalid_authentication(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", message)
    }

    /// 401 EXPIRED_AUTHENTICATION with the message HubSpot uses.
    pub(crate) fn expired(seconds_ago: i64) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
            format!("The OAuth token used to make this call expired {seconds_ago} second(s) ago."),
        )
    }

    #[cfg(test)]
    pub(crate) fn category(&self) -> &'static str {
        self.category
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "status": "error",
            "message": self.message,
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "category": self.category,
        });
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors);
        }
        (self.status, Json(body)).into_response()
    }
}

/// An error from the OAuth token endpoint. HubSpot puts a specific code in `status` there
/// (`BAD_CLIENT_ID`, `BAD_REFRESH_TOKEN`, ...) instead of `"error"`, and bridges branch on it.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: &'static str,
    message: String,
}

impl OAuthError {
    pub(crate) fn new(status: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": self.status,
            "message": self.message,
            "correlationId": uuid::Uuid::new_v4().to_string(),
        });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}
