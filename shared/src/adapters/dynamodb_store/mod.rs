//! Every store port over one DynamoDB table, for the Lambda functions.
//!
//! One table, hash key `pk` only, TTL on `ttl` (epoch seconds). Item kinds by key prefix (see
//! [`keys`]): `SESSION#` holds a session; `THREAD#` and `CONVERSATION#` map either side's id to
//! it; `ACTIVE#<bot>#<customer>` names the customer's active session; `CHANNEL`, `CUSTOMER#`,
//! `AGENT#` hold what their names say; `IDEMPOTENCY#` is the ledger; `LOCK#` the refresh lock;
//! `CLOSES_PENDING` the threads left to close later; `STATUSES_OWED` the message statuses left
//! to set later.
//! (`REPLY_ORDER#` items of older versions are no longer read: the mark lives on the session.)
//!
//! Conditional writes and transactions do what uniqueness constraints do in the SQLite store:
//! the mapping items are written in the same transaction as the session change (not a GSI,
//! which is only eventually consistent), so both directions are strongly consistent; the
//! `ACTIVE#` item, written with `attribute_not_exists`, keeps one active session per customer.
//! DynamoDB deletes items past their `ttl` only eventually, so every read and every
//! existence condition treats an item whose `ttl` is past as absent.

mod items;
mod keys;
mod ledger;
mod lock;
mod pending_closes;
mod pointers;
mod records;
mod sessions;
mod statuses_owed;
mod table;
mod writes;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;

use crate::ports::{Clock, StoreError};

use items::Item;

/// How long a closed session and its mapping items stay readable (late webhooks and retries
/// still find them) before DynamoDB's TTL removes them.
const CLOSED_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// The condition under which a write may create an item: there is none, or only an expired
/// one DynamoDB has not deleted yet. Needs `:now` (epoch seconds).
const ABSENT: &str = "(attribute_not_exists(pk) OR #ttl < :now)";

/// Every store port over one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    /// Which session each mapping item names, as this process last read it.
    pointers: pointers::PointerCache,
}

impl DynamoStore {
    /// A store over `table`, which must exist (see [`DynamoStore::create_table`]). Build the
    /// client once per execution environment: warm invocations reuse its connections.
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            pointers: pointers::PointerCache::default(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// The `ttl` of an item that should last until `ms` (epoch milliseconds), rounded up so
    /// DynamoDB never deletes it early.
    fn ttl_at_ms(ms: i64) -> i64 {
        ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
    }

    /// Reads the item at `pk`, strongly consistent; an expired item reads as absent.
    async fn get(&self, operation: &'static str, pk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(items::key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| writes::failure(operation, e))?;
        let now = self.now_secs();
        Ok(output.item.filter(|item| !items::is_expired(item, now)))
    }

    /// Writes `item` whole, replacing what was there.
    async fn put(&self, operation: &'static str, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| writes::failure(operation, e))?;
        Ok(())
    }
}

/// The table's TTL deletes what has run out, and every read already treats an item past its
/// `ttl` as absent: nothing to purge by hand.
#[async_trait::async_trait]
impl crate::ports::ExpiringStore for DynamoStore {
    async fn purge_expired(&self) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// One pass over the table (a scan, paged): each customer item without a `ttl` gets one,
    /// unless a save gave it one meanwhile.
    async fn expire_untimed(&self) -> Result<usize, StoreError> {
        const OPERATION: &str = "give untimed customers an expiry";
        let ttl = self.now_secs() + crate::model::CUSTOMER_RETENTION.num_seconds();
        let mut start: Option<Item> = None;
        let mut expired = 0;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :customer) AND attribute_not_exists(#ttl)")
                .projection_expression("pk")
                .expression_attribute_names("#ttl", items::TTL)
                .expression_attribute_values(":customer", items::s(keys::CUSTOMER_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| writes::failure(OPERATION, e))?;
            for item in page.items() {
                let Some(pk) = item.get(items::PK) else {
                    continue;
                };
                let timed = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(items::PK, pk.clone())
                    .update_expression("SET #ttl = :ttl")
                    .condition_expression("attribute_exists(pk) AND attribute_not_exists(#ttl)")
                    .expression_attribute_names("#ttl", items::TTL)
                    .expression_attribute_values(":ttl", items::n(ttl))
                    .send()
                    .await;
                match timed {
                    Ok(_) => expired += 1,
                    Err(error) if writes::is_condition_failed(&error) => {}
                    Err(error) => return Err(writes::failure(OPERATION, error)),
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(expired)
    }
}
