//! The signing keys of local mode, kept in the SQLite file so that every function process and
//! every restart signs with the same key.

use async_trait::async_trait;
use rusqlite::params;

use super::{backend, SqliteStore};
use crate::clock::{Clock, SystemClock};
use crate::keys::{random_key, KeyError, KeySet, KeyStore};
use crate::store::{StoreError, StoreResult};

impl SqliteStore {
    /// The local signing keys: a key is generated if the file has none yet, so every function
    /// process and every restart signs with the same key. The newest key signs; all verify.
    fn local_keys(&self, now: i64) -> StoreResult<KeySet> {
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
        let signing = rows
            .first()
            .map(|(kid, _)| kid.clone())
            .ok_or_else(|| StoreError::Backend("no local signing key".into()))?;
        KeySet::new(signing, rows.into_iter().collect()).map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// Replaces the local keys with `keys` (rotation by the admin tool).
    fn save_local_keys(&self, keys: &KeySet, now: i64) -> StoreResult<()> {
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

#[async_trait]
impl KeyStore for SqliteStore {
    async fn load(&self) -> Result<KeySet, KeyError> {
        self.local_keys(SystemClock.now())
            .map_err(|e| KeyError::Unavailable(e.to_string()))
    }

    async fn save(&self, keys: &KeySet) -> Result<(), KeyError> {
        self.save_local_keys(keys, SystemClock.now_ms())
            .map_err(|e| KeyError::Unavailable(e.to_string()))
    }
}
