//! What a customer message may carry into the Help Desk: the one list of limits the relay
//! enforces and the custom channel's `capabilities` declare, so HubSpot and the bridge agree.

use unicode_segmentation::UnicodeSegmentation;

/// The largest file relayed, in bytes. HubSpot's file manager takes far more; this keeps a
/// Lambda invocation's memory and the Botpress time budget safe.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// Files per published message: each Botpress message carries one.
pub const MAX_FILES_PER_MESSAGE: usize = 1;

/// Files in one Botpress `bloc`: every file of a message is fetched (and held) before any part
/// is published, so this bounds the memory (at most this many times [`MAX_FILE_BYTES`]) and
/// the time one message takes within Botpress's budget.
pub const MAX_FILES_PER_BLOC: usize = 5;

/// The longest text the bridge puts in one published message. HubSpot documents no limit for
/// a custom-channel message's `text` but marks long ones `truncationStatus`; long transcripts
/// are split into parts of at most this many characters so none is cut.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// The content types relayed: pictures, documents, sound and video people send to support.
/// Office documents only in their macro-free formats (`.docx`, `.xlsx`, `.pptx`; not the
/// legacy or macro-enabled ones). Anything else (executables, archives, HTML) reaches the
/// agent as a note naming the type instead of the file.
pub const ALLOWED_MIME_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
    "text/csv",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "video/mp4",
    "video/webm",
    "video/quicktime",
];

/// The allowed type a file name's extension stands for, for a file served without a type of its
/// own (`application/octet-stream`, as object stores often answer, or none): every extension of
/// an allowed type, and nothing else.
const TYPE_BY_EXTENSION: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("pdf", "application/pdf"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("wav", "audio/wav"),
    ("weba", "audio/webm"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mov", "video/quicktime"),
];

/// The type a file is relayed as: the one it was served with, unless that says nothing
/// (`application/octet-stream`, or none), when the name's extension tells it if it names an
/// allowed type.
pub fn relayed_type(served: &str, file_name: &str) -> String {
    let served = essence(served);
    if !served.is_empty() && served != "application/octet-stream" {
        return served;
    }
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase());
    TYPE_BY_EXTENSION
        .iter()
        .find(|(known, _)| Some(*known) == extension.as_deref())
        .map_or(served, |(_, mime)| mime.to_string())
}

/// The type's essence (`image/png` of `image/png; charset=binary`), lower-cased.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether a file of this `Content-Type` may be relayed.
pub fn is_allowed_mime_type(content_type: &str) -> bool {
    ALLOWED_MIME_TYPES.contains(&essence(content_type).as_str())
}

/// HubSpot's `fileUsageType` for a file of this type: how the Help Desk shows it.
/// The enum has no video value, so a video is an `OTHER` file the agent downloads.
pub fn file_usage_type(content_type: &str) -> &'static str {
    let essence = essence(content_type);
    if essence.starts_with("image/") {
        "IMAGE"
    } else if essence.starts_with("audio/") {
        "AUDIO"
    } else {
        "OTHER"
    }
}

/// The custom channel's whole `capabilities`: how it threads and what it carries, with the
/// attachment limits below. A channel found with other capabilities is updated to these.
pub fn channel_capabilities() -> serde_json::Value {
    let mut capabilities = serde_json::json!({
        // The opaque id: visitors who gave no email or phone (`DeliveryIdentifier::Visitor`).
        "deliveryIdentifierTypes": ["HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER", "CHANNEL_SPECIFIC_OPAQUE_ID"],
        "threadingModel": "INTEGRATION_THREAD_ID",
        "allowConversationStart": true,
        "allowOutgoingMessages": true,
        "allowInlineImages": false,
        "allowMultipleRecipients": false,
        "richText": ["HYPERLINK"],
    });
    if let (Some(all), serde_json::Value::Object(limits)) =
        (capabilities.as_object_mut(), attachment_capabilities())
    {
        all.extend(limits);
    }
    capabilities
}

