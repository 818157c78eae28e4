//! The keys of local mode, kept in the SQLite file so that every function process and every
//! restart uses the same ones: the private set and the public set (the JWKS) as two rows of
//! `key_sets`, in the JSON forms of the two Secrets Manager secrets. The first read generates
//! them (the refresh-token HMAC key of an older file is kept, so its sessions live on).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{backend, SqliteStore};
use crate::clock::{Clock, SystemClock};
use crate::keys::{random_key, KeyError, KeySet, KeyStore, Lifecycle, PrivateKeys, PublicKeys};
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

    fn put_key_set(&self, name: &str, body: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO key_sets (name, body) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET body = excluded.body",
                params![name, body],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    /// First keys of a file: the HMAC key of the first round's `local_keys` (or a new one) and
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
        PrivateKeys::from_json(&self.key_set_or_create(PRIVATE).map_err(unavailable)?)
    }

    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError> {
        self.put_key_set(PRIVATE, &keys.to_json()).map_err(unavailable)
    }

    async fn load_public(&self) -> Result<PublicKeys, KeyError> {
        PublicKeys::from_json(&self.key_set_or_create(PUBLIC).map_err(unavailable)?)
    }

    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError> {
        self.put_key_set(PUBLIC, &keys.to_json()).map_err(unavailable)
    }
}
