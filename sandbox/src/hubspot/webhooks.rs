//! Webhooks the simulated HubSpot sends to the bridge, signed and delivered as HubSpot does.
//!
//! Two kinds: app webhooks (a JSON array of `conversation.*` events, to the app's webhook URL)
//! and custom-channel events (one JSON object, to the channel's `webhookUrl`). Both carry
//! `X-HubSpot-Signature-v3` over `POST` + the exact URL called + the body + the timestamp.
//! The signing code is written here, not borrowed from the bridge, so a signing bug in the bridge
//! cannot cancel itself out.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::model::iso;
use super::state::{AppState, Shared, Store};
use super::{Delivery, SimError};

/// The subscription id every `conversation.propertyChange` event carries (one subscription).
const PROPERTY_CHANGE_SUBSCRIPTION_ID: u64 = 1_870_311;

/// HubSpot's v3 request signature: base64 of HMAC-SHA256, keyed with the app's client secret,
/// over `method + uri + body + timestamp` (timestamp in milliseconds, as decimal text).
pub fn sign_v3(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: i64,
) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(client_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// POSTs `body` to `url`, signed with a fresh timestamp, and records the outcome. A delivery
/// that cannot reach the bridge is recorded with status 0 and the error text, then reported.
pub(crate) async fn deliver(
    shared: &Shared,
    url: &str,
    body: String,
) -> Result<Delivery, SimError> {
    let sent_at = Utc::now();
    let timestamp = sent_at.timestamp_millis();
    let signature = sign_v3(
        &shared.config.client_secret,
        "POST",
        url,
        body.as_bytes(),
        timestamp,
    );
    let sent = shared
        .http
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-HubSpot-Signature-v3", signature)
        .header("X-HubSpot-Request-Timestamp", timestamp.to_string())
        .body(body.clone())
        .send()
        .await;
    let (delivery, result) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let response_body = response.text().await.unwrap_or_default();
            (
                Delivery {
                    url: url.to_string(),
                    body,
                    status,
                    response_body,
                    sent_at,
                },
                Ok(()),
            )
        }
        Err(error) => {
            tracing::warn!(url, %error, "simulated HubSpot could not deliver a webhook");
            let response_body = error.to_string();
            (
                Delivery {
                    url: url.to_string(),
                    body,
                    status: 0,
                    response_body,
                    sent_at,
                },
                Err(SimError::Http(error)),
            )
        }
    };
    shared.store().deliveries.push(delivery.clone());
    result.map(|()| delivery)
}

/// Delivers in the background, as HubSpot does after an API call changed something: the API
/// answer must not wait for the bridge's webhook handler (which may itself call the API).
pub(crate) fn deliver_later(shared: AppState, url: String, body: String) {
    tokio::spawn(async move {
        let _ = deliver(&shared, &url, body).await;
    });
}

/// The body of an app webhook: an array with one `conversation.propertyChange` event.
pub(crate) fn property_change(
    shared: &Shared,
    store: &mut Store,
    thread_id: &str,
    property: &str,
    value: &str,
    change_source: &str,
) -> String {
    let object_id = thread_id
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(thread_id));
    json!([{
        "eventId": store.ids.event(),
        "subscriptionId": PROPERTY_CHANGE_SUBSCRIPTION_ID,
        "portalId": shared.config.portal_id,
        "appId": shared.config.app_id,
        "occurredAt": Utc::now().timestamp_millis(),
        "subscriptionType": "conversation.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": property,
        "propertyValue": value,
        "changeSource": change_source,
    }])
    .to_string()
}

/// The body of a custom-channel `OUTGOING_CHANNEL_MESSAGE_CREATED` event for `message`.
pub(crate) fn outgoing_message_created(
    shared: &Shared,
    channel_id: &str,
    integration_thread_id: Option<&str>,
    message: Value,
) -> String {
    json!({
        "type": "OUTGOING_CHANNEL_MESSAGE_CREATED",
        "portalId": shared.config.portal_id.to_string(),
        "channelId": channel_id,
        "eventTimestamp": iso(Utc::now()),
        "eventId": uuid::Uuid::new_v4().to_string(),
        "channelIntegrationThreadIds": integration_thread_id.into_iter().collect::<Vec<_>>(),
        "message": message,
    })
    .to_string()
}

/// The body HubSpot sends when it retries: app-webhook events count the attempt in
/// `attemptNumber`; anything else is sent again unchanged.
pub(crate) fn next_attempt(body: &str) -> String {
    let Ok(Value::Array(mut events)) = serde_json::from_str::<Value>(body) else {
        return body.to_string();
    };
    for event in &mut events {
        if let Some(attempt) = event.get("attemptNumber").and_then(Value::as_u64) {
            event["attemptNumber"] = json!(attempt + 1);
        }
    }
    Value::Array(events).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v3 known-answer vector from `shared/specs/hubspot/signature-test-vectors.json`.
    #[test]
    fn sign_v3_matches_the_known_answer_vector() {
        let body = r#"[{"eventId":3814323381,"subscriptionId":1870311,"portalId":22761544,"appId":1098266,"occurredAt":1670383777358,"subscriptionType":"conversation.newMessage","attemptNumber":0,"objectId":3624100517,"messageId":"e835c5f42631462ea4447601c8e1e394","messageType":"MESSAGE","changeFlag":"NEW_MESSAGE"}]"#;
        let signature = sign_v3(
            "abbababa-beef-aaaa-bbbb-abbaabbaabba",
            "POST",
            "https://abbot-haacked-dev.ngrok.io/hubspot/webhook",
            body.as_bytes(),
            1_670_383_777_720,
        );
        assert_eq!(signature, "qXo1PASfXKd8KLy3T8tuwuZ2nmvAanXW+UjN3w+b4cg=");
    }

    #[test]
    fn a_retry_counts_the_attempt_and_leaves_objects_alone() {
        let retried =
            next_attempt(r#"[{"eventId":1,"attemptNumber":0},{"eventId":2,"attemptNumber":3}]"#);
        let events: Value = serde_json::from_str(&retried).unwrap();
        assert_eq!(events[0]["attemptNumber"], 1);
        assert_eq!(events[1]["attemptNumber"], 4);
        let object = r#"{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED"}"#;
        assert_eq!(next_attempt(object), object);
    }
}
