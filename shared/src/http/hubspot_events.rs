//! Reading what HubSpot posts to the webhook URL (see `specs/hubspot/WEBHOOKS.md`): an array is
//! an app-webhook batch, an object with `type` is a custom-channel event. Unknown event types
//! are acknowledged and ignored; known ones missing what they need are refused: the whole
//! delivery when nothing in it can be relayed, else just those events, so one broken event
//! does not hold back the rest of a batch on every retry until HubSpot gives up on it.

use serde::Deserialize;
use serde_json::Value;

use crate::adapters::hubspot_message::{id_text, read_agent_message};
use crate::relay::{HelpDeskEvent, THREAD_DELETED, ThreadChange};

/// A delivery, read.
#[derive(Debug, Default)]
pub struct Delivery {
    pub events: Vec<HelpDeskEvent>,
    /// Events the bridge does not act on (other subscriptions, other custom-channel events).
    pub ignored: usize,
    /// What is wrong with each event of a batch that could not be read (the rest are relayed).
    pub refused: Vec<String>,
    /// The HubSpot account (`portalId`) each event names, index for index with `events`.
    portals: Vec<Option<u64>>,
}

impl Delivery {
    fn push(&mut self, portal: Option<u64>, event: HelpDeskEvent) {
        self.portals.push(portal);
        self.events.push(event);
    }

    fn ignoring_one() -> Self {
        Self {
            ignored: 1,
            ..Self::default()
        }
    }

    /// Whether any event names a portal (so the caller needs to know its own).
    pub fn names_a_portal(&self) -> bool {
        self.portals.iter().any(Option::is_some)
    }

