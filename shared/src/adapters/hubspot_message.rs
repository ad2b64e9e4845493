//! HubSpot's message object (`PublicConversationsMessage`), read into what the bridge relays.
//! The same shape arrives in an `OUTGOING_CHANNEL_MESSAGE_CREATED` event and in a thread's
//! message history (`GET .../threads/{threadId}/messages`), so both are read here.

use serde::Deserialize;
use serde_json::Value;

use super::rich_text::readable_text;
use crate::model::{AgentMessage, Attachment, FileKind};
use crate::redact::redact_text;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    channel_id: Value,
    #[serde(default)]
    conversations_thread_id: Value,
    #[serde(default, deserialize_with = "crate::lenient::null_as_default")]
    senders: Vec<Sender>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    rich_text: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::null_as_default")]
    attachments: Vec<Value>,
    #[serde(default)]
    truncation_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sender {
    #[serde(default)]
    actor_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Reads an agent's message. `fallback_time` (an RFC 3339 time, such as the event's
/// `eventTimestamp`) stands in for a missing `createdAt`. The error names what is missing; it
/// is logged, and serde quotes the value it could not read (a string where a list belongs),
/// so any email address or phone number in it is redacted.
pub fn read_agent_message(
    message: Value,
    fallback_time: Option<&str>,
) -> Result<AgentMessage, String> {
    let wire: WireMessage = serde_json::from_value(message)
        .map_err(|error| format!("not a message: {}", redact_text(&error.to_string())))?;
    let field = |value: &Value, name: &str| {
        id_text(value).ok_or_else(|| format!("message.{name} is missing"))
    };
    let sender = wire.senders.first();
    let actor_id = sender
        .and_then(|sender| sender.actor_id.clone())
        .or(wire.created_by)
        .ok_or("message.senders[0].actorId (the agent) is missing")?;
    let message = AgentMessage {
        message_id: field(&wire.id, "id")?,
        channel_id: field(&wire.channel_id, "channelId")?,
        thread_id: field(&wire.conversations_thread_id, "conversationsThreadId")?,
        actor_id,
        agent_name: sender.and_then(|sender| sender.name.clone()),
        text: message_text(wire.rich_text.as_deref(), wire.text.as_deref()),
        attachments: wire
            .attachments
            .iter()
            .filter_map(read_attachment)
            .collect(),
        created_at_ms: wire
            .created_at
            .as_deref()
            .or(fallback_time)
            .and_then(epoch_ms)
            .unwrap_or_default(),
        // Not `TRUNCATED_TO_MOST_RECENT_REPLY`: there HubSpot left out the quoted history of
        // an email reply on purpose, which the customer has already.
        truncated: wire.truncation_status.as_deref() == Some("TRUNCATED"),
        integration_thread_id: None,
    };
    // One with nothing to relay (no text, only metadata) is read all the same: the relay
    // marks it FAILED for the agent, where refusing it would leave HubSpot retrying it for a
    // day with the agent seeing no status.
    Ok(message)
}

/// The rich text made readable when there is any; otherwise the plain text. The plain text
/// wins too when the rich text reads as less (a converter problem must never cost words).
pub(crate) fn message_text(rich_text: Option<&str>, text: Option<&str>) -> String {
    let plain = text.unwrap_or_default().trim();
    match rich_text.and_then(readable_text) {
        Some(rich) if word_count(&rich) >= word_count(plain) => rich,
        _ => plain.to_string(),
    }
}

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// One attachment as the bot will see it; `None` for metadata that carries nothing the agent
/// wrote (message headers, WhatsApp template data, social-media metadata).
fn read_attachment(attachment: &Value) -> Option<Attachment> {
    let text = |name: &str| {
        attachment
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    let kind = attachment.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "FILE" => {
            let name = text("name");
            match text("url")
                .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            {
                Some(url) => Some(Attachment::File {
                    kind: file_kind(text("fileUsageType").as_deref(), name.as_deref()),
                    url,
                    name,
                }),
                None => Some(Attachment::Readable(format!(
                    "[The agent attached a file{} that cannot be shown here]",
                    name.map(|name| format!(" ({name})")).unwrap_or_default()
                ))),
            }
        }
        "LOCATION" => {
            let coordinates = match (
                attachment.get("latitude").and_then(Value::as_f64),
                attachment.get("longitude").and_then(Value::as_f64),
            ) {
                (Some(latitude), Some(longitude)) => Some(format!("{latitude}, {longitude}")),
                _ => None,
            };
            let parts: Vec<String> = [text("name"), text("address"), text("url"), coordinates]
                .into_iter()
                .flatten()
                .collect();
            Some(Attachment::Readable(format!(
                "Location: {}",
                parts.join(" — ")
            )))
        }
        "CONTACT" => Some(Attachment::Readable(contact_card(attachment))),
        "QUICK_REPLIES" => {
            let options: Vec<String> = attachment
                .get("quickReplies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|reply| {
                    let label = reply.get("label").and_then(Value::as_str);
                    let value = reply.get("value").and_then(Value::as_str)?;
                    Some(match label {
                        Some(label) if label != value => format!("{label} ({value})"),
                        _ => value.to_string(),
                    })
                })
                .collect();
            (!options.is_empty())
                .then(|| Attachment::Readable(format!("Options: {}", options.join(" / "))))
        }
        "MESSAGE_HEADER" | "WHATSAPP_TEMPLATE_METADATA" | "SOCIAL_MEDIA_METADATA" => None,
        "UNSUPPORTED_CONTENT" => Some(Attachment::Readable(
            "[The agent sent content that cannot be shown here]".to_string(),
        )),
        other => Some(Attachment::Readable(format!(
            "[The agent sent an attachment ({}) that cannot be shown here]",
            if other.is_empty() {
                "of unknown type"
            } else {
                other
            }
        ))),
    }
}

