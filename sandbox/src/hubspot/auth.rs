//! The two ways HubSpot authenticates the calls the bridge makes: an OAuth access token
//! (`Authorization: Bearer`) for account-level APIs, and the developer API key (`?hapikey=`) for
//! the channel-level custom-channel operations, which belong to the app rather than an account.

use axum::http::{HeaderMap, header::AUTHORIZATION};
use chrono::Utc;

use super::errors::ApiError;
use super::extract::Query;
use super::state::Shared;

const CREDENTIALS_NOT_FOUND: &str = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview";

/// Accepts only a live access token this simulator issued: unknown → INVALID_AUTHENTICATION,
/// expired → EXPIRED_AUTHENTICATION (the case a bridge must answer by refreshing).
pub(crate) fn require_bearer(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::invalid_authentication(CREDENTIALS_NOT_FOUND))?;
    let expires_at = shared
        .store()
        .access_tokens
        .get(token)
        .copied()
        .ok_or_else(|| {
            ApiError::invalid_authentication(
                "The OAuth token used to make this call is invalid or was not issued for this account.",
            )
        })?;
    let now = Utc::now();
    if expires_at <= now {
        let seconds = (now - expires_at).num_seconds().max(1);
        return Err(ApiError::expired(seconds));
    }
    Ok(())
}

/// Accepts `?hapikey=<developer API key>`; with `check_app_id`, also `appId=<the app's id>`
/// (HubSpot's guide passes both when listing or creating channels).
pub(crate) fn require_developer_key(
    shared: &Shared,
    query: &Query,
    check_app_id: bool,
) -> Result<(), ApiError> {
    match query.get("hapikey") {
        None => return Err(ApiError::invalid_authentication(CREDENTIALS_NOT_FOUND)),
        Some(key) if key != shared.config.developer_api_key => {
            return Err(ApiError::invalid_authentication(
                "The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/",
            ));
        }
        Some(_) => {}
    }
    if check_app_id {
        let expected = shared.config.app_id.to_string();
        match query.get("appId") {
            Some(app_id) if app_id == expected => {}
            Some(app_id) => {
                return Err(ApiError::invalid_authentication(format!(
                    "The developer API key does not belong to app {app_id}."
                )));
            }
            None => {
                return Err(ApiError::invalid_authentication(
                    "The query parameter 'appId' is required with a developer API key.",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::super::test_support::{Harness, error_category, read};

    const INBOXES: &str = "/conversations/v3/conversations/inboxes";

    #[tokio::test]
    async fn an_expired_token_answers_expired_authentication() {
        let harness = Harness::start().await;
        let (status, _) = harness.call(Method::GET, INBOXES, None).await;
        assert_eq!(status, 200);

        harness.sim.expire_access_tokens();
        let (status, body) = harness.call(Method::GET, INBOXES, None).await;
        assert_eq!(status, 401);
        assert_eq!(error_category(&body), "EXPIRED_AUTHENTICATION");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("The OAuth token used to make this call expired "),
            "{message}"
        );

        // A refresh gives a token that works again.
        let (_, refreshed) = harness.refresh(&harness.sim.current_refresh_token()).await;
        let response = harness
            .http
            .get(harness.url(INBOXES))
            .bearer_auth(refreshed["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    #[tokio::test]
    async fn unknown_or_missing_tokens_are_invalid_authentication() {
        let harness = Harness::start().await;
        let forged = harness
            .http
            .get(harness.url(INBOXES))
            .bearer_auth("forged")
            .send()
            .await
            .unwrap();
        let (status, body) = read(forged).await;
        assert_eq!(
            (status, error_category(&body)),
            (401, "INVALID_AUTHENTICATION")
        );
        let (status, body) =
            read(harness.http.get(harness.url(INBOXES)).send().await.unwrap()).await;
        assert_eq!(
            (status, error_category(&body)),
            (401, "INVALID_AUTHENTICATION")
        );
    }
}
