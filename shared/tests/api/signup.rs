//! Signup: `POST /auth/users`, its uniqueness rules and the password policy.

use crate::helpers::*;

async fn signup_returns_201_with_integer_id_and_rfc3339_time<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "John@Example.com", STRONG).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body["id"].is_u64());
    assert_eq!(r.body["username"], "john_doe");
    assert_eq!(r.body["email"], "john@example.com");
    let created = r.body["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    assert!(r.body.get("password").is_none() && r.body.get("password_hash").is_none());
}

async fn signup_ids_are_sequential_integers<B: Backend>() {
    let app = app::<B>().await;
    let a = app.signup("first", "first@example.com", STRONG).await.body["id"]
        .as_u64()
        .unwrap();
    let b = app.signup("second", "second@example.com", STRONG).await.body["id"]
        .as_u64()
        .unwrap();
    assert_eq!(b, a + 1);
}

async fn signup_with_registered_email_is_409_whatever_its_case<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(
        app.signup("john_doe", "john@example.com", STRONG).await.status,
        201
    );
    let r = app.signup("other", "  JOHN@example.COM ", STRONG).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.detail(), "Email already registered");
}

async fn signup_with_taken_username_is_409_case_insensitively<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(
        app.signup("john_doe", "john@example.com", STRONG).await.status,
        201
    );
    let r = app.signup("John_Doe", "other@example.com", STRONG).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.detail(), "Username already taken");
}

async fn signup_with_weak_password_is_422_in_fastapi_shape<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "john@example.com", "short").await;
    assert_422_at(&r, "password");
    assert_eq!(r.body["detail"][0]["type"], "value_error");
    let r = app.signup("john_doe", "john@example.com", "abcdefghij").await;
    assert_422_at(&r, "password");
}

async fn signup_with_common_password_is_422<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "john@example.com", "password123").await;
    assert_422_at(&r, "password");
}

async fn signup_with_password_containing_username_is_422<B: Backend>() {
    let app = app::<B>().await;
    let r = app
        .signup("seagull", "john@example.com", "Seagull-flies-over-Quartz-9")
        .await;
    assert_422_at(&r, "password");
    assert!(r.body["detail"][0]["msg"].as_str().unwrap().contains("username"));
}

async fn signup_reports_every_missing_field<B: Backend>() {
    let app = app::<B>().await;
    let r = app.post(Endpoint::Signup, json!({})).await;
    assert_eq!(r.status, 422);
    for field in ["username", "email", "password"] {
        assert_422_at(&r, field);
    }
    assert!(r.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"] == "missing"));
}

async fn signup_with_a_quoted_xss_local_part_is_422<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let r = app
        .signup("mallory", r#""<img src=x onerror=alert(1)>"@example.com"#, STRONG)
        .await;
    assert_422_at(&r, "email");
    let email_error = r.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["loc"] == json!(["body", "email"]))
        .unwrap();
    assert!(
        email_error["msg"]
            .as_str()
            .unwrap()
            .contains("quoted local parts and comments are not accepted"),
        "{email_error}"
    );
    // Not stored, and nothing echoed back.
    assert!(!r.body.to_string().contains("<img"));
    assert_eq!(app.login("mallory@example.com", STRONG).await.status, 401);
}

async fn signup_with_quoted_forms_comments_or_address_literals_is_422<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    for (i, email) in [
        r#""john"@example.com"#,
        r#""john doe"@example.com"#,
        r#""john@doe"@example.com"#,
        r#"john."doe"@example.com"#,
        "(comment)john@example.com",
        "john(comment)@example.com",
        "john@(comment)example.com",
        "john@[192.0.2.1]",
        "john@[IPv6:2001:db8::1]",
        ".john@example.com",
        "jo..hn@example.com",
    ]
    .iter()
    .enumerate()
    {
        let r = app.signup(&format!("user_{i}"), email, STRONG).await;
        assert_422_at(&r, "email");
    }
}

async fn ordinary_addresses_still_sign_up<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    for (i, email) in [
        "jane.doe@example.com",
        "jane+newsletter@example.com",
        "jane-doe@mail.example.co.uk",
        "j.a_n-e+x@sub-domain.example.com",
        "o'brien@example.com",
    ]
    .iter()
    .enumerate()
    {
        let r = app.signup(&format!("user_{i}"), email, STRONG).await;
        assert_eq!(r.status, 201, "{email}: {:?}", r.body);
        assert_eq!(r.body["email"], *email);
    }
}

both_backends!(
    signup_with_a_quoted_xss_local_part_is_422,
    signup_with_quoted_forms_comments_or_address_literals_is_422,
    ordinary_addresses_still_sign_up,
    signup_returns_201_with_integer_id_and_rfc3339_time,
    signup_ids_are_sequential_integers,
    signup_with_registered_email_is_409_whatever_its_case,
    signup_with_taken_username_is_409_case_insensitively,
    signup_with_weak_password_is_422_in_fastapi_shape,
    signup_with_common_password_is_422,
    signup_with_password_containing_username_is_422,
    signup_reports_every_missing_field,
);
