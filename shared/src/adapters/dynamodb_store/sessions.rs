//! Handoff sessions, their thread ⇄ conversation mapping, and one active session per customer.
//!
//! Every change that another call can race with is a transaction whose conditions hold the
//! invariants: the `ACTIVE#` item exists exactly while its session is active, and a mapping
//! item points at the session whose `thread_id` / `conversation_id` it names.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use crate::model::{AssignmentMark, HandoffSession};
use crate::ports::{SessionStore, StoreError};

use super::items::{
    self, ACTIVATED_AT_MS, ASSIGNED_ACTOR_ID, ASSIGNMENT_CHANGED_AT_MS, ASSIGNMENT_EVENT_ID,
    CONVERSATION_ID, LISTENING_AGAIN_SINCE_MS, SESSION_ID, THREAD_ID, TTL, n, s,
};
use super::writes::{self, ATTEMPTS, back_off, failure, is_condition_failed, names, values};
use super::{ABSENT, CLOSED_RETENTION, DynamoStore, keys};

/// Moves a session's reply-order mark to `:at`, on condition [`REPLIES_MARK_BEHIND`].
const ADVANCE_REPLIES_MARK: &str = "SET replies_relayed_until_ms = :at";
/// The session exists and its mark is behind `:at`: the mark never moves back.
const REPLIES_MARK_BEHIND: &str = "attribute_exists(pk) AND \
    (attribute_not_exists(replies_relayed_until_ms) OR replies_relayed_until_ms < :at)";

/// A mapping item may be written when it is free or already points at this session. Needs
/// `:now` and `:sid`.
const MAPPING_FREE: &str = "(attribute_not_exists(pk) OR session_id = :sid OR #ttl < :now)";

/// One side of the mapping: a HubSpot thread or a Botpress conversation.
#[derive(Clone, Copy)]
enum Side {
    Thread,
    Conversation,
}

impl Side {
    fn attribute(self) -> &'static str {
        match self {
            Self::Thread => THREAD_ID,
            Self::Conversation => CONVERSATION_ID,
        }
    }

    fn key(self, id: &str) -> String {
        match self {
            Self::Thread => keys::thread(id),
            Self::Conversation => keys::conversation(id),
        }
    }

    /// The session's id on this side.
    fn id_of(self, session: &HandoffSession) -> Option<&str> {
        match self {
            Self::Thread => session.thread_id.as_deref(),
            Self::Conversation => session.conversation_id.as_deref(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Thread => "thread",
            Self::Conversation => "conversation",
        }
    }
}

impl DynamoStore {
    /// The session at `session_id`, unless absent or expired.
    async fn session(
        &self,
        operation: &'static str,
        session_id: &str,
    ) -> Result<Option<HandoffSession>, StoreError> {
        self.get(operation, keys::session(session_id))
            .await?
            .map(|item| items::session_from_item(&item))
            .transpose()
    }

    /// The active session an `ACTIVE#` item points at; `None` when there is none, or when
    /// the session it named closed between the two reads (a close drops the pointer with
    /// it), which must not be taken for the customer's active session.
    async fn pointed_session(
        &self,
        operation: &'static str,
        pointer: String,
    ) -> Result<Option<HandoffSession>, StoreError> {
        let Some(item) = self.get(operation, pointer).await? else {
            return Ok(None);
        };
        let session_id = items::string(&item, SESSION_ID)?;
        Ok(self
            .session(operation, &session_id)
            .await?
            .filter(HandoffSession::is_active))
    }

    /// The session `side`'s mapping item for `id` names, if that session still has `id` on
    /// that side (a mapping left behind by a session whose id changed names it no longer).
    /// A warm process knows the session id and reads the session only.
    async fn mapped_session(
        &self,
        operation: &'static str,
        side: Side,
        id: &str,
    ) -> Result<Option<HandoffSession>, StoreError> {
        let mapping = side.key(id);
        let names_id =
            |session: &HandoffSession| side.id_of(session).is_some_and(|mapped| mapped == id);
        if let Some(session_id) = self.pointers.session_id(&mapping) {
            match self.session(operation, &session_id).await? {
                Some(session) if names_id(&session) => return Ok(Some(session)),
                _ => self.pointers.forget(&mapping),
            }
        }
        let Some(item) = self.get(operation, mapping.clone()).await? else {
            return Ok(None);
        };
        let session_id = items::string(&item, SESSION_ID)?;
        let session = self.session(operation, &session_id).await?;
        let session = session.filter(names_id);
        if session.is_some() {
            self.pointers.remember(mapping, session_id);
        }
        Ok(session)
    }

    /// [`ADVANCE_REPLIES_MARK`] inside a transaction.
    pub(super) fn replies_mark_update(
        &self,
        session_id: &str,
        created_at_ms: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        writes::update(
            self,
            items::key(keys::session(session_id)),
            ADVANCE_REPLIES_MARK,
            REPLIES_MARK_BEHIND,
            values([(":at", n(created_at_ms))]),
        )
    }

