//! The event log: every call crossing the bridge, from the recorders of the two simulators
//! (the bridge calling HubSpot and Botpress), of Botpress's caller (Botpress Cloud calling the
//! bridge) and the simulated HubSpot's webhook deliveries (HubSpot calling the bridge).

use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, Utc};
use hitl_sandbox::RecordedCall;
use hitl_sandbox::hubspot::Delivery;
use serde_json::Value;

use super::Web;
use super::html::escape;

/// How many entries the panel shows.
const SHOWN: usize = 150;

/// Who called whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    BotpressToBridge,
    BridgeToHubSpot,
    HubSpotToBridge,
    BridgeToBotpress,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Self::BotpressToBridge => "Botpress → bridge",
            Self::BridgeToHubSpot => "bridge → HubSpot",
            Self::HubSpotToBridge => "HubSpot → bridge",
            Self::BridgeToBotpress => "bridge → Botpress",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::BotpressToBridge | Self::BridgeToBotpress => "bp",
            Self::BridgeToHubSpot | Self::HubSpotToBridge => "hs",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub direction: Direction,
    /// What was asked, in the service's own words (`startHitl`, `publish message`, ...).
    pub operation: String,
    /// The request line, for the curious.
    pub detail: String,
    /// 0: no answer.
    pub status: u16,
}

/// Every entry, newest first.
pub fn entries(web: &Web) -> Vec<Entry> {
    let inner = &web.inner;
    let mut all: Vec<(Entry, usize)> = Vec::new();
    let mut push = |entry: Entry| {
        let order = all.len();
        all.push((entry, order));
    };
    for call in inner.caller.recorder().calls() {
        push(from_botpress_cloud(&call));
    }
    for call in inner.hubspot.recorder().calls() {
        push(simulator_call(Direction::BridgeToHubSpot, &call));
    }
    for delivery in inner.hubspot.deliveries() {
        push(from_hubspot(&delivery));
    }
    for call in inner.botpress.recorder().calls() {
        push(simulator_call(Direction::BridgeToBotpress, &call));
    }
    all.sort_by(|(a, a_order), (b, b_order)| b.at.cmp(&a.at).then_with(|| b_order.cmp(a_order)));
    all.into_iter().map(|(entry, _)| entry).collect()
}

fn from_botpress_cloud(call: &RecordedCall) -> Entry {
    let operation = call.header("x-bp-operation").unwrap_or("?").to_string();
    let operation = match operation.as_str() {
        "action_triggered" => call.json()["type"]
            .as_str()
            .map(|action| format!("action {action}"))
            .unwrap_or(operation),
        "message_created" => "message_created (hitl)".to_string(),
        _ => operation,
    };
    Entry {
        at: call.at,
        direction: Direction::BotpressToBridge,
        operation,
        detail: format!("{} {}", call.method, call.path),
        status: call.status,
    }
}

fn simulator_call(direction: Direction, call: &RecordedCall) -> Entry {
    Entry {
        at: call.at,
        direction,
        operation: name_of(call),
        detail: format!("{} {}", call.method, call.path),
        status: call.status,
    }
}

