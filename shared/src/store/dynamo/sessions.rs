//! Login, sessions and refresh tokens on DynamoDB.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::*;
use super::tx::{cancelled, Tx};
use super::DynamoStore;
use crate::config::Backoff;
use crate::domain::*;
use crate::store::*;

/// How often a login reservation that lost to a concurrent one reads the counters and tries
/// again (each loss means another attempt was counted, so a lock is soon reached).
const RESERVE_ROUNDS: u64 = 10;

/// The lifetime given to an email's counter that a success finds gone (so it still expires).
const LOGINFAIL_KEEP_FALLBACK: i64 = 3600;

impl DynamoStore {
    /// The reservation of one counter: `new` written only if the counter still is `old` (as
    /// read) and is not locked at `now`.
    fn reserve_update(
        &self,
        key: Item,
        old: Option<(LoginFailures, i64)>,
        new: LoginFailures,
        now: i64,
    ) -> StoreResult<TransactWriteItem> {
        let mut values = HashMap::from([
            (":c".to_string(), n(new.count)),
            (":lu".to_string(), n(new.locked_until)),
            (":exp".to_string(), n(new.expires_at)),
        ]);
        // Only the values the condition uses: DynamoDB refuses a request with an unused one.
        let condition = match old {
            None => "attribute_not_exists(pk)",
            Some((old, stored_count)) => {
                values.insert(":now".into(), n(now));
                values.insert(":oc".into(), n(stored_count));
                values.insert(":oe".into(), n(old.expires_at));
                "#c = :oc AND expires_at = :oe AND (attribute_not_exists(locked_until) OR locked_until <= :now)"
            }
        };
        self.counter_update(
            key,
            "SET #c = :c, locked_until = :lu, expires_at = :exp",
            Some(condition),
            values,
        )
    }

    /// A success taken back off the email's counter (which keeps everyone else's failures).
    fn success_off_account_counter(&self, attempt: &LoginAttempt<'_>) -> StoreResult<TransactWriteItem> {
        self.counter_update(
            loginfail_key(attempt.email.as_str()),
            "SET #c = if_not_exists(#c, :one) - :one, expires_at = if_not_exists(expires_at, :exp)",
            None,
            HashMap::from([
                (":one".to_string(), n(1)),
                (":exp".to_string(), n(attempt.now + LOGINFAIL_KEEP_FALLBACK)),
            ]),
        )
    }

