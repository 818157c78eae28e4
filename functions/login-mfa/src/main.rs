//! The `login-mfa` function: login's second step (POST /auth/login/mfa), a TOTP code or a
//! recovery code for the `mfa_token` a right password earned.

authyy::lambda_main!(LoginMfa);
