//! The identities at other providers linked to the signed-in user's account.

use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{authenticate, EndpointResult};
use super::responses::Unavailable;
use crate::clock::rfc3339;
use crate::http;
use crate::state::AppState;
use crate::wire::{ErrorOut, IdentityOut};

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
        .map(|i| IdentityOut {
            id: i.id,
            provider: i.provider,
            email: i.email,
            created_at: rfc3339(i.created_at),
        })
        .collect();
    http::json(StatusCode::OK, &identities)
}
