//! `/helpdesk`: HubSpot's Help Desk as an agent sees it. The actions go through the simulated
//! HubSpot's agent API ([`HubSpotSim::assign`], [`HubSpotSim::agent_reply`],
//! [`HubSpotSim::close`]), which changes the thread and sends the bridge the signed webhook
//! HubSpot would.
//!
//! [`HubSpotSim::assign`]: hitl_sandbox::hubspot::HubSpotSim::assign
//! [`HubSpotSim::agent_reply`]: hitl_sandbox::hubspot::HubSpotSim::agent_reply
//! [`HubSpotSim::close`]: hitl_sandbox::hubspot::HubSpotSim::close

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use hitl_sandbox::hubspot::{Delivery, MessageSnapshot, SimError, ThreadSnapshot};
use serde_json::Value;

use super::chat::field;
use super::html::{self, Nav, clock, escape, initials};
use super::{Web, back_to, log};
use crate::sandbox_stack::DEMO_AGENTS;

fn agent_name(actor_id: &str) -> String {
    DEMO_AGENTS
        .iter()
        .find(|(id, _, _)| *id == actor_id)
        .map(|(_, name, _)| name.to_string())
        .unwrap_or_else(|| actor_id.to_string())
}

/// The customer's name, as the first incoming message's sender gives it.
fn customer_name(thread: &ThreadSnapshot) -> String {
    thread
        .messages
        .iter()
        .find(|message| message.direction == "INCOMING")
        .and_then(|message| message.senders[0]["name"].as_str())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| "Visitor".to_string())
}

fn threads_newest_first(web: &Web) -> Vec<ThreadSnapshot> {
    let mut threads = web.inner.hubspot.threads();
    threads.reverse();
    threads
}

/// The inbox: the newest open thread is shown, else the newest one.
pub async fn inbox(State(web): State<Web>) -> Html<String> {
    let threads = threads_newest_first(&web);
    let selected = threads
        .iter()
        .find(|thread| thread.status == "OPEN")
        .or(threads.first())
        .map(|thread| thread.id.clone());
    render_page(&web, selected.as_deref())
}

pub async fn thread_page(State(web): State<Web>, Path(id): Path<String>) -> Html<String> {
    render_page(&web, Some(&id))
}

fn render_page(web: &Web, selected: Option<&str>) -> Html<String> {
    let thread_pane = match selected {
        Some(id) => format!(
            r#"<section class="card thread" aria-label="Thread">
<div data-live="/helpdesk/live/thread/{id_attr}">{thread}</div>
<div class="actions" data-live="/helpdesk/live/actions/{id_attr}">{actions}</div>
<form class="composer reply" method="post" action="/helpdesk/threads/{id_attr}/reply" data-ajax>
<label class="sr-only" for="reply-text">Reply</label>
<textarea id="reply-text" name="text" rows="2" placeholder="Reply to the customer…" required maxlength="5000" data-clear></textarea>
<button type="submit" class="primary" id="send-reply">Send reply</button>
</form>
</section>"#,
            id_attr = escape(&urlencode(id)),
            thread = thread_html(web, id),
            actions = actions_html(web, id),
        ),
        None => r#"<section class="card thread empty-thread"><p class="empty">No conversation yet. Open the <a href="/chat">customer chat</a> and press “Talk to a human”.</p></section>"#.to_string(),
    };
    let selected_query = selected
        .map(|id| format!("?selected={}", escape(&urlencode(id))))
        .unwrap_or_default();
    let main = format!(
        r#"<main class="layout helpdesk-layout">
<nav class="card threads" aria-label="Threads">
<h2>Help Desk inbox</h2>
<div data-live="/helpdesk/live/list{selected_query}">{list}</div>
</nav>
{thread_pane}
{log}
</main>"#,
        list = list_html(web, selected),
        log = html::log_panel(&log::current(web)),
    );
    html::page("Help Desk · hitl sandbox", Nav::HelpDesk, &main)
}

pub async fn list_fragment(
    State(web): State<Web>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    Html(list_html(&web, query.get("selected").map(String::as_str)))
}

pub async fn thread_fragment(State(web): State<Web>, Path(id): Path<String>) -> Html<String> {
    Html(thread_html(&web, &id))
}

