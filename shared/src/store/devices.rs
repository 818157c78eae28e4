//! Whether a device token is one the account knows: the question a sign-in that did not check
//! it itself (a passkey's, a provider's) asks, to tell a new device.

use async_trait::async_trait;

use super::StoreResult;

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Whether `device` (a device token's hash) is a trusted device of the account of `email`
    /// at `now`, by the rule login applies (unexpired, and given under the password the
    /// account still has).
    async fn knows_device(&self, email: &str, device: &str, now: i64) -> StoreResult<bool>;
}
