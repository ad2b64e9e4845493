//! An agent's message, relayed into the bot conversation as the agent: its text first, then one
//! Botpress message per attachment (`image`, `audio`, `video`, `file`, or a readable `text`
//! line for what Botpress has no message for), each created with get-or-create under its own
//! tag, so a retry creates only the parts still missing. The agent sees the outcome in the help
//! desk: SENT, or FAILED with the reason.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::help_desk_events::{is_live, is_opening};
use super::{Outcome, Relay, RelayError};
use crate::model::{AgentMessage, Attachment, FileKind, HandoffSession, SessionStatus};
use crate::ports::{BotpressMessage, DeliveryStatus, FinishingWrite};

/// The Botpress message tag that ties each part of an agent's reply to its HubSpot message.
const MESSAGE_TAG: &str = "hubspotMessageId";

/// What the agent reads on a message sent after the handoff ended (the thread reopened, or
/// the bot ended the handoff while the agent was typing).
const HANDOFF_ENDED: &str =
    "Not delivered: this conversation's handoff has ended and the customer is back with the bot.";

/// What the agent reads on a long message of which the customer got only what HubSpot sent
/// in its event (the whole could not be read).
const CUT_SHORT: &str = "Only the start of this message reached the customer: HubSpot would not give the bridge the whole of it. Send the rest again.";

/// What the agent reads on a message in a thread of our channel that no handoff of the bridge
/// has (a conversation an agent started on the channel, or one whose closed handoff has since
/// expired): nobody on the bot's side reads it.
const NO_HANDOFF: &str = "Not delivered: no customer of the bot is connected to this conversation. Customers reach you by asking the bot for a person.";

/// What the agent reads on a message with nothing the bot conversation can carry: no text,
/// and no attachment beyond metadata (message headers, template data).
const NOTHING_TO_RELAY: &str =
    "Not delivered: this message has no text or attachment the bot can show the customer.";

/// What the agent reads on a message to a customer whose handoff never finished opening (the
/// bot's `startHitl` failed and was not retried).
const NEVER_OPENED: &str = "Not delivered: the customer's handoff did not finish opening, so they are not connected. They reach you again by asking for a person.";

impl Relay {
    /// Relays `reply` into the conversation of `session`, the thread's session as read while
    /// the reply's key was claimed (none: a thread the bridge did not open).
    pub(super) async fn relay_agent_reply(
        &self,
        reply: AgentMessage,
        session: Option<HandoffSession>,
    ) -> Result<(Outcome, Option<FinishingWrite>), RelayError> {
        let session = match session {
            Some(session) => session,
            None => match self.opening_named_by(&reply).await? {
                // The thread is ours, its `startHitl` still opening and yet to record it
                // (HubSpot made the thread, its answer did not reach the bridge).
                Some(opening) => opening,
                None => {
                    let ours = self
                        .store
                        .channel_setup()
                        .await?
                        .is_some_and(|setup| setup.channel_id == reply.channel_id);
                    tracing::info!(
                        thread_id = reply.thread_id,
                        on_our_channel = ours,
                        "agent reply on a thread no handoff of the bridge has; ignored"
                    );
                    if ours {
                        self.mark_reply(&reply, DeliveryStatus::Failed(NO_HANDOFF.to_string()))
                            .await;
                    }
                    return Ok((Outcome::Ignored, None));
                }
            },
        };
        if session.channel_id != reply.channel_id {
            tracing::warn!(
                thread_id = reply.thread_id,
                "agent reply names another channel than the thread's; ignored"
            );
            return Ok((Outcome::Ignored, None));
        }
        if !is_live(&session) {
            if session.status == SessionStatus::Closed {
                tracing::info!(
                    session = session.id,
                    message_id = reply.message_id,
                    "agent reply after the handoff ended; marked failed for the agent"
                );
                self.mark_reply(&reply, DeliveryStatus::Failed(HANDOFF_ENDED.to_string()))
                    .await;
                self.close_now_if_left_for_later(&reply.thread_id).await;
                return Ok((Outcome::Ignored, None));
            }
            if is_opening(&session, self.clock.now()) {
                // The bot conversation is about to exist. HubSpot's retry delivers it.
                return Err(RelayError::InProgress);
            }
            self.mark_reply(&reply, DeliveryStatus::Failed(NEVER_OPENED.to_string()))
                .await;
            self.abandon_opening(
                &session,
                "agent reply on a handoff that never finished opening; marked failed for the agent, the handoff given up and its thread closed",
            )
            .await;
            return Ok((Outcome::Ignored, None));
        }
        self.relay_earlier_replies(&session, &reply).await?;
        self.deliver_agent_message(&session, &reply).await
    }

