//! Simulated HubSpot: OAuth, Custom Channels, Conversations (inboxes, threads, actors) and CRM
//! contacts, answering as HubSpot's OpenAPI documents in `shared/specs/hubspot` say, and sending
//! the bridge signed webhooks when a simulated agent acts.
//!
//! Tests drive it from both sides: the bridge calls the HTTP API, and the test plays the help-desk
//! agent with [`HubSpotSim::agent_reply`], [`HubSpotSim::assign`], [`HubSpotSim::close`], ...

mod actors;
mod agent;
mod auth;
mod channel_accounts;
mod channels;
mod config;
mod contacts;
mod delivery_identifier;
mod errors;
mod extract;
mod file_manager;
mod inboxes;
mod messages;
mod model;
mod oauth;
mod publish;
mod router;
mod snapshot;
mod state;
mod thread_messages;
mod threads;
mod webhooks;

#[cfg(test)]
mod test_support;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;

pub use agent::{AgentContent, HeldWebhook};
pub use config::HubSpotSimConfig;
pub use snapshot::{MessageSnapshot, ThreadSnapshot};
pub use webhooks::sign_v3;

use model::{Agent, Contact};
use state::{AppState, Shared};

/// One webhook the simulator POSTed, and how the bridge answered. `status` is 0 when the bridge
/// could not be reached (then `response_body` holds the error).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub url: String,
    pub body: String,
    pub status: u16,
    pub response_body: String,
    /// When it was sent.
    pub sent_at: chrono::DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulated HubSpot has no thread {0}")]
    UnknownThread(String),
    #[error("the thread's channel {0} no longer exists")]
    UnknownChannel(String),
    #[error("no webhook URL to deliver to: {0}")]
    NoWebhookUrl(String),
    #[error("webhook delivery failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// A running simulated HubSpot. Cheap to clone; every clone sees the same account.
#[derive(Clone)]
pub struct HubSpotSim {
    shared: AppState,
}

