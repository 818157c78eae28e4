//! HTTP behaviour shared by every endpoint: 404/405 JSON, CORS and preflight.

use crate::helpers::*;

async fn wrong_method_is_405_json<B: Backend>() {
    let app = app::<B>().await;
    let req = event("PUT", "/auth/me", "", &[], None, "192.0.2.1");
    let r = app.call(Endpoint::Me, req).await;
    assert_eq!(r.status, 405);
    assert!(r.detail().contains("Method Not Allowed"));
}

async fn wrong_method_on_a_known_path_reaching_the_catch_all_is_405_with_allow<B: Backend>() {
    // In AWS, methods with no route go to the docs function ($default).
    let app = app::<B>().await;
    for (method, path, allow) in [
        ("PUT", "/auth/login", "POST, OPTIONS"),
        ("DELETE", "/prod/auth/users", "POST, GET, OPTIONS"),
        ("PATCH", "/auth/me", "GET, DELETE, OPTIONS"),
        ("PUT", "/auth/sessions/abc", "DELETE, OPTIONS"),
    ] {
        let r = app
            .call(Endpoint::Docs, event(method, path, "", &[], None, "192.0.2.1"))
            .await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    let r = app
        .call(
            Endpoint::Docs,
            event("PUT", "/auth/nope", "", &[], None, "192.0.2.1"),
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn unknown_path_is_404_json<B: Backend>() {
    let app = app::<B>().await;
    for path in ["/auth/nope", "/", "/auth/me/extra", "/x/y/auth/me"] {
        let r = app
            .call(Endpoint::Me, event("GET", path, "", &[], None, "192.0.2.1"))
            .await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.detail(), "Not Found");
    }
    // A stage prefix is fine.
    let r = app
        .call(
            Endpoint::Me,
            event("GET", "/prod/auth/me", "", &[], None, "192.0.2.1"),
        )
        .await;
    assert_eq!(r.status, 401);
}

async fn cors_headers_only_for_configured_origins<B: Backend>() {
    let app = B::app(with(|c| c.cors_origins = vec!["https://app.example.com".into()])).await;
    let body = json!({"email": "a@example.com"}).to_string();
    let ok = event(
        "POST",
        "/auth/forgot-password",
        "",
        &[("origin", "https://app.example.com")],
        Some(&body),
        "192.0.2.1",
    );
    let r = app.call(Endpoint::ForgotPassword, ok).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    let evil = event(
        "POST",
        "/auth/forgot-password",
        "",
        &[("origin", "https://evil.example.net")],
        Some(&body),
        "192.0.2.1",
    );
    assert!(app
        .call(Endpoint::ForgotPassword, evil)
        .await
        .header("access-control-allow-origin")
        .is_none());
}

async fn preflight_is_answered_for_configured_origins<B: Backend>() {
    let app = B::app(with(|c| c.cors_origins = vec!["https://app.example.com".into()])).await;
    let req = event(
        "OPTIONS",
        "/auth/users",
        "",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
        ],
        None,
        "192.0.2.1",
    );
    let r = app.call(Endpoint::Signup, req).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
}

both_backends!(
    wrong_method_is_405_json,
    wrong_method_on_a_known_path_reaching_the_catch_all_is_405_with_allow,
    unknown_path_is_404_json,
    cors_headers_only_for_configured_origins,
    preflight_is_answered_for_configured_origins,
);