    /// Botpress refused `message` (or part of it, or its agent) for good: the agent sees it
    /// FAILED with `reason`, and the reply is done, so it holds back no later one.
    async fn refused_for_good(
        &self,
        session: &HandoffSession,
        message: &AgentMessage,
        reason: String,
    ) -> (Outcome, Option<FinishingWrite>) {
        tracing::error!(
            session = session.id,
            message_id = message.message_id,
            reason = %crate::redact::redact_text(&reason),
            "Botpress refused an agent reply, its agent or part of it, for good; marked FAILED for the agent"
        );
        self.mark_reply(message, DeliveryStatus::Failed(reason))
            .await;
        (Outcome::Done, self.replies_mark(session, message))
    }

    /// The session whose `integrationThreadId` the reply's event names, when the reply's
    /// thread lookup missed it: one that had not recorded its thread yet (the reply is to the
    /// thread it opened), or had just recorded this one.
    async fn opening_named_by(
        &self,
        reply: &AgentMessage,
    ) -> Result<Option<HandoffSession>, RelayError> {
        let Some(session_id) = reply
            .integration_thread_id
            .as_deref()
            .and_then(HandoffSession::id_in_integration_thread_id)
        else {
            return Ok(None);
        };
        let session = self.store.find_by_id(session_id).await?;
        Ok(session
            .filter(|session| {
                // Not yet recorded; or recorded (the handoff may even have opened) since this
                // reply looked the thread up.
                session.status != SessionStatus::Closed
                    && session
                        .thread_id
                        .as_ref()
                        .is_none_or(|thread_id| *thread_id == reply.thread_id)
                    && Some(&session.integration_thread_id) == reply.integration_thread_id.as_ref()
            })
            .map(|session| HandoffSession {
                thread_id: Some(reply.thread_id.clone()),
                ..session
            }))
    }