/// Botpress's message kind for a HubSpot file: by `fileUsageType`, else by the file's name.
fn file_kind(usage: Option<&str>, name: Option<&str>) -> FileKind {
    match usage {
        Some("IMAGE" | "STICKER") => return FileKind::Image,
        Some("AUDIO" | "VOICE_RECORDING") => return FileKind::Audio,
        Some("VIDEO") => return FileKind::Video,
        _ => {}
    }
    let extension = name
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("png" | "jpg" | "jpeg" | "gif" | "webp") => FileKind::Image,
        Some("mp3" | "wav" | "ogg" | "m4a" | "aac") => FileKind::Audio,
        Some("mp4" | "mov" | "webm") => FileKind::Video,
        _ => FileKind::File,
    }
}

/// A `CONTACT` attachment's card as lines of text.
fn contact_card(attachment: &Value) -> String {
    let profile = &attachment["contactProfile"];
    let name: Vec<&str> = ["prefix", "firstName", "middleName", "lastName", "suffix"]
        .iter()
        .filter_map(|part| profile["name"][part].as_str())
        .filter(|part| !part.trim().is_empty())
        .collect();
    let mut lines = vec![format!(
        "Contact: {}",
        if name.is_empty() {
            "(no name)".to_string()
        } else {
            name.join(" ")
        }
    )];
    for (list, field) in [("phones", "phone"), ("emails", "email"), ("urls", "url")] {
        for entry in profile[list].as_array().into_iter().flatten() {
            if let Some(value) = entry[field].as_str() {
                lines.push(value.to_string());
            }
        }
    }
    lines.join("\n")
}

/// An RFC 3339 time as milliseconds since the epoch.
pub fn epoch_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
}

