//! The domain: types that cannot hold invalid values, and the entities the rest of the crate
//! works on. Nothing here knows about HTTP, storage or AWS.
//!
//! - [`email`], [`username`], [`password`]: values parsed from client input.
//! - [`user`]: accounts and roles; [`metadata`]: the `app_metadata` administrators set.
//! - [`session`]: session families and their refresh tokens, with the rule for when a
//!   session's tokens may still be used.
//! - [`mfa`]: second factors (TOTP, recovery codes) and how strongly a session was
//!   authenticated (`amr`, `aal`).
//! - [`webauthn`]: passkey registrations and assertions, verified.
//! - [`audit`]: the events of an account's security log.

pub mod audit;
pub mod authentication;
pub mod backoff;
pub mod email;
pub mod metadata;
pub mod mfa;
pub mod password;
pub mod session;
pub mod user;
pub mod username;
pub mod webauthn;

pub use email::Email;
pub use metadata::{AppMetadata, MAX_APP_METADATA_BYTES};
pub use mfa::{Aal, Authentication, RecoveryCode, SecondFactors, TotpSecret};
pub use password::{check_strength, Password};
pub use session::{RefreshToken, SeenFrom, Session, Successor};
pub use user::{Role, User, UserId};
pub use username::Username;

/// Why a value was refused; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

pub(crate) fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}
