//! The keys of local mode with conditional writes, for whatever changes them (`authyy-admin
//! keys ...`): the same two rows of the SQLite file's `key_sets` table that the functions read
//! through the SQLite store (`store::sqlite`, which also makes the first keys of a file), read
//! with their text as their [`Version`], and replaced only while they still hold that text,
//! inside one immediate transaction (so across processes too). Every write puts a new random `"version"` member in
//! the text (which the readers ignore), so writing the same keys again is a change too: a retire
//! that writes the private set back unchanged still supersedes whatever was computed from it.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{KeyError, KeyStore, PrivateKeys, PublicKeys, Version};

/// The rows of `key_sets` (as store/sqlite/keys.rs names them).
const PRIVATE: &str = "private";
const PUBLIC: &str = "public";

pub struct SqliteKeys {
    /// The functions' store of the same file: read once, when the file has no keys yet, it
    /// makes them.
    first: Box<dyn KeyStore>,
    conn: Mutex<Connection>,
}

fn failed(e: impl std::fmt::Display) -> KeyError {
    KeyError::Unavailable(e.to_string())
}

impl SqliteKeys {
    /// The keys of the SQLite file at `path`, opened (and migrated) by `first`, the functions'
    /// store of that file (`SqliteStore`), which makes the file's first keys.
    pub fn open(path: &Path, first: Box<dyn KeyStore>) -> Result<SqliteKeys, KeyError> {
        let conn = Connection::open(path).map_err(failed)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(failed)?;
        Ok(SqliteKeys {
            first,
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no transaction open (it rolls back on drop).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn row(&self, name: &str) -> Result<Option<String>, KeyError> {
        self.conn()
            .query_row("SELECT body FROM key_sets WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(failed)
    }

    /// The text of the row `name`; a file without keys gets its first ones.
    async fn text(&self, name: &str) -> Result<String, KeyError> {
        if let Some(body) = self.row(name)? {
            return Ok(body);
        }
        self.first.load().await?;
        self.row(name)?
            .ok_or_else(|| KeyError::Unavailable(format!("no {name} key set")))
    }

    /// Replaces the row `name` by `body` (a JSON object) with a new version, only while it
    /// holds `read` (if given).
    fn replace(&self, name: &'static str, body: &str, read: Option<&Version>) -> Result<(), KeyError> {
        let mut doc = super::parse_object(body)?;
        doc.insert("version".into(), crate::secrets::new_id().into());
        let body = serde_json::Value::Object(doc).to_string();
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        if let Some(read) = read {
            let now: Option<String> = tx
                .query_row("SELECT body FROM key_sets WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(failed)?;
            if now.as_deref() != Some(read.0.as_str()) {
                return Err(KeyError::Conflict(name));
            }
        }
        tx.execute(
            "INSERT INTO key_sets (name, body) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET body = excluded.body",
            params![name, body],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)
    }
}

#[async_trait]
impl KeyStore for SqliteKeys {
    async fn load(&self) -> Result<PrivateKeys, KeyError> {
        Ok(self.load_versioned().await?.0)
    }

    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError> {
        self.replace(PRIVATE, &keys.to_json(), None)
    }

    async fn load_public(&self) -> Result<PublicKeys, KeyError> {
        Ok(self.load_public_versioned().await?.0)
    }

    /// Writes `keys`, keeping the record of retired kids (whose keys it never publishes).
    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError> {
        loop {
            let (read, version) = self.load_public_versioned().await?;
            match self.publish_if(&keys.with_retired_of(&read), &version).await {
                Err(KeyError::Conflict(_)) => continue,
                done => return done,
            }
        }
    }

    async fn load_versioned(&self) -> Result<(PrivateKeys, Version), KeyError> {
        let text = self.text(PRIVATE).await?;
        Ok((PrivateKeys::from_json(&text)?, Version(text)))
    }

    async fn save_if(&self, keys: &PrivateKeys, read: &Version) -> Result<(), KeyError> {
        self.replace(PRIVATE, &keys.to_json(), Some(read))
    }

    async fn load_public_versioned(&self) -> Result<(PublicKeys, Version), KeyError> {
        let text = self.text(PUBLIC).await?;
        Ok((PublicKeys::from_json(&text)?, Version(text)))
    }

    async fn publish_if(&self, keys: &PublicKeys, read: &Version) -> Result<(), KeyError> {
        self.replace(PUBLIC, &keys.to_json(), Some(read))
    }
}
