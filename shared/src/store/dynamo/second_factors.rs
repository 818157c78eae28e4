//! Second factors on DynamoDB: the account's `FACTORS` item (TOTP sealed, its last step, the
//! enrolment in progress, the recovery code hashes as a string set) and `CODEFAIL` counter in
//! its `MFA#` partition, and the login challenges (`MFATOKEN#`).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::item::*;
use super::tx::{cancelled, Tx};
use super::DynamoStore;
use crate::config::Backoff;
use crate::domain::UserId;
use crate::store::*;

/// How often a code reservation that lost to a concurrent one reads again and retries.
const RESERVE_ROUNDS: u64 = 6;

fn record_from(item: Option<&Item>) -> FactorRecord {
    let Some(item) = item else {
        return FactorRecord::default();
    };
    let mut recovery_codes: Vec<String> = item
        .get("codes")
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    recovery_codes.sort();
    FactorRecord {
        totp: opt_s(item, "totp").map(|sealed| StoredTotp {
            sealed,
            last_step: opt_n(item, "last_step").unwrap_or(0),
        }),
        pending: opt_s(item, "pending").map(|sealed| PendingTotp {
            sealed,
            expires_at: opt_n(item, "pending_expires_at").unwrap_or(0),
        }),
        recovery_codes,
        passkeys: opt_n(item, "passkeys").unwrap_or(0),
    }
}

fn challenge_from(item: &Item) -> StoreResult<MfaChallenge> {
    Ok(MfaChallenge {
        hash: get_s(item, "hash")?,
        user_id: get_n(item, "user_id")?,
        email: get_s(item, "email")?,
        verified_hash: get_s(item, "verified_hash")?,
        device: opt_s(item, "device"),
        trusted_device: get_bool(item, "trusted_device"),
        attempts: get_n(item, "attempts")?,
        expires_at: get_n(item, "expires_at")?,
        federated: get_bool(item, "federated"),
    })
}

fn challenge_item(c: &MfaChallenge) -> Item {
    let mut item = challenge_key(&c.hash);
    item.extend([
        ("hash".into(), s(&c.hash)),
        ("user_id".into(), n(c.user_id)),
        ("email".into(), s(&c.email)),
        ("verified_hash".into(), s(&c.verified_hash)),
        ("trusted_device".into(), b(c.trusted_device)),
        ("attempts".into(), n(c.attempts)),
        ("expires_at".into(), n(c.expires_at)),
    ]);
    if c.federated {
        item.insert("federated".into(), b(true));
    }
    if let Some(device) = &c.device {
        item.insert("device".into(), s(device));
    }
    item
}

fn string_set(values: &[String]) -> AttributeValue {
    AttributeValue::Ss(values.to_vec())
}

/// The code counter as read: its count and the time before which no attempt may be made.
fn counter_from(item: Option<&Item>) -> (u32, i64) {
    item.map(|i| {
        (
            opt_n(i, "count").unwrap_or(0),
            opt_n(i, "locked_until").unwrap_or(0),
        )
    })
    .unwrap_or((0, 0))
}

#[async_trait]
impl MfaStore for DynamoStore {
    async fn second_factors(&self, user_id: UserId) -> StoreResult<FactorRecord> {
        let item = self.get("get second factors", factors_key(user_id)).await?;
        Ok(record_from(item.as_ref()))
    }

    async fn start_totp_enrollment(&self, user_id: UserId, pending: &PendingTotp) -> StoreResult<()> {
        let update = self.update(
            factors_key(user_id),
            "SET pending = :p, pending_expires_at = :e",
            None,
            HashMap::from([
                (":p".to_string(), s(&pending.sealed)),
                (":e".to_string(), n(pending.expires_at)),
            ]),
        );
        match self.transact("start totp enrollment", vec![update]).await? {
            Tx::Done => Ok(()),
            Tx::Cancelled(codes) => Err(cancelled("start totp enrollment", codes)),
        }
    }

