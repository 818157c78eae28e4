//! What the stores keep of passkeys: each credential (its public key and signature counter,
//! by credential id, unique across accounts), the account's WebAuthn user handle, and the
//! challenges of ceremonies in progress.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{RefreshToken, Session, UserId};

/// The most passkeys one account may register.
pub const MAX_PASSKEYS: u32 = 20;

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id, base64url without padding (also the passkey's id in the API).
    pub credential_id: String,
    pub user_id: UserId,
    /// The COSE public key, as the authenticator encoded it.
    pub public_key: Vec<u8>,
    pub sign_count: u32,
    /// A multi-device (synced) credential: `amr` says `swk` rather than `hwk`.
    pub backup_eligible: bool,
    pub transports: Vec<String>,
    pub name: String,
    /// Epoch seconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Which ceremony a challenge was issued for (and, for a registration, to whom).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    Registration { user_id: UserId },
    Authentication,
}

/// A ceremony's challenge, kept server-side until its first use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyChallenge {
    /// The random id the client sends back.
    pub id: String,
    pub ceremony: Ceremony,
    /// The challenge bytes, base64url without padding.
    pub challenge: String,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// The sessions that end when an account gets its first second factor: all but the caller's.
#[derive(Debug, Clone, Copy)]
pub struct FirstFactor<'a> {
    /// The new recovery codes' hashes.
    pub recovery_codes: &'a [String],
    /// The session the registration was made in: it lives on.
    pub keep_sid: &'a str,
    /// The user's cut-off as read when the request was authenticated, and the new one.
    pub seen_cutoff_ms: i64,
    pub cut_ms: i64,
}

/// A registration, for [`PasskeyStore::add_passkey`].
#[derive(Debug, Clone, Copy)]
pub struct PasskeyAddition<'a> {
    pub passkey: &'a StoredPasskey,
    /// The account's first second factor (it has none now): the recovery codes and the end of
    /// the other sessions come with it. `None`: the account has a factor, and must still have
    /// one when the passkey is added.
    pub first: Option<FirstFactor<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddEnd {
    Added,
    /// The credential id is registered already (to this account or another).
    Duplicate,
    /// The account has [`MAX_PASSKEYS`] passkeys.
    TooMany,
    /// The account's factors are not as the caller read them (a factor came or went
    /// meanwhile): nothing was written; read again and retry.
    FactorsChanged,
    /// The account's sessions were ended meanwhile (a logout everywhere, a reset).
    SessionsEnded,
}

/// A sign-in with a passkey, for [`PasskeyStore::use_passkey`].
#[derive(Debug, Clone, Copy)]
pub struct PasskeyUse<'a> {
    pub passkey: &'a StoredPasskey,
    /// The counter the assertion reported (stored only if the stored one is unchanged).
    pub sign_count: u32,
    /// The account's address (its trusted devices are kept by it).
    pub email: &'a str,
    pub session: &'a Session,
    pub first: &'a RefreshToken,
    /// The hash of the device token the answer carries, and when its trust ends.
    pub device: &'a str,
    pub device_expires_at: i64,
    /// The device presented a token the account trusts (its trust is renewed), or not (a new
    /// one is trusted).
    pub trusted_device: bool,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseEnd {
    /// The counter is stored, the session started, the code counter cleared.
    Started,
    /// The passkey was used (its counter moved), or removed, meanwhile: nothing written.
    Refused,
    /// The account was disabled or erased meanwhile.
    Gone,
}

/// Passkeys.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// The account's WebAuthn user handle, made `candidate` if it has none yet (of racing
    /// calls, the first one's is kept and every call answers it).
    async fn user_handle(&self, user_id: UserId, candidate: &str) -> StoreResult<String>;
    /// The account's passkeys, oldest first.
    async fn passkeys(&self, user_id: UserId) -> StoreResult<Vec<StoredPasskey>>;
    /// The passkey with this credential id, with its owner's user handle.
    async fn passkey(&self, credential_id: &str) -> StoreResult<Option<(StoredPasskey, String)>>;
    /// Stores a new challenge (and, where no TTL does it, drops those expired at `now`).
    async fn put_passkey_challenge(&self, challenge: &PasskeyChallenge, now: i64) -> StoreResult<()>;
    /// Removes the challenge and answers it (expired or not): of racing calls, one gets it.
    async fn take_passkey_challenge(&self, id: &str) -> StoreResult<Option<PasskeyChallenge>>;
    /// In one atomic step: adds the passkey (its credential id unclaimed, the account under
    /// [`MAX_PASSKEYS`] and its factors as the caller read them) and, for a first factor, sets
    /// the recovery codes and ends every other session.
    async fn add_passkey(&self, addition: &PasskeyAddition<'_>) -> StoreResult<AddEnd>;
    /// Removes the account's passkey `credential_id`, and the recovery codes with it when it
    /// was the account's last second factor. False if the account has no such passkey.
    async fn remove_passkey(&self, user_id: UserId, credential_id: &str) -> StoreResult<bool>;
    /// In one atomic step: stores the new counter (only if the stored one is unchanged), starts
    /// the session (only while the account is enabled), clears the code counter and trusts the
    /// device (bound to the account's password, as at login).
    async fn use_passkey(&self, sign_in: &PasskeyUse<'_>) -> StoreResult<UseEnd>;
}
