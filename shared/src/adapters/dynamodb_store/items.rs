//! How the model is laid out as DynamoDB attributes, and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::model::{
    AgentUser, AssignmentMark, BotpressContext, ChannelSetup, Customer, DeliveryIdentifier,
    HandoffSession, InboxAccount, SessionCustomer, SessionStatus,
};
use crate::ports::StoreError;

use super::keys;

pub(super) type Item = HashMap<String, AttributeValue>;

/// The hash key of the table.
pub(super) const PK: &str = "pk";
/// Epoch seconds after which DynamoDB may delete the item (the table's TTL attribute). It
/// deletes only eventually, so reads treat an item past its `ttl` as absent themselves.
pub(super) const TTL: &str = "ttl";
/// On mapping and ACTIVE items: the session they point at.
pub(super) const SESSION_ID: &str = "session_id";
pub(super) const THREAD_ID: &str = "thread_id";
pub(super) const CONVERSATION_ID: &str = "conversation_id";
pub(super) const STATUS: &str = "status";
pub(super) const ASSIGNED_ACTOR_ID: &str = "assigned_actor_id";
/// HubSpot's `occurredAt` (ms) of the newest assignment change applied to a session.
pub(super) const ASSIGNMENT_CHANGED_AT_MS: &str = "assignment_changed_at_ms";
/// HubSpot's event id of that change, when it had one (`AssignmentMark`).
pub(super) const ASSIGNMENT_EVENT_ID: &str = "assignment_event_id";
/// The creation time (ms) of the newest agent reply relayed in a session (written by
/// `sessions::ADVANCE_REPLIES_MARK`).
const REPLIES_RELAYED_UNTIL_MS: &str = "replies_relayed_until_ms";
pub(super) const ACTIVATED_AT_MS: &str = "activated_at_ms";
pub(super) const LISTENING_AGAIN_SINCE_MS: &str = "listening_again_since_ms";
/// The customer the session's messages come from (absent on sessions of older versions).
const CUSTOMER_NAME: &str = "customer_name";
const CUSTOMER_IDENTIFIER_TYPE: &str = "customer_identifier_type";
const CUSTOMER_IDENTIFIER_VALUE: &str = "customer_identifier_value";

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn key(pk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk))])
}

/// Whether DynamoDB may already have deleted `item`: its `ttl` is in the past.
pub(super) fn is_expired(item: &Item, now_secs: i64) -> bool {
    matches!(number(item, TTL), Ok(Some(ttl)) if ttl < now_secs)
}

/// Reads a string attribute the item must have.
pub(super) fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    optional_string(item, name)?.ok_or_else(|| malformed(item, name, "is missing"))
}

pub(super) fn optional_string(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(malformed(item, name, "is not a string")),
    }
}

pub(super) fn number(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(Some)
            .map_err(|_| malformed(item, name, "is not an integer")),
        Some(_) => Err(malformed(item, name, "is not a number")),
    }
}

fn malformed(item: &Item, name: &str, problem: &str) -> StoreError {
    let pk = match item.get(PK) {
        Some(AttributeValue::S(pk)) => pk.as_str(),
        _ => "?",
    };
    StoreError::refused(
        "read item",
        format!("attribute `{name}` of item `{pk}` {problem}"),
    )
}

fn insert_optional(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_string(), s(value));
    }
}