pub async fn actions_fragment(State(web): State<Web>, Path(id): Path<String>) -> Html<String> {
    Html(actions_html(&web, &id))
}

fn status_pill(status: &str) -> String {
    let (class, label) = match status {
        "OPEN" => ("open", "Open".to_string()),
        "CLOSED" => ("closed", "Closed".to_string()),
        other => ("closed", other.to_lowercase()),
    };
    format!(
        r#"<span class="pill {class}" data-status="{status}">{label}</span>"#,
        status = escape(status),
        label = escape(&label),
    )
}

fn list_html(web: &Web, selected: Option<&str>) -> String {
    let threads = threads_newest_first(web);
    if threads.is_empty() {
        return r#"<p class="empty">No threads yet.</p>"#.to_string();
    }
    let mut out = String::from(r#"<ul class="thread-list">"#);
    for thread in &threads {
        let current = if Some(thread.id.as_str()) == selected {
            r#" aria-current="true""#
        } else {
            ""
        };
        let preview = thread
            .messages
            .last()
            .map(|message| message.text.clone())
            .unwrap_or_default();
        let assignee = match &thread.assigned_to {
            Some(actor) => agent_name(actor),
            None => "Unassigned".to_string(),
        };
        out.push_str(&format!(
            r#"<li><a href="/helpdesk/threads/{id_attr}"{current} data-thread="{id}"><span class="row"><strong>{customer}</strong>{status}</span><span class="preview">{preview}</span><span class="meta">#{id} · {assignee}</span></a></li>"#,
            id_attr = escape(&urlencode(&thread.id)),
            id = escape(&thread.id),
            customer = escape(&customer_name(thread)),
            status = status_pill(&thread.status),
            preview = escape(&preview),
            assignee = escape(&assignee),
        ));
    }
    out.push_str("</ul>");
    out
}

fn thread_html(web: &Web, id: &str) -> String {
    let Some(thread) = web.inner.hubspot.thread(id) else {
        return format!(r#"<p class="empty">No thread {}.</p>"#, escape(id));
    };
    let assignee = match &thread.assigned_to {
        Some(actor) => format!(
            "Assigned to <strong id=\"assignee\">{}</strong>",
            escape(&agent_name(actor))
        ),
        None => r#"<span id="assignee">Unassigned</span>"#.to_string(),
    };
    let error = web
        .inner
        .helpdesk_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .filter(|(thread_id, _)| thread_id == id)
        .map(|(_, text)| format!(r#"<p class="flash error">{}</p>"#, escape(text)))
        .unwrap_or_default();
    let messages: String = thread.messages.iter().map(message_html).collect();
    format!(
        r#"<div class="thread-head"><div><h1>{customer}</h1><p class="meta">Thread #{id} · {assignee}</p></div>{status}</div>{error}
<ol class="feed transcript" id="transcript" data-scroll="bottom">{messages}</ol>"#,
        customer = escape(&customer_name(&thread)),
        id = escape(&thread.id),
        status = status_pill(&thread.status),
    )
}

pub(super) fn message_html(message: &MessageSnapshot) -> String {
    let incoming = message.direction == "INCOMING";
    let author = message.senders[0]["name"]
        .as_str()
        .map(str::to_string)
        .or_else(|| message.senders[0]["actorId"].as_str().map(agent_name))
        .unwrap_or_else(|| if incoming { "Customer" } else { "Agent" }.to_string());
    let failed = if message.status == "FAILED" {
        r#" <span class="status bad">not delivered</span>"#
    } else {
        ""
    };
    format!(
        r#"<li class="msg {class}"><span class="avatar" aria-hidden="true">{initials}</span><div class="bubble"><span class="author">{author}</span><p>{text}</p>{attachments}<time>{time}</time>{failed}</div></li>"#,
        class = if incoming { "customer-in" } else { "agent-out" },
        initials = escape(&initials(&author)),
        author = escape(&author),
        text = escape(&message.text),
        attachments = attachments_html(&message.attachments),
        time = escape(&clock(&message.created_at)),
    )
}

/// HubSpot attachments: files (with a name or a URL), locations, contacts, quick replies...
/// each shown by its type and what describes it.
fn attachments_html(attachments: &Value) -> String {
    let Some(items) = attachments.as_array().filter(|items| !items.is_empty()) else {
        return String::new();
    };
    let mut out = String::from(r#"<ul class="attachments">"#);
    for item in items {
        let kind = item["type"].as_str().unwrap_or("ATTACHMENT");
        let label = ["name", "fileName", "title", "url", "fileId", "address"]
            .iter()
            .find_map(|key| match &item[*key] {
                Value::String(text) if !text.is_empty() => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
            .or_else(
                || match (item["latitude"].as_f64(), item["longitude"].as_f64()) {
                    (Some(lat), Some(lon)) => Some(format!("{lat}, {lon}")),
                    _ => None,
                },
            )
            .unwrap_or_default();
        let link = item["url"]
            .as_str()
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"));
        let label_html = match link {
            Some(url) => format!(
                r#"<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>"#,
                escape(url),
                escape(&label)
            ),
            None => escape(&label),
        };
        out.push_str(&format!(
            r#"<li class="attachment"><span class="kind">{}</span> {label_html}</li>"#,
            escape(&kind.to_lowercase())
        ));
    }
    out.push_str("</ul>");
    out
}

fn actions_html(web: &Web, id: &str) -> String {
    let Some(thread) = web.inner.hubspot.thread(id) else {
        return String::new();
    };
    let id_attr = escape(&urlencode(id));
    if thread.status != "OPEN" {
        return r#"<p class="hint">This thread is closed.</p>"#.to_string();
    }
    let options: String = DEMO_AGENTS
        .iter()
        .map(|(actor, name, _)| {
            let selected = if thread.assigned_to.as_deref() == Some(*actor) {
                " selected"
            } else {
                ""
            };
            format!(
                r#"<option value="{actor}"{selected}>{name}</option>"#,
                actor = escape(actor),
                name = escape(name)
            )
        })
        .collect();
    format!(
        r#"<form method="post" action="/helpdesk/threads/{id_attr}/assign" data-ajax class="assign">
<label><span class="label-text">Agent</span> <select name="actor" id="agent-select">{options}</select></label>
<button type="submit" id="assign">{assign_label}</button>
</form>
<form method="post" action="/helpdesk/threads/{id_attr}/close" data-ajax class="close-form">
<button type="submit" class="danger" id="close-thread">Close thread</button>
</form>"#,
        assign_label = if thread.assigned_to.is_some() {
            "Reassign"
        } else {
            "Assign"
        },
    )
}

fn remember(web: &Web, id: &str, what: &str, result: Result<Delivery, SimError>) {
    let error = match result {
        Ok(delivery) if (200..300).contains(&delivery.status) => None,
        Ok(delivery) => Some(format!(
            "{what}: the bridge answered {} {}",
            delivery.status,
            delivery.response_body.chars().take(300).collect::<String>()
        )),
        Err(error) => Some(format!("{what}: {error}")),
    };
    *web.inner
        .helpdesk_error
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = error.map(|text| (id.to_string(), text));
}

fn thread_path(id: &str) -> String {
    format!("/helpdesk/threads/{}", urlencode(id))
}

pub async fn assign(
    State(web): State<Web>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Redirect {
    let actor = field(&form, "actor");
    if DEMO_AGENTS.iter().any(|(known, _, _)| *known == actor) {
        let result = web.inner.hubspot.assign(&id, &actor).await;
        remember(&web, &id, "Assignment", result);
    }
    back_to(&thread_path(&id))
}

pub async fn reply(
    State(web): State<Web>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Redirect {
    let text = field(&form, "text");
    if let (false, Some(thread)) = (text.is_empty(), web.inner.hubspot.thread(&id)) {
        // The reply comes from the assigned agent; an unassigned thread is answered by the first.
        let actor = thread
            .assigned_to
            .unwrap_or_else(|| DEMO_AGENTS[0].0.to_string());
        let result = web.inner.hubspot.agent_reply(&id, &actor, &text).await;
        remember(&web, &id, "Reply", result);
    }
    back_to(&thread_path(&id))
}

pub async fn close(State(web): State<Web>, Path(id): Path<String>) -> Redirect {
    let result = web.inner.hubspot.close(&id).await;
    remember(&web, &id, "Close", result);
    back_to(&thread_path(&id))
}

/// Thread ids are digits, but nothing is assumed: path segments are percent-encoded.
fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
