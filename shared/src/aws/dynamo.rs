//! The DynamoDB store: one table (DESIGN §5), every race settled by a conditional write.
//!
//! Items (`pk` / `sk`):
//! - `USER#<id>` / `USER`: the profile, role, `disabled`, `sessions_valid_after_ms`; `gsi1pk`
//!   = `USER` and `gsi1sk` = id put it in the `users-by-id` index that lists users in id order.
//! - `EMAIL#<email>` / `EMAIL`: the credentials login reads in one call (user id, username,
//!   email, password hash, `disabled`, the current reset token's hash).
//! - `USERNAME#<lowercased>` / `USERNAME`: uniqueness sentinel.
//! - `COUNTER#users` / `COUNTER`: the atomic counter integer ids come from.
//! - `SESSION#<sid>` / `SESSION`, `REFRESH#<jti>` / `REFRESH`: session families and one item
//!   per refresh token.
//! - `RESET#<sha256>` / `RESET`, `LOGINFAIL#<email>` / `LOGINFAIL`, `THROTTLE#<key>#<window>`
//!   / `THROTTLE`: reset tokens by hash, failed-login counts, rate-limit windows.
//!
//! Items that expire carry `expires_at` (epoch seconds) for TTL; expiry is always checked in
//! code, since TTL deletion can be days late.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::sdk_error;
use crate::domain::{Email, Role, User, UserId};
use crate::store::*;

pub const USERS_INDEX: &str = "users-by-id";
type Item = HashMap<String, AttributeValue>;

/// How often a transaction that lost a conflict to a concurrent one is tried again.
const CONFLICT_RETRIES: u32 = 6;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

