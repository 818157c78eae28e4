//! Login's second step: `POST /auth/login/mfa`, the `mfa_token` a right password earned with a
//! TOTP code or a recovery code.
//!
//! Each attempt is reserved first, atomically, on the challenge (5 codes at most) and on the
//! account's own code counter (backing off after 5 failures in a row, refusing every code after
//! 100 until a password reset); so a stolen password cannot try a million codes across many
//! `mfa_token`s. A wrong, replayed or spent code is the same 400 after the same work.

use super::audit;
use super::new_device::{self, SignedIn};
use crate::domain::audit::{Details, EventType, Method, Reason};
use crate::domain::UserId;
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{envelope, envelope_user, EndpointResult};
use super::issuance;
use super::mfa::notify;
use super::responses::{JsonBodyRefused, Unavailable};
use crate::domain::{Authentication, RecoveryCode, TotpSecret};
use crate::error::{ApiError, INVALID_CODE, INVALID_MFA_TOKEN};
use crate::http;
use crate::keys::sealing;
use crate::queue::FactorNotice;
use crate::randomness;
use crate::state::AppState;
use crate::store::{CodeAttempt, FactorRecord, Proof, SecondStep, SecondStepEnd};
use crate::wire::{ErrorOut, FieldError, LoginMfaRequest, TokenEnvelope, ValidationErrorOut};

/// How long an `mfa_token` works.
pub const MFA_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// What the second step was sent.
enum Presented {
    Code(String),
    RecoveryCode(String),
}

fn invalid_code() -> ApiError {
    ApiError::BadRequest(INVALID_CODE)
}

/// Complete a login with a second factor.
#[utoipa::path(post, path = "/auth/login/mfa", tag = "auth", request_body = LoginMfaRequest,
    responses(
        (status = 200, description = "The token envelope, as login's", body = TokenEnvelope),
        (status = 400, description = "`Invalid code` (wrong, replayed or already used: the same answer); counted on the account's code counter", body = ErrorOut),
        (status = 401, description = "`Invalid or expired MFA token` (5 minutes; spent by a success; dead after 5 wrong codes)", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        JsonBodyRefused,
        (status = 422, description = "Validation error (send exactly one of `code` and `recovery_code`)", body = ValidationErrorOut),
        (status = 429, description = "Too many wrong codes for this account: wait `Retry-After` seconds (after 100 in a row, codes are refused until a password reset)", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        Unavailable))]
