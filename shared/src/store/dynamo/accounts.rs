//! The signed-in user's own changes on DynamoDB.

use std::collections::HashMap;

use async_trait::async_trait;

use super::audit::{audit_pk, event_item};
use super::item::*;
use super::tx::{cancelled, Tx};
use super::DynamoStore;

use crate::domain::UserId;
use crate::store::*;

#[async_trait]
impl AccountStore for DynamoStore {
    async fn change_password(&self, change: &PasswordChange<'_>) -> StoreResult<bool> {
        let tx = self
            .transact(
                "change password",
                vec![
                    // Pending reset and email-change links die with the old password.
                    self.update(
                        email_key(change.email),
                        "SET password_hash = :new REMOVE reset_hash",
                        Some("password_hash = :old AND user_id = :u"),
                        HashMap::from([
                            (":new".to_string(), s(change.new_hash)),
                            (":old".to_string(), s(change.old_hash)),
                            (":u".to_string(), n(change.user_id)),
                        ]),
                    ),
                    // Only if no cut-off came meanwhile (a logout everywhere the change must
                    // not undo).
                    self.update(
                        user_key(change.user_id),
                        "SET sessions_valid_after_ms = :cut REMOVE change_hash, change_request, change_email",
                        Some("email = :e AND sessions_valid_after_ms = :seen"),
                        HashMap::from([
                            (":cut".to_string(), n(change.cut_ms)),
                            (":seen".to_string(), n(change.seen_cutoff_ms)),
                            (":e".to_string(), s(change.email)),
                        ]),
                    ),
                    // Every session began at or before the cut-off; this one, still live,
                    // counts from just after it.
                    self.update(
                        session_key(change.user_id, change.keep_sid),
                        "SET valid_from_ms = :v",
                        Some("revoked = :f AND valid_from_ms > :seen"),
                        HashMap::from([
                            (":v".to_string(), n(change.cut_ms + 1)),
                            (":f".to_string(), b(false)),
                            (":seen".to_string(), n(change.seen_cutoff_ms)),
                        ]),
                    ),
                ],
            )
            .await?;
        match tx {
            Tx::Done => {
                if let Some(device) = change.keep_device {
                    let now = change.cut_ms.div_euclid(1000);
                    self.keep_device_trusted(change.email, device, change.old_hash, change.new_hash, now)
                        .await;
                }
                Ok(true)
            }
            tx if tx.refused() => Ok(false),
            Tx::Cancelled(codes) => Err(cancelled("change password", codes)),
        }
    }

    async fn request_email_change(&self, user_id: UserId, change: &PendingEmailChange) -> StoreResult<bool> {
        // The older change's link stops working with it: its token is no longer the newest.
        self.update_if(
            "request email change",
            user_key(user_id),
            "SET change_request = :r, change_email = :e REMOVE change_hash",
            "attribute_exists(pk)",
            HashMap::from([
                (":r".to_string(), s(&change.request)),
                (":e".to_string(), s(&change.new_email)),
            ]),
            None,
        )
        .await
    }

    async fn pending_email_change(&self, user_id: UserId) -> StoreResult<Option<PendingEmailChange>> {
        let profile = self.get("get user", user_key(user_id)).await?;
        Ok(profile.as_ref().and_then(pending_change_from))
    }

    async fn delete_account(&self, erasure: &Erasure<'_>) -> StoreResult<bool> {
        for _ in 0..3 {
            if let Some(erased) = self.erase_once(erasure).await? {
                return Ok(erased);
            }
        }
        Err(StoreError::Unavailable(
            "delete account: second factors kept changing".into(),
        ))
    }
}

