//! The signed-in user's sessions: `GET /auth/sessions` lists the live ones, newest first;
//! `DELETE /auth/sessions/{id}` ends one at once.

use super::audit;
use crate::domain::audit::{Details, EventType};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::common::{authenticate, EndpointResult};
use super::responses::{NotAuthenticated, Unavailable};
use crate::clock::rfc3339;
use crate::error::{ApiError, SESSION_NOT_FOUND};
use crate::http;
use crate::state::AppState;
use crate::wire::{ErrorOut, SessionOut};

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/auth/sessions", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, description = "The live sessions of the user, newest first; `current` marks the one asking", body = Vec<SessionOut>),
        NotAuthenticated,
        Unavailable))]
pub async fn list_sessions(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let now = state.clock.now();
    let sessions = state.sessions.list_sessions(user.id).await?;
    let body: Vec<SessionOut> = sessions
        .iter()
        .filter(|s| s.is_live(&user, now))
        .map(|s| SessionOut {
            id: s.sid.clone(),
            created_at: rfc3339(s.created_ms.div_euclid(1000)),
            last_used_at: rfc3339(s.last_used_ms.div_euclid(1000)),
            ip: s.seen.ip.clone(),
            user_agent: s.seen.user_agent.clone(),
            current: s.sid == claims.sid,
        })
        .collect();
    http::json(StatusCode::OK, &body)
}

/// End one of the caller's sessions at once (its access and refresh tokens stop working).
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's `id`, from `GET /auth/sessions`")),
    responses(
        (status = 204, description = "The session has ended"),
        NotAuthenticated,
        (status = 404, description = "`Session not found`: no live session of this user has that id (another user's is not found either)", body = ErrorOut),
        Unavailable))]
pub async fn end_session(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let sid = http::last_path_segment(req);
    if !is_session_id(sid) {
        return Err(ApiError::Missing(SESSION_NOT_FOUND));
    }
    let live = match state.sessions.session_with_user(user.id, sid).await? {
        (_, Some(session)) => session.is_live(&user, state.clock.now()),
        _ => false,
    };
    if !live || !state.sessions.end_session(user.id, sid).await? {
        return Err(ApiError::Missing(SESSION_NOT_FOUND));
    }
    tracing::info!(user_id = user.id, "session ended by its user");
    let event = audit::by_owner(state, req, EventType::SessionEnded)
        .session(&claims.sid)
        .details(Details {
            ended_session: Some(sid.to_string()),
            ..Details::default()
        });
    audit::record(state, user.id, event).await;
    Ok(no_content())
}

/// Whether `s` can be a session id: ids are short and URL-safe, so anything else names none and
/// is never sent to the store (DynamoDB refuses keys over 1 KiB with an error, not a miss).
pub fn is_session_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 204 with no body.
pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_id_is_one_to_64_url_safe_characters() {
        assert!(is_session_id(&crate::randomness::new_id()));
        assert!(is_session_id("aZ09-_"));
        assert!(is_session_id(&"a".repeat(64)));
        assert!(!is_session_id(&"a".repeat(65)));
        assert!(!is_session_id(""));
        for bad in ["a.b", "a/b", "a%41", "a b", "é"] {
            assert!(!is_session_id(bad), "{bad}");
        }
    }
}
