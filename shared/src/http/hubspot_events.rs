//! Reading what HubSpot posts to the webhook URL (see `specs/hubspot/WEBHOOKS.md`): an array is
//! an app-webhook batch, an object with `type` is a custom-channel event. Unknown event types
//! are acknowledged and ignored; known ones missing what they need are refused.

use serde::Deserialize;
use serde_json::Value;

use crate::relay::{AgentReply, HelpDeskEvent, ThreadChange};

/// A delivery, read.
#[derive(Debug, Default)]
pub struct Delivery {
    pub events: Vec<HelpDeskEvent>,
    /// Events the bridge does not act on (other subscriptions, other custom-channel events).
    pub ignored: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppEvent {
    event_id: Value,
    subscription_type: String,
    #[serde(default)]
    object_id: Value,
    #[serde(default)]
    property_name: Option<String>,
    #[serde(default)]
    property_value: Option<Value>,
    #[serde(default)]
    occurred_at: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<ChannelMessage>,
    #[serde(default)]
    event_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelMessage {
    id: Value,
    channel_id: Value,
    conversations_thread_id: Value,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    senders: Vec<Sender>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sender {
    #[serde(default)]
    actor_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Reads a delivery's body, or says what is wrong with it.
pub fn read_delivery(body: &[u8]) -> Result<Delivery, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))?;
    match json {
        Value::Array(items) => read_app_events(items),
        Value::Object(_) if json.get("type").is_some() => read_channel_event(json),
        _ => Err(
            "expected an array of app-webhook events or a custom-channel event object with `type`"
                .to_string(),
        ),
    }
}

fn read_app_events(items: Vec<Value>) -> Result<Delivery, String> {
    let mut delivery = Delivery::default();
    for (index, item) in items.into_iter().enumerate() {
        let event: AppEvent = serde_json::from_value(item)
            .map_err(|error| format!("event {index} is not an app-webhook event: {error}"))?;
        let event_id =
            id_text(&event.event_id).ok_or_else(|| format!("event {index} has no eventId"))?;
        if event.subscription_type != "conversation.propertyChange" {
            delivery.ignored += 1;
            continue;
        }
        let thread_id = id_text(&event.object_id)
            .ok_or_else(|| format!("event {index} ({event_id}) has no objectId (the thread id)"))?;
        let value = event.property_value.as_ref().and_then(id_text);
        let change = match event.property_name.as_deref() {
            Some("assignedTo") => ThreadChange::Assigned(value),
            Some("status") => ThreadChange::Status(value.unwrap_or_default().to_ascii_uppercase()),
            _ => {
                delivery.ignored += 1;
                continue;
            }
        };
        delivery.events.push(HelpDeskEvent::ThreadChanged {
            event_id,
            thread_id,
            change,
            occurred_at_ms: event.occurred_at.unwrap_or_default(),
        });
    }
    Ok(delivery)
}

fn read_channel_event(json: Value) -> Result<Delivery, String> {
    let event: ChannelEvent = serde_json::from_value(json)
        .map_err(|error| format!("not a custom-channel event: {error}"))?;
    if event.kind != "OUTGOING_CHANNEL_MESSAGE_CREATED" {
        return Ok(Delivery {
            events: Vec::new(),
            ignored: 1,
        });
    }
    let message = event
        .message
        .ok_or("OUTGOING_CHANNEL_MESSAGE_CREATED without `message`")?;
    if message
        .direction
        .as_deref()
        .is_some_and(|d| d != "OUTGOING")
    {
        return Ok(Delivery {
            events: Vec::new(),
            ignored: 1,
        });
    }
    let field = |value: &Value, name: &str| {
        id_text(value)
            .ok_or_else(|| format!("OUTGOING_CHANNEL_MESSAGE_CREATED without message.{name}"))
    };
    let sender = message.senders.first();
    let actor_id = sender
        .and_then(|sender| sender.actor_id.clone())
        .or(message.created_by)
        .ok_or("OUTGOING_CHANNEL_MESSAGE_CREATED without an agent (message.senders[0].actorId)")?;
    let text = message
        .text
        .filter(|text| !text.trim().is_empty())
        .ok_or("OUTGOING_CHANNEL_MESSAGE_CREATED without message.text")?;
    Ok(Delivery {
        events: vec![HelpDeskEvent::AgentReply(AgentReply {
            message_id: field(&message.id, "id")?,
            channel_id: field(&message.channel_id, "channelId")?,
            thread_id: field(&message.conversations_thread_id, "conversationsThreadId")?,
            actor_id,
            agent_name: sender.and_then(|sender| sender.name.clone()),
            text,
            occurred_at_ms: message
                .created_at
                .as_deref()
                .or(event.event_timestamp.as_deref())
                .and_then(epoch_ms)
                .unwrap_or_default(),
        })],
        ignored: 0,
    })
}

/// An RFC 3339 time as milliseconds since the epoch.
fn epoch_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
}