impl HubSpotSim {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(config: HubSpotSimConfig) -> std::io::Result<HubSpotSim> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr` and serves until the tokio runtime stops.
    pub async fn start_on(
        config: HubSpotSimConfig,
        addr: SocketAddr,
    ) -> std::io::Result<HubSpotSim> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{local}"))?);
        let app = router::build(shared.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "simulated HubSpot stopped");
            }
        });
        Ok(HubSpotSim { shared })
    }

    /// `http://127.0.0.1:PORT`, to use as the bridge's HubSpot API base URL.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> &HubSpotSimConfig {
        &self.shared.config
    }

    /// Every request the simulator answered.
    pub fn recorder(&self) -> crate::Recorder {
        self.shared.recorder.clone()
    }

    /// Rate limits, errors and latency to inject, on the path prefixes a test chooses.
    pub fn faults(&self) -> crate::faults::FaultPlan {
        self.shared.faults.clone()
    }

    /// Where app webhooks (`conversation.propertyChange` arrays) are POSTed.
    pub fn set_app_webhook_url(&self, url: &str) {
        self.shared.store().app_webhook_url = Some(url.to_string());
    }

    /// Makes `code` acceptable once for `grant_type=authorization_code`.
    pub fn add_authorization_code(&self, code: &str) {
        self.shared
            .store()
            .authorization_codes
            .insert(code.to_string());
    }

    /// Adds a CRM contact and returns its id.
    pub fn add_contact(&self, email: Option<&str>, phone: Option<&str>, firstname: &str) -> String {
        let mut store = self.shared.store();
        let id = store.ids.contact();
        store.contacts.push(Contact {
            id: id.clone(),
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            mobile_phone: None,
            firstname: firstname.to_string(),
            lastname: None,
            created_at: Utc::now(),
        });
        id
    }

    /// A contact's addresses are edited in the CRM: each given as it now is (`None` cleared).
    /// Panics on an unknown id (a test's mistake).
    pub fn edit_contact_addresses(
        &self,
        id: &str,
        email: Option<&str>,
        phone: Option<&str>,
        mobile_phone: Option<&str>,
    ) {
        let mut store = self.shared.store();
        let contact = store
            .contacts
            .iter_mut()
            .find(|contact| contact.id == id)
            .unwrap_or_else(|| panic!("no contact {id}"));
        // Stored as a create stores it: HubSpot keeps emails in lower case.
        contact.email = email.map(str::to_lowercase);
        contact.phone = phone.map(str::to_string);
        contact.mobile_phone = mobile_phone.map(str::to_string);
    }

    /// A contact is deleted in the CRM: reading it by id answers 404 from now on, as HubSpot
    /// does. Panics on an unknown id (a test's mistake).
    pub fn delete_contact(&self, id: &str) {
        let mut store = self.shared.store();
        let before = store.contacts.len();
        store.contacts.retain(|contact| contact.id != id);
        assert!(store.contacts.len() < before, "no contact {id}");
    }

    /// The ids of the contacts whose email (case aside), phone or mobile phone is
    /// `email_or_phone`.
    pub fn contacts_reached_at(&self, email_or_phone: &str) -> Vec<String> {
        self.shared
            .store()
            .contacts
            .iter()
            .filter(|contact| {
                contact
                    .email
                    .as_deref()
                    .is_some_and(|email| email.eq_ignore_ascii_case(email_or_phone))
                    || contact.phone.as_deref() == Some(email_or_phone)
                    || contact.mobile_phone.as_deref() == Some(email_or_phone)
            })
            .map(|contact| contact.id.clone())
            .collect()
    }

    /// Adds an inbox to the account: a Help Desk one when `help_desk`, else an ordinary one.
    pub fn add_inbox(&self, id: &str, name: &str, help_desk: bool) {
        self.shared.store().inboxes.push(model::Inbox {
            id: id.to_string(),
            name: name.to_string(),
            kind: if help_desk { "HELP_DESK" } else { "INBOX" },
            created_at: Utc::now(),
        });
    }

    /// Adds a custom channel as if the app had created it earlier (e.g. an older bridge, with
    /// other `capabilities`); returns its id.
    pub fn add_channel(
        &self,
        name: &str,
        webhook_url: &str,
        capabilities: serde_json::Value,
    ) -> String {
        let mut store = self.shared.store();
        let id = store.ids.channel();
        store.channels.push(model::Channel {
            id: id.clone(),
            name: name.to_string(),
            capabilities,
            webhook_url: Some(webhook_url.to_string()),
            description: None,
            logo_url: None,
            connection_redirect_url: None,
            created_at: Utc::now(),
        });
        id
    }

    /// Adds (or renames) a help-desk agent; `actor_id` looks like `A-12345`.
    pub fn add_agent(&self, actor_id: &str, name: &str, email: &str) {
        let mut store = self.shared.store();
        store.agents.retain(|agent| agent.id != actor_id);
        store.agents.push(Agent {
            id: actor_id.to_string(),
            name: name.to_string(),
            email: email.to_string(),
        });
    }

    /// Every access token issued so far now answers 401 EXPIRED_AUTHENTICATION.
    pub fn expire_access_tokens(&self) {
        let expired = Utc::now() - chrono::Duration::seconds(1);
        for expires_at in self.shared.store().access_tokens.values_mut() {
            *expires_at = expired.min(*expires_at);
        }
    }

    /// The refresh token that works now (the latest one issued when tokens rotate).
    pub fn current_refresh_token(&self) -> String {
        self.shared.store().current_refresh_token.clone()
    }

    /// The custom channels, as `GET /conversations/v3/custom-channels/{id}` answers them.
    pub fn channels(&self) -> Vec<serde_json::Value> {
        self.shared
            .store()
            .channels
            .iter()
            .map(channels::render)
            .collect()
    }

    /// The channel accounts, as `GET .../channel-accounts/{id}` answers them.
    pub fn channel_accounts(&self) -> Vec<serde_json::Value> {
        self.shared
            .store()
            .channel_accounts
            .iter()
            .map(channel_accounts::render)
            .collect()
    }

    /// An admin disconnects a channel account in HubSpot (`authorized: false`), as `hitl
    /// teardown` does before deleting its channel.
    pub fn disable_channel_account(&self, account_id: &str) {
        if let Some(account) = self
            .shared
            .store()
            .channel_accounts
            .iter_mut()
            .find(|account| account.id == account_id)
        {
            account.authorized = false;
        }
    }

    pub fn threads(&self) -> Vec<ThreadSnapshot> {
        let store = self.shared.store();
        store
            .threads
            .iter()
            .map(|thread| snapshot::thread(&store, thread))
            .collect()
    }

    /// The thread with a message from `sender` (an email address, a phone, a name): the one a
    /// customer's handoff opened.
    pub fn thread_opened_by(&self, sender: &str) -> Option<ThreadSnapshot> {
        self.threads().into_iter().find(|thread| {
            thread
                .messages
                .iter()
                .any(|message| message.senders.to_string().contains(sender))
        })
    }

    pub fn thread(&self, thread_id: &str) -> Option<ThreadSnapshot> {
        let store = self.shared.store();
        store
            .thread(thread_id)
            .map(|thread| snapshot::thread(&store, thread))
    }

    /// Every webhook delivery made, in the order they completed.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.store().deliveries.clone()
    }

    /// POSTs `body` to `url`, signed like HubSpot, for tests that craft their own events.
    pub async fn deliver_raw(&self, url: &str, body: String) -> Result<Delivery, SimError> {
        webhooks::deliver(&self.shared, url, body).await
    }

    /// HubSpot's retry of `delivery`: same URL and body (with `attemptNumber` + 1 for app
    /// webhooks), fresh timestamp and signature.
    pub async fn redeliver(&self, delivery: &Delivery) -> Result<Delivery, SimError> {
        webhooks::deliver(
            &self.shared,
            &delivery.url,
            webhooks::next_attempt(&delivery.body),
        )
        .await
    }
}
