use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{limit_client, EndpointResult};
use crate::api::{ErrorOut, ForgotPasswordRequest, MessageOut, ResetPasswordRequest, ValidationErrorOut};
use crate::app::AppState;
use crate::domain::Email;
use crate::error::{ApiError, INVALID_RESET};
use crate::http::{self, Fields};
use crate::mail::reset_mail;
use crate::password::{check_strength, Password};
use crate::store::ResetToken;

pub const FORGOT_MESSAGE: &str = "If that email exists, Password reset link has been sent.";
pub const RESET_MESSAGE: &str = "Password successfully reset.";

/// SHA-256 of a reset token, hex: the only form the store ever sees.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A 256-bit random token, URL-safe.
fn new_reset_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 200, description = "Always the same message, whether or not the email is registered", body = MessageOut),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut), (status = 429, description = "Too many requests; wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))), (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
/// POST /auth/forgot-password: always the same answer, whether or not the email is registered.
///
/// A mail that cannot be sent is logged and not reported: reporting it would tell the caller
/// that the account exists. Store failures are reported (503), as they happen before the
/// account is known.
pub async fn forgot_password(state: &AppState, req: &Request) -> EndpointResult {
    limit_client(state, req, "forgot", state.config.forgot_limit).await?;
    let body = http::json_object(req)?;
    let mut fields = Fields::new(&body);
    let email = fields.parsed("email", Email::parse);
    fields.finish()?;
    let Some(email) = email else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let ok = || Ok(http::json(StatusCode::OK, &json!({ "message": FORGOT_MESSAGE })));

    let config = &state.config;
    let now = state.clock.now();
    // A quiet cap per address: mail-bombing one inbox stops here, without a telling 429.
    let per_email = config.forgot_per_email_limit;
    let sent = state
        .store
        .hit(
            &format!("mail#{}", token_hash(email.as_str())),
            per_email.window_secs,
            now,
        )
        .await?;
    if sent > per_email.max {
        return ok();
    }
    let Some(user) = state.store.user_by_email(&email).await? else {
        return ok();
    };
    if user.disabled {
        return ok();
    }
    let token = new_reset_token();
    state
        .store
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
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut), (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
pub async fn reset_password(state: &AppState, req: &Request) -> EndpointResult {
    let body = http::json_object(req)?;
    let mut fields = Fields::new(&body);
    let token = fields.string("token");
    let password = fields.parsed("password", Password::new);
    fields.finish()?;
    let (Some(token), Some(password)) = (token, password) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::BadRequest(INVALID_RESET));
    }
    let hash = token_hash(token);
    // The policy needs the account's name; a token that names no account is simply invalid.
    // (Checked again, atomically, when the token is consumed.)
    let mut fields = Fields::new(&body);
    if let Some(user) = state.store.reset_token_user(&hash, state.clock.now()).await? {
        fields.check(
            "password",
            check_strength(
                &password,
                &user.username,
                user.email.split('@').next().unwrap_or_default(),
                state.config.password_min_score,
            ),
        );
    } else {
        return Err(ApiError::BadRequest(INVALID_RESET));
    }
    fields.finish()?;

    let new_hash = state.hasher.hash(&password).await?;
    match state
        .store
        .consume_reset_token(&hash, &new_hash, state.clock.now_ms())
        .await?
    {
        Some(user_id) => {
            tracing::info!(user_id, "password reset; every session ended");
            Ok(http::json(StatusCode::OK, &json!({ "message": RESET_MESSAGE })))
        }
        None => Err(ApiError::BadRequest(INVALID_RESET)),
    }
}
