use serde::{Deserialize, Serialize};

use super::DeliveryIdentifier;

/// A bot user who may ask for a human: the Botpress user `createUser` answered with, and how
/// HubSpot knows them. Kept so `startHitl` can address the thread to the right contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub bot_id: String,
    pub botpress_user_id: String,
    pub name: String,
    pub identifier: DeliveryIdentifier,
    pub hubspot_contact_id: String,
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
