//! Login, sessions and refresh tokens on DynamoDB.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::*;
use super::login::{Reservation, Reserve, Slot, DEVICE_FAILS};
use super::tx::{cancelled, Tx};
use super::DynamoStore;
use crate::domain::*;
use crate::store::*;

/// How often a login reservation that lost to a concurrent one reads the counters and tries
/// again (each loss means another attempt was counted, so a lock is soon reached).
const RESERVE_ROUNDS: u64 = 10;

/// A reservation lost to a concurrent one: wait a little (longer each round) before reading
/// again.
async fn after_race(round: u64) {
    let jitter = rand::random::<u64>() % 10;
    tokio::time::sleep(Duration::from_millis(5 * round + jitter)).await;
}

impl DynamoStore {
    /// The writes of a new session and its first refresh token, as transaction items: one item
    /// when the token is the session's first (see [`RefreshToken::is_first_of_session`]),
    /// else the two.
    pub(super) fn session_puts(
        &self,
        session: &Session,
        first: &RefreshToken,
    ) -> Vec<StoreResult<TransactWriteItem>> {
        let fresh = Some("attribute_not_exists(pk)");
        if first.is_first_of_session() && first.sid == session.sid {
            vec![self.put(session_with_first(session, first), fresh)]
        } else {
            vec![
                self.put(session_item(session), fresh),
                self.put(refresh_item(first), fresh),
            ]
        }
    }

