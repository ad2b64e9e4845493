use std::fmt;

/// Which service a failed call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    HubSpot,
    Botpress,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HubSpot => "HubSpot",
            Self::Botpress => "Botpress",
        })
    }
}

/// A call to HubSpot or Botpress that did not succeed. `retryable` says whether trying the
/// same call later can help (timeouts, 429, 5xx) or not (4xx: the request itself is wrong).
#[derive(Debug, thiserror::Error)]
#[error("{service} {operation} failed{}: {message}", status.map(|s| format!(" with {s}")).unwrap_or_default())]
pub struct UpstreamError {
    pub service: Service,
    pub operation: &'static str,
    pub status: Option<u16>,
    pub retryable: bool,
    /// What the service said, with personal data redacted.
    pub message: String,
}

impl UpstreamError {
    pub fn from_status(service: Service, operation: &'static str, status: u16, body: &str) -> Self {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|json| {
                json.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| body.chars().take(300).collect());
        Self {
            service,
            operation,
            status: Some(status),
            retryable: status == 429 || status >= 500,
            message: crate::redact::redact_text(&message),
        }
    }

    pub fn transport(service: Service, operation: &'static str, error: &reqwest::Error) -> Self {
        Self {
            service,
            operation,
            status: None,
            retryable: true,
            message: if error.is_timeout() {
                "timed out".to_string()
            } else {
                "could not be reached".to_string()
            },
        }
    }

    pub fn unexpected(
        service: Service,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            service,
            operation,
            status: None,
            retryable: false,
            message: message.into(),
        }
    }
}
