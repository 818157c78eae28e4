//! Change the email: `POST /auth/email` mails a confirmation link to the new address; the
//! change applies when its token is posted to `POST /auth/verify-email` (see
//! [`super::verify_email`]), and the old address then gets a notice. Until then the old
//! address keeps working. The token follows the verification-token rules.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{authenticate, reauthenticate, within_mail_cap, EndpointResult};
use super::mailer::{Delivery, DeliveryError};
use super::verify_email::new_verify_link;
use crate::domain::Email;
use crate::error::{ApiError, EMAIL_TAKEN};
use crate::http;
use crate::mail::templates::{email_change_mail, email_changed_mail};
use crate::queue::MailJob;
use crate::state::AppState;
use crate::store::Purpose;
use crate::wire::{ChangeEmailRequest, ErrorOut, FieldError, MessageOut, ValidationErrorOut};

pub const CHECK_NEW_ADDRESS_MESSAGE: &str = "Check your new address to confirm the change.";

/// Ask to move the account to a new address: a confirmation link goes there.
#[utoipa::path(post, path = "/auth/email", tag = "account", security(("bearer" = [])), request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "`Check your new address to confirm the change.`: the address changes when the mailed token is posted to `/auth/verify-email`", body = MessageOut),
        (status = 400, description = "`Current password is incorrect` (counted as a failed login)", body = ErrorOut),
        (status = 401, description = "`Not authenticated`", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 409, description = "`Email already registered`", body = ErrorOut),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 415, description = "The body is not JSON: send `Content-Type: application/json`", body = ErrorOut),
        (status = 422, description = "Validation error, FastAPI-shaped (also: the new address is the current one)", body = ValidationErrorOut),
        (status = 429, description = "Too many failed attempts for this account; wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
pub async fn change_email(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    let ChangeEmailRequest { new_email, password } = http::body(req)?;
    if new_email.as_str() == user.email {
        return Err(ApiError::Validation(vec![FieldError::new(
            "value_error",
            &["body", "new_email"],
            "Value error, this is already the account's address",
        )]));
    }
    reauthenticate(state, req, &user, &password).await?;
    if state.users.user_by_email(&new_email).await?.is_some() {
        return Err(ApiError::Conflict(EMAIL_TAKEN));
    }
    let email = Email::parse(&user.email)
        .map_err(|e| ApiError::Internal(format!("stored email unreadable: {e:?}")))?;
    // Quiet caps per new address and per account: the answer is the same, the mail stops.
    let limit = state.config.resend_per_email_limit;
    let from_ok = within_mail_cap(state, "change-from", &email, limit).await?;
    if from_ok && within_mail_cap(state, "change", &new_email, limit).await? {
        state
            .queue
            .enqueue(&MailJob::ConfirmEmailChange { email, new_email })
            .await?;
    }
    tracing::info!(user_id = user.id, "email change asked");
    http::json(
        StatusCode::ACCEPTED,
        &MessageOut {
            message: CHECK_NEW_ADDRESS_MESSAGE.into(),
        },
    )
}

/// The mailer's half: if the account of `email` is enabled and `new_email` is still free, a
/// token for `new_email` (it supersedes the account's older verification tokens) and the mail
/// with its link, to `new_email`.
pub async fn deliver_email_change(
    state: &AppState,
    email: &Email,
    new_email: &Email,
) -> Result<Delivery, DeliveryError> {
    let Some(user) = state.users.user_by_email(email).await? else {
        return Ok(Delivery::Skipped("no such account"));
    };
    if user.disabled {
        return Ok(Delivery::Skipped("account disabled"));
    }
    if state.users.user_by_email(new_email).await?.is_some() {
        return Ok(Delivery::Skipped("new address registered meanwhile"));
    }
    let config = &state.config;
    let link = new_verify_link(state, user.id, new_email.as_str(), Purpose::ChangeEmail).await?;
    let mail = email_change_mail(&config.product_name, new_email.as_str(), &link, config.verify_ttl);
    state.mailer.send(&mail, &link).await?;
    tracing::info!(user_id = user.id, "email change confirmation sent");
    Ok(Delivery::Sent)
}

/// The mailer's half of the notice to the old address once the change is made.
pub async fn deliver_email_changed(
    state: &AppState,
    email: &Email,
    new_email: &Email,
) -> Result<Delivery, DeliveryError> {
    let mail = email_changed_mail(&state.config.product_name, email.as_str(), new_email.as_str());
    state.mailer.send(&mail, "").await?;
    tracing::info!("email change notice sent");
    Ok(Delivery::Sent)
}
