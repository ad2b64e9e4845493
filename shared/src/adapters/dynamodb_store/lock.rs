//! The HubSpot token refresh lock: one item whose `holder` owns it until `expires_at_ms`.
//!
//! As with the ledger's claims, the SDK resends a put whose answer was lost, and the resent
//! put then meets the item the first one wrote: its `holder` says the lock is this caller's,
//! which it takes (and later frees), rather than waiting out its own lease.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use crate::ports::{RefreshLock, StoreError};

use super::items::{self, TTL, n, s};
use super::writes::{failure, is_condition_failed, refused_item, values};
use super::{DynamoStore, keys};

/// Who holds the lock: the id `try_lock` answers and `unlock` frees by.
const HOLDER: &str = "holder";

#[async_trait]
impl RefreshLock for DynamoStore {
    async fn try_lock(&self, lease: Duration) -> Result<Option<String>, StoreError> {
        const OPERATION: &str = "take refresh lock";
        let holder = uuid::Uuid::new_v4().to_string();
        let now = self.now_ms();
        let expires = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2));
        let mut item = items::key(keys::REFRESH_LOCK);
        item.insert(HOLDER.into(), s(&holder));
        item.insert("expires_at_ms".into(), n(expires));
        item.insert(TTL.into(), n(Self::ttl_at_ms(expires)));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at_ms <= :now")
            .set_expression_attribute_values(values([(":now", n(now))]))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
        {
            Ok(_) => Ok(Some(holder)),
            Err(error) if is_condition_failed(&error) => {
                let refused_by = refused_item(&error)
                    .and_then(|item| items::optional_string(&item, HOLDER).ok().flatten());
                Ok((refused_by.as_deref() == Some(holder.as_str())).then_some(holder))
            }
            Err(error) => Err(failure(OPERATION, error)),
        }
    }

    async fn unlock(&self, holder: &str) -> Result<(), StoreError> {
        const OPERATION: &str = "release refresh lock";
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::REFRESH_LOCK)))
            .condition_expression("holder = :holder")
            .set_expression_attribute_values(values([(":holder", s(holder))]))
            .send()
            .await
        {
            // Someone else holds it now (our lease ended), or nobody does: nothing to free.
            Err(error) if !is_condition_failed(&error) => Err(failure(OPERATION, error)),
            _ => Ok(()),
        }
    }
}