/// A session item. `ttl` is set on closed sessions (see `super::CLOSED_RETENTION`).
pub(super) fn session_item(session: &HandoffSession, ttl: Option<i64>) -> Item {
    let mut item = key(keys::session(&session.id));
    for (name, value) in [
        ("id", &session.id),
        ("bot_id", &session.bot.bot_id),
        ("integration_id", &session.bot.integration_id),
        ("integration_alias", &session.bot.integration_alias),
        ("customer_user_id", &session.customer_user_id),
        ("channel_id", &session.channel_id),
        ("channel_account_id", &session.channel_account_id),
        ("integration_thread_id", &session.integration_thread_id),
    ] {
        item.insert(name.to_string(), s(value));
    }
    insert_optional(&mut item, THREAD_ID, session.thread_id.as_deref());
    insert_optional(
        &mut item,
        CONVERSATION_ID,
        session.conversation_id.as_deref(),
    );
    insert_optional(
        &mut item,
        ASSIGNED_ACTOR_ID,
        session.assigned_actor_id.as_deref(),
    );
    if let Some(mark) = session.assignment_mark {
        item.insert(ASSIGNMENT_CHANGED_AT_MS.to_string(), n(mark.at_ms));
        if let Some(event_id) = mark.event_id {
            item.insert(ASSIGNMENT_EVENT_ID.to_string(), n(event_id));
        }
    }
    if let Some(relayed_until) = session.replies_relayed_until_ms {
        item.insert(REPLIES_RELAYED_UNTIL_MS.to_string(), n(relayed_until));
    }
    if let Some(activated_at) = session.activated_at_ms {
        item.insert(ACTIVATED_AT_MS.to_string(), n(activated_at));
    }
    if let Some(listening_again_since) = session.listening_again_since_ms {
        item.insert(
            LISTENING_AGAIN_SINCE_MS.to_string(),
            n(listening_again_since),
        );
    }
    if let Some(customer) = &session.customer {
        item.insert(CUSTOMER_NAME.to_string(), s(&customer.name));
        item.insert(
            CUSTOMER_IDENTIFIER_TYPE.to_string(),
            s(customer.identifier.hubspot_type()),
        );
        item.insert(
            CUSTOMER_IDENTIFIER_VALUE.to_string(),
            s(customer.identifier.value()),
        );
    }
    item.insert(STATUS.to_string(), s(session.status.as_str()));
    item.insert("created_at".to_string(), s(session.created_at.to_rfc3339()));
    if let Some(ttl) = ttl {
        item.insert(TTL.to_string(), n(ttl));
    }
    item
}

