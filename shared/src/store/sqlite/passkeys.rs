//! Passkeys on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::second_factors::{exists, factor_record, set_recovery_codes};
use super::sessions::{insert_session, trust_device};
use super::*;

const PASSKEY_COLUMNS: &str =
    "credential_id, user_id, public_key, sign_count, backup_eligible, transports, name, created_at, last_used_at";

fn passkey_from(r: &Row<'_>) -> rusqlite::Result<StoredPasskey> {
    let transports: String = r.get(5)?;
    Ok(StoredPasskey {
        credential_id: r.get(0)?,
        user_id: r.get::<_, i64>(1)? as UserId,
        public_key: r.get(2)?,
        sign_count: r.get(3)?,
        backup_eligible: r.get(4)?,
        transports: serde_json::from_str(&transports).unwrap_or_default(),
        name: r.get(6)?,
        created_at: r.get(7)?,
        last_used_at: r.get(8)?,
    })
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn user_handle(&self, user_id: UserId, candidate: &str) -> StoreResult<String> {
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO second_factors (user_id, webauthn_handle) VALUES (?1, ?2)
                 ON CONFLICT(user_id) DO UPDATE
                   SET webauthn_handle = COALESCE(second_factors.webauthn_handle, excluded.webauthn_handle)
                 RETURNING webauthn_handle",
                params![user_id as i64, candidate],
                |r| r.get(0),
            )
            .map_err(backend)
        })
    }

    async fn passkeys(&self, user_id: UserId) -> StoreResult<Vec<StoredPasskey>> {
        let c = self.lock();
        let mut stmt = c
            .prepare(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, credential_id"
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map([user_id as i64], passkey_from)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    async fn passkey(&self, credential_id: &str) -> StoreResult<Option<(StoredPasskey, String)>> {
        let c = self.lock();
        let columns = PASSKEY_COLUMNS
            .split(", ")
            .map(|col| format!("p.{col}"))
            .collect::<Vec<_>>()
            .join(", ");
        c.query_row(
            &format!(
                "SELECT {columns}, f.webauthn_handle FROM passkeys p
                 JOIN second_factors f ON f.user_id = p.user_id
                 WHERE p.credential_id = ?1 AND f.webauthn_handle IS NOT NULL"
            ),
            [credential_id],
            |r| Ok((passkey_from(r)?, r.get::<_, String>(9)?)),
        )
        .optional()
        .map_err(backend)
    }

    async fn put_passkey_challenge(&self, ch: &PasskeyChallenge, now: i64) -> StoreResult<()> {
        let user_id = match ch.ceremony {
            Ceremony::Registration { user_id } => Some(user_id as i64),
            Ceremony::Authentication => None,
        };
        self.write(|tx| {
            // Expired challenges go as new ones come (DynamoDB's TTL does this there).
            tx.execute("DELETE FROM passkey_challenges WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO passkey_challenges (id, user_id, challenge, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![ch.id, user_id, ch.challenge, ch.expires_at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn take_passkey_challenge(&self, id: &str) -> StoreResult<Option<PasskeyChallenge>> {
        self.write(|tx| {
            tx.query_row(
                "DELETE FROM passkey_challenges WHERE id = ?1 RETURNING id, user_id, challenge, expires_at",
                [id],
                |r| {
                    let user_id: Option<i64> = r.get(1)?;
                    Ok(PasskeyChallenge {
                        id: r.get(0)?,
                        ceremony: match user_id {
                            Some(id) => Ceremony::Registration {
                                user_id: id as UserId,
                            },
                            None => Ceremony::Authentication,
                        },
                        challenge: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
    }

    async fn add_passkey(&self, a: &PasskeyAddition<'_>) -> StoreResult<AddEnd> {
        let p = a.passkey;
        let id = p.user_id as i64;
        // Every condition is read first, under the immediate transaction's write lock.
        self.write(|tx| {
            let taken = exists(
                tx,
                "SELECT 1 FROM passkeys WHERE credential_id = ?1",
                [&p.credential_id],
            )?;
            if taken {
                return Ok(AddEnd::Duplicate);
            }
            let record = factor_record(tx, p.user_id)?;
            if record.factors().any() == a.first.is_some() {
                return Ok(AddEnd::FactorsChanged);
            }
            if record.passkeys >= MAX_PASSKEYS {
                return Ok(AddEnd::TooMany);
            }
            if let Some(first) = a.first {
                let live = exists(
                    tx,
                    "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.sid = ?1 AND s.user_id = ?2 AND s.revoked = 0 AND u.disabled = 0
                       AND u.sessions_valid_after_ms = ?3 AND s.valid_from_ms > ?3",
                    params![first.keep_sid, id, first.seen_cutoff_ms],
                )?;
                if !live {
                    return Ok(AddEnd::SessionsEnded);
                }
                tx.execute(
                    "UPDATE users SET sessions_valid_after_ms = ?2 WHERE id = ?1",
                    params![id, first.cut_ms],
                )
                .map_err(backend)?;
                tx.execute(
                    "UPDATE sessions SET valid_from_ms = ?3 WHERE sid = ?1 AND user_id = ?2",
                    params![first.keep_sid, id, first.cut_ms + 1],
                )
                .map_err(backend)?;
                set_recovery_codes(tx, p.user_id, first.recovery_codes)?;
            }
            let transports =
                serde_json::to_string(&p.transports).map_err(|e| StoreError::Backend(e.to_string()))?;
            tx.execute(
                &format!(
                    "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    p.credential_id,
                    id,
                    p.public_key,
                    p.sign_count,
                    p.backup_eligible,
                    transports,
                    p.name,
                    p.created_at,
                    p.last_used_at
                ],
            )
            .map_err(backend)?;
            Ok(AddEnd::Added)
        })
    }

    async fn remove_passkey(&self, user_id: UserId, credential_id: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let removed = tx
                .execute(
                    "DELETE FROM passkeys WHERE credential_id = ?1 AND user_id = ?2",
                    params![credential_id, user_id as i64],
                )
                .map_err(backend)?;
            if removed == 0 {
                return Ok(false);
            }
            // The codes go with the last second factor.
            if !factor_record(tx, user_id)?.factors().any() {
                set_recovery_codes(tx, user_id, &[])?;
            }
            Ok(true)
        })
    }

    async fn use_passkey(&self, u: &PasskeyUse<'_>) -> StoreResult<UseEnd> {
        let id = u.passkey.user_id as i64;
        self.write(|tx| {
            let password_hash: Option<String> = match tx
                .query_row(
                    "SELECT password_hash FROM users WHERE id = ?1 AND email = ?2 AND disabled = 0",
                    params![id, u.email],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?
            {
                Some(hash) => hash,
                None => return Ok(UseEnd::Gone),
            };
            let counted = tx
                .execute(
                    "UPDATE passkeys SET sign_count = ?3, last_used_at = ?4
                     WHERE credential_id = ?1 AND user_id = ?2 AND sign_count = ?5",
                    params![
                        u.passkey.credential_id,
                        id,
                        u.sign_count,
                        u.now,
                        u.passkey.sign_count
                    ],
                )
                .map_err(backend)?;
            if counted == 0 {
                return Ok(UseEnd::Refused);
            }
            tx.execute("DELETE FROM code_failures WHERE user_id = ?1", [id])
                .map_err(backend)?;
            insert_session(tx, u.session, u.first)?;
            if let Some(hash) = password_hash {
                trust_device(tx, u.email, u.device, &hash, u.device_expires_at)?;
            }
            Ok(UseEnd::Started)
        })
    }
}
