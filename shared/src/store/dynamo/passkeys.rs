//! Passkeys on DynamoDB: each passkey in its account's `MFA#` partition (`PASSKEY#<SHA-256 of
//! the id>`), a claim on its credential id (`PASSKEY#<id>`, naming the owner) that makes the id
//! unique across accounts, the account's user handle and passkey count on its `FACTORS` item,
//! and ceremony challenges (`WEBAUTHN#<id>`, with a TTL).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::item::*;
use super::tx::{cancelled, Tx};
use super::{sdk_error, DynamoStore};
use crate::domain::UserId;
use crate::store::*;

fn passkey_item(p: &StoredPasskey) -> Item {
    let mut item = passkey_key(p.user_id, &p.credential_id);
    item.extend([
        ("credential_id".into(), s(&p.credential_id)),
        ("user_id".into(), n(p.user_id)),
        (
            "public_key".into(),
            AttributeValue::B(p.public_key.clone().into()),
        ),
        ("sign_count".into(), n(p.sign_count)),
        ("backup_eligible".into(), b(p.backup_eligible)),
        (
            "transports".into(),
            AttributeValue::L(p.transports.iter().map(s).collect()),
        ),
        ("name".into(), s(&p.name)),
        ("created_at".into(), n(p.created_at)),
    ]);
    if let Some(at) = p.last_used_at {
        item.insert("last_used_at".into(), n(at));
    }
    item
}

fn passkey_from(item: &Item) -> StoreResult<StoredPasskey> {
    let public_key = item
        .get("public_key")
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| malformed("public_key"))?;
    let transports = item
        .get("transports")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    Ok(StoredPasskey {
        credential_id: get_s(item, "credential_id")?,
        user_id: get_n(item, "user_id")?,
        public_key,
        sign_count: get_n(item, "sign_count")?,
        backup_eligible: get_bool(item, "backup_eligible"),
        transports,
        name: get_s(item, "name")?,
        created_at: get_n(item, "created_at")?,
        last_used_at: opt_n(item, "last_used_at"),
    })
}

fn challenge_item(c: &PasskeyChallenge) -> Item {
    let mut item = passkey_challenge_key(&c.id);
    item.extend([
        ("id".into(), s(&c.id)),
        ("challenge".into(), s(&c.challenge)),
        ("expires_at".into(), n(c.expires_at)),
    ]);
    if let Ceremony::Registration { user_id } = c.ceremony {
        item.insert("user_id".into(), n(user_id));
    }
    item
}

fn challenge_from(item: &Item) -> StoreResult<PasskeyChallenge> {
    Ok(PasskeyChallenge {
        id: get_s(item, "id")?,
        ceremony: match opt_n(item, "user_id") {
            Some(user_id) => Ceremony::Registration { user_id },
            None => Ceremony::Authentication,
        },
        challenge: get_s(item, "challenge")?,
        expires_at: get_n(item, "expires_at")?,
    })
}

/// An account's second-factor items as one Query listed them, for deleting them all.
pub(super) struct FactorItems {
    /// Every item but `FACTORS`: the code counter, the passkeys and the claims on their ids.
    pub others: Vec<Item>,
    /// The passkey count `FACTORS` held (0 without one).
    pub passkeys: u32,
}

impl DynamoStore {
    /// The second-factor items of an account: its `MFA#` partition (factors, code counter,
    /// passkeys) and the claims on its passkeys' credential ids.
    pub(super) async fn factor_items(&self, user_id: UserId) -> StoreResult<FactorItems> {
        let items = self
            .query_partition("list second factors", &factors_partition(user_id), None)
            .await?;
        let mut listed = FactorItems {
            others: vec![],
            passkeys: 0,
        };
        for item in &items {
            let sk = opt_s(item, "sk").unwrap_or_default();
            if sk == "FACTORS" {
                listed.passkeys = opt_n(item, "passkeys").unwrap_or(0);
                continue;
            }
            if sk.starts_with("PASSKEY#") {
                listed
                    .others
                    .push(passkey_claim_key(&get_s(item, "credential_id")?));
            }
            listed.others.push(key(factors_partition(user_id), &sk));
        }
        Ok(listed)
    }

    /// Deletes `FACTORS` only while its passkey count is the one listed: a passkey added after
    /// the listing (its item and claim not in it) makes the write fail, to be listed again,
    /// rather than outlive the account's factors.
    pub(super) fn delete_factors_as_listed(
        &self,
        user_id: UserId,
        listed: &FactorItems,
    ) -> StoreResult<TransactWriteItem> {
        self.delete(
            factors_key(user_id),
            Some("attribute_not_exists(passkeys) OR passkeys = :seen"),
            Some(HashMap::from([(":seen".to_string(), n(listed.passkeys))])),
        )
    }
}

