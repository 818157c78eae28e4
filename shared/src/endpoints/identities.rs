//! The identities at other providers linked to the signed-in user's account: list them, link
//! one (`POST /auth/oauth/{provider}/link`, the provider's pages, then
//! `POST /auth/oauth/{provider}/link/complete` in the same account's session), and remove one,
//! never the account's last way to sign in. Linking and removing confirm the password (or, for
//! an account with none, a recent sign-in) and need a verified address to add.

use super::audit;
use crate::domain::audit::{Details, EventType};
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{authenticate, reauthenticate, require_aal2_if_enrolled, EndpointResult};
use super::mfa::require_verified;
use super::oauth_flow::{identity_of, new_state, provider, start, take_code, INVALID_CODE};
use super::responses::{JsonBodyRefused, MfaRequired, NotAuthenticated, TooManyWrongPasswords, Unavailable};
use super::sessions::no_content;
use crate::clock::rfc3339;
use crate::error::{ApiError, IDENTITY_NOT_FOUND, IDENTITY_TAKEN, LAST_WAY_TO_SIGN_IN};
use crate::http;
use crate::state::AppState;
use crate::store::{Identity, LinkEnd, UnlinkEnd};
use crate::wire::{
    ErrorOut, IdentityOut, LinkOut, LinkRequest, OAuthTokenRequest, PasswordConfirmation, ValidationErrorOut,
};

fn identity_out(i: Identity) -> IdentityOut {
    IdentityOut {
        id: i.id,
        provider: i.provider,
        email: i.email,
        created_at: rfc3339(i.created_at),
    }
}

/// The signed-in user's linked identities.
#[utoipa::path(get, path = "/auth/identities", tag = "federation", operation_id = "list_identities",
    responses(
        (status = 200, description = "The identities linked to the account, oldest first", body = [IdentityOut]),
        (status = 401, description = "`Not authenticated`", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        Unavailable))]
pub async fn list_identities(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    let identities: Vec<IdentityOut> = state
        .identities
        .identities(user.id)
        .await?
        .into_iter()
        .map(identity_out)
        .collect();
    http::json(StatusCode::OK, &identities)
}

/// Start linking an identity at a provider to the signed-in account.
#[utoipa::path(post, path = "/auth/oauth/{provider}/link", tag = "federation", operation_id = "link_identity", request_body = LinkRequest,
    params(("provider" = String, Path, description = "A configured provider's name")),
    responses(
        (status = 200, description = "Where to send the browser; the provider sends it back to `redirect_to#code=` (then `link/complete`) or `#error=`", body = LinkOut),
        (status = 400, description = "`Unknown provider`, `redirect_to not allowed`, or `Current password is incorrect`", body = ErrorOut),
        NotAuthenticated, MfaRequired,
        (status = 403, description = "`Email not verified`: only an account with a verified address adds a way to sign in", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error (a malformed `code_challenge`)", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn link(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    require_verified(&user)?;
    let LinkRequest {
        redirect_to,
        code_challenge,
        password,
    } = http::body(req)?;
    let provider = provider(state, req)?;
    let record = new_state(
        state,
        provider,
        Some(redirect_to),
        Some(code_challenge),
        Some(user.id),
        "body",
    )?;
    reauthenticate(state, req, &user, &claims, password.as_ref()).await?;
    match start(state, req, provider, &record).await? {
        Ok(authorize_url) => http::json(StatusCode::OK, &LinkOut { authorize_url }),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// Link the identity the provider vouched for to the signed-in account.
#[utoipa::path(post, path = "/auth/oauth/{provider}/link/complete", tag = "federation", operation_id = "complete_link", request_body = OAuthTokenRequest,
    params(("provider" = String, Path, description = "The provider of the link flow")),
    responses(
        (status = 200, description = "The identity, linked", body = IdentityOut),
        (status = 400, description = "`Invalid or expired code`: unknown, spent, over 60 seconds old, not a link's, another account's or provider's, or not the verifier of its challenge", body = ErrorOut),
        NotAuthenticated,
        (status = 409, description = "`Identity already linked to another account`", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        Unavailable))]
pub async fn complete_link(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let OAuthTokenRequest {
        code, code_verifier, ..
    } = http::body(req)?;
    let record = take_code(state, &code, &code_verifier).await?;
    let provider = provider(state, req)?;
    let link = record
        .link
        .filter(|_| record.user_id == user.id && record.provider == provider.name)
        .ok_or(ApiError::BadRequest(INVALID_CODE))?;
    let identity = identity_of(&link, &provider.name, state.clock.now());
    match state.identities.link_identity(user.id, &identity).await? {
        LinkEnd::Linked => {
            tracing::info!(user_id = user.id, provider = %provider.name, "provider identity linked");
            let event = audit::by_owner(state, req, EventType::IdentityLinked)
                .session(&claims.sid)
                .details(Details {
                    provider: Some(provider.name.clone()),
                    credential: Some(identity.id.clone()),
                    ..Details::default()
                });
            audit::record(state, user.id, event).await;
            http::json(StatusCode::OK, &identity_out(identity))
        }
        LinkEnd::AlreadyLinked => {
            let linked = state
                .identities
                .identity(&identity.issuer, &identity.subject)
                .await?;
            let (_, existing) = linked.ok_or(ApiError::BadRequest(INVALID_CODE))?;
            http::json(StatusCode::OK, &identity_out(existing))
        }
        LinkEnd::Taken => Err(ApiError::Conflict(IDENTITY_TAKEN)),
        LinkEnd::Gone => Err(ApiError::BadRequest(INVALID_CODE)),
    }
}

/// Remove an identity from the signed-in account.
#[utoipa::path(delete, path = "/auth/identities/{id}", tag = "federation", operation_id = "delete_identity", request_body = PasswordConfirmation,
    params(("id" = String, Path, description = "The identity's id")),
    responses(
        (status = 204, description = "Removed: that provider no longer signs in to the account"),
        (status = 400, description = "`Current password is incorrect`", body = ErrorOut),
        NotAuthenticated, MfaRequired,
        (status = 404, description = "`Identity not found` (also another account's)", body = ErrorOut),
        (status = 409, description = "`Cannot remove the last way to sign in`: the account has no password, no passkey and no other identity (set a password with forgot-password first)", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn delete_identity(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    let PasswordConfirmation { password } = http::body(req)?;
    reauthenticate(state, req, &user, &claims, password.as_ref()).await?;
    let id = http::last_path_segment(req);
    match state.identities.unlink_identity(user.id, &user.email, id).await? {
        UnlinkEnd::Removed => {
            tracing::info!(user_id = user.id, "provider identity unlinked");
            let event = audit::by_owner(state, req, EventType::IdentityUnlinked)
                .session(&claims.sid)
                .details(Details {
                    credential: Some(id.to_string()),
                    ..Details::default()
                });
            audit::record(state, user.id, event).await;
            Ok(no_content())
        }
        UnlinkEnd::NotFound => Err(ApiError::Missing(IDENTITY_NOT_FOUND)),
        UnlinkEnd::LastWay => Err(ApiError::Conflict(LAST_WAY_TO_SIGN_IN)),
    }
}
