//! The secret's JSON object: reading the operator's secrets and the token fields, and
//! replacing only the token fields.

use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::adapters::oauth::fingerprint;
use crate::config::Secrets;
use crate::ports::StoredTokens;

pub(super) const CLIENT_SECRET: &str = "hubspotClientSecret";
pub(super) const DEVELOPER_API_KEY: &str = "hubspotDeveloperApiKey";
pub(super) const REFRESH_TOKEN: &str = "hubspotRefreshToken";
pub(super) const BOTPRESS_TOKEN: &str = "botpressToken";
pub(super) const BOTPRESS_SHARED_SECRET: &str = "botpressSharedSecret";
pub(super) const ACCESS_TOKEN: &str = "hubspotAccessToken";
pub(super) const ACCESS_TOKEN_EXPIRES_AT: &str = "hubspotAccessTokenExpiresAt";
/// Written by the bridge: the HubSpot account the grant belongs to (not a secret, but it
/// belongs with the grant it describes).
pub(super) const PORTAL_ID: &str = "hubspotPortalId";

/// The fields an operator puts in the secret.
pub(super) const OPERATOR_FIELDS: [&str; 5] = [
    CLIENT_SECRET,
    DEVELOPER_API_KEY,
    REFRESH_TOKEN,
    BOTPRESS_TOKEN,
    BOTPRESS_SHARED_SECRET,
];

/// The secret's fields. Values the bridge does not write are carried through unchanged.
/// (Without serde_json's `preserve_order`, keys come back sorted; values are unchanged, except
/// integers beyond 64 bits, which no field of ours has.)
pub(super) struct SecretDocument {
    fields: Map<String, Value>,
}

