//! The SQLite store of local mode: a real file, WAL, migrations applied at start. Every
//! exactly-once guarantee of the DynamoDB store is kept by an immediate transaction, which also
//! holds across the several function processes `cargo lambda watch` runs on one file.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

use crate::domain::{Email, Role, User, UserId};
use crate::keys::{random_key, KeySet};
use crate::store::*;

const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

const USER_COLUMNS: &str = "id, username, email, role, disabled, created_at, sessions_valid_after_ms";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get::<_, i64>(0)? as UserId,
        username: row.get(1)?,
        email: row.get(2)?,
        role: Role::parse(&row.get::<_, String>(3)?).unwrap_or(Role::User),
        disabled: row.get(4)?,
        created_at: row.get(5)?,
        sessions_valid_after_ms: row.get(6)?,
    })
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        sid: row.get(0)?,
        user_id: row.get::<_, i64>(1)? as UserId,
        created_ms: row.get(2)?,
        expires_at: row.get(3)?,
        revoked: row.get(4)?,
    })
}

fn refresh_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshToken> {
    let successor_jti: Option<String> = row.get(6)?;
    Ok(RefreshToken {
        jti: row.get(0)?,
        sid: row.get(1)?,
        user_id: row.get::<_, i64>(2)? as UserId,
        issued_at: row.get(3)?,
        expires_at: row.get(4)?,
        rotated_at_ms: row.get(5)?,
        successor: match successor_jti {
            Some(jti) => Some(Successor {
                jti,
                issued_at: row.get(7)?,
                expires_at: row.get(8)?,
            }),
            None => None,
        },
    })
}

