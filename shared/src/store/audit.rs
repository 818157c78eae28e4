//! What the stores keep of the audit trail: each account's log of [`AuditEvent`]s, newest
//! first, each kept until its retention ends. Erasing an account deletes its log (see
//! `AccountStore::delete_account`); the endpoint then records the one event that outlives it.

use async_trait::async_trait;

use super::{StoreResult, UserUpdate};
use crate::domain::audit::{AuditEvent, EventPage, Field};
use crate::domain::UserId;

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Adds `event` to the log of `user_id`, kept until `expires_at` (epoch seconds).
    async fn record_event(&self, user_id: UserId, event: &AuditEvent, expires_at: i64) -> StoreResult<()>;

    /// Up to `limit` events of the log of `user_id` unexpired at `now`, newest first, starting
    /// before the event whose sort key is `before` (from [`EventPage::next_before`]), or with
    /// the newest.
    async fn list_events(
        &self,
        user_id: UserId,
        before: Option<&str>,
        limit: u32,
        now: i64,
    ) -> StoreResult<EventPage>;
}

impl UserUpdate {
    /// The fields this update sets, as the audit trail names them.
    pub fn changed(&self) -> Vec<Field> {
        [
            (self.role.is_some(), Field::Role),
            (self.disabled.is_some(), Field::Disabled),
            (self.email_verified.is_some(), Field::EmailVerified),
            (self.app_metadata.is_some(), Field::AppMetadata),
        ]
        .into_iter()
        .filter_map(|(set, field)| set.then_some(field))
        .collect()
    }
}
