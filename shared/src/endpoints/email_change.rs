//! Change the email: `POST /auth/email` records the pending change on the account and queues
//! a job naming it; the mailer mints a confirmation link to the new address while the change is
//! still pending (a password change or reset cancels it). The change applies when its token is
//! posted to `POST /auth/verify-email` (see [`super::verify_email`]), and the old address then
//! gets a notice. Until then the old address keeps working. The token follows the
//! verification-token rules. The answer is the same whether or not the new address is
//! registered: the mailer tells the owner of a taken address instead of minting a link.

use super::audit;
use crate::domain::audit::EventType;
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{authenticate, reauthenticate, require_aal2_if_enrolled, EndpointResult};
use super::delivery::{Delivery, DeliveryError};
use super::mail_caps::MailCap;
use super::responses::{JsonBodyRefused, MfaRequired, NotAuthenticated, TooManyWrongPasswords, Unavailable};
use super::verify_email::new_verify_link;
use crate::domain::{Email, UserId};
use crate::error::{ApiError, NOT_AUTHENTICATED};
use crate::http;
use crate::mail::templates::{address_taken_mail, email_change_mail, email_changed_mail};
use crate::queue::MailJob;
use crate::randomness::new_id;
use crate::state::AppState;
use crate::store::{PendingEmailChange, Purpose};
use crate::wire::{ChangeEmailRequest, ErrorOut, FieldError, MessageOut, ValidationErrorOut};

pub const CHECK_NEW_ADDRESS_MESSAGE: &str = "Check your new address to confirm the change.";

/// Ask to move the account to a new address: a confirmation link goes there.
#[utoipa::path(post, path = "/auth/email", tag = "account", security(("bearer" = [])), request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "`Check your new address to confirm the change.`: the address changes when the mailed token is posted to `/auth/verify-email`. The same answer whether or not the new address is registered (its owner is told by mail instead)", body = MessageOut),
        (status = 400, description = "`Current password is incorrect` (counted on this session's own failure counter)", body = ErrorOut),
        NotAuthenticated, MfaRequired,
        JsonBodyRefused,
        (status = 422, description = "Validation error, FastAPI-shaped (also: the new address is the current one)", body = ValidationErrorOut),
        TooManyWrongPasswords,
        Unavailable))]
pub async fn change_email(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    let ChangeEmailRequest { new_email, password } = http::body(req)?;
    if new_email.as_str() == user.email {
        return Err(ApiError::Validation(vec![FieldError::new(
            "value_error",
            &["body", "new_email"],
            "Value error, this is already the account's address",
        )]));
    }
    reauthenticate(state, req, &user, &claims, password.as_ref()).await?;
    // Whether the new address is registered is not looked at here: the answer (and its time)
    // would tell. The mailer finds out, and tells that address's owner instead.
    let email = Email::parse(&user.email)
        .map_err(|e| ApiError::Internal(format!("stored email unreadable: {e:?}")))?;
    // Quiet caps per account and per new address: the answer is the same, the mail stops.
    if MailCap::ChangeFrom.admits(state, &email).await? && MailCap::ChangeTo.admits(state, &new_email).await?
    {
        let change = PendingEmailChange {
            request: new_id(),
            new_email: new_email.as_str().to_string(),
        };
        if !state.accounts.request_email_change(user.id, &change).await? {
            return Err(ApiError::Unauthenticated(NOT_AUTHENTICATED));
        }
        let job = MailJob::ConfirmEmailChange {
            user_id: user.id,
            request: change.request,
        };
        state.queue.enqueue(&job).await?;
        let event = audit::by_owner(state, req, EventType::EmailChangeRequested).session(&claims.sid);
        audit::record(state, user.id, event).await;
    }
    tracing::info!(user_id = user.id, "email change asked");
    http::json(
        StatusCode::ACCEPTED,
        &MessageOut {
            message: CHECK_NEW_ADDRESS_MESSAGE.into(),
        },
    )
}

/// The mailer's half: while the account is enabled and its pending change is still `request`,
/// a token for the new address (it supersedes the account's older change tokens) and the mail
/// with its link, to the new address, naming the account that asked. If another account has
/// the new address, its owner is told instead and nothing is minted.
pub async fn deliver_email_change(
    state: &AppState,
    user_id: UserId,
    request: &str,
) -> Result<Delivery, DeliveryError> {
    let Some(user) = state.users.user_by_id(user_id).await? else {
        return Ok(Delivery::Skipped("no such account"));
    };
    if user.disabled {
        return Ok(Delivery::Skipped("account disabled"));
    }
    let pending = state.accounts.pending_email_change(user_id).await?;
    let Some(change) = pending.filter(|c| c.request == request) else {
        return Ok(Delivery::Skipped("no such request (done, replaced or cancelled)"));
    };
    let Ok(new_email) = Email::parse(&change.new_email) else {
        return Ok(Delivery::Skipped("unreadable address"));
    };
    let config = &state.config;
    if state.users.user_by_email(&new_email).await?.is_some() {
        let mail = address_taken_mail(&config.product_name, new_email.as_str(), &user.username);
        state.mail_transport.send(&mail, "").await?;
        tracing::info!(
            user_id = user.id,
            "email change to a registered address; its owner told"
        );
        return Ok(Delivery::Sent);
    }
    let Some(link) = new_verify_link(
        state,
        &user,
        new_email.as_str(),
        Purpose::ChangeEmail,
        Some(request),
    )
    .await?
    else {
        return Ok(Delivery::Skipped("request cancelled meanwhile"));
    };
    let mail = email_change_mail(
        &config.product_name,
        new_email.as_str(),
        &user.username,
        &link,
        config.verify_ttl,
    );
    state.mail_transport.send(&mail, &link).await?;
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
    state.mail_transport.send(&mail, "").await?;
    tracing::info!("email change notice sent");
    Ok(Delivery::Sent)
}
