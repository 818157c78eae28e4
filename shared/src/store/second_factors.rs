//! What the stores keep of second factors: an account's TOTP secret (sealed) and recovery codes
//! (hashed), its enrolment in progress, the per-account counter of login's code step, and the
//! challenges of logins waiting for their second step.

use async_trait::async_trait;

use super::{StoreResult, VerifiedLogin};
use crate::config::Backoff;
use crate::domain::{RefreshToken, SecondFactors, Session, UserId};

/// After this many failed codes in a row, login's code step refuses every code until a
/// password reset (only a completed second step clears the counter otherwise).
pub const CODE_FAILURE_LIMIT: u32 = 100;

/// Whether the code counter (`count` failures in a row, no attempt before `locked_until`)
/// refuses an attempt at `now`: `Some(retry_after)` while it backs off, and for good (until a
/// password reset) after [`CODE_FAILURE_LIMIT`] failures.
pub fn code_lock(count: u32, locked_until: i64, now: i64, backoff: Backoff) -> Option<u64> {
    if count >= CODE_FAILURE_LIMIT {
        return Some(backoff.max_secs.max(1));
    }
    let wait = locked_until - now;
    (wait > 0).then_some(wait as u64)
}

/// An account's confirmed TOTP: the sealed secret and the last time step a code was accepted
/// for (a code is accepted only for a later step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotp {
    pub sealed: String,
    pub last_step: u64,
}

/// An enrolment waiting for its first code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTotp {
    pub sealed: String,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// An account's second factors as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorRecord {
    pub totp: Option<StoredTotp>,
    pub pending: Option<PendingTotp>,
    /// The hashes of the unspent recovery codes.
    pub recovery_codes: Vec<String>,
    /// Passkeys registered.
    pub passkeys: u32,
}

impl FactorRecord {
    pub fn factors(&self) -> SecondFactors {
        SecondFactors {
            totp: self.totp.is_some(),
            passkeys: self.passkeys,
            recovery_codes: u32::try_from(self.recovery_codes.len()).unwrap_or(u32::MAX),
        }
    }

    /// The enrolment in progress, if it has not expired at `now`.
    pub fn live_pending(&self, now: i64) -> Option<&PendingTotp> {
        self.pending.as_ref().filter(|p| p.expires_at > now)
    }
}

/// A login whose password was right, waiting for its second step; kept by the hash of its
/// `mfa_token` (the token itself is only in the client's hands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub hash: String,
    pub user_id: UserId,
    pub email: String,
    /// The password hash that was verified: the session starts only while it is unchanged.
    pub verified_hash: String,
    /// The hash of the device token presented at login, and whether it was trusted.
    pub device: Option<String>,
    pub trusted_device: bool,
    /// Codes tried so far.
    pub attempts: u32,
    /// The first step was a sign-in with another provider, not a password (`amr` `fed`).
    pub federated: bool,
    /// Epoch seconds.
    pub expires_at: i64,
}

impl MfaChallenge {
    /// Wrong codes a challenge survives; the next attempt after them is refused.
    pub const MAX_ATTEMPTS: u32 = 5;

    /// Whether a code may still be tried against it at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.expires_at > now && self.attempts < Self::MAX_ATTEMPTS
    }
}

/// What [`MfaStore::reserve_code_attempt`] decided.
// (One per request, moved once: the size of `Reserved` costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum CodeAttempt {
    /// No usable challenge has that hash (never issued, expired, spent or dead).
    Unusable,
    /// The account's code counter is locked: nothing was counted.
    Locked { retry_after: u64 },
    /// The attempt is counted on the challenge and the account's code counter: check the code.
    Reserved {
        challenge: MfaChallenge,
        factors: FactorRecord,
    },
}

/// The second factor a login's second step proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A TOTP code of time step `step`, under the secret sealed as `sealed`.
    Totp { sealed: String, step: u64 },
    /// The recovery code with this hash (spent by the step).
    RecoveryCode { hash: String },
}

/// A second step whose code was right, for [`MfaStore::finish_second_step`].
#[derive(Debug, Clone, Copy)]
pub struct SecondStep<'a> {
    pub challenge: &'a MfaChallenge,
    pub proof: &'a Proof,
    pub session: &'a Session,
    pub first: &'a RefreshToken,
    /// The hash of the device token the answer carries, and when its trust ends.
    pub device: &'a str,
    pub device_expires_at: i64,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStepEnd {
    /// The session started; the challenge is spent and the code counter cleared.
    Started,
    /// The code was used meanwhile (a replayed step, a spent recovery code): nothing written.
    CodeRefused,
    /// The challenge was spent, or the account changed (password, disabled), meanwhile.
    Gone,
}

