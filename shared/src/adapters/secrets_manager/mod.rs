//! AWS Secrets Manager: on Lambda, the bridge's secrets and its HubSpot OAuth grant.
//!
//! One secret, a JSON object, holds everything no environment variable may:
//!
//! ```json
//! {
//!   "hubspotClientSecret": "…",
//!   "hubspotDeveloperApiKey": "…",
//!   "hubspotRefreshToken": "…",
//!   "botpressToken": "…",
//!   "botpressSharedSecret": "…",
//!   "hubspotAccessToken": "…",
//!   "hubspotAccessTokenExpiresAt": "2026-11-24T10:00:00Z"
//! }
//! ```
//!
//! The operator writes the first five (the refresh token at install). The bridge writes the
//! refresh token HubSpot rotates and the current access token with its expiry, and leaves every
//! other field as it found it. Nothing is cached here: [`OAuthTokens`](super::oauth::OAuthTokens)
//! caches the grant. A function reads the secret once per execution environment
//! ([`SecretsManagerVault::read_secrets_and_grant`]): the bridge's secrets, and the grant that
//! seeds the token cache ([`OAuthTokens::starting_from`](super::oauth::OAuthTokens::starting_from));
//! a refresh reads the secret again under the refresh lock.

mod document;
mod error;
mod new_grant;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use crate::config::Secrets;
use crate::ports::{StoreError, StoredTokens, TokenVault};
use document::SecretDocument;
pub use error::{SecretAction, SecretsError};

/// The staging label of a secret's current version. Asked for explicitly: moto, after
/// `UpdateSecretVersionStage`, answers an unlabelled read with the previous value.
const CURRENT: &str = "AWSCURRENT";

/// The bridge's secret in Secrets Manager: its secrets, and the [`TokenVault`] of the HubSpot
/// grant (the operator puts the refresh token in the secret, so the OAuth manager is built
/// with `seed_refresh_token: None`).
#[derive(Clone, Debug)]
pub struct SecretsManagerVault {
    client: Client,
    secret_id: String,
}

impl SecretsManagerVault {
    /// `secret_id` is the secret's name or ARN.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// The secret's name or ARN, as configured.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Reads the secret and returns the bridge's secrets. A missing secret, text that is not
    /// a JSON object, or missing, empty or non-string fields give an error naming the secret
    /// id and every problem at once; no secret value is ever part of it.
    pub async fn read_secrets(&self) -> Result<Secrets, SecretsError> {
        self.secrets_in(&self.read_document().await?)
    }

    /// As [`read_secrets`](Self::read_secrets), and the grant the same read found, for
    /// [`OAuthTokens::starting_from`](super::oauth::OAuthTokens::starting_from): a cold start
    /// reads the secret once, not again for its first HubSpot call. The grant is `None` when
    /// the secret's token fields are unusable; the first token's own read reports why.
    pub async fn read_secrets_and_grant(
        &self,
    ) -> Result<(Secrets, Option<StoredTokens>), SecretsError> {
        let document = self.read_document().await?;
        let secrets = self.secrets_in(&document)?;
        Ok((secrets, document.tokens().ok().flatten()))
    }

    fn secrets_in(&self, document: &SecretDocument) -> Result<Secrets, SecretsError> {
        document
            .secrets()
            .map_err(|problems| SecretsError::Incomplete {
                secret_id: self.secret_id.clone(),
                problems,
            })
    }

    async fn read_document(&self) -> Result<SecretDocument, SecretsError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(CURRENT)
            .send()
            .await
            .map_err(|error| {
                SecretsError::from_sdk(&self.secret_id, SecretAction::GetSecretValue, error)
            })?;
        let Some(text) = answer.secret_string() else {
            return Err(SecretsError::NotText {
                secret_id: self.secret_id.clone(),
            });
        };
        SecretDocument::parse(text).map_err(|problem| SecretsError::Malformed {
            secret_id: self.secret_id.clone(),
            problem,
        })
    }

    async fn write_document(&self, document: &SecretDocument) -> Result<(), SecretsError> {
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(document.to_json())
            .send()
            .await
            .map_err(|error| {
                SecretsError::from_sdk(&self.secret_id, SecretAction::PutSecretValue, error)
            })?;
        Ok(())
    }
}

#[async_trait]
impl TokenVault for SecretsManagerVault {
    /// The grant in the secret's current version; `None` when it holds no refresh token.
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        const OPERATION: &str = "read the HubSpot tokens from Secrets Manager";
        self.read_document()
            .await
            .map_err(|error| vault_failure(OPERATION, error))?
            .tokens()
            .map_err(|problem| {
                let error = SecretsError::Incomplete {
                    secret_id: self.secret_id.clone(),
                    problems: vec![problem],
                };
                vault_failure(OPERATION, error)
            })
    }

    /// Read-modify-write: re-reads the current secret, replaces the refresh token, the access
    /// token and its expiry, keeps every other field (the operator's and any unknown ones),
    /// and puts the result as the new current version.
    ///
    /// Secrets Manager has no conditional put, so two writers could lose one's update. Callers
    /// hold the cross-process [`RefreshLock`](crate::ports::RefreshLock) around refresh and
    /// save, so only an operator editing the secret at that moment can interleave; re-reading
    /// right before the put keeps the fields they changed. Should they have stored a new
    /// refresh token (a reinstall) since `tokens` was loaded, theirs wins: the rotated token
    /// and the old grant's access token are not written, the stored access token is dropped,
    /// and the next refresh uses the operator's token.
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        const OPERATION: &str = "save the HubSpot tokens to Secrets Manager";
        let mut document = self
            .read_document()
            .await
            .map_err(|error| vault_failure(OPERATION, error))?;
        if document.grant_replaced_since(tokens) {
            tracing::warn!(
                secret_id = %self.secret_id,
                "the secret's refresh token changed since it was read (a reinstall?); keeping \
                 it and not storing the refresh result"
            );
            if !document.forget_access_token() {
                return Ok(());
            }
        } else {
            document.set_tokens(tokens);
        }
        self.write_document(&document)
            .await
            .map_err(|error| vault_failure(OPERATION, error))
    }
}

/// A secret error as the token vault's [`StoreError`]: only Secrets Manager out of reach
/// (the network, throttling, a 5xx) is worth trying again as it is; a secret that is missing,
/// not allowed or malformed needs an operator.
fn vault_failure(operation: &'static str, error: SecretsError) -> StoreError {
    if matches!(error, SecretsError::Service { .. }) {
        StoreError::new(operation, error)
    } else {
        StoreError::refused(operation, error)
    }
}
