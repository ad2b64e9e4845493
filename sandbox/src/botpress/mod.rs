//! Simulated Botpress, both sides of it.
//!
//! - [`BotpressSim`] serves the Runtime API (`/v1/chat/*`) that the bridge calls back into: it
//!   validates bodies as the OpenAPI document states them, keeps what was created, and lets tests
//!   read it back and inject failures.
//! - [`BotpressCaller`] plays Botpress Cloud calling the integration: the `x-bp-*` headers and the
//!   bodies of `register`, `action_triggered` (`createUser`, `startHitl`, `stopHitl`) and
//!   `message_created`.

mod caller;
mod errors;
mod faults;
mod guard;
mod ids;
mod media;
mod model;
mod requests;
mod runtime_api;
mod state;
mod store;

#[cfg(test)]
mod tests;

use std::{net::SocketAddr, sync::Arc};

use serde_json::Value;
use tokio::net::TcpListener;

pub use caller::{BotpressCaller, CallResult, CallerIdentity};
pub use faults::HeldCall;
pub use ids::new_id;

use crate::Recorder;
use model::to_json;
use state::SimState;

/// How a simulated Botpress accepts calls.
#[derive(Debug, Clone)]
pub struct BotpressSimConfig {
    /// The bearer token it accepts (what the bridge holds as the integration's access key).
    pub token: String,
    /// The only `x-bot-id` it accepts: the one bot this simulator stands for.
    pub bot_id: String,
}

impl Default for BotpressSimConfig {
    fn default() -> Self {
        Self {
            token: "sandbox-botpress-token".to_string(),
            bot_id: "sandbox-bot".to_string(),
        }
    }
}

/// A running simulated Botpress Runtime API. Cheap to clone: clones share the server and its state.
/// The server runs on the tokio runtime that started it, until that runtime shuts down.
#[derive(Clone)]
pub struct BotpressSim {
    state: Arc<SimState>,
    recorder: Recorder,
    addr: SocketAddr,
    media: media::MediaFiles,
}

impl BotpressSim {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(config: BotpressSimConfig) -> std::io::Result<BotpressSim> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr` (port 0 picks a free one).
    pub async fn start_on(
        config: BotpressSimConfig,
        addr: SocketAddr,
    ) -> std::io::Result<BotpressSim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState::new(config));
        let recorder = Recorder::default();
        let media = media::MediaFiles::default();
        let app = runtime_api::router(state.clone(), recorder.clone())
            .merge(media::router(media.clone()));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "simulated Botpress stopped serving");
            }
        });
        tracing::info!(%addr, "simulated Botpress Runtime API listening");
        Ok(BotpressSim {
            state,
            recorder,
            addr,
            media,
        })
    }

    /// Hosts a file a chat user sends and returns its URL, for an `image` / `file` / `audio` /
    /// `video` message's payload.
    pub fn host_file(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
        self.media.put_file(name, content_type, bytes);
        self.media_url(name)
    }

    /// Makes `/media/{name}` answer `302 Found` to `location`; returns its URL.
    pub fn host_redirect(&self, name: &str, location: &str) -> String {
        self.media.put_redirect(name, location);
        self.media_url(name)
    }

    /// Makes `/media/{name}` answer `503` until a file is hosted there; returns its URL.
    pub fn host_unavailable(&self, name: &str) -> String {
        self.media.put_unavailable(name);
        self.media_url(name)
    }

    /// How many times `/media/{name}` was fetched.
    pub fn media_fetches(&self, name: &str) -> usize {
        self.media.fetches(name)
    }

    /// Where `/media/{name}` is served.
    pub fn media_url(&self, name: &str) -> String {
        format!("{}/media/{name}", self.base_url())
    }

    /// `http://127.0.0.1:PORT`, the value for the bridge's Botpress API base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &BotpressSimConfig {
        &self.state.config
    }

    /// Every call answered, with its status, in order.
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// User objects as the API returns them, in creation order.
    pub fn users(&self) -> Vec<Value> {
        self.state.store().users.iter().map(to_json).collect()
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        self.state.store().user(id).map(to_json)
    }

    /// Conversation objects as the API returns them, in creation order.
    pub fn conversations(&self) -> Vec<Value> {
        self.state
            .store()
            .conversations
            .iter()
            .map(to_json)
            .collect()
    }

    pub fn conversation(&self, id: &str) -> Option<Value> {
        self.state.store().conversation(id).map(to_json)
    }

    /// Message objects as the API returns them, in creation order.
    pub fn messages(&self) -> Vec<Value> {
        self.state.store().messages.iter().map(to_json).collect()
    }

    /// The messages of one conversation, in creation order.
    pub fn messages_in(&self, conversation_id: &str) -> Vec<Value> {
        self.state
            .store()
            .messages
            .iter()
            .filter(|message| message.conversation_id == conversation_id)
            .map(to_json)
            .collect()
    }

    /// Event objects as the API returns them, in creation order.
    pub fn events(&self) -> Vec<Value> {
        self.state.store().events.iter().map(to_json).collect()
    }

    /// The events of one type (e.g. `hitlAssigned`), in creation order.
    pub fn events_of_type(&self, event_type: &str) -> Vec<Value> {
        self.state
            .store()
            .events
            .iter()
            .filter(|event| event.kind == event_type)
            .map(to_json)
            .collect()
    }

    /// `getOrCreateUser` returns a user it finds as it is, without the name and picture the
    /// call gives (`true`), or updates it with them (`false`, the default). Botpress's
    /// document says only that the user is "retrieved"; tests run the bridge under both.
    pub fn keep_found_users_as_they_are(&self, keep: bool) {
        self.state.keep_found_users_as_they_are(keep);
    }

    /// Fault injection: the next `count` calls whose path starts with `path_prefix` (e.g.
    /// `/v1/chat/messages`) answer `status` with a Botpress error body, before any other check.
    /// Faults armed earlier are used up first.
    pub fn fail_next(&self, path_prefix: &str, status: u16, count: usize) {
        self.state.faults().arm(path_prefix, status, count);
    }

    /// Every call waits this long before it is answered (a slow Botpress).
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.state.faults().set_latency(latency);
    }

    /// Holds the next call whose path starts with `path_prefix` (after any latency, before
    /// any fault) until the returned [`HeldCall`] is released or dropped.
    pub fn hold_next(&self, path_prefix: &str) -> HeldCall {
        self.state.faults().hold(path_prefix)
    }

    /// Carries out the next call under `path_prefix` and holds its answer until the returned
    /// hold is released or dropped (Botpress acted; its caller does not know yet).
    pub fn hold_next_answer(&self, path_prefix: &str) -> HeldCall {
        self.state.faults().hold_answer(path_prefix)
    }

    /// Disarms every fault `fail_next` armed, the holds not yet used, and the latency
    /// (Botpress recovered).
    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }
}
