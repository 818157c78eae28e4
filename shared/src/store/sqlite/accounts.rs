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
                       change_request = NULL, change_email = NULL, sessions_valid_after_ms = ?4
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
            if let Some(device) = change.keep_device {
                let now = change.cut_ms.div_euclid(1000);
                sessions::keep_device_trusted(
                    tx,
                    change.email,
                    device,
                    change.old_hash,
                    change.new_hash,
                    now,
                )?;
            }
            Ok(true)
        })
    }

    async fn request_email_change(&self, user_id: UserId, change: &PendingEmailChange) -> StoreResult<bool> {
        self.write(|tx| {
            // The older change's link stops working with it.
            let n = tx
                .execute(
                    "UPDATE users SET change_request = ?2, change_email = ?3, change_hash = NULL WHERE id = ?1",
                    params![user_id as i64, change.request, change.new_email],
                )
                .map_err(backend)?;
            tx.execute(
                "DELETE FROM verify_tokens WHERE user_id = ?1 AND purpose = 'change'",
                [user_id as i64],
            )
            .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn pending_email_change(&self, user_id: UserId) -> StoreResult<Option<PendingEmailChange>> {
        let row: Option<(Option<String>, Option<String>)> = self.read(|c| {
            c.query_row(
                "SELECT change_request, change_email FROM users WHERE id = ?1",
                [user_id as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        Ok(match row {
            Some((Some(request), Some(new_email))) => Some(PendingEmailChange { request, new_email }),
            _ => None,
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
                "DELETE FROM mail_requests WHERE email = ?1",
            ] {
                tx.execute(sql, [email]).map_err(backend)?;
            }
            // The account's log goes, but for the one event that outlives it.
            tx.execute("DELETE FROM audit_events WHERE user_id = ?1", [id])
                .map_err(backend)?;
            let record = serde_json::to_string(erasure.record).map_err(|e| StoreError::Backend(e.to_string()))?;
            tx.execute(
                "INSERT INTO audit_events (user_id, sort_key, event, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, erasure.record.sort_key(), record, erasure.record_expires_at],
            )
            .map_err(backend)?;
            // The email and username are unique columns of this row: both are free now.
            tx.execute("DELETE FROM users WHERE id = ?1", [id])
                .map_err(backend)?;
            Ok(true)
        })
    }
}
