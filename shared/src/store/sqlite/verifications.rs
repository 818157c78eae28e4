//! Email verification tokens on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;

#[async_trait]
impl VerifyStore for SqliteStore {
    async fn put_verify_token(&self, token: &VerifyToken, request: Option<&str>) -> StoreResult<bool> {
        let purpose = token.purpose.as_str();
        self.write(|tx| {
            // An email change's token only while its request is the account's pending one.
            if let Some(request) = request {
                let pending = tx
                    .query_row(
                        "SELECT 1 FROM users WHERE id = ?1 AND change_request = ?2",
                        params![token.user_id as i64, request],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(backend)?
                    .is_some();
                if !pending {
                    return Ok(false);
                }
            }
            // One token per user and purpose: the newest supersedes (and here replaces) the
            // older ones.
            tx.execute(
                "DELETE FROM verify_tokens WHERE user_id = ?1 AND purpose = ?2",
                params![token.user_id as i64, purpose],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO verify_tokens (hash, user_id, expires_at, purpose) VALUES (?1, ?2, ?3, ?4)",
                params![token.hash, token.user_id as i64, token.expires_at, purpose],
            )
            .map_err(backend)?;
            tx.execute(
                &format!("UPDATE users SET {} = ?2 WHERE id = ?1", pointer(token.purpose)),
                params![token.user_id as i64, token.hash],
            )
            .map_err(backend)?;
            Ok(true)
        })
    }

    async fn consume_verify_token(&self, hash: &str, now: i64) -> StoreResult<Consumed> {
        self.write(|tx| {
            // The token is usable only while it is the user's newest of its purpose, unexpired,
            // and the account enabled. It proves the account's address (a verification; an
            // email change drops the pending one) or the pending change's new address.
            let found: Option<(i64, String, String)> = tx
                .query_row(
                    "SELECT t.user_id, CASE t.purpose WHEN 'change' THEN u.change_email ELSE u.email END, u.email
                     FROM verify_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.hash = ?1 AND t.expires_at > ?2 AND u.disabled = 0
                       AND ((t.purpose = 'verify' AND u.verify_hash = ?1)
                         OR (t.purpose = 'change' AND u.change_hash = ?1 AND u.change_email IS NOT NULL))",
                    params![hash, now],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(backend)?;
            let Some((user_id, proved, current)) = found else {
                return Ok(Consumed::Unusable);
            };
            if proved != current {
                // An email change: the new address must still be free.
                let taken = tx
                    .query_row("SELECT 1 FROM users WHERE email = ?1", [&proved], |_| Ok(()))
                    .optional()
                    .map_err(backend)?
                    .is_some();
                if taken {
                    return Ok(Consumed::EmailTaken);
                }
            }
            tx.execute("DELETE FROM verify_tokens WHERE hash = ?1", [hash])
                .map_err(backend)?;
            // Verified: no pending verification of this address is needed any more.
            tx.execute(
                "UPDATE users SET email = ?2, email_verified = 1, verify_hash = NULL,
                   change_hash = CASE WHEN change_hash = ?3 THEN NULL ELSE change_hash END,
                   change_request = CASE WHEN change_hash = ?3 THEN NULL ELSE change_request END,
                   change_email = CASE WHEN change_hash = ?3 THEN NULL ELSE change_email END
                 WHERE id = ?1",
                params![user_id, proved, hash],
            )
            .map_err(backend)?;
            let user_id = user_id as UserId;
            if proved == current {
                return Ok(Consumed::Verified(user_id));
            }
            // A reset link mailed to the old address no longer works, and the old address's
            // login counters and devices are its own, not the new one's.
            tx.execute(
                "UPDATE users SET reset_hash = NULL WHERE id = ?1",
                [user_id as i64],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM reset_tokens WHERE user_id = ?1", [user_id as i64])
                .map_err(backend)?;
            for sql in [
                "DELETE FROM login_failures WHERE email = ?1",
                "DELETE FROM login_devices WHERE email = ?1",
            ] {
                tx.execute(sql, [&current]).map_err(backend)?;
            }
            Ok(Consumed::EmailChanged {
                user_id,
                old_email: current,
                new_email: proved,
            })
        })
    }
}

/// The users column naming the newest token of `purpose`.
fn pointer(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Verify => "verify_hash",
        Purpose::ChangeEmail => "change_hash",
    }
}