pub(super) fn session_from_item(item: &Item) -> Result<HandoffSession, StoreError> {
    let status = string(item, STATUS)?;
    let created_at = string(item, "created_at")?;
    Ok(HandoffSession {
        id: string(item, "id")?,
        bot: BotpressContext {
            bot_id: string(item, "bot_id")?,
            integration_id: string(item, "integration_id")?,
            integration_alias: string(item, "integration_alias")?,
        },
        customer_user_id: string(item, "customer_user_id")?,
        channel_id: string(item, "channel_id")?,
        channel_account_id: string(item, "channel_account_id")?,
        integration_thread_id: string(item, "integration_thread_id")?,
        thread_id: optional_string(item, THREAD_ID)?,
        conversation_id: optional_string(item, CONVERSATION_ID)?,
        status: SessionStatus::parse(&status)
            .ok_or_else(|| malformed(item, STATUS, "is not a session status"))?,
        assigned_actor_id: optional_string(item, ASSIGNED_ACTOR_ID)?,
        assignment_mark: number(item, ASSIGNMENT_CHANGED_AT_MS)?
            .map(|at_ms| {
                Ok::<_, StoreError>(AssignmentMark::new(
                    at_ms,
                    number(item, ASSIGNMENT_EVENT_ID)?,
                ))
            })
            .transpose()?,
        created_at: DateTime::parse_from_rfc3339(&created_at)
            .map_err(|_| malformed(item, "created_at", "is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        customer: session_customer_from_item(item)?,
        replies_relayed_until_ms: number(item, REPLIES_RELAYED_UNTIL_MS)?,
        activated_at_ms: number(item, ACTIVATED_AT_MS)?,
        listening_again_since_ms: number(item, LISTENING_AGAIN_SINCE_MS)?,
    })
}

fn session_customer_from_item(item: &Item) -> Result<Option<SessionCustomer>, StoreError> {
    let Some(name) = optional_string(item, CUSTOMER_NAME)? else {
        return Ok(None);
    };
    let identifier =
        identifier_from_item(item, CUSTOMER_IDENTIFIER_TYPE, CUSTOMER_IDENTIFIER_VALUE)?;
    Ok(Some(SessionCustomer { name, identifier }))
}

/// A delivery identifier kept as its HubSpot type and value in two attributes.
fn identifier_from_item(
    item: &Item,
    type_attribute: &str,
    value_attribute: &str,
) -> Result<DeliveryIdentifier, StoreError> {
    let value = string(item, value_attribute)?;
    DeliveryIdentifier::from_hubspot(&string(item, type_attribute)?, value)
        .ok_or_else(|| malformed(item, type_attribute, "is not a delivery identifier type"))
}

/// A THREAD#, CONVERSATION# or ACTIVE# item: a pointer at a session.
pub(super) fn pointer_item(pk: String, session_id: &str, ttl: Option<i64>) -> Item {
    let mut item = key(pk);
    item.insert(SESSION_ID.to_string(), s(session_id));
    if let Some(ttl) = ttl {
        item.insert(TTL.to_string(), n(ttl));
    }
    item
}

/// The channel setup as one item; its inbox accounts are a list of maps in `inbox_accounts`,
/// so a read is one strongly consistent get. An item written before the list existed has
/// none and reads with its single account.
pub(super) fn channel_item(setup: &ChannelSetup) -> Item {
    let mut item = key(keys::CHANNEL);
    for (name, value) in [
        ("channel_id", &setup.channel_id),
        ("channel_account_id", &setup.channel_account_id),
        ("inbox_id", &setup.inbox_id),
        ("webhook_url", &setup.webhook_url),
    ] {
        item.insert(name.to_string(), s(value));
    }
    let accounts = setup
        .accounts
        .iter()
        .map(|account| {
            let mut map = HashMap::from([
                ("inbox_id".to_string(), s(&account.inbox_id)),
                (
                    "channel_account_id".to_string(),
                    s(&account.channel_account_id),
                ),
            ]);
            insert_optional(&mut map, "inbox_name", account.inbox_name.as_deref());
            AttributeValue::M(map)
        })
        .collect();
    item.insert(INBOX_ACCOUNTS.to_string(), AttributeValue::L(accounts));
    item
}

const INBOX_ACCOUNTS: &str = "inbox_accounts";

pub(super) fn channel_from_item(item: &Item) -> Result<ChannelSetup, StoreError> {
    let accounts = match item.get(INBOX_ACCOUNTS) {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|entry| match entry {
                AttributeValue::M(map) => Ok(InboxAccount {
                    inbox_id: string(map, "inbox_id")?,
                    inbox_name: optional_string(map, "inbox_name")?,
                    channel_account_id: string(map, "channel_account_id")?,
                }),
                _ => Err(malformed(item, INBOX_ACCOUNTS, "holds a non-map entry")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed(item, INBOX_ACCOUNTS, "is not a list")),
    };
    Ok(ChannelSetup {
        channel_id: string(item, "channel_id")?,
        channel_account_id: string(item, "channel_account_id")?,
        inbox_id: string(item, "inbox_id")?,
        webhook_url: string(item, "webhook_url")?,
        accounts,
    })
}

/// A customer item, kept until `ttl` (epoch seconds; see `CUSTOMER_RETENTION`).
pub(super) fn customer_item(customer: &Customer, ttl: i64) -> Item {
    let mut item = key(keys::customer(&customer.bot_id, &customer.botpress_user_id));
    item.insert(TTL.to_string(), n(ttl));
    for (name, value) in [
        ("bot_id", customer.bot_id.as_str()),
        ("botpress_user_id", &customer.botpress_user_id),
        ("name", &customer.name),
        ("identifier_type", customer.identifier.hubspot_type()),
        ("identifier_value", customer.identifier.value()),
    ] {
        item.insert(name.to_string(), s(value));
    }
    // A visitor has no contact: the attribute is left out.
    if let Some(contact_id) = &customer.hubspot_contact_id {
        item.insert("hubspot_contact_id".to_string(), s(contact_id));
    }
    item
}

pub(super) fn customer_from_item(item: &Item) -> Result<Customer, StoreError> {
    let identifier = identifier_from_item(item, "identifier_type", "identifier_value")?;
    Ok(Customer {
        bot_id: string(item, "bot_id")?,
        botpress_user_id: string(item, "botpress_user_id")?,
        name: string(item, "name")?,
        identifier,
        hubspot_contact_id: optional_string(item, "hubspot_contact_id")?,
    })
}

pub(super) fn agent_item(agent: &AgentUser) -> Item {
    let mut item = key(keys::agent(&agent.bot_id, &agent.actor_id));
    for (name, value) in [
        ("bot_id", &agent.bot_id),
        ("actor_id", &agent.actor_id),
        ("botpress_user_id", &agent.botpress_user_id),
    ] {
        item.insert(name.to_string(), s(value));
    }
    insert_optional(&mut item, "name", agent.name.as_deref());
    item
}

pub(super) fn agent_from_item(item: &Item) -> Result<AgentUser, StoreError> {
    Ok(AgentUser {
        bot_id: string(item, "bot_id")?,
        actor_id: string(item, "actor_id")?,
        botpress_user_id: string(item, "botpress_user_id")?,
        name: optional_string(item, "name")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_survives_the_round_trip() {
        let mut session = HandoffSession::new(
            BotpressContext {
                bot_id: "bot".into(),
                integration_id: "int".into(),
                integration_alias: "alias".into(),
            },
            "user".into(),
            "channel".into(),
            "account".into(),
            Utc::now(),
        );
        assert_eq!(
            session_from_item(&session_item(&session, None)).unwrap(),
            session
        );
        session.thread_id = Some("9012".into());
        session.conversation_id = Some("conv".into());
        session.assigned_actor_id = Some("A-1".into());
        session.assignment_mark = Some(AssignmentMark::new(1_700_000_000_123, Some(78_101)));
        session.replies_relayed_until_ms = Some(1_700_000_000_456);
        session.activated_at_ms = Some(1_700_000_000_500);
        session.listening_again_since_ms = Some(1_700_000_000_789);
        session.customer = Some(SessionCustomer {
            name: "Ada".into(),
            identifier: DeliveryIdentifier::Phone("+14155550100".into()),
        });
        session.status = SessionStatus::Closed;
        let item = session_item(&session, Some(42));
        assert_eq!(session_from_item(&item).unwrap(), session);
        assert!(is_expired(&item, 43));
        assert!(!is_expired(&item, 42));
    }

    #[test]
    fn the_channel_setup_keeps_its_inboxes_and_old_items_still_read() {
        let setup = ChannelSetup {
            channel_id: "c".into(),
            channel_account_id: "a1".into(),
            inbox_id: "1001".into(),
            webhook_url: "https://bridge.example/hubspot/webhook".into(),
            accounts: vec![
                InboxAccount {
                    inbox_id: "1001".into(),
                    inbox_name: Some("Help Desk".into()),
                    channel_account_id: "a1".into(),
                },
                InboxAccount {
                    inbox_id: "2001".into(),
                    inbox_name: None,
                    channel_account_id: "a2".into(),
                },
            ],
        };
        let item = channel_item(&setup);
        assert_eq!(channel_from_item(&item).unwrap(), setup);
        let mut legacy = item.clone();
        legacy.remove(INBOX_ACCOUNTS);
        let read = channel_from_item(&legacy).unwrap();
        assert!(read.accounts.is_empty());
        assert_eq!(read.account_for("1001").unwrap().channel_account_id, "a1");
    }

    #[test]
    fn a_malformed_item_names_the_attribute() {
        let mut item = key("SESSION#x");
        item.insert(STATUS.into(), s("lost"));
        item.insert("created_at".into(), s("now"));
        let error = session_from_item(&item).unwrap_err();
        assert!(
            error.to_string().contains("`id` of item `SESSION#x`"),
            "{error}"
        );
    }
}
