//! Hardening of the pipeline: bodies that are not JSON (415, counted against nothing), the
//! security headers on every response, the docs page's pinned assets and policy, IPv6 clients
//! keyed by /64, and trace logging that never shows an event.

use crate::helpers::audit::Captured;
use crate::helpers::*;
use authyy::runtime::API_CSP;
use lambda_http::Request;

const NOT_JSON: &str = "Content-Type must be application/json";

/// A request to `endpoint` with exactly this content type (`None`: no header at all).
fn typed(
    endpoint: Endpoint,
    content_type: Option<&str>,
    body: Option<&str>,
    bearer: Option<&str>,
) -> Request {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![];
    if let Some(ct) = content_type {
        headers.push(("content-type", ct));
    }
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let mut req = event(
        endpoint.method().as_str(),
        endpoint.path(),
        "",
        &headers,
        body,
        "192.0.2.1",
    );
    if content_type.is_none() {
        req.headers_mut().remove("content-type");
    }
    req
}

async fn a_text_plain_login_gets_415_and_counts_nothing<B: Backend>() {
    let app = B::app(with(|c| {
        c.login_limit = Limit {
            max: 2,
            window_secs: 60,
        };
        c.login_max_failures = 1;
    }))
    .await;
    assert_eq!(
        app.signup("john_doe", "john@example.com", STRONG).await.status,
        201
    );
    // What any web page can make its visitors' browsers send, with no CORS preflight.
    let wrong = json!({"email": "john@example.com", "password": STRONG2}).to_string();
    for _ in 0..10 {
        let req = typed(Endpoint::Login, Some("text/plain"), Some(&wrong), None);
        let r = app.call(Endpoint::Login, req).await;
        assert_eq!(r.status, 415, "{:?}", r.body);
        assert_eq!(r.detail(), NOT_JSON);
    }
    // The account's failures did not move: the owner logs in.
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
    // Nor did the per-client counter: that login was the first of its two.
    assert_eq!(app.login("nobody@example.com", STRONG).await.status, 401);
    assert_eq!(app.login("nobody@example.com", STRONG).await.status, 429);
}

async fn every_body_taking_endpoint_refuses_bodies_that_are_not_json<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let body = json!({"username": "john_doe", "email": "john@example.com", "password": STRONG, "token": "x"})
        .to_string();
    for endpoint in [
        Endpoint::Signup,
        Endpoint::Login,
        Endpoint::ForgotPassword,
        Endpoint::ResetPassword,
    ] {
        for content_type in [
            Some("text/plain"),
            Some("text/plain; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/json"),
            None,
        ] {
            for body in [Some(body.as_str()), None] {
                let r = app
                    .call(endpoint, typed(endpoint, content_type, body, None))
                    .await;
                assert_eq!(
                    r.status, 415,
                    "{endpoint:?} {content_type:?} {body:?}: {:?}",
                    r.body
                );
                assert_eq!(r.detail(), NOT_JSON);
            }
        }
    }
    // Nothing was created on the way.
    assert_eq!(app.login("john@example.com", STRONG).await.status, 401);
}

async fn json_with_parameters_or_a_json_suffix_is_accepted<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let body = json!({"email": "john@example.com", "password": STRONG}).to_string();
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let r = app
            .call(
                Endpoint::Login,
                typed(Endpoint::Login, Some(content_type), Some(&body), None),
            )
            .await;
        assert_eq!(r.status, 401, "{content_type}: {:?}", r.body);
    }
}

async fn a_body_of_another_type_is_415_even_where_none_is_needed<B: Backend>() {
    let app = app::<B>().await;
    let (access, refresh, _) = app.user("john_doe").await;
    let r = app
        .call(
            Endpoint::Logout,
            typed(
                Endpoint::Logout,
                Some("text/plain"),
                Some(r#"{"all": true}"#),
                Some(&access),
            ),
        )
        .await;
    assert_eq!(r.status, 415);
    let r = app
        .call(
            Endpoint::Refresh,
            typed(Endpoint::Refresh, Some("text/plain"), Some("x"), Some(&refresh)),
        )
        .await;
    assert_eq!(r.status, 415);
    // Neither request did anything: the session is live and the refresh token unspent.
    assert_eq!(app.me(&access).await.status, 200);
    assert_eq!(app.refresh(&refresh).await.status, 200);
}

async fn logout_with_no_body_needs_no_content_type<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let r = app
        .call(
            Endpoint::Logout,
            typed(Endpoint::Logout, None, None, Some(&access)),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.me(&access).await.status, 401);
}

