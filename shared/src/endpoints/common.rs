//! What several endpoints share: authenticating an access token, answering with a token
//! envelope, and the views of a user the API shows.

use crate::domain::audit::{Details, EventType, Reason};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::clock::rfc3339;
use crate::domain::{Role, User};
use crate::error::{
    ApiError, ADMIN_REQUIRED, MFA_REQUIRED, NOT_AUTHENTICATED, REAUTHENTICATION_REQUIRED, WRONG_PASSWORD,
};
use crate::http;
use crate::state::AppState;
use crate::tokens::{Claims, IssuedTokens};
use crate::wire::request::CurrentPassword;
use crate::wire::{
    AccessTokenOut, AdminUserOut, EnvelopeUser, MessageOut, PasswordConfirmation, RefreshTokenOut,
    TokenEnvelope, TokensOut, UserOut,
};

pub type EndpointResult = Result<Response<Body>, ApiError>;

/// A handler's answer to come, boxed so that every handler has one type.
pub type HandlerFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = EndpointResult> + Send + 'a>>;

/// The user behind a live access token, or 401 `Not authenticated`.
pub async fn authenticate(state: &AppState, req: &Request) -> Result<(User, Claims), ApiError> {
    let unauthenticated = || ApiError::Unauthenticated(NOT_AUTHENTICATED);
    let token = http::bearer(req).ok_or_else(unauthenticated)?;
    let issuer = http::issuer(&state.config, req)?;
    let claims = state.tokens.verify_access(token, &issuer).await?;
    let user_id = claims.user_id().ok_or_else(unauthenticated)?;
    match state.sessions.session_with_user(user_id, &claims.sid).await? {
        (Some(user), Some(session)) if session.is_live(&user, state.clock.now()) => Ok((user, claims)),
        _ => Err(unauthenticated()),
    }
}

/// The signed-in administrator: with `AUTH_ADMIN_REQUIRES_MFA`, a token of a session that used a
/// second factor (403 `MFA required`, before anything is looked up); then a live session whose
/// account holds the admin role as stored now, not as the token's scope says (403 `Admin
/// privileges required`); and, while the administrator has a second factor, a session that
/// used it (403 `MFA required`).
pub async fn authenticate_admin(state: &AppState, req: &Request) -> Result<(User, Claims), ApiError> {
    let (user, claims) = authenticate(state, req).await?;
    if state.config.admin_requires_mfa {
        require_aal2(&claims)?;
    }
    if user.role != Role::Admin {
        return Err(ApiError::Forbidden(ADMIN_REQUIRED));
    }
    require_aal2_if_enrolled(state, &user, &claims).await?;
    Ok((user, claims))
}

/// Step-up: while `user` has a second factor, what `claims` asks for needs a token of a session
/// that used one (403 `MFA required`). The account's factors are read only for an `aal1` token.
pub async fn require_aal2_if_enrolled(
    state: &AppState,
    user: &User,
    claims: &Claims,
) -> Result<(), ApiError> {
    if claims.is_aal2() {
        return Ok(());
    }
    if state.mfa.second_factors(user.id).await?.factors().any() {
        return Err(ApiError::Forbidden(MFA_REQUIRED));
    }
    Ok(())
}

/// A token of a session that used a second factor, whatever the account has (403 `MFA
/// required` otherwise), checked before anything is looked up.
pub fn require_aal2(claims: &Claims) -> Result<(), ApiError> {
    if claims.is_aal2() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(MFA_REQUIRED))
    }
}

/// The signed-in user managing their second factors (`{"password"}` as the body): a token of a
/// session that used a second factor (403 `MFA required`, before the body is read), then the
/// current password (as [`reauthenticate`]).
pub async fn authenticate_at_aal2_with_password(
    state: &AppState,
    req: &Request,
) -> Result<(User, Claims), ApiError> {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2(&claims)?;
    let PasswordConfirmation { password } = http::body(req)?;
    reauthenticate(state, req, &user, &claims, password.as_ref()).await?;
    Ok((user, claims))
}

/// How recent a sign-in must be to stand for the password of an account that has none.
pub const REAUTHENTICATION_WINDOW_SECS: i64 = 300;

