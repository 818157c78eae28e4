//! Refresh: `POST /auth/tokens`, rotating the refresh token.

use super::audit;
use crate::domain::audit::{Actor, EventType};
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{envelope, envelope_user, EndpointResult};
use super::issuance;
use super::responses::Unavailable;
use crate::domain::{RefreshToken, User};
use crate::error::{ApiError, INVALID_REFRESH};
use crate::http;
use crate::state::AppState;
use crate::store::Rotation;
use crate::tokens::{Claims, TokenError};
use crate::wire::{ErrorOut, TokenEnvelope};

fn refused() -> ApiError {
    ApiError::Unauthenticated(INVALID_REFRESH)
}

#[utoipa::path(post, path = "/auth/tokens", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "A new token envelope; the refresh token sent is spent", body = TokenEnvelope),
        (status = 401, description = "`Missing or invalid refresh token`: missing, expired, an access token, spent (replaying a spent token ends its session), or of an ended session", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        Unavailable))]
/// POST /auth/tokens: exchanges a refresh token for a new pair (rotation).
///
/// Exactly one of racing refreshes of one token rotates it; the others, within the grace
/// window, receive the same successor. A rotated token presented after the grace window is a
/// replay: its whole session family is revoked.
pub async fn refresh(state: &AppState, req: &Request) -> EndpointResult {
    let token = http::bearer(req).ok_or_else(refused)?;
    let claims = match state.tokens.verify_refresh(token).await {
        Ok(claims) => claims,
        Err(TokenError::Rejected) => return Err(refused()),
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now();
    let user_id = claims.user_id().ok_or_else(refused)?;

    let found = state
        .sessions
        .refresh_state(&claims.jti, &claims.sid, user_id)
        .await?;
    let (Some(stored), Some(session), Some(user)) = (found.token, found.session, found.user) else {
        return Err(refused());
    };
    if stored.sid != claims.sid
        || stored.user_id != user_id
        || stored.expires_at <= now
        || !session.is_live(&user, now)
    {
        return Err(refused());
    }

    // Spend the token only if the answer can be signed, with what the token hook adds.
    state.tokens.signing_keys().await?;
    let access = issuance::access_claims(state, req, &user, &session.sid, &session.auth).await?;
    let current = if stored.rotated_at_ms.is_none() {
        let successor = state.tokens.new_refresh_token(&session);
        match state
            .sessions
            .rotate_refresh(&stored, &successor, state.clock.now_ms(), &http::seen_from(req))
            .await?
        {
            Rotation::Rotated => return answer(state, &user, &access, &successor).await,
            Rotation::AlreadyRotated(current) => current,
            Rotation::Refused => return Err(refused()),
        }
    } else {
        stored
    };

    let grace_ms = state.config.refresh_grace.as_millis() as i64;
    match current.successor_within_grace(state.clock.now_ms(), grace_ms) {
        Some(successor) => answer(state, &user, &access, &successor).await,
        None => {
            tracing::warn!(
                user_id = user.id,
                "refresh token replayed: session family revoked"
            );
            state
                .sessions
                .revoke_session(current.user_id, &current.sid)
                .await?;
            let event = audit::event(state, req, EventType::RefreshReuseDetected, Actor::System)
                .session(&current.sid);
            audit::record(state, current.user_id, event).await;
            Err(refused())
        }
    }
}

/// The envelope of `access` and `refresh`.
async fn answer(state: &AppState, user: &User, access: &Claims, refresh: &RefreshToken) -> EndpointResult {
    let issued = issuance::sign(state, access, refresh).await?;
    http::json(StatusCode::OK, &envelope(issued, envelope_user(user)))
}
