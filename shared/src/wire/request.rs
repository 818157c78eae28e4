//! Request bodies: each type is declared once, with `request_type!`, and that one declaration
//! is both what the handler receives (typed, validated values) and what the OpenAPI describes.
//!
//! Parsing reports every problem of a body at once, in FastAPI's 422 shape, so frontends written
//! for a FastAPI backend keep working: a missing field is `missing`, a wrong JSON type
//! `string_type` or `bool_type`, a value the domain refuses `value_error`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::{AppMetadata, Email, Invalid, Password, Role, Username};

/// One validation error, in FastAPI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// What went wrong: `missing`, `string_type`, `value_error`, `json_invalid`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", "<field>"]`, `["query", "<parameter>"]`, `["body"]`, or for a body
    /// that is not JSON `["body", <column>]` (an integer: where the decoder stopped).
    #[schema(value_type = Vec<LocItem>)]
    pub loc: Vec<Value>,
    pub msg: String,
}

/// One step of a [`FieldError`]'s `loc`: a name, or a position in the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LocItem {
    Name(String),
    Position(u64),
}

impl FieldError {
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>) -> Self {
        FieldError {
            kind: kind.to_string(),
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
        }
    }

    /// A value the domain refused, at `loc`.
    pub fn invalid(loc: &[&str], Invalid(msg): Invalid) -> Self {
        FieldError::new("value_error", loc, format!("Value error, {msg}"))
    }
}

/// A request body type: built from a JSON object, or every field error found in it.
pub trait FromJson: Sized {
    fn from_json(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>>;
}

/// A value of one body field (`None`: the field is absent).
pub trait FromField: Sized {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError>;
}

fn text<'a>(name: &str, value: Option<&'a Value>) -> Result<&'a str, FieldError> {
    match value {
        None => Err(FieldError::new("missing", &["body", name], "Field required")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(FieldError::new(
            "string_type",
            &["body", name],
            "Input should be a valid string",
        )),
    }
}

/// A string field turned into a domain value by `parse`.
pub fn parsed<T>(
    name: &str,
    value: Option<&Value>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Result<T, FieldError> {
    parse(text(name, value)?).map_err(|e| FieldError::invalid(&["body", name], e))
}

impl FromField for String {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        text(name, value).map(str::to_string)
    }
}

impl FromField for Email {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        parsed(name, value, Email::parse)
    }
}

/// Taken as sent: the schema's pattern has no room for surrounding spaces, so neither has the
/// API (the domain type would trim them silently).
impl FromField for Username {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        parsed(name, value, |raw| {
            if raw.trim() != raw {
                return Err(Invalid("username must not start or end with spaces".into()));
            }
            Username::parse(raw)
        })
    }
}

/// A new password (signup, reset): the length rule. The strength policy needs the account, so
/// the endpoint applies it.
impl FromField for Password {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        parsed(name, value, Password::new)
    }
}

impl FromField for bool {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        match value {
            None => Err(FieldError::new("missing", &["body", name], "Field required")),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(FieldError::new(
                "bool_type",
                &["body", name],
                "Input should be a valid boolean",
            )),
        }
    }
}

/// An optional field: absent is `None`. `null` is not a value of `T`, so it is refused as `T`
/// refuses any other wrong type (the schema describes the field as `T`, not as nullable).
impl<T: FromField> FromField for Option<T> {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        match value {
            None => Ok(None),
            Some(v) => T::from_field(name, Some(v)).map(Some),
        }
    }
}

/// A role, by its name: `user` or `admin`.
impl FromField for Role {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        parsed(name, value, |raw| match raw {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            _ => Err(Invalid("role must be \"user\" or \"admin\"".into())),
        })
    }
}

/// `app_metadata`: a JSON object of at most 2 KiB serialized.
impl FromField for AppMetadata {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        match value {
            None => Err(FieldError::new("missing", &["body", name], "Field required")),
            Some(Value::Object(_)) => AppMetadata::new(value.cloned().unwrap_or_default())
                .map_err(|e| FieldError::invalid(&["body", name], e)),
            Some(_) => Err(FieldError::new(
                "dict_type",
                &["body", name],
                "Input should be a valid dictionary",
            )),
        }
    }
}

