//! `startHitl`'s `messageHistory`, posted into the new thread right after the opening message
//! so the agent reads what the customer and the bot said before the handoff.
//!
//! Each entry becomes one line, `Customer: …` or `Bot: …`; entries without text (images,
//! cards, locations, unknown types) become a readable placeholder with their title and URL,
//! never nothing. Lines are packed into parts of at most [`MAX_TEXT_CHARS`] characters, each
//! published with an id derived from the session and the part's number, so a retried
//! `startHitl` republishes nothing and the parts stay in order.

use serde_json::Value;

use super::{Relay, RelayError};
use crate::model::channel_limits::{MAX_TEXT_CHARS, split_text};
use crate::model::{Customer, HandoffSession};
use crate::ports::IncomingMessage;

/// Room left in each part for its heading.
const HEADING_ROOM: usize = 120;

impl Relay {
    /// Publishes the transcript parts in order. Safe to repeat: HubSpot keeps the first
    /// message per idempotency id.
    pub(super) async fn publish_transcript(
        &self,
        session: &HandoffSession,
        customer: &Customer,
        history: &[Value],
    ) -> Result<(), RelayError> {
        let parts = transcript_parts(history);
        self.publish_numbered(session, customer, "transcript", 1, parts)
            .await
    }

    /// Publishes `texts` into the session's thread in order, the one numbered `n` (counting
    /// from `first`) under the id `{opening message id}:{kind}:{n}`: ids that depend only on
    /// the session and the part, so a retried `startHitl` republishes nothing and every part
    /// keeps its place.
    pub(super) async fn publish_numbered(
        &self,
        session: &HandoffSession,
        customer: &Customer,
        kind: &str,
        first: usize,
        texts: Vec<String>,
    ) -> Result<(), RelayError> {
        let opening_id = session.opening_message_idempotency_id();
        for (number, text) in (first..).zip(texts) {
            self.hubspot
                .publish_incoming(&IncomingMessage {
                    channel_id: session.channel_id.clone(),
                    channel_account_id: session.channel_account_id.clone(),
                    integration_thread_id: session.integration_thread_id.clone(),
                    idempotency_id: format!("{opening_id}:{kind}:{number}"),
                    text,
                    sender_name: customer.name.clone(),
                    sender: customer.identifier.clone(),
                    attachments: Vec::new(),
                    sent_at: self.clock.now(),
                })
                .await?;
        }
        Ok(())
    }
}

/// The transcript as the texts of the messages to publish; none for an empty history.
pub(super) fn transcript_parts(history: &[Value]) -> Vec<String> {
    if history.is_empty() {
        return Vec::new();
    }
    let lines: Vec<String> = history.iter().map(entry_line).collect();
    let bodies = pack(&lines, MAX_TEXT_CHARS - HEADING_ROOM);
    let count = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| {
            let heading = if count == 1 {
                format!(
                    "Conversation before the handoff ({} messages):",
                    history.len()
                )
            } else {
                format!(
                    "Conversation before the handoff ({} messages), part {} of {count}:",
                    history.len(),
                    index + 1
                )
            };
            format!("{heading}\n{body}")
        })
        .collect()
}

/// Packs lines into bodies of at most `limit` characters, splitting a longer line.
fn pack(lines: &[String], limit: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for line in lines {
        for piece in split_text(line, limit) {
            let piece_chars = piece.chars().count();
            let needed = if current.is_empty() {
                piece_chars
            } else {
                piece_chars + 1
            };
            if current_chars + needed > limit {
                bodies.push(std::mem::take(&mut current));
                current_chars = 0;
            }
            if !current.is_empty() {
                current.push('\n');
                current_chars += 1;
            }
            current.push_str(&piece);
            current_chars += piece_chars;
        }
    }
    if !current.is_empty() {
        bodies.push(current);
    }
    bodies
}

/// One history entry as `Who: what`.
fn entry_line(entry: &Value) -> String {
    let who = match entry.pointer("/source/type").and_then(Value::as_str) {
        Some("user") => "Customer",
        Some("bot") => "Bot",
        _ => "Unknown sender",
    };
    let kind = entry
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let payload = entry.get("payload").unwrap_or(&Value::Null);
    format!("{who}: {}", describe(kind, payload))
}

/// What a message of `kind` says, as text.
pub(crate) fn describe(kind: &str, payload: &Value) -> String {
    let field = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let placeholder = |label: &str, url: Option<&str>| {
        let mut text = format!("[{label}");
        if let Some(title) = field("title") {
            text.push_str(&format!(": {title}"));
        }
        if let Some(url) = url {
            text.push_str(&format!(" {url}"));
        }
        text.push(']');
        text
    };
    let described = match kind {
        "text" => field("text").map(str::to_string),
        "markdown" => field("markdown").map(str::to_string),
        "image" => Some(placeholder("image", field("imageUrl"))),
        "audio" => Some(placeholder("audio", field("audioUrl"))),
        "video" => Some(placeholder("video", field("videoUrl"))),
        "file" => Some(placeholder("file", field("fileUrl"))),
        "location" => {
            let coordinates = match (payload.get("latitude"), payload.get("longitude")) {
                (Some(lat), Some(lon)) => format!(" ({lat}, {lon})"),
                _ => String::new(),
            };
            let address = field("address")
                .map(|a| format!(" {a}"))
                .unwrap_or_default();
            Some(format!(
                "{}{address}{coordinates}",
                placeholder("location", None)
            ))
        }
        "choice" | "dropdown" => Some(with_options(field("text").unwrap_or(""), payload)),
        "card" => Some(card(payload)),
        "carousel" => payload.get("items").and_then(Value::as_array).map(|items| {
            let cards: Vec<String> = items.iter().map(card).collect();
            format!("[carousel] {}", cards.join(" | "))
        }),
        "bloc" => payload.get("items").and_then(Value::as_array).map(|items| {
            let parts: Vec<String> = items
                .iter()
                .map(|item| {
                    describe(
                        item.get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown"),
                        item.get("payload").unwrap_or(&Value::Null),
                    )
                })
                .collect();
            parts.join(" / ")
        }),
        _ => None,
    };
    described
        .filter(|text| !text.trim().is_empty())
        .unwrap_or_else(|| unknown(kind, payload))
}

