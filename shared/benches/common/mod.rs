//! What both benchmarks need: API Gateway events, response bodies, and a chain of refreshes.

use authyy::config::{Config, Env, HashCost};
use authyy::{AppState, Endpoint};
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

/// Refreshes `n` times in a row, each time with the token the previous refresh returned.
pub async fn refresh_chain(state: &AppState, mut refresh: String, n: u32) {
    for _ in 0..n {
        let req = event("POST", "/auth/tokens", Some(&refresh), None);
        let r = authyy::handle(state, Endpoint::Refresh, req).await;
        assert_eq!(r.status(), 200);
        refresh = body(&r)["tokens"]["refresh"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
    }
}

/// The access and refresh tokens of a login response, its user made an admin (for the listing).
pub async fn admin_tokens(state: &AppState, login: &Value) -> (String, String) {
    let token = |kind: &str, field: &str| login["tokens"][kind][field].as_str().unwrap().to_string();
    let id = login["user"]["id"].as_u64().unwrap();
    assert!(state
        .users
        .set_role(id, authyy::domain::Role::Admin, 0)
        .await
        .unwrap());
    (token("access", "access_token"), token("refresh", "refresh_token"))
}

/// The configuration of the handler benchmarks: no per-client limits, no failure backoff or
/// mail cap, and argon2 at minimal cost so the handler's own work is what is measured.
pub fn bench_config() -> Config {
    let mut config = Config::from_env(&Env::from_pairs([("AUTH_IP_LIMITS", "off")])).unwrap();
    config.hash_cost = HashCost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    config.password_min_score = 0;
    config.login_max_failures = u32::MAX;
    config.forgot_per_email_limit.max = u32::MAX;
    config
}
