//! The SQLite store of local mode: a real file, WAL, migrations applied at start. Every
//! exactly-once guarantee of the DynamoDB store is kept by an immediate transaction, which also
//! holds across the several function processes `cargo lambda watch` runs on one file.
//!
//! This file opens the database and holds the row codecs; each trait is implemented in its own
//! file (`users`, `sessions`, `accounts`, `resets`, `verifications`, `mail_requests`,
//! `throttle`, `second_factors`), and `keys`
//! keeps local mode's signing keys.

mod accounts;
mod audit;
mod devices;
mod federation;
mod keys;
mod mail_requests;
mod passkeys;
mod resets;
mod second_factors;
mod sessions;
mod throttle;
mod users;
mod verifications;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

use crate::domain::{
    AppMetadata, Authentication, Email, RefreshToken, Role, SeenFrom, Session, Successor, User, UserId,
};
use crate::store::*;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_key_sets.sql"),
    include_str!("migrations/0003_login_counters.sql"),
    include_str!("migrations/0004_verified_email.sql"),
    include_str!("migrations/0005_self_service.sql"),
    include_str!("migrations/0006_bound_mail.sql"),
    include_str!("migrations/0007_second_factors.sql"),
    include_str!("migrations/0008_passkeys.sql"),
    include_str!("migrations/0009_identities.sql"),
    include_str!("migrations/0010_app_metadata.sql"),
    include_str!("migrations/0011_audit_events.sql"),
];

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

const USER_COLUMNS: &str =
    "id, username, email, role, disabled, created_at, sessions_valid_after_ms, email_verified, app_metadata";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get::<_, i64>(0)? as UserId,
        username: row.get(1)?,
        email: row.get(2)?,
        role: Role::from_stored(&row.get::<_, String>(3)?),
        disabled: row.get(4)?,
        created_at: row.get(5)?,
        sessions_valid_after_ms: row.get(6)?,
        email_verified: row.get(7)?,
        app_metadata: AppMetadata::from_stored(row.get::<_, Option<String>>(8)?.as_deref()).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
        })?,
    })
}

/// `app_metadata` as the `users` table holds it: empty text for none.
fn stored_metadata(metadata: &AppMetadata) -> String {
    if metadata.is_empty() {
        String::new()
    } else {
        metadata.to_json()
    }
}

const SESSION_COLUMNS: &str =
    "sid, user_id, created_ms, expires_at, revoked, valid_from_ms, last_used_ms, ip, user_agent, amr, auth_time";

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        sid: row.get(0)?,
        user_id: row.get::<_, i64>(1)? as UserId,
        created_ms: row.get(2)?,
        expires_at: row.get(3)?,
        revoked: row.get(4)?,
        valid_from_ms: row.get(5)?,
        last_used_ms: row.get(6)?,
        seen: SeenFrom {
            ip: row.get(7)?,
            user_agent: row.get(8)?,
        },
        auth: Authentication::from_stored(row.get::<_, Option<String>>(9)?.as_deref(), row.get(10)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_in_a_directory_not_yet_made_is_opened_in_a_new_one() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("not").join("yet").join("authyy.sqlite3");
        SqliteStore::open(&path).expect("opened");
        assert!(path.is_file());
    }
}
