//! The wire types of passkeys: the options a browser's `PublicKeyCredential.parseCreationOptionsFromJSON`
//! and `parseRequestOptionsFromJSON` take (WebAuthn Level 3 JSON), and the credentials its
//! `PublicKeyCredential.toJSON()` gives, checked for shape (the fields and their JSON types, the
//! `public-key` type) before a handler sees them: a body of another shape is 422. What the
//! fields hold (base64url, `id` equal to `rawId`) is the ceremony's to judge, as a refusal.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::request::{request_type, CurrentPassword, FieldError, FromField, FromJson};
use crate::domain::webauthn::authenticator_data::MAX_CREDENTIAL_ID;

/// A binary value as WebAuthn's JSON carries it: base64url, without padding.
fn bytes(field: &str, text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| format!("{field} is not base64url"))
}

/// A credential as `PublicKeyCredential.toJSON()` gives it after `navigator.credentials.create()`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationCredential {
    /// The credential id, base64url (as `rawId`).
    pub id: String,
    pub raw_id: String,
    /// `public-key`.
    #[serde(rename = "type")]
    #[schema(pattern = "^public-key$")]
    pub kind: String,
    pub response: AttestationResponse,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AttestationResponse {
    /// base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url CBOR (formats `none` and `packed` are accepted).
    #[serde(rename = "attestationObject")]
    pub attestation_object: String,
    /// How the browser can reach the authenticator again (`internal`, `hybrid`, `usb`, `nfc`,
    /// `ble`, `smart-card`); other values are not kept.
    #[serde(default)]
    pub transports: Vec<String>,
}

/// The transports WebAuthn names, as kept with a passkey (others dropped, each once).
pub const TRANSPORTS: [&str; 6] = ["ble", "hybrid", "internal", "nfc", "smart-card", "usb"];

impl AttestationResponse {
    /// The transports to keep: the known ones, each once, in WebAuthn's order.
    pub fn known_transports(&self) -> Vec<String> {
        TRANSPORTS
            .iter()
            .filter(|t| self.transports.iter().any(|given| given == *t))
            .map(|t| t.to_string())
            .collect()
    }
}

/// A credential as `PublicKeyCredential.toJSON()` gives it after `navigator.credentials.get()`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionCredential {
    pub id: String,
    pub raw_id: String,
    /// `public-key`.
    #[serde(rename = "type")]
    #[schema(pattern = "^public-key$")]
    pub kind: String,
    pub response: AssertionResponse,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "authenticatorData")]
    pub authenticator_data: String,
    pub signature: String,
    /// The account's user handle (a discoverable credential always returns it).
    #[serde(rename = "userHandle", default)]
    pub user_handle: Option<String>,
}

/// A registration's binary parts, decoded.
#[derive(Debug, Clone)]
pub struct DecodedRegistration {
    pub credential_id: Vec<u8>,
    pub client_data_json: Vec<u8>,
    pub attestation_object: Vec<u8>,
}

/// An assertion's binary parts, decoded.
#[derive(Debug, Clone)]
pub struct DecodedAssertion {
    pub credential_id: Vec<u8>,
    pub client_data_json: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub signature: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
}

fn common(id: &str, raw_id: &str) -> Result<Vec<u8>, String> {
    if id != raw_id {
        return Err("id and rawId differ".into());
    }
    let credential_id = bytes("rawId", raw_id)?;
    if credential_id.is_empty() || credential_id.len() > MAX_CREDENTIAL_ID {
        return Err(format!("rawId must be 1 to {MAX_CREDENTIAL_ID} bytes"));
    }
    Ok(credential_id)
}

impl RegistrationCredential {
    pub fn decode(&self) -> Result<DecodedRegistration, String> {
        Ok(DecodedRegistration {
            credential_id: common(&self.id, &self.raw_id)?,
            client_data_json: bytes("clientDataJSON", &self.response.client_data_json)?,
            attestation_object: bytes("attestationObject", &self.response.attestation_object)?,
        })
    }
}

impl AssertionCredential {
    pub fn decode(&self) -> Result<DecodedAssertion, String> {
        let r = &self.response;
        Ok(DecodedAssertion {
            credential_id: common(&self.id, &self.raw_id)?,
            client_data_json: bytes("clientDataJSON", &r.client_data_json)?,
            authenticator_data: bytes("authenticatorData", &r.authenticator_data)?,
            signature: bytes("signature", &r.signature)?,
            user_handle: r
                .user_handle
                .as_deref()
                .map(|h| bytes("userHandle", h))
                .transpose()?,
        })
    }
}

/// A credential field: its JSON shape and its type.
fn credential<T: for<'de> Deserialize<'de>>(
    name: &str,
    value: Option<&Value>,
    check: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, FieldError> {
    let value = value.ok_or_else(|| FieldError::new("missing", &["body", name], "Field required"))?;
    let invalid =
        |why: String| FieldError::new("value_error", &["body", name], format!("Value error, {why}"));
    let parsed: T = serde_json::from_value(value.clone()).map_err(|e| {
        invalid(format!(
            "not a credential as PublicKeyCredential.toJSON() gives it: {e}"
        ))
    })?;
    check(&parsed).map_err(invalid)?;
    Ok(parsed)
}

fn public_key(kind: &str) -> Result<(), String> {
    if kind == "public-key" {
        Ok(())
    } else {
        Err("type must be public-key".into())
    }
}

impl FromField for RegistrationCredential {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        credential(name, value, |c: &RegistrationCredential| public_key(&c.kind))
    }
}

