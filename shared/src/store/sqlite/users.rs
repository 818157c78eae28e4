//! Accounts on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        self.write(|tx| insert_user(tx, &new))
    }

    async fn import_users(&self, users: &[NewUser]) -> StoreResult<Vec<Imported>> {
        // One transaction for the batch: each line is decided against the accounts as they
        // stand, the batch's earlier lines included.
        self.write(|tx| {
            users
                .iter()
                .map(|new| match insert_user(tx, new) {
                    Ok(user) => Ok(Imported::Created(user.id)),
                    Err(StoreError::EmailTaken) => Ok(Imported::EmailTaken),
                    Err(StoreError::UsernameTaken) => Ok(Imported::UsernameTaken),
                    Err(e) => Err(e),
                })
                .collect()
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
        let users = self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit as i64 + 1], user_from_row)?;
            rows.collect::<rusqlite::Result<Vec<User>>>()
        })?;
        Ok(UserPage::from_overfetch(users, limit))
    }

    async fn update_user(&self, id: UserId, update: &UserUpdate, now_ms: i64) -> StoreResult<Option<User>> {
        self.write(|tx| {
            let Some(user) = user_by(tx, "id = ?1", [id as i64]).map_err(backend)? else {
                return Ok(None);
            };
            let id = id as i64;
            let run = |sql: &str, value: &dyn rusqlite::ToSql| {
                tx.execute(sql, params![id, value]).map(drop).map_err(backend)
            };
            if let Some(role) = update.role {
                run("UPDATE users SET role = ?2 WHERE id = ?1", &role.as_str())?;
            }
            if let Some(disabled) = update.disabled {
                run("UPDATE users SET disabled = ?2 WHERE id = ?1", &disabled)?;
            }
            if let Some(verified) = update.email_verified {
                // Verified: an outstanding verification link has nothing left to do.
                run(
                    "UPDATE users SET email_verified = ?2, verify_hash = CASE WHEN ?2 THEN NULL ELSE verify_hash END WHERE id = ?1",
                    &verified,
                )?;
            }
            if let Some(metadata) = &update.app_metadata {
                run("UPDATE users SET app_metadata = ?2 WHERE id = ?1", &metadata.to_json())?;
            }
            if update.ends_sessions_of(&user) {
                run(
                    "UPDATE users SET sessions_valid_after_ms = MAX(sessions_valid_after_ms, ?2) WHERE id = ?1",
                    &now_ms,
                )?;
            }
            user_by(tx, "id = ?1", [id]).map_err(backend)
        })
    }
}

/// Inserts `new`, unless its email or username is registered.
pub(super) fn insert_user(tx: &rusqlite::Connection, new: &NewUser) -> StoreResult<User> {
    let taken = |sql: &str, v: &str| -> StoreResult<bool> {
        tx.query_row(sql, [v], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(backend)
    };
    if taken("SELECT 1 FROM users WHERE email = ?1", new.email.as_str())? {
        return Err(StoreError::EmailTaken);
    }
    if taken("SELECT 1 FROM users WHERE username_key = ?1", &new.username.key())? {
        return Err(StoreError::UsernameTaken);
    }
    tx.execute(
        "INSERT INTO users (username, username_key, email, password_hash, created_at, app_metadata, role, email_verified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.username.as_str(),
            new.username.key(),
            new.email.as_str(),
            new.password_hash,
            new.created_at,
            stored_metadata(&new.app_metadata),
            new.role.as_str(),
            new.email_verified
        ],
    )
    .map_err(backend)?;
    let id = tx.last_insert_rowid();
    user_by(tx, "id = ?1", [id])
        .map_err(backend)?
        .ok_or_else(|| StoreError::Backend("inserted user not found".into()))
}