/// The account's current password, confirming a change, read as login reads it.
pub struct CurrentPassword(pub Password);

impl FromField for CurrentPassword {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        parsed(name, value, Password::for_login).map(CurrentPassword)
    }
}

impl std::fmt::Debug for CurrentPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurrentPassword(..)")
    }
}

/// The OpenAPI pattern of a username: what [`Username::parse`] accepts, as sent.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$";

/// Declares a request body type: the struct (described in the OpenAPI by `ToSchema`) and its
/// [`FromJson`]. A field is read with its type's [`FromField`], or with `=> parser` by a
/// domain parser of its own (`Password::for_login`).
macro_rules! request_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : $ty:ty $(=> $parse:path)?
            ),* $(,)?
        }
    ) => {
        #[derive(Debug, ToSchema)]
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl FromJson for $name {
            fn from_json(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
                let mut errors = Vec::new();
                $(
                    let $field = request_type!(@read body, stringify!($field), $ty $(, $parse)?)
                        .map_err(|e| errors.push(e))
                        .ok();
                )*
                match ($($field,)*) {
                    ($(Some($field),)*) => Ok($name { $($field,)* }),
                    _ => Err(errors),
                }
            }
        }
    };
    (@read $body:ident, $name:expr, $ty:ty) => {
        <$ty as FromField>::from_field($name, $body.get($name))
    };
    (@read $body:ident, $name:expr, $ty:ty, $parse:path) => {
        parsed($name, $body.get($name), $parse)
    };
}
pub(crate) use request_type;

request_type! {
    /// `POST /auth/users`
    #[schema(example = json!({"username": "john_doe", "email": "john@example.com", "password": "correct horse battery staple 42"}))]
    pub struct SignupRequest {
        /// 3 to 32 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or digit;
        /// unique case-insensitively.
        #[schema(value_type = String, min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$", example = "john_doe")]
        pub username: Username,
        /// An ASCII email address (dot-atom local part) of at most 254 characters; trimmed,
        /// lower-cased and unique after normalisation.
        #[schema(value_type = String, format = Email, min_length = 3, max_length = 254, example = "john@example.com")]
        pub email: Email,
        /// 8 to 128 characters (Unicode code points, as sent); beyond what a schema can say, it
        /// must not be a common password, must not contain the username or the email's local
        /// part, and must be strong enough by the zxcvbn estimator (a 422 on `password` says
        /// which rule failed).
        #[schema(value_type = String, min_length = 8, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Password,
    }
}

request_type! {
    /// `POST /auth/login`
    #[schema(example = json!({"email": "john@example.com", "password": "correct horse battery staple 42"}))]
    pub struct LoginRequest {
        /// The address signed up with (trimmed and compared case-insensitively).
        #[schema(value_type = String, format = Email, min_length = 3, max_length = 254, example = "john@example.com")]
        pub email: Email,
        /// 1 to 128 characters (Unicode code points).
        #[schema(value_type = String, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Password => Password::for_login,
        /// The `device_token` an earlier login on this device returned, if it has one: a device
        /// that logged in before is not held back by other clients' failures.
        #[schema(value_type = String, required = false)]
        pub device_token: Option<String>,
    }
}

request_type! {
    /// `POST /auth/forgot-password`
    #[schema(example = json!({"email": "john@example.com"}))]
    pub struct ForgotPasswordRequest {
        /// The address to send the reset link to, if it is registered.
        #[schema(value_type = String, format = Email, min_length = 3, max_length = 254, example = "john@example.com")]
        pub email: Email,
    }
}

request_type! {
    /// `POST /auth/reset-password`
    #[schema(example = json!({"token": "Zm9yZ290LXBhc3N3b3JkLWxpbmstdG9rZW4tZXhhbXBsZQ", "password": "violet tractor jumps over moon 7"}))]
    pub struct ResetPasswordRequest {
        /// The token from the reset link (a token that no link carries is 400).
        #[schema(min_length = 1, max_length = 128)]
        pub token: String,
        /// The new password, under the same policy as at signup: 8 to 128 characters, and the
        /// strength rules a 422 on `password` names.
        #[schema(value_type = String, min_length = 8, max_length = 128, example = "violet tractor jumps over moon 7")]
        pub password: Password,
        /// The `device_token` of the device the reset is made on, if it has one: it stays
        /// trusted with the new password (every other device's trust ends).
        #[schema(value_type = String, required = false)]
        pub device_token: Option<String>,
    }
}

