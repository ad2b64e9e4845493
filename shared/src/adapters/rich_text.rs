//! HubSpot's `richText` (the HTML the agent's editor produced) as text a customer can read in
//! any chat: paragraphs and line breaks kept, lists bulleted, and every link written out as
//! `label (https://…)` so no URL the agent shared is lost. Parsed with html2text (an HTML5
//! parser), not patterns: entities, nesting and broken markup are handled as browsers do.

use html2text::render::RichAnnotation;

/// Lines are wrapped at this width by the renderer; far wider than any chat line, so in
/// practice the agent's own line breaks are the only ones.
const WIDTH: usize = 4_096;

/// The readable text of `html`, or `None` when it has none (empty, only markup, or markup the
/// parser refused), in which case the caller falls back to HubSpot's plain `text`.
pub fn readable_text(html: &str) -> Option<String> {
    let lines = html2text::config::rich()
        .lines_from_read(html.as_bytes(), WIDTH)
        .ok()?;
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for line in &lines {
        let mut text = String::new();
        // The link whose label is being written, and that label so far.
        let mut open_link: Option<(String, String)> = None;
        for piece in line.tagged_strings() {
            let target = link_target(&piece.tag);
            if open_link.as_ref().map(|(url, _)| url) != target.as_ref() {
                close_link(&mut text, open_link.take());
                open_link = target.map(|url| (url, String::new()));
            }
            if let Some((_, label)) = open_link.as_mut() {
                label.push_str(&piece.s);
            }
            text.push_str(&piece.s);
        }
        close_link(&mut text, open_link.take());
        out.push(text.trim_end().to_string());
    }
    let text = collapse_blank_lines(&out);
    (!text.is_empty()).then_some(text)
}

/// The URL a piece of text points at, if it is (part of) a link or an image's title.
fn link_target(tags: &[RichAnnotation]) -> Option<String> {
    tags.iter().rev().find_map(|tag| match tag {
        RichAnnotation::Link(url) | RichAnnotation::Image(url) if !url.trim().is_empty() => {
            Some(url.trim().to_string())
        }
        _ => None,
    })
}

/// Writes ` (url)` after a link's label, unless the label already is the URL.
fn close_link(text: &mut String, link: Option<(String, String)>) {
    let Some((url, label)) = link else { return };
    let label = label.trim();
    let bare = url
        .strip_prefix("mailto:")
        .or_else(|| url.strip_prefix("tel:"))
        .unwrap_or(&url);
    if label == url || label == bare {
        return;
    }
    if label.is_empty() {
        text.push_str(&url);
    } else {
        text.push_str(&format!(" ({url})"));
    }
}

/// Drops leading and trailing blank lines and keeps at most one blank line between blocks.
fn collapse_blank_lines(lines: &[String]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for line in lines {
        let blank = line.trim().is_empty();
        if blank && out.last().is_none_or(|last| last.is_empty()) {
            continue;
        }
        out.push(if blank { "" } else { line.as_str() });
    }
    while out.last().is_some_and(|last| last.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::readable_text;

    #[test]
    fn links_keep_their_target_beside_their_label() {
        let html = r#"<p>See <a href="https://example.com/track?id=1&amp;x=2">your parcel</a>, or mail <a href="mailto:help@example.com">help@example.com</a>.</p>"#;
        assert_eq!(
            readable_text(html).unwrap(),
            "See your parcel (https://example.com/track?id=1&x=2), or mail help@example.com."
        );
    }

    #[test]
    fn paragraphs_breaks_lists_and_entities_read_naturally() {
        let html = "<p>Hello &lt;Jane&gt; &amp; co,</p><p>line one<br>line two</p><ul><li>first</li><li>second</li></ul>";
        let text = readable_text(html).unwrap();
        assert!(
            text.starts_with("Hello <Jane> & co,\n\nline one\nline two"),
            "{text}"
        );
        assert!(text.contains("first") && text.contains("second"), "{text}");
        assert!(!text.contains('<') || text.contains("<Jane>"), "{text}");
    }

    #[test]
    fn a_bare_url_link_is_not_written_twice() {
        let html = r#"<a href="https://example.com">https://example.com</a>"#;
        assert_eq!(readable_text(html).unwrap(), "https://example.com");
    }

    #[test]
    fn markup_without_text_has_no_readable_text() {
        assert_eq!(readable_text(""), None);
        assert_eq!(readable_text("<p></p><br>"), None);
    }

    #[test]
    fn broken_markup_loses_no_words() {
        let text = readable_text("<p>unclosed <b>bold <i>and italic").unwrap();
        assert_eq!(text, "unclosed bold and italic");
    }
}
