//! Email verification tokens on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;

#[async_trait]
impl VerifyStore for SqliteStore {
    async fn put_verify_token(&self, token: &VerifyToken) -> StoreResult<()> {
        self.write(|tx| {
            // One token per user: the newest supersedes (and here replaces) the older ones.
            tx.execute(
                "DELETE FROM verify_tokens WHERE user_id = ?1",
                [token.user_id as i64],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO verify_tokens (hash, user_id, email, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token.hash, token.user_id as i64, token.email, token.expires_at],
            )
            .map_err(backend)?;
            tx.execute(
                "UPDATE users SET verify_hash = ?2 WHERE id = ?1",
                params![token.user_id as i64, token.hash],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn consume_verify_token(&self, hash: &str, now: i64) -> StoreResult<Option<UserId>> {
        self.write(|tx| {
            let user_id: Option<i64> = tx
                .query_row(
                    "DELETE FROM verify_tokens WHERE hash = ?1 AND expires_at > ?2
                       AND user_id = (SELECT id FROM users
                                      WHERE verify_hash = ?1 AND email = verify_tokens.email)
                     RETURNING user_id",
                    params![hash, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(user_id) = user_id else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE users SET email_verified = 1, verify_hash = NULL WHERE id = ?1",
                [user_id],
            )
            .map_err(backend)?;
            Ok(Some(user_id as UserId))
        })
    }
}
