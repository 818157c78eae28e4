//! Change the password: `POST /auth/password`. The signed-in user proves the current password
//! (a wrong one counts on the session's own failure counter); every other session ends at once, this one lives
//! on, and the address gets a notice.

use super::audit;
use crate::domain::audit::EventType;
use lambda_http::Request;

use super::common::{authenticate, message, reauthenticate, require_aal2_if_enrolled, EndpointResult};
use super::delivery::{Delivery, DeliveryError};
use super::owed_mail::queue_notice;
use super::responses::{JsonBodyRefused, MfaRequired, NotAuthenticated, TooManyWrongPasswords, Unavailable};
use crate::domain::{check_strength, Email};
use crate::error::{ApiError, NOT_AUTHENTICATED};
use crate::http;
use crate::mail::templates::password_changed_mail;
use crate::queue::MailJob;
use crate::state::AppState;
use crate::store::PasswordChange;
use crate::wire::{ChangePasswordRequest, ErrorOut, FieldError, MessageOut, ValidationErrorOut};

pub const CHANGED_MESSAGE: &str = "Password changed.";

/// Change the password; every other session of the user ends at once.
#[utoipa::path(post, path = "/auth/password", tag = "account", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "`Password changed.`: every other session has ended, this one lives on, and a notice went to the address", body = MessageOut),
        (status = 400, description = "`Current password is incorrect` (counted on this session's own failure counter)", body = ErrorOut),
        NotAuthenticated, MfaRequired,
        JsonBodyRefused,
        (status = 422, description = "Validation error, FastAPI-shaped: the new password fails the signup policy, or is the current one", body = ValidationErrorOut),
        TooManyWrongPasswords,
        Unavailable))]
pub async fn change_password(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    let ChangePasswordRequest {
        current_password,
        new_password,
        device_token,
    } = http::body(req)?;
    // The new password's rules need no secret, so they cost no attempt.
    if current_password
        .as_ref()
        .is_some_and(|current| current.0.expose() == new_password.expose())
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "value_error",
            &["body", "new_password"],
            "Value error, the new password must differ from the current one",
        )]));
    }
    check_strength(
        &new_password,
        &user.username,
        user.email.split('@').next().unwrap_or_default(),
        state.config.password_min_score,
    )
    .map_err(|e| ApiError::invalid_field("new_password", e))?;

    let old_hash = reauthenticate(state, req, &user, &claims, current_password.as_ref()).await?;
    let new_hash = state.hasher.hash(&new_password).await?;
    let device = device_token.as_deref().map(crate::randomness::token_hash);
    let change = PasswordChange {
        user_id: user.id,
        email: &user.email,
        old_hash: &old_hash,
        new_hash: &new_hash,
        keep_sid: &claims.sid,
        keep_device: device.as_deref(),
        seen_cutoff_ms: user.sessions_valid_after_ms,
        cut_ms: state.clock.now_ms().max(user.sessions_valid_after_ms),
    };
    if !state.accounts.change_password(&change).await? {
        // Meanwhile the password changed or was reset (which ended this session), or this
        // session was ended: nothing changed, and this session is over.
        return Err(ApiError::Unauthenticated(NOT_AUTHENTICATED));
    }
    tracing::info!(user_id = user.id, "password changed; other sessions ended");
    let event = audit::by_owner(state, req, EventType::PasswordChanged).session(&claims.sid);
    audit::record(state, user.id, event).await;
    if let Ok(email) = Email::parse(&user.email) {
        queue_notice(state, &email, MailJob::PasswordChanged { email: email.clone() }).await;
    }
    message(CHANGED_MESSAGE)
}

/// The mailer's half: the notice to the address (whatever account has it now).
pub async fn deliver_password_changed(state: &AppState, email: &Email) -> Result<Delivery, DeliveryError> {
    let mail = password_changed_mail(&state.config.product_name, email.as_str());
    state.mail_transport.send(&mail, "").await?;
    tracing::info!("password change notice sent");
    Ok(Delivery::Sent)
}
