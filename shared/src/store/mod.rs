//! Storage: small traits by capability (users, sessions, reset and verification tokens,
//! throttle counters, second factors, passkeys, the audit trail),
//! shaped for DynamoDB (conditional writes, one item per token) and mirrored by SQLite. Every
//! race the API allows is settled inside one store call, never in endpoint code.
//!
//! - [`sqlite`]: local mode, one file, immediate transactions.
//! - [`dynamo`]: production, one DynamoDB table, conditional writes and transactions.

pub mod audit;
pub mod devices;
pub mod dynamo;
mod federation;
mod mailed;
mod passkeys;
mod second_factors;
pub mod sqlite;

use async_trait::async_trait;

use crate::config::LoginRules;
pub use crate::domain::backoff::LoginFailures;
use crate::domain::{AppMetadata, Email, RefreshToken, Role, SeenFrom, Session, User, UserId, Username};
pub use federation::{CreateEnd, FederationStore, Handoff, Identity, LinkEnd, UnlinkEnd};
pub use mailed::{
    Consumed, MailRequest, MailRequestKind, PendingEmailChange, Purpose, ResetToken, VerifyToken,
};
pub use passkeys::{
    AddEnd, Ceremony, FirstFactor, PasskeyAddition, PasskeyChallenge, PasskeyStore, PasskeyUse,
    StoredPasskey, UseEnd, MAX_PASSKEYS,
};
pub use second_factors::{
    code_lock, CodeAttempt, ConfirmEnd, FactorRecord, MfaChallenge, MfaStore, PendingTotp, Proof, SecondStep,
    SecondStepEnd, StoredTotp, TotpConfirmation, CODE_FAILURE_LIMIT,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email already registered")]
    EmailTaken,
    #[error("username already taken")]
    UsernameTaken,
    /// Throttled, timed out or unreachable: worth a retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub created_at: i64,
    /// What the before-signup hook gave the account (empty for none).
    pub app_metadata: AppMetadata,
    /// `User` but for an operator's account or an import.
    pub role: Role,
    /// Whether the address is known to be the user's already (an import, a migration hook).
    pub email_verified: bool,
}

/// What login needs, read by email in one call.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub disabled: bool,
}

/// One login attempt as the failure counters see it: failures are counted per (email, client
/// network) and per email from every network (see [`LoginRules`]), whether or not the
/// account exists, so the backoff itself cannot reveal which emails are registered.
#[derive(Debug, Clone, Copy)]
pub struct LoginAttempt<'a> {
    pub email: &'a Email,
    /// The client's network (`http::client_ip`).
    pub network: &'a str,
    /// The hash of the device token the client presented, if any (OWASP's device cookie).
    pub device: Option<&'a str>,
    pub now: i64,
}

/// What a device token is bound to: a digest of the password hash it logged in with. A device
/// is trusted only while the account still has that password, so a reset (or any password
/// change) ends the trust of every device at once, and the address's next owner inherits none.
pub fn device_credential(password_hash: &str) -> String {
    crate::randomness::token_hash(password_hash)
}

/// What [`SessionStore::begin_login`] decided.
#[derive(Debug, Clone)]
pub enum LoginStart {
    /// The attempt is counted: verify the password (or spend the same work, with no account) now.
    Reserved {
        /// The credentials, if the email is registered.
        credentials: Option<Credentials>,
        /// The attempt presented a live device token of this email, and was counted on that
        /// device's own counter instead of its network's and its email's: a device that logged
        /// in before is not held back by strangers' failures.
        trusted_device: bool,
    },
    /// A counter is locked: nothing was counted; retry after this many seconds (at least 1).
    Locked { retry_after: u64 },
}

/// A re-authentication attempt from a live session, for
/// [`SessionStore::begin_reauthentication`].
#[derive(Debug, Clone, Copy)]
pub struct Reauthentication<'a> {
    pub email: &'a Email,
    pub sid: &'a str,
    pub now: i64,
}

/// A login whose password was verified, for [`SessionStore::start_session`].
#[derive(Debug, Clone, Copy)]
pub struct VerifiedLogin<'a> {
    pub attempt: &'a LoginAttempt<'a>,
    /// The password hash that was verified.
    pub verified_hash: &'a str,
    /// As [`LoginStart::Reserved`] said.
    pub trusted_device: bool,
    /// The hash of the device token the answer carries (the one presented, when trusted, or
    /// a new one), and when it stops being trusted.
    pub device: &'a str,
    pub device_expires_at: i64,
}

