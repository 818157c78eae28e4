//! Second factors of the signed-in user: `POST /auth/mfa/totp` (start an enrolment),
//! `POST /auth/mfa/totp/confirm`, `DELETE /auth/mfa/totp` and `POST /auth/mfa/recovery-codes`.
//! While the account has a second factor each needs a token of a session that used one
//! (`aal2`); the changes ask for the password again. Adding a factor needs a verified address.

use super::audit;
use crate::domain::audit::{Details, EventType, Method};
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{
    authenticate, authenticate_at_aal2_with_password, envelope, envelope_user, reauthenticate,
    require_aal2_if_enrolled, EndpointResult,
};
use super::delivery::{Delivery, DeliveryError};
use super::issuance;
use super::owed_mail::queue_notice;
use super::responses::{JsonBodyRefused, NotAuthenticated, TooManyWrongPasswords, Unavailable};
use super::sessions::no_content;
use crate::domain::{Authentication, Email, RecoveryCode, TotpSecret, User};
use crate::error::{
    ApiError, EMAIL_NOT_VERIFIED, INVALID_CODE, NOT_AUTHENTICATED, NO_ENROLLMENT, NO_SECOND_FACTOR,
    TOTP_NOT_ENABLED,
};
use crate::http;
use crate::keys::sealing;
use crate::mail::templates::factor_notice_mail;
use crate::queue::{FactorNotice, MailJob};
use crate::state::AppState;
use crate::store::{ConfirmEnd, PendingTotp, TotpConfirmation};
use crate::wire::{
    ConfirmTotpRequest, ErrorOut, PasswordConfirmation, RecoveryCodesOut, TotpConfirmedOut,
    TotpEnrollmentOut, ValidationErrorOut,
};

/// How long an enrolment waits for its first code.
pub const ENROLLMENT_TTL: Duration = Duration::from_secs(10 * 60);

/// Only an account whose address is verified can add a factor: a squatter's factor must not
/// outlive the real owner's reset.
pub(super) fn require_verified(user: &User) -> Result<(), ApiError> {
    if user.email_verified {
        Ok(())
    } else {
        Err(ApiError::Forbidden(EMAIL_NOT_VERIFIED))
    }
}

/// Start (or restart) a TOTP enrolment: nothing changes until it is confirmed.
#[utoipa::path(post, path = "/auth/mfa/totp", tag = "mfa", security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret to put in an authenticator app (as text, or as a QR code of `otpauth_uri`); confirm within 10 minutes", body = TotpEnrollmentOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required` (the account has a second factor and the token's session did not use it), or `Email not verified`", body = ErrorOut),
        JsonBodyRefused, Unavailable))]
