//! Request bodies of the served operations, checked as strictly as the OpenAPI document states them.
//!
//! Every body in the spec is `additionalProperties: false`, declares its required fields, and bounds
//! ids (28..36), names and tag values. Botpress rejects a body that breaks any of that with 400
//! `InvalidPayload`; so does the simulator, naming the field, so a bridge bug shows up in its tests
//! rather than in production.

use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::{errors::ApiError, ids::is_valid_length, model::Tags};

/// A field that may be left out but, when present, must have its declared type: the spec does not
/// mark these `nullable`, so `"name": null` is rejected, as a validating server would.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A field the spec marks `nullable`: left out (`None`), `null` (`Some(None)`: cleared), or a
/// value of its declared type.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `updateUserBody`: every field optional, `name` and `pictureUrl` nullable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateUserBody {
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Tags>,
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub picture_url: Option<Option<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetOrCreateUserBody {
    pub tags: Tags,
    /// Deprecated by Botpress but still part of the schema, so accepted and ignored.
    #[serde(default, deserialize_with = "present")]
    #[allow(dead_code)]
    pub integration_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub picture_url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub discriminate_by_tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetOrCreateConversationBody {
    pub channel: String,
    pub tags: Tags,
    /// Deprecated by Botpress but still part of the schema, so accepted and ignored.
    #[serde(default, deserialize_with = "present")]
    #[allow(dead_code)]
    pub integration_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub discriminate_by_tags: Option<Vec<String>>,
}

/// `schedule` of createMessage, getOrCreateMessage and createEvent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Schedule {
    #[serde(default, deserialize_with = "present")]
    pub date_time: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub delay: Option<f64>,
}

/// The only `origin` the spec allows.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Synthetic,
}

/// Body of createMessage; getOrCreateMessage adds `discriminateByTags`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateMessageBody {
    pub payload: Map<String, Value>,
    pub user_id: String,
    pub conversation_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub tags: Tags,
    #[serde(default, deserialize_with = "present")]
    pub schedule: Option<Schedule>,
    #[serde(default, deserialize_with = "present")]
    pub origin: Option<Origin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetOrCreateMessageBody {
    pub payload: Map<String, Value>,
    pub user_id: String,
    pub conversation_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub tags: Tags,
    #[serde(default, deserialize_with = "present")]
    pub schedule: Option<Schedule>,
    #[serde(default, deserialize_with = "present")]
    pub origin: Option<Origin>,
    #[serde(default, deserialize_with = "present")]
    pub discriminate_by_tags: Option<Vec<String>>,
}

impl GetOrCreateMessageBody {
    /// The createMessage part of the body, and the discriminating tags.
    pub fn split(self) -> (CreateMessageBody, Option<Vec<String>>) {
        let message = CreateMessageBody {
            payload: self.payload,
            user_id: self.user_id,
            conversation_id: self.conversation_id,
            kind: self.kind,
            tags: self.tags,
            schedule: self.schedule,
            origin: self.origin,
        };
        (message, self.discriminate_by_tags)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEventBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Map<String, Value>,
    #[serde(default, deserialize_with = "present")]
    pub schedule: Option<Schedule>,
    #[serde(default, deserialize_with = "present")]
    pub conversation_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub workflow_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub message_id: Option<String>,
}

/// Parses a JSON body into `T`, answering 400 `InvalidPayload` with serde's reason (which names an
/// unknown or missing field) when it does not fit.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid_payload(
            "Request body is required and must be a JSON object",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid_payload(format!("Invalid request body: {error}")))
}

/// `field` must be an id of 28 to 36 characters.
pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    if is_valid_length(value) {
        Ok(())
    } else {
        Err(ApiError::invalid_payload(format!(
            "{field} must be 28 to 36 characters long, got {} ({value:?})",
            value.chars().count()
        )))
    }
}

/// An optional id field, checked when present.
pub fn check_optional_id(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    value.map_or(Ok(()), |value| check_id(field, value))
}

/// `field` must be at most `max` characters.
pub fn check_max_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let length = value.chars().count();
    if length <= max {
        Ok(())
    } else {
        Err(ApiError::invalid_payload(format!(
            "{field} must be at most {max} characters long, got {length}"
        )))
    }
}

/// Tag values are limited to 500 characters.
pub fn check_tags(field: &str, tags: &Tags) -> Result<(), ApiError> {
    tags.iter()
        .try_for_each(|(key, value)| check_max_len(&format!("{field}.{key}"), value, 500))
}

