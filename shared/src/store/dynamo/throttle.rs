//! Rate-limit windows and failed-login counters on DynamoDB.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::item::*;
use super::sdk_error;
use super::DynamoStore;
use crate::store::*;

#[async_trait]
impl ThrottleStore for DynamoStore {
    async fn hit(&self, key_name: &str, window_secs: u64, now: i64) -> StoreResult<u32> {
        let window = window_secs as i64;
        let bucket = now.div_euclid(window);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("THROTTLE#{key_name}#{bucket}"), "THROTTLE")))
            .update_expression("ADD #c :one SET expires_at = :exp")
            .expression_attribute_names("#c", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n((bucket + 1) * window))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("rate limit", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| opt_n(a, "count"))
            .ok_or_else(|| malformed("throttle count"))
    }
}
