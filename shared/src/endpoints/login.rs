//! Log in: `POST /auth/login`.

use lambda_http::Request;

use super::common::{envelope_user, token_response, EndpointResult};
use crate::domain::Role;
use crate::error::{ApiError, INVALID_CREDENTIALS};
use crate::http;
use crate::state::AppState;
use crate::wire::{ErrorOut, LoginRequest, TokenEnvelope, ValidationErrorOut};

/// Log in: starts a session and returns an access token and a refresh token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "The token envelope", body = TokenEnvelope),
        (status = 401, description = "`Invalid email or password` (the same for an unknown email)", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 415, description = "The body is not JSON: send `Content-Type: application/json`", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut),
        (status = 429, description = "Too many attempts from this address, or too many failures for this email (exponential backoff); wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
pub async fn login(state: &AppState, req: &Request) -> EndpointResult {
    let LoginRequest { email, password } = http::body(req)?;

    let config = &state.config;
    let (credentials, failures) = state.sessions.login_lookup(&email).await?;
    let now = state.clock.now();
    let locked_until = failures.last_failed_at + config.login_backoff_secs(failures.count);
    if locked_until > now {
        return Err(ApiError::TooManyRequests {
            retry_after: (locked_until - now) as u64,
        });
    }

    // The same work, status and body whether the email is unknown or the password wrong.
    let matched = state
        .hasher
        .verify(&password, credentials.as_ref().map(|c| c.password_hash.as_str()))
        .await;
    let credentials = match credentials {
        Some(c) if matched && !c.disabled => c,
        _ => {
            let keep = config.login_backoff_max.as_secs() as i64 + 3600;
            state.sessions.record_login_failure(&email, now, keep).await?;
            return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
        }
    };

    // Start a session only if the answer can be signed. The role (the token's scope) lives on
    // the user record, not with the credentials.
    state.tokens.signing_keys().await?;
    let role = state
        .users
        .user_by_id(credentials.user_id)
        .await?
        .map_or(Role::User, |u| u.role);
    let session = state.tokens.new_session(credentials.user_id);
    let first = state.tokens.new_refresh_token(&session);
    if !state
        .sessions
        .start_session(&email, &credentials.password_hash, &session, &first)
        .await?
    {
        // The password changed (or the account was disabled) while we were verifying.
        return Err(ApiError::Unauthenticated(INVALID_CREDENTIALS));
    }
    if state.hasher.needs_rehash(&credentials.password_hash) {
        match state.hasher.hash(&password).await {
            Ok(new_hash) => {
                if let Err(e) = state
                    .sessions
                    .upgrade_password_hash(&email, &credentials.password_hash, &new_hash)
                    .await
                {
                    tracing::warn!(error = %e, "password re-hash not saved");
                }
            }
            Err(e) => tracing::warn!(error = %e, "password re-hash failed"),
        }
    }
    tracing::info!(user_id = credentials.user_id, "login");
    let user = envelope_user(credentials.user_id, &credentials.username, &credentials.email);
    token_response(state, req, user, role, &first).await
}