/// Whether a channel's `found` capabilities already declare every one of `wanted` with the
/// same value (lists in any order); keys HubSpot adds on its own are not a difference.
pub fn capabilities_match(found: &serde_json::Value, wanted: &serde_json::Value) -> bool {
    let Some(wanted) = wanted.as_object() else {
        return found == wanted;
    };
    wanted
        .iter()
        .all(|(key, value)| match (found.get(key), value) {
            (Some(serde_json::Value::Array(have)), serde_json::Value::Array(want)) => {
                have.len() == want.len() && want.iter().all(|item| have.contains(item))
            }
            (Some(have), want) => have == want,
            (None, _) => false,
        })
}

/// `text` in pieces of at most `limit` characters, in order and whole: cut after the last
/// whitespace that leaves a piece at least half full, else at the limit (never inside a
/// character, nor inside what a reader sees as one: [`piece_end`]). Joined back, the pieces
/// are the text, less any run of whitespace that would have been a piece of its own (long trailing blank lines, say): a blank message is one
/// HubSpot refuses, which would fail the whole message for nothing it says. Text that is
/// whitespace alone stays one piece, for the caller to refuse.
pub fn split_text(text: &str, limit: usize) -> Vec<String> {
    let pieces = pieces_of(text, limit);
    if pieces.iter().all(|piece| piece.trim().is_empty()) {
        return vec![text.to_string()];
    }
    pieces
        .into_iter()
        .filter(|piece| !piece.trim().is_empty())
        .collect()
}

fn pieces_of(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.chars().count() > limit {
        let end = piece_end(rest, limit);
        pieces.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_string());
    }
    pieces
}

/// Where the first piece of `text` (longer than `limit` characters) ends, in bytes: after the
/// last whitespace that leaves it at least half full, else after as many whole graphemes as
/// fit, so a flag, an emoji joined from several, or a letter with its accents is never cut in
/// two. A single grapheme longer than the limit (hundreds of combining marks) is cut at the
/// limit's character, as nothing else would fit.
fn piece_end(text: &str, limit: usize) -> usize {
    let mut chars = 0;
    let mut fits = 0;
    let mut after_whitespace = None;
    for (at, grapheme) in text.grapheme_indices(true) {
        chars += grapheme.chars().count();
        if chars > limit {
            break;
        }
        fits = at + grapheme.len();
        if chars >= limit / 2 && grapheme.chars().all(char::is_whitespace) {
            after_whitespace = Some(fits);
        }
    }
    match (after_whitespace, fits) {
        (Some(end), _) => end,
        (None, 0) => text
            .char_indices()
            .nth(limit)
            .map_or(text.len(), |(at, _)| at),
        (None, end) => end,
    }
}

