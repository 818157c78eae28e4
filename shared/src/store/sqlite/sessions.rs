//! Login, sessions and refresh tokens on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::config::Backoff;

/// The counter of every attempt at one email, of the attempts from one network, and of the
/// attempts of one trusted device.
const ACCOUNT_COUNTER: &str = "account";
fn network_counter(network: &str) -> String {
    format!("net:{network}")
}
fn device_counter(device: &str) -> String {
    format!("device:{device}")
}
/// The counter of the re-authentications of one session.
fn session_counter(sid: &str) -> String {
    format!("session:{sid}")
}

/// Reserves one attempt on each of `counters` of `email` at once, unless one is locked
/// (`Some(retry_after)` then, and nothing counted).
fn reserve(
    tx: &Connection,
    email: &str,
    counters: &[(String, Backoff)],
    now: i64,
    keep_secs: i64,
) -> StoreResult<Option<u64>> {
    let mut seen = vec![];
    for (counter, _) in counters {
        seen.push(failures(tx, email, counter).map_err(backend)?);
    }
    let wait = seen.iter().map(|f| f.wait(now)).max().unwrap_or(0);
    if wait > 0 {
        return Ok(Some(wait as u64));
    }
    for ((counter, backoff), old) in counters.iter().zip(seen) {
        let new = old.reserve(now, *backoff, keep_secs);
        tx.execute(
            "INSERT INTO login_failures (email, counter, count, locked_until, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(email, counter) DO UPDATE SET
               count = excluded.count, locked_until = excluded.locked_until,
               expires_at = excluded.expires_at",
            params![email, counter, new.count, new.locked_until, new.expires_at],
        )
        .map_err(backend)?;
    }
    Ok(None)
}

