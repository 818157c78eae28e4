//! Accounts on DynamoDB: the profile, the credentials item and the username sentinel,
//! written together.

use std::collections::HashMap;

use async_trait::async_trait;

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::*;
use super::sdk_error;
use super::tx::{cancelled, Tx};
use super::{DynamoStore, USERS_INDEX};
use crate::domain::*;
use crate::store::*;

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let id = self.next_user_id().await?;
        let (user, writes) = self.new_user_writes(id, &new, None);
        match self.transact("create user", writes).await? {
            Tx::Done => Ok(user),
            tx if tx.failed(1) => Err(StoreError::EmailTaken),
            tx if tx.failed(2) => Err(StoreError::UsernameTaken),
            Tx::Cancelled(codes) => Err(cancelled("create user", codes)),
        }
    }

    async fn import_users(&self, users: &[NewUser]) -> StoreResult<Vec<Imported>> {
        // What is registered already: one consistent read of the batch's emails and usernames.
        let keys = users
            .iter()
            .flat_map(|new| [email_key(new.email.as_str()), username_key(&new.username)])
            .collect();
        let found = self.batch_get("import lookup", keys).await?;
        let registered = |key: Item| found.contains_key(&item_id(&key));
        let mut ends: Vec<Option<Imported>> = users
            .iter()
            .map(|new| {
                if registered(email_key(new.email.as_str())) {
                    Some(Imported::EmailTaken)
                } else if registered(username_key(&new.username)) {
                    Some(Imported::UsernameTaken)
                } else {
                    None
                }
            })
            .collect();
        let fresh: Vec<(&mut Option<Imported>, &NewUser)> = ends
            .iter_mut()
            .zip(users)
            .filter(|(end, _)| end.is_none())
            .collect();
        if !fresh.is_empty() {
            // Their ids in one counter update, then their items in as few transactions as fit.
            let first = self.reserve_user_ids(fresh.len() as u64).await?;
            let mut numbered: Vec<(&mut Option<Imported>, &NewUser, UserId)> = fresh
                .into_iter()
                .zip(first..)
                .map(|((end, new), id)| (end, new, id))
                .collect();
            for group in numbered.chunks_mut((self.max_tx_items / 3).max(1)) {
                let writes = group
                    .iter()
                    .flat_map(|(_, new, id)| self.new_user_writes(*id, new, None).1)
                    .collect();
                match self.transact("import users", writes).await? {
                    Tx::Done => {
                        for (end, _, id) in group.iter_mut() {
                            **end = Some(Imported::Created(*id));
                        }
                    }
                    // Someone registered one of these meanwhile: each on its own, as a signup.
                    tx if tx.refused() => {
                        for (end, new, id) in group.iter_mut() {
                            let (_, writes) = self.new_user_writes(*id, new, None);
                            **end = Some(match self.transact("import user", writes).await? {
                                Tx::Done => Imported::Created(*id),
                                tx if tx.failed(1) => Imported::EmailTaken,
                                tx if tx.failed(2) => Imported::UsernameTaken,
                                Tx::Cancelled(codes) => return Err(cancelled("import user", codes)),
                            });
                        }
                    }
                    Tx::Cancelled(codes) => return Err(cancelled("import users", codes)),
                }
            }
        }
        ends.into_iter()
            .map(|end| end.ok_or_else(|| StoreError::Backend("import: a line left undecided".into())))
            .collect()
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.get("get user", user_key(id))
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let Some(credentials) = self.get("get credentials", email_key(email.as_str())).await? else {
            return Ok(None);
        };
        self.user_by_id(get_n(&credentials, "user_id")?).await
    }

    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<UserPage> {
        // One more than asked: whether it comes back says if there is a next page, without
        // trusting LastEvaluatedKey (which can be missing on an exactly full last page).
        let mut users = Vec::new();
        let mut start: Option<Item> = None;
        let after = after.unwrap_or(0);
        while users.len() <= limit as usize {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(USERS_INDEX)
                .key_condition_expression("gsi1pk = :u AND gsi1sk > :after")
                .expression_attribute_values(":u", s("USER"))
                .expression_attribute_values(":after", n(after))
                .limit((limit + 1 - users.len() as u32) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("list users", e))?;
            for item in out.items.unwrap_or_default() {
                users.push(user_from(&item)?);
            }
            // DynamoDB (and moto) leave the key out at the end rather than send an empty one,
            // so no test can tell this guard from `true` (an equivalent mutant); it stays so that
            // an empty key could never restart the query from the first user.
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(UserPage::from_overfetch(users, limit))
    }

    async fn update_user(&self, id: UserId, update: &UserUpdate, now_ms: i64) -> StoreResult<Option<User>> {
        // The profile is written only while its address is the one read, so the credentials
        // item updated beside it (which holds `disabled` for login) is the account's own; an
        // address changed in between is read again.
        for _ in 0..3 {
            let Some(user) = self.user_by_id(id).await? else {
                return Ok(None);
            };
            let mut set = vec![];
            let mut values = HashMap::from([(":e".to_string(), s(&user.email))]);
            if let Some(role) = update.role {
                set.push("#r = :r");
                values.insert(":r".into(), s(role.as_str()));
            }
            if let Some(disabled) = update.disabled {
                set.push("disabled = :d");
                values.insert(":d".into(), b(disabled));
            }
            if let Some(verified) = update.email_verified {
                set.push("email_verified = :v");
                values.insert(":v".into(), b(verified));
            }
            if let Some(metadata) = &update.app_metadata {
                set.push("app_metadata = :m");
                values.insert(":m".into(), s(metadata.to_json()));
            }
            if update.ends_sessions_of(&user) {
                set.push("sessions_valid_after_ms = :now");
                values.insert(":now".into(), n(now_ms.max(user.sessions_valid_after_ms)));
            }
            if set.is_empty() {
                return Ok(Some(user));
            }
            let mut expression = format!("SET {}", set.join(", "));
            if update.email_verified == Some(true) {
                // Verified: an outstanding verification link has nothing left to do.
                expression.push_str(" REMOVE verify_hash");
            }
            let role_name = update.role.map(|_| ("#r", "role"));
            let mut writes = vec![self.update_named(
                user_key(id),
                &expression,
                Some("attribute_exists(pk) AND email = :e"),
                values,
                role_name,
            )];
            if let Some(disabled) = update.disabled {
                writes.push(self.update(
                    email_key(&user.email),
                    "SET disabled = :d",
                    Some("attribute_exists(pk)"),
                    HashMap::from([(":d".to_string(), b(disabled))]),
                ));
            }
            match self.transact("update user", writes).await? {
                Tx::Done => return self.user_by_id(id).await,
                tx if tx.refused() => continue,
                Tx::Cancelled(codes) => return Err(cancelled("update user", codes)),
            }
        }
        Err(StoreError::Unavailable(
            "update user: the account kept changing".into(),
        ))
    }
}

