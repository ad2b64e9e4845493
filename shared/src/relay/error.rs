use crate::ports::{StoreError, UpstreamError};

/// Why a use case did not complete. The HTTP layer maps each to a status code; the message is
/// what the caller (a bot developer, HubSpot's delivery log) reads, so it says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The request itself is wrong; retrying it will not help.
    #[error("{0}")]
    InvalidInput(String),
    /// The bridge has no handoff for the conversation the caller named.
    #[error("no handoff is known for Botpress conversation `{0}`")]
    UnknownConversation(String),
    /// `register` has not run, so there is no channel to publish through.
    #[error(
        "the bridge is not connected to HubSpot yet: save the integration's configuration in Botpress (the `register` call) or run `hitl setup`"
    )]
    NotRegistered,
    /// Another attempt is doing this very work now; try again shortly.
    #[error("this delivery is already being processed; retry later")]
    InProgress,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RelayError {
    /// Whether the sender should retry (and so whether idempotency records are released).
    pub fn retryable(&self) -> bool {
        match self {
            Self::InvalidInput(_) | Self::UnknownConversation(_) | Self::NotRegistered => false,
            Self::InProgress | Self::Store(_) => true,
            Self::Upstream(error) => error.retryable,
        }
    }
}