/// The credentials login reads, by address.
fn credentials(tx: &Connection, email: &str) -> StoreResult<Option<Credentials>> {
    tx.query_row(
        "SELECT id, username, email, password_hash, disabled FROM users WHERE email = ?1",
        [email],
        |r| {
            Ok(Credentials {
                user_id: r.get::<_, i64>(0)? as UserId,
                username: r.get(1)?,
                email: r.get(2)?,
                password_hash: r.get(3)?,
                disabled: r.get(4)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}

/// Moves the trust of the device `device` of `email` from the password `old_hash` to
/// `new_hash`, if it was trusted with the old one (a password change or reset made from it).
pub(super) fn keep_device_trusted(
    tx: &Connection,
    email: &str,
    device: &str,
    old_hash: &str,
    new_hash: &str,
    now: i64,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE login_devices SET credential = ?4
         WHERE hash = ?1 AND email = ?2 AND credential = ?3 AND expires_at > ?5",
        params![
            device,
            email,
            device_credential(old_hash),
            device_credential(new_hash),
            now
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn failures(c: &Connection, email: &str, counter: &str) -> rusqlite::Result<LoginFailures> {
    Ok(c.query_row(
        "SELECT count, locked_until, expires_at FROM login_failures WHERE email = ?1 AND counter = ?2",
        params![email, counter],
        |r| {
            Ok(LoginFailures {
                count: r.get(0)?,
                locked_until: r.get(1)?,
                expires_at: r.get(2)?,
            })
        },
    )
    .optional()?
    .unwrap_or_default())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn begin_login(&self, attempt: &LoginAttempt<'_>, rules: &LoginRules) -> StoreResult<LoginStart> {
        let email = attempt.email.as_str();
        self.write(|tx| {
            // Counters and devices past their time are swept as logins come (DynamoDB's TTL
            // does this there).
            tx.execute("DELETE FROM login_failures WHERE expires_at <= ?1", [attempt.now])
                .map_err(backend)?;
            tx.execute("DELETE FROM login_devices WHERE expires_at <= ?1", [attempt.now])
                .map_err(backend)?;
            sweep_sessions(tx, attempt.now)?;
            // A device is trusted only with the password it logged in with (see
            // [`device_credential`]).
            let trusted_device = match attempt.device {
                Some(hash) => tx
                    .query_row(
                        "SELECT d.credential, u.password_hash FROM login_devices d
                         JOIN users u ON u.email = d.email WHERE d.hash = ?1 AND d.email = ?2",
                        params![hash, email],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                    )
                    .optional()
                    .map_err(backend)?
                    .is_some_and(|(credential, password_hash)| {
                        credential == device_credential(&password_hash)
                    }),
                None => false,
            };
            let counters = match attempt.device {
                Some(hash) if trusted_device => vec![(device_counter(hash), rules.network)],
                _ => vec![
                    (network_counter(attempt.network), rules.network),
                    (ACCOUNT_COUNTER.to_string(), rules.account),
                ],
            };
            if let Some(retry_after) = reserve(tx, email, &counters, attempt.now, rules.keep_secs)? {
                return Ok(LoginStart::Locked { retry_after });
            }
            let credentials = credentials(tx, email)?;
            Ok(LoginStart::Reserved {
                credentials,
                trusted_device,
            })
        })
    }

    async fn upgrade_password_hash(&self, email: &Email, old: &str, new: &str) -> StoreResult<bool> {
        self.write(|tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?3 WHERE email = ?1 AND password_hash = ?2",
                params![email.as_str(), old, new],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
    }

    async fn start_session(
        &self,
        login: &VerifiedLogin<'_>,
        session: &Session,
        first: &RefreshToken,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            if !settle_password_step(tx, login, session.user_id)? {
                return Ok(false);
            }
            insert_session(tx, session, first)?;
            trust_device(
                tx,
                login.attempt.email.as_str(),
                login.device,
                login.verified_hash,
                login.device_expires_at,
            )?;
            Ok(true)
        })
    }

    async fn begin_reauthentication(
        &self,
        attempt: &Reauthentication<'_>,
        rules: &LoginRules,
    ) -> StoreResult<LoginStart> {
        let email = attempt.email.as_str();
        self.write(|tx| {
            let counters = [(session_counter(attempt.sid), rules.network)];
            if let Some(retry_after) = reserve(tx, email, &counters, attempt.now, rules.keep_secs)? {
                return Ok(LoginStart::Locked { retry_after });
            }
            Ok(LoginStart::Reserved {
                credentials: credentials(tx, email)?,
                trusted_device: false,
            })
        })
    }

    async fn settle_reauthentication(&self, attempt: &Reauthentication<'_>) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM login_failures WHERE email = ?1 AND counter = ?2",
                params![attempt.email.as_str(), session_counter(attempt.sid)],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn session_with_user(
        &self,
        user_id: UserId,
        sid: &str,
    ) -> StoreResult<(Option<User>, Option<Session>)> {
        self.read(|c| {
            let user = user_by(c, "id = ?1", [user_id as i64])?;
            let session = c
                .query_row(
                    &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE sid = ?1 AND user_id = ?2"),
                    params![sid, user_id as i64],
                    session_from_row,
                )
                .optional()?;
            Ok((user, session))
        })
    }

    async fn refresh_state(&self, jti: &str, sid: &str, user_id: UserId) -> StoreResult<RefreshState> {
        let token = self.read(|c| {
            c.query_row(
                &format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE jti = ?1"),
                [jti],
                refresh_from_row,
            )
            .optional()
        })?;
        let (user, session) = self.session_with_user(user_id, sid).await?;
        Ok(RefreshState { token, session, user })
    }

    async fn rotate_refresh(
        &self,
        old: &RefreshToken,
        successor: &RefreshToken,
        now_ms: i64,
        seen: &SeenFrom,
    ) -> StoreResult<Rotation> {
        self.write(|tx| {
            let live_session = tx
                .execute(
                    "UPDATE sessions SET last_used_ms = ?2, ip = ?3, user_agent = ?4
                     WHERE sid = ?1 AND revoked = 0",
                    params![old.sid, now_ms, seen.ip, seen.user_agent],
                )
                .map_err(backend)?
                == 1;
            if !live_session {
                return Ok(Rotation::Refused);
            }
            let changed = tx
                .execute(
                    "UPDATE refresh_tokens SET rotated_at_ms = ?2, successor_jti = ?3, successor_issued_at = ?4,
                       successor_expires_at = ?5
                     WHERE jti = ?1 AND rotated_at_ms IS NULL",
                    params![old.jti, now_ms, successor.jti, successor.issued_at, successor.expires_at],
                )
                .map_err(backend)?;
            if changed == 0 {
                let current = tx
                    .query_row(
                        &format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE jti = ?1"),
                        [&old.jti],
                        refresh_from_row,
                    )
                    .optional()
                    .map_err(backend)?;
                return Ok(current.map(Rotation::AlreadyRotated).unwrap_or(Rotation::Refused));
            }
            tx.execute(
                "INSERT INTO refresh_tokens (jti, sid, user_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![successor.jti, successor.sid, successor.user_id as i64, successor.issued_at, successor.expires_at],
            )
            .map_err(backend)?;
            Ok(Rotation::Rotated)
        })
    }

    async fn revoke_session(&self, user_id: UserId, sid: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET revoked = 1 WHERE sid = ?1 AND user_id = ?2",
                params![sid, user_id as i64],
            )
            .map(|_| ())
            .map_err(backend)
        })
    }

    async fn revoke_all_sessions(&self, user_id: UserId, now_ms: i64) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE users SET sessions_valid_after_ms = MAX(sessions_valid_after_ms, ?2) WHERE id = ?1",
                params![user_id as i64, now_ms],
            )
            .map(|_| ())
            .map_err(backend)
        })
    }

    async fn list_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 ORDER BY created_ms DESC"
            ))?;
            let rows = stmt.query_map([user_id as i64], session_from_row)?;
            rows.collect()
        })
    }

    async fn end_session(&self, user_id: UserId, sid: &str) -> StoreResult<bool> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM refresh_tokens WHERE sid = ?1 AND user_id = ?2",
                params![sid, user_id as i64],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM sessions WHERE sid = ?1 AND user_id = ?2",
                params![sid, user_id as i64],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
    }
}

