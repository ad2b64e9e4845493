use serde_json::json;

use super::agents::normalise_actor_id;
use super::{Outcome, Relay, RelayError};
use crate::model::{AgentMessage, AssignmentMark, HandoffSession, SessionStatus};

/// A property of a thread changed (app webhook `conversation.propertyChange`).
#[derive(Clone, Debug)]
pub enum ThreadChange {
    /// `assignedTo`: the agent now handling the thread, or `None` when unassigned.
    Assigned(Option<String>),
    /// `status`: `CLOSED` (or `ARCHIVED`, or [`THREAD_DELETED`]) ends the handoff; `OPEN` is
    /// acknowledged only.
    Status(String),
}

impl ThreadChange {
    /// Whether the bot has to hear of it: an assignment, or the end of the conversation.
    fn has_to_be_relayed(&self) -> bool {
        match self {
            Self::Assigned(_) => true,
            Self::Status(status) => is_closing_status(status),
        }
    }
}

/// The status a `conversation.deletion` event stands for: the thread went to the trash.
pub const THREAD_DELETED: &str = "DELETED";

/// The statuses that end the handoff.
fn is_closing_status(status: &str) -> bool {
    matches!(status, "CLOSED" | "ARCHIVED" | THREAD_DELETED)
}

/// Something that happened in the Help Desk, relayed at most once (`Relay::handle_help_desk_event`).
#[derive(Clone, Debug)]
pub enum HelpDeskEvent {
    /// An agent's reply (custom-channel `OUTGOING_CHANNEL_MESSAGE_CREATED`).
    AgentReply(AgentMessage),
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
            Self::AgentReply(reply) => reply.created_at_ms,
            Self::ThreadChanged { occurred_at_ms, .. } => *occurred_at_ms,
        }
    }
}

/// The ledger key of an agent's message: the same whether the message is relayed from its own
/// delivery or ahead of a later one (`reply_order`), so it is relayed once either way.
pub(crate) fn agent_message_key(message_id: &str) -> String {
    format!("hubspot-message:{message_id}")
}

/// The ledger key of a thread change (every status change; an assignment change only when
/// HubSpot did not date it or its id is not a number, as the session's [`AssignmentMark`]
/// does the key's work otherwise). HubSpot's `eventId` alone is not it: HubSpot says the
/// value "is not guaranteed to be unique", and two changes under one id (an assignment, then a
/// close) would leave the second acknowledged as a duplicate of the first and never relayed.
/// A retry repeats every field here (only `attemptNumber` changes), so it still finds its key.
fn thread_change_key(
    event_id: &str,
    thread_id: &str,
    change: &ThreadChange,
    occurred_at_ms: i64,
) -> String {
    let property = match change {
        ThreadChange::Assigned(_) => "assignedTo",
        ThreadChange::Status(status) if status == THREAD_DELETED => "deletion",
        ThreadChange::Status(_) => "status",
    };
    format!("hubspot-event:{thread_id}:{property}:{occurred_at_ms}:{event_id}")
}

impl Relay {
    /// Relays one Help Desk event to Botpress, at most once per HubSpot message or event id
    /// (an assignment change: once per [`AssignmentMark`], which its retries repeat). Events
    /// about threads the bridge did not open are acknowledged and cause no calls.
    pub async fn handle_help_desk_event(
        &self,
        event: HelpDeskEvent,
    ) -> Result<Outcome, RelayError> {
        match event {
            HelpDeskEvent::AgentReply(reply) => {
                let key = agent_message_key(&reply.message_id);
                let thread_id = reply.thread_id.clone();
                let session = async { Ok(self.store.find_by_thread(&thread_id).await?) };
                self.once_after_read(&key, session, |session| {
                    self.relay_agent_reply(reply, session)
                })
                .await
            }
            HelpDeskEvent::ThreadChanged {
                event_id,
                thread_id,
                change,
                occurred_at_ms,
            } => {
                let number = event_id.parse::<i64>().ok();
                if matches!(change, ThreadChange::Assigned(_))
                    && occurred_at_ms > 0
                    && number.is_some()
                {
                    // No key of its own: under the thread's lease its retry finds its own mark
                    // recorded (`AssignmentMark`), or a newer one, and changes nothing. That
                    // saves the key's two round trips on every assignment.
                    return self
                        .relay_thread_change(thread_id, change, occurred_at_ms, number, None)
                        .await;
                }
                let key = thread_change_key(&event_id, &thread_id, &change, occurred_at_ms);
                self.once(
                    &key,
                    self.relay_thread_change(thread_id, change, occurred_at_ms, number, None),
                )
                .await
            }
        }
    }

