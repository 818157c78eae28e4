//! The error responses many operations share, described once for the OpenAPI description: an
//! operation lists them by name beside its own (`responses((status = 200, ...), Unavailable)`).

use utoipa::IntoResponses;

use crate::wire::{ErrorOut, ValidationErrorOut};

/// What any route with a JSON body may answer before its handler runs.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum JsonBodyRefused {
    #[response(status = 413, description = "Body over 64 KiB")]
    TooLarge(ErrorOut),
    #[response(
        status = 415,
        description = "The body is not JSON: send `Content-Type: application/json`"
    )]
    NotJson(ErrorOut),
}

/// A body that is JSON but not what the route takes.
#[derive(IntoResponses)]
#[response(status = 422, description = "Validation error, FastAPI-shaped")]
#[allow(dead_code)]
pub struct Invalid(ValidationErrorOut);

/// A route that needs an access token, called without a live one.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "`Not authenticated`: a missing, malformed, expired or foreign token, or one of an ended session",
    headers(("WWW-Authenticate" = String, description = "`Bearer`"))
)]
#[allow(dead_code)]
pub struct NotAuthenticated(ErrorOut);

/// Over the per-client limit of the route.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many requests; wait `Retry-After` seconds",
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)]
pub struct TooManyRequests(ErrorOut);

/// Too many wrong current passwords from this session (the routes that ask for it again).
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many wrong passwords from this session; wait `Retry-After` seconds",
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)]
pub struct TooManyWrongPasswords(ErrorOut);

/// A backing service (DynamoDB, SQS, Secrets Manager) did not answer.
#[derive(IntoResponses)]
#[response(status = 503, description = "A backing service did not answer; retry")]
#[allow(dead_code)]
pub struct Unavailable(ErrorOut);

/// Step-up: the account has a second factor and the token's session did not use one.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "`MFA required`: the account has a second factor and the token's session did not use it; log in with it. `Reauthentication required`: the account has no password and the session signed in over 5 minutes ago; sign in again"
)]
#[allow(dead_code)]
pub struct MfaRequired(ErrorOut);
