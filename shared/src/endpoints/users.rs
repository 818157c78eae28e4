//! The admin listing: `GET /auth/users`, paged in id order with an opaque cursor, or one user
//! by exact email.

use base64::Engine as _;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::Request;

use super::common::{admin_user_out, authenticate_admin, EndpointResult};
use super::responses::{Invalid, NotAuthenticated, Unavailable};
use crate::domain::{Email, UserId};
use crate::error::ApiError;
use crate::http;
use crate::state::AppState;
use crate::wire::{AdminUserOut, ErrorOut, FieldError};

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// An opaque cursor: the id the next page starts after.
pub fn encode_cursor(after: UserId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("u:{after}"))
}

pub fn decode_cursor(cursor: &str) -> Option<UserId> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("u:")?.parse().ok()
}

/// The page size a listing asks for: `limit`, 1 to [`MAX_PAGE`] (default [`DEFAULT_PAGE`]), or
/// 422.
pub(super) fn page_limit(req: &Request) -> Result<u32, ApiError> {
    match http::query(req, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(
                "less_than_equal",
                &["query", "limit"],
                format!("Input should be a whole number from 1 to {MAX_PAGE}"),
            )),
        },
    }
}

/// Where a listing's page starts: its `cursor` as `decode` reads it, or 400 `Invalid cursor`.
pub(super) fn page_cursor<T>(
    req: &Request,
    decode: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    http::query(req, "cursor")
        .map(|c| decode(&c).ok_or(ApiError::BadRequest("Invalid cursor")))
        .transpose()
}

/// A page of a listing as JSON, with `Link: <...>; rel="next"` to the page after it when
/// there is one (`next`, an encoded cursor), on the request's own path so that a stage prefix
/// (`/prod/auth/users`) is kept.
pub(super) fn json_page<T: serde::Serialize>(
    req: &Request,
    body: &T,
    limit: u32,
    next: Option<String>,
) -> EndpointResult {
    let mut resp = http::json(StatusCode::OK, body)?;
    if let Some(cursor) = next {
        let path = req.uri().path();
        let link = format!("<{path}?limit={limit}&cursor={cursor}>; rel=\"next\"");
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// List users (admins only): a page in id order, or the one user with `email`.
#[utoipa::path(get, path = "/auth/users", tag = "auth", security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, example = 50, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: from the `Link` header of the previous page (any other value is 400 `Invalid cursor`)"),
        ("email" = Option<String>, Query, format = Email, min_length = 3, max_length = 254, example = "john@example.com", description = "Exact lookup by email (normalised); no paging"),
    ),
    responses(
        (status = 200, description = "Users; `Link: <...>; rel=\"next\"` when there are more", body = Vec<AdminUserOut>,
            headers(("Link" = String, description = "The next page, as `<url>; rel=\"next\"`"))),
        (status = 400, description = "`Invalid cursor`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`Admin privileges required`; or `MFA required` (the admin has a second factor, or `AUTH_ADMIN_REQUIRES_MFA` is on, and the token's session did not use one)", body = ErrorOut),
        Invalid, Unavailable))]
/// GET /auth/users (admins only): a page in id order, or `?email=` for one exact match.
pub async fn list_users(state: &AppState, req: &Request) -> EndpointResult {
    authenticate_admin(state, req).await?;
    let limit = page_limit(req)?;
    if let Some(raw) = http::query(req, "email") {
        let email = Email::parse(&raw)
            .map_err(|e| ApiError::Validation(vec![FieldError::invalid(&["query", "email"], e)]))?;
        let found = state.users.user_by_email(&email).await?;
        let body: Vec<AdminUserOut> = found.iter().map(admin_user_out).collect();
        return http::json(StatusCode::OK, &body);
    }
    let after = page_cursor(req, decode_cursor)?;
    let page = state.users.list_users(after, limit).await?;
    let body: Vec<AdminUserOut> = page.users.iter().map(admin_user_out).collect();
    json_page(req, &body, limit, page.next_after.map(encode_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursor_round_trips(id in any::<u64>()) {
            prop_assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }

        #[test]
        fn arbitrary_cursor_never_panics(s in "\\PC{0,40}") {
            let _ = decode_cursor(&s);
        }
    }
}
