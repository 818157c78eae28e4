//! The endpoint logic: plain async Rust over the store, mailer and key traits.

pub(crate) mod account;
pub(crate) mod docs;
pub(crate) mod login;
pub(crate) mod password_reset;
pub(crate) mod refresh;
pub(crate) mod signup;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::api::{EnvelopeUser, UserOut};
use crate::app::AppState;
use crate::config::Limit;
use crate::domain::User;
use crate::error::{ApiError, NOT_AUTHENTICATED};
use crate::http;
use crate::routes::Endpoint;
use crate::store::{RefreshToken, Session};
use crate::tokens::{self, Claims, TokenUse};

pub type EndpointResult = Result<Response<Body>, ApiError>;

pub use account::{list_users, logout, me};
pub use docs::{docs_page, openapi_json};
pub use login::login;
pub use password_reset::{forgot_password, reset_password};
pub use refresh::refresh;
pub use signup::signup;

/// Every endpoint's logic, by endpoint. (A function binary dispatches only to its own endpoints,
/// see [`crate::lambda_main`], so the others' code is not linked into it.)
pub async fn dispatch(state: &AppState, endpoint: Endpoint, req: &Request) -> EndpointResult {
    match endpoint {
        Endpoint::Signup => signup::signup(state, req).await,
        Endpoint::Login => login::login(state, req).await,
        Endpoint::Me => account::me(state, req).await,
        Endpoint::ListUsers => account::list_users(state, req).await,
        Endpoint::Refresh => refresh::refresh(state, req).await,
        Endpoint::ForgotPassword => password_reset::forgot_password(state, req).await,
        Endpoint::ResetPassword => password_reset::reset_password(state, req).await,
        Endpoint::Logout => account::logout(state, req).await,
        Endpoint::OpenApi => docs::openapi_json(state, req).await,
        Endpoint::Docs => docs::docs_page(state, req).await,
    }
}

/// The public view of a user, as the contract writes it.
pub fn user_json(user: &User) -> Value {
    to_json(&UserOut::from(user))
}

/// A wire type as JSON.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Counts this request against the client address's limit for `action`; 429 when over.
pub(crate) async fn limit_client(
    state: &AppState,
    req: &Request,
    action: &str,
    limit: Limit,
) -> Result<(), ApiError> {
    if !state.config.ip_limits_enabled {
        return Ok(());
    }
    let now = state.clock.now();
    let key = format!("ip#{action}#{}", http::client_ip(req));
    let count = state.store.hit(&key, limit.window_secs, now).await?;
    if count > limit.max {
        let window = limit.window_secs as i64;
        let retry_after = (now.div_euclid(window) + 1) * window - now;
        return Err(ApiError::TooManyRequests {
            retry_after: retry_after.max(1) as u64,
        });
    }
    Ok(())
}

/// The user behind a live access token, or 401 `Not authenticated`.
pub(crate) async fn authenticate(state: &AppState, req: &Request) -> Result<(User, Claims), ApiError> {
    let unauthenticated = ApiError::Unauthenticated(NOT_AUTHENTICATED);
    let token = http::bearer(req).ok_or(ApiError::Unauthenticated(NOT_AUTHENTICATED))?;
    let keys = state.keys.keys().await?;
    let now = state.clock.now();
    let claims = tokens::verify(&keys, &state.config, token, TokenUse::Access, now)
        .map_err(|_| ApiError::Unauthenticated(NOT_AUTHENTICATED))?;
    let user_id = claims
        .user_id()
        .ok_or(ApiError::Unauthenticated(NOT_AUTHENTICATED))?;
    match state.store.session_with_user(user_id, &claims.sid).await? {
        (Some(user), Some(session)) if session.is_live(&user, now) => Ok((user, claims)),
        _ => Err(unauthenticated),
    }
}

/// Signs an access token and the given refresh token of `session`, and builds the envelope.
pub(crate) async fn token_response(
    state: &AppState,
    user: EnvelopeUser,
    user_id: u64,
    refresh: &RefreshToken,
) -> EndpointResult {
    let keys = state.keys.keys().await?;
    let config = &state.config;
    let now = state.clock.now();
    let access = Claims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        sub: user_id.to_string(),
        iat: now,
        exp: now + config.access_ttl.as_secs() as i64,
        jti: tokens::new_id(),
        sid: refresh.sid.clone(),
        token_use: TokenUse::Access,
    };
    let refresh_claims = refresh_claims(state, refresh);
    let sign = |c: &Claims| tokens::sign(&keys, c).map_err(|e| ApiError::Internal(e.to_string()));
    let body = to_json(&tokens::envelope(
        &sign(&access)?,
        &sign(&refresh_claims)?,
        &refresh_claims,
        user,
    ));
    Ok(http::json(StatusCode::OK, &body))
}

/// The claims of a stored refresh token: signing them again gives the very same JWT.
pub(crate) fn refresh_claims(state: &AppState, token: &RefreshToken) -> Claims {
    Claims {
        iss: state.config.issuer.clone(),
        aud: state.config.audience.clone(),
        sub: token.user_id.to_string(),
        iat: token.issued_at,
        exp: token.expires_at,
        jti: token.jti.clone(),
        sid: token.sid.clone(),
        token_use: TokenUse::Refresh,
    }
}

/// A new refresh token of `session`, never outliving it.
pub(crate) fn new_refresh_token(state: &AppState, session: &Session) -> RefreshToken {
    let now = state.clock.now();
    RefreshToken {
        jti: tokens::new_id(),
        sid: session.sid.clone(),
        user_id: session.user_id,
        issued_at: now,
        expires_at: (now + state.config.refresh_ttl.as_secs() as i64).min(session.expires_at),
        rotated_at_ms: None,
        successor: None,
    }
}

/// The compact user object of the token envelope.
pub(crate) fn envelope_user(id: u64, username: &str, email: &str) -> EnvelopeUser {
    EnvelopeUser {
        id,
        username: username.to_string(),
        email: email.to_string(),
    }
}
