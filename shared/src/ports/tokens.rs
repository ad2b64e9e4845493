use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{StoreError, UpstreamError};

/// Why no HubSpot access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// HubSpot refused the refresh token (revoked, uninstalled, rotated elsewhere): a person
    /// must reinstall the app. Retrying does not help.
    #[error(
        "HubSpot refused the refresh token ({0}); reinstall the app and store the new refresh token"
    )]
    RefreshTokenRejected(String),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TokenError {
    pub fn retryable(&self) -> bool {
        match self {
            Self::RefreshTokenRejected(_) => false,
            Self::Upstream(error) => error.retryable,
            Self::Store(_) => true,
        }
    }
}

/// HubSpot access tokens for API calls. Implementations refresh ahead of expiry and make
/// concurrent callers share one refresh.
#[async_trait]
pub trait AccessTokens: Send + Sync {
    /// A token valid for at least a little while.
    async fn access_token(&self) -> Result<SecretString, TokenError>;
    /// `rejected` got a 401: refresh, unless another caller already replaced it, and return
    /// the token to retry with.
    async fn refresh_after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, TokenError>;
    /// Refreshes now whatever the expiry (the scheduled refresher).
    async fn refresh_now(&self) -> Result<(), TokenError>;
}

/// What is persisted about the OAuth grant.
#[derive(Clone, Debug)]
pub struct StoredTokens {
    pub refresh_token: SecretString,
    pub access_token: Option<SecretString>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// The configured refresh token this record grew from. When the operator configures a
    /// new one (a reinstall), the stored record is stale and is replaced.
    pub seed_fingerprint: String,
}

/// Where the refresh token (which HubSpot may rotate) and the current access token live.
#[async_trait]
pub trait TokenVault: Send + Sync {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError>;
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError>;
}