const REFRESH_COLUMNS: &str =
    "jti, sid, user_id, issued_at, expires_at, rotated_at_ms, successor_jti, successor_issued_at, successor_expires_at";

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
        let store = SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let version: usize = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(backend)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).map_err(backend)?;
            tx.pragma_update(None, "user_version", i + 1).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (SQLite rolls
        // it back when the Transaction drops), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in an immediate (write-locked) transaction.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let out = f(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        f(&self.lock()).map_err(backend)
    }

    /// The local signing keys: a key is generated if the file has none yet, so every function
    /// process and every restart signs with the same key. The newest key signs; all verify.
    pub fn local_keys(&self, now: i64) -> StoreResult<KeySet> {
        let candidate = random_key();
        let rows: Vec<(String, Vec<u8>)> = self.write(|tx| {
            tx.execute(
                "INSERT INTO local_keys (kid, secret, created_at)
                 SELECT 'local-1', ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM local_keys)",
                params![candidate, now],
            )
            .map_err(backend)?;
            let mut stmt = tx
                .prepare("SELECT kid, secret FROM local_keys ORDER BY created_at DESC, kid DESC")
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend);
            rows
        })?;
        let signing = rows[0].0.clone();
        KeySet::new(signing, rows.into_iter().collect()).map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// Replaces the local keys with `keys` (rotation by the admin tool).
    pub fn save_local_keys(&self, keys: &KeySet, now: i64) -> StoreResult<()> {
        let (signing, _) = keys.signing();
        self.write(|tx| {
            for kid in keys.kids() {
                let secret = keys.verifying(kid).unwrap_or_default();
                let created = if kid == signing { now } else { 0 };
                tx.execute(
                    "INSERT INTO local_keys (kid, secret, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(kid) DO UPDATE SET created_at = MAX(created_at, excluded.created_at)",
                    params![kid, secret, created],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
    }
}

fn user_by<P: rusqlite::Params>(
    conn: &Connection,
    clause: &str,
    params: P,
) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}"),
        params,
        user_from_row,
    )
    .optional()
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        self.write(|tx| {
            let taken = |sql: &str, v: &str| -> StoreResult<bool> {
                tx.query_row(sql, [v], |_| Ok(())).optional().map(|r| r.is_some()).map_err(backend)
            };
            if taken("SELECT 1 FROM users WHERE email = ?1", new.email.as_str())? {
                return Err(StoreError::EmailTaken);
            }
            if taken("SELECT 1 FROM users WHERE username_key = ?1", &new.username.key())? {
                return Err(StoreError::UsernameTaken);
            }
            tx.execute(
                "INSERT INTO users (username, username_key, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![new.username.as_str(), new.username.key(), new.email.as_str(), new.password_hash, new.created_at],
            )
            .map_err(backend)?;
            let id = tx.last_insert_rowid();
            user_by(tx, "id = ?1", [id])
                .map_err(backend)?
                .ok_or_else(|| StoreError::Backend("inserted user not found".into()))
        })
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(|c| user_by(c, "id = ?1", [id as i64]))
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.read(|c| user_by(c, "email = ?1", [email.as_str()]))
    }

    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<UserPage> {
        let after = after.unwrap_or(0) as i64;
        let mut users = self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit as i64 + 1], user_from_row)?;
            rows.collect::<rusqlite::Result<Vec<User>>>()
        })?;
        let next_after = if users.len() > limit as usize {
            users.truncate(limit as usize);
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next_after })
    }

    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<bool> {
        self.write(|tx| {
            tx.execute(
                "UPDATE users SET role = ?1 WHERE id = ?2",
                params![role.as_str(), id as i64],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
    }

    async fn set_disabled(&self, id: UserId, disabled: bool, now_ms: i64) -> StoreResult<bool> {
        self.write(|tx| {
            let sql = if disabled {
                "UPDATE users SET disabled = 1, sessions_valid_after_ms = MAX(sessions_valid_after_ms, ?2) WHERE id = ?1"
            } else {
                "UPDATE users SET disabled = 0 WHERE id = ?1 AND ?2 = ?2"
            };
            tx.execute(sql, params![id as i64, now_ms]).map(|n| n == 1).map_err(backend)
        })
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn login_lookup(&self, email: &Email) -> StoreResult<(Option<Credentials>, LoginFailures)> {
        self.read(|c| {
            let creds = c
                .query_row(
                    "SELECT id, username, email, password_hash, disabled FROM users WHERE email = ?1",
                    [email.as_str()],
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
                .optional()?;
            let failures = c
                .query_row(
                    "SELECT count, last_failed_at FROM login_failures WHERE email = ?1",
                    [email.as_str()],
                    |r| {
                        Ok(LoginFailures {
                            count: r.get(0)?,
                            last_failed_at: r.get(1)?,
                        })
                    },
                )
                .optional()?
                .unwrap_or_default();
            Ok((creds, failures))
        })
    }

    async fn record_login_failure(
        &self,
        email: &Email,
        now: i64,
        keep_secs: i64,
    ) -> StoreResult<LoginFailures> {
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO login_failures (email, count, last_failed_at, expires_at) VALUES (?1, 1, ?2, ?3)
                 ON CONFLICT(email) DO UPDATE SET
                   count = CASE WHEN expires_at <= ?2 THEN 1 ELSE count + 1 END,
                   last_failed_at = ?2, expires_at = ?3
                 RETURNING count, last_failed_at",
                params![email.as_str(), now, now + keep_secs],
                |r| {
                    Ok(LoginFailures {
                        count: r.get(0)?,
                        last_failed_at: r.get(1)?,
                    })
                },
            )
            .map_err(backend)
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
        email: &Email,
        verified_hash: &str,
        session: &Session,
        first: &RefreshToken,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let still_valid = tx
                .query_row(
                    "SELECT 1 FROM users WHERE id = ?1 AND email = ?2 AND password_hash = ?3 AND disabled = 0",
                    params![session.user_id as i64, email.as_str(), verified_hash],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if !still_valid {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO sessions (sid, user_id, created_ms, expires_at, revoked) VALUES (?1, ?2, ?3, ?4, 0)",
                params![session.sid, session.user_id as i64, session.created_ms, session.expires_at],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO refresh_tokens (jti, sid, user_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![first.jti, first.sid, first.user_id as i64, first.issued_at, first.expires_at],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM login_failures WHERE email = ?1", [email.as_str()])
                .map_err(backend)?;
            Ok(true)
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
                    "SELECT sid, user_id, created_ms, expires_at, revoked FROM sessions WHERE sid = ?1",
                    [sid],
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
    ) -> StoreResult<Rotation> {
        self.write(|tx| {
            let live_session = tx
                .query_row(
                    "SELECT 1 FROM sessions WHERE sid = ?1 AND revoked = 0",
                    [&old.sid],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
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

    async fn revoke_session(&self, sid: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE sessions SET revoked = 1 WHERE sid = ?1", [sid])
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
}

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
            tx.execute(
                "UPDATE users SET password_hash = ?2, reset_hash = NULL,
                   sessions_valid_after_ms = MAX(sessions_valid_after_ms, ?3)
                 WHERE id = ?1",
                params![user_id, new_password_hash, now_ms],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM login_failures WHERE email = (SELECT email FROM users WHERE id = ?1)",
                [user_id],
            )
            .map_err(backend)?;
            Ok(Some(user_id as UserId))
        })
    }
}

#[async_trait]
impl ThrottleStore for SqliteStore {
    async fn hit(&self, key: &str, window_secs: u64, now: i64) -> StoreResult<u32> {
        let window = window_secs as i64;
        let bucket = now.div_euclid(window);
        let key = format!("{key}#{bucket}");
        let expires_at = (bucket + 1) * window;
        self.write(|tx| {
            // Windows that have ended are swept as new ones begin (DynamoDB's TTL does this there).
            tx.execute("DELETE FROM throttle WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            tx.query_row(
                "INSERT INTO throttle (key, count, expires_at) VALUES (?1, 1, ?2)
                 ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count",
                params![key, expires_at],
                |r| r.get(0),
            )
            .map_err(backend)
        })
    }
}
