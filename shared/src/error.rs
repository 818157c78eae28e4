//! The one error type of the endpoints and its one mapping to an HTTP response.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use crate::domain::Invalid;
use crate::keys::KeyError;
use crate::queue::QueueError;
use crate::store::StoreError;
use crate::tokens::TokenError;
use crate::wire::{ErrorOut, FieldError, ValidationErrorOut};

pub const NOT_AUTHENTICATED: &str = "Not authenticated";
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
pub const INVALID_REFRESH: &str = "Missing or invalid refresh token";
pub const INVALID_TOKEN: &str = "Invalid or expired token.";
/// A reset token that cannot be used (the same words as any mailed token).
pub const INVALID_RESET: &str = INVALID_TOKEN;
pub const EMAIL_NOT_VERIFIED: &str = "Email not verified";
pub const ADMIN_REQUIRED: &str = "Admin privileges required";
pub const EMAIL_TAKEN: &str = "Email already registered";
pub const USERNAME_TAKEN: &str = "Username already taken";
pub const WRONG_PASSWORD: &str = "Current password is incorrect";
pub const SESSION_NOT_FOUND: &str = "Session not found";
pub const MFA_REQUIRED: &str = "MFA required";
pub const REAUTHENTICATION_REQUIRED: &str = "Reauthentication required";
pub const INVALID_CODE: &str = "Invalid code";
pub const INVALID_MFA_TOKEN: &str = "Invalid or expired MFA token";
pub const NO_ENROLLMENT: &str = "No enrollment in progress";
pub const TOTP_NOT_ENABLED: &str = "TOTP is not enabled";
pub const NO_SECOND_FACTOR: &str = "No second factor";
pub const INVALID_PASSKEY_REGISTRATION: &str = "Invalid passkey registration";
pub const INVALID_PASSKEY: &str = "Invalid passkey";
pub const PASSKEY_NOT_FOUND: &str = "Passkey not found";
pub const PASSKEY_LIMIT: &str = "Passkey limit reached";
pub const IDENTITY_NOT_FOUND: &str = "Identity not found";
pub const IDENTITY_TAKEN: &str = "Identity already linked to another account";
pub const LAST_WAY_TO_SIGN_IN: &str = "Cannot remove the last way to sign in";
pub const USER_NOT_FOUND: &str = "User not found";
pub const OWN_ACCOUNT: &str = "Cannot change your own account here";

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
    /// 403 with a detail of the team's own (a before-signup hook's refusal).
    #[error("refused: {0}")]
    Refused(String),
    #[error("not found")]
    NotFound,
    /// 404 for a thing the route names that does not exist (or is not the caller's).
    #[error("not found: {0}")]
    Missing(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("payload too large")]
    PayloadTooLarge,
    /// A body (or a body-taking endpoint) without a JSON `Content-Type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests, retry after {retry_after}s")]
    TooManyRequests { retry_after: u64 },
    /// A dependency (store, key source) is unreachable, throttled or timed out.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// A hook erred, timed out or answered outside its contract: the request failed closed.
    #[error("hook failed: {0}")]
    HookFailed(String),
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

impl From<QueueError> for ApiError {
    /// A queue that cannot take a job is a dependency down: 503, whatever the job named.
    fn from(e: QueueError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<crate::hashing::HashError> for ApiError {
    fn from(e: crate::hashing::HashError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::hooks::HookError> for ApiError {
    /// A hook that failed fails the request closed: 503, as any dependency down.
    fn from(e: crate::hooks::HookError) -> Self {
        ApiError::HookFailed(e.to_string())
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<TokenError> for ApiError {
    /// A refused token is `Not authenticated`; endpoints that say otherwise map it themselves.
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Rejected => ApiError::Unauthenticated(NOT_AUTHENTICATED),
            TokenError::Keys(e) => e.into(),
            TokenError::Signing(m) => ApiError::Internal(m),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::HookFailed(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body; internals (the inner messages of 5xx errors) never reach the client.
    pub fn body(&self) -> String {
        let detail = match self {
            ApiError::Validation(errors) => {
                let body = ValidationErrorOut {
                    detail: errors.clone(),
                };
                return serde_json::to_string(&body)
                    .unwrap_or_else(|_| r#"{"detail":"Request validation failed"}"#.into());
            }
            ApiError::BadRequest(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::Missing(m)
            | ApiError::Conflict(m) => *m,
            ApiError::Refused(detail) => detail.as_str(),
            ApiError::NotFound => "Not Found",
            ApiError::MethodNotAllowed => "Method Not Allowed",
            ApiError::PayloadTooLarge => "Request body too large (limit 64 KiB)",
            ApiError::UnsupportedMediaType => "Content-Type must be application/json",
            ApiError::TooManyRequests { .. } => "Too many requests, try again later",
            ApiError::Unavailable(_) => {
                "Service temporarily unavailable: a backing service did not answer, please retry"
            }
            ApiError::HookFailed(_) => {
                "Service temporarily unavailable: a hook did not answer as it should, please retry"
            }
            ApiError::Internal(_) => "Internal server error",
        };
        let body = ErrorOut {
            detail: detail.to_string(),
        };
        serde_json::to_string(&body).unwrap_or_else(|_| r#"{"detail":"Internal server error"}"#.into())
    }

    /// A 422 with one error.
    pub fn validation(kind: &str, loc: &[&str], msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(kind, loc, msg)])
    }

    /// A 422 for a value of body field `field` that the domain refused.
    pub fn invalid_field(field: &str, invalid: Invalid) -> Self {
        ApiError::Validation(vec![FieldError::invalid(&["body", field], invalid)])
    }

    /// The response: the status, the JSON body, and the headers the status calls for.
    pub fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::Text(self.body()));
        *resp.status_mut() = self.status();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match &self {
            ApiError::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from((*retry_after).max(1)));
            }
            _ => {}
        }
        resp
    }
}