/// `dateTime` is 24 to 28 characters (ISO 8601); one of `dateTime` or `delay` must be given.
pub fn check_schedule(schedule: Option<&Schedule>) -> Result<(), ApiError> {
    let Some(schedule) = schedule else {
        return Ok(());
    };
    match (&schedule.date_time, schedule.delay) {
        (None, None) => Err(ApiError::invalid_payload(
            "schedule must have either dateTime or delay",
        )),
        (Some(date_time), _) if !(24..=28).contains(&date_time.chars().count()) => Err(
            ApiError::invalid_payload("schedule.dateTime must be 24 to 28 characters (ISO 8601)"),
        ),
        _ => Ok(()),
    }
}

/// The payload of a message (every conversation the simulator holds is on the integration's
/// `hitl` channel) against that channel's declared schema:
/// `@botpress/sdk`'s `messages.defaults` of that type plus an optional `userId`
/// (`infra/botpress-integration/interfaces/hitl.ts`). Those schemas are zod objects, which
/// become `additionalProperties: false`: a field the type does not declare (a `title` on an
/// image) is refused, as are a missing or empty required one. Other types are not checked.
pub fn check_channel_payload(kind: &str, payload: &Map<String, Value>) -> Result<(), ApiError> {
    let (required, optional): (&str, &[&str]) = match kind {
        "text" => ("text", &[]),
        "image" => ("imageUrl", &[]),
        "audio" => ("audioUrl", &[]),
        "video" => ("videoUrl", &[]),
        "file" => ("fileUrl", &["title"]),
        _ => return Ok(()),
    };
    if payload
        .get(required)
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::invalid_payload(format!(
            "payload.{required} is required for a {kind} message (a non-empty string)"
        )));
    }
    for field in payload.keys() {
        if field != required && field != "userId" && !optional.contains(&field.as_str()) {
            return Err(ApiError::invalid_payload(format!(
                "payload.{field} is not allowed in a {kind} message"
            )));
        }
    }
    for field in optional {
        if payload
            .get(*field)
            .is_some_and(|value| value.as_str().is_none_or(str::is_empty))
        {
            return Err(ApiError::invalid_payload(format!(
                "payload.{field} must be a non-empty string"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let error = parse::<GetOrCreateUserBody>(br#"{"tags":{},"email":"a@b.c"}"#)
            .expect_err("email is not in the schema");
        assert_eq!(error.kind, "InvalidPayload");
        assert!(error.message.contains("email"), "{}", error.message);
    }

    #[test]
    fn missing_required_fields_are_rejected_by_name() {
        let error =
            parse::<CreateMessageBody>(br#"{"payload":{},"userId":"x","type":"text","tags":{}}"#)
                .expect_err("conversationId is required");
        assert!(
            error.message.contains("conversationId"),
            "{}",
            error.message
        );
    }

    #[test]
    fn null_is_not_a_valid_optional_string() {
        assert!(parse::<GetOrCreateUserBody>(br#"{"tags":{},"name":null}"#).is_err());
        assert!(parse::<GetOrCreateUserBody>(br#"{"tags":{},"name":"Ann"}"#).is_ok());
    }

    #[test]
    fn payload_must_be_an_object_and_origin_synthetic() {
        let body = r#"{"payload":"hi","userId":"u","conversationId":"c","type":"text","tags":{}}"#;
        assert!(parse::<CreateMessageBody>(body.as_bytes()).is_err());
        let body = r#"{"payload":{},"userId":"u","conversationId":"c","type":"text","tags":{},"origin":"human"}"#;
        assert!(parse::<CreateMessageBody>(body.as_bytes()).is_err());
    }

    #[test]
    fn channel_payloads_are_checked_against_the_sdk_defaults() {
        let payload = |value: Value| value.as_object().unwrap().clone();
        assert!(
            check_channel_payload("image", &payload(json!({"imageUrl": "https://x/a.png"})))
                .is_ok()
        );
        assert!(
            check_channel_payload(
                "file",
                &payload(json!({"fileUrl": "https://x/a", "title": "a.pdf", "userId": "u"}))
            )
            .is_ok()
        );
        let refused = check_channel_payload(
            "image",
            &payload(json!({"imageUrl": "https://x/a.png", "title": "a.png"})),
        );
        assert!(refused.unwrap_err().message.contains("payload.title"));
        assert!(check_channel_payload("text", &payload(json!({"text": ""}))).is_err());
        assert!(check_channel_payload("card", &payload(json!({"anything": 1}))).is_ok());
    }

    #[test]
    fn ids_and_lengths_are_checked() {
        assert!(check_id("userId", "short").is_err());
        assert!(check_id("userId", &"u".repeat(30)).is_ok());
        assert!(check_max_len("name", &"n".repeat(201), 200).is_err());
        let long_tag: Tags = [("k".to_string(), "v".repeat(501))].into_iter().collect();
        assert!(check_tags("tags", &long_tag).is_err());
    }
}