    /// The session of a thread, if the bridge opened it and it is still going.
    pub(super) async fn active_session_of(
        &self,
        thread_id: &str,
    ) -> Result<Option<HandoffSession>, RelayError> {
        let session = self.store.find_by_thread(thread_id).await?;
        Ok(session.filter(is_live))
    }

    /// Assignment and status changes.
    ///
    /// - A new assignee (first, or another agent) emits `hitlAssigned` with that agent's
    ///   Botpress user; the same assignee again (the same change made again, under an event
    ///   id of its own) emits nothing, nor does HubSpot's retry of a change.
    /// - Unassignment is recorded, so a later assignment, even of the same agent, emits
    ///   `hitlAssigned` again.
    /// - HubSpot delivers changes out of order, in separate deliveries: an assignment change
    ///   older than the newest one applied (its [`AssignmentMark`]: `occurredAt`, then the
    ///   event id) is acknowledged and changes nothing, so the bot is never told an earlier
    ///   assignee after a later one; nor does HubSpot's retry of the change applied last.
    /// - `CLOSED`/`ARCHIVED` emits `hitlStopped` once and closes the session.
    /// - An assignment or a close while the handoff is still opening (the thread exists, the
    ///   bot conversation not yet) is refused as in progress, so HubSpot's retry relays it
    ///   once the handoff is open instead of it being acknowledged and lost.
    /// - A reopen (`OPEN` after a close) is acknowledged and changes nothing: the bot was told
    ///   `hitlStopped` and its HITL session ended, and the `hitl` interface has no way for the
    ///   help desk to start it again, so the customer's side stays with the bot. The agent
    ///   learns it from their next message, which is marked FAILED with the reason instead of
    ///   vanishing (`agent_replies`).
    ///
    /// `event_id`: HubSpot's, when it is a number, which orders assignment changes of one
    /// millisecond ([`AssignmentMark`]).
    ///
    /// `listening_in`: at least this long before the bot hears of it (a change applied while
    /// `startHitl` has yet to answer, which the bot's plugin listens only after).
    ///
    /// A thread's assignment changes and its close are relayed one at a time, each reading the
    /// session once it holds the thread's lease ([`Relay::exclusively`]): two changes
    /// delivered at once (separate deliveries, or a webhook beside the opening's assignee
    /// read) would otherwise both read the thread as it was, and the bot could hear the older
    /// agent last while the newer one is recorded, or an agent assigned after it heard the
    /// handoff end. Under the lease the later one sees what the earlier recorded.
    pub(super) async fn relay_thread_change(
        &self,
        thread_id: String,
        change: ThreadChange,
        occurred_at_ms: i64,
        event_id: Option<i64>,
        listening_in: Option<std::time::Duration>,
    ) -> Result<Outcome, RelayError> {
        if change.has_to_be_relayed() {
            return self
                .exclusively(&thread_lease(&thread_id), || {
                    self.apply_thread_change(
                        thread_id,
                        change,
                        occurred_at_ms,
                        event_id,
                        listening_in,
                    )
                })
                .await;
        }
        self.apply_thread_change(thread_id, change, occurred_at_ms, event_id, listening_in)
            .await
    }