    async fn confirm_totp(&self, c: &TotpConfirmation<'_>) -> StoreResult<ConfirmEnd> {
        let mut values = HashMap::from([
            (":p".to_string(), s(&c.pending.sealed)),
            (":step".to_string(), n(c.step)),
            (":now".to_string(), n(c.now)),
        ]);
        let expression = match c.recovery_codes {
            Some(hashes) => {
                values.insert(":codes".into(), string_set(hashes));
                "SET totp = :p, last_step = :step, codes = :codes REMOVE pending, pending_expires_at"
            }
            None => "SET totp = :p, last_step = :step REMOVE pending, pending_expires_at",
        };
        let tx = self
            .transact(
                "confirm totp",
                vec![
                    self.update(
                        factors_key(c.user_id),
                        expression,
                        Some("pending = :p AND pending_expires_at > :now"),
                        values,
                    ),
                    // Every session ends, only if no cut-off came meanwhile.
                    self.update(
                        user_key(c.user_id),
                        "SET sessions_valid_after_ms = :cut",
                        Some("sessions_valid_after_ms = :seen AND (attribute_not_exists(disabled) OR disabled = :f)"),
                        HashMap::from([
                            (":cut".to_string(), n(c.cut_ms)),
                            (":seen".to_string(), n(c.seen_cutoff_ms)),
                            (":f".to_string(), b(false)),
                        ]),
                    ),
                ]
                .into_iter()
                .chain(self.session_puts(c.session, c.first))
                .collect(),
            )
            .await?;
        match tx {
            Tx::Done => Ok(ConfirmEnd::Confirmed),
            tx if tx.failed(0) => Ok(ConfirmEnd::NoEnrollment),
            tx if tx.failed(1) => Ok(ConfirmEnd::SessionsEnded),
            Tx::Cancelled(codes) => Err(cancelled("confirm totp", codes)),
        }
    }

    async fn disable_totp(&self, user_id: UserId) -> StoreResult<bool> {
        // The codes go with the last second factor: decided on the passkey count as read, and
        // written only while it is unchanged (else read again).
        for _ in 0..3 {
            let record = self.second_factors(user_id).await?;
            if record.totp.is_none() {
                return Ok(false);
            }
            let (expression, condition) = if record.passkeys == 0 {
                (
                    "REMOVE totp, last_step, codes",
                    "attribute_exists(totp) AND (attribute_not_exists(passkeys) OR passkeys = :n)",
                )
            } else {
                (
                    "REMOVE totp, last_step",
                    "attribute_exists(totp) AND passkeys = :n",
                )
            };
            let values = HashMap::from([(":n".to_string(), n(record.passkeys))]);
            if self
                .update_if(
                    "disable totp",
                    factors_key(user_id),
                    expression,
                    condition,
                    values,
                    None,
                )
                .await?
            {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "disable totp: second factors kept changing".into(),
        ))
    }

    async fn replace_recovery_codes(&self, user_id: UserId, hashes: &[String]) -> StoreResult<bool> {
        self.update_if(
            "replace recovery codes",
            factors_key(user_id),
            "SET codes = :c",
            "attribute_exists(totp) OR passkeys > :zero",
            HashMap::from([
                (":c".to_string(), string_set(hashes)),
                (":zero".to_string(), n(0)),
            ]),
            None,
        )
        .await
    }

