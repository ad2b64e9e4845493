//! The use cases: what happens when Botpress or HubSpot tells the bridge something.
//! Plain async functions over the ports; the HTTP layer only parses and maps errors.

mod agents;
mod batch;
mod error;
mod handoff;
mod help_desk_events;
mod once;
mod registration;
mod users;

use std::sync::Arc;

pub use batch::BatchOutcome;
pub use error::RelayError;
pub use handoff::StartHandoffInput;
pub use help_desk_events::{AgentReply, HelpDeskEvent, ThreadChange};
pub use once::Outcome;
pub use users::CreateUserInput;

use crate::ports::{BotpressGateway, BridgeStore, Clock, HubSpotGateway};

/// What the relay needs to know about this deployment.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    /// Our custom channel's `webhookUrl`.
    pub webhook_url: String,
    pub help_desk_inbox_id: String,
    pub channel_name: String,
    pub default_phone_region: Option<String>,
}

/// The bridge's use cases over its ports.
pub struct Relay {
    store: Arc<dyn BridgeStore>,
    hubspot: Arc<dyn HubSpotGateway>,
    botpress: Arc<dyn BotpressGateway>,
    clock: Arc<dyn Clock>,
    settings: RelaySettings,
}

impl Relay {
    pub fn new(
        store: Arc<dyn BridgeStore>,
        hubspot: Arc<dyn HubSpotGateway>,
        botpress: Arc<dyn BotpressGateway>,
        clock: Arc<dyn Clock>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            store,
            hubspot,
            botpress,
            clock,
            settings,
        }
    }

    /// The store, for operator tooling that reads what the relay recorded.
    pub fn store(&self) -> &dyn BridgeStore {
        self.store.as_ref()
    }
}