fn assert_security_headers(what: &str, r: &Resp) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp:?}");
    if !what.starts_with("docs page") {
        assert_eq!(csp, API_CSP, "{what}");
    }
}

async fn nosniff_and_frame_ancestors_none_on_every_kind_of_response<B: Backend>() {
    let app = B::app(with(|c| {
        c.cors_origins = vec!["https://app.example.com".into()];
        c.forgot_limit = Limit {
            max: 1,
            window_secs: 900,
        };
    }))
    .await;
    let get = |path: &str| event("GET", path, "", &[], None, "192.0.2.1");
    let signup = app.signup("john_doe", "john@example.com", STRONG).await;
    assert_security_headers("201 signup", &signup);
    let login = app.login("john@example.com", STRONG).await;
    assert_security_headers("200 login", &login);
    assert_security_headers("200 me", &app.me(&access(&login)).await);
    assert_security_headers("401 me", &app.me("x.y.z").await);
    assert_security_headers("404", &app.call(Endpoint::Me, get("/auth/nope")).await);
    let delete = event("DELETE", "/auth/me", "", &[], None, "192.0.2.1");
    assert_security_headers("405", &app.call(Endpoint::Me, delete).await);
    let huge = "x".repeat(100 * 1024);
    assert_security_headers("413", &app.raw(Endpoint::Login, Some(&huge), None).await);
    let plain = typed(Endpoint::Login, Some("text/plain"), Some("{}"), None);
    assert_security_headers("415", &app.call(Endpoint::Login, plain).await);
    assert_security_headers("422", &app.post(Endpoint::Login, json!({})).await);
    assert_eq!(app.forgot("john@example.com").await.status, 200);
    let limited = app.forgot("john@example.com").await;
    assert_eq!(limited.status, 429);
    assert_security_headers("429", &limited);
    let preflight = event(
        "OPTIONS",
        "/auth/login",
        "",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
        ],
        None,
        "192.0.2.1",
    );
    let r = app.call(Endpoint::Login, preflight).await;
    assert_eq!(r.status, 204);
    assert_security_headers("preflight", &r);
    let r = app.call(Endpoint::OpenApi, get("/auth/openapi.json")).await;
    assert_security_headers("openapi.json", &r);
    let r = app.call(Endpoint::Jwks, get("/auth/.well-known/jwks.json")).await;
    assert_security_headers("jwks", &r);
    let r = app.call(Endpoint::Docs, get("/auth/docs")).await;
    assert_eq!(r.status, 200);
    assert_security_headers("docs page", &r);
}

/// The values of `attr="..."` in `html`.
fn attrs<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_loads_only_pinned_swagger_ui_with_integrity_under_a_csp() {
    use authyy::endpoints::docs::{SWAGGER_UI_BASE, SWAGGER_UI_VERSION};
    use base64::Engine as _;
    let app = crate::helpers::sqlite::Sqlite::app(test_config()).await;
    let r = app
        .call(
            Endpoint::Docs,
            event("GET", "/auth/docs", "", &[], None, "192.0.2.1"),
        )
        .await;
    assert_eq!(r.status, 200);
    let html = r.body.as_str().unwrap();
    // An exact release, not a moving tag such as @5.
    let parts: Vec<&str> = SWAGGER_UI_VERSION.split('.').collect();
    assert!(parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()));
    assert!(SWAGGER_UI_BASE.ends_with(&format!("swagger-ui-dist@{SWAGGER_UI_VERSION}/")));
    // Every external script and stylesheet comes from it, with its hash and crossorigin.
    let sources: Vec<&str> = attrs(html, "src")
        .into_iter()
        .chain(attrs(html, "href"))
        .collect();
    assert_eq!(sources.len(), 2, "{html}");
    assert!(
        sources.iter().all(|s| s.starts_with(SWAGGER_UI_BASE)),
        "{sources:?}"
    );
    let integrity = attrs(html, "integrity");
    assert_eq!(integrity.len(), 2);
    for hash in integrity {
        let digest = base64::engine::general_purpose::STANDARD
            .decode(hash.strip_prefix("sha384-").unwrap())
            .unwrap();
        assert_eq!(digest.len(), 48, "{hash}");
    }
    assert_eq!(attrs(html, "crossorigin"), ["anonymous", "anonymous"]);

    let csp = r.header("content-security-policy").unwrap();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for d in [
        "default-src 'none'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        &format!("style-src {SWAGGER_UI_BASE}"),
    ] {
        assert!(directives.contains(&d), "{d} not in {csp}");
    }
    // Scripts: the pinned release, and the one inline script by its hash.
    let scripts = directives
        .iter()
        .find_map(|d| d.strip_prefix("script-src "))
        .unwrap();
    let inline = html
        .split("<script>")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap();
    let inline_hash = {
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline.as_bytes()))
    };
    assert_eq!(
        scripts.split_whitespace().collect::<Vec<_>>(),
        [SWAGGER_UI_BASE, &format!("'sha256-{inline_hash}'")]
    );
    assert!(!csp.contains("unsafe"));
}

