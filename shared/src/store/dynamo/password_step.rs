//! Login's password step on DynamoDB, around the session's (or second step's) transaction:
//! the check that goes in it, a new device's trust written before it, and the counters
//! settled after it ([`super::login`] counts the attempt).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::*;
use super::login::{DEVICE_FAILS, NETWORKS};
use super::DynamoStore;
use crate::domain::UserId;
use crate::store::{device_credential, StoreResult, VerifiedLogin};

impl DynamoStore {
    /// Login's password step, succeeded, as a transaction item: the check that account
    /// `user_id` still has the verified password and is enabled (index 0 of its transaction).
    pub(super) fn password_check(
        &self,
        login: &VerifiedLogin<'_>,
        user_id: UserId,
    ) -> StoreResult<TransactWriteItem> {
        self.check(
            email_key(login.attempt.email.as_str()),
            "password_hash = :h AND disabled = :f AND user_id = :u",
            HashMap::from([
                (":h".to_string(), s(login.verified_hash)),
                (":f".to_string(), b(false)),
                (":u".to_string(), n(user_id)),
            ]),
        )
    }

    /// A device that is not trusted yet is written before its login's session or second step:
    /// no answer carries a device token that is not stored. (Should what follows fail, the
    /// item trusts a token no one was given.)
    pub(super) async fn trust_new_device(&self, login: &VerifiedLogin<'_>) -> StoreResult<()> {
        if login.trusted_device {
            return Ok(());
        }
        let item = device_item(
            login.attempt.email.as_str(),
            login.device,
            login.verified_hash,
            login.device_expires_at,
        );
        self.put_item("trust device", item).await
    }

    /// After the password step succeeded: the attempt taken back off the counter it was
    /// counted on, in one UpdateItem. A trusted device's counter is cleared, with its trust
    /// renewed if `renew` (for `login_device_ttl` from now, bound to the verified hash); otherwise this
    /// network's counter goes and the success comes off the address's count (which keeps
    /// everyone else's failures). Best effort: should it fail, one attempt too many stays
    /// counted until the counter expires.
    pub(super) async fn settle_password_step(&self, login: &VerifiedLogin<'_>, renew: bool) {
        let email = login.attempt.email.as_str();
        let settled = if login.trusted_device {
            let mut values = HashMap::from([(":e".to_string(), s(email))]);
            let expression = if renew {
                values.extend([
                    (":cr".to_string(), s(device_credential(login.verified_hash))),
                    (":exp".to_string(), n(login.device_expires_at)),
                ]);
                "SET credential = :cr, expires_at = :exp REMOVE #f"
            } else {
                "REMOVE #f"
            };
            self.update_if_named(
                "settle device counter",
                device_key(email, login.device),
                expression,
                Some("email = :e"),
                values,
                Some(HashMap::from([("#f".to_string(), DEVICE_FAILS.to_string())])),
            )
            .await
        } else {
            self.update_if_named(
                "settle login counters",
                loginfail_key(email),
                "SET #c = if_not_exists(#c, :one) - :one REMOVE #nets.#n",
                // Only while the counters are there (a reset, say, deleted them meanwhile).
                Some("attribute_exists(#nets)"),
                HashMap::from([(":one".to_string(), n(1))]),
                Some(HashMap::from([
                    ("#c".to_string(), "count".to_string()),
                    ("#nets".to_string(), NETWORKS.to_string()),
                    ("#n".to_string(), login.attempt.network.to_string()),
                ])),
            )
            .await
        };
        if let Err(e) = settled {
            tracing::warn!(error = %e, "login counter not settled; it expires by itself");
        }
    }
}