fn malformed(what: &str) -> StoreError {
    StoreError::Backend(format!("malformed item: {what}"))
}
fn get_s(item: &Item, k: &str) -> StoreResult<String> {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| malformed(k))
}
fn opt_s(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}
fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> StoreResult<T> {
    opt_n(item, k).ok_or_else(|| malformed(k))
}
fn opt_n<T: std::str::FromStr>(item: &Item, k: &str) -> Option<T> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
fn get_bool(item: &Item, k: &str) -> bool {
    item.get(k)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn key(pk: impl Into<String>, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}
fn user_key(id: UserId) -> Item {
    key(format!("USER#{id}"), "USER")
}
fn email_key(email: &str) -> Item {
    key(format!("EMAIL#{email}"), "EMAIL")
}
fn session_key(sid: &str) -> Item {
    key(format!("SESSION#{sid}"), "SESSION")
}
fn refresh_key(jti: &str) -> Item {
    key(format!("REFRESH#{jti}"), "REFRESH")
}
fn reset_key(hash: &str) -> Item {
    key(format!("RESET#{hash}"), "RESET")
}
fn loginfail_key(email: &str) -> Item {
    key(format!("LOGINFAIL#{email}"), "LOGINFAIL")
}

fn user_from(item: &Item) -> StoreResult<User> {
    Ok(User {
        id: get_n(item, "id")?,
        username: get_s(item, "username")?,
        email: get_s(item, "email")?,
        role: Role::parse(&get_s(item, "role")?).unwrap_or(Role::User),
        disabled: get_bool(item, "disabled"),
        created_at: get_n(item, "created_at")?,
        sessions_valid_after_ms: opt_n(item, "sessions_valid_after_ms").unwrap_or(0),
    })
}

fn session_from(item: &Item) -> StoreResult<Session> {
    Ok(Session {
        sid: get_s(item, "sid")?,
        user_id: get_n(item, "user_id")?,
        created_ms: get_n(item, "created_ms")?,
        expires_at: get_n(item, "expires_at")?,
        revoked: get_bool(item, "revoked"),
    })
}

fn refresh_from(item: &Item) -> StoreResult<RefreshToken> {
    let successor = match opt_s(item, "successor_jti") {
        Some(jti) => Some(Successor {
            jti,
            issued_at: get_n(item, "successor_issued_at")?,
            expires_at: get_n(item, "successor_expires_at")?,
        }),
        None => None,
    };
    Ok(RefreshToken {
        jti: get_s(item, "jti")?,
        sid: get_s(item, "sid")?,
        user_id: get_n(item, "user_id")?,
        issued_at: get_n(item, "issued_at")?,
        expires_at: get_n(item, "expires_at")?,
        rotated_at_ms: opt_n(item, "rotated_at_ms"),
        successor,
    })
}

fn refresh_item(t: &RefreshToken) -> Item {
    let mut item = refresh_key(&t.jti);
    item.insert("jti".into(), s(&t.jti));
    item.insert("sid".into(), s(&t.sid));
    item.insert("user_id".into(), n(t.user_id));
    item.insert("issued_at".into(), n(t.issued_at));
    item.insert("expires_at".into(), n(t.expires_at));
    item
}

/// The outcome of a transaction: done, or cancelled with one reason code per item.
enum Tx {
    Done,
    Cancelled(Vec<String>),
}

impl Tx {
    fn failed(&self, index: usize) -> bool {
        matches!(self, Tx::Cancelled(codes) if codes.get(index).is_some_and(|c| c == "ConditionalCheckFailed"))
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn put(&self, item: Item, condition: Option<&str>) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .expect("table and item are set");
        TransactWriteItem::builder().put(put).build()
    }

    fn delete(&self, key: Item, condition: Option<&str>, values: Option<Item>) -> TransactWriteItem {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_values(values)
            .build()
            .expect("table and key are set");
        TransactWriteItem::builder().delete(delete).build()
    }

    fn update(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
    ) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    fn check(&self, key: Item, condition: &str, values: Item) -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and condition are set");
        TransactWriteItem::builder().condition_check(check).build()
    }

    /// Runs a transaction; a cancellation caused only by a concurrent transaction is retried.
    async fn transact(&self, operation: &str, items: Vec<TransactWriteItem>) -> StoreResult<Tx> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Tx::Done),
                Err(e) => e,
            };
            let codes: Option<Vec<String>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
                    c.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_string())
                        .collect(),
                ),
                _ => None,
            };
            let conflict = match (&codes, err.as_service_error()) {
                (Some(codes), _) => {
                    !codes.iter().any(|c| c == "ConditionalCheckFailed")
                        && codes.iter().any(|c| c == "TransactionConflict")
                }
                (None, Some(e)) => e.code() == Some("TransactionInProgressException"),
                _ => false,
            };
            if conflict && attempt < CONFLICT_RETRIES {
                attempt += 1;
                let jitter = rand::random::<u64>() % 20;
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
                continue;
            }
            return match codes {
                Some(codes) if !conflict => Ok(Tx::Cancelled(codes)),
                _ => Err(sdk_error(operation, err)),
            };
        }
    }

    async fn get(&self, operation: &str, key: Item) -> StoreResult<Option<Item>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map(|o| o.item)
            .map_err(|e| sdk_error(operation, e))
    }

    /// Strongly consistent reads of several items in one call, by `pk`.
    async fn batch_get(&self, operation: &str, keys: Vec<Item>) -> StoreResult<HashMap<String, Item>> {
        let mut found = HashMap::new();
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        for attempt in 0..5 {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
                .map_err(|e| sdk_error(operation, e))?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                if let Some(pk) = opt_s(&item, "pk") {
                    found.insert(pk, item);
                }
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys.is_empty() => {
                    pending = rest;
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable(format!(
            "{operation}: keys left unprocessed"
        )))
    }

    /// An UpdateItem under a condition: false (and nothing written) if the condition fails.
    async fn update_if(
        &self,
        operation: &str,
        key: Item,
        expression: &str,
        condition: &str,
        values: Item,
        name: Option<(&str, &str)>,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(
                name.map(|(k, v)| HashMap::from([(k.to_string(), v.to_string())])),
            )
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(operation, e)),
        }
    }

    async fn next_user_id(&self) -> StoreResult<UserId> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("COUNTER#users", "COUNTER")))
            .update_expression("ADD #v :one")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("next user id", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| opt_n(a, "value"))
            .ok_or_else(|| malformed("counter value"))
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let id = self.next_user_id().await?;
        let user = User {
            id,
            username: new.username.as_str().to_string(),
            email: new.email.as_str().to_string(),
            role: Role::User,
            disabled: false,
            created_at: new.created_at,
            sessions_valid_after_ms: 0,
        };
        let mut profile = user_key(id);
        profile.extend([
            ("id".into(), n(id)),
            ("username".into(), s(&user.username)),
            ("email".into(), s(&user.email)),
            ("role".into(), s(user.role.as_str())),
            ("disabled".into(), b(false)),
            ("created_at".into(), n(user.created_at)),
            ("sessions_valid_after_ms".into(), n(0)),
            ("gsi1pk".into(), s("USER")),
            ("gsi1sk".into(), n(id)),
        ]);
        let mut credentials = email_key(&user.email);
        credentials.extend([
            ("user_id".into(), n(id)),
            ("username".into(), s(&user.username)),
            ("email".into(), s(&user.email)),
            ("password_hash".into(), s(new.password_hash)),
            ("disabled".into(), b(false)),
        ]);
        let mut sentinel = key(format!("USERNAME#{}", new.username.key()), "USERNAME");
        sentinel.insert("user_id".into(), n(id));
        let fresh = Some("attribute_not_exists(pk)");
        let tx = self
            .transact(
                "create user",
                vec![
                    self.put(profile, fresh),
                    self.put(credentials, fresh),
                    self.put(sentinel, fresh),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(user),
            tx if tx.failed(1) => Err(StoreError::EmailTaken),
            tx if tx.failed(2) => Err(StoreError::UsernameTaken),
            Tx::Cancelled(codes) => Err(StoreError::Backend(format!("create user cancelled: {codes:?}"))),
        }
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.get("get user", user_key(id))
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let Some(credentials) = self.get("get credentials", email_key(email.as_str())).await? else {
            return Ok(None);
        };
        self.user_by_id(get_n(&credentials, "user_id")?).await
    }

    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<UserPage> {
        // One more than asked: whether it comes back says if there is a next page, without
        // trusting LastEvaluatedKey (which can be missing on an exactly full last page).
        let mut users = Vec::new();
        let mut start: Option<Item> = None;
        let after = after.unwrap_or(0);
        while users.len() <= limit as usize {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(USERS_INDEX)
                .key_condition_expression("gsi1pk = :u AND gsi1sk > :after")
                .expression_attribute_values(":u", s("USER"))
                .expression_attribute_values(":after", n(after))
                .limit((limit + 1 - users.len() as u32) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("list users", e))?;
            for item in out.items.unwrap_or_default() {
                users.push(user_from(&item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let next_after = if users.len() > limit as usize {
            users.truncate(limit as usize);
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next_after })
    }

    async fn set_role(&self, id: UserId, role: Role) -> StoreResult<bool> {
        let values = HashMap::from([(":r".to_string(), s(role.as_str()))]);
        let names = Some(("#r", "role"));
        self.update_if(
            "set role",
            user_key(id),
            "SET #r = :r",
            "attribute_exists(pk)",
            values,
            names,
        )
        .await
    }

    async fn set_disabled(&self, id: UserId, disabled: bool, now_ms: i64) -> StoreResult<bool> {
        let Some(user) = self.user_by_id(id).await? else {
            return Ok(false);
        };
        let (expression, mut values) = if disabled {
            (
                "SET disabled = :d, sessions_valid_after_ms = :now",
                HashMap::from([(":now".to_string(), n(now_ms))]),
            )
        } else {
            ("SET disabled = :d", HashMap::new())
        };
        values.insert(":d".into(), b(disabled));
        let tx = self
            .transact(
                "set disabled",
                vec![
                    self.update(user_key(id), expression, Some("attribute_exists(pk)"), values),
                    self.update(
                        email_key(&user.email),
                        "SET disabled = :d",
                        Some("attribute_exists(pk)"),
                        HashMap::from([(":d".to_string(), b(disabled))]),
                    ),
                ],
            )
            .await?;
        Ok(matches!(tx, Tx::Done))
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn login_lookup(&self, email: &Email) -> StoreResult<(Option<Credentials>, LoginFailures)> {
        let items = self
            .batch_get(
                "login lookup",
                vec![email_key(email.as_str()), loginfail_key(email.as_str())],
            )
            .await?;
        let credentials = match items.get(&format!("EMAIL#{email}")) {
            Some(item) => Some(Credentials {
                user_id: get_n(item, "user_id")?,
                username: get_s(item, "username")?,
                email: get_s(item, "email")?,
                password_hash: get_s(item, "password_hash")?,
                disabled: get_bool(item, "disabled"),
            }),
            None => None,
        };
        let failures = match items.get(&format!("LOGINFAIL#{email}")) {
            Some(item) => LoginFailures {
                count: get_n(item, "count")?,
                last_failed_at: get_n(item, "last_failed_at")?,
            },
            None => LoginFailures::default(),
        };
        Ok((credentials, failures))
    }

    async fn record_login_failure(
        &self,
        email: &Email,
        now: i64,
        keep_secs: i64,
    ) -> StoreResult<LoginFailures> {
        // Counting on from a count whose record has expired would punish a user for failures
        // long past, so an expired record starts again at one.
        let values = HashMap::from([
            (":one".to_string(), n(1)),
            (":zero".to_string(), n(0)),
            (":now".to_string(), n(now)),
            (":exp".to_string(), n(now + keep_secs)),
        ]);
        for expired in [false, true] {
            let (expression, condition) = if expired {
                ("SET #c = :one, last_failed_at = :now, expires_at = :exp", None)
            } else {
                (
                    "SET #c = if_not_exists(#c, :zero) + :one, last_failed_at = :now, expires_at = :exp",
                    Some("attribute_not_exists(pk) OR expires_at > :now"),
                )
            };
            let mut vals = values.clone();
            if expired {
                vals.remove(":zero");
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(loginfail_key(email.as_str())))
                .update_expression(expression)
                .set_condition_expression(condition.map(str::to_string))
                .expression_attribute_names("#c", "count")
                .set_expression_attribute_values(Some(vals))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(out) => {
                    let item = out.attributes.unwrap_or_default();
                    return Ok(LoginFailures {
                        count: get_n(&item, "count")?,
                        last_failed_at: get_n(&item, "last_failed_at")?,
                    });
                }
                Err(e)
                    if !expired
                        && e.as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(sdk_error("record login failure", e)),
            }
        }
        Err(StoreError::Backend("record login failure: no outcome".into()))
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
        email: &Email,
        verified_hash: &str,
        session: &Session,
        first: &RefreshToken,
    ) -> StoreResult<bool> {
        let mut session_item = session_key(&session.sid);
        session_item.extend([
            ("sid".into(), s(&session.sid)),
            ("user_id".into(), n(session.user_id)),
            ("created_ms".into(), n(session.created_ms)),
            ("expires_at".into(), n(session.expires_at)),
            ("revoked".into(), b(false)),
        ]);
        let fresh = Some("attribute_not_exists(pk)");
        let tx = self
            .transact(
                "start session",
                vec![
                    self.check(
                        email_key(email.as_str()),
                        "password_hash = :h AND disabled = :f AND user_id = :u",
                        HashMap::from([
                            (":h".to_string(), s(verified_hash)),
                            (":f".to_string(), b(false)),
                            (":u".to_string(), n(session.user_id)),
                        ]),
                    ),
                    self.put(session_item, fresh),
                    self.put(refresh_item(first), fresh),
                    self.delete(loginfail_key(email.as_str()), None, None),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(true),
            tx if tx.failed(0) => Ok(false),
            Tx::Cancelled(codes) => Err(StoreError::Backend(format!("start session cancelled: {codes:?}"))),
        }
    }

    async fn session_with_user(
        &self,
        user_id: UserId,
        sid: &str,
    ) -> StoreResult<(Option<User>, Option<Session>)> {
        let items = self
            .batch_get("session lookup", vec![user_key(user_id), session_key(sid)])
            .await?;
        let user = items.get(&format!("USER#{user_id}")).map(user_from).transpose()?;
        let session = items
            .get(&format!("SESSION#{sid}"))
            .map(session_from)
            .transpose()?;
        Ok((user, session))
    }

    async fn refresh_state(&self, jti: &str, sid: &str, user_id: UserId) -> StoreResult<RefreshState> {
        let items = self
            .batch_get(
                "refresh lookup",
                vec![refresh_key(jti), session_key(sid), user_key(user_id)],
            )
            .await?;
        Ok(RefreshState {
            token: items
                .get(&format!("REFRESH#{jti}"))
                .map(refresh_from)
                .transpose()?,
            session: items
                .get(&format!("SESSION#{sid}"))
                .map(session_from)
                .transpose()?,
            user: items.get(&format!("USER#{user_id}")).map(user_from).transpose()?,
        })
    }

    async fn rotate_refresh(
        &self,
        old: &RefreshToken,
        successor: &RefreshToken,
        now_ms: i64,
    ) -> StoreResult<Rotation> {
        let tx = self
            .transact(
                "rotate refresh token",
                vec![
                    self.update(
                        refresh_key(&old.jti),
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
                    self.check(
                        session_key(&old.sid),
                        "revoked = :f",
                        HashMap::from([(":f".to_string(), b(false))]),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(Rotation::Rotated),
            tx if tx.failed(2) => Ok(Rotation::Refused),
            tx if tx.failed(0) => match self.get("read rotated token", refresh_key(&old.jti)).await? {
                Some(item) => Ok(Rotation::AlreadyRotated(refresh_from(&item)?)),
                None => Ok(Rotation::Refused),
            },
            Tx::Cancelled(codes) => Err(StoreError::Backend(format!("rotation cancelled: {codes:?}"))),
        }
    }

    async fn revoke_session(&self, sid: &str) -> StoreResult<()> {
        let values = HashMap::from([(":t".to_string(), b(true))]);
        let cond = "attribute_exists(pk)";
        self.update_if(
            "revoke session",
            session_key(sid),
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
}

#[async_trait]
impl ResetStore for DynamoStore {
    async fn put_reset_token(&self, token: &ResetToken) -> StoreResult<()> {
        let mut item = reset_key(&token.hash);
        item.extend([
            ("user_id".into(), n(token.user_id)),
            ("email".into(), s(&token.email)),
            ("expires_at".into(), n(token.expires_at)),
        ]);
        // Pointing the credentials at the newest hash supersedes every older token at once;
        // the older items are left for TTL, unusable.
        let tx = self
            .transact(
                "put reset token",
                vec![
                    self.put(item, Some("attribute_not_exists(pk)")),
                    self.update(
                        email_key(&token.email),
                        "SET reset_hash = :h",
                        Some("attribute_exists(pk) AND user_id = :u"),
                        HashMap::from([
                            (":h".to_string(), s(&token.hash)),
                            (":u".to_string(), n(token.user_id)),
                        ]),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(()),
            Tx::Cancelled(codes) => Err(StoreError::Backend(format!(
                "put reset token cancelled: {codes:?}"
            ))),
        }
    }

    async fn reset_token_user(&self, hash: &str, now: i64) -> StoreResult<Option<User>> {
        let Some(reset) = self.get("get reset token", reset_key(hash)).await? else {
            return Ok(None);
        };
        if get_n::<i64>(&reset, "expires_at")? <= now {
            return Ok(None);
        }
        let user_id: UserId = get_n(&reset, "user_id")?;
        let email = get_s(&reset, "email")?;
        let items = self
            .batch_get("reset lookup", vec![email_key(&email), user_key(user_id)])
            .await?;
        let current = items
            .get(&format!("EMAIL#{email}"))
            .and_then(|c| opt_s(c, "reset_hash"))
            .is_some_and(|h| h == hash);
        if !current {
            return Ok(None);
        }
        items.get(&format!("USER#{user_id}")).map(user_from).transpose()
    }

    async fn consume_reset_token(
        &self,
        hash: &str,
        new_password_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<UserId>> {
        let Some(reset) = self.get("get reset token", reset_key(hash)).await? else {
            return Ok(None);
        };
        let user_id: UserId = get_n(&reset, "user_id")?;
        let email = get_s(&reset, "email")?;
        let now = now_ms.div_euclid(1000);
        // All or nothing: the token is spent only if the password changes and every session
        // of the user ends with it.
        let tx = self
            .transact(
                "consume reset token",
                vec![
                    self.delete(
                        reset_key(hash),
                        Some("attribute_exists(pk) AND expires_at > :now"),
                        Some(HashMap::from([(":now".to_string(), n(now))])),
                    ),
                    self.update(
                        email_key(&email),
                        "SET password_hash = :p REMOVE reset_hash",
                        Some("reset_hash = :h AND user_id = :u"),
                        HashMap::from([
                            (":p".to_string(), s(new_password_hash)),
                            (":h".to_string(), s(hash)),
                            (":u".to_string(), n(user_id)),
                        ]),
                    ),
                    self.update(
                        user_key(user_id),
                        "SET sessions_valid_after_ms = :now",
                        Some("attribute_exists(pk)"),
                        HashMap::from([(":now".to_string(), n(now_ms))]),
                    ),
                    self.delete(loginfail_key(&email), None, None),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(Some(user_id)),
            Tx::Cancelled(_) => Ok(None),
        }
    }
}

#[async_trait]
impl ThrottleStore for DynamoStore {
    async fn hit(&self, key_name: &str, window_secs: u64, now: i64) -> StoreResult<u32> {
        let window = window_secs as i64;
        let bucket = now.div_euclid(window);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("THROTTLE#{key_name}#{bucket}"), "THROTTLE")))
            .update_expression("ADD #c :one SET expires_at = :exp")
            .expression_attribute_names("#c", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n((bucket + 1) * window))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("rate limit", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| opt_n(a, "count"))
            .ok_or_else(|| malformed("throttle count"))
    }
}
