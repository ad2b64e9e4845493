use serde::{Deserialize, Serialize};

use super::DeliveryIdentifier;

/// How long the bridge keeps a customer's record (their name, address and HubSpot contact)
/// after it was made or last used to open a handoff: long enough that a returning customer
/// costs no lookup, short enough that the bridge does not hold every address it ever saw.
/// One that has expired is rebuilt when the customer hands off again
/// (`Relay::customer_for_handoff`).
pub const CUSTOMER_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// A bot user who may ask for a human: the Botpress user `createUser` answered with, and how
/// HubSpot knows them. Kept so `startHitl` can address the thread to the right contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub bot_id: String,
    pub botpress_user_id: String,
    pub name: String,
    pub identifier: DeliveryIdentifier,
    /// `None` for a visitor who gave no email or phone: the help desk knows them by the
    /// channel's own id, with no CRM contact.
    pub hubspot_contact_id: Option<String>,
}

/// The Botpress user that stands for a help-desk agent in one bot, cached so a busy thread
/// costs one lookup rather than one per message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUser {
    pub bot_id: String,
    pub actor_id: String,
    pub botpress_user_id: String,
    pub name: Option<String>,
}
