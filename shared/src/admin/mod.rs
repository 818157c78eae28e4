//! Operator actions behind the `authyy-admin` tool, on any store: create an admin, change roles,
//! disable, verify and delete accounts, end sessions, list users, list, rotate and retire
//! signing keys.

use crate::domain::{check_strength, AppMetadata, Email, Invalid, Password, Role, User, Username};
use crate::hashing::Hasher;
use std::time::Duration;

mod operator_log;

use crate::domain::audit::{Actor, AuditEvent, Details, EventType, Method};
pub use operator_log::OperatorLog;

use crate::keys::{random_key, rotation, KeyError, KeyState, KeyStore, LifecycleError};
use crate::store::{
    AccountStore, Erasure, MfaStore, NewUser, SessionStore, StoreError, UserStore, UserUpdate,
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no user with the email {0}")]
    NoSuchUser(String),
    #[error("{what} {value:?} is not valid: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error("{0}")]
    Other(String),
}

fn invalid<'a>(what: &'static str, value: &'a str) -> impl FnOnce(Invalid) -> AdminError + 'a {
    move |Invalid(reason)| AdminError::Invalid {
        what,
        value: value.to_string(),
        reason,
    }
}

pub fn parse_email(raw: &str) -> Result<Email, AdminError> {
    Email::parse(raw).map_err(invalid("email", raw))
}

/// The user registered with `raw_email`.
pub async fn find(store: &dyn UserStore, raw_email: &str) -> Result<User, AdminError> {
    let email = parse_email(raw_email)?;
    store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(email.to_string()))
}

/// The account `create-admin` makes, as the operator typed it.
pub struct NewAdmin<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Creates a user with the admin role; the password policy applies as at signup.
pub async fn create_admin(
    store: &dyn UserStore,
    hasher: &Hasher,
    new: NewAdmin<'_>,
    min_score: u8,
    now: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let NewAdmin {
        username,
        email,
        password,
    } = new;
    let username = Username::parse(username).map_err(invalid("username", username))?;
    let email = parse_email(email)?;
    let password = Password::new(password).map_err(|Invalid(reason)| AdminError::Invalid {
        what: "password",
        value: "***".into(),
        reason,
    })?;
    check_strength(&password, username.as_str(), email.local_part(), min_score).map_err(
        |Invalid(reason)| AdminError::Invalid {
            what: "password",
            value: "***".into(),
            reason,
        },
    )?;
    let password_hash = hasher
        .hash(&password)
        .await
        .map_err(|e| AdminError::Other(e.to_string()))?;
    let user = match store
        .create_user(NewUser {
            username,
            email,
            password_hash,
            created_at: now,
            app_metadata: AppMetadata::default(),
            role: Role::Admin,
            email_verified: false,
        })
        .await
    {
        Ok(user) => user,
        Err(StoreError::EmailTaken) => return Err(AdminError::Conflict("Email already registered")),
        Err(StoreError::UsernameTaken) => return Err(AdminError::Conflict("Username already taken")),
        Err(e) => return Err(e.into()),
    };
    let event = OperatorLog::event(EventType::Signup, now * 1000).details(Details::method(Method::Cli));
    log.record(user.id, event).await;
    Ok(user)
}

/// Applies `update` to the user of `email` (see [`UserStore::update_user`]: disabling or
/// demoting ends every session at once) and answers with the user as it now is.
pub async fn update(
    store: &dyn UserStore,
    email: &str,
    update: &UserUpdate,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let user = find(store, email).await?;
    let updated = store
        .update_user(user.id, update, now_ms)
        .await?
        .ok_or(AdminError::NoSuchUser(user.email))?;
    let event = OperatorLog::event(EventType::UserUpdated, now_ms).details(Details {
        changed: update.changed(),
        ..Details::default()
    });
    log.record(updated.id, event).await;
    Ok(updated)
}

/// A demotion ends every session of the user at once.
pub async fn set_role(
    store: &dyn UserStore,
    email: &str,
    role: Role,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let change = UserUpdate {
        role: Some(role),
        ..UserUpdate::default()
    };
    update(store, email, &change, now_ms, log).await
}

/// Disabling also ends every session of the user at once.
pub async fn set_disabled(
    store: &dyn UserStore,
    email: &str,
    disabled: bool,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let change = UserUpdate {
        disabled: Some(disabled),
        ..UserUpdate::default()
    };
    update(store, email, &change, now_ms, log).await
}

/// Marks the user's address verified, as a verification link would.
pub async fn verify_email(
    store: &dyn UserStore,
    email: &str,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let change = UserUpdate {
        email_verified: Some(true),
        ..UserUpdate::default()
    };
    update(store, email, &change, now_ms, log).await
}

