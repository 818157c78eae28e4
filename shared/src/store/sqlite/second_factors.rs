//! Second factors on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::sessions::{insert_session, settle_password_step, trust_device};
use super::*;
use crate::config::Backoff;

pub(super) fn factor_record(c: &Connection, user_id: UserId) -> StoreResult<FactorRecord> {
    let row = c
        .query_row(
            "SELECT totp_secret, totp_last_step, pending_secret, pending_expires_at
             FROM second_factors WHERE user_id = ?1",
            [user_id as i64],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    let passkeys = passkey_count(c, user_id)?;
    // Recovery codes come and go with a factor, and the row is there while one is.
    let Some((totp, last_step, pending, pending_expires_at)) = row else {
        return Ok(FactorRecord {
            passkeys,
            ..FactorRecord::default()
        });
    };
    let mut stmt = c
        .prepare("SELECT hash FROM recovery_codes WHERE user_id = ?1 ORDER BY hash")
        .map_err(backend)?;
    let recovery_codes = stmt
        .query_map([user_id as i64], |r| r.get::<_, String>(0))
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    Ok(FactorRecord {
        totp: totp.map(|sealed| StoredTotp {
            sealed,
            last_step: last_step.unwrap_or(0).max(0) as u64,
        }),
        pending: pending.map(|sealed| PendingTotp {
            sealed,
            expires_at: pending_expires_at.unwrap_or(0),
        }),
        recovery_codes,
        passkeys,
    })
}

pub(super) fn passkey_count(c: &Connection, user_id: UserId) -> StoreResult<u32> {
    c.query_row(
        "SELECT COUNT(*) FROM passkeys WHERE user_id = ?1",
        [user_id as i64],
        |r| r.get(0),
    )
    .map_err(backend)
}

pub(super) fn set_recovery_codes(tx: &Connection, user_id: UserId, hashes: &[String]) -> StoreResult<()> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id as i64])
        .map_err(backend)?;
    for hash in hashes {
        tx.execute(
            "INSERT INTO recovery_codes (user_id, hash) VALUES (?1, ?2)",
            params![user_id as i64, hash],
        )
        .map_err(backend)?;
    }
    Ok(())
}

