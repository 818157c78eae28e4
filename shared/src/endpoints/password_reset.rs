//! Password reset: `POST /auth/forgot-password` mails a single-use link, `POST
//! /auth/reset-password` spends it.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::EndpointResult;
use crate::domain::check_strength;
use crate::error::{ApiError, INVALID_RESET};
use crate::http;
use crate::mail::templates::reset_mail;
use crate::secrets::{new_mail_token, token_hash};
use crate::state::AppState;
use crate::store::ResetToken;
use crate::wire::{ErrorOut, ForgotPasswordRequest, MessageOut, ResetPasswordRequest, ValidationErrorOut};

pub const FORGOT_MESSAGE: &str = "If that email exists, Password reset link has been sent.";
pub const RESET_MESSAGE: &str = "Password successfully reset.";

fn message(text: &str) -> EndpointResult {
    http::json(
        StatusCode::OK,
        &MessageOut {
            message: text.to_string(),
        },
    )
}

#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 200, description = "Always the same message, whether or not the email is registered", body = MessageOut),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 415, description = "The body is not JSON: send `Content-Type: application/json`", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut), (status = 429, description = "Too many requests; wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))), (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
/// POST /auth/forgot-password: always the same answer, whether or not the email is registered.
///
/// A mail that cannot be sent is logged and not reported: reporting it would tell the caller
/// that the account exists. Store failures are reported (503), as they happen before the
/// account is known.
pub async fn forgot_password(state: &AppState, req: &Request) -> EndpointResult {
    let ForgotPasswordRequest { email } = http::body(req)?;
    let ok = || message(FORGOT_MESSAGE);

    let config = &state.config;
    let now = state.clock.now();
    // A quiet cap per address: mail-bombing one inbox stops here, without a telling 429.
    let per_email = config.forgot_per_email_limit;
    let sent = state
        .throttle
        .hit(
            &format!("mail#{}", token_hash(email.as_str())),
            per_email.window_secs,
            now,
        )
        .await?;
    if sent > per_email.max {
        return ok();
    }
    let Some(user) = state.users.user_by_email(&email).await? else {
        return ok();
    };
    if user.disabled {
        return ok();
    }
    let token = new_mail_token();
    state
        .resets
        .put_reset_token(&ResetToken {
            hash: token_hash(&token),
            user_id: user.id,
            email: user.email.clone(),
            expires_at: now + config.reset_ttl.as_secs() as i64,
        })
        .await?;
    let link = config.reset_link(&token);
    let mail = reset_mail(&user.email, &link, config.reset_ttl.as_secs() / 60);
    match state.mailer.send(&mail, &link).await {
        Ok(()) => tracing::info!(user_id = user.id, "password reset mail sent"),
        Err(e) => tracing::error!(user_id = user.id, error = %e, "password reset mail failed"),
    }
    ok()
}

/// Reset the password with the token from the mail; every session of the user ends.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "`Password successfully reset.`", body = MessageOut),
        (status = 400, description = "`Invalid or expired token.`", body = ErrorOut),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 415, description = "The body is not JSON: send `Content-Type: application/json`", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut), (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
pub async fn reset_password(state: &AppState, req: &Request) -> EndpointResult {
    let ResetPasswordRequest { token, password } = http::body(req)?;
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::BadRequest(INVALID_RESET));
    }
    let hash = token_hash(&token);
    // The policy needs the account's name; a token that names no account is simply invalid.
    // (Checked again, atomically, when the token is consumed.)
    let Some(user) = state.resets.reset_token_user(&hash, state.clock.now()).await? else {
        return Err(ApiError::BadRequest(INVALID_RESET));
    };
    check_strength(
        &password,
        &user.username,
        user.email.split('@').next().unwrap_or_default(),
        state.config.password_min_score,
    )
    .map_err(|e| ApiError::invalid_field("password", e))?;

    let new_hash = state.hasher.hash(&password).await?;
    match state
        .resets
        .consume_reset_token(&hash, &new_hash, state.clock.now_ms())
        .await?
    {
        Some(user_id) => {
            tracing::info!(user_id, "password reset; every session ended");
            message(RESET_MESSAGE)
        }
        None => Err(ApiError::BadRequest(INVALID_RESET)),
    }
}
