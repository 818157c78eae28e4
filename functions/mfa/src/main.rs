//! The `mfa` function: the signed-in user's second factors: start and confirm a TOTP
//! enrolment, turn TOTP off, and make new recovery codes. One function for the four: they read
//! and write the same items and need the same rights.

authyy::lambda_main!(StartTotp, ConfirmTotp, DisableTotp, RecoveryCodes);