impl DynamoStore {
    /// The writes that create user `id` (each refused if its item exists): the profile, the
    /// credentials by email, and the username's claim, in that order. An account made by a
    /// provider has its address verified and its `identities` counted.
    pub(super) fn new_user_writes(
        &self,
        id: UserId,
        new: &NewUser,
        identities: Option<u32>,
    ) -> (User, Vec<StoreResult<TransactWriteItem>>) {
        let email_verified = new.email_verified || identities.is_some();
        let user = User {
            id,
            username: new.username.as_str().to_string(),
            email: new.email.as_str().to_string(),
            role: new.role,
            disabled: false,
            email_verified,
            created_at: new.created_at,
            sessions_valid_after_ms: 0,
            app_metadata: new.app_metadata.clone(),
        };
        let mut profile = user_key(id);
        profile.extend([
            ("id".into(), n(id)),
            ("username".into(), s(&user.username)),
            ("email".into(), s(&user.email)),
            ("role".into(), s(user.role.as_str())),
            ("disabled".into(), b(false)),
            ("email_verified".into(), b(email_verified)),
            ("created_at".into(), n(user.created_at)),
            ("sessions_valid_after_ms".into(), n(0)),
            ("gsi1pk".into(), s("USER")),
            ("gsi1sk".into(), n(id)),
        ]);
        if let Some(count) = identities {
            profile.insert("identities".into(), n(count));
        }
        // Only a hook's gives an account metadata at creation.
        if !user.app_metadata.is_empty() {
            profile.insert("app_metadata".into(), s(user.app_metadata.to_json()));
        }
        let mut credentials = email_key(&user.email);
        credentials.extend([
            ("user_id".into(), n(id)),
            ("username".into(), s(&user.username)),
            ("email".into(), s(&user.email)),
            ("password_hash".into(), s(&new.password_hash)),
            ("disabled".into(), b(false)),
        ]);
        let mut sentinel = username_key(&new.username);
        sentinel.insert("user_id".into(), n(id));
        let fresh = Some("attribute_not_exists(pk)");
        let writes = vec![
            self.put(profile, fresh),
            self.put(credentials, fresh),
            self.put(sentinel, fresh),
        ];
        (user, writes)
    }
}

/// A username's uniqueness sentinel.
fn username_key(username: &Username) -> Item {
    key(format!("USERNAME#{}", username.key()), "USERNAME")
}
