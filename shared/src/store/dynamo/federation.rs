//! Provider identities on DynamoDB: each in its account's `FED#` partition, with a claim on its
//! (issuer, subject) that names the account (an identity is linked once, to one account; a
//! sign-in finds the account by it); and the one-time records of a provider sign-in
//! (`OAUTH#<hash>`, with a TTL), each spent by one conditional delete.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::item::*;
use super::tx::{cancelled, Tx};
use super::{sdk_error, DynamoStore};
use crate::domain::{RefreshToken, Session, UserId};
use crate::store::*;

/// How often an unlink reads again when the account changed between its read and its write.
const UNLINK_ROUNDS: usize = 3;

fn identity_attributes(item: &mut Item, user_id: UserId, i: &Identity) {
    item.extend([
        ("user_id".into(), n(user_id)),
        ("id".into(), s(&i.id)),
        ("provider".into(), s(&i.provider)),
        ("issuer".into(), s(&i.issuer)),
        ("subject".into(), s(&i.subject)),
        ("created_at".into(), n(i.created_at)),
    ]);
    if let Some(email) = &i.email {
        item.insert("email".into(), s(email));
    }
}

fn identity_from(item: &Item) -> StoreResult<Identity> {
    Ok(Identity {
        id: get_s(item, "id")?,
        provider: get_s(item, "provider")?,
        issuer: get_s(item, "issuer")?,
        subject: get_s(item, "subject")?,
        email: opt_s(item, "email"),
        created_at: get_n(item, "created_at")?,
    })
}

impl DynamoStore {
    /// The identity's item and its claim, each refused if it exists.
    fn identity_writes(
        &self,
        user_id: UserId,
        identity: &Identity,
    ) -> [StoreResult<aws_sdk_dynamodb::types::TransactWriteItem>; 2] {
        let fresh = Some("attribute_not_exists(pk)");
        let mut claim = identity_claim_key(&identity.issuer, &identity.subject);
        identity_attributes(&mut claim, user_id, identity);
        let mut item = identity_key(user_id, &identity.id);
        identity_attributes(&mut item, user_id, identity);
        [self.put(claim, fresh), self.put(item, fresh)]
    }
}

