//! Email verification tokens on DynamoDB.

use std::collections::HashMap;

use async_trait::async_trait;

use super::item::*;
use super::tx::Tx;
use super::DynamoStore;
use crate::domain::*;
use crate::store::*;

#[async_trait]
impl VerifyStore for DynamoStore {
    async fn put_verify_token(&self, token: &VerifyToken) -> StoreResult<()> {
        let mut item = verify_key(&token.hash);
        item.extend([
            ("user_id".into(), n(token.user_id)),
            ("email".into(), s(&token.email)),
            ("expires_at".into(), n(token.expires_at)),
        ]);
        // Pointing the user at the newest hash supersedes every older token at once; the
        // older items are left for TTL, unusable.
        let tx = self
            .transact(
                "put verification token",
                vec![
                    self.put(item, Some("attribute_not_exists(pk)")),
                    self.update(
                        user_key(token.user_id),
                        "SET verify_hash = :h",
                        Some("attribute_exists(pk)"),
                        HashMap::from([(":h".to_string(), s(&token.hash))]),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(()),
            Tx::Cancelled(codes) => Err(StoreError::Backend(format!(
                "put verification token cancelled: {codes:?}"
            ))),
        }
    }

    async fn consume_verify_token(&self, hash: &str, now: i64) -> StoreResult<Option<UserId>> {
        let Some(token) = self.get("get verification token", verify_key(hash)).await? else {
            return Ok(None);
        };
        let user_id: UserId = get_n(&token, "user_id")?;
        let email = get_s(&token, "email")?;
        // The token is spent only together with the mark, and only while it is the user's
        // newest and the account still has the address it was mailed to.
        let tx = self
            .transact(
                "consume verification token",
                vec![
                    self.delete(
                        verify_key(hash),
                        Some("attribute_exists(pk) AND expires_at > :now"),
                        Some(HashMap::from([(":now".to_string(), n(now))])),
                    ),
                    self.update(
                        user_key(user_id),
                        "SET email_verified = :t REMOVE verify_hash",
                        Some("verify_hash = :h AND email = :e"),
                        HashMap::from([
                            (":t".to_string(), b(true)),
                            (":h".to_string(), s(hash)),
                            (":e".to_string(), s(&email)),
                        ]),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(Some(user_id)),
            // The token was spent, superseded or expired, or the address changed.
            tx if tx.refused() => Ok(None),
            // Throttled or failed for another reason: nothing changed, worth a retry (503).
            Tx::Cancelled(codes) => Err(StoreError::Unavailable(format!(
                "consume verification token cancelled: {codes:?}"
            ))),
        }
    }
}