impl SecretDocument {
    /// Parses the secret text. The error describes the problem without quoting the text.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        // Into `Value` first: serde_json's "invalid type" errors quote the value, syntax
        // errors do not.
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => Ok(Self { fields }),
            Ok(other) => Err(format!("it is a JSON {}", kind(&other))),
            Err(error) => Err(format!(
                "invalid JSON, {} error at line {} column {}",
                format!("{:?}", error.classify()).to_lowercase(),
                error.line(),
                error.column()
            )),
        }
    }

    pub(super) fn to_json(&self) -> String {
        Value::Object(self.fields.clone()).to_string()
    }

    /// The operator's secrets, or every field that is missing, empty or not a string.
    pub(super) fn secrets(&self) -> Result<Secrets, Vec<String>> {
        let mut problems = Vec::new();
        let mut required = |name: &str, what: &str| match self.text(name) {
            Ok(Some(value)) => SecretString::from(value.to_string()),
            Ok(None) => {
                problems.push(format!(
                    "{name} is not set ({what}){}",
                    self.near_miss(name)
                ));
                SecretString::from(String::new())
            }
            Err(problem) => {
                problems.push(problem);
                SecretString::from(String::new())
            }
        };
        let secrets = Secrets {
            hubspot_client_secret: required(
                CLIENT_SECRET,
                "the HubSpot app's client secret, from the app's Auth settings",
            ),
            hubspot_developer_api_key: required(
                DEVELOPER_API_KEY,
                "the developer account's API key, for creating the custom channel",
            ),
            hubspot_refresh_token: required(
                REFRESH_TOKEN,
                "the refresh token from installing the app in the Help Desk's account",
            ),
            botpress_token: required(BOTPRESS_TOKEN, "the integration's Botpress access key"),
            botpress_shared_secret: required(
                BOTPRESS_SHARED_SECRET,
                "the secret entered as `sharedSecret` in the bot's integration configuration",
            ),
        };
        if problems.is_empty() {
            Ok(secrets)
        } else {
            Err(problems)
        }
    }

    /// The stored grant; `None` when the secret holds no refresh token. A stored access token
    /// or expiry that cannot be read counts as absent (the next call refreshes).
    pub(super) fn tokens(&self) -> Result<Option<StoredTokens>, String> {
        let Some(refresh) = self.text(REFRESH_TOKEN)? else {
            return Ok(None);
        };
        let refresh_token = SecretString::from(refresh.to_string());
        let access_token = self
            .lenient_text(ACCESS_TOKEN)
            .map(|token| SecretString::from(token.to_string()));
        let access_token_expires_at = self.lenient_text(ACCESS_TOKEN_EXPIRES_AT).and_then(|text| {
            match DateTime::parse_from_rfc3339(text) {
                Ok(time) => Some(time.with_timezone(&Utc)),
                Err(_) => {
                    tracing::warn!(
                        field = ACCESS_TOKEN_EXPIRES_AT,
                        "not an RFC 3339 time; treating the stored access token as expired"
                    );
                    None
                }
            }
        });
        let portal_id = match self.fields.get(PORTAL_ID) {
            None | Some(Value::Null) => None,
            Some(value) => {
                let id = value.as_u64();
                if id.is_none() {
                    tracing::warn!(field = PORTAL_ID, "not a whole number; ignoring it");
                }
                id
            }
        };
        Ok(Some(StoredTokens {
            seed_fingerprint: fingerprint(&refresh_token),
            refresh_token,
            access_token,
            access_token_expires_at,
            portal_id,
        }))
    }

    /// True when the secret's refresh token is neither the one `tokens` grew from nor the one
    /// it carries: someone (an operator, after a reinstall) stored a new grant since `tokens`
    /// was loaded.
    pub(super) fn grant_replaced_since(&self, tokens: &StoredTokens) -> bool {
        match self.text(REFRESH_TOKEN) {
            Ok(Some(current)) => {
                current != tokens.refresh_token.expose_secret()
                    && fingerprint(&SecretString::from(current.to_string()))
                        != tokens.seed_fingerprint
            }
            _ => false,
        }
    }

    /// Replaces the three token fields, and only them.
    pub(super) fn set_tokens(&mut self, tokens: &StoredTokens) {
        match tokens.portal_id {
            Some(id) => {
                self.fields.insert(PORTAL_ID.to_string(), Value::from(id));
            }
            None => {
                self.fields.remove(PORTAL_ID);
            }
        }
        self.fields.insert(
            REFRESH_TOKEN.to_string(),
            Value::String(tokens.refresh_token.expose_secret().to_string()),
        );
        match (&tokens.access_token, tokens.access_token_expires_at) {
            (Some(token), Some(expires_at)) => {
                self.fields.insert(
                    ACCESS_TOKEN.to_string(),
                    Value::String(token.expose_secret().to_string()),
                );
                self.fields.insert(
                    ACCESS_TOKEN_EXPIRES_AT.to_string(),
                    // Whole seconds, rounded down: the token is never thought to live longer.
                    Value::String(expires_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
                );
            }
            _ => {
                self.forget_access_token();
            }
        }
    }

    /// Removes the stored access token; returns whether there was one.
    pub(super) fn forget_access_token(&mut self) -> bool {
        let token = self.fields.remove(ACCESS_TOKEN).is_some();
        let expiry = self.fields.remove(ACCESS_TOKEN_EXPIRES_AT).is_some();
        token || expiry
    }

    /// A field's trimmed text: `None` when absent, null or blank; an error naming the field
    /// (never its value) when it is not a string.
    fn text(&self, name: &str) -> Result<Option<&str>, String> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim()).filter(|text| !text.is_empty())),
            Some(other) => Err(format!(
                "{name} must be a JSON string, not a {}",
                kind(other)
            )),
        }
    }

    fn lenient_text(&self, name: &str) -> Option<&str> {
        self.text(name).unwrap_or_else(|problem| {
            tracing::warn!("{problem}; ignoring it");
            None
        })
    }

    /// A hint when the secret has the field under another spelling (say the environment
    /// variable's name, `HUBSPOT_CLIENT_SECRET`). Key names are not secret.
    fn near_miss(&self, name: &str) -> String {
        let wanted = normalize(name);
        self.fields
            .keys()
            .find(|key| key.as_str() != name && normalize(key) == wanted)
            .map(|key| format!("; found `{key}`: the key must be spelled `{name}`"))
            .unwrap_or_default()
    }
}

