//! `/chat`: the customer's side, standing in for the bot's web chat with Botpress's HITL plugin.
//!
//! Before the handoff a canned bot answers. "Talk to a human" calls the bridge's `createUser`
//! and `startHitl` exactly as Botpress Cloud would; the customer's messages then reach the
//! bridge as `message_created` on channel `hitl`, and what the bridge sends back (the agent's
//! messages, `hitlAssigned`, `hitlStopped`) is read from the simulated Botpress.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{SecondsFormat, Utc};
use std::collections::HashMap;

use serde_json::{Value, json};

use super::html::{self, Nav, clock, escape, initials};
use super::{Web, back_to, log};
use crate::sandbox_stack::DEMO_CUSTOMER_EMAIL;

const COOKIE: &str = "hitl_chat";
const BOT_REPLY: &str = "I am the demo bot: I only know how to hand you over. Press \
                         \u{201c}Talk to a human\u{201d} to reach an agent.";

/// One customer's chat, kept in memory by the page server.
pub struct Session {
    name: String,
    contact: String,
    /// The Botpress user `createUser` returned.
    user_id: Option<String>,
    /// The `hitl` conversation of the handoff in progress, if any.
    current: Option<String>,
    /// Every `hitl` conversation this chat has had, oldest first.
    conversations: Vec<String>,
    /// What only this page knows: the customer's messages, the bot's answers, notices.
    lines: Vec<Line>,
}