#[async_trait]
impl FederationStore for DynamoStore {
    async fn put_handoff(
        &self,
        kind: Handoff,
        hash: &str,
        payload: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut item = handoff_key(kind.as_str(), hash);
        item.extend([
            ("payload".into(), s(payload)),
            ("expires_at".into(), n(expires_at)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("put oauth handoff", e))
    }

    async fn take_handoff(&self, kind: Handoff, hash: &str, now: i64) -> StoreResult<Option<String>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(handoff_key(kind.as_str(), hash)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("take oauth handoff", e))?;
        let Some(item) = out.attributes.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        // The table's TTL deletes late: an expired record is refused here.
        if get_n::<i64>(&item, "expires_at")? <= now {
            return Ok(None);
        }
        get_s(&item, "payload").map(Some)
    }

    async fn identity(&self, issuer: &str, subject: &str) -> StoreResult<Option<(UserId, Identity)>> {
        self.get("get identity", identity_claim_key(issuer, subject))
            .await?
            .map(|claim| Ok((get_n(&claim, "user_id")?, identity_from(&claim)?)))
            .transpose()
    }

    async fn identities(&self, user_id: UserId) -> StoreResult<Vec<Identity>> {
        let items = self
            .query_partition(
                "list identities",
                &identities_partition(user_id),
                Some("IDENTITY#"),
            )
            .await?;
        let mut identities = items.iter().map(identity_from).collect::<StoreResult<Vec<_>>>()?;
        identities.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(identities)
    }

    async fn link_identity(&self, user_id: UserId, identity: &Identity) -> StoreResult<LinkEnd> {
        let [claim, item] = self.identity_writes(user_id, identity);
        // The profile counts its identities (an erasure deletes it only at the count it listed).
        let enabled = self.update(
            user_key(user_id),
            "ADD identities :one",
            Some("attribute_exists(pk) AND (attribute_not_exists(disabled) OR disabled = :f)"),
            HashMap::from([(":f".to_string(), b(false)), (":one".to_string(), n(1))]),
        );
        match self.transact("link identity", vec![claim, item, enabled]).await? {
            Tx::Done => Ok(LinkEnd::Linked),
            tx if tx.failed(0) => Ok(match self.identity(&identity.issuer, &identity.subject).await? {
                Some((owner, _)) if owner == user_id => LinkEnd::AlreadyLinked,
                _ => LinkEnd::Taken,
            }),
            tx if tx.failed(2) => Ok(LinkEnd::Gone),
            Tx::Cancelled(codes) => Err(cancelled("link identity", codes)),
        }
    }

    async fn create_federated_user(&self, new: &NewUser, identity: &Identity) -> StoreResult<CreateEnd> {
        let id = self.next_user_id().await?;
        let (user, mut writes) = self.new_user_writes(id, new, Some(1));
        writes.extend(self.identity_writes(id, identity));
        match self.transact("create federated user", writes).await? {
            Tx::Done => Ok(CreateEnd::Created(user)),
            tx if tx.failed(1) => Ok(CreateEnd::EmailTaken),
            tx if tx.failed(2) => Ok(CreateEnd::UsernameTaken),
            tx if tx.failed(3) => Ok(CreateEnd::IdentityTaken),
            Tx::Cancelled(codes) => Err(cancelled("create federated user", codes)),
        }
    }

    async fn unlink_identity(&self, user_id: UserId, email: &str, id: &str) -> StoreResult<UnlinkEnd> {
        for _ in 0..UNLINK_ROUNDS {
            let Some(item) = self.get("get identity", identity_key(user_id, id)).await? else {
                return Ok(UnlinkEnd::NotFound);
            };
            let identity = identity_from(&item)?;
            let items = self
                .batch_get(
                    "unlink lookup",
                    vec![email_key(email), factors_key(user_id), user_key(user_id)],
                )
                .await?;
            let credentials = items.get(&item_id(&email_key(email)));
            let password = credentials
                .filter(|c| opt_n::<UserId>(c, "user_id") == Some(user_id))
                .and_then(|c| opt_s(c, "password_hash"))
                .filter(|h| !h.is_empty());
            let passkeys: u32 = items
                .get(&item_id(&factors_key(user_id)))
                .and_then(|f| opt_n(f, "passkeys"))
                .unwrap_or(0);
            let linked: u32 = items
                .get(&item_id(&user_key(user_id)))
                .and_then(|p| opt_n(p, "identities"))
                .unwrap_or(0);
            // The way that stays, checked in the same transaction; the count of identities
            // always (a link or unlink meanwhile makes it read again).
            // (Another identity stays: the count's own condition below holds it.)
            let stays = if let Some(hash) = &password {
                Some(self.check(
                    email_key(email),
                    "password_hash = :h AND user_id = :u",
                    HashMap::from([(":h".to_string(), s(hash)), (":u".to_string(), n(user_id))]),
                ))
            } else if linked > 1 {
                None
            } else if passkeys > 0 {
                Some(self.check(
                    factors_key(user_id),
                    "passkeys = :seen",
                    HashMap::from([(":seen".to_string(), n(passkeys))]),
                ))
            } else {
                return Ok(UnlinkEnd::LastWay);
            };
            let mut writes = vec![
                self.delete(identity_key(user_id, id), Some("attribute_exists(pk)"), None),
                self.delete(
                    identity_claim_key(&identity.issuer, &identity.subject),
                    None,
                    None,
                ),
                self.update(
                    user_key(user_id),
                    "SET identities = :left",
                    Some("identities = :seen"),
                    HashMap::from([
                        (":left".to_string(), n(linked.saturating_sub(1))),
                        (":seen".to_string(), n(linked)),
                    ]),
                ),
            ];
            writes.extend(stays);
            match self.transact("unlink identity", writes).await? {
                Tx::Done => return Ok(UnlinkEnd::Removed),
                tx if tx.refused() => continue,
                Tx::Cancelled(codes) => return Err(cancelled("unlink identity", codes)),
            }
        }
        Err(StoreError::Unavailable(
            "unlink identity: the account kept changing".into(),
        ))
    }

    async fn start_federated_session(&self, session: &Session, first: &RefreshToken) -> StoreResult<bool> {
        let enabled = self.check(
            user_key(session.user_id),
            "attribute_exists(pk) AND (attribute_not_exists(disabled) OR disabled = :f)",
            HashMap::from([(":f".to_string(), b(false))]),
        );
        let mut writes = vec![enabled];
        writes.extend(self.session_puts(session, first));
        match self.transact("start federated session", writes).await? {
            Tx::Done => Ok(true),
            tx if tx.failed(0) => Ok(false),
            Tx::Cancelled(codes) => Err(cancelled("start federated session", codes)),
        }
    }
}