/// The signed-in `user` (token `claims`) confirming a change with their current `password`:
/// counted on that session's own failure counter first (429 while it is locked), never on the
/// account's, so strangers failing at the login form cannot lock a signed-in owner out of their
/// own account; a wrong or missing one is 400 `Current password is incorrect`. An account with
/// no password (made by another provider) proves itself by a sign-in under 5 minutes old
/// instead (`auth_time`; else 403 `Reauthentication required`). Returns the password hash that
/// was verified (empty for none), for the change to be conditional on.
pub async fn reauthenticate(
    state: &AppState,
    req: &Request,
    user: &User,
    claims: &Claims,
    password: Option<&CurrentPassword>,
) -> Result<String, ApiError> {
    let sid = claims.sid.as_str();
    use crate::store::{LoginStart, Reauthentication};
    let email = crate::domain::Email::parse(&user.email)
        .map_err(|e| ApiError::Internal(format!("stored email unreadable: {e:?}")))?;
    let attempt = Reauthentication {
        email: &email,
        sid,
        now: state.clock.now(),
    };
    let credentials = match state
        .sessions
        .begin_reauthentication(&attempt, &state.config.login_rules())
        .await?
    {
        LoginStart::Locked { retry_after } => return Err(ApiError::TooManyRequests { retry_after }),
        LoginStart::Reserved { credentials, .. } => credentials,
    };
    let hash = credentials
        .filter(|c| c.user_id == user.id)
        .map(|c| c.password_hash);
    if hash.as_deref() == Some("") {
        let now = state.clock.now();
        let recent = claims
            .auth_time
            .is_some_and(|at| at + REAUTHENTICATION_WINDOW_SECS > now);
        if !recent {
            return Err(ApiError::Forbidden(REAUTHENTICATION_REQUIRED));
        }
        state.sessions.settle_reauthentication(&attempt).await?;
        return Ok(String::new());
    }
    let Some(CurrentPassword(password)) = password else {
        return Err(ApiError::BadRequest(WRONG_PASSWORD));
    };
    if !state.hasher.verify(password, hash.as_deref()).await {
        // A wrong current password inside a session: recorded as a failed sign-in of it.
        let event = super::audit::by_owner(state, req, EventType::LoginFailed)
            .session(sid)
            .details(Details::reason(Reason::WrongPassword));
        super::audit::record(state, user.id, event).await;
        return Err(ApiError::BadRequest(WRONG_PASSWORD));
    }
    let hash = hash.ok_or(ApiError::BadRequest(WRONG_PASSWORD))?;
    state.sessions.settle_reauthentication(&attempt).await?;
    Ok(hash)
}

/// The login/refresh response body.
pub fn envelope(issued: IssuedTokens, user: EnvelopeUser) -> TokenEnvelope {
    TokenEnvelope {
        tokens: TokensOut {
            access: AccessTokenOut {
                access_token: issued.access_token,
                token_type: "bearer".into(),
            },
            refresh: RefreshTokenOut {
                refresh_token: issued.refresh_token,
                jti: issued.refresh_jti,
                expiry: rfc3339(issued.refresh_expires_at),
            },
        },
        user,
        device_token: None,
    }
}

/// The compact user object of the token envelope.
pub fn envelope_user(u: &User) -> EnvelopeUser {
    EnvelopeUser {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        email_verified: u.email_verified,
    }
}

/// The public view of a user: the user object the API answers with (see docs/api.md).
pub fn user_out(u: &User) -> UserOut {
    UserOut {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        email_verified: u.email_verified,
        created_at: rfc3339(u.created_at),
    }
}

/// A user as administrators see it: the public view with the role and whether it is disabled.
pub fn admin_user_out(u: &User) -> AdminUserOut {
    AdminUserOut {
        user: user_out(u),
        role: u.role.as_str().to_string(),
        disabled: u.disabled,
        app_metadata: u.app_metadata.as_map().clone(),
    }
}

/// 200 `{"message": text}`.
pub fn message(text: &str) -> EndpointResult {
    http::json(
        StatusCode::OK,
        &MessageOut {
            message: text.to_string(),
        },
    )
}
