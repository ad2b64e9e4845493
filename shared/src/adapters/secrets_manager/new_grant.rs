//! Storing the grant of a new install (`hitl oauth exchange --secret-id`).
//!
//! [`TokenVault::save`](crate::ports::TokenVault::save) keeps a refresh token someone else
//! stored since the grant was loaded (an operator's reinstall wins over the bridge's rotation).
//! A new install is that operator: its refresh token replaces whatever the secret holds, with
//! the access token that came with it, and every other field stays as it was.

use secrecy::SecretString;

use super::SecretsManagerVault;
use super::error::SecretsError;
use crate::adapters::oauth::fingerprint;
use crate::ports::StoredTokens;

impl SecretsManagerVault {
    /// Writes `hubspotRefreshToken` (and the access token with its expiry, and the portal,
    /// when given) into
    /// the secret, keeping every other field. The secret must exist and hold a JSON object.
    pub async fn store_new_grant(
        &self,
        refresh_token: &SecretString,
        access_token: Option<(&SecretString, chrono::DateTime<chrono::Utc>)>,
        portal_id: Option<u64>,
    ) -> Result<(), SecretsError> {
        let mut document = self.read_document().await?;
        document.set_tokens(&StoredTokens {
            refresh_token: refresh_token.clone(),
            access_token: access_token.map(|(token, _)| token.clone()),
            access_token_expires_at: access_token.map(|(_, expires_at)| expires_at),
            seed_fingerprint: fingerprint(refresh_token),
            // A new install may be of another portal: never keep the old grant's.
            portal_id,
        });
        self.write_document(&document).await
    }
}
