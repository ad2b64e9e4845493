//! Building conditional writes, and telling a failed condition from a failure.
//!
//! A failed condition is an answer (someone else got there first), not an error: single-item
//! writes report it as [`is_condition_failed`], transactions as a [`Cancellation`] naming
//! which of their items failed.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::time::Duration;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::ports::StoreError;

use super::DynamoStore;
use super::items::Item;

/// The attribute names that are DynamoDB reserved words, with the placeholders expressions
/// use for them. Only the placeholders an expression contains are sent: DynamoDB refuses
/// unused ones.
const RESERVED: [(&str, &str); 4] = [
    ("#ttl", "ttl"),
    ("#status", "status"),
    ("#state", "state"),
    ("#name", "name"),
];

/// The `ExpressionAttributeNames` that `expressions` use.
pub(super) fn names(expressions: &[&str]) -> Option<HashMap<String, String>> {
    let used: HashMap<String, String> = RESERVED
        .iter()
        .filter(|(placeholder, _)| {
            expressions
                .iter()
                .any(|expression| uses(expression, placeholder))
        })
        .map(|(placeholder, name)| (placeholder.to_string(), name.to_string()))
        .collect();
    (!used.is_empty()).then_some(used)
}

/// Whether `expression` contains `placeholder` as a whole token.
fn uses(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(at, _)| {
        !expression[at + placeholder.len()..]
            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The `ExpressionAttributeValues` of a write (`None` when there are none: DynamoDB refuses
/// an empty map).
pub(super) fn values<const N: usize>(
    values: [(&str, AttributeValue); N],
) -> Option<HashMap<String, AttributeValue>> {
    (N > 0).then(|| {
        values
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    })
}

/// A put inside a transaction.
pub(super) fn put(
    store: &DynamoStore,
    item: Item,
    condition: &str,
    values: Option<HashMap<String, AttributeValue>>,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(&store.table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(names(&[condition]))
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::new("build transaction", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// An update inside a transaction.
pub(super) fn update(
    store: &DynamoStore,
    key: Item,
    expression: &str,
    condition: &str,
    values: Option<HashMap<String, AttributeValue>>,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(&store.table)
        .set_key(Some(key))
        .update_expression(expression)
        .condition_expression(condition)
        .set_expression_attribute_names(names(&[expression, condition]))
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::new("build transaction", e))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// A delete inside a transaction.
pub(super) fn delete(
    store: &DynamoStore,
    key: Item,
    condition: &str,
    values: Option<HashMap<String, AttributeValue>>,
) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder()
        .table_name(&store.table)
        .set_key(Some(key))
        .condition_expression(condition)
        .set_expression_attribute_names(names(&[condition]))
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::new("build transaction", e))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Why DynamoDB cancelled a transaction: one code per item, in request order.
#[derive(Debug)]
pub(super) struct Cancellation {
    codes: Vec<Option<String>>,
}

impl Cancellation {
    /// Whether item `index` of the transaction failed its condition.
    pub(super) fn condition_failed(&self, index: usize) -> bool {
        self.code(index) == Some("ConditionalCheckFailed")
    }

    /// Whether trying again may succeed without anything changing first (another
    /// transaction touched the same items, or throttling).
    pub(super) fn retryable(&self) -> bool {
        (0..self.codes.len()).any(|index| {
            matches!(
                self.code(index),
                Some(
                    "TransactionConflict"
                        | "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                        | "RequestLimitExceeded"
                )
            )
        })
    }

    fn code(&self, index: usize) -> Option<&str> {
        self.codes
            .get(index)
            .and_then(|code| code.as_deref())
            .filter(|code| *code != "None")
    }
}

impl fmt::Display for Cancellation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<&str> = self
            .codes
            .iter()
            .map(|code| code.as_deref().unwrap_or("None"))
            .collect();
        write!(f, "transaction cancelled: [{}]", codes.join(", "))
    }
}

impl DynamoStore {
    /// Runs `items` as one transaction. `Ok(Err(_))` says which conditions failed.
    pub(super) async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancellation>, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    Ok(Err(Cancellation {
                        codes: cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|reason| reason.code().map(str::to_string))
                            .collect(),
                    }))
                }
                _ => Err(failure(operation, error)),
            },
        }
    }
}