impl FromField for AssertionCredential {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        credential(name, value, |c: &AssertionCredential| public_key(&c.kind))
    }
}

/// The relying party of the creation options.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RpEntity {
    pub id: String,
    pub name: String,
}

/// The account, as the authenticator stores it with the credential.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The account's user handle: 32 random bytes, base64url (never its id, name or address).
    pub id: String,
    /// The account's email (what the authenticator shows to pick an account).
    pub name: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CredentialParameter {
    #[serde(rename = "type")]
    pub kind: String,
    /// A COSE algorithm: -7 (ES256) or -257 (RS256).
    pub alg: i64,
}

/// A credential the browser should not create again (the account's passkeys).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CredentialDescriptor {
    #[serde(rename = "type")]
    pub kind: String,
    /// The credential id, base64url.
    pub id: String,
    pub transports: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `required`: a passkey (a discoverable credential), for sign-in with no username.
    pub resident_key: String,
    pub require_resident_key: bool,
    /// `required`: the authenticator checks the user (PIN, biometrics).
    pub user_verification: String,
}

/// Creation options, as `PublicKeyCredential.parseCreationOptionsFromJSON()` takes them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    pub rp: RpEntity,
    pub user: UserEntity,
    /// 32 random bytes, base64url: single use, 5 minutes.
    pub challenge: String,
    pub pub_key_cred_params: Vec<CredentialParameter>,
    /// Milliseconds.
    pub timeout: u64,
    pub exclude_credentials: Vec<CredentialDescriptor>,
    pub authenticator_selection: AuthenticatorSelection,
    /// `none`: no attestation is asked for (a `packed` one sent anyway is checked).
    pub attestation: String,
}

/// Request options, as `PublicKeyCredential.parseRequestOptionsFromJSON()` takes them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    pub challenge: String,
    pub rp_id: String,
    pub timeout: u64,
    pub user_verification: String,
    /// Empty: the browser offers the passkeys it has for the site (no username first).
    pub allow_credentials: Vec<CredentialDescriptor>,
}

/// `POST /auth/passkeys/register/options`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyCreationOut {
    /// Send it back with the credential.
    pub challenge_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: CreationOptions,
}

/// `POST /auth/passkeys/login/options`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRequestOut {
    pub challenge_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: RequestOptions,
}

/// A registered passkey.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyOut {
    /// The credential id, base64url: the passkey's id in `DELETE /auth/passkeys/{id}`.
    pub id: String,
    pub name: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Its last sign-in, RFC 3339 UTC (null before the first).
    pub last_used_at: Option<String>,
}

/// `POST /auth/passkeys/register`: the passkey, and the recovery codes when it is the account's
/// first second factor (shown once).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRegisteredOut {
    #[serde(flatten)]
    pub passkey: PasskeyOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// A passkey's name: at most 64 characters, no control characters; spaces around it are
/// trimmed, and a name of spaces alone is no name.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(value_type = String, example = "MacBook Touch ID")]
pub struct PasskeyName(pub Option<String>);

impl FromField for PasskeyName {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        let text = String::from_field(name, value)?;
        if text.chars().count() > 64 || text.chars().any(char::is_control) {
            return Err(FieldError::new(
                "value_error",
                &["body", name],
                "Value error, a name of at most 64 characters without control characters",
            ));
        }
        let trimmed = text.trim();
        Ok(PasskeyName((!trimmed.is_empty()).then(|| trimmed.to_string())))
    }
}

request_type! {
    /// `POST /auth/passkeys/register`: the credential the browser created for the options.
    #[schema(example = json!({"challenge_id": "b3B0aW9ucy1jaGFsbGVuZ2UtaWQ", "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {"clientDataJSON": "…", "attestationObject": "…", "transports": ["internal", "hybrid"]}}, "name": "MacBook Touch ID", "password": "correct horse battery staple 42"}))]
    pub struct PasskeyRegistrationRequest {
        /// The `challenge_id` of the options.
        #[schema(min_length = 1, max_length = 64)]
        pub challenge_id: String,
        /// `PublicKeyCredential.toJSON()` of the new credential.
        pub credential: RegistrationCredential,
        /// A name to tell the passkey by (default `Passkey`).
        #[schema(value_type = String, required = false, max_length = 64, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
        pub name: Option<PasskeyName>,
        /// The account's current password (a wrong one counts on this session's counter); an
        /// account with no password sends none, from a session signed in under 5 minutes ago.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Option<CurrentPassword>,
    }
}

request_type! {
    /// `POST /auth/passkeys/login`: the assertion the browser made for the options.
    #[schema(example = json!({"challenge_id": "b3B0aW9ucy1jaGFsbGVuZ2UtaWQ", "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {"clientDataJSON": "…", "authenticatorData": "…", "signature": "…", "userHandle": "…"}}}))]
    pub struct PasskeyLoginRequest {
        /// The `challenge_id` of the options.
        #[schema(min_length = 1, max_length = 64)]
        pub challenge_id: String,
        /// `PublicKeyCredential.toJSON()` of the assertion.
        pub credential: AssertionCredential,
        /// This device's `device_token`, if it has one (as at login).
        #[schema(value_type = String, required = false)]
        pub device_token: Option<String>,
    }
}
