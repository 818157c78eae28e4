//! The audit trail on DynamoDB: `AUDIT#<id>` / `EVENT#<sort key>` items, the event itself as
//! JSON in `event`, deleted by TTL at `expires_at`.

use std::collections::HashMap;

use async_trait::async_trait;

use super::item::*;
use super::sdk_error;
use super::DynamoStore;
use crate::domain::audit::{AuditEvent, EventPage};
use crate::store::audit::AuditStore;
use crate::store::*;

#[async_trait]
impl AuditStore for DynamoStore {
    async fn record_event(&self, user_id: UserId, event: &AuditEvent, expires_at: i64) -> StoreResult<()> {
        let item = event_item(user_id, event, expires_at)?;
        self.put_item("record audit event", item).await
    }

    async fn list_events(
        &self,
        user_id: UserId,
        before: Option<&str>,
        limit: u32,
        now: i64,
    ) -> StoreResult<EventPage> {
        let mut values = HashMap::from([(":pk".to_string(), s(audit_pk(user_id)))]);
        let condition = match before {
            Some(before) => {
                values.insert(":before".into(), s(format!("EVENT#{before}")));
                "pk = :pk AND sk < :before"
            }
            None => {
                values.insert(":prefix".into(), s("EVENT#"));
                "pk = :pk AND begins_with(sk, :prefix)"
            }
        };
        let wanted = limit as usize + 1;
        let mut events = vec![];
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit((wanted - events.len()) as i32)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("list audit events", e))?;
            for item in out.items.unwrap_or_default() {
                // TTL deletion can be days late.
                if opt_n::<i64>(&item, "expires_at").is_some_and(|e| e <= now) {
                    continue;
                }
                let json = get_s(&item, "event")?;
                let event: AuditEvent = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Backend(format!("audit event: {e}")))?;
                events.push(event);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && events.len() < wanted => start = Some(k),
                _ => break,
            }
        }
        events.truncate(wanted);
        Ok(EventPage::from_overfetch(events, limit))
    }
}

pub(super) fn audit_pk(user_id: UserId) -> String {
    format!("AUDIT#{user_id}")
}

/// The item of `event` in the log of `user_id`.
pub(super) fn event_item(user_id: UserId, event: &AuditEvent, expires_at: i64) -> StoreResult<Item> {
    let json = serde_json::to_string(event).map_err(|e| StoreError::Backend(e.to_string()))?;
    let mut item = key(audit_pk(user_id), &format!("EVENT#{}", event.sort_key()));
    item.insert("event".into(), s(json));
    item.insert("expires_at".into(), n(expires_at));
    Ok(item)
}
