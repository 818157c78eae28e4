//! Second factors on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::sessions::{insert_session, settle_password_step, trust_device};
use super::*;
use crate::config::Backoff;

fn factor_record(c: &Connection, user_id: UserId) -> StoreResult<FactorRecord> {
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
    let mut stmt = c
        .prepare("SELECT hash FROM recovery_codes WHERE user_id = ?1 ORDER BY hash")
        .map_err(backend)?;
    let recovery_codes = stmt
        .query_map([user_id as i64], |r| r.get::<_, String>(0))
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    let Some((totp, last_step, pending, pending_expires_at)) = row else {
        return Ok(FactorRecord {
            recovery_codes,
            ..FactorRecord::default()
        });
    };
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
    })
}

fn set_recovery_codes(tx: &Connection, user_id: UserId, hashes: &[String]) -> StoreResult<()> {
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
        "SELECT hash, user_id, email, verified_hash, device, trusted_device, attempts, expires_at
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
        self.write(|tx| {
            let confirmed = tx
                .execute(
                    "UPDATE second_factors SET totp_secret = pending_secret, totp_last_step = ?3,
                       pending_secret = NULL, pending_expires_at = NULL
                     WHERE user_id = ?1 AND pending_secret = ?2 AND pending_expires_at > ?4",
                    params![c.user_id as i64, c.pending.sealed, c.step as i64, c.now],
                )
                .map_err(backend)?;
            if confirmed != 1 {
                return Ok(ConfirmEnd::NoEnrollment);
            }
            let cut = tx
                .execute(
                    "UPDATE users SET sessions_valid_after_ms = ?3
                     WHERE id = ?1 AND sessions_valid_after_ms = ?2 AND disabled = 0",
                    params![c.user_id as i64, c.seen_cutoff_ms, c.cut_ms],
                )
                .map_err(backend)?;
            if cut != 1 {
                // Nothing is kept: the transaction rolls back when it is dropped uncommitted.
                return Err(StoreError::Backend(SESSIONS_ENDED.into()));
            }
            if let Some(hashes) = c.recovery_codes {
                set_recovery_codes(tx, c.user_id, hashes)?;
            }
            insert_session(tx, c.session, c.first)?;
            Ok(ConfirmEnd::Confirmed)
        })
        .or_else(|e| match e {
            StoreError::Backend(m) if m == SESSIONS_ENDED => Ok(ConfirmEnd::SessionsEnded),
            e => Err(e),
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
            if removed == 1 {
                set_recovery_codes(tx, user_id, &[])?;
            }
            Ok(removed == 1)
        })
    }

    async fn replace_recovery_codes(&self, user_id: UserId, hashes: &[String]) -> StoreResult<bool> {
        self.write(|tx| {
            let has_factor = tx
                .query_row(
                    "SELECT 1 FROM second_factors WHERE user_id = ?1 AND totp_secret IS NOT NULL",
                    [user_id as i64],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if has_factor {
                set_recovery_codes(tx, user_id, hashes)?;
            }
            Ok(has_factor)
        })
    }

    async fn reset_second_factors(&self, user_id: UserId, now_ms: i64) -> StoreResult<bool> {
        self.write(|tx| {
            let id = user_id as i64;
            for table in ["second_factors", "recovery_codes", "code_failures", "mfa_challenges"] {
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
                   (hash, user_id, email, verified_hash, device, trusted_device, attempts, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
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
        self.write(|tx| {
            let spent = tx
                .execute("DELETE FROM mfa_challenges WHERE hash = ?1", [&ch.hash])
                .map_err(backend)?;
            let account_unchanged = tx
                .query_row(
                    "SELECT 1 FROM users WHERE id = ?1 AND email = ?2 AND password_hash = ?3 AND disabled = 0",
                    params![ch.user_id as i64, ch.email, ch.verified_hash],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if spent != 1 || !account_unchanged {
                return Ok(SecondStepEnd::Gone);
            }
            let used = match step.proof {
                Proof::Totp { sealed, step: s } => tx.execute(
                    "UPDATE second_factors SET totp_last_step = ?3
                     WHERE user_id = ?1 AND totp_secret = ?2 AND COALESCE(totp_last_step, -1) < ?3",
                    params![ch.user_id as i64, sealed, *s as i64],
                ),
                Proof::RecoveryCode { hash } => tx.execute(
                    "DELETE FROM recovery_codes WHERE user_id = ?1 AND hash = ?2",
                    params![ch.user_id as i64, hash],
                ),
            }
            .map_err(backend)?;
            if used != 1 {
                return Err(StoreError::Backend(CODE_USED.into()));
            }
            tx.execute("DELETE FROM code_failures WHERE user_id = ?1", [ch.user_id as i64])
                .map_err(backend)?;
            insert_session(tx, step.session, step.first)?;
            trust_device(tx, &ch.email, step.device, &ch.verified_hash, step.device_expires_at)?;
            Ok(SecondStepEnd::Started)
        })
        .or_else(|e| match e {
            // Rolled back (the challenge stays spent only if the step succeeds): a replayed
            // code changes nothing but its attempt, already counted.
            StoreError::Backend(m) if m == CODE_USED => Ok(SecondStepEnd::CodeRefused),
            e => Err(e),
        })
    }
}

/// Markers of an outcome that must roll the transaction back.
const SESSIONS_ENDED: &str = "sessions ended meanwhile";
const CODE_USED: &str = "code used meanwhile";
