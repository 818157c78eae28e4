//! Password reset tokens on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;

#[async_trait]
impl ResetStore for SqliteStore {
    async fn put_reset_token(&self, token: &ResetToken) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM reset_tokens WHERE user_id = ?1",
                [token.user_id as i64],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO reset_tokens (hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![token.hash, token.user_id as i64, token.expires_at],
            )
            .map_err(backend)?;
            tx.execute(
                "UPDATE users SET reset_hash = ?2 WHERE id = ?1",
                params![token.user_id as i64, token.hash],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn reset_token_user(&self, hash: &str, now: i64) -> StoreResult<Option<User>> {
        self.read(|c| {
            user_by(
                c,
                "reset_hash = ?1 AND id IN (SELECT user_id FROM reset_tokens WHERE hash = ?1 AND expires_at > ?2)",
                params![hash, now],
            )
        })
    }

    async fn consume_reset_token(
        &self,
        hash: &str,
        new_password_hash: &str,
        keep_device: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<UserId>> {
        let now = now_ms.div_euclid(1000);
        self.write(|tx| {
            let user_id: Option<i64> = tx
                .query_row(
                    "DELETE FROM reset_tokens WHERE hash = ?1 AND expires_at > ?2
                       AND user_id = (SELECT id FROM users WHERE reset_hash = ?1)
                     RETURNING user_id",
                    params![hash, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(user_id) = user_id else {
                return Ok(None);
            };
            let (email, old_hash): (String, String) = tx
                .query_row(
                    "SELECT email, password_hash FROM users WHERE id = ?1",
                    [user_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            tx.execute(
                "UPDATE users SET password_hash = ?2, reset_hash = NULL, change_hash = NULL,
                   change_request = NULL, change_email = NULL, email_verified = 1,
                   sessions_valid_after_ms = MAX(sessions_valid_after_ms, ?3)
                 WHERE id = ?1",
                params![user_id, new_password_hash, now_ms],
            )
            .map_err(backend)?;
            // A pending email change dies with the old password.
            tx.execute(
                "DELETE FROM verify_tokens WHERE user_id = ?1 AND purpose = 'change'",
                [user_id],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM login_failures WHERE email = ?1", [&email])
                .map_err(backend)?;
            // A reset lets the code step be tried again (it never removes a factor).
            tx.execute("DELETE FROM code_failures WHERE user_id = ?1", [user_id])
                .map_err(backend)?;
            if let Some(device) = keep_device {
                sessions::keep_device_trusted(tx, &email, device, &old_hash, new_password_hash, now)?;
            }
            Ok(Some(user_id as UserId))
        })
    }
}
