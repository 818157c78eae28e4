//! Why a WebAuthn ceremony was refused. The reasons are for the log; the client is told only
//! that the registration or sign-in was refused.

/// A refused registration or assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("client data type is not {0}")]
    WrongType(&'static str),
    #[error("challenge is not the one issued")]
    WrongChallenge,
    #[error("origin is not allowed")]
    WrongOrigin,
    #[error("ceremony ran in a cross-origin frame")]
    CrossOrigin,
    #[error("rp id hash is not the relying party's")]
    WrongRpId,
    #[error("user presence flag not set")]
    NoUserPresence,
    #[error("user verification flag not set")]
    NoUserVerification,
    #[error("credential id is not the attested one")]
    WrongCredentialId,
    #[error("unsupported public key algorithm")]
    UnsupportedAlgorithm,
    #[error("unsupported attestation statement format")]
    UnsupportedFormat,
    #[error("attestation statement invalid: {0}")]
    BadAttestation(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("user handle is not the credential owner's")]
    WrongUserHandle,
    #[error("signature counter did not increase: possibly a cloned authenticator")]
    CounterRegressed,
}
