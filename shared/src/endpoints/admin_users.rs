//! The admin API for one user: `GET`, `PATCH` and `DELETE /auth/admin/users/{id}`, and
//! `DELETE /auth/admin/users/{id}/sessions`. Every route checks the caller as
//! [`authenticate_admin`] does (the stored role and a live session, not the token's scope alone),
//! and no route changes the caller's own role or `disabled`, or erases the caller (409): an
//! administrator cannot lock themselves out, or hand a stolen session a way to hide its tracks.
//! Each action is logged with its actor.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::account_deletion::erase;
use super::audit;
use super::common::{admin_user_out, authenticate_admin, EndpointResult};
use super::responses::{Invalid, JsonBodyRefused, NotAuthenticated, Unavailable};
use super::sessions::no_content;
use crate::clock::rfc3339;
use crate::domain::audit::{Actor, Details, EventType};
use crate::domain::{User, UserId};
use crate::error::{ApiError, OWN_ACCOUNT, USER_NOT_FOUND};
use crate::http;
use crate::state::AppState;
use crate::store::UserUpdate;
use crate::wire::{AdminUserDetailOut, AdminUserPatch, ErrorOut, IdentityOut, MfaOut};

/// The id the path names (`/auth/admin/users/{id}` or `.../{id}/sessions`), or 404 `User not
/// found` for a segment that is no user id.
pub(super) fn target(req: &Request) -> Result<UserId, ApiError> {
    let path = req.uri().path();
    let after = path
        .split_once("/admin/users/")
        .map(|(_, rest)| rest)
        .unwrap_or("");
    let segment = after.split('/').next().unwrap_or("");
    // Digits only: `+5` or ` 5` name no user, though `parse` would take the first.
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::Missing(USER_NOT_FOUND));
    }
    segment.parse().map_err(|_| ApiError::Missing(USER_NOT_FOUND))
}

/// The user `id`, or 404 `User not found`.
pub(super) async fn existing(state: &AppState, id: UserId) -> Result<User, ApiError> {
    state
        .users
        .user_by_id(id)
        .await?
        .ok_or(ApiError::Missing(USER_NOT_FOUND))
}

/// The admin view of `user`, with its second factors and linked identities.
async fn detail(state: &AppState, user: &User) -> Result<AdminUserDetailOut, ApiError> {
    let (factors, identities) = tokio::join!(
        state.mfa.second_factors(user.id),
        state.identities.identities(user.id)
    );
    let factors = factors?.factors();
    let identities = identities?
        .into_iter()
        .map(|i| IdentityOut {
            id: i.id,
            provider: i.provider,
            email: i.email,
            created_at: rfc3339(i.created_at),
        })
        .collect();
    Ok(AdminUserDetailOut {
        user: admin_user_out(user),
        mfa: MfaOut {
            totp: factors.totp,
            passkeys: factors.passkeys,
            recovery_codes: factors.recovery_codes,
        },
        identities,
    })
}

/// One user, as administrators see it.
#[utoipa::path(get, path = "/auth/admin/users/{id}", tag = "admin", operation_id = "admin_get_user", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, its second factors and its linked identities", body = AdminUserDetailOut),
        NotAuthenticated,
        (status = 403, description = "`Admin privileges required`; or `MFA required` (the admin has a second factor, or `AUTH_ADMIN_REQUIRES_MFA` is on, and the token's session did not use one)", body = ErrorOut),
        (status = 404, description = "`User not found`", body = ErrorOut),
        Unavailable))]
pub async fn get_user(state: &AppState, req: &Request) -> EndpointResult {
    authenticate_admin(state, req).await?;
    let user = existing(state, target(req)?).await?;
    http::json(StatusCode::OK, &detail(state, &user).await?)
}

/// Change a user's role, `disabled`, `email_verified` or `app_metadata`.
#[utoipa::path(patch, path = "/auth/admin/users/{id}", tag = "admin", operation_id = "admin_update_user", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The user's id")),
    request_body = AdminUserPatch,
    responses(
        (status = 200, description = "The user as it now is; disabling or demoting ended every session of it", body = AdminUserDetailOut),
        NotAuthenticated,
        (status = 403, description = "`Admin privileges required`; or `MFA required`", body = ErrorOut),
        (status = 404, description = "`User not found`", body = ErrorOut),
        (status = 409, description = "`Cannot change your own account here`: the caller's own role or `disabled`", body = ErrorOut),
        JsonBodyRefused,
        Invalid,
        Unavailable))]
