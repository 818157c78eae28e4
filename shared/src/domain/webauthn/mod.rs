//! WebAuthn Level 3 verification for passkeys: a registration (the attestation, in the `none`
//! and `packed` formats) and an assertion, checked against the relying party, the challenge
//! the server stored and, for an assertion, the credential it stored. Pure: no I/O, no clock.
//!
//! - [`ceremony`]: the two checks the endpoints call, in the order the specification gives.
//! - [`client_data`]: `clientDataJSON` (type, challenge, origin).
//! - [`authenticator_data`]: the rp id hash, flags, signature counter and attested credential.
//! - [`attestation`]: the attestation object and its statement.
//! - [`cose`]: credential public keys (ES256, RS256) and their signatures.
//! - [`cbor`]: the few CBOR reads the rest needs.
//! - [`error`]: why a ceremony was refused (for the log; the client sees one answer).

pub mod attestation;
pub mod authenticator_data;
pub mod cbor;
pub mod ceremony;
pub mod client_data;
pub mod cose;
pub mod error;

pub use ceremony::{
    verify_assertion, verify_registration, Assertion, NewCredential, RelyingParty, StoredCredential,
    VerifiedAssertion,
};
pub use cose::{ES256, RS256};
pub use error::WebauthnError;