    async fn reset_second_factors(&self, user_id: UserId, now_ms: i64) -> StoreResult<bool> {
        // Every factor item (TOTP and codes, passkeys and their claims, the code counter) and
        // the sessions' cut-off, in one transaction that holds only while the account is as
        // read: a passkey added or a cut-off moved meanwhile means reading again.
        for _ in 0..3 {
            let Some(profile) = self.get("get user", user_key(user_id)).await? else {
                return Ok(false);
            };
            let seen: Option<i64> = opt_n(&profile, "sessions_valid_after_ms");
            let (condition, mut values) = match seen {
                Some(seen) => (
                    "sessions_valid_after_ms = :seen",
                    HashMap::from([(":seen".to_string(), n(seen))]),
                ),
                None => (
                    "attribute_exists(pk) AND attribute_not_exists(sessions_valid_after_ms)",
                    HashMap::new(),
                ),
            };
            values.insert(":cut".into(), n(now_ms.max(seen.unwrap_or(now_ms))));
            let listed = self.factor_items(user_id).await?;
            let mut writes = vec![
                self.update(
                    user_key(user_id),
                    "SET sessions_valid_after_ms = :cut",
                    Some(condition),
                    values,
                ),
                self.delete_factors_as_listed(user_id, &listed),
            ];
            writes.extend(listed.others.into_iter().map(|k| self.delete(k, None, None)));
            match self.transact("reset second factors", writes).await? {
                Tx::Done => return Ok(true),
                tx if tx.failed(0) || tx.failed(1) => continue,
                Tx::Cancelled(codes) => return Err(cancelled("reset second factors", codes)),
            }
        }
        Err(StoreError::Unavailable(
            "reset second factors: the account kept changing".into(),
        ))
    }

    async fn begin_second_step(
        &self,
        login: &VerifiedLogin<'_>,
        challenge: &MfaChallenge,
    ) -> StoreResult<bool> {
        let writes = vec![
            self.password_check(login, challenge.user_id),
            self.put(challenge_item(challenge), Some("attribute_not_exists(pk)")),
        ];
        match self.transact("begin second step", writes).await? {
            Tx::Done => {
                // The device is trusted (or renewed) only once the second step is done.
                self.settle_password_step(login, false).await;
                Ok(true)
            }
            tx if tx.failed(0) => Ok(false),
            Tx::Cancelled(codes) => Err(cancelled("begin second step", codes)),
        }
    }

    async fn begin_federated_second_step(&self, challenge: &MfaChallenge) -> StoreResult<bool> {
        let Some(credentials) = self.get("read credentials", email_key(&challenge.email)).await? else {
            return Ok(false);
        };
        let current = opt_s(&credentials, "password_hash").unwrap_or_default();
        let stored = MfaChallenge {
            verified_hash: current.clone(),
            federated: true,
            ..challenge.clone()
        };
        let writes = vec![
            self.check(
                email_key(&challenge.email),
                "password_hash = :h AND disabled = :f AND user_id = :u",
                HashMap::from([
                    (":h".to_string(), s(&current)),
                    (":f".to_string(), b(false)),
                    (":u".to_string(), n(challenge.user_id)),
                ]),
            ),
            self.put(challenge_item(&stored), Some("attribute_not_exists(pk)")),
        ];
        match self.transact("begin federated second step", writes).await? {
            Tx::Done => Ok(true),
            tx if tx.failed(0) => Ok(false),
            Tx::Cancelled(codes) => Err(cancelled("begin federated second step", codes)),
        }
    }

