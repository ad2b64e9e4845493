//! Per thread, the creation time of the newest agent reply relayed (`REPLY_ORDER#<thread>`),
//! as the SQLite store's `reply_order` table keeps it: one conditional update that only moves
//! the mark forward, so racing relays keep the latest.

use async_trait::async_trait;

use crate::ports::{ReplyOrderStore, StoreError};

use super::items::{self, n};
use super::writes::{failure, is_condition_failed, names, values};
use super::{DynamoStore, keys};

const RELAYED_UNTIL: &str = "relayed_until_ms";
/// A thread quiet this long forgets its mark (each reply renews it). Far longer than HubSpot's
/// 24 hours of retries and than the sessions' own retention once closed.
const RETENTION: chrono::Duration = chrono::Duration::days(90);

#[async_trait]
impl ReplyOrderStore for DynamoStore {
    async fn relayed_until(&self, thread_id: &str) -> Result<Option<i64>, StoreError> {
        const OPERATION: &str = "read reply order";
        match self.get(OPERATION, keys::reply_order(thread_id)).await? {
            Some(item) => items::number(&item, RELAYED_UNTIL),
            None => Ok(None),
        }
    }

    async fn advance_relayed_until(
        &self,
        thread_id: &str,
        created_at_ms: i64,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "advance reply order";
        let expression = format!("SET {RELAYED_UNTIL} = :at, #ttl = :ttl");
        let condition = format!("attribute_not_exists(pk) OR #ttl < :now OR {RELAYED_UNTIL} < :at");
        let now = self.now_secs();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::reply_order(thread_id))))
            .update_expression(&expression)
            .condition_expression(&condition)
            .set_expression_attribute_names(names(&[&expression, &condition]))
            .set_expression_attribute_values(values([
                (":at", n(created_at_ms)),
                (":ttl", n(now + RETENTION.num_seconds())),
                (":now", n(now)),
            ]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The mark is already at or past this reply: nothing to move.
            Err(error) if is_condition_failed(&error) => Ok(()),
            Err(error) => Err(failure(OPERATION, error)),
        }
    }
}
