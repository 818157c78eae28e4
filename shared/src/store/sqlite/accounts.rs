//! The signed-in user's own changes on SQLite: each one immediate transaction.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn change_password(&self, change: &PasswordChange<'_>) -> StoreResult<bool> {
        let id = change.user_id as i64;
        self.write(|tx| {
            // Only from a session still live, and only if no cut-off came meanwhile (a logout
            // everywhere the change must not undo).
            let live = tx
                .query_row(
                    "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.sid = ?1 AND s.user_id = ?2 AND s.revoked = 0
                       AND u.sessions_valid_after_ms = ?3 AND s.valid_from_ms > ?3",
                    params![change.keep_sid, id, change.seen_cutoff_ms],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if !live {
                return Ok(false);
            }
            // Pending reset and email-change links die with the old password.
            let changed = tx
                .execute(
                    "UPDATE users SET password_hash = ?3, reset_hash = NULL, change_hash = NULL,
                       sessions_valid_after_ms = ?4
                     WHERE id = ?1 AND email = ?2 AND password_hash = ?5",
                    params![id, change.email, change.new_hash, change.cut_ms, change.old_hash],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM reset_tokens WHERE user_id = ?1", [id])
                .map_err(backend)?;
            tx.execute(
                "DELETE FROM verify_tokens WHERE user_id = ?1 AND purpose = 'change'",
                [id],
            )
            .map_err(backend)?;
            // Every session began at or before the cut-off; this one counts from just after it.
            tx.execute(
                "UPDATE sessions SET valid_from_ms = ?3 WHERE sid = ?1 AND user_id = ?2",
                params![change.keep_sid, id, change.cut_ms + 1],
            )
            .map_err(backend)?;
            Ok(true)
        })
    }

    async fn delete_account(&self, erasure: &Erasure<'_>) -> StoreResult<bool> {
        let id = erasure.user.id as i64;
        let email = erasure.user.email.as_str();
        self.write(|tx| {
            let owned = tx
                .query_row(
                    "SELECT 1 FROM users WHERE id = ?1 AND email = ?2 AND password_hash = COALESCE(?3, password_hash)",
                    params![id, email, erasure.password_hash],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if !owned {
                return Ok(false);
            }
            for sql in [
                "DELETE FROM refresh_tokens WHERE user_id = ?1",
                "DELETE FROM sessions WHERE user_id = ?1",
                "DELETE FROM reset_tokens WHERE user_id = ?1",
                "DELETE FROM verify_tokens WHERE user_id = ?1",
            ] {
                tx.execute(sql, [id]).map_err(backend)?;
            }
            for sql in [
                "DELETE FROM login_failures WHERE email = ?1",
                "DELETE FROM login_devices WHERE email = ?1",
            ] {
                tx.execute(sql, [email]).map_err(backend)?;
            }
            for (key, _) in erasure.throttle_keys {
                // Every window of the counter (`<key>#<window number>`).
                tx.execute(
                    "DELETE FROM throttle WHERE substr(key, 1, length(?1) + 1) = ?1 || '#'",
                    [key],
                )
                .map_err(backend)?;
            }
            // The email and username are unique columns of this row: both are free now.
            tx.execute("DELETE FROM users WHERE id = ?1", [id])
                .map_err(backend)?;
            Ok(true)
        })
    }
}