    /// Writes `mapping` → `session_id`, expiring with the session when it is closed.
    fn mapping_put(
        &self,
        mapping: String,
        session_id: &str,
        ttl: Option<i64>,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        writes::put(
            self,
            items::pointer_item(mapping, session_id, ttl),
            MAPPING_FREE,
            values([(":sid", s(session_id)), (":now", n(now))]),
        )
    }

    /// Records `side`'s id on a session with its mapping item, in one transaction, and answers
    /// whether the session is active. On an active session the common path is one
    /// transaction; a closed one gets a mapping item that expires with it; a missing one is
    /// left alone, as the SQLite `UPDATE` would.
    async fn link(
        &self,
        operation: &'static str,
        session_id: &str,
        side: Side,
        id: &str,
    ) -> Result<bool, StoreError> {
        let attribute = side.attribute();
        let opens = matches!(side, Side::Conversation);
        for attempt in 0..ATTEMPTS {
            let now = self.now_secs();
            // The first activation's time stays (`if_not_exists`): a retried startHitl
            // activates again.
            let expression = if opens {
                format!(
                    "SET {attribute} = :id, #status = :open, \
                     {ACTIVATED_AT_MS} = if_not_exists({ACTIVATED_AT_MS}, :activated)"
                )
            } else {
                format!("SET {attribute} = :id")
            };
            let mut session_values =
                values([(":id", s(id)), (":closed", s("closed"))]).unwrap_or_default();
            if opens {
                session_values.insert(":open".into(), s("open"));
                session_values.insert(":activated".into(), n(self.now_ms()));
            }
            let active = vec![
                writes::update(
                    self,
                    items::key(keys::session(session_id)),
                    &expression,
                    "attribute_exists(pk) AND #status <> :closed",
                    Some(session_values),
                )?,
                self.mapping_put(side.key(id), session_id, None, now)?,
            ];
            let cancelled = match self.transact(operation, active).await? {
                Ok(()) => return Ok(true),
                Err(cancelled) => cancelled,
            };
            if !cancelled.condition_failed(0) {
                if cancelled.condition_failed(1) {
                    return Err(self.taken(operation, side, id).await);
                }
                if cancelled.retryable() {
                    back_off(attempt).await;
                    continue;
                }
                return Err(StoreError::new(operation, cancelled));
            }
            // The session is missing or closed.
            let Some(item) = self.get(operation, keys::session(session_id)).await? else {
                return Ok(false);
            };
            if items::session_from_item(&item)?.is_active() {
                continue;
            }
            let ttl = items::number(&item, TTL)?;
            let closed = vec![
                writes::update(
                    self,
                    items::key(keys::session(session_id)),
                    &format!("SET {attribute} = :id"),
                    "attribute_exists(pk) AND #status = :closed",
                    values([(":id", s(id)), (":closed", s("closed"))]),
                )?,
                self.mapping_put(side.key(id), session_id, ttl, now)?,
            ];
            match self.transact(operation, closed).await? {
                Ok(()) => return Ok(false),
                Err(cancelled) if cancelled.condition_failed(1) => {
                    return Err(self.taken(operation, side, id).await);
                }
                Err(cancelled) if cancelled.condition_failed(0) || cancelled.retryable() => {
                    back_off(attempt).await;
                }
                Err(cancelled) => return Err(StoreError::new(operation, cancelled)),
            }
        }
        Err(gave_up(operation, session_id))
    }

    /// The error for an id that already maps to another session (SQLite's UNIQUE violation).
    async fn taken(&self, operation: &'static str, side: Side, id: &str) -> StoreError {
        let owner = match self.get(operation, side.key(id)).await {
            Ok(Some(item)) => items::string(&item, SESSION_ID).unwrap_or_default(),
            _ => String::new(),
        };
        StoreError::refused(
            operation,
            format!(
                "{} `{id}` already belongs to another session `{owner}`",
                side.name()
            ),
        )
    }

    /// The writes that store a new session: its item, the `ACTIVE#` item when it is active,
    /// and mapping items for the ids it already has. Returns them with the index of the
    /// `ACTIVE#` put, if any.
    fn insertion(
        &self,
        session: &HandoffSession,
        now: i64,
    ) -> Result<(Vec<TransactWriteItem>, Option<usize>), StoreError> {
        let ttl = (!session.is_active()).then(|| now + CLOSED_RETENTION.num_seconds());
        let at_now = || values([(":now", n(now))]);
        let mut writes = Vec::with_capacity(4);
        let mut active_index = None;
        if session.is_active() {
            active_index = Some(writes.len());
            writes.push(writes::put(
                self,
                items::pointer_item(
                    keys::active(&session.bot.bot_id, &session.customer_user_id),
                    &session.id,
                    None,
                ),
                ABSENT,
                at_now(),
            )?);
        }
        writes.push(writes::put(
            self,
            items::session_item(session, ttl),
            ABSENT,
            at_now(),
        )?);
        for (side, id) in [
            (Side::Thread, &session.thread_id),
            (Side::Conversation, &session.conversation_id),
        ] {
            if let Some(id) = id {
                writes.push(self.mapping_put(side.key(id), &session.id, ttl, now)?);
            }
        }
        Ok((writes, active_index))
    }
}

