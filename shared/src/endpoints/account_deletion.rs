//! Delete the account: `DELETE /auth/me`. The signed-in user proves the password (a wrong one
//! counts on the session's own failure counter); the account and everything it owns is erased, and its email and
//! username can sign up again.

use lambda_http::Request;

use super::audit;
use super::common::{authenticate, reauthenticate, require_aal2_if_enrolled, EndpointResult};
use super::responses::{
    Invalid, JsonBodyRefused, MfaRequired, NotAuthenticated, TooManyWrongPasswords, Unavailable,
};
use super::sessions::no_content;
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::User;
use crate::error::{ApiError, WRONG_PASSWORD};
use crate::http;
use crate::state::AppState;
use crate::store::Erasure;
use crate::wire::{DeleteAccountRequest, ErrorOut};

/// Erase the account and everything it owns.
#[utoipa::path(delete, path = "/auth/me", tag = "account", security(("bearer" = [])), request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "The account, its sessions and tokens are erased; its email and username are free"),
        (status = 400, description = "`Current password is incorrect` (counted on this session's own failure counter); nothing changed", body = ErrorOut),
        NotAuthenticated, MfaRequired,
        JsonBodyRefused, Invalid,
        TooManyWrongPasswords,
        Unavailable))]
pub async fn delete_account(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    let DeleteAccountRequest { password } = http::body(req)?;
    let password_hash = reauthenticate(state, req, &user, &claims, password.as_ref()).await?;
    if !erase(state, &user, Some(&password_hash), Actor::Owner).await? {
        return Err(ApiError::BadRequest(WRONG_PASSWORD));
    }
    tracing::info!(user_id = user.id, "account deleted by its user");
    Ok(no_content())
}

/// Erases `user` (while its password hash is `password_hash`, if given), leaving in its log
/// only the record that `actor` deleted it.
pub(super) async fn erase(
    state: &AppState,
    user: &User,
    password_hash: Option<&str>,
    actor: Actor,
) -> Result<bool, ApiError> {
    let record = AuditEvent::deletion_record(actor, state.clock.now_ms());
    let erasure = Erasure {
        user,
        password_hash,
        record: &record,
        record_expires_at: audit::expires_at(state),
    };
    let erased = state.accounts.delete_account(&erasure).await?;
    if erased {
        audit::log(user.id, &record);
    }
    Ok(erased)
}