impl DynamoStore {
    /// One attempt at [`AccountStore::delete_account`]: `None` when a passkey was added
    /// between the listing of the account's items and their deletion (nothing was deleted).
    async fn erase_once(&self, erasure: &Erasure<'_>) -> StoreResult<Option<bool>> {
        let user = erasure.user;
        let credentials = self.get("read credentials", email_key(&user.email)).await?;
        let Some(credentials) = credentials else {
            return Ok(Some(false));
        };
        // The user's partitions: the profile, and its sessions and refresh tokens; and its
        // address's: failed-login counters (every network's, device's and session's) and
        // trusted devices.
        let mut owned = self
            .query_partition("list account items", &format!("USER#{}", user.id), None)
            .await?;
        owned.extend(
            self.query_partition("list account sessions", &sessions_partition(user.id), None)
                .await?,
        );
        owned.extend(
            self.query_partition("list account events", &audit_pk(user.id), None)
                .await?,
        );
        let by_address = self
            .query_partition("list address items", &address_partition(&user.email), None)
            .await?;
        let profile = owned.iter().find(|i| opt_s(i, "sk").as_deref() == Some("USER"));
        let Some(profile) = profile else {
            return Ok(Some(false));
        };

        let username_key = key(
            format!("USERNAME#{}", user.username.to_ascii_lowercase()),
            "USERNAME",
        );
        let u = || HashMap::from([(":u".to_string(), n(user.id))]);
        let credentials_unchanged = match erasure.password_hash {
            Some(hash) => self.delete(
                email_key(&user.email),
                Some("password_hash = :h AND user_id = :u"),
                Some(HashMap::from([
                    (":h".to_string(), s(hash)),
                    (":u".to_string(), n(user.id)),
                ])),
            ),
            None => self.delete(email_key(&user.email), Some("user_id = :u"), Some(u())),
        };
        let factors = self.factor_items(user.id).await?;
        let identities = self
            .query_partition("list identities", &identities_partition(user.id), None)
            .await?;
        // The profile counts the identities linked to it: one linked after this listing makes
        // the deletion fail, to be listed again, rather than outlive the account.
        let linked = opt_n::<u32>(profile, "identities").unwrap_or(0);
        let mut core = vec![
            credentials_unchanged,
            self.delete(
                user_key(user.id),
                Some("id = :u AND (attribute_not_exists(identities) OR identities = :linked)"),
                Some(HashMap::from([
                    (":u".to_string(), n(user.id)),
                    (":linked".to_string(), n(linked)),
                ])),
            ),
            self.delete(username_key, Some("user_id = :u"), Some(u())),
            self.delete_factors_as_listed(user.id, &factors),
            // What outlives the log (its other events go below, or to their TTL).
            event_item(user.id, erasure.record, erasure.record_expires_at)
                .and_then(|item| self.put(item, None)),
        ];
        // Then what the account owns (as much as fits in the transaction), most personal first: tokens mailed to it, its login
        // counter and mail caps, its sessions (where and how it signed in), its refresh tokens.
        let mut rest: Vec<Item> = vec![];
        rest.extend(opt_s(&credentials, "reset_hash").map(|h| reset_key(&h)));
        for pointer in ["verify_hash", "change_hash"] {
            rest.extend(opt_s(profile, pointer).map(|h| verify_key(&h)));
        }
        // The second factors (the sealed TOTP secret and the passkeys have no TTL: they go in
        // the transaction first).
        for identity in &identities {
            rest.push(identity_claim_key(
                &get_s(identity, "issuer")?,
                &get_s(identity, "subject")?,
            ));
            rest.push(key(identities_partition(user.id), &get_s(identity, "sk")?));
        }
        rest.push(code_counter_key(user.id));
        rest.extend(
            factors
                .others
                .into_iter()
                .filter(|k| *k != code_counter_key(user.id)),
        );
        let mut in_partition: Vec<&Item> = by_address
            .iter()
            .chain(owned.iter().filter(|i| opt_s(i, "sk").as_deref() != Some("USER")))
            .collect();
        in_partition.sort_by_key(|i| !opt_s(i, "sk").is_some_and(|sk| sk.starts_with("SESSION#")));
        rest.extend(in_partition.into_iter().map(|i| {
            key(
                opt_s(i, "pk").unwrap_or_default(),
                &opt_s(i, "sk").unwrap_or_default(),
            )
        }));

        let later = rest.split_off(rest.len().min(self.max_tx_items - core.len()));
        core.extend(rest.into_iter().map(|k| self.delete(k, None, None)));
        match self.transact("delete account", core).await? {
            Tx::Done => {}
            // A passkey or an identity added since the listing: list again.
            tx if tx.failed(3) || tx.failed(1) => return Ok(None),
            tx if tx.refused() => return Ok(Some(false)),
            Tx::Cancelled(codes) => return Err(cancelled("delete account", codes)),
        }
        // The account is gone and none of its tokens works: what did not fit in the transaction
        // goes now. Should that fail, every item left has a TTL and belongs to nobody.
        if let Err(e) = self.batch_delete("delete account items", later).await {
            tracing::warn!(user_id = user.id, error = %e, "account erased; some refresh tokens are left to their TTL");
        }
        Ok(Some(true))
    }
}
