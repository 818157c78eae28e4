//! Sign-in with other providers: the identities linked to accounts, keyed by (issuer, subject),
//! and the one-time records of a provider sign-in (its state, its code for the frontend).

use async_trait::async_trait;

use super::{NewUser, StoreResult};
use crate::domain::{RefreshToken, Session, User, UserId};

/// An identity at a provider, linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Its id in the API (random).
    pub id: String,
    /// The configured provider's name it was linked through (for display).
    pub provider: String,
    /// What the identity is keyed by: the provider's issuer (GitHub: its API URL) and subject.
    pub issuer: String,
    pub subject: String,
    /// The address the provider gave when it was linked.
    pub email: Option<String>,
    pub created_at: i64,
}

/// The kinds of one-time record of a provider sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// Between the authorize route and the callback (the `state`).
    State,
    /// Between the callback and the frontend's exchange (the `#code=`).
    Code,
}

impl Handoff {
    pub fn as_str(self) -> &'static str {
        match self {
            Handoff::State => "STATE",
            Handoff::Code => "CODE",
        }
    }
}

/// What [`FederationStore::create_federated_user`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateEnd {
    Created(User),
    EmailTaken,
    UsernameTaken,
    /// The identity was linked to an account meanwhile.
    IdentityTaken,
}

/// What [`FederationStore::unlink_identity`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkEnd {
    Removed,
    /// The account has no such identity.
    NotFound,
    /// It is the account's last way to sign in (no password, no passkey, no other identity).
    LastWay,
}

/// What [`FederationStore::link_identity`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEnd {
    Linked,
    /// The identity is linked to another account.
    Taken,
    /// The identity is already this account's.
    AlreadyLinked,
    /// The account is gone or disabled.
    Gone,
}

#[async_trait]
pub trait FederationStore: Send + Sync {
    /// Stores a one-time record under `hash` (the SHA-256 of the value the client holds).
    async fn put_handoff(&self, kind: Handoff, hash: &str, payload: &str, expires_at: i64)
        -> StoreResult<()>;
    /// Spends the record: its payload if it was stored, of this kind and unexpired at `now`.
    /// It is gone after the first call, whatever that call returned; of racing calls one gets it.
    async fn take_handoff(&self, kind: Handoff, hash: &str, now: i64) -> StoreResult<Option<String>>;
    /// The account an identity is linked to, and the identity.
    async fn identity(&self, issuer: &str, subject: &str) -> StoreResult<Option<(UserId, Identity)>>;
    /// The identities linked to an account, oldest first.
    async fn identities(&self, user_id: UserId) -> StoreResult<Vec<Identity>>;
    /// Links `identity` to the account, unless it is linked already (to it or another) or the
    /// account is gone or disabled.
    async fn link_identity(&self, user_id: UserId, identity: &Identity) -> StoreResult<LinkEnd>;
    /// Creates an account with no password (`new.password_hash` is empty), its address verified
    /// (the provider vouched for it), and `identity` linked to it, in one step: no account
    /// without its identity, and no identity linked twice.
    async fn create_federated_user(&self, new: &NewUser, identity: &Identity) -> StoreResult<CreateEnd>;
    /// Removes the account's identity `id` (the account's address is `email`), unless it is
    /// the account's last way to sign in; decided and written in one step, so two removals
    /// racing cannot both pass the rule.
    async fn unlink_identity(&self, user_id: UserId, email: &str, id: &str) -> StoreResult<UnlinkEnd>;
    /// Starts a session with its first refresh token, only while the account exists and is
    /// enabled (false otherwise, nothing written).
    async fn start_federated_session(&self, session: &Session, first: &RefreshToken) -> StoreResult<bool>;
}
