use lambda_http::Request;

use super::{envelope_user, new_refresh_token, token_response, EndpointResult};
use crate::api::{ErrorOut, TokenEnvelope};
use crate::app::AppState;
use crate::error::{ApiError, INVALID_REFRESH};
use crate::http;
use crate::store::{RefreshToken, Rotation};
use crate::tokens::{self, TokenUse};

fn refused() -> ApiError {
    ApiError::Unauthenticated(INVALID_REFRESH)
}

#[utoipa::path(post, path = "/auth/tokens", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "A new token envelope; the refresh token sent is spent", body = TokenEnvelope),
        (status = 401, description = "`Missing or invalid refresh token`: missing, expired, an access token, spent (replaying a spent token ends its session), or of an ended session", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
/// POST /auth/tokens: exchanges a refresh token for a new pair (rotation).
///
/// Exactly one of racing refreshes of one token rotates it; the others, within the grace
/// window, receive the same successor. A rotated token presented after the grace window is a
/// replay: its whole session family is revoked.
pub async fn refresh(state: &AppState, req: &Request) -> EndpointResult {
    let token = http::bearer(req).ok_or_else(refused)?;
    let keys = state.keys.keys().await?;
    let now = state.clock.now();
    let claims =
        tokens::verify(&keys, &state.config, token, TokenUse::Refresh, now).map_err(|_| refused())?;
    let user_id = claims.user_id().ok_or_else(refused)?;

    let found = state
        .store
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
    let envelope_user = envelope_user(user.id, &user.username, &user.email);

    let current = if stored.rotated_at_ms.is_none() {
        let successor = new_refresh_token(state, &session);
        match state
            .store
            .rotate_refresh(&stored, &successor, state.clock.now_ms())
            .await?
        {
            Rotation::Rotated => return token_response(state, envelope_user, user.id, &successor).await,
            Rotation::AlreadyRotated(current) => current,
            Rotation::Refused => return Err(refused()),
        }
    } else {
        stored
    };

    match grace_successor(state, &current) {
        Some(successor) => token_response(state, envelope_user, user.id, &successor).await,
        None => {
            tracing::warn!(
                user_id = user.id,
                "refresh token replayed: session family revoked"
            );
            state.store.revoke_session(&current.sid).await?;
            Err(refused())
        }
    }
}

/// The successor of a token rotated within the grace window.
fn grace_successor(state: &AppState, token: &RefreshToken) -> Option<RefreshToken> {
    let rotated_at = token.rotated_at_ms?;
    let grace_ms = state.config.refresh_grace.as_millis() as i64;
    if state.clock.now_ms() - rotated_at > grace_ms {
        return None;
    }
    let s = token.successor.as_ref()?;
    Some(RefreshToken {
        jti: s.jti.clone(),
        sid: token.sid.clone(),
        user_id: token.user_id,
        issued_at: s.issued_at,
        expires_at: s.expires_at,
        rotated_at_ms: None,
        successor: None,
    })
}
