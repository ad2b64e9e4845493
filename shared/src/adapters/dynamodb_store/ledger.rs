//! The idempotency ledger, after AWS Powertools' design: one item per key going
//! IN_PROGRESS → COMPLETED, claimed with one conditional put that succeeds only when there is
//! no record or its lease (or retention) has ended.
//!
//! Each claim carries an id of its own. The SDK resends a put whose answer was lost (a
//! timeout, a dropped connection), and the resent put then meets the record the first one
//! wrote: that record's id says it is this very claim, which is acquired, not refused as
//! another attempt's work in flight (which would answer 503 and hold the key for a lease).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::{Claim, FinishingWrite, IdempotencyLedger, SessionStore, StoreError};

use super::items::{self, Item, TTL, n, s};
use super::writes::{self, ATTEMPTS, failure, is_condition_failed, names, values};
use super::{DynamoStore, keys};

const STATE: &str = "state";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
const OUTCOME: &str = "outcome";
/// Which claim wrote an IN_PROGRESS record.
const CLAIM_ID: &str = "claim_id";
/// When the lease (IN_PROGRESS) or the retention (COMPLETED) ends, in epoch milliseconds:
/// the record counts only before then, whatever DynamoDB's TTL has done yet.
const EXPIRES_AT_MS: &str = "expires_at_ms";

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

#[async_trait]
impl IdempotencyLedger for DynamoStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        const OPERATION: &str = "claim idempotency key";
        const CONDITION: &str = "attribute_not_exists(pk) OR expires_at_ms <= :now";
        let claim_id = uuid::Uuid::new_v4().simple().to_string();
        for _ in 0..ATTEMPTS {
            let now = self.now_ms();
            let lease_ends = now.saturating_add(millis(lease));
            let mut item = items::key(keys::idempotency(key));
            item.insert(STATE.into(), s(IN_PROGRESS));
            item.insert(CLAIM_ID.into(), s(&claim_id));
            item.insert(EXPIRES_AT_MS.into(), n(lease_ends));
            item.insert(TTL.into(), n(Self::ttl_at_ms(lease_ends)));
            let refused = match self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(CONDITION)
                .set_expression_attribute_values(values([(":now", n(now))]))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
            {
                Ok(_) => return Ok(Claim::Acquired),
                Err(error) if is_condition_failed(&error) => error,
                Err(error) => return Err(failure(OPERATION, error)),
            };
            // The record that refused the claim, as it was then; read it if DynamoDB did not
            // return it.
            let record = match writes::refused_item(&refused) {
                Some(record) => Some(record),
                None => self.get(OPERATION, keys::idempotency(key)).await?,
            };
            match record {
                Some(record) => return claim_from_record(&record, &claim_id),
                // Released between the put and the read: claim again.
                None => continue,
            }
        }
        Err(StoreError::new(
            OPERATION,
            format!("key `{key}` kept changing; gave up after {ATTEMPTS} attempts"),
        ))
    }

    async fn complete(
        &self,
        key: &str,
        outcome: Option<&str>,
        keep: Duration,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "complete idempotency key";
        let completion = self.completion(outcome, keep);
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::idempotency(key))))
            .update_expression(completion.expression)
            .condition_expression(RECORD_EXISTS)
            .set_expression_attribute_names(names(&[completion.expression, RECORD_EXISTS]))
            .set_expression_attribute_values(Some(completion.values))
            .send()
            .await
        {
            // No record (never claimed, or gone): nothing to complete, as in SQLite.
            Err(error) if !is_condition_failed(&error) => Err(failure(OPERATION, error)),
            _ => Ok(()),
        }
    }

    /// One transaction for both writes; when either condition does not hold (no record, or
    /// the mark is already past this reply: both answers, not failures) or the transaction
    /// meets another, each write is made on its own, where its condition is an answer.
    async fn complete_with(
        &self,
        key: &str,
        keep: Duration,
        finishing: &FinishingWrite,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "complete idempotency key";
        let FinishingWrite::RepliesRelayedUntil {
            session_id,
            created_at_ms,
        } = finishing;
        let completion = self.completion(None, keep);
        let writes = vec![
            writes::update(
                self,
                items::key(keys::idempotency(key)),
                completion.expression,
                RECORD_EXISTS,
                Some(completion.values),
            )?,
            self.replies_mark_update(session_id, *created_at_ms)?,
        ];
        if self.transact(OPERATION, writes).await?.is_ok() {
            return Ok(());
        }
        self.complete(key, None, keep).await?;
        self.advance_replies_relayed_until(session_id, *created_at_ms)
            .await
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        const OPERATION: &str = "release idempotency key";
        let condition = "#state = :in_progress";
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::idempotency(key))))
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .set_expression_attribute_values(values([(":in_progress", s(IN_PROGRESS))]))
            .send()
            .await
        {
            // Completed work is kept; a missing record needs no release.
            Err(error) if !is_condition_failed(&error) => Err(failure(OPERATION, error)),
            _ => Ok(()),
        }
    }
}

/// The condition of a completion: the record exists (claimed, and not gone).
const RECORD_EXISTS: &str = "attribute_exists(pk)";

/// The update that marks a record COMPLETED, remembering `outcome` for `keep`.
struct Completion {
    expression: &'static str,
    values: HashMap<String, AttributeValue>,
}

impl DynamoStore {
    fn completion(&self, outcome: Option<&str>, keep: Duration) -> Completion {
        let expires = self.now_ms().saturating_add(millis(keep));
        let expression = match outcome {
            Some(_) => {
                "SET #state = :completed, outcome = :outcome, expires_at_ms = :expires, #ttl = :ttl"
            }
            None => "SET #state = :completed, expires_at_ms = :expires, #ttl = :ttl REMOVE outcome",
        };
        let mut values = values([
            (":completed", s(COMPLETED)),
            (":expires", n(expires)),
            (":ttl", n(Self::ttl_at_ms(expires))),
        ])
        .unwrap_or_default();
        if let Some(outcome) = outcome {
            values.insert(":outcome".into(), s(outcome));
        }
        Completion { expression, values }
    }
}

/// What a live record that refused the claim `claim_id` says.
fn claim_from_record(record: &Item, claim_id: &str) -> Result<Claim, StoreError> {
    match items::string(record, STATE)?.as_str() {
        // The SDK resent this claim's own put after losing its answer.
        IN_PROGRESS if items::optional_string(record, CLAIM_ID)?.as_deref() == Some(claim_id) => {
            Ok(Claim::Acquired)
        }
        IN_PROGRESS => Ok(Claim::InProgress),
        COMPLETED => Ok(Claim::Completed(items::optional_string(record, OUTCOME)?)),
        other => Err(StoreError::refused(
            "claim idempotency key",
            format!("unexpected ledger state `{other}`"),
        )),
    }
}