fn normalize(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn complete() -> Value {
        json!({
            "hubspotClientSecret": "cs-value",
            "hubspotDeveloperApiKey": "dk-value",
            "hubspotRefreshToken": "rt-value",
            "botpressToken": "bt-value",
            "botpressSharedSecret": "ss-value",
            "somethingElse": {"nested": [1, 2.5, true, null]},
        })
    }

    fn document(value: &Value) -> SecretDocument {
        SecretDocument::parse(&value.to_string()).unwrap()
    }

    #[test]
    fn reads_the_operator_secrets_trimmed() {
        let mut value = complete();
        value["botpressToken"] = json!("  bt-value\n");
        let secrets = document(&value).secrets().unwrap();
        assert_eq!(secrets.botpress_token.expose_secret(), "bt-value");
        assert_eq!(secrets.hubspot_refresh_token.expose_secret(), "rt-value");
    }

    #[test]
    fn names_every_missing_empty_or_mistyped_field_without_values() {
        let mut value = complete();
        value.as_object_mut().unwrap().remove("hubspotClientSecret");
        value["HUBSPOT_CLIENT_SECRET"] = json!("cs-value");
        value["botpressToken"] = json!("   ");
        value["botpressSharedSecret"] = json!(12345);
        let problems = document(&value).secrets().unwrap_err();
        let text = problems.join("\n");
        assert_eq!(problems.len(), 3, "{text}");
        assert!(text.contains("hubspotClientSecret is not set"), "{text}");
        assert!(text.contains("found `HUBSPOT_CLIENT_SECRET`"), "{text}");
        assert!(text.contains("botpressToken is not set"), "{text}");
        assert!(
            text.contains("botpressSharedSecret must be a JSON string, not a number"),
            "{text}"
        );
        for value in ["cs-value", "bt-value", "12345", "rt-value"] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
    }

    #[test]
    fn malformed_text_is_described_without_quoting_it() {
        for text in [
            "{\"hubspotClientSecret\": \"cs-value\"",
            "\"cs-value\"",
            "[\"cs-value\"]",
            "hubspotClientSecret=cs-value",
        ] {
            let Err(problem) = SecretDocument::parse(text) else {
                panic!("{text} parsed");
            };
            assert!(!problem.contains("cs-value"), "{problem}");
        }
        assert_eq!(
            SecretDocument::parse("\"x\"").err().unwrap(),
            "it is a JSON string"
        );
    }

    #[test]
    fn token_fields_round_trip_and_leave_the_rest_alone() {
        let mut doc = document(&complete());
        let expires = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        doc.set_tokens(&StoredTokens {
            refresh_token: SecretString::from("rt-2"),
            access_token: Some(SecretString::from("at-2")),
            access_token_expires_at: Some(expires),
            seed_fingerprint: "ignored".into(),
            portal_id: Some(22761544),
        });
        let written: Value = serde_json::from_str(&doc.to_json()).unwrap();
        let mut expected = complete();
        expected["hubspotRefreshToken"] = json!("rt-2");
        expected["hubspotAccessToken"] = json!("at-2");
        expected["hubspotAccessTokenExpiresAt"] = json!("2026-11-24T10:00:00Z");
        expected["hubspotPortalId"] = json!(22761544);
        assert_eq!(written, expected);

        let tokens = document(&written).tokens().unwrap().unwrap();
        assert_eq!(tokens.refresh_token.expose_secret(), "rt-2");
        assert_eq!(tokens.access_token.unwrap().expose_secret(), "at-2");
        assert_eq!(tokens.access_token_expires_at, Some(expires));
        assert_eq!(tokens.portal_id, Some(22761544));
        assert_eq!(
            tokens.seed_fingerprint,
            fingerprint(&SecretString::from("rt-2"))
        );
    }

    #[test]
    fn no_refresh_token_means_no_grant_and_bad_expiry_means_expired() {
        let mut value = complete();
        value.as_object_mut().unwrap().remove("hubspotRefreshToken");
        assert!(document(&value).tokens().unwrap().is_none());

        let mut value = complete();
        value["hubspotAccessToken"] = json!("at");
        value["hubspotAccessTokenExpiresAt"] = json!("tomorrow");
        let tokens = document(&value).tokens().unwrap().unwrap();
        assert!(tokens.access_token_expires_at.is_none());
    }

    #[test]
    fn a_grant_stored_by_someone_else_is_detected() {
        let doc = document(&complete());
        let loaded = doc.tokens().unwrap().unwrap();
        assert!(!doc.grant_replaced_since(&loaded));
        let rotated = StoredTokens {
            refresh_token: SecretString::from("rt-rotated"),
            ..loaded.clone()
        };
        assert!(!doc.grant_replaced_since(&rotated));

        let mut value = complete();
        value["hubspotRefreshToken"] = json!("rt-from-reinstall");
        assert!(document(&value).grant_replaced_since(&rotated));
    }
}
