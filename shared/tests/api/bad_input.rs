//! Bad input: whatever a client sends gets a clear 4xx with a useful `detail`, never a 5xx.

use crate::helpers::*;

async fn wrong_types_null_and_arrays_are_422<B: Backend>() {
    let app = app::<B>().await;
    for bad in [json!(42), Value::Null, json!(["a"]), json!({"x": 1}), json!(true)] {
        let r = app
            .post(
                Endpoint::Signup,
                json!({"username": bad, "email": "a@example.com", "password": STRONG}),
            )
            .await;
        assert_422_at(&r, "username");
        let r = app
            .post(
                Endpoint::Login,
                json!({"email": "a@example.com", "password": bad}),
            )
            .await;
        assert_422_at(&r, "password");
    }
}

async fn malformed_json_is_422_json_invalid<B: Backend>() {
    let app = app::<B>().await;
    for body in ["{", "{\"email\": }", "not json", "{\"a\":1}}"] {
        let r = app.raw(Endpoint::Login, Some(body), None).await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["type"], "json_invalid");
    }
}

async fn body_that_is_not_an_object_is_422<B: Backend>() {
    let app = app::<B>().await;
    for body in ["[]", "\"text\"", "null", "12"] {
        let r = app.raw(Endpoint::Signup, Some(body), None).await;
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.body["detail"][0]["type"], "model_attributes_type");
    }
}

async fn empty_body_is_422<B: Backend>() {
    let app = app::<B>().await;
    // Said to be JSON but empty; without a content type it is 415 (hardening.rs).
    let req = event(
        "POST",
        "/auth/forgot-password",
        "",
        &[("content-type", "application/json")],
        None,
        "192.0.2.1",
    );
    let r = app.call(Endpoint::ForgotPassword, req).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body"]));
}

async fn body_over_64_kib_is_413<B: Backend>() {
    let app = app::<B>().await;
    let huge = json!({"email": "a@example.com", "password": "x".repeat(2 * 1024 * 1024)}).to_string();
    let r = app.raw(Endpoint::Login, Some(&huge), None).await;
    assert_eq!(r.status, 413);
    assert!(r.detail().contains("64 KiB"));
}

async fn ten_thousand_character_password_is_422_before_hashing<B: Backend>() {
    let app = app::<B>().await;
    let long = "a".repeat(10_000);
    let r = app.signup("john_doe", "john@example.com", &long).await;
    assert_422_at(&r, "password");
    assert!(r.body["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("at most 128"));
    let r = app.login("john@example.com", &long).await;
    assert_422_at(&r, "password");
    // Never echoed back.
    assert!(!r.body.to_string().contains(&long[..200]));
}

async fn email_with_control_characters_is_422<B: Backend>() {
    let app = app::<B>().await;
    for email in [
        "john\u{0}@example.com",
        "john@example.com\r\nBcc: x@example.com",
        "jo\u{7}hn@example.com",
    ] {
        assert_422_at(&app.signup("john_doe", email, STRONG).await, "email");
    }
}

async fn email_with_look_alike_unicode_is_422<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(
        app.signup("john_doe", "john@example.com", STRONG).await.status,
        201
    );
    // Cyrillic о in the local part, and a Greek ο in the domain.
    assert_422_at(&app.signup("john2", "jоhn@example.com", STRONG).await, "email");
    assert_422_at(&app.signup("john3", "john@exampleο.com", STRONG).await, "email");
    // Fullwidth letters normalise to the registered address.
    assert_eq!(
        app.signup("john4", "ｊｏｈｎ@example.com", STRONG).await.status,
        409
    );
}

async fn no_client_input_gives_a_5xx<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let bodies = [
        "",
        "{}",
        "[]",
        "null",
        "{\"email\": null}",
        "{\"token\": 5, \"password\": []}",
        "{\"email\": \"\\u0000@x.com\", \"password\": \"\\ud800\"}",
        "\u{feff}{}",
        "{\"a\":",
        "💥",
        "{\"username\": \"a\", \"email\": \"a@b.co\", \"password\": \"\"}",
    ];
    for endpoint in authyy::Endpoint::ALL {
        for body in bodies {
            for bearer in [None, Some("x.y.z"), Some("")] {
                let r = app.raw(endpoint, Some(body), bearer).await;
                assert!(
                    r.status < 500,
                    "{endpoint:?} {body:?} gave {}: {:?}",
                    r.status,
                    r.body
                );
                let html_page = endpoint == Endpoint::Docs && r.status == 200;
                assert!(
                    r.body.is_object() || r.body.is_array() || html_page,
                    "{endpoint:?} {body:?}"
                );
            }
        }
    }
    // Refresh with duration in the future: fine as well.
    let _ = Duration::from_secs(1);
}

both_backends!(
    wrong_types_null_and_arrays_are_422,
    malformed_json_is_422_json_invalid,
    body_that_is_not_an_object_is_422,
    empty_body_is_422,
    body_over_64_kib_is_413,
    ten_thousand_character_password_is_422_before_hashing,
    email_with_control_characters_is_422,
    email_with_look_alike_unicode_is_422,
    no_client_input_gives_a_5xx,
);
