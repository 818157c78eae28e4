//! Password reset tokens on DynamoDB.

use std::collections::HashMap;

use async_trait::async_trait;

use super::item::*;
use super::tx::{cancelled, Tx};
use super::DynamoStore;
use crate::domain::*;
use crate::store::*;

#[async_trait]
impl ResetStore for DynamoStore {
    async fn put_reset_token(&self, token: &ResetToken) -> StoreResult<()> {
        // The credentials to point at the new token are found by the account's address, read
        // from the profile: the token item names the account only.
        let Some(profile) = self.get("get user", user_key(token.user_id)).await? else {
            return Err(StoreError::Backend("reset token for no user".into()));
        };
        let email = get_s(&profile, "email")?;
        let mut item = reset_key(&token.hash);
        item.extend([
            ("user_id".into(), n(token.user_id)),
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
                        email_key(&email),
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
            Tx::Cancelled(codes) => Err(cancelled("put reset token", codes)),
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
        let Some(profile) = self.get("get user", user_key(user_id)).await? else {
            return Ok(None);
        };
        let user = user_from(&profile)?;
        let current = self
            .get("get credentials", email_key(&user.email))
            .await?
            .and_then(|c| opt_s(&c, "reset_hash"))
            .is_some_and(|h| h == hash);
        Ok(current.then_some(user))
    }

    async fn consume_reset_token(
        &self,
        hash: &str,
        new_password_hash: &str,
        keep_device: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<UserId>> {
        let Some(reset) = self.get("get reset token", reset_key(hash)).await? else {
            return Ok(None);
        };
        let user_id: UserId = get_n(&reset, "user_id")?;
        let Some(profile) = self.get("get user", user_key(user_id)).await? else {
            return Ok(None);
        };
        let email = get_s(&profile, "email")?;
        let Some(credentials) = self.get("get credentials", email_key(&email)).await? else {
            return Ok(None);
        };
        let old_hash = get_s(&credentials, "password_hash")?;
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
                        Some("reset_hash = :h AND user_id = :u AND password_hash = :old"),
                        HashMap::from([
                            (":p".to_string(), s(new_password_hash)),
                            (":h".to_string(), s(hash)),
                            (":u".to_string(), n(user_id)),
                            (":old".to_string(), s(&old_hash)),
                        ]),
                    ),
                    // A link mailed to the address proves it, as a verification link would.
                    self.update(
                        user_key(user_id),
                        // ...and a pending email change dies with the old password.
                        "SET sessions_valid_after_ms = :now, email_verified = :t \
                         REMOVE change_hash, change_request, change_email",
                        Some("email = :e"),
                        HashMap::from([
                            (":now".to_string(), n(now_ms)),
                            (":t".to_string(), b(true)),
                            (":e".to_string(), s(&email)),
                        ]),
                    ),
                    self.delete(loginfail_key(&email), None, None),
                    // A reset lets the code step be tried again (it never removes a factor).
                    self.delete(code_counter_key(user_id), None, None),
                ],
            )
            .await?;
        match tx {
            Tx::Done => {
                if let Some(device) = keep_device {
                    self.keep_device_trusted(&email, device, &old_hash, new_password_hash, now)
                        .await;
                }
                Ok(Some(user_id))
            }
            // The token was spent, superseded or expired.
            tx if tx.refused() => Ok(None),
            // Throttled or failed for another reason: nothing changed, worth a retry (503).
            Tx::Cancelled(codes) => Err(cancelled("consume reset token", codes)),
        }
    }
}
