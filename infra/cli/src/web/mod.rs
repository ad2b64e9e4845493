//! The sandbox's face: web pages a person uses to watch (and drive) a handoff.
//!
//! - `/chat`: the customer's chat widget, as the bot's web chat with Botpress's HITL plugin
//!   would be: "Talk to a human" calls the bridge's `createUser` and `startHitl` as Botpress
//!   Cloud does ([`BotpressCaller`]); messages then go through `message_created`; the agent's
//!   replies and the `hitlAssigned` / `hitlStopped` notices are read back from the simulated
//!   Botpress.
//! - `/helpdesk`: HubSpot's Help Desk, as an agent sees it: threads, transcripts, and the
//!   assign / reply / close actions, which send the bridge the signed webhooks HubSpot would.
//! - An event log beside both: every call crossing the bridge, newest first.
//!
//! Server-rendered HTML with a little vanilla JavaScript that submits forms in place and polls
//! the live regions (`data-live`) once a second. Nothing is fetched from elsewhere.

mod chat;
mod helpdesk;
mod html;
mod log;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use hitl_sandbox::botpress::{BotpressCaller, BotpressSim};
use hitl_sandbox::hubspot::HubSpotSim;

use crate::sandbox_stack::SandboxStack;

pub use html::escape;

/// What the pages read and drive: the two simulators and Botpress's caller, plus the customers'
/// chat sessions. Cheap to clone.
#[derive(Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

struct Inner {
    hubspot: HubSpotSim,
    botpress: BotpressSim,
    caller: BotpressCaller,
    chats: Mutex<HashMap<String, chat::Session>>,
    /// The last help-desk action that failed, shown on the thread it concerns.
    helpdesk_error: Mutex<Option<(String, String)>>,
}

impl Web {
    pub fn new(stack: &SandboxStack) -> Self {
        Self {
            inner: Arc::new(Inner {
                hubspot: stack.hubspot.clone(),
                botpress: stack.botpress.clone(),
                caller: stack.caller.clone(),
                chats: Mutex::new(HashMap::new()),
                helpdesk_error: Mutex::new(None),
            }),
        }
    }

    fn chats(&self) -> MutexGuard<'_, HashMap<String, chat::Session>> {
        self.inner.chats.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/assets/app.css", get(css))
            .route("/assets/app.js", get(js))
            .route("/chat", get(chat::page))
            .route("/chat/live/header", get(chat::header_fragment))
            .route("/chat/live/feed", get(chat::feed_fragment))
            .route("/chat/send", post(chat::send))
            .route("/chat/handoff", post(chat::handoff))
            .route("/chat/end", post(chat::end))
            .route("/chat/new", post(chat::new_chat))
            .route("/helpdesk", get(helpdesk::inbox))
            .route("/helpdesk/threads/{id}", get(helpdesk::thread_page))
            .route("/helpdesk/live/list", get(helpdesk::list_fragment))
            .route("/helpdesk/live/thread/{id}", get(helpdesk::thread_fragment))
            .route(
                "/helpdesk/live/actions/{id}",
                get(helpdesk::actions_fragment),
            )
            .route("/helpdesk/threads/{id}/assign", post(helpdesk::assign))
            .route("/helpdesk/threads/{id}/reply", post(helpdesk::reply))
            .route("/helpdesk/threads/{id}/close", post(helpdesk::close))
            .route("/log/live", get(log::fragment))
            .with_state(self.clone())
    }
}

/// Serves the pages on `listen` (another free port when that one is taken) and returns where.
pub async fn serve(stack: &SandboxStack, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0))
            .await
            .with_context(|| format!("cannot serve the sandbox's pages on {}", listen.ip()))?,
    };
    let address = listener.local_addr()?;
    let router = Web::new(stack).router();
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the sandbox's web pages stopped");
        }
    });
    Ok(address)
}

/// Where the pages go by default: the port after the bridge's (a free one when the bridge's
/// port was picked by the system).
pub fn address_beside(bridge: SocketAddr) -> SocketAddr {
    let port = match bridge.port() {
        0 | u16::MAX => 0,
        port => port + 1,
    };
    SocketAddr::new(bridge.ip(), port)
}

/// Prints the pages' addresses, for `hitl serve --sandbox`.
pub fn print_links(address: SocketAddr) {
    println!("  web pages:");
    println!("    customer chat:      http://{address}/chat");
    println!("    agent help desk:    http://{address}/helpdesk");
}

async fn index() -> Html<String> {
    html::page(
        "hitl sandbox",
        html::Nav::Home,
        r#"<main class="home">
<section class="card">
<h1>hitl sandbox</h1>
<p>The bridge, a simulated HubSpot and a simulated Botpress, running in one process. Open the two
pages side by side and hand a conversation over.</p>
<ul class="links">
<li><a href="/chat"><strong>Customer chat</strong><span>the bot's chat widget: talk to a human</span></a></li>
<li><a href="/helpdesk"><strong>Agent help desk</strong><span>HubSpot's Help Desk: assign, reply, close</span></a></li>
</ul>
</section>
</main>"#,
    )
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
}

/// After a form POST: back to the page (the script ignores it and refreshes the live regions).
fn back_to(path: &str) -> Redirect {
    Redirect::to(path)
}

#[cfg(test)]
mod tests;