/// Forgets the sessions that can never be used again (past their absolute end, or revoked),
/// with their refresh tokens: DynamoDB's TTL does this there. Each kind is found by an index.
fn sweep_sessions(tx: &Connection, now: i64) -> StoreResult<()> {
    const EXPIRED: &str = "SELECT sid FROM sessions WHERE expires_at <= ?1";
    const REVOKED: &str = "SELECT sid FROM sessions WHERE revoked = 1";
    let run = |sql: String, p: &[&dyn rusqlite::ToSql]| tx.execute(&sql, p).map_err(backend);
    run(
        format!("DELETE FROM refresh_tokens WHERE sid IN ({EXPIRED})"),
        &[&now],
    )?;
    run(format!("DELETE FROM sessions WHERE sid IN ({EXPIRED})"), &[&now])?;
    run(
        format!("DELETE FROM refresh_tokens WHERE sid IN ({REVOKED})"),
        &[],
    )?;
    run(format!("DELETE FROM sessions WHERE sid IN ({REVOKED})"), &[])?;
    Ok(())
}

/// Login's password step, succeeded: true if account `user_id` still has the verified password
/// and is enabled, and then the password counters are settled as a success (this network's
/// failures forgotten; the trusted device's counter cleared, or this success taken back off the
/// email's counter, which keeps everyone else's failures).
pub(super) fn settle_password_step(
    tx: &Connection,
    login: &VerifiedLogin<'_>,
    user_id: UserId,
) -> StoreResult<bool> {
    let email = login.attempt.email;
    let still_valid = tx
        .query_row(
            "SELECT 1 FROM users WHERE id = ?1 AND email = ?2 AND password_hash = ?3 AND disabled = 0",
            params![user_id as i64, email.as_str(), login.verified_hash],
            |_| Ok(()),
        )
        .optional()
        .map_err(backend)?
        .is_some();
    if !still_valid {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM login_failures WHERE email = ?1 AND counter = ?2",
        params![email.as_str(), network_counter(login.attempt.network)],
    )
    .map_err(backend)?;
    if login.trusted_device {
        tx.execute(
            "DELETE FROM login_failures WHERE email = ?1 AND counter = ?2",
            params![email.as_str(), device_counter(login.device)],
        )
        .map_err(backend)?;
    } else {
        tx.execute(
            "UPDATE login_failures SET count = MAX(count - 1, 0) WHERE email = ?1 AND counter = ?2",
            params![email.as_str(), ACCOUNT_COUNTER],
        )
        .map_err(backend)?;
    }
    Ok(true)
}

/// Stores a new session and its first refresh token.
pub(super) fn insert_session(tx: &Connection, session: &Session, first: &RefreshToken) -> StoreResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            session.sid,
            session.user_id as i64,
            session.created_ms,
            session.expires_at,
            session.valid_from_ms,
            session.last_used_ms,
            session.seen.ip,
            session.seen.user_agent,
            session.auth.methods_text(),
            session.auth.auth_time,
        ],
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO refresh_tokens (jti, sid, user_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            first.jti,
            first.sid,
            first.user_id as i64,
            first.issued_at,
            first.expires_at
        ],
    )
    .map_err(backend)?;
    Ok(())
}

/// Stores or renews the trust of device `device` of `email`, bound to the password hash
/// `verified_hash` (see [`device_credential`]).
pub(super) fn trust_device(
    tx: &Connection,
    email: &str,
    device: &str,
    verified_hash: &str,
    expires_at: i64,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO login_devices (hash, email, credential, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(hash) DO UPDATE SET expires_at = excluded.expires_at,
           credential = excluded.credential",
        params![device, email, device_credential(verified_hash), expires_at],
    )
    .map_err(backend)?;
    Ok(())
}
