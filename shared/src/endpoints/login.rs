//! Log in: `POST /auth/login`.

use super::audit;
use super::new_device::{self, SignedIn};
use crate::domain::audit::{Details, EventType, Method, Reason};
use crate::domain::UserId;
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{envelope, envelope_user, EndpointResult};
use super::issuance;
use super::login_mfa::MFA_TOKEN_TTL;
use super::migration::{self, Migration};
use super::responses::{Invalid, JsonBodyRefused, Unavailable};
use crate::domain::{Authentication, Email, Password};
use crate::error::{ApiError, EMAIL_NOT_VERIFIED, INVALID_CREDENTIALS};
use crate::http;
use crate::randomness;
use crate::state::AppState;
use crate::store::{Credentials, LoginAttempt, LoginStart, MfaChallenge, VerifiedLogin};
use crate::wire::{ErrorOut, LoginOut, LoginRequest, MfaRequiredOut};

/// Log in: starts a session and returns an access token and a refresh token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "The token envelope; or, for an account with a second factor, `{\"mfa_required\": true, \"mfa_token\", \"methods\"}` and no tokens (complete at `POST /auth/login/mfa`)", body = LoginOut),
        (status = 401, description = "`Invalid email or password` (the same for an unknown email)", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 403, description = "`Email not verified`: the password is right, but verification is required (`AUTH_REQUIRE_VERIFIED_EMAIL`) and the address is not verified yet", body = ErrorOut),
        JsonBodyRefused, Invalid,
        (status = 429, description = "Too many attempts from this address, or too many failures for this email (exponential backoff); wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        Unavailable))]
pub async fn login(state: &AppState, req: &Request) -> EndpointResult {
    let LoginRequest {
        email,
        password,
        device_token,
    } = http::body(req)?;

    // The attempt is counted before the password is checked, so racing guesses cannot outrun
    // the backoff; an unknown email is counted and verified (a dummy) just the same.
    let network = http::client_ip(req);
    let presented_device = device_token.as_deref().map(randomness::token_hash);
    let attempt = LoginAttempt {
        email: &email,
        network: &network,
        device: presented_device.as_deref(),
        now: state.clock.now(),
    };
    let (credentials, trusted_device) = match state
        .sessions
        .begin_login(&attempt, &state.config.login_rules())
        .await?
    {
        LoginStart::Locked { retry_after } => {
            // The backoff answers before the account is looked at: no account's log has it.
            audit::log_locked_login(state, req, &email).await;
            return Err(ApiError::TooManyRequests { retry_after });
        }
        LoginStart::Reserved {
            credentials,
            trusted_device,
        } => (credentials, trusted_device),
    };

    // The same work, status and body whether the email is unknown or the password wrong. A
    // failure needs no further write: the reservation is its record.
    let (credentials, matched) = match credentials {
        // An unknown email may be a user of the team's old system (asked only once the attempt
        // is counted, so the hook is asked no faster than passwords are checked).
        None if state.hooks.migrates_users() => {
            match migrate_at_login(state, req, &email, &password).await? {
                Some(migrated) => (Some(migrated), true),
                None => (None, state.hasher.verify(&password, None).await),
            }
        }
        credentials => {
            let stored = credentials.as_ref().map(|c| c.password_hash.as_str());
            let matched = state.hasher.verify(&password, stored).await;
            (credentials, matched)
        }
    };
    let credentials = match credentials {
        Some(c) if matched && !c.disabled => c,
        Some(c) => {
            let reason = if matched {
                Reason::AccountDisabled
            } else {
                Reason::WrongPassword
            };
            return Err(login_failed(state, req, c.user_id, reason).await);
        }
        None => {
            // Written as a wrong password is, so that the answer takes as long.
            audit::record_unknown_login(state, req, &email).await;
            return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
        }
    };

    // The role (the token's scope) and whether the address is verified live on the user
    // record, not with the credentials.
    let Some(user) = state.users.user_by_id(credentials.user_id).await? else {
        return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
    };
    // Only someone with the password learns that the address is unverified.
    if state.config.require_verified_email && !user.email_verified {
        login_failed(state, req, user.id, Reason::EmailNotVerified).await;
        return Err(ApiError::Forbidden(EMAIL_NOT_VERIFIED));
    }
    // Start a session only if the answer can be signed.
    state.tokens.signing_keys().await?;
    // A trusted device keeps its token (renewed); any other gets a new one.
    let answered_device = match &device_token {
        Some(token) if trusted_device => token.clone(),
        _ => randomness::random_token::<32>(),
    };
    let device = randomness::token_hash(&answered_device);
    let factors = state.mfa.second_factors(user.id).await?.factors();
    let auth = Authentication::password(attempt.now);
    let session = state
        .tokens
        .new_session(credentials.user_id, http::seen_from(req), auth.clone());
    // Decided (with the token hook) before anything is written; not needed for a second step.
    let access = if factors.any() {
        None
    } else {
        Some(issuance::access_claims(state, req, &user, &session.sid, &auth).await?)
    };
    // A hash of older parameters, or of another system (an import), is replaced now, so the
    // session, the second step and the device are bound to the hash the account keeps.
    let verified_hash = rehash_if_due(state, &email, &password, &credentials.password_hash).await;
    let verified = VerifiedLogin {
        attempt: &attempt,
        verified_hash: &verified_hash,
        trusted_device,
        device: &device,
        device_expires_at: attempt.now + state.config.login_device_ttl.as_secs() as i64,
    };
    let Some(access) = access else {
        // No session yet: the second step starts it (see `login_mfa`).
        let mfa_token = randomness::random_token::<32>();
        let challenge = MfaChallenge {
            hash: randomness::token_hash(&mfa_token),
            user_id: user.id,
            email: email.as_str().to_string(),
            verified_hash: verified_hash.clone(),
            device: presented_device.clone(),
            trusted_device,
            attempts: 0,
            federated: false,
            expires_at: attempt.now + MFA_TOKEN_TTL.as_secs() as i64,
        };
        if !state.mfa.begin_second_step(&verified, &challenge).await? {
            return Err(login_failed(state, req, user.id, Reason::AccountChanged).await);
        }
        tracing::info!(user_id = user.id, "login waits for a second factor");
        let body = MfaRequiredOut {
            mfa_required: true,
            mfa_token,
            methods: factors.methods(),
        };
        return http::json(StatusCode::OK, &body);
    };
    let first = state.tokens.first_refresh_token(&session);
    if !state.sessions.start_session(&verified, &session, &first).await? {
        // The password changed (or the account was disabled) while we were verifying.
        return Err(login_failed(state, req, user.id, Reason::AccountChanged).await);
    }
    tracing::info!(user_id = credentials.user_id, "login");
    let signed_in = SignedIn {
        user: &user,
        sid: &session.sid,
        method: Method::Password,
        second: None,
        new_device: !trusted_device,
    };
    new_device::signed_in(state, req, &signed_in).await;
    let issued = issuance::sign(state, &access, &first).await?;
    let mut body = envelope(issued, envelope_user(&user));
    body.device_token = Some(answered_device);
    http::json(StatusCode::OK, &body)
}

/// Records a failed login on the account's log: the answer to give.
async fn login_failed(state: &AppState, req: &Request, user_id: UserId, reason: Reason) -> ApiError {
    let event = audit::by_owner(state, req, EventType::LoginFailed).details(Details::reason(reason));
    audit::record(state, user_id, event).await;
    ApiError::Unauthenticated(INVALID_CREDENTIALS)
}

/// Stores the password hashed as argon2id with today's parameters if `hash` is not (older
/// parameters, or an imported hash of another scheme), only while the account still has `hash`
/// (a password change meanwhile wins): the hash the account has now. Best effort: if the new
/// hash is not saved, the login goes on with the old one.
async fn rehash_if_due(state: &AppState, email: &Email, password: &Password, hash: &str) -> String {
    if !state.hasher.needs_rehash(hash) {
        return hash.to_string();
    }
    match state.hasher.hash(password).await {
        Ok(new_hash) => match state.sessions.upgrade_password_hash(email, hash, &new_hash).await {
            Ok(true) => return new_hash,
            Ok(false) => tracing::info!("password re-hash skipped: the password changed meanwhile"),
            Err(e) => tracing::warn!(error = %e, "password re-hash not saved"),
        },
        Err(e) => tracing::warn!(error = %e, "password re-hash failed"),
    }
    hash.to_string()
}

/// The credentials of the account the user-migration hook moved over for this login, if the
/// old system has the user (its password was checked there); a refusal by the before-signup
/// hook is a 403 with its detail.
async fn migrate_at_login(
    state: &AppState,
    req: &Request,
    email: &Email,
    password: &Password,
) -> Result<Option<Credentials>, ApiError> {
    match migration::migrate(state, email, Some(password), &http::seen_from(req)).await? {
        Migration::Created { user, password_hash } => Ok(Some(Credentials {
            user_id: user.id,
            username: user.username,
            email: user.email,
            password_hash,
            disabled: false,
        })),
        Migration::Refused(detail) => Err(ApiError::Refused(detail)),
        // Made by a racing login meanwhile: this attempt fails as a wrong password would, and
        // the next one finds the account.
        Migration::NoSuchUser | Migration::Raced => Ok(None),
    }
}
