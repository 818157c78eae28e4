//! HTTP helpers: reading bodies the FastAPI way, bearer tokens, client addresses, responses.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value};

use crate::domain::Invalid;
use crate::error::{ApiError, FieldError};

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
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation("missing", &["body"], "Field required"));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Validation(vec![FieldError {
            kind: "json_invalid",
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

/// Collects the field errors of one body so the client hears about all of them at once.
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Fields { body, errors: vec![] }
    }

    /// A required string field.
    pub fn string(&mut self, name: &'static str) -> Option<&'a str> {
        match self.body.get(name) {
            None => {
                self.errors
                    .push(FieldError::new("missing", &["body", name], "Field required"));
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.errors.push(FieldError::new(
                    "string_type",
                    &["body", name],
                    "Input should be a valid string",
                ));
                None
            }
        }
    }

    /// A required string field turned into a domain value by `parse`.
    pub fn parsed<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        let raw = self.string(name)?;
        self.check(name, parse(raw))
    }

    /// Records a domain error against `name`.
    pub fn check<T>(&mut self, name: &'static str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(Invalid(msg)) => {
                self.errors.push(FieldError::new(
                    "value_error",
                    &["body", name],
                    format!("Value error, {msg}"),
                ));
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client address API Gateway saw (not a header the client can forge).
pub fn client_ip(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".to_string())
}

/// A query string parameter.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name).map(str::to_string))
}

/// A JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

impl ApiError {
    pub fn into_response(self) -> Response<Body> {
        let mut resp = json(self.status(), &self.body());
        let headers = resp.headers_mut();
        match &self {
            ApiError::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests { retry_after } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.max(&1).to_owned()),
                );
            }
            _ => {}
        }
        resp
    }
}