impl Session {
    fn new() -> Self {
        Self {
            name: "Jane Doe".to_string(),
            contact: DEMO_CUSTOMER_EMAIL.to_string(),
            user_id: None,
            current: None,
            conversations: Vec::new(),
            lines: vec![Line::now(
                Kind::Bot,
                "Bot",
                "Hello! I am the demo bot. Ask me anything, or talk to a human.",
            )],
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Customer,
    Bot,
    Agent,
    Notice,
    Error,
}

struct Line {
    /// RFC 3339, UTC, milliseconds (as Botpress writes them), so lines sort as text.
    at: String,
    kind: Kind,
    author: String,
    text: String,
}

impl Line {
    fn now(kind: Kind, author: &str, text: &str) -> Self {
        Self {
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            kind,
            author: author.to_string(),
            text: text.to_string(),
        }
    }
}

/// Where the chat stands, as the customer sees it.
enum Mode {
    Bot,
    Waiting,
    WithAgent(String),
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The chat of this browser, created (with its cookie) when there is none.
fn ensure_session(web: &Web, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let mut chats = web.chats();
    if let Some(id) = session_id(headers).filter(|id| chats.contains_key(id)) {
        return (id, None);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    chats.insert(id.clone(), Session::new());
    let cookie =
        HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax")).ok();
    (id, cookie)
}

fn with_session<T>(web: &Web, id: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
    web.chats().get_mut(id).map(f)
}

pub async fn page(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (id, cookie) = ensure_session(&web, &headers);
    let main = format!(
        r#"<main class="layout chat-layout">
<section class="card chat" aria-label="Customer chat">
<div class="chat-header" data-live="/chat/live/header">{header}</div>
<ol class="feed" id="feed" data-live="/chat/live/feed" data-scroll="bottom" aria-live="polite">{feed}</ol>
<form class="composer" method="post" action="/chat/send" data-ajax>
<label class="sr-only" for="chat-text">Message</label>
<input id="chat-text" name="text" autocomplete="off" placeholder="Type a message…" required maxlength="2000" data-clear>
<button type="submit" class="primary">Send</button>
</form>
</section>
{log}
</main>"#,
        header = header_html(&web, &id),
        feed = feed_html(&web, &id),
        log = html::log_panel(&log::current(&web)),
    );
    let mut response = html::page("Customer chat · hitl sandbox", Nav::Chat, &main).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn header_fragment(State(web): State<Web>, headers: HeaderMap) -> Html<String> {
    let id = session_id(&headers).unwrap_or_default();
    Html(header_html(&web, &id))
}

pub async fn feed_fragment(State(web): State<Web>, headers: HeaderMap) -> Html<String> {
    let id = session_id(&headers).unwrap_or_default();
    Html(feed_html(&web, &id))
}

/// The conversation in progress, and whether the agent's side ended it.
fn mode(web: &Web, session: &Session) -> Mode {
    let Some(conversation) = &session.current else {
        return Mode::Bot;
    };
    let events = events_of(web, conversation);
    if events.iter().any(|event| event["type"] == "hitlStopped") {
        return Mode::Bot;
    }
    match events
        .iter()
        .rev()
        .find(|event| event["type"] == "hitlAssigned")
    {
        Some(event) => Mode::WithAgent(user_name(
            web,
            event["payload"]["userId"].as_str().unwrap_or_default(),
        )),
        None => Mode::Waiting,
    }
}

fn events_of(web: &Web, conversation: &str) -> Vec<Value> {
    web.inner
        .botpress
        .events()
        .into_iter()
        .filter(|event| event["conversationId"] == conversation)
        .collect()
}

fn user_name(web: &Web, user_id: &str) -> String {
    web.inner
        .botpress
        .user(user_id)
        .and_then(|user| user["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| "An agent".to_string())
}

fn header_html(web: &Web, id: &str) -> String {
    let chats = web.chats();
    let Some(session) = chats.get(id) else {
        return r#"<p class="empty">This chat is gone (the sandbox restarted?). <a href="/chat">Start again</a>.</p>"#.to_string();
    };
    let mode = mode(web, session);
    let waiting_or_talking = !matches!(mode, Mode::Bot);
    let (status, status_class, controls) = match mode {
        Mode::Bot => (
            "Bot".to_string(),
            "bot",
            format!(
                r#"<form class="handoff" method="post" action="/chat/handoff" data-ajax>
<div class="fields">
<label>Name <input name="name" value="{name}" required maxlength="200"></label>
<label>Email or phone <input name="contact" value="{contact}" required maxlength="200"></label>
</div>
<button type="submit" class="primary" id="talk-to-human">Talk to a human</button>
</form>"#,
                name = escape(&session.name),
                contact = escape(&session.contact),
            ),
        ),
        Mode::Waiting => ("Waiting for an agent…".to_string(), "waiting", end_button()),
        Mode::WithAgent(agent) => (format!("Talking to {agent}"), "agent", end_button()),
    };
    let (beside, below) = if waiting_or_talking {
        (controls, String::new())
    } else {
        (String::new(), controls)
    };
    format!(
        r#"<div class="title-row"><div class="title"><h1>Support chat</h1><span class="pill {status_class}" id="chat-status">{status}</span></div>{beside}</div>
{below}"#,
        status = escape(&status),
    )
}

fn end_button() -> String {
    r#"<form method="post" action="/chat/end" data-ajax class="end"><button type="submit" class="danger" id="end-conversation">End conversation</button></form>"#.to_string()
}

fn feed_html(web: &Web, id: &str) -> String {
    let chats = web.chats();
    let Some(session) = chats.get(id) else {
        return String::new();
    };
    let mut lines: Vec<(String, Kind, String, String)> = session
        .lines
        .iter()
        .map(|line| {
            (
                line.at.clone(),
                line.kind,
                line.author.clone(),
                line.text.clone(),
            )
        })
        .collect();
    for conversation in &session.conversations {
        for message in web.inner.botpress.messages_in(conversation) {
            let author = user_name(web, message["userId"].as_str().unwrap_or_default());
            let text = match message["payload"]["text"].as_str() {
                Some(text) => text.to_string(),
                None => format!("({} message)", message["type"].as_str().unwrap_or("?")),
            };
            lines.push((
                message["createdAt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                Kind::Agent,
                author,
                text,
            ));
        }
        for event in events_of(web, conversation) {
            let text = match event["type"].as_str() {
                Some("hitlAssigned") => format!(
                    "{} joined the conversation.",
                    user_name(web, event["payload"]["userId"].as_str().unwrap_or_default())
                ),
                Some("hitlStopped") => "The agent closed the conversation.".to_string(),
                _ => continue,
            };
            lines.push((
                event["createdAt"].as_str().unwrap_or_default().to_string(),
                Kind::Notice,
                String::new(),
                text,
            ));
        }
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    lines
        .iter()
        .map(|(at, kind, author, text)| render_line(at, *kind, author, text))
        .collect()
}

fn render_line(at: &str, kind: Kind, author: &str, text: &str) -> String {
    let time = escape(&clock(at));
    match kind {
        Kind::Notice | Kind::Error => format!(
            r#"<li class="notice{error}"><span>{text}</span> <time>{time}</time></li>"#,
            error = if kind == Kind::Error { " error" } else { "" },
            text = escape(text),
        ),
        _ => {
            let class = match kind {
                Kind::Customer => "customer",
                Kind::Bot => "bot",
                _ => "agent",
            };
            let avatar = if kind == Kind::Customer {
                String::new()
            } else {
                format!(
                    r#"<span class="avatar" aria-hidden="true">{}</span>"#,
                    escape(&initials(author))
                )
            };
            format!(
                r#"<li class="msg {class}">{avatar}<div class="bubble"><span class="author">{author}</span><p>{text}</p><time>{time}</time></div></li>"#,
                author = escape(author),
                text = escape(text),
            )
        }
    }
}

pub async fn send(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Redirect {
    let text = field(&form, "text");
    let Some(id) = session_id(&headers) else {
        return back_to("/chat");
    };
    if text.is_empty() {
        return back_to("/chat");
    }
    let target = with_session(&web, &id, |session| {
        let handoff = match mode(&web, session) {
            Mode::Bot => None,
            _ => session.current.clone().zip(session.user_id.clone()),
        };
        let name = session.name.clone();
        session.lines.push(Line::now(Kind::Customer, &name, &text));
        if handoff.is_none() {
            session.current = None;
            session.lines.push(Line::now(Kind::Bot, "Bot", BOT_REPLY));
        }
        handoff
    });
    if let Some(Some((conversation, user))) = target {
        let (_, answer) = web
            .inner
            .caller
            .user_message(&conversation, &user, &text)
            .await;
        if !answer.is_success() {
            note_error(
                &web,
                &id,
                "Your message did not reach the agent",
                &answer.status,
                &answer.text,
            );
        }
    }
    back_to("/chat")
}

pub async fn handoff(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Redirect {
    let Some(id) = session_id(&headers) else {
        return back_to("/chat");
    };
    let (name, contact) = (field(&form, "name"), field(&form, "contact"));
    let asked = with_session(&web, &id, |session| {
        // The HITL plugin makes one Botpress user per end user (`createUser` once, then linked):
        // a visitor asking again with the same address is the user they were.
        let linked = session
            .user_id
            .clone()
            .filter(|_| session.contact == contact);
        session.name = name.clone();
        session.contact = contact.clone();
        session.current = None;
        session
            .lines
            .push(Line::now(Kind::Notice, "", "Asking for a human…"));
        let history = session
            .lines
            .iter()
            .filter(|line| matches!(line.kind, Kind::Customer | Kind::Bot))
            .map(|line| {
                json!({
                    "type": "text",
                    "payload": { "text": line.text },
                    "direction": if line.kind == Kind::Customer { "outgoing" } else { "incoming" },
                })
            })
            .collect::<Vec<_>>();
        (history, linked)
    });
    let Some((history, linked)) = asked else {
        return back_to("/chat");
    };
    let caller = &web.inner.caller;
    let user_id = match linked {
        Some(user_id) => user_id,
        None => {
            let created = caller.create_user(&name, Some(&contact)).await;
            let Some(user_id) = created.output()["userId"].as_str().map(str::to_string) else {
                note_error(
                    &web,
                    &id,
                    "createUser failed",
                    &created.status,
                    &created.text,
                );
                return back_to("/chat");
            };
            user_id
        }
    };
    let last_said = history
        .iter()
        .rev()
        .find(|message| message["direction"] == "outgoing")
        .and_then(|message| message["payload"]["text"].as_str())
        .map(str::to_string);
    let title = format!("Chat with {name}");
    let started = caller
        .start_hitl(
            &user_id,
            Some(&title),
            last_said.as_deref(),
            Value::Array(history),
        )
        .await;
    let Some(conversation) = started.output()["conversationId"]
        .as_str()
        .map(str::to_string)
    else {
        note_error(
            &web,
            &id,
            "startHitl failed",
            &started.status,
            &started.text,
        );
        return back_to("/chat");
    };
    with_session(&web, &id, |session| {
        session.user_id = Some(user_id);
        session.current = Some(conversation.clone());
        session.conversations.push(conversation);
        session.lines.push(Line::now(
            Kind::Notice,
            "",
            "You are in the queue: an agent will be with you shortly.",
        ));
    });
    back_to("/chat")
}

pub async fn end(State(web): State<Web>, headers: HeaderMap) -> Redirect {
    let Some(id) = session_id(&headers) else {
        return back_to("/chat");
    };
    let current = with_session(&web, &id, |session| session.current.take()).flatten();
    if let Some(conversation) = current {
        let answer = web.inner.caller.stop_hitl(&conversation).await;
        if answer.is_success() {
            with_session(&web, &id, |session| {
                session
                    .lines
                    .push(Line::now(Kind::Notice, "", "You ended the conversation."));
            });
        } else {
            with_session(&web, &id, |session| session.current = Some(conversation));
            note_error(&web, &id, "stopHitl failed", &answer.status, &answer.text);
        }
    }
    back_to("/chat")
}

pub async fn new_chat(State(web): State<Web>, headers: HeaderMap) -> Redirect {
    if let Some(id) = session_id(&headers) {
        web.chats().insert(id, Session::new());
    }
    back_to("/chat")
}

/// A failed call shown in the chat, with what the bridge said (it names the problem, e.g. a
/// contact HubSpot does not know).
fn note_error(web: &Web, id: &str, what: &str, status: &u16, text: &str) {
    let said = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|body| {
            ["/message", "/error/message", "/error"]
                .iter()
                .find_map(|pointer| {
                    body.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    let status = if *status == 0 {
        "no answer".to_string()
    } else {
        status.to_string()
    };
    with_session(web, id, |session| {
        session.lines.push(Line::now(
            Kind::Error,
            "",
            &format!("{what} ({status}): {said}"),
        ));
    });
}

/// A form field, trimmed; empty when absent.
pub(super) fn field(form: &HashMap<String, String>, name: &str) -> String {
    form.get(name)
        .map(|value| value.trim().to_string())
        .unwrap_or_default()
}
