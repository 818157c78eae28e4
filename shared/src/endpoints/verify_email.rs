//! Verified email: signup queues a verification mail ([`queue_verification`]); `POST
//! /auth/verify-email` spends its token (or an email change's, see [`super::email_change`]); `POST /auth/verify-email/resend` queues a new one.
//! The token follows the reset-token rules: 256-bit random, only its SHA-256 stored, single
//! use, `AUTH_VERIFY_TTL_SECONDS` (24 h), and a newer one supersedes the older ones.

use super::audit;
use crate::domain::audit::EventType;
use lambda_http::Request;

use super::common::{message, EndpointResult};
use super::delivery::{Delivery, DeliveryError};
use super::mail_caps::MailCap;
use super::owed_mail::{queue_notice, request_mail};
use super::responses::{Invalid, JsonBodyRefused, TooManyRequests, Unavailable};
use crate::domain::{Email, User};
use crate::error::{ApiError, EMAIL_TAKEN, INVALID_TOKEN};
use crate::http;
use crate::mail::templates::verification_mail;
use crate::queue::MailJob;
use crate::randomness::{new_mail_token, token_hash};
use crate::state::AppState;
use crate::store::{Consumed, MailRequestKind, Purpose, VerifyToken};
use crate::wire::{ErrorOut, MessageOut, ResendVerificationRequest, VerifyEmailRequest};

pub const VERIFIED_MESSAGE: &str = "Email verified.";
pub const RESEND_MESSAGE: &str = "If that email exists and is unverified, a verification link has been sent.";

/// Verify an address with the token from the mailed link.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "`Email verified.` (for a link from an email change: the account has the new address now, verified, and the old address was told)", body = MessageOut),
        (status = 400, description = "`Invalid or expired token.` (unknown, used, superseded or expired)", body = ErrorOut),
        (status = 409, description = "`Email already registered`: the link is for an email change, and another account took the new address meanwhile", body = ErrorOut),
        JsonBodyRefused, Invalid, Unavailable))]
pub async fn verify_email(state: &AppState, req: &Request) -> EndpointResult {
    let VerifyEmailRequest { token } = http::body(req)?;
    // Only spares the store a lookup: mailed tokens are 43 characters, so the store knows no
    // empty or longer-than-128 token either and the answer is the same without this check
    // (mutation testing finds its mutants equivalent).
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::BadRequest(INVALID_TOKEN));
    }
    match state
        .verifications
        .consume_verify_token(&token_hash(&token), state.clock.now())
        .await?
    {
        Consumed::Verified(user_id) => {
            tracing::info!(user_id, "email verified");
            audit::record(
                state,
                user_id,
                audit::by_owner(state, req, EventType::EmailVerified),
            )
            .await;
            message(VERIFIED_MESSAGE)
        }
        Consumed::EmailChanged {
            user_id,
            old_email,
            new_email,
        } => {
            tracing::info!(user_id, "email changed");
            audit::record(
                state,
                user_id,
                audit::by_owner(state, req, EventType::EmailChanged),
            )
            .await;
            if let (Ok(email), Ok(new_email)) = (Email::parse(&old_email), Email::parse(&new_email)) {
                let job = MailJob::EmailChanged {
                    email: email.clone(),
                    new_email,
                };
                queue_notice(state, &email, job).await;
            }
            message(VERIFIED_MESSAGE)
        }
        Consumed::EmailTaken => Err(ApiError::Conflict(EMAIL_TAKEN)),
        Consumed::Unusable => Err(ApiError::BadRequest(INVALID_TOKEN)),
    }
}

/// Ask for a new verification link: always the same answer, whether the address is unknown,
/// verified or not.
#[utoipa::path(post, path = "/auth/verify-email/resend", tag = "auth", request_body = ResendVerificationRequest,
    responses(
        (status = 200, description = "Always the same message, whether the email is unknown, verified or unverified", body = MessageOut),
        JsonBodyRefused, Invalid, TooManyRequests, Unavailable))]
pub async fn resend_verification(state: &AppState, req: &Request) -> EndpointResult {
    let ResendVerificationRequest { email } = http::body(req)?;
    if MailCap::Verify.admits(state, &email).await? {
        request_mail(state, MailRequestKind::Verify, &email).await?;
    }
    message(RESEND_MESSAGE)
}

/// Signup's half: the first verification mail of a new account, counted on the address's
/// verification cap like a resend. A store or queue that cannot take it does not undo the
/// signup (the account is complete, and resend makes a new link); it is logged.
pub async fn queue_verification(state: &AppState, email: Email) {
    let queued = match MailCap::Verify.admits(state, &email).await {
        Ok(true) => request_mail(state, MailRequestKind::Verify, &email).await,
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = queued {
        tracing::warn!(error = %e, "verification mail not queued; the user can ask for it again");
    }
}

/// The mailer's half, for a queued job: if `email` names an enabled account whose address is
/// not verified, a new token (its hash stored; it supersedes the older ones) and the mail with
/// its link. An error leaves the job to be tried again.
pub async fn deliver_verification(state: &AppState, email: &Email) -> Result<Delivery, DeliveryError> {
    let Some(user) = state.users.user_by_email(email).await? else {
        return Ok(Delivery::Skipped("no such account"));
    };
    if user.disabled {
        return Ok(Delivery::Skipped("account disabled"));
    }
    if user.email_verified {
        return Ok(Delivery::Skipped("already verified"));
    }
    let config = &state.config;
    let Some(link) = new_verify_link(state, &user, &user.email, Purpose::Verify, None).await? else {
        return Ok(Delivery::Skipped("account changed meanwhile"));
    };
    let mail = verification_mail(&config.product_name, &user.email, &link, config.verify_ttl);
    state.mail_transport.send(&mail, &link).await?;
    tracing::info!(user_id = user.id, "verification mail sent");
    Ok(Delivery::Sent)
}

/// A new verification token of `purpose` proving `email` for `user` (its hash stored; it
/// supersedes the older ones of that purpose), as the link to mail, which shows the address and
/// the account's username. An email change's token is minted only while the account's pending
/// change is still `request` (`None` otherwise).
pub(super) async fn new_verify_link(
    state: &AppState,
    user: &User,
    email: &str,
    purpose: Purpose,
    request: Option<&str>,
) -> Result<Option<String>, DeliveryError> {
    let token = new_mail_token();
    let stored = state
        .verifications
        .put_verify_token(
            &VerifyToken {
                hash: token_hash(&token),
                user_id: user.id,
                expires_at: state.clock.now() + state.config.verify_ttl.as_secs() as i64,
                purpose,
            },
            request,
        )
        .await?;
    Ok(stored.then(|| state.config.verify_link(&token, email, &user.username)))
}