/// Replaces the user's `app_metadata` with `json` (a JSON object of at most 2 KiB).
pub async fn set_metadata(
    store: &dyn UserStore,
    email: &str,
    json: &str,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let refused = |reason: String| AdminError::Invalid {
        what: "app_metadata",
        value: json.chars().take(80).collect(),
        reason,
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| refused(e.to_string()))?;
    let metadata = AppMetadata::new(value).map_err(|Invalid(reason)| refused(reason))?;
    let change = UserUpdate {
        app_metadata: Some(metadata),
        ..UserUpdate::default()
    };
    update(store, email, &change, now_ms, log).await
}

/// Erases the account of `email` and everything it owns, as `DELETE /auth/me` does but
/// without its password. Its email and username can sign up again.
pub async fn delete_user(
    users: &dyn UserStore,
    accounts: &dyn AccountStore,
    email: &str,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let user = find(users, email).await?;
    let record = AuditEvent::deletion_record(Actor::System, now_ms);
    let erasure = Erasure {
        user: &user,
        password_hash: None,
        record: &record,
        record_expires_at: log.expires_at(now_ms),
    };
    if !accounts.delete_account(&erasure).await? {
        return Err(AdminError::NoSuchUser(user.email));
    }
    Ok(user)
}

pub async fn end_sessions(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    email: &str,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let user = find(users, email).await?;
    sessions.revoke_all_sessions(user.id, now_ms).await?;
    log.record(user.id, OperatorLog::event(EventType::LogoutAll, now_ms))
        .await;
    Ok(user)
}

/// Removes every second factor of the user of `email` (TOTP, recovery codes, an enrolment, the
/// login code counter) and ends every session.
pub async fn reset_mfa(
    users: &dyn UserStore,
    mfa: &dyn MfaStore,
    email: &str,
    now_ms: i64,
    log: OperatorLog<'_>,
) -> Result<User, AdminError> {
    let user = find(users, email).await?;
    mfa.reset_second_factors(user.id, now_ms).await?;
    log.record(user.id, OperatorLog::event(EventType::MfaDisabled, now_ms))
        .await;
    Ok(user)
}

/// The newest `limit` events of the log of the user of `email`, newest first.
pub async fn events(
    users: &dyn UserStore,
    audit: &dyn crate::store::audit::AuditStore,
    email: &str,
    limit: usize,
    now: i64,
) -> Result<(User, Vec<AuditEvent>), AdminError> {
    let user = find(users, email).await?;
    let events = operator_log::read_log(audit, user.id, limit, now).await?;
    Ok((user, events))
}

/// Every user in id order, fetched page by page.
pub async fn list(store: &dyn UserStore, limit: usize) -> Result<Vec<User>, AdminError> {
    let mut users = Vec::new();
    let mut after = None;
    while users.len() < limit {
        let page = store
            .list_users(after, (limit - users.len()).min(200) as u32)
            .await?;
        users.extend(page.users);
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(users)
}

/// A key as `keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub state: KeyState,
    pub published_at: i64,
    /// Whether the public key set (the JWKS) holds it.
    pub published: bool,
}

/// The RSA keys of the lifecycle (current, next, previous), and whether each is published.
pub async fn list_keys(keys: &dyn KeyStore) -> Result<Vec<KeyRow>, AdminError> {
    let private = keys.load().await?;
    let public = keys.load_public().await?;
    Ok(private
        .lifecycle()?
        .keys()
        .into_iter()
        .map(|(state, key)| KeyRow {
            kid: key.kid().to_string(),
            state,
            published_at: key.published_at,
            published: public.decoding(key.kid()).is_some(),
        })
        .collect())
}

/// One lifecycle step, as the scheduled rotation does: the next key signs (once it has been
/// published for `min_published`, see [`crate::keys::lifecycle::min_published`]), the current
/// one becomes previous, and a new next key is published.
pub async fn rotate_keys(
    keys: &dyn KeyStore,
    now: i64,
    min_published: Duration,
) -> Result<Vec<KeyRow>, AdminError> {
    rotation::rotate(keys, now, min_published).await?;
    list_keys(keys).await
}

/// A new HMAC key signs refresh tokens from now on; the earlier ones keep verifying (remove one
/// from the secret only once the refresh-token lifetime has passed). Returns the key ids, the
/// signing one first.
/// Written only over the set it read (a retire or rotation meanwhile is read again), so it
/// cannot put back a key retired in between.
pub async fn rotate_refresh_key(keys: &dyn KeyStore, now: i64) -> Result<Vec<String>, AdminError> {
    let mut attempt = 0;
    let (private, kid) = loop {
        let (mut private, version) = keys.load_versioned().await?;
        let mut kid = format!("k{now}");
        while private.hmac.verifying(&kid).is_some() {
            kid.push('x');
        }
        private.hmac = private.hmac.rotated(kid.clone(), random_key())?;
        match keys.save_if(&private, &version).await {
            Err(crate::keys::KeyError::Conflict(_)) if attempt < 8 => attempt += 1,
            saved => break saved.map(|()| (private, kid))?,
        }
    };
    let mut kids: Vec<String> = private.hmac.kids().into_iter().map(str::to_string).collect();
    kids.retain(|k| *k != kid);
    kids.insert(0, kid);
    Ok(kids)
}