/// Everything a refresh needs, read in one call.
#[derive(Debug, Clone, Default)]
pub struct RefreshState {
    pub token: Option<RefreshToken>,
    pub session: Option<Session>,
    pub user: Option<User>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// This call rotated the token; the successor is stored.
    Rotated,
    /// Another call got there first: this is the token as it now stands.
    AlreadyRotated(RefreshToken),
    /// The token or its session is gone or revoked.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<User>,
    /// The id to continue after, when there are more.
    pub next_after: Option<UserId>,
}

impl UserPage {
    /// A page from up to `limit + 1` users in id order: whether the extra one came back says
    /// whether there is a next page (no backend's "more" marker is trusted).
    pub fn from_overfetch(mut users: Vec<User>, limit: u32) -> UserPage {
        let limit = limit as usize;
        let next_after = if users.len() > limit {
            users.truncate(limit);
            users.last().map(|u| u.id)
        } else {
            None
        };
        UserPage { users, next_after }
    }
}

/// An administrator's change to an account, for [`UserStore::update_user`]: each field that
/// is `Some` is set, the others are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub email_verified: Option<bool>,
    /// Replaces the whole object.
    pub app_metadata: Option<AppMetadata>,
}

impl UserUpdate {
    /// Whether applying this to `user` ends its sessions: disabling it, or taking away its
    /// admin role (an access token keeps the scope it was issued with until it expires, so the
    /// sessions go rather than their tokens outliving the right).
    pub fn ends_sessions_of(&self, user: &User) -> bool {
        let demoted = user.role == Role::Admin && self.role == Some(Role::User);
        self.disabled == Some(true) || demoted
    }
}

/// What became of one account of an import ([`UserStore::import_users`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created(UserId),
    /// The address is registered: the line is skipped.
    EmailTaken,
    /// The username is taken: nothing written for this line (the caller may try another).
    UsernameTaken,
}

/// How many accounts [`UserStore::import_users`] takes at once: 25 users are 75 items of one
/// DynamoDB transaction (at most 100).
pub const IMPORT_BATCH: usize = 25;

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user with the next integer id; [`StoreError::EmailTaken`] or
    /// [`StoreError::UsernameTaken`] if either is registered (exactly one of racing calls wins).
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;
    /// Creates up to [`IMPORT_BATCH`] users, each as [`UserStore::create_user`] would (the same
    /// conditions, so a signup racing the import is settled as between two signups), in far
    /// fewer writes: what became of each, in order. Emails and usernames within `users` must
    /// differ (the import checks its file first).
    async fn import_users(&self, users: &[NewUser]) -> StoreResult<Vec<Imported>>;
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// Users in id order, after `after`, at most `limit`.
    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<UserPage>;
    /// Applies `update` to the account in one atomic step and returns it as it now is; when
    /// the update [ends its sessions](UserUpdate::ends_sessions_of), every session that began
    /// at or before `now_ms` ends in the same step. None if there is no such user.
    async fn update_user(&self, id: UserId, update: &UserUpdate, now_ms: i64) -> StoreResult<Option<User>>;

    /// Sets the role (a demotion ends the sessions); false if there is no such user.
    async fn set_role(&self, id: UserId, role: Role, now_ms: i64) -> StoreResult<bool> {
        let update = UserUpdate {
            role: Some(role),
            ..UserUpdate::default()
        };
        Ok(self.update_user(id, &update, now_ms).await?.is_some())
    }
    /// Disables or re-enables the account; disabling also ends its sessions. False if no user.
    async fn set_disabled(&self, id: UserId, disabled: bool, now_ms: i64) -> StoreResult<bool> {
        let update = UserUpdate {
            disabled: Some(disabled),
            ..UserUpdate::default()
        };
        Ok(self.update_user(id, &update, now_ms).await?.is_some())
    }
    /// Marks the address verified (by an administrator). False if there is no such user.
    async fn set_email_verified(&self, id: UserId) -> StoreResult<bool> {
        let update = UserUpdate {
            email_verified: Some(true),
            ..UserUpdate::default()
        };
        Ok(self.update_user(id, &update, 0).await?.is_some())
    }
}

