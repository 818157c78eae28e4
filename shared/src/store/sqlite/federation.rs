//! Provider identities and the one-time records of a provider sign-in, on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::sessions::insert_session;
use super::*;

const IDENTITY_COLUMNS: &str = "id, provider, issuer, subject, email, created_at";

fn identity_from(r: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        id: r.get(0)?,
        provider: r.get(1)?,
        issuer: r.get(2)?,
        subject: r.get(3)?,
        email: r.get(4)?,
        created_at: r.get(5)?,
    })
}

fn insert_identity(tx: &Connection, user_id: i64, i: &Identity) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO identities (id, user_id, provider, issuer, subject, email, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            i.id,
            user_id,
            i.provider,
            i.issuer,
            i.subject,
            i.email,
            i.created_at
        ],
    )
}

fn owner(tx: &Connection, issuer: &str, subject: &str) -> rusqlite::Result<Option<i64>> {
    tx.query_row(
        "SELECT user_id FROM identities WHERE issuer = ?1 AND subject = ?2",
        params![issuer, subject],
        |r| r.get(0),
    )
    .optional()
}

#[async_trait]
impl FederationStore for SqliteStore {
    async fn put_handoff(
        &self,
        kind: Handoff,
        hash: &str,
        payload: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO oauth_handoffs (hash, kind, payload, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, kind.as_str(), payload, expires_at],
            )
            .map(|_| ())
            .map_err(backend)
        })
    }

    async fn take_handoff(&self, kind: Handoff, hash: &str, now: i64) -> StoreResult<Option<String>> {
        self.write(|tx| {
            // Expired records of every kind go with any spend.
            tx.execute("DELETE FROM oauth_handoffs WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            tx.query_row(
                "DELETE FROM oauth_handoffs WHERE kind = ?1 AND hash = ?2 RETURNING payload",
                params![kind.as_str(), hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
        })
    }

    async fn identity(&self, issuer: &str, subject: &str) -> StoreResult<Option<(UserId, Identity)>> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT user_id, {IDENTITY_COLUMNS} FROM identities WHERE issuer = ?1 AND subject = ?2"
                ),
                params![issuer, subject],
                |r| {
                    let user_id = r.get::<_, i64>(0)? as UserId;
                    Ok((
                        user_id,
                        Identity {
                            id: r.get(1)?,
                            provider: r.get(2)?,
                            issuer: r.get(3)?,
                            subject: r.get(4)?,
                            email: r.get(5)?,
                            created_at: r.get(6)?,
                        },
                    ))
                },
            )
            .optional()
        })
    }

    async fn identities(&self, user_id: UserId) -> StoreResult<Vec<Identity>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([user_id as i64], identity_from)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    async fn link_identity(&self, user_id: UserId, identity: &Identity) -> StoreResult<LinkEnd> {
        self.write(|tx| {
            let enabled = tx
                .query_row(
                    "SELECT 1 FROM users WHERE id = ?1 AND disabled = 0",
                    [user_id as i64],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?;
            if enabled.is_none() {
                return Ok(LinkEnd::Gone);
            }
            match owner(tx, &identity.issuer, &identity.subject).map_err(backend)? {
                Some(owner) if owner == user_id as i64 => return Ok(LinkEnd::AlreadyLinked),
                Some(_) => return Ok(LinkEnd::Taken),
                None => {}
            }
            insert_identity(tx, user_id as i64, identity).map_err(backend)?;
            Ok(LinkEnd::Linked)
        })
    }

    async fn create_federated_user(&self, new: &NewUser, identity: &Identity) -> StoreResult<CreateEnd> {
        self.write(|tx| {
            if owner(tx, &identity.issuer, &identity.subject)
                .map_err(backend)?
                .is_some()
            {
                return Ok(CreateEnd::IdentityTaken);
            }
            // The account as any other (its `new` says verified, no password), then its identity.
            let user = match super::users::insert_user(tx, new) {
                Ok(user) => user,
                Err(StoreError::EmailTaken) => return Ok(CreateEnd::EmailTaken),
                Err(StoreError::UsernameTaken) => return Ok(CreateEnd::UsernameTaken),
                Err(e) => return Err(e),
            };
            insert_identity(tx, user.id as i64, identity).map_err(backend)?;
            Ok(CreateEnd::Created(user))
        })
    }

    async fn unlink_identity(&self, user_id: UserId, _email: &str, id: &str) -> StoreResult<UnlinkEnd> {
        self.write(|tx| {
            let count = |sql: &str| -> StoreResult<i64> {
                tx.query_row(sql, params![user_id as i64, id], |r| r.get(0))
                    .map_err(backend)
            };
            if count("SELECT COUNT(*) FROM identities WHERE user_id = ?1 AND id = ?2")? == 0 {
                return Ok(UnlinkEnd::NotFound);
            }
            let other_ways = count(
                "SELECT (SELECT COUNT(*) FROM users WHERE id = ?1 AND password_hash <> '')
                      + (SELECT COUNT(*) FROM passkeys WHERE user_id = ?1)
                      + (SELECT COUNT(*) FROM identities WHERE user_id = ?1 AND id <> ?2)",
            )?;
            if other_ways == 0 {
                return Ok(UnlinkEnd::LastWay);
            }
            tx.execute(
                "DELETE FROM identities WHERE user_id = ?1 AND id = ?2",
                params![user_id as i64, id],
            )
            .map_err(backend)?;
            Ok(UnlinkEnd::Removed)
        })
    }

    async fn start_federated_session(&self, session: &Session, first: &RefreshToken) -> StoreResult<bool> {
        self.write(|tx| {
            let enabled = tx
                .query_row(
                    "SELECT 1 FROM users WHERE id = ?1 AND disabled = 0",
                    [session.user_id as i64],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?;
            if enabled.is_none() {
                return Ok(false);
            }
            insert_session(tx, session, first)?;
            Ok(true)
        })
    }
}
