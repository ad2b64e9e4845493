//! The message statuses left to set later: one item, `STATUSES_OWED`, with an attribute per
//! message (`message#<channel>#<message>`), a map of the message's ids, its status (and the
//! reason a FAILED one shows) and the epoch milliseconds it was left. One item, like
//! `CLOSES_PENDING` and for the same reasons: the scheduled run reads them all with one
//! `GetItem`, and the token refresher's IAM policy reaches it by its key alone. What is left
//! is bounded: a reason is at most 1,000 characters, and while HubSpot refuses the bridge
//! itself (a rejected grant) only FAILED statuses are left, so one item's 400 KB holds some
//! hundreds of FAILED and thousands of SENT; each remember and forget rewrites the item, which
//! suits HubSpot's brief failures. A status that does not fit is logged by the relay.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::{DeliveryStatus, OwedStatus, OwedStatusStore, StoreError};

use super::items::{self, n, s};
use super::writes::{failure, is_condition_failed, values};
use super::{DynamoStore, keys};

/// What each message's attribute name starts with.
const MESSAGE_PREFIX: &str = "message#";

const CHANNEL_ID: &str = "channel_id";
const MESSAGE_ID: &str = "message_id";
const STATUS: &str = "status";
const ERROR_MESSAGE: &str = "error_message";
const SINCE_MS: &str = "since_ms";

fn attribute(channel_id: &str, message_id: &str) -> String {
    format!(
        "{MESSAGE_PREFIX}{}#{}",
        keys::part(channel_id),
        keys::part(message_id)
    )
}

/// One owed status as its attribute's map.
fn to_map(
    channel_id: &str,
    message_id: &str,
    status: &DeliveryStatus,
    since_ms: i64,
) -> AttributeValue {
    let mut map = HashMap::from([
        (CHANNEL_ID.to_string(), s(channel_id)),
        (MESSAGE_ID.to_string(), s(message_id)),
        (STATUS.to_string(), s(status.status_type())),
        (SINCE_MS.to_string(), n(since_ms)),
    ]);
    if let Some(reason) = status.reason() {
        map.insert(ERROR_MESSAGE.to_string(), s(reason));
    }
    AttributeValue::M(map)
}

/// One owed status from its attribute's map; `None` for anything else on the item.
fn from_map(value: &AttributeValue) -> Option<OwedStatus> {
    let map = value.as_m().ok()?;
    let text = |name: &str| map.get(name).and_then(|value| value.as_s().ok()).cloned();
    Some(OwedStatus {
        channel_id: text(CHANNEL_ID)?,
        message_id: text(MESSAGE_ID)?,
        status: DeliveryStatus::from_parts(&text(STATUS)?, text(ERROR_MESSAGE)),
        since_ms: map.get(SINCE_MS)?.as_n().ok()?.parse().ok()?,
    })
}

#[async_trait]
impl OwedStatusStore for DynamoStore {
    async fn remember_status(
        &self,
        channel_id: &str,
        message_id: &str,
        status: &DeliveryStatus,
    ) -> Result<(), StoreError> {
        let owed = to_map(channel_id, message_id, status, self.now_ms());
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::STATUSES_OWED)))
            .update_expression("SET #message = :owed")
            .expression_attribute_names("#message", attribute(channel_id, message_id))
            .set_expression_attribute_values(values([(":owed", owed)]))
            .send()
            .await
            .map_err(|error| failure("remember a message status", error))?;
        Ok(())
    }

    async fn statuses_owed(&self) -> Result<Vec<OwedStatus>, StoreError> {
        let Some(item) = self
            .get("read statuses owed", keys::STATUSES_OWED.to_string())
            .await?
        else {
            return Ok(Vec::new());
        };
        let mut owed: Vec<OwedStatus> = item
            .iter()
            .filter(|(name, _)| name.starts_with(MESSAGE_PREFIX))
            .filter_map(|(_, value)| from_map(value))
            .collect();
        owed.sort_by_key(|owed| owed.since_ms);
        Ok(owed)
    }

    async fn forget_status(&self, owed: &OwedStatus) -> Result<(), StoreError> {
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::STATUSES_OWED)))
            .update_expression("REMOVE #message")
            .condition_expression("#message.#since = :since")
            .expression_attribute_names("#message", attribute(&owed.channel_id, &owed.message_id))
            .expression_attribute_names("#since", SINCE_MS)
            .set_expression_attribute_values(values([(":since", n(owed.since_ms))]))
            .send()
            .await
        {
            // Forgotten already, or remembered again since: nothing to do.
            Err(error) if !is_condition_failed(&error) => {
                Err(failure("forget a message status", error))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owed_status_reads_back_from_its_map() {
        for status in [DeliveryStatus::Sent, DeliveryStatus::Failed("why".into())] {
            let map = to_map("c#1", "m", &status, 42);
            assert_eq!(
                from_map(&map),
                Some(OwedStatus {
                    channel_id: "c#1".into(),
                    message_id: "m".into(),
                    status,
                    since_ms: 42,
                })
            );
        }
        assert_eq!(from_map(&s("not a map")), None);
    }

    #[test]
    fn ids_containing_the_separator_name_different_attributes() {
        assert_ne!(attribute("a#b", "c"), attribute("a", "b#c"));
    }
}