/// Login, sessions and refresh tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a login attempt: reads the credentials for the attempt's email and, in one atomic
    /// step, reserves the attempt on its (email, network) counter and its email's counter, unless
    /// either is locked. Of racing attempts, each is counted once and none passes a lock, so no
    /// more passwords are verified than the rules allow.
    async fn begin_login(&self, attempt: &LoginAttempt<'_>, rules: &LoginRules) -> StoreResult<LoginStart>;
    /// Replaces the password hash if it is still `old` (re-hash with new parameters).
    async fn upgrade_password_hash(&self, email: &Email, old: &str, new: &str) -> StoreResult<bool>;
    /// Starts a session with its first refresh token, only if the account still has the
    /// password hash that was verified and is not disabled; in the same step clears the
    /// attempt's counters (its network's, and its device's when trusted), takes the successful
    /// attempt back off the email's counter (when it was counted there), and stores or renews
    /// the device token. False if the account changed meanwhile: nothing is written.
    async fn start_session(
        &self,
        login: &VerifiedLogin<'_>,
        session: &Session,
        first: &RefreshToken,
    ) -> StoreResult<bool>;
    /// Starts a re-authentication: the signed-in user of session `sid` confirming a change with
    /// the password. The attempt is reserved on that session's own counter (backing off as a
    /// network's does), never on the email's: strangers' failures cannot lock a signed-in owner
    /// out of their own account, and a stolen session guesses no faster than a network.
    async fn begin_reauthentication(
        &self,
        attempt: &Reauthentication<'_>,
        rules: &LoginRules,
    ) -> StoreResult<LoginStart>;
    /// A re-authentication whose password was right: the session's counter is forgotten.
    async fn settle_reauthentication(&self, attempt: &Reauthentication<'_>) -> StoreResult<()>;
    /// The user and the session, in one read.
    async fn session_with_user(
        &self,
        user_id: UserId,
        sid: &str,
    ) -> StoreResult<(Option<User>, Option<Session>)>;
    /// The token, its session and its user, in one read.
    async fn refresh_state(&self, jti: &str, sid: &str, user_id: UserId) -> StoreResult<RefreshState>;
    /// Marks `old` rotated at `now_ms` and stores `successor`, only if `old` was not rotated yet
    /// and its session is not revoked: exactly one of racing calls rotates. The session's
    /// `last_used_ms` and `seen` are updated in the same step.
    async fn rotate_refresh(
        &self,
        old: &RefreshToken,
        successor: &RefreshToken,
        now_ms: i64,
        seen: &SeenFrom,
    ) -> StoreResult<Rotation>;
    /// Ends one session family of the user at once.
    async fn revoke_session(&self, user_id: UserId, sid: &str) -> StoreResult<()>;
    /// Ends every session of the user that began at or before `now_ms`.
    async fn revoke_all_sessions(&self, user_id: UserId, now_ms: i64) -> StoreResult<()>;
    /// Every session of the user still stored (live or not: the caller decides), read from the
    /// user's own records only (one partition, never a scan).
    async fn list_sessions(&self, user_id: UserId) -> StoreResult<Vec<Session>>;
    /// Ends one session of the user at once and forgets it (its refresh tokens are refused
    /// from now on). False if the user has no such session.
    async fn end_session(&self, user_id: UserId, sid: &str) -> StoreResult<bool>;
}

/// A password change made in session `keep_sid`, for [`AccountStore::change_password`].
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    pub user_id: UserId,
    pub email: &'a str,
    /// The hash the current password was verified against.
    pub old_hash: &'a str,
    pub new_hash: &'a str,
    /// The session the change was made in: it lives on.
    pub keep_sid: &'a str,
    /// The hash of the device token the change was made from, if any: that device stays
    /// trusted with the new password (every other device's trust ends with the old one).
    pub keep_device: Option<&'a str>,
    /// The user's cut-off as read when the request was authenticated: the change applies only
    /// if it is still that (no logout everywhere or reset came meanwhile).
    pub seen_cutoff_ms: i64,
    /// The new cut-off: every session that began at or before it ends (now, or the seen
    /// cut-off if that is later).
    pub cut_ms: i64,
}

/// What erasing an account takes, for [`AccountStore::delete_account`].
#[derive(Debug, Clone, Copy)]
pub struct Erasure<'a> {
    pub user: &'a User,
    /// Erase only while the account still has this password hash (the one verified); `None`
    /// erases whatever the password (an operator's deletion).
    pub password_hash: Option<&'a str>,
    /// The one event that outlives the account's log (`account_deleted`, holding no client),
    /// written with the erasure, and kept until `record_expires_at` (epoch seconds).
    pub record: &'a crate::domain::audit::AuditEvent,
    pub record_expires_at: i64,
}

