use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::model::BotpressContext;

use super::UpstreamError;

/// A message the bridge creates in a Botpress conversation (an agent's reply).
#[derive(Clone, Debug)]
pub struct BotpressMessage {
    pub conversation_id: String,
    pub user_id: String,
    pub kind: String,
    pub payload: Value,
    /// Must identify the message uniquely: it is how a retry finds the message it created.
    pub tags: BTreeMap<String, String>,
    /// How long Botpress holds the message before the bot sees it (`schedule.delay`), if at
    /// all.
    pub delay: Option<std::time::Duration>,
}

/// A Botpress user as `getUser` answers it: what the bridge needs of one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BotpressUser {
    pub name: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A user as `getOrCreateUser` answers it: its id, and the name and picture it has now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoundUser {
    pub id: String,
    pub name: Option<String>,
    pub picture_url: Option<String>,
}

/// The Botpress Runtime API calls the relay makes, as an integration call.
#[async_trait]
pub trait BotpressGateway: Send + Sync {
    /// A new user, even when another has the same tags (`createUser`).
    async fn create_user(
        &self,
        bot: &BotpressContext,
        tags: BTreeMap<String, String>,
        name: Option<&str>,
        picture_url: Option<&str>,
    ) -> Result<String, UpstreamError>;
    /// The user with this id (`getUser`); `None` when Botpress has none.
    async fn user(
        &self,
        bot: &BotpressContext,
        user_id: &str,
    ) -> Result<Option<BotpressUser>, UpstreamError>;
    /// The user with these tags, or a new one with them, the name and the picture
    /// (`getOrCreateUser`). Botpress's document says a user found is "retrieved": whether it
    /// also takes the name and picture given is not said, so callers compare what it answers.
    async fn get_or_create_user(
        &self,
        bot: &BotpressContext,
        tags: BTreeMap<String, String>,
        name: Option<&str>,
        picture_url: Option<&str>,
    ) -> Result<FoundUser, UpstreamError>;
    /// Sets the user's name and picture (`updateUser`); `None` leaves one as it is.
    async fn update_user(
        &self,
        bot: &BotpressContext,
        user_id: &str,
        name: Option<&str>,
        picture_url: Option<&str>,
    ) -> Result<(), UpstreamError>;
    async fn get_or_create_conversation(
        &self,
        bot: &BotpressContext,
        tags: BTreeMap<String, String>,
    ) -> Result<String, UpstreamError>;
    /// Creates the message unless one with the same tags exists in the conversation.
    async fn get_or_create_message(
        &self,
        bot: &BotpressContext,
        message: &BotpressMessage,
    ) -> Result<String, UpstreamError>;
    /// Emits an event of the integration into the conversation; with `delay`, Botpress holds
    /// it that long before the bot sees it (`schedule.delay`).
    async fn create_event(
        &self,
        bot: &BotpressContext,
        event_type: &str,
        conversation_id: &str,
        payload: Value,
        delay: Option<std::time::Duration>,
    ) -> Result<(), UpstreamError>;
}
