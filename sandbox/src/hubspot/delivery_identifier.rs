//! `PublicDeliveryIdentifier` (`{type, value}`): how HubSpot names a customer on a channel. It is
//! checked wherever it appears, because a wrong `type` is a bug the real service rejects.

use serde_json::Value;

use super::errors::ApiError;

pub(crate) const TYPES: &[&str] = &[
    "CHANNEL_SPECIFIC_OPAQUE_ID",
    "HS_EMAIL_ADDRESS",
    "HS_PHONE_NUMBER",
    "HS_SHORT_CODE",
];

/// Validates `value` found at `field` (e.g. `senders[0].deliveryIdentifier`) and returns its
/// `(type, value)`.
pub(crate) fn validate(field: &str, value: Option<&Value>) -> Result<(String, String), ApiError> {
    let value = value
        .filter(|value| !value.is_null())
        .ok_or_else(|| ApiError::missing(field))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing(&format!("{field}.type")))?;
    if !TYPES.contains(&kind) {
        return Err(ApiError::field(
            &format!("{field}.type"),
            format!(
                "Invalid input: '{field}.type' is '{kind}'; expected one of {}",
                TYPES.join(", ")
            ),
        ));
    }
    let text = value
        .get("value")
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| ApiError::missing(&format!("{field}.value")))?;
    Ok((kind.to_string(), text.to_string()))
}

/// The key threads are matched by when there is no `integrationThreadId`.
pub(crate) fn key(kind: &str, value: &str) -> String {
    format!("{kind}:{}", value.to_lowercase())
}
