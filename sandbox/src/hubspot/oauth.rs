//! `POST /oauth/v1/token` and its replacement `POST /oauth/2026-03/token`: exchanging a refresh
//! token (or an authorization code) for an access token, with the same form fields.

use std::collections::HashMap;

use axum::{Json, body::Bytes, extract::State, response::IntoResponse};
use chrono::Utc;
use serde_json::json;

use super::errors::OAuthError;
use super::state::{AppState, Store};

/// The scopes a bridge install asks for; answered in `scopes`.
pub(crate) const SCOPES: &[&str] = &[
    "conversations.custom_channels.read",
    "conversations.custom_channels.write",
    "conversations.read",
    "conversations.write",
    "crm.objects.contacts.read",
    "oauth",
];

pub(crate) async fn token(
    State(shared): State<AppState>,
    body: Bytes,
) -> Result<impl IntoResponse, OAuthError> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).map_err(|error| {
        OAuthError::new(
            "BAD_REQUEST",
            format!("could not read the form body: {error}"),
        )
    })?;
    let field = |name: &str| {
        form.get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    };

    if field("client_id") != Some(shared.config.client_id.as_str()) {
        return Err(OAuthError::new(
            "BAD_CLIENT_ID",
            "missing or invalid client_id",
        ));
    }
    if field("client_secret") != Some(shared.config.client_secret.as_str()) {
        return Err(OAuthError::new(
            "BAD_CLIENT_ID",
            "missing or invalid client_secret",
        ));
    }

    let mut store = shared.store();
    let refresh_token = match field("grant_type") {
        Some("refresh_token") => {
            let presented = field("refresh_token")
                .filter(|token| store.refresh_tokens.contains(*token))
                .ok_or_else(|| {
                    OAuthError::new("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
                })?
                .to_string();
            if shared.config.rotate_refresh_tokens {
                store.refresh_tokens.remove(&presented);
                issue_refresh_token(&mut store)
            } else {
                presented
            }
        }
        Some("authorization_code") => {
            let code = field("code")
                .filter(|code| store.authorization_codes.contains(*code))
                .ok_or_else(|| OAuthError::new("BAD_AUTH_CODE", "missing or unknown auth code"))?
                .to_string();
            // Codes are single-use, as in HubSpot.
            store.authorization_codes.remove(&code);
            issue_refresh_token(&mut store)
        }
        Some(other) => {
            return Err(OAuthError::new(
                "BAD_GRANT_TYPE",
                format!("unsupported grant_type '{other}'"),
            ));
        }
        None => return Err(OAuthError::new("BAD_GRANT_TYPE", "missing grant_type")),
    };

    let access_token = format!("sim-at-{}", uuid::Uuid::new_v4().simple());
    let ttl = shared.config.access_token_ttl;
    let expires_at =
        Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(30));
    store.access_tokens.insert(access_token.clone(), expires_at);

    Ok(Json(json!({
        "access_token": access_token,
        "refresh_token": refresh_token,
        "expires_in": ttl.as_secs(),
        "token_type": "bearer",
        "token_use": "access_token",
        "hub_id": shared.config.portal_id,
        "scopes": SCOPES,
    })))
}

/// Issues a new refresh token, makes it valid, and remembers it as the current one.
fn issue_refresh_token(store: &mut Store) -> String {
    let token = format!("na1-{}", uuid::Uuid::new_v4());
    store.refresh_tokens.insert(token.clone());
    store.current_refresh_token = token.clone();
    token
}

#[cfg(test)]
mod tests {
    use super::super::HubSpotSimConfig;
    use super::super::test_support::{Harness, read};

    #[tokio::test]
    async fn rotating_refresh_tokens_retire_the_old_one() {
        let config = HubSpotSimConfig {
            rotate_refresh_tokens: true,
            ..HubSpotSimConfig::default()
        };
        let original = config.refresh_token.clone();
        // The harness already spent `original` once to get its access token.
        let harness = Harness::with_config(config).await;
        let current = harness.sim.current_refresh_token();
        assert_ne!(current, original);

        let (status, body) = harness.refresh(&original).await;
        assert_eq!(status, 400);
        assert_eq!(body["status"], "BAD_REFRESH_TOKEN");
        assert_eq!(body["message"], "missing or unknown refresh token");
        assert!(body["correlationId"].is_string());

        let (status, body) = harness.refresh(&current).await;
        assert_eq!(status, 200, "{body}");
        let next = body["refresh_token"].as_str().unwrap();
        assert_ne!(next, current);
        assert_eq!(harness.sim.current_refresh_token(), next);
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["token_use"], "access_token");
        assert_eq!(body["expires_in"], 1800);
        assert_eq!(body["hub_id"], harness.sim.config().portal_id);
        assert!(body["scopes"].is_array());
    }

    #[tokio::test]
    async fn without_rotation_the_same_refresh_token_keeps_working() {
        let harness = Harness::start().await;
        let token = harness.sim.config().refresh_token.clone();
        for _ in 0..2 {
            let (status, body) = harness.refresh(&token).await;
            assert_eq!(status, 200);
            assert_eq!(body["refresh_token"], token.as_str());
        }
    }

    #[tokio::test]
    async fn a_wrong_client_and_an_unknown_grant_are_refused() {
        let harness = Harness::start().await;
        let response = harness
            .http
            .post(harness.url("/oauth/2026-03/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "someone-else"),
                ("client_secret", "sandbox-client-secret"),
                ("refresh_token", "na1-sandbox-refresh-token"),
            ])
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (400, Some("BAD_CLIENT_ID"))
        );
    }

    #[tokio::test]
    async fn an_authorization_code_works_once() {
        let harness = Harness::start().await;
        harness.sim.add_authorization_code("code-1");
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
            ("code", "code-1"),
            ("redirect_uri", "http://localhost/callback"),
        ];
        let first = read(
            harness
                .http
                .post(harness.url("/oauth/v1/token"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(first.0, 200, "{}", first.1);
        assert_eq!(
            first.1["refresh_token"].as_str(),
            Some(harness.sim.current_refresh_token().as_str())
        );
        let second = read(
            harness
                .http
                .post(harness.url("/oauth/v1/token"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (second.0, second.1["status"].as_str()),
            (400, Some("BAD_AUTH_CODE"))
        );
    }
}
