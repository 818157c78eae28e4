//! HTTP helpers for the endpoints: typed request bodies the FastAPI way, bearer tokens, client
//! addresses, query parameters, and JSON responses built from wire types.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::wire::{FieldError, FromJson};

/// Bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Whether the request has no body (or only whitespace).
pub fn body_is_empty(req: &Request) -> bool {
    body_bytes(req).iter().all(u8::is_ascii_whitespace)
}

/// The request body as a JSON object, or the 413/422 FastAPI would give.
fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation("missing", &["body"], "Field required"));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Validation(vec![FieldError {
            kind: "json_invalid".into(),
            loc: vec!["body".into(), e.column().into()],
            msg: format!("JSON decode error: {e}"),
        }])
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::validation(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
        )),
    }
}

/// The request body as `T`, or a 413/422 naming every problem at once.
pub fn body<T: FromJson>(req: &Request) -> Result<T, ApiError> {
    T::from_json(&json_object(req)?).map_err(ApiError::Validation)
}

/// An optional body: `T::default()` when there is none, or when it is JSON `null`.
pub fn optional_body<T: FromJson + Default>(req: &Request) -> Result<T, ApiError> {
    if body_is_empty(req) || body_bytes(req).trim_ascii() == b"null" {
        Ok(T::default())
    } else {
        body(req)
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's network as API Gateway saw it (not a header the client can forge), the key of
/// per-client limits: an IPv4 address as it is; an IPv6 address as its /64 prefix
/// (`2001:db8:1:2::/64`), since one subscriber usually holds a whole /64 and could otherwise
/// rotate through 2^64 keys; an IPv4-mapped IPv6 address as the IPv4 address; `unknown` when
/// there is no parsable address.
pub fn client_ip(req: &Request) -> String {
    let source = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref(),
        _ => None,
    };
    client_network(source.unwrap_or(""))
}

/// Where the request comes from, as a user's list of sessions shows it: the source address
/// API Gateway saw (whole, not its network) and the `User-Agent` header (cut short).
pub fn seen_from(req: &Request) -> crate::domain::SeenFrom {
    let source = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    };
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    crate::domain::SeenFrom::new(source.unwrap_or_default(), user_agent)
}

/// The last segment of the request's path (`/auth/sessions/<id>` -> `<id>`), as sent: ids are
/// URL-safe, so an encoded segment names no id.
pub fn last_path_segment(req: &Request) -> &str {
    let path = req.uri().path().trim_end_matches('/');
    path.rsplit('/').next().unwrap_or("")
}

/// The per-client key of a source address (see [`client_ip`]).
pub fn client_network(source: &str) -> String {
    use std::net::{IpAddr, Ipv6Addr};
    match source.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
        Err(_) => "unknown".to_string(),
    }
}

/// Whether the request says its body is JSON: `application/json` or `application/<x>+json`,
/// with any parameters (`; charset=utf-8`).
pub fn has_json_content_type(req: &Request) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .and_then(|subtype| subtype.strip_suffix("+json"))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// A query string parameter.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name).map(str::to_string))
}

/// A JSON response with `body`, a wire type.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// The issuer of access tokens for this request: the configured one, or (see
/// [`Config::issuer_from_request`]) the URL API Gateway received the request at.
pub fn issuer(config: &Config, req: &Request) -> Result<String, ApiError> {
    if !config.issuer_from_request {
        return Ok(config.issuer.clone());
    }
    let (domain, stage) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.domain_name.as_deref(), ctx.stage.as_deref()),
        _ => (None, None),
    };
    let domain = domain
        .filter(|d| {
            !d.is_empty()
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
        })
        .ok_or_else(|| ApiError::Internal("no API domain in the request context: set AUTH_ISSUER".into()))?;
    Ok(match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => format!("https://{domain}/{stage}/auth"),
        _ => format!("https://{domain}/auth"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(value: &str) -> Request {
        lambda_http::http::Request::builder()
            .header(header::AUTHORIZATION, value)
            .body(lambda_http::Body::Empty)
            .expect("a request")
    }

    #[test]
    fn only_a_bearer_authorization_with_a_token_carries_one() {
        assert_eq!(bearer(&authorization("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer(&authorization("bearer  abc.def ")), Some("abc.def"));
        assert_eq!(bearer(&authorization("Basic abc.def")), None);
        assert_eq!(bearer(&authorization("Token abc.def")), None);
        assert_eq!(bearer(&authorization("Bearer ")), None);
        assert_eq!(bearer(&authorization("abc.def")), None);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_prefix() {
        assert_eq!(
            client_network("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(client_network("2001:0db8:0001:0002::1"), "2001:db8:1:2::/64");
        assert_eq!(client_network("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(client_network("::1"), "::/64");
    }

    #[test]
    fn ipv4_and_ipv4_mapped_clients_are_keyed_by_their_address() {
        assert_eq!(client_network("192.0.2.1"), "192.0.2.1");
        assert_eq!(client_network("::ffff:192.0.2.1"), "192.0.2.1");
    }

    #[test]
    fn an_unparsable_source_is_unknown() {
        for bad in ["", "unknown", "192.0.2", "2001:db8::1::2", "<script>"] {
            assert_eq!(client_network(bad), "unknown", "{bad}");
        }
    }

    fn with_content_type(value: &str) -> Request {
        let mut req = Request::new(Body::Text("{}".into()));
        req.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        req
    }

    #[test]
    fn json_content_types_are_recognised() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/merge-patch+json",
            "application/vnd.api+json; charset=utf-8",
        ] {
            assert!(has_json_content_type(&with_content_type(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "text/plain; charset=application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/+json",
            "text/json",
            "",
        ] {
            assert!(!has_json_content_type(&with_content_type(bad)), "{bad}");
        }
        assert!(!has_json_content_type(&Request::new(Body::Text("{}".into()))));
    }
}
