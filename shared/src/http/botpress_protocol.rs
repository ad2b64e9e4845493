//! Botpress's integration protocol: the headers every call carries and how it authenticates.
//! Botpress does not sign its calls, so the bridge checks the `sharedSecret` the bot owner
//! entered in the integration's configuration, which arrives base64-encoded in a header.

use axum::http::HeaderMap;
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::model::BotpressContext;

/// Why a call is not authenticated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "missing x-bp-configuration header: Botpress sends the integration's configuration in it"
    )]
    MissingConfiguration,
    #[error("x-bp-configuration is not base64-encoded JSON")]
    MalformedConfiguration,
    #[error(
        "the integration's configuration has no sharedSecret: enter the bridge's shared secret in the bot's integration settings"
    )]
    MissingSharedSecret,
    #[error("the configured sharedSecret does not match the bridge's")]
    WrongSharedSecret,
}

/// Checks `x-bp-configuration`'s `sharedSecret` against ours, in constant time.
pub fn authenticate(headers: &HeaderMap, expected: &SecretString) -> Result<(), AuthError> {
    let encoded = header(headers, "x-bp-configuration").ok_or(AuthError::MissingConfiguration)?;
    let decoded = BASE64
        .decode(encoded.trim())
        .map_err(|_| AuthError::MalformedConfiguration)?;
    let configuration: serde_json::Value =
        serde_json::from_slice(&decoded).map_err(|_| AuthError::MalformedConfiguration)?;
    let presented = configuration
        .get("sharedSecret")
        .and_then(|secret| secret.as_str())
        .ok_or(AuthError::MissingSharedSecret)?;
    let matches: bool = presented
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    if matches && !presented.is_empty() {
        Ok(())
    } else {
        Err(AuthError::WrongSharedSecret)
    }
}

/// The bot and integration a call comes from; every call back into Botpress repeats them.
pub fn bot_context(headers: &HeaderMap) -> Result<BotpressContext, String> {
    let required = |name: &str| {
        header(headers, name)
            .map(str::to_string)
            .ok_or_else(|| format!("missing header {name}"))
    };
    let integration_id = required("x-integration-id")?;
    Ok(BotpressContext {
        bot_id: required("x-bot-id")?,
        integration_alias: header(headers, "x-integration-alias")
            .map(str::to_string)
            .unwrap_or_else(|| integration_id.clone()),
        integration_id,
    })
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_configuration(json: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-bp-configuration",
            HeaderValue::from_str(&BASE64.encode(json)).unwrap(),
        );
        headers
    }

    #[test]
    fn the_shared_secret_must_match() {
        let expected = SecretString::from("s3cret");
        assert_eq!(
            authenticate(
                &with_configuration(r#"{"sharedSecret":"s3cret"}"#),
                &expected
            ),
            Ok(())
        );
        assert_eq!(
            authenticate(
                &with_configuration(r#"{"sharedSecret":"s3cre"}"#),
                &expected
            ),
            Err(AuthError::WrongSharedSecret)
        );
        assert_eq!(
            authenticate(&with_configuration(r#"{"other":1}"#), &expected),
            Err(AuthError::MissingSharedSecret)
        );
        assert_eq!(
            authenticate(&HeaderMap::new(), &expected),
            Err(AuthError::MissingConfiguration)
        );
        let mut garbage = HeaderMap::new();
        garbage.insert("x-bp-configuration", HeaderValue::from_static("%%%"));
        assert_eq!(
            authenticate(&garbage, &expected),
            Err(AuthError::MalformedConfiguration)
        );
    }

    #[test]
    fn an_empty_configured_secret_never_matches() {
        let expected = SecretString::from("");
        assert_eq!(
            authenticate(&with_configuration(r#"{"sharedSecret":""}"#), &expected),
            Err(AuthError::WrongSharedSecret)
        );
    }
}
