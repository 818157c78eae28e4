//! Sign up: `POST /auth/users`.

use super::audit;
use crate::domain::audit::{Details, EventType, Method};
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{user_out, EndpointResult};
use super::responses::{Invalid, JsonBodyRefused, TooManyRequests, Unavailable};
use super::verify_email::queue_verification;
use crate::domain::{check_strength, Role};
use crate::error::{ApiError, EMAIL_TAKEN, USERNAME_TAKEN};
use crate::hooks::signup::{SignupAttempt, SignupMethod, Verdict};
use crate::http;
use crate::state::AppState;
use crate::store::{NewUser, StoreError};
use crate::wire::{ErrorOut, SignupRequest, UserOut};

/// Sign up: creates an account and queues a mail with a link that verifies its address.
#[utoipa::path(post, path = "/auth/users", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Created", body = UserOut),
        (status = 403, description = "Refused by the before-signup hook, with its detail", body = ErrorOut),
        (status = 409, description = "`Email already registered` or `Username already taken`", body = ErrorOut),
        JsonBodyRefused, Invalid, TooManyRequests, Unavailable))]
pub async fn signup(state: &AppState, req: &Request) -> EndpointResult {
    let SignupRequest {
        username,
        email,
        password,
    } = http::body(req)?;
    check_strength(
        &password,
        username.as_str(),
        email.local_part(),
        state.config.password_min_score,
    )
    .map_err(|e| ApiError::invalid_field("password", e))?;

    // The team's hook decides first (503 if it fails: nothing is created).
    let seen = http::seen_from(req);
    let attempt = SignupAttempt {
        email: email.as_str(),
        username: username.as_str(),
        ip: &seen.ip,
        user_agent: &seen.user_agent,
        method: SignupMethod::Password,
        email_verified: false,
    };
    let app_metadata = match state.hooks.before_signup(&attempt).await? {
        Verdict::Allow { app_metadata } => app_metadata,
        Verdict::Deny { detail } => {
            tracing::info!("signup refused by the before-signup hook");
            return Err(ApiError::Refused(detail));
        }
    };
    let password_hash = state.hasher.hash(&password).await?;
    let new = NewUser {
        username,
        email,
        password_hash,
        created_at: state.clock.now(),
        app_metadata,
        role: Role::User,
        email_verified: false,
    };
    let email = new.email.clone();
    match state.users.create_user(new).await {
        Ok(user) => {
            tracing::info!(user_id = user.id, "user created");
            let event =
                audit::by_owner(state, req, EventType::Signup).details(Details::method(Method::Password));
            audit::record(state, user.id, event).await;
            queue_verification(state, email).await;
            http::json(StatusCode::CREATED, &user_out(&user))
        }
        Err(StoreError::EmailTaken) => Err(ApiError::Conflict(EMAIL_TAKEN)),
        Err(StoreError::UsernameTaken) => Err(ApiError::Conflict(USERNAME_TAKEN)),
        Err(e) => Err(e.into()),
    }
}