    /// Reserves one attempt on each of `counters` at once (as read in `items`), unless one is
    /// locked: `Some(retry_after)` then, and nothing counted. Of racing reservations each is
    /// counted once and none passes a lock.
    async fn reserve(
        &self,
        counters: Vec<(Item, Backoff)>,
        mut items: HashMap<String, Item>,
        now: i64,
        keep_secs: i64,
    ) -> StoreResult<Option<u64>> {
        let pk = item_id;
        for round in 0..RESERVE_ROUNDS {
            let seen = counters
                .iter()
                .map(|(k, _)| items.get(&pk(k)).map(failures_from).transpose())
                .collect::<StoreResult<Vec<_>>>()?;
            let wait = seen
                .iter()
                .map(|f| f.map(|(f, _)| f).unwrap_or_default().wait(now))
                .max()
                .unwrap_or(0);
            if wait > 0 {
                return Ok(Some(wait as u64));
            }
            let writes = counters
                .iter()
                .zip(&seen)
                .map(|((k, backoff), old)| {
                    let new = old
                        .map(|(f, _)| f)
                        .unwrap_or_default()
                        .reserve(now, *backoff, keep_secs);
                    self.reserve_update(k.clone(), *old, new, now)
                })
                .collect();
            match self.transact("reserve login attempt", writes).await? {
                Tx::Done => return Ok(None),
                tx if (0..counters.len()).any(|i| tx.failed(i)) => {
                    // Another attempt counted first: read the counters again and decide anew.
                    let jitter = rand::random::<u64>() % 10;
                    tokio::time::sleep(Duration::from_millis(5 * round + jitter)).await;
                    let keys = counters.iter().map(|(k, _)| k.clone()).collect();
                    items = self.batch_get("login counters", keys).await?;
                }
                Tx::Cancelled(codes) => return Err(cancelled("login reservation", codes)),
            }
        }
        // So many attempts at this counter at once that this one never got its turn.
        Ok(Some(1))
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

    /// Login's password step, succeeded, as transaction items: first (index 0) the check that
    /// account `user_id` still has the verified password and is enabled; then this network's
    /// failures forgotten, and the trusted device's counter cleared or this success taken back
    /// off the email's counter (which keeps everyone else's failures).
    pub(super) fn password_step_writes(
        &self,
        login: &VerifiedLogin<'_>,
        user_id: UserId,
    ) -> Vec<StoreResult<TransactWriteItem>> {
        let (attempt, email) = (login.attempt, login.attempt.email.as_str());
        let counter = if login.trusted_device {
            self.delete(loginfail_device_key(email, login.device), None, None)
        } else {
            self.success_off_account_counter(attempt)
        };
        vec![
            self.check(
                email_key(email),
                "password_hash = :h AND disabled = :f AND user_id = :u",
                HashMap::from([
                    (":h".to_string(), s(login.verified_hash)),
                    (":f".to_string(), b(false)),
                    (":u".to_string(), n(user_id)),
                ]),
            ),
            self.delete(loginfail_network_key(email, attempt.network), None, None),
            counter,
        ]
    }

    /// An update of a failure counter in a transaction (`#c` names its `count`).
    fn counter_update(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
    ) -> StoreResult<TransactWriteItem> {
        self.update_named(key, expression, condition, values, Some(("#c", "count")))
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

/// A failure counter as read: its value (a count below zero, which only a success taken back
/// off a counter that had meanwhile gone could leave, counts as zero) and the stored count.
fn failures_from(item: &Item) -> StoreResult<(LoginFailures, i64)> {
    let stored: i64 = get_n(item, "count")?;
    let failures = LoginFailures {
        count: stored.clamp(0, u32::MAX.into()) as u32,
        locked_until: opt_n(item, "locked_until").unwrap_or(0),
        expires_at: get_n(item, "expires_at")?,
    };
    Ok((failures, stored))
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn begin_login(&self, attempt: &LoginAttempt<'_>, rules: &LoginRules) -> StoreResult<LoginStart> {
        let email = attempt.email.as_str();
        let untrusted = [
            (loginfail_network_key(email, attempt.network), rules.network),
            (loginfail_key(email), rules.account),
        ];
        let device = attempt
            .device
            .map(|hash| (device_key(email, hash), loginfail_device_key(email, hash)));
        let pk = item_id;
        let mut keys = vec![email_key(email)];
        keys.extend(untrusted.iter().map(|(k, _)| k.clone()));
        if let Some((device, counter)) = &device {
            keys.extend([device.clone(), counter.clone()]);
        }
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
        let trusted = device.filter(|(device, _)| {
            items.get(&pk(device)).is_some_and(|item| {
                opt_s(item, "email").as_deref() == Some(email)
                    && opt_n::<i64>(item, "expires_at").is_some_and(|e| e > attempt.now)
                    && opt_s(item, "credential") == credential
            })
        });
        let trusted_device = trusted.is_some();
        let counters = match trusted {
            Some((_, counter)) => vec![(counter, rules.network)],
            None => untrusted.to_vec(),
        };
        Ok(
            match self
                .reserve(counters, items, attempt.now, rules.keep_secs)
                .await?
            {
                Some(retry_after) => LoginStart::Locked { retry_after },
                None => LoginStart::Reserved {
                    credentials,
                    trusted_device,
                },
            },
        )
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
        let fresh = Some("attribute_not_exists(pk)");
        let mut writes = self.password_step_writes(login, session.user_id);
        writes.extend([
            self.put(session_item(session), fresh),
            self.put(refresh_item(first), fresh),
            self.put(
                device_item(
                    login.attempt.email.as_str(),
                    login.device,
                    login.verified_hash,
                    login.device_expires_at,
                ),
                None,
            ),
        ]);
        match self.transact("start session", writes).await? {
            Tx::Done => Ok(true),
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
        let items = self
            .batch_get("reauthentication lookup", vec![email_key(email), counter.clone()])
            .await?;
        let credentials = items
            .get(&item_id(&email_key(email)))
            .map(credentials_from)
            .transpose()?;
        Ok(
            match self
                .reserve(
                    vec![(counter, rules.network)],
                    items,
                    attempt.now,
                    rules.keep_secs,
                )
                .await?
            {
                Some(retry_after) => LoginStart::Locked { retry_after },
                None => LoginStart::Reserved {
                    credentials,
                    trusted_device: false,
                },
            },
        )
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
        let items = self
            .batch_get(
                "refresh lookup",
                vec![
                    refresh_key(user_id, jti),
                    session_key(user_id, sid),
                    user_key(user_id),
                ],
            )
            .await?;
        let found = |key: Item| items.get(&item_id(&key));
        Ok(RefreshState {
            token: found(refresh_key(user_id, jti)).map(refresh_from).transpose()?,
            session: found(session_key(user_id, sid)).map(session_from).transpose()?,
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
