//! Email verification tokens on DynamoDB.

use std::collections::HashMap;

use async_trait::async_trait;

use super::item::*;
use super::tx::{cancelled, Tx};
use super::DynamoStore;
use crate::domain::*;
use crate::store::*;

#[async_trait]
impl VerifyStore for DynamoStore {
    async fn put_verify_token(&self, token: &VerifyToken, request: Option<&str>) -> StoreResult<bool> {
        let mut item = verify_key(&token.hash);
        item.extend([
            ("user_id".into(), n(token.user_id)),
            ("expires_at".into(), n(token.expires_at)),
            ("purpose".into(), s(token.purpose.as_str())),
        ]);
        // Pointing the user at the newest hash supersedes every older token at once; the
        // older items are left for TTL, unusable (they name the account, no address). An email
        // change's token only while its request is still the account's pending one.
        let mut values = HashMap::from([(":h".to_string(), s(&token.hash))]);
        let condition = match request {
            Some(request) => {
                values.insert(":r".into(), s(request));
                "change_request = :r"
            }
            None => "attribute_exists(pk)",
        };
        let tx = self
            .transact(
                "put verification token",
                vec![
                    self.put(item, Some("attribute_not_exists(pk)")),
                    self.update(
                        user_key(token.user_id),
                        &format!("SET {} = :h", pointer(token.purpose)),
                        Some(condition),
                        values,
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => Ok(true),
            tx if tx.failed(1) => Ok(false),
            Tx::Cancelled(codes) => Err(cancelled("put verification token", codes)),
        }
    }

    async fn consume_verify_token(&self, hash: &str, now: i64) -> StoreResult<Consumed> {
        let Some(token) = self.get("get verification token", verify_key(hash)).await? else {
            return Ok(Consumed::Unusable);
        };
        let user_id: UserId = get_n(&token, "user_id")?;
        let purpose = Purpose::parse(&opt_s(&token, "purpose").unwrap_or_default());
        let Some(user) = self.get("get user", user_key(user_id)).await? else {
            return Ok(Consumed::Unusable);
        };
        if get_bool(&user, "disabled") {
            return Ok(Consumed::Unusable);
        }
        let current = get_s(&user, "email")?;
        // What the token proves: the account's address, or the pending change's new one.
        let proved = match purpose {
            Purpose::Verify => current.clone(),
            Purpose::ChangeEmail => match pending_change_from(&user) {
                Some(change) => change.new_email,
                None => return Ok(Consumed::Unusable),
            },
        };
        // The token is spent only together with the change, and only while it is the user's
        // newest, the account is enabled and still has the address (and pending change) it
        // had when the token was read.
        let spend = self.delete(
            verify_key(hash),
            Some("attribute_exists(pk) AND expires_at > :now"),
            Some(HashMap::from([(":now".to_string(), n(now))])),
        );
        let condition = format!(
            "{} = :h AND email = :e AND (attribute_not_exists(disabled) OR disabled = :f){}",
            pointer(purpose),
            match purpose {
                Purpose::Verify => "",
                Purpose::ChangeEmail => " AND change_email = :proved",
            }
        );
        let mark = |expression: &str, values: Item| {
            let mut values = values;
            values.extend([
                (":t".to_string(), b(true)),
                (":f".to_string(), b(false)),
                (":h".to_string(), s(hash)),
                (":e".to_string(), s(&current)),
            ]);
            if purpose == Purpose::ChangeEmail {
                values.insert(":proved".into(), s(&proved));
            }
            self.update(user_key(user_id), expression, Some(&condition), values)
        };
        if proved == current {
            // Verified: no pending verification of this address is needed any more.
            let expression = match purpose {
                Purpose::Verify => "SET email_verified = :t REMOVE verify_hash",
                Purpose::ChangeEmail => {
                    "SET email_verified = :t REMOVE verify_hash, change_hash, change_request, change_email"
                }
            };
            let tx = self
                .transact(
                    "consume verification token",
                    vec![spend, mark(expression, Item::new())],
                )
                .await?;
            return match tx {
                Tx::Done => Ok(Consumed::Verified(user_id)),
                // The token was spent, superseded or expired, or the address changed.
                tx if tx.refused() => Ok(Consumed::Unusable),
                // Throttled or failed for another reason: nothing changed, worth a retry (503).
                Tx::Cancelled(codes) => Err(cancelled("consume verification token", codes)),
            };
        }

        // An email change: the credentials move to the new address's item, which must not
        // exist (the same condition as signup's, so of a change and a signup racing for one
        // address exactly one wins), and the old address is free.
        let Some(old) = self.get("get credentials", email_key(&current)).await? else {
            return Ok(Consumed::Unusable);
        };
        let password_hash = get_s(&old, "password_hash")?;
        let mut moved = old.clone();
        moved.extend(email_key(&proved));
        moved.insert("email".into(), s(&proved));
        moved.remove("reset_hash");
        let tx = self
            .transact(
                "change email",
                vec![
                    spend,
                    mark(
                        "SET email = :proved, email_verified = :t \
                         REMOVE verify_hash, change_hash, change_request, change_email",
                        Item::new(),
                    ),
                    self.put(moved, Some("attribute_not_exists(pk)")),
                    // The copy is the item as it stands: no password change or disabling
                    // came meanwhile.
                    self.delete(
                        email_key(&current),
                        Some("user_id = :u AND password_hash = :p AND disabled = :d"),
                        Some(HashMap::from([
                            (":u".to_string(), n(user_id)),
                            (":p".to_string(), s(&password_hash)),
                            (":d".to_string(), b(get_bool(&old, "disabled"))),
                        ])),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => {
                // The old address's login state (counters of every network, device and session,
                // trusted devices) is its own, not the new one's: forgotten, as the old address
                // itself is. Should that fail, each item ends with its TTL.
                let forgotten = match self
                    .query_partition("list old address items", &address_partition(&current), None)
                    .await
                {
                    Ok(items) => {
                        let keys = items
                            .iter()
                            .map(|i| {
                                key(
                                    opt_s(i, "pk").unwrap_or_default(),
                                    &opt_s(i, "sk").unwrap_or_default(),
                                )
                            })
                            .collect();
                        self.batch_delete("forget old address items", keys).await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = forgotten {
                    tracing::warn!(user_id, error = %e, "email changed; the old address's login state is left to its TTL");
                }
                Ok(Consumed::EmailChanged {
                    user_id,
                    old_email: current,
                    new_email: proved,
                })
            }
            tx if tx.failed(0) || tx.failed(1) => Ok(Consumed::Unusable),
            tx if tx.failed(2) => Ok(Consumed::EmailTaken),
            // The password changed meanwhile, or the call was throttled: nothing changed.
            Tx::Cancelled(codes) => Err(StoreError::Unavailable(format!(
                "change email cancelled: {codes:?}"
            ))),
        }
    }
}

/// The user attribute naming the newest token of `purpose`.
fn pointer(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Verify => "verify_hash",
        Purpose::ChangeEmail => "change_hash",
    }
}
