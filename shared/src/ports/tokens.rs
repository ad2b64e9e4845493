use std::time::Duration;

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
    /// Refreshes now, as `refresh_now`, and says what HubSpot granted (`hitl doctor`): under
    /// the same cross-process lock, so a check beside a live bridge never rotates the refresh
    /// token under it.
    async fn refresh_now_reporting(&self) -> Result<RefreshedGrant, TokenError>;
    /// The HubSpot account (portal, `hub_id`) the grant belongs to, learned from HubSpot's
    /// token answer; `None` when HubSpot never said. Webhooks about another portal (the same
    /// app installed elsewhere signs with the same secret) are told apart by it.
    async fn portal_id(&self) -> Result<Option<u64>, TokenError>;
    /// Returns once no refresh is under way: one whose caller was dropped (a request cut off
    /// at its deadline) goes on in a task of its own, and a process about to exit waits for
    /// it, so a refresh token HubSpot has just rotated reaches the store.
    async fn settle(&self) {}
}

/// What one refresh obtained, for an operator's check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshedGrant {
    /// Seconds the new access token is valid.
    pub expires_in: i64,
    /// The scopes HubSpot listed (`scopes`, or `scope` space-separated); empty when not said.
    pub scopes: Vec<String>,
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
    /// The HubSpot account the grant belongs to (`hub_id` in HubSpot's token answer).
    pub portal_id: Option<u64>,
}

/// Where the refresh token (which HubSpot may rotate) and the current access token live.
#[async_trait]
pub trait TokenVault: Send + Sync {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError>;
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError>;
}

/// Serialises HubSpot token refreshes across processes (the Lambda functions, or a CLI beside
/// the local server). HubSpot may rotate the refresh token on every refresh: two processes
/// refreshing at once with the same token would leave one of them holding a dead grant. Under
/// the lock, the refresher re-reads the vault first, so it always refreshes with the newest
/// refresh token, and adopts an access token another process has just obtained.
#[async_trait]
pub trait RefreshLock: Send + Sync {
    /// Takes the lock for `lease` (after which it frees itself, should the holder die).
    /// `Some(holder)` names this holder for [`RefreshLock::unlock`]; `None` means another
    /// holder has it now.
    async fn try_lock(&self, lease: Duration) -> Result<Option<String>, StoreError>;
    /// Frees the lock if `holder` still has it.
    async fn unlock(&self, holder: &str) -> Result<(), StoreError>;
}
