//! Delete the account: `DELETE /auth/me`. The signed-in user proves the password (a wrong one
//! counts on the session's own failure counter); the account and everything it owns is erased, and its email and
//! username can sign up again.

use lambda_http::Request;

use super::common::{authenticate, reauthenticate, EndpointResult};
use super::sessions::no_content;
use crate::domain::User;
use crate::error::{ApiError, WRONG_PASSWORD};
use crate::http;
use crate::state::AppState;
use crate::store::Erasure;
use crate::wire::{DeleteAccountRequest, ErrorOut, ValidationErrorOut};

/// Erase the account and everything it owns.
#[utoipa::path(delete, path = "/auth/me", tag = "account", security(("bearer" = [])), request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "The account, its sessions and tokens are erased; its email and username are free"),
        (status = 400, description = "`Current password is incorrect` (counted on this session's own failure counter); nothing changed", body = ErrorOut),
        (status = 401, description = "`Not authenticated`", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 413, description = "Body over 64 KiB", body = ErrorOut), (status = 415, description = "The body is not JSON: send `Content-Type: application/json`", body = ErrorOut), (status = 422, description = "Validation error, FastAPI-shaped", body = ValidationErrorOut),
        (status = 429, description = "Too many wrong passwords from this session; wait `Retry-After` seconds", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "A backing service did not answer; retry", body = ErrorOut)))]
pub async fn delete_account(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let DeleteAccountRequest { password } = http::body(req)?;
    let password_hash = reauthenticate(state, &user, &claims.sid, &password).await?;
    if !erase(state, &user, Some(&password_hash)).await? {
        return Err(ApiError::BadRequest(WRONG_PASSWORD));
    }
    tracing::info!(user_id = user.id, "account deleted by its user");
    Ok(no_content())
}

/// Erases `user` while its password hash is `password_hash`.
async fn erase(state: &AppState, user: &User, password_hash: Option<&str>) -> Result<bool, ApiError> {
    let erasure = Erasure { user, password_hash };
    Ok(state.accounts.delete_account(&erasure).await?)
}
