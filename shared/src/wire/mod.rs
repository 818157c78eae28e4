//! The wire types of the API: every request is parsed into one of [`request`]'s types and
//! every response body, errors included, is built from the types here. The OpenAPI
//! description (`GET /auth/openapi.json`) is generated from the same types, so it cannot drift
//! from the code. This module depends on nothing but the domain's value types.

pub mod oauth;
pub mod passkey;
pub mod request;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use oauth::{IdentityOut, LinkOut, LinkRequest, OAuthTokenRequest};
pub use passkey::{PasskeyLoginRequest, PasskeyRegistrationRequest};
pub use request::{
    AdminUserPatch, ChangeEmailRequest, ChangePasswordRequest, ConfirmTotpRequest, DeleteAccountRequest,
    FieldError, ForgotPasswordRequest, FromJson, LoginMfaRequest, LoginRequest, LogoutRequest,
    PasswordConfirmation, ResendVerificationRequest, ResetPasswordRequest, SignupRequest, VerifyEmailRequest,
};

/// A user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: u64,
    pub username: String,
    pub email: String,
    /// RFC 3339, UTC, e.g. `2025-08-08T10:30:00Z`.
    pub created_at: String,
    /// Whether the owner proved the address is theirs (a verification or reset link).
    pub email_verified: bool,
}

/// A user as administrators see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUserOut {
    #[serde(flatten)]
    pub user: UserOut,
    /// `user` or `admin`.
    pub role: String,
    pub disabled: bool,
    /// Set by administrators and hooks only (`{}` for none).
    #[schema(value_type = Object, example = json!({"plan": "pro"}))]
    pub app_metadata: Map<String, Value>,
}

/// One user as `GET /auth/admin/users/{id}` shows it: the admin view, its second factors and
/// its linked identities.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUserDetailOut {
    #[serde(flatten)]
    pub user: AdminUserOut,
    pub mfa: MfaOut,
    pub identities: Vec<IdentityOut>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessTokenOut {
    /// A JWT valid for 15 minutes (by default); send it as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefreshTokenOut {
    /// A JWT to exchange at `POST /auth/tokens`; each one works once.
    pub refresh_token: String,
    pub jti: String,
    /// When the refresh token expires, RFC 3339 UTC.
    pub expiry: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokensOut {
    pub access: AccessTokenOut,
    pub refresh: RefreshTokenOut,
}

/// The user of a token envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvelopeUser {
    pub id: u64,
    pub username: String,
    pub email: String,
    /// Whether the owner proved the address is theirs.
    pub email_verified: bool,
}

/// The answer of login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenEnvelope {
    pub tokens: TokensOut,
    pub user: EnvelopeUser,
    /// Login only: this device's token, to keep (like a refresh token) and send with the next
    /// login, so that other clients' failures do not hold this device back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// The answer of a right password for an account with a second factor: no tokens yet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaRequiredOut {
    /// Always `true`.
    pub mfa_required: bool,
    /// Opaque; send it to `POST /auth/login/mfa` with a code within 5 minutes.
    pub mfa_token: String,
    /// What the second step takes: `totp`, and `recovery_code` while unspent ones remain.
    #[schema(example = json!(["totp", "recovery_code"]))]
    pub methods: Vec<String>,
}

/// The answer of login: the token envelope, or (an account with a second factor) the
/// challenge of the second step.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoginOut {
    Tokens(TokenEnvelope),
    MfaRequired(MfaRequiredOut),
}

/// An account's second factors.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaOut {
    /// Whether TOTP (an authenticator app) is on.
    pub totp: bool,
    /// Passkeys registered.
    pub passkeys: u32,
    /// Recovery codes left unspent.
    pub recovery_codes: u32,
}

/// The signed-in user: the user object and their second factors.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeOut {
    #[serde(flatten)]
    pub user: UserOut,
    pub mfa: MfaOut,
    /// Set by administrators and hooks only (`{}` for none); access tokens carry it while it is
    /// not empty.
    #[schema(value_type = Object, example = json!({"plan": "pro"}))]
    pub app_metadata: Map<String, Value>,
}

