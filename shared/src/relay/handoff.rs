use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::help_desk_events::{ThreadChange, is_opening, thread_lease};
use super::thread_close::ThreadClosed;
use super::{Relay, RelayError};
use crate::model::channel_limits::{MAX_TEXT_CHARS, split_text};
use crate::model::{BotpressContext, Customer, HandoffSession, SessionStatus};
use crate::ports::IncomingMessage;

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

/// How long the bot's HITL plugin may take to listen once `startHitl` has answered (it makes a
/// few Runtime API calls first): the least delay of what is announced while answering.
const ANSWER_THEN_LISTEN: Option<std::time::Duration> = Some(std::time::Duration::from_secs(2));

/// The Botpress conversation tag that ties a `hitl` conversation to its HubSpot thread.
pub(crate) const THREAD_TAG: &str = "hubspotThreadId";
/// What the opening message says when the bot gave no title.
const DEFAULT_TITLE: &str = "A customer asked to talk to a person";

/// How an attempt to open a handoff ended.
enum Opened {
    /// Open, with this Botpress conversation.
    Now(String),
    /// Its session was closed while the attempt ran: the opening was given up.
    GivenUpMeanwhile,
}

impl Relay {
    /// Opens a thread for the customer in the Help Desk inbox `hitlSession.inbox` names (else
    /// the default one) and the `hitl` conversation on the Botpress side, and maps them both
    /// ways.
    ///
    /// Safe to retry at any point: the session is inserted first (one active session per
    /// customer), the opening message carries an idempotency id HubSpot dedupes on, and the
    /// conversation is got-or-created by its thread tag, so a retry resumes where the failed
    /// attempt stopped and opens nothing twice. A failure no retry would fix closes what the
    /// attempt opened instead ([`Self::abandon_opening`]), so the next `startHitl` starts over.
    ///
    /// An opening given up while this attempt ran (a retry that came as the opening's wait
    /// ran out, and a help-desk event or another `startHitl` gave it up meanwhile) starts
    /// over at once: answering with the given-up handoff's conversation would leave the
    /// customer talking to a closed handoff, every message refused.
    pub async fn start_handoff(
        &self,
        bot: &BotpressContext,
        input: StartHandoffInput,
    ) -> Result<String, RelayError> {
        match self.start_handoff_once(bot, &input).await? {
            Opened::Now(conversation_id) => Ok(conversation_id),
            Opened::GivenUpMeanwhile => match self.start_handoff_once(bot, &input).await? {
                Opened::Now(conversation_id) => Ok(conversation_id),
                // A fresh opening given up at once: for the caller's retry.
                Opened::GivenUpMeanwhile => Err(RelayError::InProgress),
            },
        }
    }

