//! Accounts that move over from the team's old system through the user-migration hook
//! ([`crate::hooks::migration`]): at the login of an unknown email, with the password the client
//! sent, and at a forgot-password for one, from the mailer, without a password.

use super::audit;
use crate::domain::audit::{Actor, AuditEvent, Details, EventType, Method};
use crate::domain::{Email, Password, SeenFrom, User, Username};
use crate::error::ApiError;
use crate::hooks::signup::{SignupAttempt, SignupMethod, Verdict};
use crate::state::AppState;
use crate::store::{NewUser, StoreError};

/// What asking about an unknown email came to.
pub enum Migration {
    /// The old system has no such user (or no hook is set).
    NoSuchUser,
    /// The before-signup hook refused the account, with this detail.
    Refused(String),
    /// The account exists now, with this password hash (argon2id, or empty without a password).
    Created { user: User, password_hash: String },
    /// Another request created an account with this email meanwhile.
    Raced,
}

/// How many usernames an account is tried with (the hook's, then with random suffixes).
const USERNAME_ATTEMPTS: usize = 5;

/// Asks the user-migration hook about `email` (with `password` at a login) and, when the old
/// system has the user and the before-signup hook allows it, creates the account: the username
/// the hook gave, made unique; the password hashed as any other (argon2id), whatever today's
/// policy says of it, since the user chose it under the old system's. A hook that fails is an
/// error (503), and nothing is created.
pub async fn migrate(
    state: &AppState,
    email: &Email,
    password: Option<&Password>,
    seen: &SeenFrom,
) -> Result<Migration, ApiError> {
    let Some(migrated) = state.hooks.migrate_user(email, password).await? else {
        return Ok(Migration::NoSuchUser);
    };
    let attempt = SignupAttempt {
        email: email.as_str(),
        username: migrated.username.as_str(),
        ip: &seen.ip,
        user_agent: &seen.user_agent,
        method: SignupMethod::UserMigration,
        email_verified: migrated.email_verified,
    };
    // The before-signup hook's metadata, when it gives any, is the account's; else the
    // migration hook's.
    let app_metadata = match state.hooks.before_signup(&attempt).await? {
        Verdict::Allow { app_metadata } if !app_metadata.is_empty() => app_metadata,
        Verdict::Allow { .. } => migrated.app_metadata,
        Verdict::Deny { detail } => {
            tracing::info!("user migration refused by the before-signup hook");
            return Ok(Migration::Refused(detail));
        }
    };
    let password_hash = match password {
        Some(password) => state.hasher.hash(password).await?,
        None => String::new(),
    };
    for attempt in 0..USERNAME_ATTEMPTS {
        let username = if attempt == 0 {
            migrated.username.clone()
        } else {
            Username::with_random_suffix(migrated.username.as_str())
        };
        let new = NewUser {
            username,
            email: email.clone(),
            password_hash: password_hash.clone(),
            created_at: state.clock.now(),
            app_metadata: app_metadata.clone(),
            role: crate::domain::Role::User,
            email_verified: migrated.email_verified,
        };
        match state.users.create_user(new).await {
            Ok(user) => {
                tracing::info!(user_id = user.id, "account moved over by the user-migration hook");
                let event = AuditEvent::new(EventType::Signup, Actor::System, state.clock.now_ms(), seen)
                    .details(Details::method(Method::Migration));
                audit::record(state, user.id, event).await;
                return Ok(Migration::Created { user, password_hash });
            }
            Err(StoreError::UsernameTaken) => continue,
            Err(StoreError::EmailTaken) => return Ok(Migration::Raced),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable("no free username found".into()))
}