/// The signed-in user's own changes to the account.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// In one atomic step: replaces the password hash if it is still `old_hash`, forgets any
    /// pending reset token and email change, and ends every session of the user but `keep_sid`.
    /// Then `keep_device`, if it was trusted with the old password, is trusted with the new one.
    /// False if the password changed, or `keep_sid` ended, meanwhile (nothing written).
    async fn change_password(&self, change: &PasswordChange<'_>) -> StoreResult<bool>;
    /// Erases the account and everything kept by it or by its address: the user, its email and
    /// username (free again at once), its sessions and refresh tokens, its reset and
    /// verification tokens, its pending email change, its failed-login counters (every
    /// network's, device's and session's) and its trusted devices. Its mail caps are kept: they
    /// hold a digest of the address, not the address, and end with their window, so erasing and
    /// signing up again does not reset them. Once this returns true no token of the account
    /// works. False if the account's password is no longer `password_hash` or it is gone.
    async fn delete_account(&self, erasure: &Erasure<'_>) -> StoreResult<bool>;
    /// Records `change` as the account's pending email change, replacing any earlier one (whose
    /// link stops working). False if there is no such user.
    async fn request_email_change(&self, user_id: UserId, change: &PendingEmailChange) -> StoreResult<bool>;
    /// The account's pending email change, if it has one.
    async fn pending_email_change(&self, user_id: UserId) -> StoreResult<Option<PendingEmailChange>>;
}

/// Password reset tokens.
#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Stores a reset token; it supersedes every earlier one of the same user.
    async fn put_reset_token(&self, token: &ResetToken) -> StoreResult<()>;
    /// The user a usable (stored, newest, unexpired at `now`) reset token belongs to.
    async fn reset_token_user(&self, hash: &str, now: i64) -> StoreResult<Option<User>>;
    /// In one atomic step: consumes the token if it exists, is the user's newest and has not
    /// expired at `now` (epoch s), sets the new password hash, forgets any pending email change
    /// and ends every session of the user. Then `keep_device` (a device token's hash), if it
    /// was trusted with the old password, is trusted with the new one. None if the token was
    /// not usable (nothing changed).
    async fn consume_reset_token(
        &self,
        hash: &str,
        new_password_hash: &str,
        keep_device: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<UserId>>;
}

/// Email verification tokens.
#[async_trait]
pub trait VerifyStore: Send + Sync {
    /// Stores a verification token; it supersedes every earlier one of the same user and
    /// purpose. A [`Purpose::ChangeEmail`] token is stored only while the account's pending
    /// change is still `request` (false otherwise, nothing written): a change cancelled by a
    /// password change or reset gets no link, however late its mail job runs.
    async fn put_verify_token(&self, token: &VerifyToken, request: Option<&str>) -> StoreResult<bool>;
    /// In one atomic step: consumes the token if it exists, is the user's newest and has not
    /// expired at `now` (epoch s), and the account is enabled. A verification token marks the
    /// account's address verified; an email change's moves the account to the pending new
    /// address, verified, unless another account has it. Of racing uses of one token exactly
    /// one succeeds.
    async fn consume_verify_token(&self, hash: &str, now: i64) -> StoreResult<Consumed>;
}

/// The mail requests behind queued jobs ([`MailRequest`]).
#[async_trait]
pub trait MailRequestStore: Send + Sync {
    async fn put_mail_request(&self, request: &MailRequest) -> StoreResult<()>;
    /// The request `id`, if it is stored and unexpired at `now`.
    async fn mail_request(&self, id: &str, now: i64) -> StoreResult<Option<MailRequest>>;
    /// Forgets the request once its mail went out (or was not owed).
    async fn forget_mail_request(&self, id: &str) -> StoreResult<()>;
}

/// Fixed-window counters for rate limits.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one event for `key` in the window containing `now`; returns the count so far.
    async fn hit(&self, key: &str, window_secs: u64, now: i64) -> StoreResult<u32>;
}

/// A complete backend, for the places that build one (the state, the admin tool). Code that
/// uses a store names the capability it needs instead.
pub trait Store:
    audit::AuditStore
    + devices::DeviceStore
    + UserStore
    + SessionStore
    + AccountStore
    + ResetStore
    + VerifyStore
    + MailRequestStore
    + ThrottleStore
    + MfaStore
    + PasskeyStore
    + FederationStore
{
}
impl<T> Store for T where
    T: audit::AuditStore
        + devices::DeviceStore
        + UserStore
        + SessionStore
        + AccountStore
        + ResetStore
        + VerifyStore
        + MailRequestStore
        + ThrottleStore
        + MfaStore
        + PasskeyStore
        + FederationStore
{
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(ids: std::ops::RangeInclusive<UserId>) -> Vec<User> {
        ids.map(|id| User {
            id,
            username: format!("u{id}"),
            email: format!("u{id}@example.com"),
            role: Role::User,
            disabled: false,
            email_verified: false,
            created_at: 0,
            sessions_valid_after_ms: 0,
            app_metadata: AppMetadata::default(),
        })
        .collect()
    }

    #[test]
    fn a_page_with_one_more_than_asked_has_a_next_page_after_its_last_user() {
        let page = UserPage::from_overfetch(users(1..=4), 3);
        assert_eq!(page.users.len(), 3);
        assert_eq!(page.next_after, Some(3));
    }

    #[test]
    fn an_exactly_full_last_page_has_no_next_page() {
        let page = UserPage::from_overfetch(users(1..=3), 3);
        assert_eq!(page.users.len(), 3);
        assert_eq!(page.next_after, None);
    }
}