/// Whether a single-item write was refused because its condition did not hold.
pub(super) fn is_condition_failed<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// The item that refused a conditional put, as it was then, when the put asked for it
/// (`ReturnValuesOnConditionCheckFailure::AllOld`) and DynamoDB returned it.
pub(super) fn refused_item<R>(
    error: &SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, R>,
) -> Option<Item> {
    match error.as_service_error() {
        Some(
            aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                failed,
            ),
        ) => failed.item().cloned(),
        _ => None,
    }
}

/// An SDK error as a [`StoreError`], with the whole chain of causes in the message; transient
/// unless DynamoDB refused the call (an unknown table, a missing permission, a malformed
/// request), so an operator is told to fix it rather than to try again.
pub(super) fn failure<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> StoreError
where
    E: Error + ProvideErrorMetadata + 'static,
{
    let refused = is_refusal(&error);
    let message = DisplayErrorContext(error);
    if refused {
        StoreError::refused(operation, message)
    } else {
        StoreError::new(operation, message)
    }
}

/// Whether trying the call again will meet the same failure: it could not be built, or
/// DynamoDB answered a 4xx that is not throttling, a request timeout or a transaction
/// conflict (the codes the SDK's own retry classifier treats as throttling or transient, and
/// the conflict it leaves to the caller).
fn is_refusal<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    let service = match error {
        SdkError::ServiceError(service) => service,
        // The request could not even be built (no region, a malformed endpoint).
        SdkError::ConstructionFailure(_) => return true,
        _ => return false,
    };
    let status = service.raw().status().as_u16();
    let code = service.err().code().unwrap_or_default();
    let retried = THROTTLING_ERRORS
        .iter()
        .chain(TRANSIENT_ERRORS)
        .chain(&["TransactionConflictException"])
        .any(|retried| *retried == code);
    (400..500).contains(&status) && status != 429 && !retried
}

/// How many times a write is tried when it races with others before giving up.
pub(super) const ATTEMPTS: u32 = 6;

/// A short, growing pause before trying a contended write again.
pub(super) async fn back_off(attempt: u32) {
    let jitter = u64::from(rand::random::<u8>() % 10);
    tokio::time::sleep(Duration::from_millis((5 << attempt.min(6)) + jitter)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, code: &str) -> StoreError {
        use aws_sdk_dynamodb::operation::get_item::GetItemError;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let error = GetItemError::generic(ErrorMetadata::builder().code(code).build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        failure("read item", SdkError::service_error(error, raw))
    }

    #[test]
    fn a_refusal_is_told_from_what_trying_again_may_pass() {
        assert!(!answered(400, "ResourceNotFoundException").transient);
        assert!(!answered(400, "AccessDeniedException").transient);
        assert!(answered(400, "ProvisionedThroughputExceededException").transient);
        assert!(answered(400, "ThrottlingException").transient);
        assert!(answered(400, "TransactionConflictException").transient);
        assert!(answered(500, "InternalServerError").transient);
        assert!(answered(503, "ServiceUnavailable").transient);
        let unreachable: SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError, _> =
            SdkError::timeout_error("no answer");
        assert!(failure("read item", unreachable).transient);
    }

    #[test]
    fn only_the_placeholders_used_are_sent() {
        let sent = names(&["SET #status = :open", "attribute_exists(pk)"]).unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent["#status"], "status");
        assert!(names(&["SET #statusx = :v"]).is_none());
        assert!(names(&["attribute_not_exists(pk)"]).is_none());
    }

    #[test]
    fn cancellation_reasons_are_read_per_item() {
        let cancellation = Cancellation {
            codes: vec![
                Some("ConditionalCheckFailed".into()),
                Some("None".into()),
                None,
            ],
        };
        assert!(cancellation.condition_failed(0));
        assert!(!cancellation.condition_failed(1));
        assert!(!cancellation.condition_failed(2));
        assert!(!cancellation.condition_failed(3));
        assert!(!cancellation.retryable());
        let conflict = Cancellation {
            codes: vec![Some("TransactionConflict".into())],
        };
        assert!(conflict.retryable());
    }
}
