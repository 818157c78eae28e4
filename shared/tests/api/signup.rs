//! Signup: `POST /auth/users` (DESIGN §3), its uniqueness rules and the password policy (§4).

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

both_backends!(
    signup_returns_201_with_integer_id_and_rfc3339_time,
    signup_ids_are_sequential_integers,
    signup_with_registered_email_is_409_whatever_its_case,
    signup_with_taken_username_is_409_case_insensitively,
    signup_with_weak_password_is_422_in_fastapi_shape,
    signup_with_common_password_is_422,
    signup_with_password_containing_username_is_422,
    signup_reports_every_missing_field,
);
