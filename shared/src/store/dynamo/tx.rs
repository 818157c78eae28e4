//! Transactions: the item builders of a TransactWriteItems call, and the call itself, retried
//! when it lost only to a concurrent transaction.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::item::Item;
use super::sdk_error;
use super::DynamoStore;
use crate::store::{StoreError, StoreResult};

/// How often a transaction that lost a conflict to a concurrent one is tried again.
const CONFLICT_RETRIES: u32 = 6;

/// The wait before the `attempt`th retry (from 1) of a transaction that lost a conflict: 10 ms
/// more each time, plus up to 19 ms drawn from `random`, so that the transactions it lost to
/// are done and two that keep meeting part.
fn conflict_backoff(attempt: u32, random: u64) -> Duration {
    Duration::from_millis(10 * u64::from(attempt) + random % 20)
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("transaction item: {e}"))
}

/// The outcome of a transaction: done, or cancelled with one reason code per item.
pub(super) enum Tx {
    Done,
    Cancelled(Vec<String>),
}

impl Tx {
    pub(super) fn failed(&self, index: usize) -> bool {
        matches!(self, Tx::Cancelled(codes) if codes.get(index).is_some_and(|c| c == "ConditionalCheckFailed"))
    }

    /// Whether a condition refused the transaction (not throttling or another failure).
    pub(super) fn refused(&self) -> bool {
        matches!(self, Tx::Cancelled(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed"))
    }
}

/// The error for a cancellation its caller's conditions do not explain. One that no condition
/// caused (an item throttled, or another failure on DynamoDB's side) changed nothing and is
/// worth a retry: 503. A condition that failed unexplained is a fault of ours: 500.
pub(super) fn cancelled(operation: &str, codes: Vec<String>) -> StoreError {
    let message = format!("{operation} cancelled: {codes:?}");
    if Tx::Cancelled(codes).refused() {
        StoreError::Backend(message)
    } else {
        StoreError::Unavailable(message)
    }
}

impl DynamoStore {
    pub(super) fn put(&self, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn delete(
        &self,
        key: Item,
        condition: Option<&str>,
        values: Option<Item>,
    ) -> StoreResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_values(values)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    pub(super) fn update(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
    ) -> StoreResult<TransactWriteItem> {
        self.update_named(key, expression, condition, values, None)
    }

    /// [`DynamoStore::update`] with one attribute name placeholder (`("#c", "count")`), for
    /// attributes whose names are reserved words.
    pub(super) fn update_named(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
        name: Option<(&str, &str)>,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_names(name.map(|(k, v)| [(k.to_string(), v.to_string())].into()))
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(super) fn check(&self, key: Item, condition: &str, values: Item) -> StoreResult<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Runs a transaction; a cancellation caused only by a concurrent transaction is retried.
    pub(super) async fn transact(
        &self,
        operation: &str,
        items: Vec<StoreResult<TransactWriteItem>>,
    ) -> StoreResult<Tx> {
        let items = items.into_iter().collect::<StoreResult<Vec<_>>>()?;
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Tx::Done),
                Err(e) => e,
            };
            let codes: Option<Vec<String>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
                    c.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_string())
                        .collect(),
                ),
                _ => None,
            };
            let conflict = match (&codes, err.as_service_error()) {
                (Some(codes), _) => {
                    !codes.iter().any(|c| c == "ConditionalCheckFailed")
                        && codes.iter().any(|c| c == "TransactionConflict")
                }
                (None, Some(e)) => e.code() == Some("TransactionInProgressException"),
                _ => false,
            };
            if conflict && attempt < CONFLICT_RETRIES {
                attempt += 1;
                tokio::time::sleep(conflict_backoff(attempt, rand::random::<u64>())).await;
                continue;
            }
            return match codes {
                Some(codes) if !conflict => Ok(Tx::Cancelled(codes)),
                _ => Err(sdk_error(operation, err)),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflicting_transaction_waits_longer_at_each_retry_with_a_jitter_under_20_ms() {
        let ms = |attempt, random| conflict_backoff(attempt, random).as_millis();
        assert_eq!([1, 2, 3, 6].map(|a| ms(a, 0)), [10, 20, 30, 60]);
        assert_eq!(ms(2, 7), 27);
        assert_eq!(ms(2, 19), 39);
        assert_eq!(ms(2, 20), 20);
    }

    #[test]
    fn a_cancellation_no_condition_caused_is_worth_a_retry_and_an_unexplained_condition_is_ours() {
        let codes = |c: &[&str]| c.iter().map(|c| c.to_string()).collect();
        let throttled = cancelled("create user", codes(&["ThrottlingError", "None"]));
        assert!(matches!(throttled, StoreError::Unavailable(m) if m.contains("create user")));
        let refused = cancelled("create user", codes(&["ConditionalCheckFailed", "None"]));
        assert!(matches!(refused, StoreError::Backend(_)));
    }

    #[test]
    fn only_a_condition_refuses_a_transaction() {
        let tx = |codes: &[&str]| Tx::Cancelled(codes.iter().map(|c| c.to_string()).collect());
        assert!(tx(&["None", "ConditionalCheckFailed"]).refused());
        assert!(!tx(&["ThrottlingError", "None"]).refused());
        assert!(!Tx::Done.refused());
        assert!(tx(&["None", "ConditionalCheckFailed"]).failed(1));
        assert!(!tx(&["None", "ConditionalCheckFailed"]).failed(0));
        assert!(!tx(&["ThrottlingError"]).failed(0));
        assert!(!tx(&["None"]).failed(3));
    }
}
