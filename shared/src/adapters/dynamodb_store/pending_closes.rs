//! The threads left to close later: one item, `CLOSES_PENDING`, with an attribute per thread
//! (`thread#<id>`, the epoch milliseconds it was first left). One item, so the scheduled run
//! reads them all with one `GetItem` (the table has no index to query), and the token
//! refresher's IAM policy reaches it by its key alone. `hubspot-webhook` reads it too, for an
//! agent writing in a thread whose handoff ended (its policy covers the whole table).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::{PendingClose, PendingCloseStore, StoreError};

use super::items::{self, n};
use super::writes::{failure, is_condition_failed, values};
use super::{DynamoStore, keys};

/// What each thread's attribute name starts with.
const THREAD_PREFIX: &str = "thread#";

fn attribute(thread_id: &str) -> String {
    format!("{THREAD_PREFIX}{thread_id}")
}

#[async_trait]
impl PendingCloseStore for DynamoStore {
    async fn remember_close(&self, thread_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::CLOSES_PENDING)))
            // Remembered already: it keeps its first time.
            .update_expression("SET #thread = if_not_exists(#thread, :since)")
            .expression_attribute_names("#thread", attribute(thread_id))
            .set_expression_attribute_values(values([(":since", n(self.now_ms()))]))
            .send()
            .await
            .map_err(|error| failure("remember a close", error))?;
        Ok(())
    }

    async fn closes_pending(&self) -> Result<Vec<PendingClose>, StoreError> {
        let Some(item) = self
            .get("read closes pending", keys::CLOSES_PENDING.to_string())
            .await?
        else {
            return Ok(Vec::new());
        };
        let mut closes: Vec<PendingClose> = item
            .iter()
            .filter_map(|(name, value)| {
                let thread_id = name.strip_prefix(THREAD_PREFIX)?;
                let since_ms = match value {
                    AttributeValue::N(number) => number.parse().ok()?,
                    _ => return None,
                };
                Some(PendingClose {
                    thread_id: thread_id.to_string(),
                    since_ms,
                })
            })
            .collect();
        closes.sort_by_key(|close| close.since_ms);
        Ok(closes)
    }

    async fn forget_close(&self, close: &PendingClose) -> Result<(), StoreError> {
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::CLOSES_PENDING)))
            .update_expression("REMOVE #thread")
            .condition_expression("#thread = :since")
            .expression_attribute_names("#thread", attribute(&close.thread_id))
            .set_expression_attribute_values(values([(":since", n(close.since_ms))]))
            .send()
            .await
        {
            // Forgotten already, or remembered again since: nothing to do.
            Err(error) if !is_condition_failed(&error) => Err(failure("forget a close", error)),
            _ => Ok(()),
        }
    }
}