/// A TOTP enrolment confirmed in a session, for [`MfaStore::confirm_totp`].
#[derive(Debug, Clone, Copy)]
pub struct TotpConfirmation<'a> {
    pub user_id: UserId,
    /// The enrolment as read: it is confirmed only if it is still that one.
    pub pending: &'a PendingTotp,
    /// The step of the code that confirmed it (it counts as used).
    pub step: u64,
    /// New recovery codes' hashes (the account's first second factor), or None to keep them.
    pub recovery_codes: Option<&'a [String]>,
    /// The user's cut-off as read when the request was authenticated, and the new one: every
    /// session that began at or before it ends.
    pub seen_cutoff_ms: i64,
    pub cut_ms: i64,
    /// The session the caller continues in (it begins after the cut).
    pub session: &'a Session,
    pub first: &'a RefreshToken,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmEnd {
    Confirmed,
    /// The enrolment was replaced, confirmed or expired meanwhile.
    NoEnrollment,
    /// The account's sessions were ended meanwhile (a logout everywhere, a reset).
    SessionsEnded,
}

/// Second factors.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The account's second factors (empty if it has none).
    async fn second_factors(&self, user_id: UserId) -> StoreResult<FactorRecord>;
    /// Records an enrolment, replacing any other in progress.
    async fn start_totp_enrollment(&self, user_id: UserId, pending: &PendingTotp) -> StoreResult<()>;
    /// In one atomic step: turns TOTP on with the enrolment (only if it is still the one
    /// read and unexpired), recording `step` as used, sets the recovery codes if given, ends
    /// every session of the user and starts the caller's new one. Of racing confirmations
    /// exactly one succeeds.
    async fn confirm_totp(&self, confirmation: &TotpConfirmation<'_>) -> StoreResult<ConfirmEnd>;
    /// Removes TOTP, and the recovery codes with it when it was the account's last second
    /// factor (no passkey). False if TOTP was not on.
    async fn disable_totp(&self, user_id: UserId) -> StoreResult<bool>;
    /// Replaces the recovery codes, while the account has a second factor (false otherwise).
    async fn replace_recovery_codes(&self, user_id: UserId, hashes: &[String]) -> StoreResult<bool>;
    /// Removes every second factor (TOTP, passkeys, recovery codes), the enrolment and the code
    /// counter, and ends every session
    /// that began at or before `now_ms` (an operator's reset). False if there is no such user.
    async fn reset_second_factors(&self, user_id: UserId, now_ms: i64) -> StoreResult<bool>;
    /// Login's first step, for an account with a second factor: as
    /// [`super::SessionStore::start_session`] (conditional on the verified password hash, the
    /// password counters settled) but stores `challenge` instead of starting a session.
    async fn begin_second_step(
        &self,
        login: &VerifiedLogin<'_>,
        challenge: &MfaChallenge,
    ) -> StoreResult<bool>;
    /// Reserves one code attempt, atomically, on the challenge with hash `hash` and on its
    /// account's code counter (backing off by `backoff`; refusing every code after
    /// [`CODE_FAILURE_LIMIT`] failures). Of racing attempts each is counted once.
    async fn reserve_code_attempt(&self, hash: &str, now: i64, backoff: Backoff) -> StoreResult<CodeAttempt>;
    /// A provider sign-in's first step, for an account with a second factor: stores
    /// `challenge` (federated) with the account's current password hash as its
    /// `verified_hash` (empty for an account with none), so the second step starts a session
    /// only while the account keeps it; only while the account is enabled (false otherwise).
    async fn begin_federated_second_step(&self, challenge: &MfaChallenge) -> StoreResult<bool>;
    /// In one atomic step: spends the challenge, uses the proof (a TOTP step later than the
    /// last, or an unspent recovery code), clears the code counter, starts the session (only
    /// while the account still has the verified password and is enabled) and trusts the device.
    async fn finish_second_step(&self, step: &SecondStep<'_>) -> StoreResult<SecondStepEnd>;
}
