//! The use cases: what happens when Botpress or HubSpot tells the bridge something.
//! Plain async functions over the ports; the HTTP layer only parses and maps errors.

mod agent_replies;
mod agents;
mod asked_again;
mod attachments;
mod batch;
mod contact_creation;
mod error;
mod file_uploads;
mod handoff;
mod help_desk_events;
mod inbox_choice;
mod late_messages;
mod left_for_later;
mod once;
mod owed_statuses;
mod pending_closes;
mod registration;
mod reply_order;
mod thread_close;
mod transcript;
mod users;

use std::sync::Arc;

pub use attachments::{UserContent, UserFileKind};
pub use batch::BatchOutcome;
pub use error::RelayError;
pub use handoff::StartHandoffInput;
pub use help_desk_events::{HelpDeskEvent, THREAD_DELETED, ThreadChange};
pub use once::Outcome;
pub use registration::Connection;
pub(crate) use transcript::describe as describe_message;
pub use users::CreateUserInput;

use crate::ports::{BotpressGateway, BridgeStore, Clock, FileSource, HubSpotGateway};

/// What the relay needs to know about this deployment.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    /// Our custom channel's `webhookUrl`.
    pub webhook_url: String,
    /// The Help Desk inbox a handoff opens in when `startHitl` names none.
    pub help_desk_inbox_id: String,
    pub channel_name: String,
    pub default_phone_region: Option<String>,
    /// Whether `createUser` creates the HubSpot contact of a customer the CRM has not seen
    /// (needs the `crm.objects.contacts.write` scope); off, such a customer is refused.
    pub create_missing_contacts: bool,
}

/// The bridge's use cases over its ports.
pub struct Relay {
    store: Arc<dyn BridgeStore>,
    hubspot: Arc<dyn HubSpotGateway>,
    botpress: Arc<dyn BotpressGateway>,
    clock: Arc<dyn Clock>,
    settings: RelaySettings,
    /// Where customers' files are downloaded from; refuses every file until the composition
    /// root gives it the real fetcher ([`Relay::with_file_source`]).
    files: Arc<dyn FileSource>,
    /// Agents this process has met: their Botpress users and HubSpot profiles.
    agents: agents::AgentCache,
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
            files: Arc::new(attachments::NoFileSource),
            agents: agents::AgentCache::default(),
        }
    }

    /// The fetcher for the files customers send.
    pub fn with_file_source(mut self, files: Arc<dyn FileSource>) -> Self {
        self.files = files;
        self
    }

    /// The store, for operator tooling that reads what the relay recorded.
    pub fn store(&self) -> &dyn BridgeStore {
        self.store.as_ref()
    }
}