    async fn start_handoff_once(
        &self,
        bot: &BotpressContext,
        input: &StartHandoffInput,
    ) -> Result<Opened, RelayError> {
        let setup = self.channel_setup().await?;
        let inbox = self.inbox_account_for(&setup, input.hitl_session.as_ref())?;
        let customer = self.customer_for_handoff(bot, &input.user_id).await?;
        let candidate = HandoffSession::new(
            bot.clone(),
            input.user_id.clone(),
            setup.channel_id.clone(),
            inbox.channel_account_id.clone(),
            self.clock.now(),
        )
        .for_customer(&customer);
        let mut session = self.store.insert_or_get_active(candidate.clone()).await?;
        if session.status == SessionStatus::Opening && !is_opening(&session, self.clock.now()) {
            // An opening no retry finished in time: the help desk's side stopped waiting for it
            // (`help_desk_events::is_opening`), so it starts over rather than resume into a
            // thread whose events were given up.
            self.abandon_opening(
                &session,
                "a handoff left opening past the wait is abandoned; startHitl starts over",
            )
            .await;
            session = self.store.insert_or_get_active(candidate).await?;
        }
        if let (SessionStatus::Open, Some(conversation_id)) =
            (session.status, &session.conversation_id)
        {
            // The handoff is open already: a retry of a `startHitl` whose answer was lost, or
            // the customer asking again (`asked_again`). Either way the plugin listens only
            // after this answer: what goes to the bot from now waits for it, as after an
            // opening (an agent's reply, the handoff's end after the agent announced below),
            // and the assignment it may have dropped is announced again. The time is taken
            // before the request is shown in the thread and again after (which may take
            // seconds), so what comes meanwhile waits too and the wait ends close to the
            // answer.
            self.listen_again(&session).await;
            self.tell_the_agent_the_customer_asked_again(&session, &customer, input)
                .await;
            self.listen_again(&session).await;
            if session.assigned_actor_id.is_some()
                && let Some(thread_id) = &session.thread_id
                && let Err(error) = self.announce_the_agent_again(thread_id).await
            {
                tracing::warn!(%error, session = session.id, "could not announce the thread's agent again");
            }
            return Ok(Opened::Now(conversation_id.clone()));
        }
        self.remember_opening_request(&session, input).await?;
        let mut thread_id = session.thread_id.clone();
        match self
            .open_both_sides(bot, input, &customer, &session, &mut thread_id)
            .await
        {
            Ok(Opened::Now(conversation_id)) => {
                if let Some(thread_id) = &thread_id {
                    self.catch_up_on_assignment(thread_id).await;
                }
                Ok(Opened::Now(conversation_id))
            }
            Err(error) if !error.retryable() => {
                let session = HandoffSession {
                    thread_id,
                    ..session
                };
                self.abandon_opening(
                    &session,
                    "startHitl failed for good; its session is closed so a new startHitl starts over",
                )
                .await;
                Err(error)
            }
            outcome => outcome,
        }
    }

    /// The opening's steps after the session exists: the thread (unless an earlier attempt
    /// opened it; `thread_id` says which), the transcript, the bot conversation.
    async fn open_both_sides(
        &self,
        bot: &BotpressContext,
        input: &StartHandoffInput,
        customer: &Customer,
        session: &HandoffSession,
        thread_id: &mut Option<String>,
    ) -> Result<Opened, RelayError> {
        let mut opening_rest = opening_parts(input.title.as_deref(), input.description.as_deref());
        let opening = opening_rest.remove(0);
        let thread_id = match thread_id {
            Some(thread_id) => thread_id.clone(),
            None => {
                let published = self
                    .hubspot
                    .publish_incoming(&IncomingMessage {
                        channel_id: session.channel_id.clone(),
                        channel_account_id: session.channel_account_id.clone(),
                        integration_thread_id: session.integration_thread_id.clone(),
                        idempotency_id: session.opening_message_idempotency_id(),
                        text: opening,
                        sender_name: customer.name.clone(),
                        sender: customer.identifier.clone(),
                        attachments: Vec::new(),
                        sent_at: self.clock.now(),
                    })
                    .await?;
                *thread_id = Some(published.thread_id.clone());
                self.store
                    .set_thread(&session.id, &published.thread_id)
                    .await?;
                published.thread_id
            }
        };
        // On every attempt until the handoff is open: a retry publishes only the parts the
        // failed attempt did not (HubSpot keeps the first message per idempotency id).
        self.publish_numbered(session, customer, "opening", 2, opening_rest)
            .await?;
        self.publish_transcript(session, customer, &input.message_history)
            .await?;
        let tags = BTreeMap::from([(THREAD_TAG.to_string(), thread_id.clone())]);
        let conversation_id = self.botpress.get_or_create_conversation(bot, tags).await?;
        if !self.store.activate(&session.id, &conversation_id).await? {
            // Whoever gave the opening up closed its thread if it knew of it, which another
            // `startHitl` that read the session before the thread was recorded did not.
            let given_up = HandoffSession {
                thread_id: Some(thread_id),
                ..session.clone()
            };
            self.abandon_opening(
                &given_up,
                "the handoff was given up while startHitl opened it; its thread is closed and startHitl starts over",
            )
            .await;
            return Ok(Opened::GivenUpMeanwhile);
        }
        tracing::info!(
            session = session.id,
            thread_id,
            conversation_id,
            "handoff started"
        );
        Ok(Opened::Now(conversation_id))
    }