fn challenge(c: &Connection, hash: &str) -> StoreResult<Option<MfaChallenge>> {
    c.query_row(
        "SELECT hash, user_id, email, verified_hash, device, trusted_device, attempts, expires_at, federated
         FROM mfa_challenges WHERE hash = ?1",
        [hash],
        |r| {
            Ok(MfaChallenge {
                hash: r.get(0)?,
                user_id: r.get::<_, i64>(1)? as UserId,
                email: r.get(2)?,
                verified_hash: r.get(3)?,
                device: r.get(4)?,
                trusted_device: r.get(5)?,
                attempts: r.get(6)?,
                expires_at: r.get(7)?,
                federated: r.get(8)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}

#[async_trait]
impl MfaStore for SqliteStore {
    async fn second_factors(&self, user_id: UserId) -> StoreResult<FactorRecord> {
        let c = self.lock();
        factor_record(&c, user_id)
    }

    async fn start_totp_enrollment(&self, user_id: UserId, pending: &PendingTotp) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO second_factors (user_id, pending_secret, pending_expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(user_id) DO UPDATE SET pending_secret = excluded.pending_secret,
                   pending_expires_at = excluded.pending_expires_at",
                params![user_id as i64, pending.sealed, pending.expires_at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn confirm_totp(&self, c: &TotpConfirmation<'_>) -> StoreResult<ConfirmEnd> {
        // Every condition is read first; the immediate transaction holds the write lock, so
        // nothing can change between the reads and the writes.
        self.write(|tx| {
            let id = c.user_id as i64;
            let pending = exists(
                tx,
                "SELECT 1 FROM second_factors WHERE user_id = ?1 AND pending_secret = ?2 AND pending_expires_at > ?3",
                params![id, c.pending.sealed, c.now],
            )?;
            if !pending {
                return Ok(ConfirmEnd::NoEnrollment);
            }
            let unchanged = exists(
                tx,
                "SELECT 1 FROM users WHERE id = ?1 AND sessions_valid_after_ms = ?2 AND disabled = 0",
                params![id, c.seen_cutoff_ms],
            )?;
            if !unchanged {
                return Ok(ConfirmEnd::SessionsEnded);
            }
            tx.execute(
                "UPDATE second_factors SET totp_secret = pending_secret, totp_last_step = ?2,
                   pending_secret = NULL, pending_expires_at = NULL
                 WHERE user_id = ?1",
                params![id, c.step as i64],
            )
            .map_err(backend)?;
            tx.execute(
                "UPDATE users SET sessions_valid_after_ms = ?2 WHERE id = ?1",
                params![id, c.cut_ms],
            )
            .map_err(backend)?;
            if let Some(hashes) = c.recovery_codes {
                set_recovery_codes(tx, c.user_id, hashes)?;
            }
            insert_session(tx, c.session, c.first)?;
            Ok(ConfirmEnd::Confirmed)
        })
    }

    async fn disable_totp(&self, user_id: UserId) -> StoreResult<bool> {
        self.write(|tx| {
            let removed = tx
                .execute(
                    "UPDATE second_factors SET totp_secret = NULL, totp_last_step = NULL
                     WHERE user_id = ?1 AND totp_secret IS NOT NULL",
                    [user_id as i64],
                )
                .map_err(backend)?;
            // The codes go with the last second factor.
            if removed == 1 && passkey_count(tx, user_id)? == 0 {
                set_recovery_codes(tx, user_id, &[])?;
            }
            Ok(removed == 1)
        })
    }

    async fn replace_recovery_codes(&self, user_id: UserId, hashes: &[String]) -> StoreResult<bool> {
        self.write(|tx| {
            let has_factor = factor_record(tx, user_id)?.factors().any();
            if has_factor {
                set_recovery_codes(tx, user_id, hashes)?;
            }
            Ok(has_factor)
        })
    }

    async fn reset_second_factors(&self, user_id: UserId, now_ms: i64) -> StoreResult<bool> {
        self.write(|tx| {
            let id = user_id as i64;
            let tables = [
                "second_factors",
                "recovery_codes",
                "code_failures",
                "mfa_challenges",
                "passkeys",
                "passkey_challenges",
            ];
            for table in tables {
                tx.execute(&format!("DELETE FROM {table} WHERE user_id = ?1"), [id])
                    .map_err(backend)?;
            }
            let n = tx
                .execute(
                    "UPDATE users SET sessions_valid_after_ms = MAX(sessions_valid_after_ms, ?2) WHERE id = ?1",
                    params![id, now_ms],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
    }

    async fn begin_second_step(&self, login: &VerifiedLogin<'_>, ch: &MfaChallenge) -> StoreResult<bool> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM mfa_challenges WHERE expires_at <= ?1",
                [login.attempt.now],
            )
            .map_err(backend)?;
            if !settle_password_step(tx, login, ch.user_id)? {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO mfa_challenges
                   (hash, user_id, email, verified_hash, device, trusted_device, attempts, expires_at, federated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, 0)",
                params![
                    ch.hash,
                    ch.user_id as i64,
                    ch.email,
                    ch.verified_hash,
                    ch.device,
                    ch.trusted_device,
                    ch.expires_at
                ],
            )
            .map_err(backend)?;
            Ok(true)
        })
    }

    async fn begin_federated_second_step(&self, ch: &MfaChallenge) -> StoreResult<bool> {
        self.write(|tx| {
            let current: Option<String> = tx
                .query_row(
                    "SELECT password_hash FROM users WHERE id = ?1 AND disabled = 0",
                    [ch.user_id as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(current) = current else {
                return Ok(false);
            };
            tx.execute(
                "INSERT INTO mfa_challenges
                   (hash, user_id, email, verified_hash, device, trusted_device, attempts, expires_at, federated)
                 VALUES (?1, ?2, ?3, ?4, NULL, 0, 0, ?5, 1)",
                params![ch.hash, ch.user_id as i64, ch.email, current, ch.expires_at],
            )
            .map_err(backend)?;
            Ok(true)
        })
    }

    async fn reserve_code_attempt(&self, hash: &str, now: i64, backoff: Backoff) -> StoreResult<CodeAttempt> {
        self.write(|tx| {
            let Some(mut ch) = challenge(tx, hash)?.filter(|c| c.usable(now)) else {
                return Ok(CodeAttempt::Unusable);
            };
            let (count, locked_until): (u32, i64) = tx
                .query_row(
                    "SELECT count, locked_until FROM code_failures WHERE user_id = ?1",
                    [ch.user_id as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?
                .unwrap_or((0, 0));
            if let Some(retry_after) = code_lock(count, locked_until, now, backoff) {
                return Ok(CodeAttempt::Locked { retry_after });
            }
            let next = count.saturating_add(1);
            tx.execute(
                "INSERT INTO code_failures (user_id, count, locked_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT(user_id) DO UPDATE SET count = excluded.count, locked_until = excluded.locked_until",
                params![ch.user_id as i64, next, now + backoff.secs(next)],
            )
            .map_err(backend)?;
            tx.execute(
                "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE hash = ?1",
                [hash],
            )
            .map_err(backend)?;
            ch.attempts += 1;
            let factors = factor_record(tx, ch.user_id)?;
            Ok(CodeAttempt::Reserved {
                challenge: ch,
                factors,
            })
        })
    }

    async fn finish_second_step(&self, step: &SecondStep<'_>) -> StoreResult<SecondStepEnd> {
        let ch = step.challenge;
        let id = ch.user_id as i64;
        // Every condition is read first, under the immediate transaction's write lock.
        self.write(|tx| {
            let live = exists(
                tx,
                "SELECT 1 FROM mfa_challenges WHERE hash = ?1",
                params![ch.hash],
            )? && exists(
                tx,
                "SELECT 1 FROM users WHERE id = ?1 AND email = ?2 AND password_hash = ?3 AND disabled = 0",
                params![id, ch.email, ch.verified_hash],
            )?;
            if !live {
                tx.execute("DELETE FROM mfa_challenges WHERE hash = ?1", [&ch.hash])
                    .map_err(backend)?;
                return Ok(SecondStepEnd::Gone);
            }
            let usable = match step.proof {
                Proof::Totp { sealed, step: s } => exists(
                    tx,
                    "SELECT 1 FROM second_factors
                     WHERE user_id = ?1 AND totp_secret = ?2 AND COALESCE(totp_last_step, -1) < ?3",
                    params![id, sealed, *s as i64],
                )?,
                Proof::RecoveryCode { hash } => exists(
                    tx,
                    "SELECT 1 FROM recovery_codes WHERE user_id = ?1 AND hash = ?2",
                    params![id, hash],
                )?,
            };
            if !usable {
                // A replayed step or a spent code: nothing but its attempt (already counted).
                return Ok(SecondStepEnd::CodeRefused);
            }
            match step.proof {
                Proof::Totp { step: s, .. } => tx.execute(
                    "UPDATE second_factors SET totp_last_step = ?2 WHERE user_id = ?1",
                    params![id, *s as i64],
                ),
                Proof::RecoveryCode { hash } => tx.execute(
                    "DELETE FROM recovery_codes WHERE user_id = ?1 AND hash = ?2",
                    params![id, hash],
                ),
            }
            .map_err(backend)?;
            tx.execute("DELETE FROM mfa_challenges WHERE hash = ?1", [&ch.hash])
                .map_err(backend)?;
            tx.execute("DELETE FROM code_failures WHERE user_id = ?1", [id])
                .map_err(backend)?;
            insert_session(tx, step.session, step.first)?;
            trust_device(
                tx,
                &ch.email,
                step.device,
                &ch.verified_hash,
                step.device_expires_at,
            )?;
            Ok(SecondStepEnd::Started)
        })
    }
}

/// Whether `sql` (a `SELECT 1 ...`) finds a row.
pub(super) fn exists<P: rusqlite::Params>(tx: &Connection, sql: &str, params: P) -> StoreResult<bool> {
    tx.query_row(sql, params, |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(backend)
}
