//! Rate-limit windows on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::*;

#[async_trait]
impl ThrottleStore for SqliteStore {
    async fn hit(&self, key: &str, window_secs: u64, now: i64) -> StoreResult<u32> {
        let window = window_secs as i64;
        let bucket = now.div_euclid(window);
        let key = format!("{key}#{bucket}");
        let expires_at = (bucket + 1) * window;
        self.write(|tx| {
            // Windows that have ended are swept as new ones begin (DynamoDB's TTL does this there).
            tx.execute("DELETE FROM throttle WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            tx.query_row(
                "INSERT INTO throttle (key, count, expires_at) VALUES (?1, 1, ?2)
                 ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count",
                params![key, expires_at],
                |r| r.get(0),
            )
            .map_err(backend)
        })
    }
}