    async fn apply_thread_change(
        &self,
        thread_id: String,
        change: ThreadChange,
        occurred_at_ms: i64,
        event_id: Option<i64>,
        listening_in: Option<std::time::Duration>,
    ) -> Result<Outcome, RelayError> {
        let session = match self.store.find_by_thread(&thread_id).await? {
            Some(session) if is_live(&session) => session,
            Some(session)
                if is_opening(&session, self.clock.now()) && change.has_to_be_relayed() =>
            {
                // The thread exists before its bot conversation does (`start_handoff`), and
                // inbox routing often assigns it at once: acknowledged now, the change would be
                // lost. HubSpot's retry relays it once the handoff is open.
                tracing::info!(
                    session = session.id,
                    "a thread change while its handoff is still opening; left for HubSpot's retry"
                );
                return Err(RelayError::InProgress);
            }
            Some(session)
                if session.status == SessionStatus::Opening && change.has_to_be_relayed() =>
            {
                self.abandon_opening(
                    &session,
                    "a thread change on a handoff that never finished opening; it is given up and its thread closed",
                )
                .await;
                return Ok(Outcome::Ignored);
            }
            _ => {
                if matches!(&change, ThreadChange::Status(status) if status == "OPEN") {
                    tracing::info!(
                        thread_id,
                        "a thread was reopened after its handoff ended; acknowledged, nothing to relay"
                    );
                }
                return Ok(Outcome::Ignored);
            }
        };
        let conversation_id = session.conversation_id.clone().unwrap_or_default();
        // HubSpot always says when a change happened; were it silent (0), the change is taken
        // as happening on arrival rather than as older than everything.
        let occurred_at_ms = if occurred_at_ms > 0 {
            occurred_at_ms
        } else {
            self.clock.now().timestamp_millis()
        };
        let mark = AssignmentMark::new(occurred_at_ms, event_id);
        if matches!(change, ThreadChange::Assigned(_)) {
            match session.assignment_mark {
                Some(newest) if mark < newest => {
                    tracing::info!(
                        session = session.id,
                        "an assignment change older than the one applied; acknowledged, nothing to relay"
                    );
                    return Ok(Outcome::Ignored);
                }
                // HubSpot's retry of the change applied last (its event id makes it that one).
                Some(newest) if mark == newest && event_id.is_some() => {
                    return Ok(Outcome::AlreadyDone);
                }
                _ => {}
            }
        }
        match change {
            ThreadChange::Assigned(None) => {
                self.store.set_assignee(&session.id, None, mark).await?;
                tracing::info!(session = session.id, "thread unassigned");
                Ok(Outcome::Done)
            }
            ThreadChange::Assigned(Some(raw_actor)) => {
                let actor_id = normalise_actor_id(&raw_actor);
                if session.assigned_actor_id.as_deref() == Some(actor_id.as_str()) {
                    // Still moves the mark, so a change between the two stays older.
                    self.store
                        .set_assignee(&session.id, Some(&actor_id), mark)
                        .await?;
                    return Ok(Outcome::AlreadyDone);
                }
                self.assign(&thread_id, &session, &actor_id, mark, listening_in)
                    .await
            }
            ThreadChange::Status(status) if is_closing_status(&status) => {
                self.relay_replies_before_close(&session, &thread_id, occurred_at_ms)
                    .await?;
                let told = self
                    .tell_the_bot(
                        &session,
                        "hitlStopped",
                        json!({ "conversationId": conversation_id }),
                        listening_in,
                    )
                    .await;
                match told {
                    Ok(()) => {}
                    // The bot's conversation is gone (deleted): the handoff still ends, as the
                    // agent ended it. Left open, the customer's next request would be sent back
                    // to this closed thread.
                    Err(RelayError::Upstream(error)) if error.status == Some(404) => {
                        tracing::error!(%error, session = session.id, "the bot's conversation is gone; the handoff is closed without the bot hearing it");
                    }
                    // Closed after Botpress has it, so a failure that may pass is redone by
                    // the retry; any other refusal (a rejected token, say) leaves the handoff
                    // open, as the bot's side of it still is.
                    Err(error) => return Err(error),
                }
                self.store.close(&session.id).await?;
                // Not for an archived or deleted thread: only a close is made again.
                if status == "CLOSED" {
                    self.keep_closed(&session).await;
                }
                tracing::info!(session = session.id, "handoff closed by the agent");
                Ok(Outcome::Done)
            }
            ThreadChange::Status(_) => Ok(Outcome::Ignored),
        }
    }
}