request_type! {
    /// `POST /auth/verify-email`
    #[schema(example = json!({"token": "dmVyaWZ5LWVtYWlsLWxpbmstdG9rZW4tZXhhbXBsZQ"}))]
    pub struct VerifyEmailRequest {
        /// The token from the verification link (a token that no link carries is 400).
        #[schema(min_length = 1, max_length = 128)]
        pub token: String,
    }
}

request_type! {
    /// `POST /auth/verify-email/resend`
    #[schema(example = json!({"email": "john@example.com"}))]
    pub struct ResendVerificationRequest {
        /// The address to send a new verification link to, if it is registered and unverified.
        #[schema(value_type = String, format = Email, min_length = 3, max_length = 254, example = "john@example.com")]
        pub email: Email,
    }
}

request_type! {
    /// `POST /auth/logout` (the body is optional: none, or `null`, is `{}`)
    #[derive(Default)]
    #[schema(example = json!({"all": true}))]
    pub struct LogoutRequest {
        /// End every session of the user, not only this one. Optional, but a boolean if present.
        #[schema(value_type = bool, required = false)]
        pub all: Option<bool>,
    }
}

request_type! {
    /// `POST /auth/password`
    #[schema(example = json!({"current_password": "correct horse battery staple 42", "new_password": "violet tractor jumps over moon 7"}))]
    pub struct ChangePasswordRequest {
        /// The password the account has now (a wrong one counts on this session's counter); an
        /// account with no password (made by a provider) sends none, from a session signed in
        /// under 5 minutes ago, and this sets its first password.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub current_password: Option<CurrentPassword>,
        /// The new password, under the signup policy, and not the current one.
        #[schema(value_type = String, min_length = 8, max_length = 128, example = "violet tractor jumps over moon 7")]
        pub new_password: Password,
        /// The `device_token` of this device, if it has one: it stays trusted with the new
        /// password (every other device's trust ends).
        #[schema(value_type = String, required = false)]
        pub device_token: Option<String>,
    }
}

request_type! {
    /// `POST /auth/email`
    #[schema(example = json!({"new_email": "john.new@example.com", "password": "correct horse battery staple 42"}))]
    pub struct ChangeEmailRequest {
        /// The address to move the account to; it changes once the link mailed there is used.
        #[schema(value_type = String, format = Email, min_length = 3, max_length = 254, example = "john.new@example.com")]
        pub new_email: Email,
        /// The account's current password (a wrong one counts on this session's counter); an
        /// account with no password sends none, from a session signed in under 5 minutes ago.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Option<CurrentPassword>,
    }
}

request_type! {
    /// `DELETE /auth/me`
    #[schema(example = json!({"password": "correct horse battery staple 42"}))]
    pub struct DeleteAccountRequest {
        /// The account's current password (a wrong one counts on this session's counter); an
        /// account with no password sends none, from a session signed in under 5 minutes ago.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Option<CurrentPassword>,
    }
}

request_type! {
    /// `POST /auth/mfa/totp/confirm`
    #[schema(example = json!({"code": "123456", "password": "correct horse battery staple 42"}))]
    pub struct ConfirmTotpRequest {
        /// The 6-digit code the authenticator app shows now.
        #[schema(min_length = 1, max_length = 16, example = "123456")]
        pub code: String,
        /// The account's current password (a wrong one counts on this session's counter); an
        /// account with no password sends none, from a session signed in under 5 minutes ago.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Option<CurrentPassword>,
    }
}

request_type! {
    /// `DELETE /auth/mfa/totp`, `POST /auth/mfa/recovery-codes`
    #[schema(example = json!({"password": "correct horse battery staple 42"}))]
    pub struct PasswordConfirmation {
        /// The account's current password (a wrong one counts on this session's counter); an
        /// account with no password sends none, from a session signed in under 5 minutes ago.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Option<CurrentPassword>,
    }
}

