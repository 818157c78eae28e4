//! Password reset: `POST /auth/forgot-password` queues a mail with a single-use link (which
//! the mailer delivers), `POST /auth/reset-password` spends it.

use super::audit;
use crate::domain::audit::{Actor, AuditEvent, EventType};
use lambda_http::Request;

use super::common::{message, EndpointResult};
use super::delivery::{Delivery, DeliveryError};
use super::mail_caps::MailCap;
use super::migration::{migrate, Migration};
use super::owed_mail::request_mail;
use super::responses::{Invalid, JsonBodyRefused, TooManyRequests, Unavailable};
use crate::domain::{check_strength, Email, SeenFrom};
use crate::error::{ApiError, INVALID_RESET};
use crate::http;
use crate::mail::templates::reset_mail;
use crate::randomness::{new_mail_token, token_hash};
use crate::state::AppState;
use crate::store::{MailRequestKind, ResetToken};
use crate::wire::{ErrorOut, ForgotPasswordRequest, MessageOut, ResetPasswordRequest};

pub const FORGOT_MESSAGE: &str = "If that email exists, Password reset link has been sent.";
pub const RESET_MESSAGE: &str = "Password successfully reset.";

#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 200, description = "Always the same message, whether or not the email is registered", body = MessageOut),
        JsonBodyRefused, Invalid, TooManyRequests, Unavailable))]
/// POST /auth/forgot-password: always the same answer, in the same time, whether or not the
/// email is registered.
///
/// It does only what is the same for every address: the per-address quiet cap, then a
/// recorded request and a job naming it on the mail queue. It never looks the account up: the
/// mailer does, later ([`deliver_password_reset`]). A queue or store failure is a 503 for every
/// address alike.
pub async fn forgot_password(state: &AppState, req: &Request) -> EndpointResult {
    let ForgotPasswordRequest { email } = http::body(req)?;
    if MailCap::Reset.admits(state, &email).await? {
        request_mail(state, MailRequestKind::PasswordReset, &email).await?;
    }
    message(FORGOT_MESSAGE)
}

/// The mailer's half of forgot-password, for a queued job: if `email` names an enabled
/// account, a new reset token (stored as its hash only; it supersedes the older ones) and the
/// mail with its link. An error (store or mail) leaves the job to be tried again; a retry
/// makes a new token, so only the newest mail's link works.
///
/// An unknown email is asked about to the user-migration hook, when one is set: here, off the
/// request path, so the client's answer is the same for every address. A user of the old
/// system gets an account with no password, and the mail that sets one. A hook that fails
/// leaves the job to be tried again.
pub async fn deliver_password_reset(state: &AppState, email: &Email) -> Result<Delivery, DeliveryError> {
    let user = match state.users.user_by_email(email).await? {
        Some(user) => user,
        None if state.hooks.migrates_users() => {
            // The request's client is not known here: the before-signup hook gets no address.
            let seen = SeenFrom {
                ip: String::new(),
                user_agent: String::new(),
            };
            match migrate(state, email, None, &seen)
                .await
                .map_err(|e| DeliveryError::Migration(e.to_string()))?
            {
                Migration::Created { user, .. } => user,
                Migration::Raced => match state.users.user_by_email(email).await? {
                    Some(user) => user,
                    None => return Ok(Delivery::Skipped("no such account")),
                },
                Migration::NoSuchUser => return Ok(Delivery::Skipped("no such account")),
                Migration::Refused(_) => return Ok(Delivery::Skipped("user migration refused")),
            }
        }
        None => return Ok(Delivery::Skipped("no such account")),
    };
    if user.disabled {
        return Ok(Delivery::Skipped("account disabled"));
    }
    let config = &state.config;
    let token = new_mail_token();
    state
        .resets
        .put_reset_token(&ResetToken {
            hash: token_hash(&token),
            user_id: user.id,
            expires_at: state.clock.now() + config.reset_ttl.as_secs() as i64,
        })
        .await?;
    let link = config.reset_link(&token);
    let mail = reset_mail(&config.product_name, &user.email, &link, config.reset_ttl);
    state.mail_transport.send(&mail, &link).await?;
    tracing::info!(user_id = user.id, "password reset mail sent");
    // The mail job does not carry the request's client.
    let event = AuditEvent::new(
        EventType::PasswordResetRequested,
        Actor::Owner,
        state.clock.now_ms(),
        &SeenFrom::default(),
    );
    audit::record(state, user.id, event).await;
    Ok(Delivery::Sent)
}

/// Reset the password with the token from the mail; every session of the user ends.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "`Password successfully reset.`", body = MessageOut),
        (status = 400, description = "`Invalid or expired token.`", body = ErrorOut),
        JsonBodyRefused, Invalid, Unavailable))]
pub async fn reset_password(state: &AppState, req: &Request) -> EndpointResult {
    let ResetPasswordRequest {
        token,
        password,
        device_token,
    } = http::body(req)?;
    // Only spares the store a lookup: mailed tokens are 43 characters, so the store knows no
    // empty or longer-than-128 token either and the answer is the same without this check
    // (mutation testing finds its mutants equivalent).
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
    let device = device_token.as_deref().map(token_hash);
    match state
        .resets
        .consume_reset_token(&hash, &new_hash, device.as_deref(), state.clock.now_ms())
        .await?
    {
        Some(user_id) => {
            tracing::info!(user_id, "password reset; every session ended");
            audit::record(
                state,
                user_id,
                audit::by_owner(state, req, EventType::PasswordReset),
            )
            .await;
            message(RESET_MESSAGE)
        }
        None => Err(ApiError::BadRequest(INVALID_RESET)),
    }
}
