//! The audit trail on SQLite: one row per event, the event itself as JSON.

use async_trait::async_trait;
use rusqlite::params;

use super::*;
use crate::domain::audit::{AuditEvent, EventPage};
use crate::store::audit::AuditStore;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_event(&self, user_id: UserId, event: &AuditEvent, expires_at: i64) -> StoreResult<()> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Backend(e.to_string()))?;
        let now = event.at_ms.div_euclid(1000);
        self.write(|tx| {
            // Events past their retention are swept as new ones come (TTL does this on DynamoDB).
            tx.execute("DELETE FROM audit_events WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO audit_events (user_id, sort_key, event, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![user_id as i64, event.sort_key(), json, expires_at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn list_events(
        &self,
        user_id: UserId,
        before: Option<&str>,
        limit: u32,
        now: i64,
    ) -> StoreResult<EventPage> {
        // U+FFFF sorts after every sort key (digits, '#' and URL-safe ids).
        let before = before.unwrap_or("\u{ffff}");
        let rows: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT event FROM audit_events
                 WHERE user_id = ?1 AND sort_key < ?2 AND expires_at > ?3
                 ORDER BY sort_key DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![user_id as i64, before, now, i64::from(limit) + 1], |r| {
                r.get(0)
            })?;
            rows.collect()
        })?;
        let events = rows
            .iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|e| StoreError::Backend(format!("audit event: {e}")))
            })
            .collect::<StoreResult<Vec<AuditEvent>>>()?;
        Ok(EventPage::from_overfetch(events, limit))
    }
}