impl Relay {
    /// Announces `actor_id` as the thread's new agent, then records it: after Botpress has
    /// it, so a failure leaves the assignment to redo.
    async fn assign(
        &self,
        thread_id: &str,
        session: &HandoffSession,
        actor_id: &str,
        mark: AssignmentMark,
        listening_in: Option<std::time::Duration>,
    ) -> Result<Outcome, RelayError> {
        self.announce_assignee(session, actor_id, listening_in)
            .await?;
        let applied = self
            .store
            .set_assignee(&session.id, Some(actor_id), mark)
            .await?;
        tracing::info!(session = session.id, actor_id, "agent assigned");
        if !applied {
            self.reannounce_newer_assignee(thread_id, actor_id).await?;
        }
        Ok(Outcome::Done)
    }

    /// Tells the bot `actor_id` now handles the session's thread (`hitlAssigned`), once it
    /// listens, and not before `listening_in` if given.
    pub(super) async fn announce_assignee(
        &self,
        session: &HandoffSession,
        actor_id: &str,
        listening_in: Option<std::time::Duration>,
    ) -> Result<(), RelayError> {
        let conversation_id = session.conversation_id.clone().unwrap_or_default();
        let agent_user_id = self.agent_user(&session.bot, actor_id, None).await?;
        self.tell_the_bot(
            session,
            "hitlAssigned",
            json!({ "conversationId": conversation_id, "userId": agent_user_id }),
            listening_in,
        )
        .await
    }

    /// Creates a `hitl` event in the session's conversation, due once the bot listens
    /// ([`Self::until_the_bot_listens`]) and not before `listening_in` if given.
    async fn tell_the_bot(
        &self,
        session: &HandoffSession,
        event_type: &str,
        payload: serde_json::Value,
        listening_in: Option<std::time::Duration>,
    ) -> Result<(), RelayError> {
        let conversation_id = session.conversation_id.as_deref().unwrap_or_default();
        self.botpress
            .create_event(
                &session.bot,
                event_type,
                conversation_id,
                payload,
                self.until_the_bot_listens(session).max(listening_in),
            )
            .await?;
        Ok(())
    }

    /// A newer assignment was recorded while this older one was being announced (a holder
    /// whose lease ran out, or a store write that overtook it): the bot may have heard the
    /// older one last, so it hears the newer assignee again. A newer unassignment has nothing
    /// to say: the `hitl` interface has no event for it.
    async fn reannounce_newer_assignee(
        &self,
        thread_id: &str,
        announced_actor_id: &str,
    ) -> Result<(), RelayError> {
        let Some(session) = self.active_session_of(thread_id).await? else {
            return Ok(());
        };
        match session.assigned_actor_id.as_deref() {
            Some(newer) if newer != announced_actor_id => {
                tracing::info!(
                    session = session.id,
                    "a newer assignment overtook this one; the bot is told it again"
                );
                self.announce_assignee(&session, newer, None).await
            }
            _ => Ok(()),
        }
    }
}

/// How long after a handoff opens its bot may not be listening yet: the HITL plugin marks
/// the conversation active only after `startHitl` has answered (a few Runtime API calls
/// later), and until then it drops what the integration sends into it: events
/// (`hitlAssigned` is not shown, `hitlStopped` does not end the session) and agents' messages.
pub(super) const THE_BOT_LISTENS_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