/// Removes a compromised key at once; its tokens are refused once the verifiers' caches expire.
pub async fn retire_key(keys: &dyn KeyStore, kid: &str, now: i64) -> Result<Vec<KeyRow>, AdminError> {
    rotation::retire(keys, kid, now).await?;
    list_keys(keys).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HashCost;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn every_operator_action_answers_with_the_user_as_it_now_is() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("authyy.sqlite3")).expect("a store");
        let cost = HashCost {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = Hasher::new(cost).expect("a hasher");
        let email = "root@example.com";
        let stored = |user: &User| {
            let (store, id) = (&store, user.id);
            async move { store.user_by_id(id).await.expect("read").expect("the user") }
        };
        let log = OperatorLog {
            audit: &store,
            retention: Duration::from_secs(86_400),
        };

        let admin = create_admin(
            &store,
            &hasher,
            NewAdmin {
                username: "root",
                email,
                password: "correct horse battery staple",
            },
            3,
            0,
            log,
        )
        .await
        .expect("created");
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(stored(&admin).await, admin);
        let demoted = set_role(&store, email, Role::User, 1000, log)
            .await
            .expect("demoted");
        assert_eq!(demoted.role, Role::User);
        assert_eq!(stored(&demoted).await, demoted);
        let disabled = set_disabled(&store, email, true, 2000, log)
            .await
            .expect("disabled");
        assert!(disabled.disabled);
        assert_eq!(stored(&disabled).await, disabled);
        let verified = verify_email(&store, email, 3000, log).await.expect("verified");
        assert!(verified.email_verified);
        assert_eq!(stored(&verified).await, verified);
        let tagged = set_metadata(&store, email, r#"{"plan":"pro"}"#, 4000, log)
            .await
            .expect("set");
        assert_eq!(tagged.app_metadata.to_json(), r#"{"plan":"pro"}"#);
        assert_eq!(stored(&tagged).await, tagged);
        for refused in ["[1]", "{", &format!(r#"{{"k":"{}"}}"#, "x".repeat(2048))] {
            let err = set_metadata(&store, email, refused, 5000, log).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    AdminError::Invalid {
                        what: "app_metadata",
                        ..
                    }
                ),
                "{refused}"
            );
        }
        assert_eq!(list(&store, 10).await.expect("listed"), [tagged]);
        assert_eq!(list(&store, 0).await.expect("listed"), []);

        // Each action is in the account's log, as the operator's tool (`system`), newest first.
        let (_, log_events) = events(&store, &store, email, 10, 0).await.expect("events");
        let seen: Vec<_> = log_events
            .iter()
            .map(|e| (e.kind, e.actor, e.details.changed.clone()))
            .collect();
        use crate::domain::audit::Field;
        assert_eq!(
            seen,
            [
                (EventType::UserUpdated, Actor::System, vec![Field::AppMetadata]),
                (EventType::UserUpdated, Actor::System, vec![Field::EmailVerified]),
                (EventType::UserUpdated, Actor::System, vec![Field::Disabled]),
                (EventType::UserUpdated, Actor::System, vec![Field::Role]),
                (EventType::Signup, Actor::System, vec![]),
            ]
        );
        assert_eq!(
            events(&store, &store, email, 2, 0).await.expect("events").1,
            log_events[..2]
        );
    }

    #[tokio::test]
    async fn a_rotated_refresh_key_signs_from_then_on_and_the_earlier_ones_keep_verifying() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let keys = SqliteStore::open(&dir.path().join("authyy.sqlite3")).expect("a store");
        let before = keys.load().await.expect("keys").hmac;
        let old = before.signing().0.to_string();

        let kids = rotate_refresh_key(&keys, 1_800_000_000).await.expect("rotated");
        let after = keys.load().await.expect("keys").hmac;
        assert_eq!(kids, [after.signing().0.to_string(), old.clone()]);
        assert_ne!(kids[0], old);
        assert!(after.verifying(&old).is_some());
        // Rotated twice in one second: a new key id all the same.
        let again = rotate_refresh_key(&keys, 1_800_000_000).await.expect("rotated");
        assert_eq!(again.len(), 3);
        assert_ne!(again[0], kids[0]);
    }
}
