//! The operator's part of the audit trail: what the command-line tool does is recorded in the
//! account's log as `system`, and `events` reads a user's log.

use std::time::Duration;

use crate::domain::audit::{Actor, AuditEvent, EventType};
use crate::domain::{SeenFrom, UserId};
use crate::store::audit::AuditStore;
use crate::store::StoreResult;

/// Where the operator's actions are recorded: each account's log, as `system` (the tool acts
/// with the operator's AWS credentials, not as an account), kept `retention`.
#[derive(Clone, Copy)]
pub struct OperatorLog<'a> {
    pub audit: &'a dyn AuditStore,
    pub retention: Duration,
}

impl OperatorLog<'_> {
    pub(super) fn event(kind: EventType, now_ms: i64) -> AuditEvent {
        AuditEvent::new(kind, Actor::System, now_ms, &SeenFrom::default())
    }

    pub(super) fn expires_at(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(1000) + self.retention.as_secs() as i64
    }

    /// Records `event` in the log of `user_id`; a failure is reported, not fatal (the action
    /// is done).
    pub(super) async fn record(&self, user_id: UserId, event: AuditEvent) {
        let expires_at = self.expires_at(event.at_ms);
        if let Err(e) = self.audit.record_event(user_id, &event, expires_at).await {
            eprintln!("warning: the action is done, but its audit event was not recorded: {e}");
        }
    }
}

/// The newest `limit` events of the log of `user_id`, newest first, fetched page by page.
pub async fn read_log(
    audit: &dyn AuditStore,
    user_id: UserId,
    limit: usize,
    now: i64,
) -> StoreResult<Vec<AuditEvent>> {
    let mut events = Vec::new();
    let mut before: Option<String> = None;
    while events.len() < limit {
        let page = audit
            .list_events(
                user_id,
                before.as_deref(),
                (limit - events.len()).min(200) as u32,
                now,
            )
            .await?;
        events.extend(page.events);
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn the_log_is_read_across_pages_to_exactly_the_limit_newest_first() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("authyy.sqlite3")).expect("a store");
        let log = OperatorLog {
            audit: &store,
            retention: Duration::from_secs(86_400),
        };
        for at in 0..205 {
            log.record(7, OperatorLog::event(EventType::LogoutAll, at * 1000))
                .await;
        }
        let read = read_log(&store, 7, 202, 0).await.expect("read");
        assert_eq!(read.len(), 202, "two pages, the second cut to what is left");
        assert_eq!(read[0].at_ms, 204_000);
        assert_eq!(read[201].at_ms, 3000);
        assert_eq!(read_log(&store, 7, 500, 0).await.expect("read").len(), 205);
        assert_eq!(read_log(&store, 8, 10, 0).await.expect("read"), vec![]);
    }
}