    async fn reserve_code_attempt(&self, hash: &str, now: i64, backoff: Backoff) -> StoreResult<CodeAttempt> {
        for round in 0..RESERVE_ROUNDS {
            let Some(item) = self.get("get mfa challenge", challenge_key(hash)).await? else {
                return Ok(CodeAttempt::Unusable);
            };
            let challenge = challenge_from(&item)?;
            if !challenge.usable(now) {
                return Ok(CodeAttempt::Unusable);
            }
            let user_id = challenge.user_id;
            let items = self
                .batch_get(
                    "code attempt lookup",
                    vec![code_counter_key(user_id), factors_key(user_id)],
                )
                .await?;
            let counter_item = items.get(&item_id(&code_counter_key(user_id)));
            let (count, locked_until) = counter_from(counter_item);
            if let Some(retry_after) = code_lock(count, locked_until, now, backoff) {
                return Ok(CodeAttempt::Locked { retry_after });
            }
            let next = count.saturating_add(1);
            let mut counter_values = HashMap::from([
                (":c".to_string(), n(next)),
                (":lu".to_string(), n(now + backoff.secs(next))),
            ]);
            // (DynamoDB refuses a value the expressions do not use.)
            let counter_condition = match counter_item {
                None => "attribute_not_exists(pk)",
                Some(_) => {
                    counter_values.insert(":oc".to_string(), n(count));
                    "#c = :oc"
                }
            };
            let tx = self
                .transact(
                    "reserve code attempt",
                    vec![
                        self.update(
                            challenge_key(hash),
                            "SET attempts = :next",
                            Some("attempts = :a AND expires_at > :now"),
                            HashMap::from([
                                (":next".to_string(), n(challenge.attempts + 1)),
                                (":a".to_string(), n(challenge.attempts)),
                                (":now".to_string(), n(now)),
                            ]),
                        ),
                        self.update_named(
                            code_counter_key(user_id),
                            "SET #c = :c, locked_until = :lu",
                            Some(counter_condition),
                            counter_values,
                            Some(("#c", "count")),
                        ),
                    ],
                )
                .await?;
            match tx {
                Tx::Done => {
                    return Ok(CodeAttempt::Reserved {
                        challenge: MfaChallenge {
                            attempts: challenge.attempts + 1,
                            ..challenge
                        },
                        factors: record_from(items.get(&item_id(&factors_key(user_id)))),
                    })
                }
                tx if tx.refused() => {
                    // Another attempt counted first: read again and decide anew.
                    let jitter = rand::random::<u64>() % 10;
                    tokio::time::sleep(Duration::from_millis(5 * round + jitter)).await;
                }
                Tx::Cancelled(codes) => return Err(cancelled("reserve code attempt", codes)),
            }
        }
        // So many attempts at once that this one never got its turn.
        Ok(CodeAttempt::Locked { retry_after: 1 })
    }

    async fn finish_second_step(&self, step: &SecondStep<'_>) -> StoreResult<SecondStepEnd> {
        let ch = step.challenge;
        let proof = match step.proof {
            Proof::Totp { sealed, step: s } => self.update(
                factors_key(ch.user_id),
                "SET last_step = :s",
                Some("totp = :t AND last_step < :s"),
                HashMap::from([
                    (":s".to_string(), n(*s)),
                    (":t".to_string(), super::item::s(sealed)),
                ]),
            ),
            Proof::RecoveryCode { hash } => self.update(
                factors_key(ch.user_id),
                "DELETE codes :h",
                Some("contains(codes, :hs)"),
                HashMap::from([
                    (":h".to_string(), string_set(std::slice::from_ref(hash))),
                    (":hs".to_string(), s(hash)),
                ]),
            ),
        };
        let tx = self
            .transact(
                "finish second step",
                vec![
                    self.delete(challenge_key(&ch.hash), Some("attribute_exists(pk)"), None),
                    self.check(
                        email_key(&ch.email),
                        "password_hash = :h AND disabled = :f AND user_id = :u",
                        HashMap::from([
                            (":h".to_string(), s(&ch.verified_hash)),
                            (":f".to_string(), b(false)),
                            (":u".to_string(), n(ch.user_id)),
                        ]),
                    ),
                    proof,
                    self.delete(code_counter_key(ch.user_id), None, None),
                    self.put(
                        device_item(&ch.email, step.device, &ch.verified_hash, step.device_expires_at),
                        None,
                    ),
                ]
                .into_iter()
                .chain(self.session_puts(step.session, step.first))
                .collect(),
            )
            .await?;
        match tx {
            Tx::Done => Ok(SecondStepEnd::Started),
            tx if tx.failed(0) || tx.failed(1) => Ok(SecondStepEnd::Gone),
            tx if tx.failed(2) => Ok(SecondStepEnd::CodeRefused),
            Tx::Cancelled(codes) => Err(cancelled("finish second step", codes)),
        }
    }
}
