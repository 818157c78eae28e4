//! The signed-in user: `GET /auth/me` and `POST /auth/logout`.

use super::audit;
use crate::domain::audit::EventType;
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{authenticate, user_out, EndpointResult};
use super::responses::{Invalid, JsonBodyRefused, NotAuthenticated, Unavailable};
use crate::http;
use crate::state::AppState;
use crate::wire::{LogoutRequest, MeOut, MessageOut, MfaOut};

/// The current user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user of the access token, and their second factors", body = MeOut),
        NotAuthenticated, Unavailable))]
pub async fn me(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    let factors = state.mfa.second_factors(user.id).await?.factors();
    let body = MeOut {
        user: user_out(&user),
        mfa: MfaOut {
            totp: factors.totp,
            passkeys: factors.passkeys,
            recovery_codes: factors.recovery_codes,
        },
        app_metadata: user.app_metadata.as_map().clone(),
    };
    http::json(StatusCode::OK, &body)
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    request_body(content = Option<LogoutRequest>, description = "Optional: `{\"all\": true}` ends every session of the user"),
    responses(
        (status = 200, description = "`Logged out.` or `Logged out of every session.`", body = MessageOut),
        NotAuthenticated, JsonBodyRefused, Invalid, Unavailable))]
/// POST /auth/logout: ends the current session at once, or with `{"all": true}` every
/// session of the user. Access and refresh tokens of the ended sessions are refused from now on.
pub async fn logout(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let all = http::optional_body::<LogoutRequest>(req)?.all.unwrap_or(false);
    if all {
        state
            .sessions
            .revoke_all_sessions(user.id, state.clock.now_ms())
            .await?;
        tracing::info!(user_id = user.id, "logged out of every session");
    } else {
        state.sessions.revoke_session(user.id, &claims.sid).await?;
        tracing::info!(user_id = user.id, "logged out");
    }
    let kind = if all {
        EventType::LogoutAll
    } else {
        EventType::Logout
    };
    audit::record(
        state,
        user.id,
        audit::by_owner(state, req, kind).session(&claims.sid),
    )
    .await;
    let message = if all {
        "Logged out of every session."
    } else {
        "Logged out."
    };
    let body = MessageOut {
        message: message.into(),
    };
    http::json(StatusCode::OK, &body)
}