    /// Creates every part of `message` in the session's conversation and marks it for the
    /// agent; answers the move of the session's reply-order mark to it, which the ledger
    /// makes with the message's completion.
    pub(super) async fn deliver_agent_message(
        &self,
        session: &HandoffSession,
        message: &AgentMessage,
    ) -> Result<(Outcome, Option<FinishingWrite>), RelayError> {
        if message.is_empty() {
            // Nothing any retry could deliver; done, so it holds back no later reply.
            tracing::warn!(
                session = session.id,
                message_id = message.message_id,
                "agent message with nothing to relay; marked FAILED for the agent"
            );
            self.mark_reply(
                message,
                DeliveryStatus::Failed(NOTHING_TO_RELAY.to_string()),
            )
            .await;
            return Ok((Outcome::Done, self.replies_mark(session, message)));
        }
        let agent_user_id = match self
            .agent_user(
                &session.bot,
                &message.actor_id,
                message.agent_name.as_deref(),
            )
            .await
        {
            Ok(user_id) => user_id,
            // No retry would make the agent's user: the agent learns the message did not go,
            // instead of it being acknowledged unseen.
            Err(error) if !error.retryable() => {
                let reason = format!("Not delivered: the bot did not accept this agent ({error}).");
                return Ok(self.refused_for_good(session, message, reason).await);
            }
            Err(error) => return Err(error),
        };
        let (whole, cut_short) = self.whole_message(message).await?;
        let message = whole.as_ref();
        let conversation_id = session.conversation_id.clone().unwrap_or_default();
        // The bot's plugin may not listen yet in the seconds after the opening (or after a later
        // `startHitl`): held until it
        // does, each part a millisecond after the one before, to keep them in order.
        let listening_in = self.until_the_bot_listens(session);
        let parts = botpress_parts(&conversation_id, &agent_user_id, message, listening_in);
        let count = parts.len();
        let mut refused = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            match self
                .botpress
                .get_or_create_message(&session.bot, part)
                .await
            {
                Ok(_) => {}
                // HubSpot's retry resumes here: the parts already made are got, not made again.
                Err(error) if error.retryable => return Err(error.into()),
                // No retry will deliver this part; the others still go, so the agent is never
                // led to send again what the customer already has.
                Err(error) => refused.push((part_name(part, index, count), error)),
            }
        }
        if !refused.is_empty() {
            let reason = refusal_reason(&refused, count);
            return Ok(self.refused_for_good(session, message, reason).await);
        }
        if cut_short {
            // Delivered, but not whole: the agent decides whether to send the rest again.
            self.mark_reply(message, DeliveryStatus::Failed(CUT_SHORT.to_string()))
                .await;
            return Ok((Outcome::Done, self.replies_mark(session, message)));
        }
        self.mark_reply(message, DeliveryStatus::Sent).await;
        tracing::info!(
            session = session.id,
            message_id = message.message_id,
            "agent reply relayed"
        );
        Ok((Outcome::Done, self.replies_mark(session, message)))
    }

    /// `message` with its whole text, and whether it is still cut short: HubSpot sends only
    /// the start of a long one, marked truncated, and the rest is read from its original
    /// content. A read HubSpot refuses for good leaves the start, which is better than nothing
    /// (the agent is told); a retryable failure is left for HubSpot's retry.
    async fn whole_message<'m>(
        &self,
        message: &'m AgentMessage,
    ) -> Result<(std::borrow::Cow<'m, AgentMessage>, bool), RelayError> {
        if !message.truncated {
            return Ok((std::borrow::Cow::Borrowed(message), false));
        }
        match self
            .hubspot
            .original_text(&message.thread_id, &message.message_id)
            .await
        {
            Ok(text) if !text.trim().is_empty() => Ok((
                std::borrow::Cow::Owned(AgentMessage {
                    text,
                    truncated: false,
                    ..message.clone()
                }),
                false,
            )),
            Ok(_) => Ok((std::borrow::Cow::Borrowed(message), true)),
            Err(error) if error.retryable => Err(error.into()),
            Err(error) => {
                tracing::warn!(
                    %error,
                    message_id = message.message_id,
                    "could not read a truncated agent message whole; relaying the part HubSpot sent"
                );
                Ok((std::borrow::Cow::Borrowed(message), true))
            }
        }
    }

    /// The move of the session's reply-order mark to `message`, made with its completion.
    fn replies_mark(
        &self,
        session: &HandoffSession,
        message: &AgentMessage,
    ) -> Option<FinishingWrite> {
        (message.created_at_ms > 0).then(|| FinishingWrite::RepliesRelayedUntil {
            session_id: session.id.clone(),
            created_at_ms: message.created_at_ms,
        })
    }
}

/// How the agent's help desk names a part: "the message" when it is the only one.
fn part_name(part: &BotpressMessage, index: usize, count: usize) -> String {
    match (count, part.kind.as_str()) {
        (1, _) => "the message".to_string(),
        (_, "text") if index == 0 => "the text".to_string(),
        (_, kind) => format!("part {} ({kind})", index + 1),
    }
}

/// What the agent reads on a message Botpress refused, whole or in part.
fn refusal_reason(refused: &[(String, crate::ports::UpstreamError)], count: usize) -> String {
    let each: Vec<String> = refused
        .iter()
        .map(|(part, error)| format!("{part}: {}", error.message))
        .collect();
    let delivered = count - refused.len();
    let rest = match delivered {
        0 => String::new(),
        1 => " The other part reached the customer.".to_string(),
        _ => format!(" The other {delivered} parts reached the customer."),
    };
    format!("The bot did not accept {}.{rest}", each.join("; "))
}

