use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::{limit_client, user_json, EndpointResult};
use crate::api::{ErrorOut, SignupRequest, UserOut, ValidationErrorOut};
use crate::app::AppState;
use crate::domain::{Email, Username};
use crate::error::{ApiError, EMAIL_TAKEN, USERNAME_TAKEN};
use crate::http::{self, Fields};
use crate::password::{check_strength, Password};
use crate::store::{NewUser, StoreError};

/// Sign up: creates an account.
#[utoipa::path(post, path = "/auth/users", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Created", body = UserOut),
        (status = 409, description = "`Email already registered` or `Username already taken`", body = ErrorOut),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut), (status = 429, description = "Too many requests; wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))), (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
pub async fn signup(state: &AppState, req: &Request) -> EndpointResult {
    limit_client(state, req, "signup", state.config.signup_limit).await?;
    let body = http::json_object(req)?;
    let mut fields = Fields::new(&body);
    let username = fields.parsed("username", Username::parse);
    let email = fields.parsed("email", Email::parse);
    let password = fields.parsed("password", Password::new);
    fields.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let mut fields = Fields::new(&body);
    fields.check(
        "password",
        check_strength(
            &password,
            username.as_str(),
            email.local_part(),
            state.config.password_min_score,
        ),
    );
    fields.finish()?;

    let password_hash = state.hasher.hash(&password).await?;
    let new = NewUser {
        username,
        email,
        password_hash,
        created_at: state.clock.now(),
    };
    match state.store.create_user(new).await {
        Ok(user) => {
            tracing::info!(user_id = user.id, "user created");
            Ok(http::json(StatusCode::CREATED, &user_json(&user)))
        }
        Err(StoreError::EmailTaken) => Err(ApiError::Conflict(EMAIL_TAKEN)),
        Err(StoreError::UsernameTaken) => Err(ApiError::Conflict(USERNAME_TAKEN)),
        Err(e) => Err(e.into()),
    }
}
