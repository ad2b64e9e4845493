//! The simulated account's state, shared by the HTTP handlers and the test-facing `HubSpotSim`.
//!
//! One `std::sync::Mutex` guards everything: requests are few and short, and a single lock makes
//! every operation atomic (a publish that creates a thread and a message is seen whole or not at
//! all). The lock is never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::Delivery;
use super::config::HubSpotSimConfig;
use super::model::{Agent, Channel, ChannelAccount, Contact, Inbox, Message, Thread};
use crate::Recorder;

/// The handlers' axum state.
pub(crate) type AppState = Arc<Shared>;

pub(crate) struct Shared {
    pub(crate) config: HubSpotSimConfig,
    pub(crate) base_url: String,
    pub(crate) recorder: Recorder,
    /// Injected rate limits, errors and latency (tests arm them through `HubSpotSim::faults`).
    pub(crate) faults: crate::faults::FaultPlan,
    /// Delivers webhooks; the 10 s timeout keeps a hung bridge from stalling a test forever.
    pub(crate) http: reqwest::Client,
    store: Mutex<Store>,
}

impl Shared {
    pub(crate) fn new(config: HubSpotSimConfig, base_url: String) -> std::io::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let store = Store::new(&config);
        Ok(Self {
            config,
            base_url,
            recorder: Recorder::default(),
            faults: crate::faults::FaultPlan::default(),
            http,
            store: Mutex::new(store),
        })
    }

    /// Locks the store. A panic while holding the lock would only come from a bug in the
    /// simulator itself, so a poisoned lock is taken over rather than propagated.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Id counters start at realistic magnitudes so ids look like HubSpot's (and a thread id fits
/// the number an app webhook carries as `objectId`).
pub(crate) struct Ids {
    channel: u64,
    channel_account: u64,
    thread: u64,
    contact: u64,
    visitor: u64,
    event: u64,
}

impl Ids {
    fn new() -> Self {
        Self {
            channel: 5_000_000,
            channel_account: 8_000_000,
            thread: 3_624_100_000,
            contact: 100,
            visitor: 70_000_000,
            event: 3_814_323_000,
        }
    }

    fn bump(counter: &mut u64) -> u64 {
        *counter += 1;
        *counter
    }

    pub(crate) fn channel(&mut self) -> String {
        Self::bump(&mut self.channel).to_string()
    }
    pub(crate) fn channel_account(&mut self) -> String {
        Self::bump(&mut self.channel_account).to_string()
    }
    pub(crate) fn thread(&mut self) -> String {
        Self::bump(&mut self.thread).to_string()
    }
    pub(crate) fn contact(&mut self) -> String {
        Self::bump(&mut self.contact).to_string()
    }
    pub(crate) fn visitor(&mut self) -> String {
        Self::bump(&mut self.visitor).to_string()
    }
    pub(crate) fn event(&mut self) -> u64 {
        Self::bump(&mut self.event)
    }
    /// Message ids are 32 hex digits, like HubSpot's.
    pub(crate) fn message(&mut self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

pub(crate) struct Store {
    pub(crate) ids: Ids,
    /// Access token → when it expires.
    pub(crate) access_tokens: HashMap<String, DateTime<Utc>>,
    /// Refresh tokens that currently work.
    pub(crate) refresh_tokens: HashSet<String>,
    /// The refresh token most recently issued (or configured).
    pub(crate) current_refresh_token: String,
    pub(crate) authorization_codes: HashSet<String>,
    pub(crate) inboxes: Vec<Inbox>,
    pub(crate) channels: Vec<Channel>,
    pub(crate) channel_accounts: Vec<ChannelAccount>,
    pub(crate) threads: Vec<Thread>,
    pub(crate) messages: Vec<Message>,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) agents: Vec<Agent>,
    pub(crate) app_webhook_url: Option<String>,
    pub(crate) deliveries: Vec<Delivery>,
    /// The file manager's files (`file_manager.rs`).
    pub(crate) files: Vec<super::file_manager::StoredFile>,
}

impl Store {
    fn new(config: &HubSpotSimConfig) -> Self {
        let now = Utc::now();
        // A second, ordinary inbox makes "pick the HELP_DESK inbox" a real choice for the bridge.
        let chat_inbox_id = if config.help_desk_inbox_id == "1002" {
            "1003"
        } else {
            "1002"
        };
        Self {
            ids: Ids::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::from([config.refresh_token.clone()]),
            current_refresh_token: config.refresh_token.clone(),
            authorization_codes: HashSet::new(),
            inboxes: vec![
                Inbox {
                    id: chat_inbox_id.to_string(),
                    name: "Chat inbox".to_string(),
                    kind: "INBOX",
                    created_at: now,
                },
                Inbox {
                    id: config.help_desk_inbox_id.clone(),
                    name: "Help Desk".to_string(),
                    kind: "HELP_DESK",
                    created_at: now,
                },
            ],
            channels: Vec::new(),
            channel_accounts: Vec::new(),
            threads: Vec::new(),
            messages: Vec::new(),
            contacts: Vec::new(),
            agents: Vec::new(),
            app_webhook_url: None,
            deliveries: Vec::new(),
            files: Vec::new(),
        }
    }

    pub(crate) fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|channel| channel.id == id)
    }

    pub(crate) fn thread(&self, id: &str) -> Option<&Thread> {
        self.threads.iter().find(|thread| thread.id == id)
    }

    pub(crate) fn thread_mut(&mut self, id: &str) -> Option<&mut Thread> {
        self.threads.iter_mut().find(|thread| thread.id == id)
    }

    pub(crate) fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|agent| agent.id == id)
    }

    pub(crate) fn thread_messages(&self, thread_id: &str) -> impl Iterator<Item = &Message> {
        self.messages
            .iter()
            .filter(move |message| message.thread_id == thread_id)
    }
}
