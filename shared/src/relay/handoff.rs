use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Relay, RelayError};
use crate::model::{BotpressContext, HandoffSession, SessionStatus};
use crate::ports::{IncomingMessage, ThreadStatus};

/// `startHitl`'s input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartHandoffInput {
    pub user_id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub hitl_session: Option<Value>,
    #[serde(default)]
    pub message_history: Vec<Value>,
}

/// The Botpress conversation tag that ties a `hitl` conversation to its HubSpot thread.
pub(crate) const THREAD_TAG: &str = "hubspotThreadId";
/// What the opening message says when the bot gave no title.
const DEFAULT_TITLE: &str = "A customer asked to talk to a person";

impl Relay {
    /// Opens a thread in the Help Desk for the customer and the `hitl` conversation on the
    /// Botpress side, and maps them both ways.
    ///
    /// Safe to retry at any point: the session is inserted first (one active session per
    /// customer), the opening message carries an idempotency id HubSpot dedupes on, and the
    /// conversation is got-or-created by its thread tag, so a retry resumes where the failed
    /// attempt stopped and opens nothing twice.
    pub async fn start_handoff(
        &self,
        bot: &BotpressContext,
        input: StartHandoffInput,
    ) -> Result<String, RelayError> {
        let setup = self.channel_setup().await?;
        let customer = self
            .store
            .customer(&bot.bot_id, &input.user_id)
            .await?
            .ok_or_else(|| {
                RelayError::InvalidInput(format!(
                    "startHitl: unknown userId `{}`; create it with the createUser action first",
                    input.user_id
                ))
            })?;
        let candidate = HandoffSession::new(
            bot.clone(),
            input.user_id.clone(),
            setup.channel_id.clone(),
            setup.channel_account_id.clone(),
            self.clock.now(),
        );
        let session = self.store.insert_or_get_active(candidate).await?;
        if let (SessionStatus::Open, Some(conversation_id)) =
            (session.status, &session.conversation_id)
        {
            return Ok(conversation_id.clone());
        }
        let thread_id = match &session.thread_id {
            Some(thread_id) => thread_id.clone(),
            None => {
                let published = self
                    .hubspot
                    .publish_incoming(&IncomingMessage {
                        channel_id: session.channel_id.clone(),
                        channel_account_id: session.channel_account_id.clone(),
                        integration_thread_id: session.integration_thread_id.clone(),
                        idempotency_id: session.opening_message_idempotency_id(),
                        text: opening_text(input.title.as_deref(), input.description.as_deref()),
                        sender_name: customer.name.clone(),
                        sender: customer.identifier.clone(),
                    })
                    .await?;
                self.store
                    .set_thread(&session.id, &published.thread_id)
                    .await?;
                published.thread_id
            }
        };
        let tags = BTreeMap::from([(THREAD_TAG.to_string(), thread_id.clone())]);
        let conversation_id = self.botpress.get_or_create_conversation(bot, tags).await?;
        self.store.activate(&session.id, &conversation_id).await?;
        tracing::info!(
            session = session.id,
            thread_id,
            conversation_id,
            "handoff started"
        );
        Ok(conversation_id)
    }

    /// The bot ended the handoff: close the HubSpot thread.
    ///
    /// The session is closed in the store first, so the `status: CLOSED` webhook HubSpot sends
    /// back for our own change is recognised and does not bounce a `hitlStopped` to the bot.
    /// The thread is closed on every call, so a retry after a failed close still closes it.
    pub async fn stop_handoff(
        &self,
        bot: &BotpressContext,
        conversation_id: &str,
    ) -> Result<(), RelayError> {
        let session = self.session_of_conversation(bot, conversation_id).await?;
        self.store.close(&session.id).await?;
        if let Some(thread_id) = &session.thread_id {
            self.hubspot
                .set_thread_status(thread_id, ThreadStatus::Closed)
                .await?;
        }
        tracing::info!(session = session.id, "handoff stopped by the bot");
        Ok(())
    }

    /// A customer's message on the `hitl` channel: publish it into the thread. HubSpot dedupes
    /// on the Botpress message id, and the ledger stops a Botpress retry from publishing twice.
    pub async fn forward_user_text(
        &self,
        bot: &BotpressContext,
        conversation_id: &str,
        message_id: &str,
        text: &str,
    ) -> Result<super::Outcome, RelayError> {
        if text.trim().is_empty() {
            return Err(RelayError::InvalidInput(
                "message_created: the text message is empty".to_string(),
            ));
        }
        let key = format!("botpress-message:{}:{message_id}", bot.bot_id);
        self.once(&key, async {
            let session = self.session_of_conversation(bot, conversation_id).await?;
            if session.status == SessionStatus::Closed {
                return Err(RelayError::InvalidInput(format!(
                    "the handoff of conversation `{conversation_id}` is closed; start a new one to reach an agent"
                )));
            }
            let customer = self
                .store
                .customer(&bot.bot_id, &session.customer_user_id)
                .await?
                .ok_or_else(|| {
                    RelayError::InvalidInput(format!(
                        "the customer of conversation `{conversation_id}` is unknown; call createUser"
                    ))
                })?;
            self.hubspot
                .publish_incoming(&IncomingMessage {
                    channel_id: session.channel_id,
                    channel_account_id: session.channel_account_id,
                    integration_thread_id: session.integration_thread_id,
                    idempotency_id: message_id.to_string(),
                    text: text.to_string(),
                    sender_name: customer.name,
                    sender: customer.identifier,
                })
                .await?;
            Ok(super::Outcome::Done)
        })
        .await
    }
}

impl Relay {
    /// The session of a Botpress conversation of this bot; a bot never reaches another's.
    async fn session_of_conversation(
        &self,
        bot: &BotpressContext,
        conversation_id: &str,
    ) -> Result<HandoffSession, RelayError> {
        self.store
            .find_by_conversation(conversation_id)
            .await?
            .filter(|session| session.bot.bot_id == bot.bot_id)
            .ok_or_else(|| RelayError::UnknownConversation(conversation_id.to_string()))
    }
}

/// The opening message: the title (never "undefined") and the description when there is one.
fn opening_text(title: Option<&str>, description: Option<&str>) -> String {
    let title = title
        .map(str::trim)
        .filter(|title| !title.is_empty() && *title != "undefined")
        .unwrap_or(DEFAULT_TITLE);
    match description.map(str::trim).filter(|d| !d.is_empty()) {
        Some(description) => format!("{title}\n\n{description}"),
        None => title.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::opening_text;

    #[test]
    fn a_missing_title_gets_a_sensible_default() {
        assert_eq!(opening_text(None, None), super::DEFAULT_TITLE);
        assert_eq!(opening_text(Some("  "), None), super::DEFAULT_TITLE);
        assert_eq!(opening_text(Some("undefined"), None), super::DEFAULT_TITLE);
        assert_eq!(
            opening_text(Some("Refund"), Some("Order 42")),
            "Refund\n\nOrder 42"
        );
        assert!(!opening_text(None, Some("Order 42")).contains("undefined"));
    }
}