pub async fn login_mfa(state: &AppState, req: &Request) -> EndpointResult {
    let LoginMfaRequest {
        mfa_token,
        code,
        recovery_code,
        device_token,
    } = http::body(req)?;
    let presented = match (code, recovery_code) {
        (Some(code), None) => Presented::Code(code),
        (None, Some(code)) => Presented::RecoveryCode(code),
        _ => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "value_error",
                &["body"],
                "Value error, send exactly one of code and recovery_code",
            )]))
        }
    };
    let now = state.clock.now();
    let backoff = state.config.login_rules().network;
    let hash = randomness::token_hash(&mfa_token);
    let (challenge, factors) = match state.mfa.reserve_code_attempt(&hash, now, backoff).await? {
        CodeAttempt::Unusable => return Err(ApiError::Unauthenticated(INVALID_MFA_TOKEN)),
        CodeAttempt::Locked { retry_after } => return Err(ApiError::TooManyRequests { retry_after }),
        CodeAttempt::Reserved { challenge, factors } => (challenge, factors),
    };
    let keys = state.tokens.signing_keys().await?;
    let user_id = challenge.user_id;
    let method = match presented {
        Presented::Code(_) => Method::Totp,
        Presented::RecoveryCode(_) => Method::RecoveryCode,
    };
    let checked = match presented {
        Presented::Code(code) => totp_step(&keys.hmac, user_id, &factors, &code, now)
            .map(|step| (step, Authentication::second_step(challenge.federated, true, now))),
        Presented::RecoveryCode(typed) => RecoveryCode::parse(&typed)
            .map(|c| c.hash(user_id))
            .filter(|h| factors.recovery_codes.contains(h))
            .map(|hash| {
                (
                    Proof::RecoveryCode { hash },
                    Authentication::second_step(challenge.federated, false, now),
                )
            }),
    };
    let Some((proof, auth)) = checked else {
        return Err(code_failed(state, req, user_id, method, Reason::WrongCode).await);
    };

    let Some(user) = state.users.user_by_id(user_id).await? else {
        return Err(ApiError::Unauthenticated(INVALID_MFA_TOKEN));
    };
    let session = state
        .tokens
        .new_session(user_id, http::seen_from(req), auth.clone());
    let first = state.tokens.first_refresh_token(&session);
    // Decided (with the token hook) before anything is written.
    let access = issuance::access_claims(state, req, &user, &session.sid, &auth).await?;
    // The device trusted at the first step keeps its token (renewed); any other gets a new one.
    let (device_token, new_device) = match device_token {
        Some(token)
            if challenge.trusted_device
                && challenge.device.as_deref() == Some(&randomness::token_hash(&token)) =>
        {
            (token, false)
        }
        _ => (randomness::random_token::<32>(), true),
    };
    let device = randomness::token_hash(&device_token);
    let step = SecondStep {
        challenge: &challenge,
        proof: &proof,
        session: &session,
        first: &first,
        device: &device,
        device_expires_at: now + state.config.login_device_ttl.as_secs() as i64,
        now,
    };
    match state.mfa.finish_second_step(&step).await? {
        SecondStepEnd::Started => {}
        SecondStepEnd::CodeRefused => {
            return Err(code_failed(state, req, user_id, method, Reason::CodeReplayed).await)
        }
        SecondStepEnd::Gone => return Err(ApiError::Unauthenticated(INVALID_MFA_TOKEN)),
    }
    tracing::info!(user_id, "login completed with a second factor");
    if matches!(proof, Proof::RecoveryCode { .. }) {
        let event = audit::by_owner(state, req, EventType::RecoveryCodeUsed).session(&session.sid);
        audit::record(state, user_id, event).await;
        notify(state, &user, FactorNotice::RecoveryCodeUsed).await;
    }
    let first_factor = if challenge.federated {
        Method::Provider
    } else {
        Method::Password
    };
    let signed_in = SignedIn {
        user: &user,
        sid: &session.sid,
        method: first_factor,
        second: Some(method),
        new_device,
    };
    new_device::signed_in(state, req, &signed_in).await;
    let issued = issuance::sign(state, &access, &first).await?;
    let mut body = envelope(issued, envelope_user(&user));
    body.device_token = Some(device_token);
    http::json(StatusCode::OK, &body)
}

/// Records a wrong (or replayed) code on the account's log: the error to answer with.
async fn code_failed(
    state: &AppState,
    req: &Request,
    user_id: UserId,
    method: Method,
    reason: Reason,
) -> ApiError {
    let event = audit::by_owner(state, req, EventType::MfaFailed).details(Details {
        reason: Some(reason),
        method: Some(method),
        ..Details::default()
    });
    audit::record(state, user_id, event).await;
    invalid_code()
}

/// The TOTP step `code` proves, if it is right and later than the last step accepted. The same
/// work is done when the account has no TOTP (a throwaway secret), so a wrong code costs the
/// same whatever the reason.
fn totp_step(
    hmac: &crate::keys::KeySet,
    user_id: crate::domain::UserId,
    factors: &FactorRecord,
    code: &str,
    now: i64,
) -> Option<Proof> {
    let stored = factors.totp.as_ref();
    let secret = stored
        .and_then(|t| sealing::open(hmac, user_id, &t.sealed).ok())
        .and_then(|bytes| TotpSecret::from_bytes(&bytes));
    let last = stored.map(|t| t.last_step);
    let checked = secret.clone().unwrap_or_else(TotpSecret::generate);
    let step = checked.accepts(code, now, last);
    match (stored, secret, step) {
        (Some(t), Some(_), Some(step)) => Some(Proof::Totp {
            sealed: t.sealed.clone(),
            step,
        }),
        _ => None,
    }
}
