//! Trusted devices on DynamoDB: `LOGINFAIL#<email>` / `TRUST#<sha256>` beside the credentials.

use async_trait::async_trait;

use super::item::*;
use super::DynamoStore;
use crate::store::devices::DeviceStore;
use crate::store::*;

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn knows_device(&self, email: &str, device: &str, now: i64) -> StoreResult<bool> {
        let (credentials, trusted) = (email_key(email), device_key(email, device));
        let items = self
            .batch_get("device lookup", vec![credentials.clone(), trusted.clone()])
            .await?;
        let password_hash = items
            .get(&item_id(&credentials))
            .and_then(|c| opt_s(c, "password_hash"));
        Ok(items.get(&item_id(&trusted)).is_some_and(|item| {
            opt_s(item, "email").as_deref() == Some(email)
                && opt_n::<i64>(item, "expires_at").is_some_and(|e| e > now)
                && password_hash.is_some_and(|h| opt_s(item, "credential") == Some(device_credential(&h)))
        }))
    }
}
