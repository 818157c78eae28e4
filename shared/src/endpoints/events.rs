//! The audit trail as the API shows it: `GET /auth/me/events` (the caller's own log) and
//! `GET /auth/admin/users/{id}/events` (any user's, for administrators), newest first, paged as
//! the users list is (`limit`, an opaque `cursor`, the next page in a `Link` header).

use base64::Engine as _;
use lambda_http::Request;

use super::admin_users::{existing, target};
use super::common::{authenticate, authenticate_admin, EndpointResult};
use super::responses::{NotAuthenticated, Unavailable};
use super::users::{json_page, page_cursor, page_limit};
use crate::clock::rfc3339;
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::UserId;
use crate::state::AppState;
use crate::wire::{ErrorOut, EventOut};

/// An opaque cursor: the sort key the next page starts before.
pub fn encode_cursor(before: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("e:{before}"))
}

/// The sort key a cursor names, if it is one [`encode_cursor`] could have made: 13 digits, `#`,
/// 16 hex digits, `#`, and an id of URL-safe characters.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let key = text.strip_prefix("e:")?;
    let (time, rest) = key.split_once('#')?;
    let (seq, id) = rest.split_once('#')?;
    let well_formed = time.len() == 13
        && time.bytes().all(|b| b.is_ascii_digit())
        && seq.len() == 16
        && seq.bytes().all(|b| b.is_ascii_hexdigit())
        && (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| key.to_string())
}

/// `event` on the wire; `for_owner` shows an administrator as `admin`, with no details.
pub fn event_out(event: AuditEvent, for_owner: bool) -> EventOut {
    let (actor, event) = match (for_owner, event.actor) {
        (true, Actor::Admin(_)) => ("admin".to_string(), event.as_owner_sees_it()),
        (_, actor) => (actor.to_wire(), event),
    };
    EventOut {
        id: event.id,
        kind: event.kind.as_str().to_string(),
        at: rfc3339(event.at_ms.div_euclid(1000)),
        ip: event.ip,
        user_agent: event.user_agent,
        session_id: event.session_id,
        actor,
        details: serde_json::to_value(&event.details).unwrap_or_default(),
    }
}

/// The caller's own security log.
#[utoipa::path(get, path = "/auth/me/events", tag = "account", operation_id = "list_my_events", security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, example = 50, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: from the `Link` header of the previous page (any other value is 400 `Invalid cursor`)"),
    ),
    responses(
        (status = 200, description = "The account's security events, newest first; `Link: <...>; rel=\"next\"` when there are more. An administrator's action shows as `actor: \"admin\"`, with no details", body = Vec<EventOut>,
            headers(("Link" = String, description = "The next page, as `<url>; rel=\"next\"`"))),
        (status = 400, description = "`Invalid cursor`", body = ErrorOut),
        NotAuthenticated,
        (status = 422, description = "Validation error (`limit` out of range)", body = crate::wire::ValidationErrorOut),
        Unavailable))]
pub async fn my_events(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    page(state, req, user.id, true).await
}

/// A user's security log, for administrators.
#[utoipa::path(get, path = "/auth/admin/users/{id}/events", tag = "admin", operation_id = "admin_list_user_events", security(("bearer" = [])),
    params(
        ("id" = u64, Path, description = "The user's id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, example = 50, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: from the `Link` header of the previous page"),
    ),
    responses(
        (status = 200, description = "The user's security events, newest first (administrators as `admin:<id>`, with details); `Link` when there are more", body = Vec<EventOut>,
            headers(("Link" = String, description = "The next page, as `<url>; rel=\"next\"`"))),
        (status = 400, description = "`Invalid cursor`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`Admin privileges required`; or `MFA required`", body = ErrorOut),
        (status = 404, description = "`User not found`", body = ErrorOut),
        (status = 422, description = "Validation error (`limit` out of range)", body = crate::wire::ValidationErrorOut),
        Unavailable))]
pub async fn user_events(state: &AppState, req: &Request) -> EndpointResult {
    authenticate_admin(state, req).await?;
    let user = existing(state, target(req)?).await?;
    page(state, req, user.id, false).await
}

/// One page of the log of `user_id`, with the `Link` to the next.
async fn page(state: &AppState, req: &Request, user_id: UserId, for_owner: bool) -> EndpointResult {
    let limit = page_limit(req)?;
    let before = page_cursor(req, decode_cursor)?;
    let page = state
        .audit
        .list_events(user_id, before.as_deref(), limit, state.clock.now())
        .await?;
    let body: Vec<EventOut> = page.events.into_iter().map(|e| event_out(e, for_owner)).collect();
    json_page(req, &body, limit, page.next_before.as_deref().map(encode_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{Details, EventType, Field};
    use crate::domain::SeenFrom;
    use proptest::prelude::*;

    #[test]
    fn a_cursor_names_a_sort_key_and_nothing_else() {
        let key = "1733308200123#000000000000002a#9sQ2v7bYtq1xXyQ4n2mJ0w".to_string();
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        // Ids are URL-safe base64: `-` and `_` are theirs.
        let key = "1733308200123#000000000000002a#9sQ2v7-Ytq1xXyQ4n2mJ_w".to_string();
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        for bad in [
            "",
            "e:",
            "e:123#abc",
            "u:5",
            "e:1733308200123#000000000000002a#",
            "e:1733308200123#9sQ2v7bYtq1xXyQ4n2mJ0w",
            "e:173330820012x#000000000000002a#abc",
            "e:1733308200123#00000000000002a#abc",
            "e:1733308200123#000000000000002a#a b",
        ] {
            let c = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bad);
            assert_eq!(decode_cursor(&c), None, "{bad}");
        }
        assert_eq!(decode_cursor("not base64!"), None);
    }

    #[test]
    fn the_owner_sees_an_admin_without_id_or_details_and_an_admin_sees_both() {
        let mut e = AuditEvent::new(
            EventType::UserUpdated,
            Actor::Admin(4),
            1000,
            &SeenFrom::default(),
        );
        e.details = Details {
            changed: vec![Field::Disabled],
            ..Details::default()
        };
        let owner = event_out(e.clone(), true);
        assert_eq!(
            (owner.actor.as_str(), owner.details.clone()),
            ("admin", serde_json::json!({}))
        );
        let admin = event_out(e, false);
        assert_eq!(admin.actor, "admin:4");
        assert_eq!(admin.details, serde_json::json!({"changed": ["disabled"]}));
        let own = AuditEvent::new(EventType::Logout, Actor::Owner, 1000, &SeenFrom::default());
        assert_eq!(event_out(own, true).actor, "self");
    }

    proptest! {
        #[test]
        fn arbitrary_cursor_never_panics(s in "\\PC{0,60}") {
            let _ = decode_cursor(&s);
        }
    }
}