pub async fn start_totp(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    require_verified(&user)?;
    let keys = state.tokens.private_keys().await?;
    let secret = TotpSecret::generate();
    let sealed = sealing::seal(&keys.hmac, user.id, secret.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let pending = PendingTotp {
        sealed,
        expires_at: state.clock.now() + ENROLLMENT_TTL.as_secs() as i64,
    };
    state.mfa.start_totp_enrollment(user.id, &pending).await?;
    tracing::info!(user_id = user.id, "totp enrolment started");
    let body = TotpEnrollmentOut {
        secret: secret.base32(),
        otpauth_uri: secret.otpauth_uri(&state.config.mfa_issuer, &user.email),
    };
    http::json(StatusCode::OK, &body)
}

/// Confirm the enrolment with a code: TOTP is on, every session of the account ends, and the
/// caller continues in a new session at `aal2`.
#[utoipa::path(post, path = "/auth/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])), request_body = ConfirmTotpRequest,
    responses(
        (status = 200, description = "TOTP is on: the recovery codes (shown once; empty when TOTP replaced an earlier one) and the tokens of the caller's new session (every other session has ended)", body = TotpConfirmedOut),
        (status = 400, description = "`Invalid code`, or `Current password is incorrect`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required`, or `Email not verified`; or `Reauthentication required` (no password, and a sign-in over 5 minutes old)", body = ErrorOut),
        (status = 404, description = "`No enrollment in progress` (none started, or older than 10 minutes)", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn confirm_totp(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let ConfirmTotpRequest { code, password } = http::body(req)?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    require_verified(&user)?;
    reauthenticate(state, req, &user, &claims, password.as_ref()).await?;

    let record = state.mfa.second_factors(user.id).await?;
    let now = state.clock.now();
    let Some(pending) = record.live_pending(now) else {
        return Err(ApiError::Missing(NO_ENROLLMENT));
    };
    let keys = state.tokens.signing_keys().await?;
    let secret = sealing::open(&keys.hmac, user.id, &pending.sealed)
        .ok()
        .and_then(|bytes| TotpSecret::from_bytes(&bytes))
        .ok_or_else(|| ApiError::Internal("enrolment secret does not open".into()))?;
    let Some(step) = secret.accepts(&code, now, None) else {
        return Err(ApiError::BadRequest(INVALID_CODE));
    };

    // The account's first second factor brings the recovery codes; a replaced TOTP keeps them.
    let codes = (!record.factors().any()).then(RecoveryCode::generate_set);
    let hashes: Option<Vec<String>> = codes
        .as_ref()
        .map(|set| set.iter().map(|c| c.hash(user.id)).collect());
    let cut_ms = state.clock.now_ms().max(user.sessions_valid_after_ms + 1);
    let auth = Authentication::password_and_code(now);
    let mut session = state
        .tokens
        .new_session(user.id, http::seen_from(req), auth.clone());
    session.valid_from_ms = cut_ms + 1;
    let first = state.tokens.first_refresh_token(&session);
    // Decided (with the token hook) before anything is written.
    let access = issuance::access_claims(state, req, &user, &session.sid, &auth).await?;
    let confirmation = TotpConfirmation {
        user_id: user.id,
        pending,
        step,
        recovery_codes: hashes.as_deref(),
        seen_cutoff_ms: user.sessions_valid_after_ms,
        cut_ms,
        session: &session,
        first: &first,
        now,
    };
    match state.mfa.confirm_totp(&confirmation).await? {
        ConfirmEnd::Confirmed => {}
        ConfirmEnd::NoEnrollment => return Err(ApiError::Missing(NO_ENROLLMENT)),
        // Signed out everywhere (or reset) meanwhile: this session is over too.
        ConfirmEnd::SessionsEnded => return Err(ApiError::Unauthenticated(NOT_AUTHENTICATED)),
    }
    tracing::info!(user_id = user.id, "totp turned on; every other session ended");
    let event = audit::by_owner(state, req, EventType::MfaEnabled)
        .session(&session.sid)
        .details(Details::method(Method::Totp));
    audit::record(state, user.id, event).await;
    notify(state, &user, FactorNotice::TotpEnabled).await;
    let issued = issuance::sign(state, &access, &first).await?;
    let envelope = envelope(issued, envelope_user(&user));
    let body = TotpConfirmedOut {
        recovery_codes: codes.iter().flatten().map(RecoveryCode::display).collect(),
        tokens: envelope.tokens,
        user: envelope.user,
    };
    http::json(StatusCode::OK, &body)
}

/// Turn TOTP off (its recovery codes go with it).
#[utoipa::path(delete, path = "/auth/mfa/totp", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses(
        (status = 204, description = "TOTP and the recovery codes are removed; this session lives on"),
        (status = 400, description = "`Current password is incorrect`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required`: the token's session did not use a second factor; or `Reauthentication required` (no password, and a sign-in over 5 minutes old)", body = ErrorOut),
        (status = 404, description = "`TOTP is not enabled`", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn disable_totp(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate_at_aal2_with_password(state, req).await?;
    if !state.mfa.disable_totp(user.id).await? {
        return Err(ApiError::Missing(TOTP_NOT_ENABLED));
    }
    tracing::info!(user_id = user.id, "totp turned off");
    let event = audit::by_owner(state, req, EventType::MfaDisabled)
        .session(&claims.sid)
        .details(Details::method(Method::Totp));
    audit::record(state, user.id, event).await;
    notify(state, &user, FactorNotice::TotpDisabled).await;
    Ok(no_content())
}

/// New recovery codes; the old ones stop working.
#[utoipa::path(post, path = "/auth/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirmation,
    responses(
        (status = 200, description = "Ten new single-use codes (shown once); the old ones no longer work", body = RecoveryCodesOut),
        (status = 400, description = "`Current password is incorrect`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required`: the token's session did not use a second factor; or `Reauthentication required` (no password, and a sign-in over 5 minutes old)", body = ErrorOut),
        (status = 404, description = "`No second factor`", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn recovery_codes(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate_at_aal2_with_password(state, req).await?;
    let codes = RecoveryCode::generate_set();
    let hashes: Vec<String> = codes.iter().map(|c| c.hash(user.id)).collect();
    if !state.mfa.replace_recovery_codes(user.id, &hashes).await? {
        return Err(ApiError::Missing(NO_SECOND_FACTOR));
    }
    tracing::info!(user_id = user.id, "recovery codes replaced");
    let event = audit::by_owner(state, req, EventType::RecoveryCodesRegenerated).session(&claims.sid);
    audit::record(state, user.id, event).await;
    let body = RecoveryCodesOut {
        recovery_codes: codes.iter().map(RecoveryCode::display).collect(),
    };
    http::json(StatusCode::OK, &body)
}

/// Queues a second-factor notice to the account's address (verified: factors need one).
pub(super) async fn notify(state: &AppState, user: &User, notice: FactorNotice) {
    if let Ok(email) = Email::parse(&user.email) {
        let job = MailJob::SecondFactor {
            email: email.clone(),
            notice,
        };
        queue_notice(state, &email, job).await;
    }
}

/// The mailer's half: the notice to the address.
pub async fn deliver_factor_notice(
    state: &AppState,
    email: &Email,
    notice: FactorNotice,
) -> Result<Delivery, DeliveryError> {
    let mail = factor_notice_mail(&state.config.product_name, email.as_str(), notice);
    state.mail_transport.send(&mail, "").await?;
    tracing::info!(kind = notice.as_str(), "second factor notice sent");
    Ok(Delivery::Sent)
}
