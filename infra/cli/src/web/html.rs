//! HTML building blocks: escaping (every piece of text a user, an agent or a service wrote goes
//! through [`escape`]), the page layout and small shared pieces.

use axum::response::Html;

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which page the navigation marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Chat,
    HelpDesk,
}

/// A whole page: header with navigation, then `main` (already HTML).
pub fn page(title: &str, nav: Nav, main: &str) -> Html<String> {
    let link = |target: Nav, href: &str, label: &str| {
        let current = if nav == target {
            r#" aria-current="page""#
        } else {
            ""
        };
        format!(r#"<a href="{href}"{current}>{label}</a>"#)
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body class="page-{class}">
<header class="topbar">
<a class="brand" href="/"><span class="logo" aria-hidden="true">⇄</span> hitl sandbox</a>
<nav>{chat}{helpdesk}</nav>
</header>
{main}
</body>
</html>
"#,
        title = escape(title),
        class = match nav {
            Nav::Home => "home",
            Nav::Chat => "chat",
            Nav::HelpDesk => "helpdesk",
        },
        chat = link(Nav::Chat, "/chat", "Customer chat"),
        helpdesk = link(Nav::HelpDesk, "/helpdesk", "Agent help desk"),
    ))
}

/// The event log panel: a live region filled by `/log/live`.
pub fn log_panel(content: &str) -> String {
    format!(
        r#"<aside class="log card" aria-label="Event log">
<details open>
<summary><h2>Event log</h2><span class="hint">every call crossing the bridge, newest first</span></summary>
<div class="log-body" data-live="/log/live">{content}</div>
</details>
</aside>"#
    )
}

/// `HH:MM:SS` of an RFC 3339 timestamp (UTC), or the text itself when it is not one.
pub fn clock(timestamp: &str) -> String {
    timestamp
        .get(11..19)
        .map(str::to_string)
        .unwrap_or_else(|| timestamp.to_string())
}

/// Initials for an avatar: "Ada Lovelace" → "AL".
pub fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .collect();
    if letters.is_empty() {
        "?".to_string()
    } else {
        letters.to_uppercase()
    }
}
