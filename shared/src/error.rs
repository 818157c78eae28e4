//! The one error type of the endpoints and its one mapping to an HTTP response.

use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

use crate::store::StoreError;

pub const NOT_AUTHENTICATED: &str = "Not authenticated";
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
pub const INVALID_REFRESH: &str = "Missing or invalid refresh token";
pub const INVALID_RESET: &str = "Invalid or expired token.";
pub const ADMIN_REQUIRED: &str = "Admin privileges required";
pub const EMAIL_TAKEN: &str = "Email already registered";
pub const USERNAME_TAKEN: &str = "Username already taken";

/// One entry of a FastAPI-shaped 422 body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
}

impl FieldError {
    pub fn new(kind: &'static str, loc: &[&str], msg: impl Into<String>) -> Self {
        FieldError {
            kind,
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request validation failed")]
    Validation(Vec<FieldError>),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("too many requests, retry after {retry_after}s")]
    TooManyRequests { retry_after: u64 },
    /// A dependency (store, key source) is unreachable, throttled or timed out.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(e: crate::password::HashError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(e: crate::keys::KeyError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body; internals (the inner messages of 5xx errors) never reach the client.
    pub fn body(&self) -> Value {
        let detail = match self {
            ApiError::Validation(errors) => return json!({ "detail": errors }),
            ApiError::BadRequest(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::Conflict(m) => *m,
            ApiError::NotFound => "Not Found",
            ApiError::MethodNotAllowed => "Method Not Allowed",
            ApiError::PayloadTooLarge => "Request body too large (limit 64 KiB)",
            ApiError::TooManyRequests { .. } => "Too many requests, try again later",
            ApiError::Unavailable(_) => {
                "Service temporarily unavailable: a backing service did not answer, please retry"
            }
            ApiError::Internal(_) => "Internal server error",
        };
        json!({ "detail": detail })
    }

    pub fn validation(kind: &'static str, loc: &[&str], msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(kind, loc, msg)])
    }
}