/// The Botpress messages an agent's message becomes, in order: the text, then each attachment.
/// The text keeps the bare HubSpot message id as its tag (as replies always had); attachment
/// `n` (from 1) is tagged `<id>#<n>`.
fn botpress_parts(
    conversation_id: &str,
    user_id: &str,
    message: &AgentMessage,
    delay: Option<std::time::Duration>,
) -> Vec<BotpressMessage> {
    // Held parts come due a millisecond apart, in order: part `index` after `index` ms more.
    let part = |index: usize, tag: String, kind: &str, payload: Value| BotpressMessage {
        conversation_id: conversation_id.to_string(),
        user_id: user_id.to_string(),
        kind: kind.to_string(),
        payload,
        tags: BTreeMap::from([(MESSAGE_TAG.to_string(), tag)]),
        delay: delay.map(|delay| delay + std::time::Duration::from_millis(index as u64)),
    };
    let mut parts = Vec::with_capacity(1 + message.attachments.len());
    if !message.text.trim().is_empty() {
        parts.push(part(
            parts.len(),
            message.message_id.clone(),
            "text",
            json!({ "text": message.text }),
        ));
    }
    for (index, attachment) in message.attachments.iter().enumerate() {
        let tag = format!("{}#{}", message.message_id, index + 1);
        let (kind, payload) = match attachment {
            Attachment::File { kind, url, name } => file_part(*kind, url, name.as_deref()),
            Attachment::Readable(line) => ("text", json!({ "text": line })),
        };
        parts.push(part(parts.len(), tag, kind, payload));
    }
    parts
}

/// A file as Botpress's standard message of its kind (`@botpress/sdk` `messages.defaults`):
/// the URL, and for a `file` its name as `title`. Only `file` declares a `title`: the image,
/// audio and video schemas are the URL alone, and Botpress refuses a field a message type does
/// not declare.
fn file_part(kind: FileKind, url: &str, name: Option<&str>) -> (&'static str, Value) {
    let (kind, url_field) = match kind {
        FileKind::Image => ("image", "imageUrl"),
        FileKind::Audio => ("audio", "audioUrl"),
        FileKind::Video => ("video", "videoUrl"),
        FileKind::File => ("file", "fileUrl"),
    };
    let mut payload = json!({ url_field: url });
    if kind == "file" {
        payload["title"] = json!(name.filter(|name| !name.is_empty()).unwrap_or("File"));
    }
    (kind, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Service, UpstreamError};

    #[test]
    fn the_refusal_names_the_refused_parts_and_what_got_through() {
        let refusal = |message: &str| UpstreamError {
            service: Service::Botpress,
            operation: "create message",
            status: Some(400),
            retryable: false,
            message: message.to_string(),
        };
        assert_eq!(
            refusal_reason(&[("the message".into(), refusal("bad payload"))], 1),
            "The bot did not accept the message: bad payload."
        );
        assert_eq!(
            refusal_reason(
                &[
                    ("the text".into(), refusal("too long")),
                    ("part 3 (file)".into(), refusal("bad URL"))
                ],
                4
            ),
            "The bot did not accept the text: too long; part 3 (file): bad URL. \
             The other 2 parts reached the customer."
        );
    }

    #[test]
    fn text_then_each_attachment_under_its_own_tag() {
        let message = AgentMessage {
            message_id: "m1".into(),
            channel_id: "c".into(),
            thread_id: "t".into(),
            actor_id: "A-1".into(),
            agent_name: None,
            text: "Here you go".into(),
            attachments: vec![
                Attachment::File {
                    kind: FileKind::Image,
                    url: "https://f/a.png".into(),
                    name: Some("a.png".into()),
                },
                Attachment::File {
                    kind: FileKind::File,
                    url: "https://f/i.pdf".into(),
                    name: Some("invoice.pdf".into()),
                },
                Attachment::Readable("Location: Depot".into()),
            ],
            created_at_ms: 1,
            truncated: false,
            integration_thread_id: None,
        };
        let parts = botpress_parts("conv", "user", &message, None);
        let summary: Vec<(String, String, Value)> = parts
            .iter()
            .map(|p| {
                (
                    p.kind.clone(),
                    p.tags[MESSAGE_TAG].clone(),
                    p.payload.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("text".into(), "m1".into(), json!({ "text": "Here you go" })),
                (
                    "image".into(),
                    "m1#1".into(),
                    json!({ "imageUrl": "https://f/a.png" })
                ),
                (
                    "file".into(),
                    "m1#2".into(),
                    json!({ "fileUrl": "https://f/i.pdf", "title": "invoice.pdf" })
                ),
                (
                    "text".into(),
                    "m1#3".into(),
                    json!({ "text": "Location: Depot" })
                ),
            ]
        );
        let only_file = AgentMessage {
            text: " ".into(),
            attachments: message.attachments[..1].to_vec(),
            ..message
        };
        assert_eq!(botpress_parts("conv", "user", &only_file, None).len(), 1);
    }
}
