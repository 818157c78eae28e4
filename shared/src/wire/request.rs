//! Request bodies: each type is declared once, with `request_type!`, and that one declaration
//! is both what the handler receives (typed, validated values) and what the OpenAPI describes.
//!
//! Parsing reports every problem of a body at once, in FastAPI's 422 shape, so frontends written
//! for the original API keep working: a missing field is `missing`, a wrong JSON type
//! `string_type` or `bool_type`, a value the domain refuses `value_error`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::{Email, Invalid, Password, Username};

/// One validation error, in FastAPI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// What went wrong: `missing`, `string_type`, `value_error`, `json_invalid`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", "<field>"]`, `["query", "<parameter>"]` or `["body"]`.
    #[schema(value_type = Vec<String>)]
    pub loc: Vec<Value>,
    pub msg: String,
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

impl FromField for Username {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        parsed(name, value, Username::parse)
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

/// An optional field: absent or `null` is `None`.
impl<T: FromField> FromField for Option<T> {
    fn from_field(name: &str, value: Option<&Value>) -> Result<Self, FieldError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::from_field(name, Some(v)).map(Some),
        }
    }
}

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

request_type! {
    /// `POST /auth/users`
    #[schema(example = json!({"username": "john_doe", "email": "john@example.com", "password": "correct horse battery staple 42"}))]
    pub struct SignupRequest {
        /// 3 to 32 letters, digits, `_`, `.` or `-`, starting with a letter or digit; unique
        /// case-insensitively.
        #[schema(value_type = String)]
        pub username: Username,
        /// An ASCII email address of at most 254 characters; unique after normalisation.
        #[schema(value_type = String)]
        pub email: Email,
        /// 8 to 128 characters; not common, not containing the username or the email's local
        /// part, and strong enough by the zxcvbn estimator.
        #[schema(value_type = String)]
        pub password: Password,
    }
}

request_type! {
    /// `POST /auth/login`
    #[schema(example = json!({"email": "john@example.com", "password": "correct horse battery staple 42"}))]
    pub struct LoginRequest {
        #[schema(value_type = String)]
        pub email: Email,
        /// At most 128 characters.
        #[schema(value_type = String)]
        pub password: Password => Password::for_login,
        /// The `device_token` an earlier login on this device returned, if it has one: a device
        /// that logged in before is not held back by other clients' failures.
        pub device_token: Option<String>,
    }
}

request_type! {
    /// `POST /auth/forgot-password`
    pub struct ForgotPasswordRequest {
        #[schema(value_type = String)]
        pub email: Email,
    }
}

request_type! {
    /// `POST /auth/reset-password`
    pub struct ResetPasswordRequest {
        /// The token from the reset link.
        pub token: String,
        /// The new password, under the same policy as at signup.
        #[schema(value_type = String)]
        pub password: Password,
    }
}

request_type! {
    /// `POST /auth/logout` (the body is optional)
    #[derive(Default)]
    pub struct LogoutRequest {
        /// End every session of the user, not only this one.
        pub all: Option<bool>,
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
    fn an_optional_field_may_be_absent_or_null_but_not_of_another_type() {
        assert_eq!(LogoutRequest::from_json(&Map::new()).unwrap().all, None);
        assert_eq!(
            LogoutRequest::from_json(&object(json!({"all": null})))
                .unwrap()
                .all,
            None
        );
        let errors = LogoutRequest::from_json(&object(json!({"all": "yes"}))).unwrap_err();
        assert_eq!(errors[0].kind, "bool_type");
    }
}