/// A choice or dropdown: its question and the options offered.
fn with_options(text: &str, payload: &Value) -> String {
    let labels: Vec<&str> = payload
        .get("options")
        .and_then(Value::as_array)
        .map(|options| {
            options
                .iter()
                .filter_map(|option| option.get("label").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if labels.is_empty() {
        text.to_string()
    } else {
        format!("{text} [options: {}]", labels.join(", "))
    }
}

fn card(card: &Value) -> String {
    let field = |name: &str| card.get(name).and_then(Value::as_str).unwrap_or("");
    let mut text = format!("[card: {}", field("title"));
    for extra in [field("subtitle"), field("imageUrl")] {
        if !extra.is_empty() {
            text.push_str(&format!(" {extra}"));
        }
    }
    text.push(']');
    let actions: Vec<&str> = card
        .get("actions")
        .and_then(Value::as_array)
        .map(|actions| {
            actions
                .iter()
                .filter_map(|action| action.get("label").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if !actions.is_empty() {
        text.push_str(&format!(" [buttons: {}]", actions.join(", ")));
    }
    text
}

/// A type the bridge does not know: say so, with whatever title and links it carries.
fn unknown(kind: &str, payload: &Value) -> String {
    let mut found = Vec::new();
    if let Some(object) = payload.as_object() {
        for (name, value) in object {
            if let Some(text) = value.as_str()
                && (name == "title" || name == "text" || text.starts_with("https://"))
                && !text.trim().is_empty()
            {
                found.push(text.trim().to_string());
            }
        }
    }
    if found.is_empty() {
        format!("[{kind} message]")
    } else {
        format!("[{kind} message: {}]", found.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(source: &str, kind: &str, payload: Value) -> Value {
        json!({ "source": { "type": source, "userId": "u1" }, "type": kind, "payload": payload })
    }

    #[test]
    fn entries_say_who_said_what_and_non_text_is_never_dropped() {
        let history = vec![
            entry("user", "text", json!({ "text": "Where is my parcel?" })),
            entry(
                "bot",
                "choice",
                json!({ "text": "Pick one", "options": [{ "label": "Refund", "value": "r" }] }),
            ),
            entry(
                "user",
                "image",
                json!({ "imageUrl": "https://files.example/p.png" }),
            ),
            entry(
                "user",
                "file",
                json!({ "fileUrl": "https://files.example/r.pdf", "title": "Receipt" }),
            ),
            entry(
                "bot",
                "somethingNew",
                json!({ "url": "https://x.example/a" }),
            ),
            entry("bot", "somethingEmpty", json!({})),
        ];
        let parts = transcript_parts(&history);
        assert_eq!(parts.len(), 1);
        let text = &parts[0];
        assert!(text.starts_with("Conversation before the handoff (6 messages):"));
        assert!(text.contains("Customer: Where is my parcel?"));
        assert!(text.contains("Bot: Pick one [options: Refund]"));
        assert!(text.contains("Customer: [image https://files.example/p.png]"));
        assert!(text.contains("Customer: [file: Receipt https://files.example/r.pdf]"));
        assert!(text.contains("Bot: [somethingNew message: https://x.example/a]"));
        assert!(text.contains("Bot: [somethingEmpty message]"));
    }

    #[test]
    fn long_histories_split_into_parts_within_the_limit_in_order() {
        let history: Vec<Value> = (1..=300)
            .map(|n| {
                entry(
                    if n % 2 == 0 { "bot" } else { "user" },
                    "text",
                    json!({ "text": format!("message {n:03} {}", "x".repeat(80)) }),
                )
            })
            .collect();
        let parts = transcript_parts(&history);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.chars().count() <= MAX_TEXT_CHARS, "{}", part.len());
        }
        let joined = parts.join("\n");
        let mut last = 0;
        for n in 1..=300 {
            let at = joined
                .find(&format!("message {n:03} "))
                .expect("every message is there");
            assert!(at > last || n == 1, "message {n} out of order");
            last = at;
        }
        assert!(parts[0].contains(&format!("part 1 of {}", parts.len())));
    }

    #[test]
    fn a_line_longer_than_a_part_is_cut_not_lost() {
        let long = "y".repeat(MAX_TEXT_CHARS * 2);
        let parts = transcript_parts(&[entry("user", "text", json!({ "text": long }))]);
        assert!(parts.len() >= 3);
        let ys: usize = parts.iter().map(|p| p.matches('y').count()).sum();
        assert_eq!(ys, MAX_TEXT_CHARS * 2);
    }

    #[test]
    fn an_empty_history_publishes_nothing() {
        assert!(transcript_parts(&[]).is_empty());
    }
}
