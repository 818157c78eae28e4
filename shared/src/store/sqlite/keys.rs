//! The keys of local mode, kept in the SQLite file so that every function process and every
//! restart uses the same ones: the private set and the public set (the JWKS) as two rows of
//! `key_sets`, in the JSON forms of the two Secrets Manager secrets. The first read generates
//! them (the refresh-token HMAC key of an older file is kept, so its sessions live on).
//!
//! Writes are conditional on the version read (the row's text), compared and written in one
//! immediate transaction, so across processes too (the functions read, `authyy-admin keys ...`
//! writes). Every write puts a new random `"version"` member in the text, which readers
//! ignore, so writing the same keys again is a change too: a retire that writes the private set
//! back unchanged still supersedes whatever was computed from it.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{backend, SqliteStore};
use crate::clock::{Clock, SystemClock};
use crate::keys::{
    parse_object, publish_keeping_retired, random_key, KeyError, KeySet, KeyStore, Lifecycle, PrivateKeys,
    PublicKeys, Version,
};
use crate::store::{StoreError, StoreResult};

const PRIVATE: &str = "private";
const PUBLIC: &str = "public";

fn unavailable(e: StoreError) -> KeyError {
    KeyError::Unavailable(e.to_string())
}

impl SqliteStore {
    fn key_set(&self, name: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT body FROM key_sets WHERE name = ?1", [name], |r| r.get(0))
                .optional()
        })
    }

    /// Replaces the key set `name` by `body` (a JSON object) with a new version, only while it
    /// still is `read` (if given).
    fn replace_key_set(
        &self,
        name: &'static str,
        body: &str,
        read: Option<&Version>,
    ) -> Result<(), KeyError> {
        let mut doc = parse_object(body)?;
        doc.insert("version".into(), crate::randomness::new_id().into());
        let body = serde_json::Value::Object(doc).to_string();
        let written = self
            .write(|tx| {
                if let Some(read) = read {
                    let now: Option<String> = tx
                        .query_row("SELECT body FROM key_sets WHERE name = ?1", [name], |r| r.get(0))
                        .optional()
                        .map_err(backend)?;
                    if now.as_deref() != Some(read.0.as_str()) {
                        return Ok(false);
                    }
                }
                tx.execute(
                    "INSERT INTO key_sets (name, body) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET body = excluded.body",
                    params![name, body],
                )
                .map_err(backend)?;
                Ok(true)
            })
            .map_err(unavailable)?;
        written.then_some(()).ok_or(KeyError::Conflict(name))
    }

    /// First keys of a file: the HMAC key of the older `local_keys` table (or a new one) and
    /// a new RSA lifecycle. Generated outside the lock; if another process got there first,
    /// its keys are kept.
    fn create_keys(&self, now: i64) -> StoreResult<()> {
        let fail = |e: KeyError| StoreError::Backend(e.to_string());
        let legacy: Vec<(String, Vec<u8>)> = self.read(|c| {
            let mut stmt =
                c.prepare("SELECT kid, secret FROM local_keys ORDER BY created_at DESC, kid DESC")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let hmac = match legacy.first() {
            Some((kid, _)) => KeySet::new(kid.clone(), legacy.iter().cloned().collect()),
            None => KeySet::single("local-1", random_key()),
        }
        .map_err(fail)?;
        let lifecycle = Lifecycle::start(now).map_err(fail)?;
        let public = PublicKeys::of(&lifecycle).to_json();
        let private = PrivateKeys {
            hmac,
            rsa: Some(lifecycle),
        }
        .to_json();
        self.write(|tx| {
            let created = tx
                .execute(
                    "INSERT INTO key_sets (name, body) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                    params![PRIVATE, private],
                )
                .map_err(backend)?;
            if created == 1 {
                tx.execute(
                    "INSERT INTO key_sets (name, body) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET body = excluded.body",
                    params![PUBLIC, public],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
    }

    /// The text of the key set `name`, creating the keys if the file has none.
    fn key_set_or_create(&self, name: &str) -> StoreResult<String> {
        if let Some(body) = self.key_set(name)? {
            return Ok(body);
        }
        self.create_keys(SystemClock.now())?;
        self.key_set(name)?
            .ok_or_else(|| StoreError::Backend(format!("no {name} key set")))
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn load(&self) -> Result<PrivateKeys, KeyError> {
        Ok(self.load_versioned().await?.0)
    }

    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError> {
        self.replace_key_set(PRIVATE, &keys.to_json(), None)
    }

    async fn load_public(&self) -> Result<PublicKeys, KeyError> {
        Ok(self.load_public_versioned().await?.0)
    }

    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError> {
        // A file whose private set was written before any public one (seeded by hand) has no
        // record of retired kids to keep.
        if self.key_set(PUBLIC).map_err(unavailable)?.is_none() {
            return self.replace_key_set(PUBLIC, &keys.to_json(), None);
        }
        publish_keeping_retired(self, keys).await
    }

    async fn load_versioned(&self) -> Result<(PrivateKeys, Version), KeyError> {
        let text = self.key_set_or_create(PRIVATE).map_err(unavailable)?;
        Ok((PrivateKeys::from_json(&text)?, Version(text)))
    }

    async fn save_if(&self, keys: &PrivateKeys, read: &Version) -> Result<(), KeyError> {
        self.replace_key_set(PRIVATE, &keys.to_json(), Some(read))
    }

    async fn load_public_versioned(&self) -> Result<(PublicKeys, Version), KeyError> {
        let text = self.key_set_or_create(PUBLIC).map_err(unavailable)?;
        Ok((PublicKeys::from_json(&text)?, Version(text)))
    }

    async fn publish_if(&self, keys: &PublicKeys, read: &Version) -> Result<(), KeyError> {
        self.replace_key_set(PUBLIC, &keys.to_json(), Some(read))
    }
}
