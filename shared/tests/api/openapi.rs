//! The OpenAPI description the docs function serves covers the whole API, generated from the
//! code; the docs page renders it.

use crate::helpers::sqlite::Sqlite;
use crate::helpers::{event, test_config, Backend};
use authyy::Endpoint;
use serde_json::Value;

/// The statuses the contract gives each route (DESIGN §3 and the README's API table).
fn contract(e: Endpoint) -> &'static [u16] {
    match e {
        Endpoint::Signup => &[201, 409, 413, 422, 429, 503],
        Endpoint::Login => &[200, 401, 413, 422, 429, 503],
        Endpoint::Me => &[200, 401, 503],
        Endpoint::ListUsers => &[200, 400, 401, 403, 422, 503],
        Endpoint::Refresh => &[200, 401, 503],
        Endpoint::ForgotPassword => &[200, 413, 422, 429, 503],
        Endpoint::ResetPassword => &[200, 400, 413, 422, 503],
        Endpoint::Logout => &[200, 401, 413, 422, 503],
        Endpoint::OpenApi | Endpoint::Docs | Endpoint::OpenIdConfiguration => &[200],
        Endpoint::Jwks => &[200, 503],
    }
}

async fn openapi(path: &str) -> Value {
    let app = Sqlite::app(test_config()).await;
    let r = app
        .call(Endpoint::OpenApi, event("GET", path, "", &[], None, "192.0.2.1"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route_with_its_schemas_and_errors() {
    let doc = openapi("/auth/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for e in Endpoint::ALL {
        let op = &doc["paths"][e.path()][e.method().as_str().to_lowercase()];
        assert!(op.is_object(), "{} is not described", e.route_key());
        let responses = op["responses"].as_object().unwrap();
        for status in contract(e) {
            assert!(
                responses.contains_key(&status.to_string()),
                "{} lacks {status}",
                e.route_key()
            );
        }
        for (status, response) in responses {
            if e != Endpoint::OpenApi && e != Endpoint::Docs {
                let schema = &response["content"]["application/json"]["schema"];
                assert!(
                    schema.is_object(),
                    "{} {status} has no JSON schema",
                    e.route_key()
                );
            }
        }
        if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
            let name = body.rsplit('/').next().unwrap();
            assert!(schemas.contains_key(name), "{name} is not in components");
        }
    }
    for name in [
        "SignupRequest",
        "LoginRequest",
        "TokenEnvelope",
        "UserOut",
        "ErrorOut",
        "ValidationErrorOut",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // For the test command's validator.
    if let Ok(out) = std::env::var("AUTHYY_OPENAPI_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_server_keeps_the_stage_prefix() {
    assert_eq!(openapi("/auth/openapi.json").await["servers"][0]["url"], "/");
    assert_eq!(
        openapi("/prod/auth/openapi.json").await["servers"][0]["url"],
        "/prod"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_renders_swagger_ui_over_openapi_json() {
    let app = Sqlite::app(test_config()).await;
    let r = app
        .call(
            Endpoint::Docs,
            event("GET", "/auth/docs", "", &[], None, "192.0.2.1"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.body.as_str().unwrap();
    assert!(html.contains("SwaggerUIBundle") && html.contains(r#"url: "openapi.json""#));
}
