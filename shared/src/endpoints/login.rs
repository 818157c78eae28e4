//! Log in: `POST /auth/login`.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{envelope, envelope_user, EndpointResult};
use super::issuance;
use super::login_mfa::MFA_TOKEN_TTL;
use super::responses::{Invalid, JsonBodyRefused, Unavailable};
use crate::domain::{Authentication, Email, Password};
use crate::error::{ApiError, EMAIL_NOT_VERIFIED, INVALID_CREDENTIALS};
use crate::http;
use crate::randomness;
use crate::state::AppState;
use crate::store::{LoginAttempt, LoginStart, MfaChallenge, VerifiedLogin};
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
        LoginStart::Locked { retry_after } => return Err(ApiError::TooManyRequests { retry_after }),
        LoginStart::Reserved {
            credentials,
            trusted_device,
        } => (credentials, trusted_device),
    };

    // The same work, status and body whether the email is unknown or the password wrong. A
    // failure needs no further write: the reservation is its record.
    let matched = state
        .hasher
        .verify(&password, credentials.as_ref().map(|c| c.password_hash.as_str()))
        .await;
    let credentials = match credentials {
        Some(c) if matched && !c.disabled => c,
        _ => return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS)),
    };

    // The role (the token's scope) and whether the address is verified live on the user
    // record, not with the credentials.
    let Some(user) = state.users.user_by_id(credentials.user_id).await? else {
        return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
    };
    // Only someone with the password learns that the address is unverified.
    if state.config.require_verified_email && !user.email_verified {
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
    let verified = VerifiedLogin {
        attempt: &attempt,
        verified_hash: &credentials.password_hash,
        trusted_device,
        device: &device,
        device_expires_at: attempt.now + state.config.login_device_ttl.as_secs() as i64,
    };
    let factors = state.mfa.second_factors(user.id).await?.factors();
    if factors.any() {
        // No session yet: the second step starts it (see `login_mfa`).
        let mfa_token = randomness::random_token::<32>();
        let challenge = MfaChallenge {
            hash: randomness::token_hash(&mfa_token),
            user_id: user.id,
            email: email.as_str().to_string(),
            verified_hash: credentials.password_hash.clone(),
            device: presented_device.clone(),
            trusted_device,
            attempts: 0,
            federated: false,
            expires_at: attempt.now + MFA_TOKEN_TTL.as_secs() as i64,
        };
        if !state.mfa.begin_second_step(&verified, &challenge).await? {
            return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
        }
        rehash_if_due(state, &email, &password, &credentials.password_hash).await;
        tracing::info!(user_id = user.id, "login waits for a second factor");
        let body = MfaRequiredOut {
            mfa_required: true,
            mfa_token,
            methods: factors.methods(),
        };
        return http::json(StatusCode::OK, &body);
    }
    let auth = Authentication::password(attempt.now);
    let session = state
        .tokens
        .new_session(credentials.user_id, http::seen_from(req), auth.clone());
    let first = state.tokens.new_refresh_token(&session);
    // Decided (with the token hook) before anything is written.
    let access = issuance::access_claims(state, req, &user, &session.sid, &auth).await?;
    if !state.sessions.start_session(&verified, &session, &first).await? {
        // The password changed (or the account was disabled) while we were verifying.
        return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
    }
    rehash_if_due(state, &email, &password, &credentials.password_hash).await;
    tracing::info!(user_id = credentials.user_id, "login");
    let issued = issuance::sign(state, &access, &first).await?;
    let mut body = envelope(issued, envelope_user(&user));
    body.device_token = Some(answered_device);
    http::json(StatusCode::OK, &body)
}

/// Stores the password hashed with today's parameters if `hash` was made with older ones (best
/// effort: the login stands either way).
async fn rehash_if_due(state: &AppState, email: &Email, password: &Password, hash: &str) {
    if !state.hasher.needs_rehash(hash) {
        return;
    }
    match state.hasher.hash(password).await {
        Ok(new_hash) => {
            if let Err(e) = state.sessions.upgrade_password_hash(email, hash, &new_hash).await {
                tracing::warn!(error = %e, "password re-hash not saved");
            }
        }
        Err(e) => tracing::warn!(error = %e, "password re-hash failed"),
    }
}