/// The custom channel's `capabilities` for what customers send, from the limits above.
pub fn attachment_capabilities() -> serde_json::Value {
    serde_json::json!({
        "allowedFileAttachmentMimeTypes": ALLOWED_MIME_TYPES,
        "maxFileAttachmentCount": MAX_FILES_PER_MESSAGE,
        "maxFileAttachmentSizeBytes": MAX_FILE_BYTES,
        "maxTotalFileAttachmentSizeBytes": MAX_FILE_BYTES * MAX_FILES_PER_MESSAGE as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_served_without_a_type_of_its_own_is_typed_by_its_extension() {
        assert_eq!(
            relayed_type("image/png; charset=binary", "a.jpg"),
            "image/png"
        );
        assert_eq!(
            relayed_type("application/octet-stream", "Scan.PDF"),
            "application/pdf"
        );
        assert_eq!(relayed_type("", "photo.jpeg"), "image/jpeg");
        assert_eq!(
            relayed_type("application/octet-stream", "setup.exe"),
            "application/octet-stream"
        );
        assert_eq!(relayed_type("", "noextension"), "");
        assert_eq!(
            relayed_type("application/octet-stream", "invoice.docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert!(!is_allowed_mime_type(
            "application/vnd.ms-word.document.macroEnabled.12"
        ));
        assert!(!is_allowed_mime_type("application/msword"));
        for (_, mime) in TYPE_BY_EXTENSION {
            assert!(is_allowed_mime_type(mime), "{mime} is allowed");
        }
    }

    #[test]
    fn long_text_is_split_whole_at_whitespace_where_it_can() {
        assert_eq!(split_text("short", 10), ["short"]);
        assert_eq!(split_text("", 10), [""]);
        assert_eq!(split_text("aaaa bbbb cccc", 10), ["aaaa bbbb ", "cccc"]);
        assert_eq!(split_text("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
        let text = "é".repeat(7) + " " + &"ü".repeat(9);
        let pieces = split_text(&text, 6);
        assert!(pieces.iter().all(|p| p.chars().count() <= 6), "{pieces:?}");
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn no_piece_cuts_a_flag_an_emoji_or_an_accented_letter_in_two() {
        for grapheme in ["🇫🇷", "👨‍👩‍👧", "👍🏽", "e\u{301}"] {
            let text = "a".repeat(9) + &grapheme.repeat(4);
            let pieces = split_text(&text, 10);
            assert_eq!(pieces.concat(), text);
            let boundaries: Vec<usize> = text.grapheme_indices(true).map(|(at, _)| at).collect();
            let mut cut = 0;
            for piece in &pieces {
                assert!(piece.chars().count() <= 10, "{pieces:?}");
                assert!(
                    boundaries.contains(&cut),
                    "{grapheme:?} cut inside in {pieces:?}"
                );
                cut += piece.len();
            }
            assert_eq!(cut, text.len());
        }
        let marks = "a".to_string() + &"\u{301}".repeat(25);
        let pieces = split_text(&marks, 10);
        assert!(pieces.iter().all(|p| p.chars().count() <= 10), "{pieces:?}");
        assert_eq!(pieces.concat(), marks);
    }

    #[test]
    fn no_piece_is_whitespace_alone() {
        let words = "word ".repeat(8);
        let text = format!("{words}{}", "\n".repeat(30));
        assert_eq!(
            split_text(&text, 40),
            [words.as_str()],
            "trailing blank lines"
        );
        let text = format!("{words}{}end", " ".repeat(100));
        let pieces = split_text(&text, 40);
        assert!(pieces.iter().all(|p| !p.trim().is_empty()), "{pieces:?}");
        assert_eq!(pieces.first(), Some(&words));
        assert!(pieces.last().unwrap().ends_with("end"), "{pieces:?}");
        let blank = " ".repeat(100);
        assert_eq!(
            split_text(&blank, 40),
            [blank.as_str()],
            "left to the caller"
        );
    }

    #[test]
    fn types_are_compared_by_essence() {
        assert!(is_allowed_mime_type("image/PNG; charset=binary"));
        assert!(!is_allowed_mime_type("application/x-msdownload"));
        assert!(!is_allowed_mime_type("text/html"));
        assert_eq!(file_usage_type("image/jpeg"), "IMAGE");
        assert_eq!(file_usage_type("audio/ogg"), "AUDIO");
        assert_eq!(file_usage_type("video/mp4"), "OTHER");
        assert_eq!(file_usage_type("application/pdf"), "OTHER");
    }

    #[test]
    fn capabilities_differ_when_a_declared_one_is_missing_or_other() {
        let wanted = channel_capabilities();
        assert!(capabilities_match(&wanted, &wanted));
        let mut reordered = wanted.clone();
        reordered["deliveryIdentifierTypes"] = serde_json::json!([
            "CHANNEL_SPECIFIC_OPAQUE_ID",
            "HS_PHONE_NUMBER",
            "HS_EMAIL_ADDRESS"
        ]);
        reordered["addedByHubSpot"] = serde_json::json!(true);
        assert!(capabilities_match(&reordered, &wanted));
        let mut older = wanted.clone();
        older
            .as_object_mut()
            .unwrap()
            .remove("allowedFileAttachmentMimeTypes");
        assert!(!capabilities_match(&older, &wanted));
        let mut other = wanted.clone();
        other["maxFileAttachmentSizeBytes"] = serde_json::json!(1024);
        assert!(!capabilities_match(&other, &wanted));
    }

    #[test]
    fn the_capabilities_declare_the_enforced_limits() {
        let capabilities = attachment_capabilities();
        assert_eq!(capabilities["maxFileAttachmentSizeBytes"], MAX_FILE_BYTES);
        assert_eq!(
            capabilities["allowedFileAttachmentMimeTypes"]
                .as_array()
                .unwrap()
                .len(),
            ALLOWED_MIME_TYPES.len()
        );
    }
}