    /// Drops the events about another HubSpot account than `ours` and counts them as
    /// ignored; returns how many. A public app installed in several accounts gets all their
    /// webhooks signed with the same secret, and thread ids are only unique per account, so an
    /// event of another account could otherwise be taken for one of ours. Events that name no
    /// portal are kept.
    pub fn drop_other_portals(&mut self, ours: u64) -> usize {
        let before = self.events.len();
        let events = std::mem::take(&mut self.events);
        let portals = std::mem::take(&mut self.portals);
        for (portal, event) in portals.into_iter().zip(events) {
            if portal.is_none_or(|portal| portal == ours) {
                self.push(portal, event);
            }
        }
        let dropped = before - self.events.len();
        self.ignored += dropped;
        dropped
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppEvent {
    event_id: Value,
    #[serde(default)]
    portal_id: Value,
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
    portal_id: Value,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    event_timestamp: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::null_as_default")]
    channel_integration_thread_ids: Vec<String>,
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
        match read_app_event(index, item) {
            Ok(Some((portal, event))) => delivery.push(portal, event),
            Ok(None) => delivery.ignored += 1,
            Err(problem) => delivery.refused.push(problem),
        }
    }
    if delivery.events.is_empty() && !delivery.refused.is_empty() {
        return Err(delivery.refused.join("; "));
    }
    Ok(delivery)
}

/// One event of a batch: a thread change to relay, `None` for one the bridge does not act on,
/// or what is wrong with it.
fn read_app_event(
    index: usize,
    item: Value,
) -> Result<Option<(Option<u64>, HelpDeskEvent)>, String> {
    let event: AppEvent = serde_json::from_value(item)
        .map_err(|error| format!("event {index} is not an app-webhook event: {error}"))?;
    let event_id =
        id_text(&event.event_id).ok_or_else(|| format!("event {index} has no eventId"))?;
    let deleted = match event.subscription_type.as_str() {
        "conversation.propertyChange" => false,
        // The thread was moved to the trash (when the app subscribes to it): the conversation
        // is over as surely as when it is closed.
        "conversation.deletion" => true,
        _ => return Ok(None),
    };
    let thread_id = id_text(&event.object_id)
        .ok_or_else(|| format!("event {index} ({event_id}) has no objectId (the thread id)"))?;
    let value = event.property_value.as_ref().and_then(id_text);
    let change = match event.property_name.as_deref() {
        _ if deleted => ThreadChange::Status(THREAD_DELETED.to_string()),
        Some("assignedTo") => ThreadChange::Assigned(value),
        Some("status") => ThreadChange::Status(value.unwrap_or_default().to_ascii_uppercase()),
        _ => return Ok(None),
    };
    Ok(Some((
        portal_number(&event.portal_id),
        HelpDeskEvent::ThreadChanged {
            event_id,
            thread_id,
            change,
            occurred_at_ms: event.occurred_at.unwrap_or_default(),
        },
    )))
}

fn read_channel_event(json: Value) -> Result<Delivery, String> {
    let event: ChannelEvent = serde_json::from_value(json)
        .map_err(|error| format!("not a custom-channel event: {error}"))?;
    if event.kind != "OUTGOING_CHANNEL_MESSAGE_CREATED" {
        return Ok(Delivery::ignoring_one());
    }
    let message = event
        .message
        .ok_or("OUTGOING_CHANNEL_MESSAGE_CREATED without `message`")?;
    if message
        .get("direction")
        .and_then(Value::as_str)
        .is_some_and(|d| d != "OUTGOING")
    {
        return Ok(Delivery::ignoring_one());
    }
    let mut reply = read_agent_message(message, event.event_timestamp.as_deref())
        .map_err(|problem| format!("OUTGOING_CHANNEL_MESSAGE_CREATED: {problem}"))?;
    reply.integration_thread_id = event.channel_integration_thread_ids.into_iter().next();
    let mut delivery = Delivery::default();
    delivery.push(
        portal_number(&event.portal_id),
        HelpDeskEvent::AgentReply(reply),
    );
    Ok(delivery)
}

/// `portalId`: a number in app webhooks, a string in custom-channel events.
fn portal_number(value: &Value) -> Option<u64> {
    id_text(value).and_then(|text| text.parse().ok())
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
    fn a_broken_event_is_refused_alone_unless_nothing_else_can_be_relayed() {
        let mixed = br#"[
            {"eventId":1,"subscriptionType":"conversation.propertyChange","objectId":7,"propertyName":"status","propertyValue":"CLOSED"},
            {"eventId":2,"subscriptionType":"conversation.propertyChange","propertyName":"status","propertyValue":"CLOSED"},
            {"subscriptionType":"conversation.propertyChange","objectId":7}
        ]"#;
        let delivery = read_delivery(mixed).unwrap();
        assert_eq!(delivery.events.len(), 1);
        assert_eq!(
            delivery.refused,
            [
                "event 1 (2) has no objectId (the thread id)",
                "event 2 is not an app-webhook event: missing field `eventId`"
            ]
        );

        let only_broken = br#"[
            {"eventId":2,"subscriptionType":"conversation.propertyChange","propertyName":"status"},
            {"eventId":3,"subscriptionType":"conversation.creation","objectId":7}
        ]"#;
        let refused = read_delivery(only_broken).unwrap_err();
        assert_eq!(refused, "event 0 (2) has no objectId (the thread id)");
    }

    #[test]
    fn events_of_another_portal_are_dropped_and_counted_as_ignored() {
        let body = br#"[
            {"eventId":1,"portalId":22761544,"subscriptionType":"conversation.propertyChange","objectId":7,"propertyName":"status","propertyValue":"CLOSED"},
            {"eventId":2,"portalId":99,"subscriptionType":"conversation.propertyChange","objectId":7,"propertyName":"status","propertyValue":"CLOSED"},
            {"eventId":3,"subscriptionType":"conversation.propertyChange","objectId":7,"propertyName":"status","propertyValue":"CLOSED"}
        ]"#;
        let mut delivery = read_delivery(body).unwrap();
        assert!(delivery.names_a_portal());
        assert_eq!(delivery.drop_other_portals(22761544), 1);
        let kept: Vec<_> = delivery
            .events
            .iter()
            .map(|event| match event {
                HelpDeskEvent::ThreadChanged { event_id, .. } => event_id.as_str(),
                HelpDeskEvent::AgentReply(_) => "reply",
            })
            .collect();
        assert_eq!(kept, ["1", "3"]);
        assert_eq!(delivery.ignored, 1);

        let channel_event =
            br#"{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED","portalId":"243842089","message":{
            "id":"m1","channelId":"1234","conversationsThreadId":"9012","direction":"OUTGOING",
            "senders":[{"actorId":"A-12345"}],"text":"Hello"}}"#;
        let mut delivery = read_delivery(channel_event).unwrap();
        assert_eq!(delivery.drop_other_portals(243842089), 0);
        assert_eq!(delivery.drop_other_portals(1), 1);
        assert!(delivery.events.is_empty());
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
        assert_eq!(reply.created_at_ms, 0);
    }

    /// A list HubSpot sends as `null` reads as an empty one, not as a reply refused at every
    /// retry.
    #[test]
    fn null_lists_in_an_agent_reply_read_as_empty() {
        let body =
            br#"{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED","channelIntegrationThreadIds":null,
            "message":{"id":"m1","channelId":"1234","conversationsThreadId":"9012",
            "senders":[{"actorId":"A-12345","name":null}],"attachments":null,"text":"Hello"}}"#;
        let delivery = read_delivery(body).unwrap();
        let [HelpDeskEvent::AgentReply(reply)] = delivery.events.as_slice() else {
            panic!("expected one reply: {delivery:?}");
        };
        assert_eq!(reply.text, "Hello");
        assert!(reply.attachments.is_empty());
        assert_eq!(reply.integration_thread_id, None);
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
        let no_thread = br#"{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED","message":{"id":"m","channelId":"1","senders":[{"actorId":"A-1"}]}}"#;
        assert!(
            read_delivery(no_thread)
                .unwrap_err()
                .contains("conversationsThreadId")
        );
    }
}