fn gave_up(operation: &'static str, session_id: &str) -> StoreError {
    StoreError::new(
        operation,
        format!("session `{session_id}` kept changing; gave up after {ATTEMPTS} attempts"),
    )
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn insert_or_get_active(
        &self,
        session: HandoffSession,
    ) -> Result<HandoffSession, StoreError> {
        const OPERATION: &str = "insert session";
        let active_key = keys::active(&session.bot.bot_id, &session.customer_user_id);
        for attempt in 0..ATTEMPTS {
            if !session.is_active() {
                // Like the SQLite store: an active session wins over inserting a closed one.
                if let Some(active) = self.pointed_session(OPERATION, active_key.clone()).await? {
                    return Ok(active);
                }
            }
            let (writes, active_index) = self.insertion(&session, self.now_secs())?;
            let cancelled = match self.transact(OPERATION, writes).await? {
                Ok(()) => return Ok(session),
                Err(cancelled) => cancelled,
            };
            if active_index.is_some_and(|index| cancelled.condition_failed(index)) {
                if let Some(active) = self.pointed_session(OPERATION, active_key.clone()).await? {
                    return Ok(active);
                }
                // Closed between our write and our read: try again.
                back_off(attempt).await;
                continue;
            }
            if cancelled.retryable() {
                back_off(attempt).await;
                continue;
            }
            let session_index = active_index.map_or(0, |index| index + 1);
            let problem = if cancelled.condition_failed(session_index) {
                format!("a session with id `{}` already exists", session.id)
            } else if (session_index + 1..session_index + 3)
                .any(|index| cancelled.condition_failed(index))
            {
                format!(
                    "its thread or conversation already belongs to another session ({cancelled})"
                )
            } else {
                cancelled.to_string()
            };
            return Err(StoreError::new(OPERATION, problem));
        }
        Err(gave_up(OPERATION, &session.id))
    }

    async fn set_thread(&self, session_id: &str, thread_id: &str) -> Result<(), StoreError> {
        self.link("record thread", session_id, Side::Thread, thread_id)
            .await
            .map(|_| ())
    }

    async fn activate(&self, session_id: &str, conversation_id: &str) -> Result<bool, StoreError> {
        self.link(
            "activate session",
            session_id,
            Side::Conversation,
            conversation_id,
        )
        .await
    }

    async fn listen_again(&self, session_id: &str) -> Result<(), StoreError> {
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::session(session_id))))
            .update_expression(format!("SET {LISTENING_AGAIN_SINCE_MS} = :now"))
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", items::STATUS)
            .set_expression_attribute_values(values([
                (":now", n(self.now_ms())),
                (":open", s("open")),
            ]))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Not open (opening, closed, or no such session): nothing to listen to.
            Err(error) if is_condition_failed(&error) => Ok(()),
            Err(error) => Err(failure("listen again", error)),
        }
    }

    /// Reads the session, then in one transaction: marks it closed (on condition it is not,
    /// and its thread and conversation are still those read), deletes its `ACTIVE#` item and
    /// gives its mapping items the same expiry. The condition makes exactly one racing close
    /// win; a concurrent `set_thread` or `activate` makes this one read again.
    async fn close(&self, session_id: &str) -> Result<bool, StoreError> {
        const OPERATION: &str = "close session";
        for attempt in 0..ATTEMPTS {
            let Some(session) = self.session(OPERATION, session_id).await? else {
                return Ok(false);
            };
            if !session.is_active() {
                return Ok(false);
            }
            let now = self.now_secs();
            let ttl = now + CLOSED_RETENTION.num_seconds();
            let mut condition = String::from("attribute_exists(pk) AND #status <> :closed");
            let mut session_values: std::collections::HashMap<String, AttributeValue> =
                values([(":closed", s("closed")), (":ttl", n(ttl))]).unwrap_or_default();
            for (attribute, id, placeholder) in [
                (THREAD_ID, &session.thread_id, ":thread"),
                (CONVERSATION_ID, &session.conversation_id, ":conversation"),
            ] {
                match id {
                    Some(id) => {
                        condition.push_str(&format!(" AND {attribute} = {placeholder}"));
                        session_values.insert(placeholder.into(), s(id));
                    }
                    None => condition.push_str(&format!(" AND attribute_not_exists({attribute})")),
                }
            }
            let mut writes = vec![
                writes::update(
                    self,
                    items::key(keys::session(session_id)),
                    "SET #status = :closed, #ttl = :ttl",
                    &condition,
                    Some(session_values),
                )?,
                writes::delete(
                    self,
                    items::key(keys::active(&session.bot.bot_id, &session.customer_user_id)),
                    "attribute_not_exists(pk) OR session_id = :sid",
                    values([(":sid", s(session_id))]),
                )?,
            ];
            for (side, id) in [
                (Side::Thread, &session.thread_id),
                (Side::Conversation, &session.conversation_id),
            ] {
                if let Some(id) = id {
                    writes.push(self.mapping_put(side.key(id), session_id, Some(ttl), now)?);
                }
            }
            match self.transact(OPERATION, writes).await? {
                Ok(()) => return Ok(true),
                // Closed by someone else, or its thread or conversation changed: read again.
                Err(cancelled) if cancelled.condition_failed(0) || cancelled.retryable() => {
                    back_off(attempt).await;
                }
                Err(cancelled) if cancelled.condition_failed(1) => {
                    return Err(StoreError::new(
                        OPERATION,
                        format!(
                            "the customer's active-session item names another session than `{session_id}`"
                        ),
                    ));
                }
                Err(cancelled) => return Err(StoreError::new(OPERATION, cancelled)),
            }
        }
        Err(gave_up(OPERATION, session_id))
    }

    async fn set_assignee(
        &self,
        session_id: &str,
        actor_id: Option<&str>,
        mark: AssignmentMark,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "record assignee";
        // Live, and no newer assignment change recorded (`AssignmentMark`'s order: a later
        // millisecond, or the same one and no lower event id, none being lowest): of two racing
        // changes the newer wins whichever order they are written in.
        let same_millisecond = match mark.event_id {
            Some(_) => format!(
                "attribute_not_exists({ASSIGNMENT_EVENT_ID}) OR {ASSIGNMENT_EVENT_ID} <= :event"
            ),
            None => format!("attribute_not_exists({ASSIGNMENT_EVENT_ID})"),
        };
        let condition = format!(
            "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl >= :now) \
             AND (attribute_not_exists({ASSIGNMENT_CHANGED_AT_MS}) OR {ASSIGNMENT_CHANGED_AT_MS} < :at \
                  OR ({ASSIGNMENT_CHANGED_AT_MS} = :at AND ({same_millisecond})))"
        );
        let mut set = vec![format!("{ASSIGNMENT_CHANGED_AT_MS} = :at")];
        let mut remove = Vec::new();
        let mut attribute_values = vec![(":at", n(mark.at_ms)), (":now", n(self.now_secs()))];
        match actor_id {
            Some(actor) => {
                set.push(format!("{ASSIGNED_ACTOR_ID} = :actor"));
                attribute_values.push((":actor", s(actor)));
            }
            None => remove.push(ASSIGNED_ACTOR_ID),
        }
        match mark.event_id {
            Some(event_id) => {
                set.push(format!("{ASSIGNMENT_EVENT_ID} = :event"));
                attribute_values.push((":event", n(event_id)));
            }
            None => remove.push(ASSIGNMENT_EVENT_ID),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let attribute_values = Some(
            attribute_values
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        );
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::session(session_id))))
            .update_expression(&expression)
            .condition_expression(&condition)
            .set_expression_attribute_names(names(&[&expression, &condition]))
            .set_expression_attribute_values(attribute_values)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // A newer change is recorded, or no such session.
            Err(error) if is_condition_failed(&error) => Ok(false),
            Err(error) => Err(failure(OPERATION, error)),
        }
    }

    async fn advance_replies_relayed_until(
        &self,
        session_id: &str,
        created_at_ms: i64,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "advance reply order";
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::session(session_id))))
            .update_expression(ADVANCE_REPLIES_MARK)
            .condition_expression(REPLIES_MARK_BEHIND)
            .set_expression_attribute_values(values([(":at", n(created_at_ms))]))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // The mark is already at or past this reply, or there is no such session.
            Err(error) if is_condition_failed(&error) => Ok(()),
            Err(error) => Err(failure(OPERATION, error)),
        }
    }

    async fn find_by_thread(&self, thread_id: &str) -> Result<Option<HandoffSession>, StoreError> {
        self.mapped_session("find session by thread", Side::Thread, thread_id)
            .await
    }

    async fn find_by_id(&self, session_id: &str) -> Result<Option<HandoffSession>, StoreError> {
        self.session("find session by id", session_id).await
    }

    async fn find_by_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<HandoffSession>, StoreError> {
        self.mapped_session(
            "find session by conversation",
            Side::Conversation,
            conversation_id,
        )
        .await
    }
}