request_type! {
    /// `POST /auth/login/mfa`: the `mfa_token` with exactly one of `code` and `recovery_code`.
    #[schema(example = json!({"mfa_token": "bWZhLXRva2VuLWV4YW1wbGUtbWZhLXRva2VuLWV4YW1wbA", "code": "123456"}))]
    pub struct LoginMfaRequest {
        /// The `mfa_token` login answered with.
        #[schema(min_length = 1, max_length = 128)]
        pub mfa_token: String,
        /// A code from the authenticator app.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 16, example = "123456")]
        pub code: Option<String>,
        /// One of the account's recovery codes (case, dashes and spaces do not matter).
        #[schema(value_type = String, required = false, min_length = 1, max_length = 64, example = "k7qz-m2xa-3fpe-r4td")]
        pub recovery_code: Option<String>,
        /// This device's `device_token`, if it has one (as at login).
        #[schema(value_type = String, required = false)]
        pub device_token: Option<String>,
    }
}

request_type! {
    /// `PATCH /auth/admin/users/{id}`: each field sent is set; the others stay as they are.
    #[schema(example = json!({"app_metadata": {"plan": "pro", "tenant": "acme"}}))]
    pub struct AdminUserPatch {
        /// `user` or `admin`; taking `admin` away ends the user's sessions.
        #[schema(value_type = String, required = false, pattern = "^(user|admin)$", example = "user")]
        pub role: Option<Role>,
        /// Disabling ends every session of the user at once.
        #[schema(value_type = bool, required = false)]
        pub disabled: Option<bool>,
        #[schema(value_type = bool, required = false)]
        pub email_verified: Option<bool>,
        /// Replaces the whole object: a JSON object of at most 2048 bytes serialized (`{}`
        /// clears it).
        #[schema(value_type = Object, required = false)]
        pub app_metadata: Option<AppMetadata>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let errors = SignupRequest::from_json(&Map::new()).unwrap_err();
        let locs: Vec<_> = errors.iter().map(|e| e.loc.clone()).collect();
        assert_eq!(
            locs,
            vec![
                json!(["body", "username"]).as_array().unwrap().clone(),
                json!(["body", "email"]).as_array().unwrap().clone(),
                json!(["body", "password"]).as_array().unwrap().clone(),
            ]
        );
        assert!(errors.iter().all(|e| e.kind == "missing"));
    }

    #[test]
    fn a_valid_body_gives_typed_values() {
        let r =
            LoginRequest::from_json(&object(json!({"email": " John@Example.com", "password": "x"}))).unwrap();
        assert_eq!(r.email.as_str(), "john@example.com");
        assert_eq!(r.password.expose(), "x");
    }

    #[test]
    fn wrong_types_and_refused_values_are_named() {
        let errors =
            ResetPasswordRequest::from_json(&object(json!({"token": 7, "password": "short"}))).unwrap_err();
        assert_eq!(errors[0].kind, "string_type");
        assert_eq!(errors[1].kind, "value_error");
        assert!(errors[1].msg.starts_with("Value error, "));
    }

    #[test]
    fn an_optional_field_may_be_absent_but_not_null_or_of_another_type() {
        assert_eq!(LogoutRequest::from_json(&Map::new()).unwrap().all, None);
        for bad in [json!({"all": null}), json!({"all": "yes"})] {
            let errors = LogoutRequest::from_json(&object(bad)).unwrap_err();
            assert_eq!(errors[0].kind, "bool_type");
        }
    }

    #[test]
    fn a_username_with_surrounding_spaces_is_refused_as_the_schema_says() {
        let errors = SignupRequest::from_json(&object(
            json!({"username": " john_doe", "email": "john@example.com", "password": "correct horse battery staple 42"}),
        ))
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].msg.contains("spaces"), "{}", errors[0].msg);
    }

    #[test]
    fn the_username_pattern_is_the_one_the_schema_publishes() {
        let schema = serde_json::to_value(<SignupRequest as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["properties"]["username"]["pattern"], USERNAME_PATTERN);
    }
}
