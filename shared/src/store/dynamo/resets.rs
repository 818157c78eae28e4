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
        let email = get_s(&reset, "email")?;
        let items = self
            .batch_get("reset lookup", vec![email_key(&email), user_key(user_id)])
            .await?;
        let current = items
            .get(&item_id(&email_key(&email)))
            .and_then(|c| opt_s(c, "reset_hash"))
            .is_some_and(|h| h == hash);
        if !current {
            return Ok(None);
        }
        items.get(&item_id(&user_key(user_id))).map(user_from).transpose()
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
                    // A link mailed to the address proves it, as a verification link would.
                    self.update(
                        user_key(user_id),
                        // ...and a pending email change dies with the old password.
                        "SET sessions_valid_after_ms = :now, email_verified = :t REMOVE change_hash",
                        Some("attribute_exists(pk)"),
                        HashMap::from([(":now".to_string(), n(now_ms)), (":t".to_string(), b(true))]),
                    ),
                    self.delete(loginfail_key(&email), None, None),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(Some(user_id)),
            // The token was spent, superseded or expired.
            tx if tx.refused() => Ok(None),
            // Throttled or failed for another reason: nothing changed, worth a retry (503).
            Tx::Cancelled(codes) => Err(cancelled("consume reset token", codes)),
        }
    }
}
