//! The DynamoDB store: one table, every race settled by a conditional write.
//!
//! Items (`pk` / `sk`):
//! - `USER#<id>` / `USER`: the profile, role, `disabled`, `sessions_valid_after_ms`; `gsi1pk`
//!   = `USER` and `gsi1sk` = id put it in the `users-by-id` index that lists users in id order.
//! - `EMAIL#<email>` / `EMAIL`: the credentials login reads in one call (user id, username,
//!   email, password hash, `disabled`, the current reset token's hash).
//! - `USERNAME#<lowercased>` / `USERNAME`: uniqueness sentinel.
//! - `COUNTER#users` / `COUNTER`: the atomic counter integer ids come from.
//! - `SESSIONS#<id>` / `SESSION#<sid>`, `SESSIONS#<id>` / `REFRESH#<jti>`: session families
//!   (where and when each was last used) and one item per refresh token but the first, which
//!   its session's item holds (`first_*`: a session and its first token are one write), in a
//!   partition of the
//!   user's own beside the profile's: a user's sessions are one Query, erasing the account finds
//!   everything it owns, and the functions that write sessions are granted `SESSIONS#` items,
//!   never the profile.
//! - `VERIFY#<sha256>` / `VERIFY`: email verification tokens by hash (user id, expiry,
//!   purpose); the user's `verify_hash` names the newest verification of its
//!   address and `change_hash` the newest email change, and `email_verified` the result.
//!   The profile also holds the pending email change (`change_request`, `change_email`) while
//!   there is one. Token items (verification and reset) name the account, never an address.
//! - `RESET#<sha256>` / `RESET`: reset tokens by hash; the credentials' `reset_hash` names the
//!   newest.
//! - `LOGINFAIL#<email>`: an address's login state, one partition so that erasure (or an email
//!   change) finds it with one Query: `LOGINFAIL` the failed-login counter from every network
//!   and, in its map `nets`, from each client network; `SESSION#<sid>` the
//!   re-authentications of one session; and `TRUST#<sha256>` the trusted devices (device
//!   tokens by hash), each with its own failure counter in `fails` ([`login`]).
//! - `MFA#<id>`: an account's second factors: `FACTORS` (the sealed TOTP secret and its last
//!   step, the enrolment in progress, the recovery code hashes, the WebAuthn user handle and the
//!   passkey count), `CODEFAIL` (login's code counter) and `PASSKEY#<SHA-256 of the credential
//!   id>` (each passkey: its COSE key, counter, name and times).
//! - `MFATOKEN#<sha256>` / `MFATOKEN`: a login waiting for its second step.
//! - `PASSKEY#<credential id>` / `PASSKEY`: the claim on a credential id (its owner): an id is
//!   registered once, and sign-in finds the account by it.
//! - `WEBAUTHN#<id>` / `WEBAUTHN`: a passkey ceremony's challenge, until its first use.
//! - `MAILREQ#<id>` / `MAILREQ`: a mail request (a reset or verification link asked for) behind
//!   a queued job, which names only its id; deleted once handled.
//! - `AUDIT#<id>` / `EVENT#<time ms, 13 digits>#<event id>`: the account's security log (the
//!   event as JSON in `event`, TTL at the end of its retention), in a partition of its own so
//!   that every function that records an event is granted `AUDIT#` items and nothing more.
//! - `THROTTLE#<key>#<window>` / `THROTTLE`: rate-limit windows (mail caps are keyed by a
//!   digest of the address, and outlive an erasure until their window ends).
//!
//! This file holds the client and the plain reads and updates; `item` is the codec, `tx` the
//! transaction machinery, and each trait is implemented in its own file.
//!
//! Items that expire carry `expires_at` (epoch seconds) for TTL; expiry is always checked in
//! code, since TTL deletion can be days late.

mod accounts;
mod audit;
mod devices;
mod federation;
mod item;
mod login;
mod mail_requests;
mod passkeys;
mod password_step;
mod resets;
mod second_factors;
mod sessions;
mod throttle;
mod tx;
mod users;
mod verifications;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue};
use aws_sdk_dynamodb::Client;

use crate::aws::{sdk_failure, SdkFailure};
use crate::domain::UserId;
use crate::store::{StoreError, StoreResult};
use item::{key, malformed, n, opt_n, Item};

pub const USERS_INDEX: &str = "users-by-id";

impl From<SdkFailure> for StoreError {
    fn from(f: SdkFailure) -> Self {
        if f.transient {
            StoreError::Unavailable(f.message)
        } else {
            StoreError::Backend(f.message)
        }
    }
}