/// HubSpot sends ids as numbers in some payloads and strings in others.
pub fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(extra: Value) -> Value {
        let mut base = json!({
            "id": "m1", "channelId": "1234", "conversationsThreadId": 9012,
            "createdAt": "2025-05-16T03:42:04.565Z",
            "senders": [{ "actorId": "A-1", "name": "Ada" }],
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    }

    /// Only a text cut by length is read whole; an email reply cut to its latest part left
    /// out the history the customer has already.
    #[test]
    fn only_a_truncated_text_is_to_be_read_whole() {
        for (status, truncated) in [
            (json!("TRUNCATED"), true),
            (json!("TRUNCATED_TO_MOST_RECENT_REPLY"), false),
            (json!("NOT_TRUNCATED"), false),
            (Value::Null, false),
        ] {
            let read = read_agent_message(
                message(json!({ "text": "Hi", "truncationStatus": status })),
                None,
            )
            .unwrap();
            assert_eq!(read.truncated, truncated, "{status}");
        }
    }

    #[test]
    fn rich_text_wins_over_text_and_keeps_links() {
        let read = read_agent_message(
            message(json!({ "text": "Track it here", "richText": "<p>Track it <a href=\"https://t.example/1\">here</a></p>" })),
            None,
        )
        .unwrap();
        assert_eq!(read.text, "Track it here (https://t.example/1)");
        assert_eq!(read.thread_id, "9012");
        assert_eq!(read.created_at_ms, 1_747_366_924_565);
    }

    #[test]
    fn files_become_kinds_and_other_attachments_readable_lines_in_order() {
        let read = read_agent_message(
            message(json!({ "text": "", "attachments": [
                { "type": "FILE", "fileId": "1", "fileUsageType": "IMAGE", "name": "a.png", "url": "https://f.example/a.png" },
                { "type": "FILE", "fileId": "2", "fileUsageType": "OTHER", "name": "invoice.pdf", "url": "https://f.example/i.pdf" },
                { "type": "FILE", "fileId": "3", "fileUsageType": "VOICE_RECORDING", "url": "https://f.example/v.ogg" },
                { "type": "FILE", "fileId": "4", "fileUsageType": "OTHER", "name": "clip.mp4", "url": "https://f.example/c.mp4" },
                { "type": "FILE", "fileId": "5", "fileUsageType": "OTHER", "name": "secret.txt" },
                { "type": "LOCATION", "latitude": 48.85, "longitude": 2.35, "name": "Depot" },
                { "type": "QUICK_REPLIES", "quickReplies": [{ "value": "yes", "valueType": "TEXT" }, { "label": "Docs", "value": "https://d.example", "valueType": "URL" }] },
                { "type": "MESSAGE_HEADER", "text": "x" },
                { "type": "HOLOGRAM" },
            ]})),
            None,
        )
        .unwrap();
        let kinds: Vec<String> = read
            .attachments
            .iter()
            .map(|attachment| match attachment {
                Attachment::File { kind, .. } => format!("{kind:?}"),
                Attachment::Readable(line) => line.clone(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Image",
                "File",
                "Audio",
                "Video",
                "[The agent attached a file (secret.txt) that cannot be shown here]",
                "Location: Depot — 48.85, 2.35",
                "Options: yes / Docs (https://d.example)",
                "[The agent sent an attachment (HOLOGRAM) that cannot be shown here]",
            ]
        );
    }

    #[test]
    fn plain_text_stands_in_when_rich_text_reads_as_less() {
        let read = read_agent_message(
            message(json!({ "text": "all these words", "richText": "<p></p>" })),
            None,
        )
        .unwrap();
        assert_eq!(read.text, "all these words");
    }

    #[test]
    fn a_message_without_an_agent_is_refused_and_one_with_nothing_to_relay_is_read() {
        let blank = read_agent_message(message(json!({ "text": " " })), None).unwrap();
        assert!(blank.is_empty());
        let mut anonymous = message(json!({ "text": "hi" }));
        anonymous["senders"] = json!([]);
        assert!(
            read_agent_message(anonymous, None)
                .unwrap_err()
                .contains("agent")
        );
    }

    #[test]
    fn a_value_the_message_cannot_be_read_from_is_not_quoted_with_its_address() {
        let mut garbled = message(json!({ "text": "hi" }));
        garbled["senders"] = json!("jane.doe@example.com, +1 415 555 2671");
        let problem = read_agent_message(garbled, None).unwrap_err();
        assert!(
            problem.starts_with("not a message: invalid type"),
            "{problem}"
        );
        assert!(!problem.contains("jane.doe@example.com"), "{problem}");
        assert!(!problem.contains("555 2671"), "{problem}");
    }
}