impl Relay {
    /// The delay what goes to the bot about `session` needs so the bot hears it. Sent `e`
    /// after the opening (or after a later `startHitl` was answered on it, from when the
    /// plugin listens again), it is due at `THE_BOT_LISTENS_AFTER + e / 2`: after the plugin
    /// listens, and later for whatever was sent later, so the bot hears things in the order
    /// they happened (a reassignment after an assignment, a reply after a reply). From
    /// `2 × THE_BOT_LISTENS_AFTER` on (and for a session stored before the time was kept),
    /// `None`: at once.
    pub(super) fn until_the_bot_listens(
        &self,
        session: &HandoffSession,
    ) -> Option<std::time::Duration> {
        let listening_from = session
            .listening_again_since_ms
            .or(session.activated_at_ms)
            .and_then(chrono::DateTime::from_timestamp_millis)?;
        let since = (self.clock.now() - listening_from).max(chrono::TimeDelta::zero());
        let left = THE_BOT_LISTENS_AFTER - since / 2;
        left.to_std().ok().filter(|left| !left.is_zero())
    }
}

/// The lease a thread's assignment changes, its close, and any announcement of its agent are
/// made under ([`Relay::relay_thread_change`]). The key keeps the name it had when only
/// assignments took it, so versions running side by side during a deploy share it.
pub(super) fn thread_lease(thread_id: &str) -> String {
    format!("assigning:{thread_id}")
}

/// Open, with its Botpress conversation: the bot is listening.
pub(super) fn is_live(session: &HandoffSession) -> bool {
    session.status == SessionStatus::Open && session.conversation_id.is_some()
}

/// How long the help desk's events wait for a handoff that is still opening. Past it, the
/// `startHitl` that began it failed and was not retried (Botpress retries within seconds, a
/// customer asking again within minutes resumes it): the opening is abandoned (its session
/// and thread closed, so the next `startHitl` starts over), its thread's events are
/// acknowledged instead of refused through HubSpot's 24 hours of retries, and an agent's
/// reply is marked FAILED so the agent knows nobody reads it.
const OPENING_WAITED_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Still opening, recently enough that its bot conversation is about to exist.
pub(super) fn is_opening(session: &HandoffSession, now: chrono::DateTime<chrono::Utc>) -> bool {
    session.status == SessionStatus::Opening && now - session.created_at < OPENING_WAITED_FOR
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BotpressContext;

    #[test]
    fn changes_under_one_event_id_keep_apart_and_a_retry_finds_its_key() {
        let assigned = ThreadChange::Assigned(Some("A-1".into()));
        let closed = ThreadChange::Status("CLOSED".into());
        let key = |thread: &str, change: &ThreadChange, at: i64| {
            thread_change_key("100", thread, change, at)
        };
        assert_eq!(key("T1", &assigned, 5), key("T1", &assigned, 5));
        assert_ne!(key("T1", &assigned, 5), key("T1", &closed, 5));
        assert_ne!(key("T1", &closed, 5), key("T2", &closed, 5));
        assert_ne!(key("T1", &assigned, 5), key("T1", &assigned, 6));
        assert_ne!(
            key("T1", &closed, 5),
            key("T1", &ThreadChange::Status(THREAD_DELETED.into()), 5)
        );
    }

    #[test]
    fn a_handoff_that_stays_opening_is_waited_for_ten_minutes() {
        let started = chrono::Utc::now();
        let bot = BotpressContext {
            bot_id: "bot".into(),
            integration_id: "int".into(),
            integration_alias: "hubspot-hitl".into(),
        };
        let session = HandoffSession::new(bot, "user".into(), "c".into(), "a".into(), started);
        assert!(is_opening(
            &session,
            started + chrono::TimeDelta::minutes(9)
        ));
        assert!(!is_opening(
            &session,
            started + chrono::TimeDelta::minutes(10)
        ));
        let mut open = session.clone();
        open.status = SessionStatus::Open;
        assert!(!is_opening(&open, started));
    }
}