pub async fn update_user(state: &AppState, req: &Request) -> EndpointResult {
    let (admin, claims) = authenticate_admin(state, req).await?;
    let id = target(req)?;
    let AdminUserPatch {
        role,
        disabled,
        email_verified,
        app_metadata,
    } = http::body(req)?;
    let update = UserUpdate {
        role,
        disabled,
        email_verified,
        app_metadata,
    };
    let changes_own_access =
        update.role.is_some_and(|r| r != admin.role) || update.disabled.is_some_and(|d| d != admin.disabled);
    if id == admin.id && changes_own_access {
        return Err(ApiError::Conflict(OWN_ACCOUNT));
    }
    let user = state
        .users
        .update_user(id, &update, state.clock.now_ms())
        .await?
        .ok_or(ApiError::Missing(USER_NOT_FOUND))?;
    tracing::info!(
        actor = admin.id,
        user_id = id,
        role = update.role.map(|r| r.as_str()),
        disabled = update.disabled,
        email_verified = update.email_verified,
        app_metadata_set = update.app_metadata.is_some(),
        "user updated by an admin"
    );
    let event = audit::event(state, req, EventType::UserUpdated, Actor::Admin(admin.id))
        .session(&claims.sid)
        .details(Details {
            changed: update.changed(),
            ..Details::default()
        });
    audit::record(state, id, event).await;
    http::json(StatusCode::OK, &detail(state, &user).await?)
}

/// Erase a user and everything the account owns, as `DELETE /auth/me` does.
#[utoipa::path(delete, path = "/auth/admin/users/{id}", tag = "admin", operation_id = "admin_delete_user", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The user's id")),
    responses(
        (status = 204, description = "The account, its sessions, tokens, factors and identities are erased; its email and username are free"),
        NotAuthenticated,
        (status = 403, description = "`Admin privileges required`; or `MFA required`", body = ErrorOut),
        (status = 404, description = "`User not found`", body = ErrorOut),
        (status = 409, description = "`Cannot change your own account here`: an admin erases their own account with `DELETE /auth/me`", body = ErrorOut),
        Unavailable))]
pub async fn delete_user(state: &AppState, req: &Request) -> EndpointResult {
    let (admin, _) = authenticate_admin(state, req).await?;
    let id = target(req)?;
    if id == admin.id {
        return Err(ApiError::Conflict(OWN_ACCOUNT));
    }
    let user = existing(state, id).await?;
    if !erase(state, &user, None, Actor::Admin(admin.id)).await? {
        return Err(ApiError::Missing(USER_NOT_FOUND));
    }
    tracing::info!(actor = admin.id, user_id = id, "user deleted by an admin");
    Ok(no_content())
}

/// End every session of a user at once.
#[utoipa::path(delete, path = "/auth/admin/users/{id}/sessions", tag = "admin", operation_id = "admin_end_user_sessions", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Every session of the user has ended: its access and refresh tokens are refused from now on"),
        NotAuthenticated,
        (status = 403, description = "`Admin privileges required`; or `MFA required`", body = ErrorOut),
        (status = 404, description = "`User not found`", body = ErrorOut),
        Unavailable))]
pub async fn end_user_sessions(state: &AppState, req: &Request) -> EndpointResult {
    let (admin, claims) = authenticate_admin(state, req).await?;
    let user = existing(state, target(req)?).await?;
    state
        .sessions
        .revoke_all_sessions(user.id, state.clock.now_ms())
        .await?;
    let event = audit::event(state, req, EventType::LogoutAll, Actor::Admin(admin.id)).session(&claims.sid);
    audit::record(state, user.id, event).await;
    tracing::info!(actor = admin.id, user_id = user.id, "sessions ended by an admin");
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request {
        lambda_http::http::Request::builder()
            .uri(path)
            .body(lambda_http::Body::Empty)
            .expect("a request")
    }

    #[test]
    fn the_path_names_the_user_by_its_digits_alone() {
        assert_eq!(target(&request("/auth/admin/users/42")).ok(), Some(42));
        assert_eq!(
            target(&request("/prod/auth/admin/users/42/sessions")).ok(),
            Some(42)
        );
        for path in [
            "/auth/admin/users/",
            "/auth/admin/users/abc",
            "/auth/admin/users/+42",
            "/auth/admin/users/-1",
            "/auth/admin/users/4%202",
            "/auth/admin/users/99999999999999999999999",
            "/auth/users/42",
        ] {
            assert!(
                matches!(target(&request(path)), Err(ApiError::Missing(USER_NOT_FOUND))),
                "{path}"
            );
        }
    }
}