/// An SDK failure as the store reports it.
fn sdk_error<E, R>(operation: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    sdk_failure(operation, err).into()
}

/// The wait before re-sending what a BatchWriteItem left unprocessed (DynamoDB's answer when
/// throttled): 20 ms, doubled at each of the `attempt`s (from 0) that came back short.
fn unprocessed_backoff(attempt: u32) -> Duration {
    Duration::from_millis(20 << attempt)
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// The most items one transaction takes: DynamoDB's limit, 100.
    max_tx_items: usize,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            max_tx_items: 100,
        }
    }

    /// The store with transactions of at most `n` items (at least 8), below DynamoDB's 100: for
    /// tests of what happens when an erasure does not fit in one.
    pub fn with_max_transaction_items(mut self, n: usize) -> Self {
        self.max_tx_items = n.clamp(8, 100);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(super) async fn get(&self, operation: &str, key: Item) -> StoreResult<Option<Item>> {
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

    /// A PutItem without a condition.
    pub(super) async fn put_item(&self, operation: &str, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(operation, e))
    }

    /// Strongly consistent reads of several items in one call, filed by [`item::item_id`].
    pub(super) async fn batch_get(
        &self,
        operation: &str,
        keys: Vec<Item>,
    ) -> StoreResult<HashMap<String, Item>> {
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
                found.insert(item::item_id(&item), item);
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys.is_empty() => {
                    pending = rest;
                    tokio::time::sleep(unprocessed_backoff(attempt)).await;
                }
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable(format!(
            "{operation}: keys left unprocessed"
        )))
    }

    /// An UpdateItem under a condition: false (and nothing written) if the condition fails.
    pub(super) async fn update_if(
        &self,
        operation: &str,
        key: Item,
        expression: &str,
        condition: &str,
        values: Item,
        name: Option<(&str, &str)>,
    ) -> StoreResult<bool> {
        let names = name.map(|(k, v)| HashMap::from([(k.to_string(), v.to_string())]));
        self.update_if_named(operation, key, expression, Some(condition), values, names)
            .await
    }

    /// [`DynamoStore::update_if`] with any number of attribute names (`#n` -> name), and the
    /// condition optional.
    pub(super) async fn update_if_named(
        &self,
        operation: &str,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
        names: Option<HashMap<String, String>>,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_names(names)
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

    /// Every item of partition `pk` (whose `sk` begins with `sk_prefix`, if given), following
    /// the pages of the Query to the end.
    pub(super) async fn query_partition(
        &self,
        operation: &str,
        pk: &str,
        sk_prefix: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let condition = match sk_prefix {
            Some(_) => "pk = :pk AND begins_with(sk, :sk)",
            None => "pk = :pk",
        };
        let mut values = HashMap::from([(":pk".to_string(), item::s(pk))]);
        if let Some(prefix) = sk_prefix {
            values.insert(":sk".into(), item::s(prefix));
        }
        let mut items = vec![];
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(operation, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// A DeleteItem under a condition: false (and nothing deleted) if the condition fails.
    pub(super) async fn delete_if(&self, operation: &str, key: Item, condition: &str) -> StoreResult<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
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

    /// Deletes `keys` in BatchWriteItem calls of 25, retrying what comes back unprocessed
    /// (after [`unprocessed_backoff`]).
    pub(super) async fn batch_delete(&self, operation: &str, keys: Vec<Item>) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys.chunks(25) {
            let mut pending = chunk
                .iter()
                .map(|k| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map_err(|e| StoreError::Backend(e.to_string()))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt == 5 {
                    return Err(StoreError::Unavailable(format!(
                        "{operation}: items left unprocessed"
                    )));
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error(operation, e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(unprocessed_backoff(attempt)).await;
                }
                attempt += 1;
            }
        }
        Ok(())
    }

    pub(super) async fn next_user_id(&self) -> StoreResult<UserId> {
        self.reserve_user_ids(1).await
    }

    /// Reserves `count` consecutive user ids (at least 1) in one counter update: the first.
    pub(super) async fn reserve_user_ids(&self, count: u64) -> StoreResult<UserId> {
        let count = count.max(1);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("COUNTER#users", "COUNTER")))
            .update_expression("ADD #v :one")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":one", n(count))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("next user id", e))?;
        let last: UserId = out
            .attributes
            .as_ref()
            .and_then(|a| opt_n(a, "value"))
            .ok_or_else(|| malformed("counter value"))?;
        Ok(last + 1 - count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprocessed_items_are_resent_after_a_wait_that_doubles() {
        let ms = [0, 1, 2, 4].map(|a| unprocessed_backoff(a).as_millis());
        assert_eq!(ms, [20, 40, 80, 320]);
    }
}
