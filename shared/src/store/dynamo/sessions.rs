//! Login, sessions and refresh tokens on DynamoDB.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::item::*;
use super::sdk_error;
use super::tx::Tx;
use super::DynamoStore;
use crate::domain::*;
use crate::store::*;

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
