use base64::Engine as _;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::Request;
use serde_json::Value;

use super::{authenticate, user_json, EndpointResult};
use crate::app::AppState;
use crate::domain::{Role, UserId};
use crate::error::{ApiError, ADMIN_REQUIRED};
use crate::http;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// GET /auth/me
pub async fn me(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    Ok(http::json(StatusCode::OK, &user_json(&user)))
}

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

/// GET /auth/users (admins only)
pub async fn list_users(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    if user.role != Role::Admin {
        return Err(ApiError::Forbidden(ADMIN_REQUIRED));
    }
    let limit = match http::query(req, "limit") {
        None => DEFAULT_PAGE,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::validation(
                    "less_than_equal",
                    &["query", "limit"],
                    format!("Input should be a whole number from 1 to {MAX_PAGE}"),
                ))
            }
        },
    };
    let after = match http::query(req, "cursor") {
        None => None,
        Some(c) => Some(decode_cursor(&c).ok_or(ApiError::BadRequest("Invalid cursor"))?),
    };
    let page = state.store.list_users(after, limit).await?;
    let body = Value::Array(
        page.users
            .iter()
            .map(|u| {
                let mut v = user_json(u);
                v["role"] = u.role.as_str().into();
                v["disabled"] = u.disabled.into();
                v
            })
            .collect(),
    );
    let mut resp = http::json(StatusCode::OK, &body);
    if let Some(next) = page.next_after {
        // The request's own path, so a stage prefix (`/prod/auth/users`) is kept.
        let path = req.uri().path();
        let link = format!(
            "<{path}?limit={limit}&cursor={}>; rel=\"next\"",
            encode_cursor(next)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
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