/// A TOTP enrolment to confirm: the secret, and the URI a QR code carries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrollmentOut {
    /// Base32 (RFC 4648, no padding), 160 bits: for typing into an authenticator app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// `otpauth://totp/<issuer>:<email>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`
    pub otpauth_uri: String,
}

/// TOTP is on: the recovery codes (shown once) and the tokens of the caller's new session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpConfirmedOut {
    /// Ten single-use codes when this is the account's first second factor; empty when TOTP
    /// replaced an earlier one (the recovery codes stay as they were).
    pub recovery_codes: Vec<String>,
    pub tokens: TokensOut,
    pub user: EnvelopeUser,
}

/// A new set of recovery codes (the old ones no longer work).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodesOut {
    pub recovery_codes: Vec<String>,
}

/// The OpenID discovery document (OpenID Connect Discovery 1.0 §3): what a JWT library or API
/// Gateway's JWT authorizer needs to verify authyy's access tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfigurationOut {
    /// Equal to the `iss` of every access token; this document is at
    /// `issuer + "/.well-known/openid-configuration"`.
    #[schema(example = "https://api.example.com/auth")]
    pub issuer: String,
    /// The public key set.
    #[schema(example = "https://api.example.com/auth/.well-known/jwks.json")]
    pub jwks_uri: String,
    #[schema(example = json!(["RS256"]))]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[schema(example = json!(["public"]))]
    pub subject_types_supported: Vec<String>,
    #[schema(example = json!(["token"]))]
    pub response_types_supported: Vec<String>,
    /// The values the `scope` claim is made of (roles).
    #[schema(example = json!(["user", "admin"]))]
    pub scopes_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    /// The API's interactive documentation.
    pub service_documentation: String,
}

/// One of the signed-in user's sessions (a login, and every refresh since).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionOut {
    /// The session's id, for `DELETE /auth/sessions/{id}`.
    pub id: String,
    /// When it began (the login), RFC 3339 UTC.
    pub created_at: String,
    /// Its last login or refresh, RFC 3339 UTC.
    pub last_used_at: String,
    /// The client address of that last use, as API Gateway saw it.
    pub ip: String,
    /// The `User-Agent` of that last use (at most 256 characters).
    pub user_agent: String,
    /// Whether this is the session of the access token that asked.
    pub current: bool,
}

/// One event of an account's security log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "9sQ2v7bYtq1xXyQ4n2mJ0w", "type": "login_succeeded", "at": "2026-12-04T10:30:00Z", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "session_id": "kq0bXrX0m3k9r8n1b2c3dA", "actor": "self", "details": {"method": "password", "new_device": true}}))]
pub struct EventOut {
    pub id: String,
    /// `signup`, `login_succeeded`, `login_failed`, `mfa_failed`, `refresh_reuse_detected`,
    /// `logout`, `logout_all`, `session_ended`, `password_changed`, `password_reset_requested`,
    /// `password_reset`, `email_change_requested`, `email_changed`, `email_verified`,
    /// `mfa_enabled`, `mfa_disabled`, `recovery_code_used`, `recovery_codes_regenerated`,
    /// `passkey_added`, `passkey_removed`, `identity_linked`, `identity_unlinked`,
    /// `account_deleted` or `user_updated` (an administrator's change).
    #[serde(rename = "type")]
    pub kind: String,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The client address API Gateway saw (empty when the event had no request, as a reset
    /// mail's).
    pub ip: String,
    /// The `User-Agent` (at most 256 characters).
    pub user_agent: String,
    /// The session the event happened in, or began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `self`, `admin:<id>` (`admin` in the user's own list), or `system`.
    pub actor: String,
    /// From fixed vocabularies: `reason` of a failure, `method`, `second_factor`, `provider`,
    /// `ended_session`, `credential` (a passkey's or identity's id), `changed` (fields an
    /// administrator set), `new_device`. Empty for an administrator's action in the user's own
    /// list.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageOut {
    pub message: String,
}

/// Every error but validation: `{"detail": "<message>"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorOut {
    pub detail: String,
}

/// A 422: every problem with the request at once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationErrorOut {
    pub detail: Vec<FieldError>,
}