#[async_trait]
impl PasskeyStore for DynamoStore {
    async fn user_handle(&self, user_id: UserId, candidate: &str) -> StoreResult<String> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(factors_key(user_id)))
            .update_expression("SET handle = if_not_exists(handle, :h)")
            .expression_attribute_values(":h", s(candidate))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk_error("set user handle", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| opt_s(a, "handle"))
            .ok_or_else(|| malformed("handle"))
    }

    async fn passkeys(&self, user_id: UserId) -> StoreResult<Vec<StoredPasskey>> {
        let items = self
            .query_partition("list passkeys", &factors_partition(user_id), Some("PASSKEY#"))
            .await?;
        let mut passkeys = items.iter().map(passkey_from).collect::<StoreResult<Vec<_>>>()?;
        passkeys.sort_by(|a, b| (a.created_at, &a.credential_id).cmp(&(b.created_at, &b.credential_id)));
        Ok(passkeys)
    }

    async fn passkey(&self, credential_id: &str) -> StoreResult<Option<(StoredPasskey, String)>> {
        let Some(claim) = self
            .get("get passkey claim", passkey_claim_key(credential_id))
            .await?
        else {
            return Ok(None);
        };
        let user_id: UserId = get_n(&claim, "user_id")?;
        let items = self
            .batch_get(
                "get passkey",
                vec![passkey_key(user_id, credential_id), factors_key(user_id)],
            )
            .await?;
        let passkey = items.get(&item_id(&passkey_key(user_id, credential_id)));
        let handle = items
            .get(&item_id(&factors_key(user_id)))
            .and_then(|f| opt_s(f, "handle"));
        match (passkey, handle) {
            (Some(p), Some(handle)) => Ok(Some((passkey_from(p)?, handle))),
            _ => Ok(None),
        }
    }

    async fn put_passkey_challenge(&self, challenge: &PasskeyChallenge, _now: i64) -> StoreResult<()> {
        // One conditional put (a random 128-bit id is never taken); expired challenges go by
        // the table's TTL.
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(challenge_item(challenge)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("put passkey challenge", e))
    }

    async fn take_passkey_challenge(&self, id: &str) -> StoreResult<Option<PasskeyChallenge>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(passkey_challenge_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("take passkey challenge", e))?;
        out.attributes
            .filter(|a| !a.is_empty())
            .map(|a| challenge_from(&a))
            .transpose()
    }

    async fn add_passkey(&self, a: &PasskeyAddition<'_>) -> StoreResult<AddEnd> {
        let fresh = Some("attribute_not_exists(pk)");
        let p = a.passkey;
        let mut claim = passkey_claim_key(&p.credential_id);
        claim.insert("user_id".into(), n(p.user_id));
        let mut values = HashMap::from([(":one".to_string(), n(1)), (":zero".to_string(), n(0))]);
        let (expression, condition) = match a.first {
            // No factor yet: no TOTP and no passkey.
            Some(first) => {
                values.insert(":codes".into(), AttributeValue::Ss(first.recovery_codes.to_vec()));
                (
                    "SET passkeys = :one, codes = :codes",
                    "attribute_not_exists(totp) AND (attribute_not_exists(passkeys) OR passkeys = :zero)",
                )
            }
            None => {
                values.insert(":max".into(), n(MAX_PASSKEYS));
                (
                    "ADD passkeys :one",
                    "(attribute_exists(totp) OR passkeys > :zero) AND (attribute_not_exists(passkeys) OR passkeys < :max)",
                )
            }
        };
        let mut writes = vec![
            self.put(claim, fresh),
            self.update(factors_key(p.user_id), expression, Some(condition), values),
            self.put(passkey_item(p), fresh),
        ];
        if let Some(first) = a.first {
            // Every other session ends; the caller's counts from just after the cut-off.
            writes.push(self.update(
                user_key(p.user_id),
                "SET sessions_valid_after_ms = :cut",
                Some("sessions_valid_after_ms = :seen AND (attribute_not_exists(disabled) OR disabled = :f)"),
                HashMap::from([
                    (":cut".to_string(), n(first.cut_ms)),
                    (":seen".to_string(), n(first.seen_cutoff_ms)),
                    (":f".to_string(), b(false)),
                ]),
            ));
            writes.push(self.update(
                session_key(p.user_id, first.keep_sid),
                "SET valid_from_ms = :v",
                Some("revoked = :f AND valid_from_ms > :seen"),
                HashMap::from([
                    (":v".to_string(), n(first.cut_ms + 1)),
                    (":f".to_string(), b(false)),
                    (":seen".to_string(), n(first.seen_cutoff_ms)),
                ]),
            ));
        }
        match self.transact("add passkey", writes).await? {
            Tx::Done => Ok(AddEnd::Added),
            tx if tx.failed(0) || tx.failed(2) => Ok(AddEnd::Duplicate),
            // (Too many passkeys is told apart by the caller, which read the count.)
            tx if tx.failed(1) => Ok(AddEnd::FactorsChanged),
            tx if tx.failed(3) || tx.failed(4) => Ok(AddEnd::SessionsEnded),
            Tx::Cancelled(codes) => Err(cancelled("add passkey", codes)),
        }
    }

    async fn remove_passkey(&self, user_id: UserId, credential_id: &str) -> StoreResult<bool> {
        // The factors as read decide whether the codes go (the last factor); the write holds
        // only while they are unchanged, else it reads again.
        for _ in 0..3 {
            let item = self.get("get second factors", factors_key(user_id)).await?;
            let Some(item) = item else {
                return Ok(false);
            };
            let count: u32 = opt_n(&item, "passkeys").unwrap_or(0);
            if count == 0 {
                return Ok(false);
            }
            let last = count == 1 && !item.contains_key("totp");
            let values = HashMap::from([(":one".to_string(), n(1)), (":seen".to_string(), n(count))]);
            let (expression, condition) = if last {
                (
                    "SET passkeys = passkeys - :one REMOVE codes",
                    "passkeys = :seen AND attribute_not_exists(totp)",
                )
            } else {
                ("SET passkeys = passkeys - :one", "passkeys = :seen")
            };
            let owner = HashMap::from([(":u".to_string(), n(user_id))]);
            let tx = self
                .transact(
                    "remove passkey",
                    vec![
                        self.delete(
                            passkey_key(user_id, credential_id),
                            Some("attribute_exists(pk)"),
                            None,
                        ),
                        self.delete(
                            passkey_claim_key(credential_id),
                            Some("user_id = :u"),
                            Some(owner),
                        ),
                        self.update(factors_key(user_id), expression, Some(condition), values),
                    ],
                )
                .await?;
            match tx {
                Tx::Done => return Ok(true),
                tx if tx.failed(0) || tx.failed(1) => return Ok(false),
                tx if tx.failed(2) => continue,
                Tx::Cancelled(codes) => return Err(cancelled("remove passkey", codes)),
            }
        }
        Err(StoreError::Unavailable(
            "remove passkey: second factors kept changing".into(),
        ))
    }

    async fn use_passkey(&self, u: &PasskeyUse<'_>) -> StoreResult<UseEnd> {
        let p = u.passkey;
        let keys = vec![email_key(u.email), code_counter_key(p.user_id)];
        let items = self.batch_get("read credentials", keys).await?;
        let Some(credentials) = items.get(&item_id(&email_key(u.email))) else {
            return Ok(UseEnd::Gone);
        };
        let password_hash = opt_s(credentials, "password_hash");
        let mut writes = vec![
            self.update(
                passkey_key(p.user_id, &p.credential_id),
                "SET sign_count = :new, last_used_at = :now",
                Some("sign_count = :old"),
                HashMap::from([
                    (":new".to_string(), n(u.sign_count)),
                    (":now".to_string(), n(u.now)),
                    (":old".to_string(), n(p.sign_count)),
                ]),
            ),
            self.check(
                email_key(u.email),
                "disabled = :f AND user_id = :u",
                HashMap::from([(":f".to_string(), b(false)), (":u".to_string(), n(p.user_id))]),
            ),
        ];
        // A completed factor clears the code step's counter: deleted if there is one (a
        // transaction bills a delete of nothing as any other).
        if items.contains_key(&item_id(&code_counter_key(p.user_id))) {
            writes.push(self.delete(code_counter_key(p.user_id), None, None));
        }
        writes.extend(self.session_puts(u.session, u.first));
        // A device is trusted with the account's password (one without trusts none): a new one
        // before the session is written (no answer carries a token that is not stored), a known
        // one renewed after it (best effort: it stays trusted until its old expiry).
        if let Some(hash) = password_hash.as_deref().filter(|_| !u.trusted_device) {
            let item = device_item(u.email, u.device, hash, u.device_expires_at);
            self.put_item("trust device", item).await?;
        }
        match self.transact("use passkey", writes).await? {
            Tx::Done => {
                if let Some(hash) = password_hash.as_deref().filter(|_| u.trusted_device) {
                    let renewed = self
                        .update_if(
                            "renew device trust",
                            device_key(u.email, u.device),
                            "SET credential = :cr, expires_at = :exp",
                            "email = :e",
                            HashMap::from([
                                (":cr".to_string(), s(device_credential(hash))),
                                (":exp".to_string(), n(u.device_expires_at)),
                                (":e".to_string(), s(u.email)),
                            ]),
                            None,
                        )
                        .await;
                    if let Err(e) = renewed {
                        tracing::warn!(error = %e, "device trust not renewed; it ends at its old time");
                    }
                }
                Ok(UseEnd::Started)
            }
            tx if tx.failed(0) => Ok(UseEnd::Refused),
            tx if tx.failed(1) => Ok(UseEnd::Gone),
            Tx::Cancelled(codes) => Err(cancelled("use passkey", codes)),
        }
    }
}