/// A readable name for a request the bridge made.
fn name_of(call: &RecordedCall) -> String {
    let path = call.path.as_str();
    let method = call.method.as_str();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let named = match (method, segments.as_slice()) {
        ("POST", ["oauth", _, "token"]) => "token",
        ("POST", [.., "contacts", "search"]) => "search contact",
        ("GET", ["crm", "v3", "objects", "contacts", _]) => "get contact",
        ("POST", [.., "custom-channels"]) => "create channel",
        ("GET", [.., "custom-channels"]) => "list channels",
        ("PATCH", [.., "custom-channels", _]) => "update channel",
        ("POST", [.., "channel-accounts"]) => "create channel account",
        ("GET", [.., "channel-accounts"]) => "list channel accounts",
        ("POST", [.., "custom-channels", _, "messages"]) => "publish message",
        ("PATCH", [.., "messages", _]) => "update message status",
        ("GET", [.., "inboxes"]) => "list inboxes",
        ("PATCH", [.., "threads", _]) => "update thread",
        ("GET", [.., "threads", _]) => "get thread",
        (_, [.., "actors", "batch", "read"]) => "read actors",
        ("GET", [.., "actors", _]) => "get actor",
        ("POST", ["v1", "chat", "users", "get-or-create"]) => "getOrCreateUser",
        ("GET", ["v1", "chat", "users", _]) => "getUser",
        ("POST", ["v1", "chat", "conversations", "get-or-create"]) => "getOrCreateConversation",
        ("GET", ["v1", "chat", "conversations", _]) => "getConversation",
        ("POST", ["v1", "chat", "messages", "get-or-create"]) => "getOrCreateMessage",
        ("POST", ["v1", "chat", "messages"]) => "createMessage",
        ("POST", ["v1", "chat", "events"]) => {
            return match call.json()["type"].as_str() {
                Some(kind) => format!("createEvent {kind}"),
                None => "createEvent".to_string(),
            };
        }
        _ => "",
    };
    if named.is_empty() {
        format!("{method} {path}")
    } else {
        named.to_string()
    }
}

fn from_hubspot(delivery: &Delivery) -> Entry {
    let body: Value = serde_json::from_str(&delivery.body).unwrap_or(Value::Null);
    let operation = match &body {
        Value::Array(events) => events
            .iter()
            .map(|event| {
                let name = event["propertyName"].as_str().unwrap_or("?");
                let value = event["propertyValue"].as_str().unwrap_or("");
                let value = if value.is_empty() { "(none)" } else { value };
                format!("propertyChange {name}={value}")
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(event) => event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("webhook")
            .to_string(),
        _ => "webhook".to_string(),
    };
    let path = reqwest_path(&delivery.url);
    Entry {
        at: delivery.sent_at,
        direction: Direction::HubSpotToBridge,
        operation,
        detail: format!("POST {path}"),
        status: delivery.status,
    }
}

fn reqwest_path(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|slash| rest[slash..].to_string()))
        .unwrap_or_else(|| url.to_string())
}

/// The log as a table (newest first), or a line saying nothing has happened yet.
pub fn render(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return r#"<p class="empty">No call has crossed the bridge yet.</p>"#.to_string();
    }
    let mut out = String::from(
        r#"<table class="log-table"><thead><tr><th>time</th><th>call</th><th>status</th></tr></thead><tbody>"#,
    );
    for entry in entries.iter().take(SHOWN) {
        let (status_class, status_text) = match entry.status {
            0 => ("none", "no answer".to_string()),
            200..=299 => ("ok", entry.status.to_string()),
            300..=399 => ("ok", entry.status.to_string()),
            _ => ("bad", entry.status.to_string()),
        };
        out.push_str(&format!(
            r#"<tr class="dir-{dir_class}"><td class="time" title="{precise}">{time}</td><td class="call" title="{detail}"><span class="dir">{dir}</span> <span class="op">{op}</span></td><td><span class="status {status_class}">{status_text}</span></td></tr>"#,
            dir_class = entry.direction.class(),
            dir = escape(entry.direction.label()),
            time = entry.at.format("%H:%M:%S"),
            precise = entry.at.format("%H:%M:%S%.3f UTC"),
            detail = escape(&entry.detail),
            op = escape(&entry.operation),
        ));
    }
    out.push_str("</tbody></table>");
    if entries.len() > SHOWN {
        out.push_str(&format!(
            r#"<p class="hint">and {} older calls</p>"#,
            entries.len() - SHOWN
        ));
    }
    out
}

pub fn current(web: &Web) -> String {
    render(&entries(web))
}

pub async fn fragment(State(web): State<Web>) -> Html<String> {
    Html(current(&web))
}