async fn ipv6_clients_in_one_64_share_a_signup_limit<B: Backend>() {
    let app = B::app(with(|c| {
        c.signup_limit = Limit {
            max: 2,
            window_secs: 3600,
        }
    }))
    .await;
    let signup_from = |name: &str, ip: &str| {
        let body = json!({"username": name, "email": format!("{name}@example.com"), "password": STRONG});
        event("POST", "/auth/users", "", &[], Some(&body.to_string()), ip)
    };
    let from = |n: &str, ip: &str| app.call(Endpoint::Signup, signup_from(n, ip));
    assert_eq!(from("user_a", "2001:db8:1:2::1").await.status, 201);
    assert_eq!(
        from("user_b", "2001:db8:1:2:ffff:ffff:ffff:ffff").await.status,
        201
    );
    // A third address of the same /64 is the same client.
    let r = from("user_c", "2001:db8:1:2:abcd::9").await;
    assert_eq!(r.status, 429);
    // Another /64 is another client.
    assert_eq!(from("user_d", "2001:db8:1:3::1").await.status, 201);
    assert_eq!(from("user_e", "2001:db8:1:3::2").await.status, 201);
    assert_eq!(from("user_f", "2001:db8:1:3::3").await.status, 429);
}

#[test]
fn trace_logging_never_logs_the_event() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let event =
        r#"{"body": "{\"password\": \"hunter2 secret\"}", "headers": {"authorization": "Bearer eyJsecret"}}"#;
    // RUST_LOG=trace, AWS_LAMBDA_LOG_LEVEL=TRACE (lower-cased), and one naming the runtime.
    let specs = [
        "trace",
        "debug",
        "trace,lambda_runtime=trace,lambda_http=trace,aws_smithy_runtime=trace",
    ];
    for (spec, json) in specs.into_iter().flat_map(|s| [(s, false), (s, true)]) {
        let logs = Captured::default();
        let writer = logs.clone();
        // The very layer `init_tracing` installs in every function.
        let layer = authyy::runtime::log_layer(spec, json, move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            // Exactly what lambda_runtime 1.x logs for every invocation (layers/api_response.rs).
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = event, "raw JSON event received from Lambda");
            tracing::debug!(target: "lambda_runtime::requests", metadata_prelude = event);
            tracing::trace!(target: "lambda_http::request", body = event);
            tracing::trace!(target: "lambda_runtime_api_client", body = event);
            // What the AWS SDK logs for every call it makes (DynamoDB items, SES bodies).
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = event, "transmitting request");
            tracing::debug!(target: "hyper_util::client::legacy::pool", body = event);
            // The runtime's errors still show, and so does the app's own trace.
            tracing::error!(target: "lambda_runtime::layers::panic", "user handler panicked");
            tracing::trace!(target: "authyy::endpoints::login", "app trace shows");
        });
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("eyJsecret"),
            "{spec}: {text}"
        );
        assert!(text.contains("user handler panicked"), "{spec}: {text}");
        assert_eq!(
            text.contains("app trace shows"),
            spec.starts_with("trace"),
            "{spec}: {text}"
        );
    }
}

both_backends!(
    a_text_plain_login_gets_415_and_counts_nothing,
    every_body_taking_endpoint_refuses_bodies_that_are_not_json,
    json_with_parameters_or_a_json_suffix_is_accepted,
    a_body_of_another_type_is_415_even_where_none_is_needed,
    logout_with_no_body_needs_no_content_type,
    nosniff_and_frame_ancestors_none_on_every_kind_of_response,
    ipv6_clients_in_one_64_share_a_signup_limit,
);
