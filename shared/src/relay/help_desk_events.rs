use std::collections::BTreeMap;

use serde_json::json;

use super::agents::normalise_actor_id;
use super::{Outcome, Relay, RelayError};
use crate::model::{HandoffSession, SessionStatus};
use crate::ports::{BotpressMessage, DeliveryStatus};

/// An agent's reply (custom-channel `OUTGOING_CHANNEL_MESSAGE_CREATED`).
#[derive(Clone, Debug)]
pub struct AgentReply {
    pub message_id: String,
    pub channel_id: String,
    pub thread_id: String,
    pub actor_id: String,
    pub agent_name: Option<String>,
    pub text: String,
    /// When the agent wrote it (ms since the epoch; 0 when HubSpot did not say).
    pub occurred_at_ms: i64,
}

/// A property of a thread changed (app webhook `conversation.propertyChange`).
#[derive(Clone, Debug)]
pub enum ThreadChange {
    /// `assignedTo`: the agent now handling the thread, or `None` when unassigned.
    Assigned(Option<String>),
    /// `status`: `CLOSED` (or `ARCHIVED`) ends the handoff; `OPEN` is recorded only.
    Status(String),
}

/// Something that happened in the Help Desk, keyed for idempotency.
#[derive(Clone, Debug)]
pub enum HelpDeskEvent {
    AgentReply(AgentReply),
    ThreadChanged {
        event_id: String,
        thread_id: String,
        change: ThreadChange,
        /// HubSpot's `occurredAt` (ms since the epoch).
        occurred_at_ms: i64,
    },
}

impl HelpDeskEvent {
    pub fn thread_id(&self) -> &str {
        match self {
            Self::AgentReply(reply) => &reply.thread_id,
            Self::ThreadChanged { thread_id, .. } => thread_id,
        }
    }

    pub fn occurred_at_ms(&self) -> i64 {
        match self {
            Self::AgentReply(reply) => reply.occurred_at_ms,
            Self::ThreadChanged { occurred_at_ms, .. } => *occurred_at_ms,
        }
    }
}

/// The Botpress message tag that ties an agent's reply to its HubSpot message.
const MESSAGE_TAG: &str = "hubspotMessageId";

impl Relay {
    /// Relays one Help Desk event to Botpress, at most once per HubSpot message or event id.
    /// Events about threads the bridge did not open are acknowledged and cause no calls.
    pub async fn handle_help_desk_event(
        &self,
        event: HelpDeskEvent,
    ) -> Result<Outcome, RelayError> {
        match event {
            HelpDeskEvent::AgentReply(reply) => {
                let key = format!("hubspot-message:{}", reply.message_id);
                self.once(&key, self.relay_agent_reply(reply)).await
            }
            HelpDeskEvent::ThreadChanged {
                event_id,
                thread_id,
                change,
                ..
            } => {
                let key = format!("hubspot-event:{event_id}");
                self.once(&key, self.relay_thread_change(thread_id, change))
                    .await
            }
        }
    }

    /// The session of a thread, if the bridge opened it and it is still going.
    async fn active_session_of(
        &self,
        thread_id: &str,
    ) -> Result<Option<HandoffSession>, RelayError> {
        let session = self.store.find_by_thread(thread_id).await?;
        Ok(session.filter(|session| {
            session.status == SessionStatus::Open && session.conversation_id.is_some()
        }))
    }

    async fn relay_agent_reply(&self, reply: AgentReply) -> Result<Outcome, RelayError> {
        let Some(session) = self.active_session_of(&reply.thread_id).await? else {
            tracing::info!(
                thread_id = reply.thread_id,
                "agent reply on a thread without an active handoff; ignored"
            );
            return Ok(Outcome::Ignored);
        };
        if session.channel_id != reply.channel_id {
            tracing::warn!(
                thread_id = reply.thread_id,
                "agent reply names another channel than the thread's; ignored"
            );
            return Ok(Outcome::Ignored);
        }
        let conversation_id = session.conversation_id.clone().unwrap_or_default();
        let agent_user_id = self
            .agent_user(&session.bot, &reply.actor_id, reply.agent_name.as_deref())
            .await?;
        let message = BotpressMessage {
            conversation_id,
            user_id: agent_user_id,
            kind: "text".to_string(),
            payload: json!({ "text": reply.text }),
            tags: BTreeMap::from([(MESSAGE_TAG.to_string(), reply.message_id.clone())]),
        };
        if let Err(error) = self
            .botpress
            .get_or_create_message(&session.bot, &message)
            .await
        {
            if !error.retryable {
                // No retry will deliver it: tell the agent, in the help desk, that it failed.
                let reason = format!("The bot did not accept this message: {}", error.message);
                self.mark_reply(&reply, DeliveryStatus::Failed(reason))
                    .await;
            }
            return Err(error.into());
        }
        self.mark_reply(&reply, DeliveryStatus::Sent).await;
        tracing::info!(
            session = session.id,
            message_id = reply.message_id,
            "agent reply relayed"
        );
        Ok(Outcome::Done)
    }

    /// Shows the agent what became of their message. A failure here is logged, not raised:
    /// the message itself was handled, and redoing it would not change the status call.
    async fn mark_reply(&self, reply: &AgentReply, status: DeliveryStatus) {
        if let Err(error) = self
            .hubspot
            .set_message_status(&reply.channel_id, &reply.message_id, &status)
            .await
        {
            tracing::warn!(%error, message_id = reply.message_id, "could not update the agent message's status");
        }
    }

    async fn relay_thread_change(
        &self,
        thread_id: String,
        change: ThreadChange,
    ) -> Result<Outcome, RelayError> {
        let Some(session) = self.active_session_of(&thread_id).await? else {
            return Ok(Outcome::Ignored);
        };
        let conversation_id = session.conversation_id.clone().unwrap_or_default();
        match change {
            ThreadChange::Assigned(None) => {
                self.store.set_assignee(&session.id, None).await?;
                tracing::info!(session = session.id, "thread unassigned");
                Ok(Outcome::Done)
            }
            ThreadChange::Assigned(Some(raw_actor)) => {
                let actor_id = normalise_actor_id(&raw_actor);
                if session.assigned_actor_id.as_deref() == Some(actor_id.as_str()) {
                    return Ok(Outcome::AlreadyDone);
                }
                let agent_user_id = self.agent_user(&session.bot, &actor_id, None).await?;
                self.botpress
                    .create_event(
                        &session.bot,
                        "hitlAssigned",
                        &conversation_id,
                        json!({ "conversationId": conversation_id, "userId": agent_user_id }),
                    )
                    .await?;
                // Recorded after Botpress has it: a failure above leaves the assignment to redo.
                self.store
                    .set_assignee(&session.id, Some(&actor_id))
                    .await?;
                tracing::info!(session = session.id, actor_id, "agent assigned");
                Ok(Outcome::Done)
            }
            ThreadChange::Status(status) if status == "CLOSED" || status == "ARCHIVED" => {
                self.botpress
                    .create_event(
                        &session.bot,
                        "hitlStopped",
                        &conversation_id,
                        json!({ "conversationId": conversation_id }),
                    )
                    .await?;
                // Closed after Botpress has it, so a failure above is redone by the retry.
                self.store.close(&session.id).await?;
                tracing::info!(session = session.id, "handoff closed by the agent");
                Ok(Outcome::Done)
            }
            ThreadChange::Status(_) => Ok(Outcome::Ignored),
        }
    }
}