/// HubSpot sends ids as numbers in some payloads and strings in others.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_webhook_batches_become_thread_changes() {
        let body = br#"[
            {"eventId":1,"subscriptionType":"conversation.propertyChange","objectId":3624100517,"propertyName":"assignedTo","propertyValue":"A-12345"},
            {"eventId":2,"subscriptionType":"conversation.propertyChange","objectId":"3624100517","propertyName":"status","propertyValue":"CLOSED"},
            {"eventId":3,"subscriptionType":"conversation.propertyChange","objectId":3624100517,"propertyName":"assignedTo","propertyValue":""},
            {"eventId":4,"subscriptionType":"conversation.newMessage","objectId":3624100517,"messageId":"m"}
        ]"#;
        let delivery = read_delivery(body).unwrap();
        assert_eq!(delivery.events.len(), 3);
        assert_eq!(delivery.ignored, 1);
        assert!(matches!(
            &delivery.events[0],
            HelpDeskEvent::ThreadChanged { event_id, thread_id, change: ThreadChange::Assigned(Some(actor)), .. }
                if event_id == "1" && thread_id == "3624100517" && actor == "A-12345"
        ));
        assert!(
            matches!(&delivery.events[1], HelpDeskEvent::ThreadChanged { change: ThreadChange::Status(s), .. } if s == "CLOSED")
        );
        assert!(matches!(
            &delivery.events[2],
            HelpDeskEvent::ThreadChanged {
                change: ThreadChange::Assigned(None),
                ..
            }
        ));
    }

    #[test]
    fn an_agent_reply_is_read_from_the_channel_event() {
        let body = br#"{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED","channelId":"1234","message":{
            "id":"m1","channelId":"1234","conversationsThreadId":"9012","direction":"OUTGOING",
            "senders":[{"actorId":"A-12345","name":"Ada Agent"}],"text":"Hello"}}"#;
        let delivery = read_delivery(body).unwrap();
        let [HelpDeskEvent::AgentReply(reply)] = delivery.events.as_slice() else {
            panic!("expected one reply: {delivery:?}");
        };
        assert_eq!(
            (
                reply.thread_id.as_str(),
                reply.actor_id.as_str(),
                reply.text.as_str()
            ),
            ("9012", "A-12345", "Hello")
        );
        assert_eq!(reply.agent_name.as_deref(), Some("Ada Agent"));
    }

    #[test]
    fn other_channel_events_are_ignored_and_broken_ones_refused() {
        assert_eq!(
            read_delivery(br#"{"type":"CHANNEL_ACCOUNT_UPDATED"}"#)
                .unwrap()
                .ignored,
            1
        );
        assert!(read_delivery(b"not json").unwrap_err().contains("not JSON"));
        assert!(read_delivery(br#"{"no":"type"}"#).is_err());
        assert!(read_delivery(br#"[{"eventId":1}]"#).is_err());
        let no_text = br#"{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED","message":{"id":"m","channelId":"1","conversationsThreadId":"2","senders":[{"actorId":"A-1"}]}}"#;
        assert!(read_delivery(no_text).unwrap_err().contains("message.text"));
    }
}