    /// Records that the bot listens to the open `session` again from now. Best effort: a failure
    /// leaves only the agent's re-announcement held (its 2 s), and is logged.
    async fn listen_again(&self, session: &HandoffSession) {
        if let Err(error) = self.store.listen_again(&session.id).await {
            tracing::warn!(%error, session = session.id, "could not hold what goes to the bot until it listens again");
        }
    }

    /// Announces the thread's agent as recorded now, read under the thread's lease,
    /// so a reassignment relayed at the same moment is not overtaken by the agent it replaced.
    async fn announce_the_agent_again(&self, thread_id: &str) -> Result<(), RelayError> {
        self.exclusively(&thread_lease(thread_id), || async {
            let Some(session) = self.active_session_of(thread_id).await? else {
                return Ok(());
            };
            match &session.assigned_actor_id {
                Some(actor_id) => {
                    self.announce_assignee(&session, actor_id, ANSWER_THEN_LISTEN)
                        .await
                }
                None => Ok(()),
            }
        })
        .await
    }

    /// Tells the bot of an agent who took the thread while the handoff was opening, once it is
    /// open. Inbox routing often assigns a thread as soon as it exists: that webhook was
    /// answered "in progress" and comes again only at HubSpot's next retry (after the agent's
    /// first replies, perhaps); and when an earlier attempt's answer was lost, the thread was
    /// not yet ours at all, and the webhook (which, unlike a reply's, names no
    /// `integrationThreadId`) was acknowledged as a stranger's and will not come again. The
    /// thread's assignee now is read and applied as a change made at the time of the read, so
    /// a later webhook of the same assignment announces nothing twice and an older one is
    /// ignored; the event waits until the bot listens (`until_the_bot_listens`). One HubSpot
    /// call per handoff opened. Best effort: a failure is logged, and the assignment's webhook
    /// still reaches the bot at HubSpot's retry.
    async fn catch_up_on_assignment(&self, thread_id: &str) {
        let read_at_ms = self.clock.now().timestamp_millis();
        let caught_up = match self.hubspot.thread_assignee(thread_id).await {
            Ok(Some(actor_id)) => self
                .relay_thread_change(
                    thread_id.to_string(),
                    ThreadChange::Assigned(Some(actor_id)),
                    read_at_ms,
                    None,
                    ANSWER_THEN_LISTEN,
                )
                .await
                .map(|_| ()),
            Ok(None) => Ok(()),
            Err(error) => Err(error.into()),
        };
        match caught_up {
            Ok(()) => {}
            Err(RelayError::InProgress) => tracing::info!(
                thread_id,
                "the thread's agent is being announced by the assignment's own webhook"
            ),
            Err(error) => tracing::warn!(
                %error,
                thread_id,
                "could not check whether an agent took the thread before its handoff was recorded"
            ),
        }
    }

    /// Leaves nothing half-open of a handoff that will not open: its session is closed, so
    /// the bot's next `startHitl` starts over with a new one (the inbox and transcript it
    /// names then) instead of resuming this one into the same refusal or into a thread whose
    /// events were given up, and its thread, if one was opened, is closed so no agent keeps
    /// talking to a customer who is not connected. For a `startHitl` that failed for good
    /// (HubSpot or Botpress refused a step) and for an opening left too long
    /// ([`is_opening`]). Best effort: `why` is logged.
    pub(super) async fn abandon_opening(&self, session: &HandoffSession, why: &str) {
        tracing::warn!(session = session.id, "{why}");
        if let Err(error) = self.store.close(&session.id).await {
            tracing::warn!(%error, session = session.id, "could not close the abandoned session");
        }
        if let Some(thread_id) = &session.thread_id
            && let Err(error) = self.close_thread(thread_id).await
        {
            if error.retryable {
                // Best effort still: a store failure here leaves the thread as before.
                let _ = self.close_later(&session.id, thread_id, error).await;
            } else {
                tracing::warn!(%error, thread_id, "could not close the abandoned session's thread");
            }
        }
    }

