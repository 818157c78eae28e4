//! Trusted devices on SQLite (`login_devices`, joined with the account's password hash).

use async_trait::async_trait;
use rusqlite::params;

use super::*;
use crate::store::devices::DeviceStore;

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn knows_device(&self, email: &str, device: &str, now: i64) -> StoreResult<bool> {
        let found = self.read(|c| {
            c.query_row(
                "SELECT d.credential, u.password_hash FROM login_devices d
                 JOIN users u ON u.email = d.email
                 WHERE d.hash = ?1 AND d.email = ?2 AND d.expires_at > ?3",
                params![device, email, now],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()
        })?;
        Ok(found.is_some_and(|(credential, hash)| credential == device_credential(&hash)))
    }
}