    /// [`SessionStore::rotate_refresh`] of a session's first token, kept in the session's item:
    /// its rotation and the session's last use are one UpdateItem (written only while the
    /// session is not revoked and the token not yet rotated), with the successor's Put.
    async fn rotate_first(
        &self,
        old: &RefreshToken,
        successor: &RefreshToken,
        now_ms: i64,
        seen: &SeenFrom,
    ) -> StoreResult<Rotation> {
        let key = session_key(old.user_id, &old.sid);
        let tx = self
            .transact(
                "rotate first refresh token",
                vec![
                    self.update(
                        key.clone(),
                        "SET first_rotated_at_ms = :now, first_successor_jti = :sj, \
                         first_successor_issued_at = :si, first_successor_expires_at = :se, \
                         last_used_ms = :now, ip = :ip, user_agent = :ua",
                        Some("revoked = :f AND attribute_exists(first_issued_at) AND attribute_not_exists(first_rotated_at_ms)"),
                        HashMap::from([
                            (":f".to_string(), b(false)),
                            (":now".to_string(), n(now_ms)),
                            (":sj".to_string(), s(&successor.jti)),
                            (":si".to_string(), n(successor.issued_at)),
                            (":se".to_string(), n(successor.expires_at)),
                            (":ip".to_string(), s(&seen.ip)),
                            (":ua".to_string(), s(&seen.user_agent)),
                        ]),
                    ),
                    self.put(refresh_item(successor), Some("attribute_not_exists(pk)")),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(Rotation::Rotated),
            // A revoked or ended session refuses; a token already rotated answers as it was.
            tx if tx.failed(0) => match self.get("read rotated token", key).await? {
                Some(item) if !get_bool(&item, "revoked") => match first_token_from(&item)? {
                    Some(token) if token.rotated_at_ms.is_some() => Ok(Rotation::AlreadyRotated(token)),
                    _ => Ok(Rotation::Refused),
                },
                _ => Ok(Rotation::Refused),
            },
            Tx::Cancelled(codes) => Err(cancelled("rotation", codes)),
        }
    }

    /// Moves the trust of the device `device` of `email` from the password `old_hash` to
    /// `new_hash`, if it was trusted with the old one (a device token presented with a password
    /// change or reset made from that device). Best effort after the change itself: should it
    /// fail, the device is simply no longer trusted, as every other one.
    pub(super) async fn keep_device_trusted(
        &self,
        email: &str,
        device: &str,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) {
        let kept = self
            .update_if(
                "keep device trusted",
                device_key(email, device),
                "SET credential = :new",
                "email = :e AND credential = :old AND expires_at > :now",
                HashMap::from([
                    (":new".to_string(), s(device_credential(new_hash))),
                    (":old".to_string(), s(device_credential(old_hash))),
                    (":e".to_string(), s(email)),
                    (":now".to_string(), n(now)),
                ]),
                None,
            )
            .await;
        if let Err(e) = kept {
            tracing::warn!(error = %e, "the device that changed the password is no longer trusted");
        }
    }
}

/// The credentials login reads, from an address's item.
fn credentials_from(item: &Item) -> StoreResult<Credentials> {
    Ok(Credentials {
        user_id: get_n(item, "user_id")?,
        username: get_s(item, "username")?,
        email: get_s(item, "email")?,
        password_hash: get_s(item, "password_hash")?,
        disabled: get_bool(item, "disabled"),
    })
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn begin_login(&self, attempt: &LoginAttempt<'_>, rules: &LoginRules) -> StoreResult<LoginStart> {
        let email = attempt.email.as_str();
        let address = loginfail_key(email);
        let trust = attempt.device.map(|hash| device_key(email, hash));
        for round in 0..RESERVE_ROUNDS {
            let mut keys = vec![email_key(email), address.clone()];
            keys.extend(trust.clone());
            let items = self.batch_get("login lookup", keys).await?;
            let credentials = items
                .get(&item_id(&email_key(email)))
                .map(credentials_from)
                .transpose()?;
            // A device is trusted only with the password it logged in with: a reset (or any
            // change of the password) ends the trust of every device at once.
            let credential = credentials
                .as_ref()
                .map(|c: &Credentials| device_credential(&c.password_hash));
            let trusted = trust
                .as_ref()
                .and_then(|k| items.get(&item_id(k)))
                .filter(|item| {
                    opt_s(item, "email").as_deref() == Some(email)
                        && opt_n::<i64>(item, "expires_at").is_some_and(|e| e > attempt.now)
                        && opt_s(item, "credential") == credential
                });
            let reservation = match (trusted, &trust) {
                // A trusted device counts on its own counter, in its trust item, as long as
                // that trust stands as read.
                (Some(device), Some(key)) => Reserve {
                    key: key.clone(),
                    item: Some(device),
                    counters: vec![(Slot::Packed(DEVICE_FAILS.into()), rules.network)],
                    guard: Some((
                        "email = :e AND expires_at = :te AND credential = :cr",
                        HashMap::from([
                            (":e".to_string(), s(email)),
                            (
                                ":te".to_string(),
                                device.get("expires_at").cloned().unwrap_or(n(0)),
                            ),
                            (
                                ":cr".to_string(),
                                device.get("credential").cloned().unwrap_or(s("")),
                            ),
                        ]),
                    )),
                    now: attempt.now,
                    keep_secs: rules.keep_secs,
                },
                _ => Reserve {
                    key: address.clone(),
                    item: items.get(&item_id(&address)),
                    counters: vec![
                        (Slot::Item, rules.account),
                        (Slot::Network(attempt.network.to_string()), rules.network),
                    ],
                    guard: None,
                    now: attempt.now,
                    keep_secs: rules.keep_secs,
                },
            };
            match self.reserve_attempt(reservation).await? {
                Reservation::Counted => {
                    return Ok(LoginStart::Reserved {
                        credentials,
                        trusted_device: trusted.is_some(),
                    })
                }
                Reservation::Locked(retry_after) => return Ok(LoginStart::Locked { retry_after }),
                Reservation::Raced => after_race(round).await,
            }
        }
        // So many attempts at this counter at once that this one never got its turn.
        Ok(LoginStart::Locked { retry_after: 1 })
    }

    async fn upgrade_password_hash(&self, email: &Email, old: &str, new: &str) -> StoreResult<bool> {
        let values = HashMap::from([(":new".to_string(), s(new)), (":old".to_string(), s(old))]);
        let key = email_key(email.as_str());
        let expression = "SET password_hash = :new";
        self.update_if(
            "upgrade password hash",
            key,
            expression,
            "password_hash = :old",
            values,
            None,
        )
        .await
    }

    async fn start_session(
        &self,
        login: &VerifiedLogin<'_>,
        session: &Session,
        first: &RefreshToken,
    ) -> StoreResult<bool> {
        self.trust_new_device(login).await?;
        let mut writes = vec![self.password_check(login, session.user_id)];
        writes.extend(self.session_puts(session, first));
        match self.transact("start session", writes).await? {
            Tx::Done => {
                self.settle_password_step(login, true).await;
                Ok(true)
            }
            tx if tx.failed(0) => Ok(false),
            Tx::Cancelled(codes) => Err(cancelled("start session", codes)),
        }
    }

    async fn begin_reauthentication(
        &self,
        attempt: &Reauthentication<'_>,
        rules: &LoginRules,
    ) -> StoreResult<LoginStart> {
        let email = attempt.email.as_str();
        let counter = loginfail_session_key(email, attempt.sid);
        for round in 0..RESERVE_ROUNDS {
            let items = self
                .batch_get("reauthentication lookup", vec![email_key(email), counter.clone()])
                .await?;
            let credentials = items
                .get(&item_id(&email_key(email)))
                .map(credentials_from)
                .transpose()?;
            let reservation = Reserve {
                key: counter.clone(),
                item: items.get(&item_id(&counter)),
                counters: vec![(Slot::Item, rules.network)],
                guard: None,
                now: attempt.now,
                keep_secs: rules.keep_secs,
            };
            match self.reserve_attempt(reservation).await? {
                Reservation::Counted => {
                    return Ok(LoginStart::Reserved {
                        credentials,
                        trusted_device: false,
                    })
                }
                Reservation::Locked(retry_after) => return Ok(LoginStart::Locked { retry_after }),
                Reservation::Raced => after_race(round).await,
            }
        }
        Ok(LoginStart::Locked { retry_after: 1 })
    }

    async fn settle_reauthentication(&self, attempt: &Reauthentication<'_>) -> StoreResult<()> {
        let counter = loginfail_session_key(attempt.email.as_str(), attempt.sid);
        self.delete_if("settle reauthentication", counter, "attribute_exists(pk)")
            .await
            .map(|_| ())
    }

    async fn session_with_user(
        &self,
        user_id: UserId,
        sid: &str,
    ) -> StoreResult<(Option<User>, Option<Session>)> {
        let items = self
            .batch_get(
                "session lookup",
                vec![user_key(user_id), session_key(user_id, sid)],
            )
            .await?;
        let user = items
            .get(&item_id(&user_key(user_id)))
            .map(user_from)
            .transpose()?;
        let session = items
            .get(&item_id(&session_key(user_id, sid)))
            .map(session_from)
            .transpose()?;
        Ok((user, session))
    }

    async fn refresh_state(&self, jti: &str, sid: &str, user_id: UserId) -> StoreResult<RefreshState> {
        // A session's first token is kept in the session's item.
        let first = jti == sid;
        let mut keys = vec![session_key(user_id, sid), user_key(user_id)];
        if !first {
            keys.push(refresh_key(user_id, jti));
        }
        let items = self.batch_get("refresh lookup", keys).await?;
        let found = |key: Item| items.get(&item_id(&key));
        let session_item = found(session_key(user_id, sid));
        let token = if first {
            session_item.map(first_token_from).transpose()?.flatten()
        } else {
            found(refresh_key(user_id, jti)).map(refresh_from).transpose()?
        };
        Ok(RefreshState {
            token,
            session: session_item.map(session_from).transpose()?,
            user: found(user_key(user_id)).map(user_from).transpose()?,
        })
    }

    async fn rotate_refresh(
        &self,
        old: &RefreshToken,
        successor: &RefreshToken,
        now_ms: i64,
        seen: &SeenFrom,
    ) -> StoreResult<Rotation> {
        if old.is_first_of_session() {
            return self.rotate_first(old, successor, now_ms, seen).await;
        }
        let tx = self
            .transact(
                "rotate refresh token",
                vec![
                    self.update(
                        refresh_key(old.user_id, &old.jti),
                        "SET rotated_at_ms = :now, successor_jti = :sj, successor_issued_at = :si, \
                         successor_expires_at = :se",
                        Some("attribute_exists(pk) AND attribute_not_exists(rotated_at_ms)"),
                        HashMap::from([
                            (":now".to_string(), n(now_ms)),
                            (":sj".to_string(), s(&successor.jti)),
                            (":si".to_string(), n(successor.issued_at)),
                            (":se".to_string(), n(successor.expires_at)),
                        ]),
                    ),
                    self.put(refresh_item(successor), Some("attribute_not_exists(pk)")),
                    // Where the session was last used from, written only while it is not revoked.
                    self.update(
                        session_key(old.user_id, &old.sid),
                        "SET last_used_ms = :now, ip = :ip, user_agent = :ua",
                        Some("revoked = :f"),
                        HashMap::from([
                            (":f".to_string(), b(false)),
                            (":now".to_string(), n(now_ms)),
                            (":ip".to_string(), s(&seen.ip)),
                            (":ua".to_string(), s(&seen.user_agent)),
                        ]),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(Rotation::Rotated),
            tx if tx.failed(2) => Ok(Rotation::Refused),
            tx if tx.failed(0) => match self
                .get("read rotated token", refresh_key(old.user_id, &old.jti))
                .await?
            {
                Some(item) => Ok(Rotation::AlreadyRotated(refresh_from(&item)?)),
                None => Ok(Rotation::Refused),
            },
            Tx::Cancelled(codes) => Err(cancelled("rotation", codes)),
        }
    }

    async fn revoke_session(&self, user_id: UserId, sid: &str) -> StoreResult<()> {
        let values = HashMap::from([(":t".to_string(), b(true))]);
        let cond = "attribute_exists(pk)";
        self.update_if(
            "revoke session",
            session_key(user_id, sid),
            "SET revoked = :t",
            cond,
            values,
            None,
        )
        .await
        .map(drop)
    }

    async fn revoke_all_sessions(&self, user_id: UserId, now_ms: i64) -> StoreResult<()> {
        let values = HashMap::from([(":now".to_string(), n(now_ms))]);
        let cond = "attribute_exists(pk) AND sessions_valid_after_ms < :now";
        let expression = "SET sessions_valid_after_ms = :now";
        self.update_if(
            "revoke all sessions",
            user_key(user_id),
            expression,
            cond,
            values,
            None,
        )
        .await
        .map(drop)
    }

    async fn list_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>> {
        let items = self
            .query_partition("list sessions", &sessions_partition(user_id), Some("SESSION#"))
            .await?;
        let mut sessions = items.iter().map(session_from).collect::<StoreResult<Vec<_>>>()?;
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
        Ok(sessions)
    }

    async fn end_session(&self, user_id: UserId, sid: &str) -> StoreResult<bool> {
        // Its refresh tokens stay until their TTL, refused: their session is gone.
        self.delete_if("end session", session_key(user_id, sid), "attribute_exists(pk)")
            .await
    }
}