    /// The bot ended the handoff: close the HubSpot thread.
    ///
    /// The session is closed in the store first, so the `status: CLOSED` webhook HubSpot sends
    /// back for our own change is recognised and does not bounce a `hitlStopped` to the bot,
    /// and a customer's message in flight meanwhile, reading it again once published
    /// (`late_messages`), closes the thread again after it.
    /// A close HubSpot fails to make now, in a way that may pass, is remembered for later (the
    /// scheduled run, [`Relay::finish_left_for_later`], or the next message there), and
    /// the handoff ends at once; only
    /// when even that fails is the call refused (503), and the thread is closed again on the
    /// retry, whose session is found closed.
    /// A close HubSpot refuses for good (the thread went to the trash, say) still ends the
    /// handoff: the customer is back with the bot either way, and a refusal would keep the
    /// bot's plugin from telling them so; an agent's later reply there is marked FAILED.
    pub async fn stop_handoff(
        &self,
        bot: &BotpressContext,
        conversation_id: &str,
    ) -> Result<(), RelayError> {
        let session = self.session_of_conversation(bot, conversation_id).await?;
        self.store.close(&session.id).await?;
        if let Some(thread_id) = &session.thread_id {
            match self.close_thread(thread_id).await {
                Ok(ThreadClosed::Now) => {}
                // Moved to the trash: nothing is left open.
                Ok(ThreadClosed::Gone) => tracing::warn!(
                    session = session.id,
                    thread_id,
                    "the thread is gone; the handoff is ended all the same"
                ),
                // The customer is back with the bot either way; the thread is closed later,
                // not left to a retry Botpress may never send.
                Err(error) if error.retryable => {
                    self.close_later(&session.id, thread_id, error).await?
                }
                // Left open in the help desk (a scope the install lacks, say): a person must see it.
                Err(error) => tracing::error!(
                    %error,
                    session = session.id,
                    "HubSpot refused to close the thread for good; the handoff is ended, the thread left open"
                ),
            }
        }
        tracing::info!(session = session.id, "handoff stopped by the bot");
        Ok(())
    }
}

impl Relay {
    /// The session of a Botpress conversation of this bot; a bot never reaches another's.
    pub(super) async fn session_of_conversation(
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

/// The opening message's parts: its text cut where HubSpot would cut it
/// ([`MAX_TEXT_CHARS`]), so a long description reaches the agent whole. The first part opens
/// the thread; the rest follow it, before the transcript.
fn opening_parts(title: Option<&str>, description: Option<&str>) -> Vec<String> {
    split_text(&opening_text(title, description), MAX_TEXT_CHARS)
}

/// The opening message: the title (never "undefined") and the description when there is one.
pub(super) fn opening_text(title: Option<&str>, description: Option<&str>) -> String {
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
    use super::{MAX_TEXT_CHARS, opening_parts, opening_text};

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

    #[test]
    fn a_long_description_is_cut_into_parts_that_rejoin_into_the_opening_text() {
        let description: String = (0..2_000).map(|n| format!("d{n:04} ")).collect();
        let parts = opening_parts(Some("Refund"), Some(&description));
        assert_eq!(parts.len(), 4, "12,008 characters");
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_TEXT_CHARS));
        assert_eq!(
            parts.concat(),
            opening_text(Some("Refund"), Some(&description))
        );
        assert_eq!(opening_parts(Some("Refund"), None), ["Refund"]);
    }
}
