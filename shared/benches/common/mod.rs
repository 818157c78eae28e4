//! What both benchmarks need: API Gateway events and response bodies.

use lambda_http::{Body, Request};
use serde_json::{json, Value};

/// A minimal API Gateway HTTP API (payload 2.0) event from 127.0.0.1.
pub fn event(method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Request {
    let mut headers = json!({"content-type": "application/json"});
    if let Some(t) = bearer {
        headers["authorization"] = format!("Bearer {t}").into();
    }
    let ev = json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}, "timeEpoch": 0},
        "body": body.map(|b| b.to_string()), "isBase64Encoded": false
    });
    lambda_http::request::from_str(&ev.to_string()).expect("event")
}

pub fn body(resp: &lambda_http::Response<Body>) -> Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
