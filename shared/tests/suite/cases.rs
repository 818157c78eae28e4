//! One case per rule of DESIGN §3 and §4, named for the rule.

use std::time::Duration;

use authyy::config::{Config, Limit};
use authyy::keys::{random_key, KeySet};
use authyy::tokens::{self, Claims, TokenUse};
use authyy::Endpoint;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{access, event, refresh, test_config, Backend, TestApp, STRONG, STRONG2};

async fn app<B: Backend>() -> TestApp {
    B::app(test_config()).await
}

fn assert_422_at(r: &super::Resp, field: &str) {
    assert_eq!(r.status, 422, "{:?}", r.body);
    let errors = r.body["detail"].as_array().expect("a FastAPI error list");
    assert!(
        errors
            .iter()
            .any(|e| e["loc"] == json!(["body", field]) && e["msg"].is_string() && e["type"].is_string()),
        "no error at body.{field}: {:?}",
        r.body
    );
}

// ---------------------------------------------------------------- signup

pub async fn signup_returns_201_with_integer_id_and_rfc3339_time<B: Backend>() {
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

pub async fn signup_ids_are_sequential_integers<B: Backend>() {
    let app = app::<B>().await;
    let a = app.signup("first", "first@example.com", STRONG).await.body["id"]
        .as_u64()
        .unwrap();
    let b = app.signup("second", "second@example.com", STRONG).await.body["id"]
        .as_u64()
        .unwrap();
    assert_eq!(b, a + 1);
}

pub async fn signup_with_registered_email_is_409_whatever_its_case<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(
        app.signup("john_doe", "john@example.com", STRONG).await.status,
        201
    );
    let r = app.signup("other", "  JOHN@example.COM ", STRONG).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.detail(), "Email already registered");
}

pub async fn signup_with_taken_username_is_409_case_insensitively<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(
        app.signup("john_doe", "john@example.com", STRONG).await.status,
        201
    );
    let r = app.signup("John_Doe", "other@example.com", STRONG).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.detail(), "Username already taken");
}

pub async fn signup_with_weak_password_is_422_in_fastapi_shape<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "john@example.com", "short").await;
    assert_422_at(&r, "password");
    assert_eq!(r.body["detail"][0]["type"], "value_error");
    let r = app.signup("john_doe", "john@example.com", "abcdefghij").await;
    assert_422_at(&r, "password");
}

pub async fn signup_with_common_password_is_422<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "john@example.com", "password123").await;
    assert_422_at(&r, "password");
}

pub async fn signup_with_password_containing_username_is_422<B: Backend>() {
    let app = app::<B>().await;
    let r = app
        .signup("seagull", "john@example.com", "Seagull-flies-over-Quartz-9")
        .await;
    assert_422_at(&r, "password");
    assert!(r.body["detail"][0]["msg"].as_str().unwrap().contains("username"));
}

pub async fn signup_reports_every_missing_field<B: Backend>() {
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

pub async fn wrong_types_null_and_arrays_are_422<B: Backend>() {
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

pub async fn malformed_json_is_422_json_invalid<B: Backend>() {
    let app = app::<B>().await;
    for body in ["{", "{\"email\": }", "not json", "{\"a\":1}}"] {
        let r = app.raw(Endpoint::Login, Some(body), None).await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["type"], "json_invalid");
    }
}

pub async fn body_that_is_not_an_object_is_422<B: Backend>() {
    let app = app::<B>().await;
    for body in ["[]", "\"text\"", "null", "12"] {
        let r = app.raw(Endpoint::Signup, Some(body), None).await;
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.body["detail"][0]["type"], "model_attributes_type");
    }
}

pub async fn empty_body_is_422<B: Backend>() {
    let app = app::<B>().await;
    let r = app.raw(Endpoint::ForgotPassword, None, None).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body"]));
}

pub async fn body_over_64_kib_is_413<B: Backend>() {
    let app = app::<B>().await;
    let huge = json!({"email": "a@example.com", "password": "x".repeat(2 * 1024 * 1024)}).to_string();
    let r = app.raw(Endpoint::Login, Some(&huge), None).await;
    assert_eq!(r.status, 413);
    assert!(r.detail().contains("64 KiB"));
}

pub async fn ten_thousand_character_password_is_422_before_hashing<B: Backend>() {
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

pub async fn email_with_control_characters_is_422<B: Backend>() {
    let app = app::<B>().await;
    for email in [
        "john\u{0}@example.com",
        "john@example.com\r\nBcc: x@example.com",
        "jo\u{7}hn@example.com",
    ] {
        assert_422_at(&app.signup("john_doe", email, STRONG).await, "email");
    }
}

pub async fn email_with_look_alike_unicode_is_422<B: Backend>() {
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

// ---------------------------------------------------------------- login

pub async fn login_returns_the_token_envelope_with_no_store<B: Backend>() {
    let app = app::<B>().await;
    let id = app.signup("john_doe", "john@example.com", STRONG).await.body["id"]
        .as_u64()
        .unwrap();
    let r = app.login("john@example.com", STRONG).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = &r.body["tokens"];
    assert_eq!(t["access"]["token_type"], "bearer");
    assert!(t["access"]["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(t["refresh"]["jti"].is_string());
    assert!(t["refresh"]["expiry"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        r.body["user"],
        json!({"id": id, "username": "john_doe", "email": "john@example.com"})
    );
    let header = jsonwebtoken::decode_header(&access(&r)).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert!(header.kid.is_some());
}

pub async fn login_with_wrong_password_is_401_with_www_authenticate<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let r = app.login("john@example.com", STRONG2).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Invalid email or password");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

pub async fn login_with_unknown_email_is_the_same_401<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let wrong = app.login("john@example.com", STRONG2).await;
    let unknown = app.login("nobody@example.com", STRONG2).await;
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(
        wrong.header("www-authenticate"),
        unknown.header("www-authenticate")
    );
}

pub async fn login_email_is_case_insensitive<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    assert_eq!(app.login(" JOHN@Example.com", STRONG).await.status, 200);
}

pub async fn login_backs_off_after_five_failures_with_retry_after<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    for _ in 0..5 {
        assert_eq!(app.login("john@example.com", STRONG2).await.status, 401);
    }
    // Even the right password waits now.
    let r = app.login("john@example.com", STRONG).await;
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
}

pub async fn login_backoff_also_applies_to_unknown_emails<B: Backend>() {
    let app = app::<B>().await;
    for _ in 0..5 {
        assert_eq!(app.login("ghost@example.com", STRONG2).await.status, 401);
    }
    assert_eq!(app.login("ghost@example.com", STRONG2).await.status, 429);
}

pub async fn login_backoff_lifts_after_retry_after<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    for _ in 0..5 {
        assert_eq!(app.login("john@example.com", STRONG2).await.status, 401);
    }
    app.clock.advance_secs(1);
    assert_eq!(app.login("john@example.com", STRONG2).await.status, 401);
    let r = app.login("john@example.com", STRONG).await;
    assert_eq!(r.status, 429);
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    app.clock.advance_secs(retry);
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
}

pub async fn successful_login_clears_the_failure_count<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    for _ in 0..4 {
        app.login("john@example.com", STRONG2).await;
    }
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
    for _ in 0..4 {
        assert_eq!(app.login("john@example.com", STRONG2).await.status, 401);
    }
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
}

fn with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = test_config();
    f(&mut c);
    c
}

pub async fn per_ip_limit_on_login_gives_429<B: Backend>() {
    let app = B::app(with(|c| {
        c.login_limit = Limit {
            max: 3,
            window_secs: 60,
        }
    }))
    .await;
    for i in 0..3 {
        assert_eq!(app.login(&format!("u{i}@example.com"), STRONG).await.status, 401);
    }
    let r = app.login("u9@example.com", STRONG).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() <= 60);
    // Another client is not affected.
    let other = event(
        "POST",
        "/auth/login",
        "",
        &[],
        Some(&json!({"email": "u9@example.com", "password": STRONG}).to_string()),
        "198.51.100.7",
    );
    assert_eq!(app.call(Endpoint::Login, other).await.status, 401);
}

pub async fn ip_limits_off_keeps_the_account_backoff<B: Backend>() {
    let app = B::app(with(|c| {
        c.login_limit = Limit {
            max: 2,
            window_secs: 60,
        };
        c.ip_limits_enabled = false;
    }))
    .await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    for i in 0..5 {
        assert_eq!(app.login(&format!("u{i}@example.com"), STRONG).await.status, 401);
    }
    for _ in 0..5 {
        assert_eq!(app.login("john@example.com", STRONG2).await.status, 401);
    }
    assert_eq!(app.login("john@example.com", STRONG).await.status, 429);
}

pub async fn per_ip_limit_on_signup_gives_429<B: Backend>() {
    let app = B::app(with(|c| {
        c.signup_limit = Limit {
            max: 2,
            window_secs: 3600,
        }
    }))
    .await;
    assert_eq!(app.signup("user_a", "a@example.com", STRONG).await.status, 201);
    assert_eq!(app.signup("user_b", "b@example.com", STRONG).await.status, 201);
    let r = app.signup("user_c", "c@example.com", STRONG).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
}

pub async fn per_ip_limit_on_forgot_password_gives_429<B: Backend>() {
    let app = B::app(with(|c| {
        c.forgot_limit = Limit {
            max: 2,
            window_secs: 900,
        }
    }))
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.post(Endpoint::ForgotPassword, json!({"email": "a@example.com"}))
                .await
                .status,
            200
        );
    }
    let r = app
        .post(Endpoint::ForgotPassword, json!({"email": "a@example.com"}))
        .await;
    assert_eq!(r.status, 429);
    app.clock.advance_secs(900);
    assert_eq!(
        app.post(Endpoint::ForgotPassword, json!({"email": "a@example.com"}))
            .await
            .status,
        200
    );
}

// ---------------------------------------------------------------- me

pub async fn me_returns_the_current_user<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("john_doe").await;
    let r = app.get(Endpoint::Me, &access).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["email"], "john_doe@example.com");
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
}

pub async fn me_without_token_is_401_not_authenticated<B: Backend>() {
    let app = app::<B>().await;
    let r = app.raw(Endpoint::Me, None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Not authenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let basic = event(
        "GET",
        "/auth/me",
        "",
        &[("authorization", "Basic dXNlcjpwYXNz")],
        None,
        "192.0.2.1",
    );
    assert_eq!(app.call(Endpoint::Me, basic).await.status, 401);
}

pub async fn me_with_refresh_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh, _) = app.user("john_doe").await;
    assert_eq!(app.get(Endpoint::Me, &refresh).await.status, 401);
}

pub async fn me_with_expired_access_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    app.clock.advance_secs(15 * 60);
    let r = app.get(Endpoint::Me, &access).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Not authenticated");
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

pub async fn me_with_alg_none_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let payload = access.split('.').nth(1).unwrap();
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    for alg in ["none", "None", "HS512", "RS256"] {
        let forged = format!(
            "{}.{payload}.",
            b64(&json!({"alg": alg, "typ": "JWT", "kid": kid}))
        );
        assert_eq!(app.get(Endpoint::Me, &forged).await.status, 401, "{alg}");
    }
}

pub async fn me_with_token_signed_by_another_key_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let claims: Claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    let attacker = KeySet::single(kid, random_key()).unwrap();
    let mut elevated = claims.clone();
    elevated.sub = "1".into();
    let forged = tokens::sign(&attacker, &elevated).unwrap();
    assert_eq!(app.get(Endpoint::Me, &forged).await.status, 401);
    // A token with the payload changed but the signature kept.
    let parts: Vec<&str> = access.split('.').collect();
    let mut tampered = claims;
    tampered.exp += 3600;
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_value(&tampered).unwrap()),
        parts[2]
    );
    assert_eq!(app.get(Endpoint::Me, &spliced).await.status, 401);
}

pub async fn me_with_garbage_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let long = "a".repeat(100_000);
    for t in ["x", "a.b.c", "....", "Bearer", "é.é.é", long.as_str()] {
        assert_eq!(
            app.get(Endpoint::Me, t).await.status,
            401,
            "{}",
            &t[..t.len().min(20)]
        );
    }
}

// ---------------------------------------------------------------- list users

pub async fn list_users_needs_a_token<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(app.raw(Endpoint::ListUsers, None, None).await.status, 401);
}

pub async fn list_users_is_403_for_non_admins<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let r = app.get(Endpoint::ListUsers, &access).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.detail(), "Admin privileges required");
}

pub async fn list_users_pages_with_link_and_cursor<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    for i in 0..4 {
        app.signup(&format!("user{i}"), &format!("user{i}@example.com"), STRONG)
            .await;
    }
    let r = app.get(Endpoint::ListUsers, &access).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().unwrap().len(), 5);
    assert!(r.header("link").is_none());

    let mut seen = vec![];
    let mut query = "limit=2".to_string();
    loop {
        let r = app.get_query(Endpoint::ListUsers, &query, &access).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let page = r.body.as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|u| u["id"].as_u64().unwrap()));
        let Some(link) = r.header("link") else { break };
        assert!(link.ends_with("rel=\"next\""), "{link}");
        let url = &link[link.find('<').unwrap() + 1..link.find('>').unwrap()];
        query = url.split_once('?').unwrap().1.to_string();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "id order");
    assert_eq!(seen.len(), 5);
}

pub async fn list_users_link_keeps_the_stage_prefix<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    app.signup("other", "other@example.com", STRONG).await;
    let auth = format!("Bearer {access}");
    let req = event(
        "GET",
        "/prod/auth/users",
        "limit=1",
        &[("authorization", &auth)],
        None,
        "192.0.2.1",
    );
    let r = app.call(Endpoint::ListUsers, req).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("link")
        .unwrap()
        .starts_with("</prod/auth/users?limit=1&cursor="));
}

pub async fn list_users_with_bad_cursor_is_400<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    let r = app
        .get_query(Endpoint::ListUsers, "cursor=%%%garbage", &access)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid cursor");
}

pub async fn list_users_limit_out_of_range_is_422<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    for q in ["limit=0", "limit=201", "limit=abc", "limit=-1"] {
        assert_eq!(
            app.get_query(Endpoint::ListUsers, q, &access).await.status,
            422,
            "{q}"
        );
    }
    assert_eq!(
        app.get_query(Endpoint::ListUsers, "limit=200", &access)
            .await
            .status,
        200
    );
}

pub async fn demoted_admin_is_refused_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    assert_eq!(app.get(Endpoint::ListUsers, &access).await.status, 200);
    app.state
        .store
        .set_role(id, authyy::domain::Role::User)
        .await
        .unwrap();
    assert_eq!(app.get(Endpoint::ListUsers, &access).await.status, 403);
}

// ---------------------------------------------------------------- refresh

pub async fn refresh_rotates_the_pair<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let r = app.refresh(&refresh1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let refresh2 = refresh(&r);
    assert_ne!(refresh1, refresh2);
    assert_eq!(app.get(Endpoint::Me, &access(&r)).await.status, 200);
    assert_eq!(app.refresh(&refresh2).await.status, 200);
}

pub async fn refresh_with_access_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let r = app.refresh(&access).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Missing or invalid refresh token");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

pub async fn refresh_without_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let r = app.raw(Endpoint::Refresh, None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Missing or invalid refresh token");
}

pub async fn refresh_within_grace_returns_the_same_successor<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let first = app.refresh(&refresh1).await;
    app.clock.advance_secs(5);
    let second = app.refresh(&refresh1).await;
    assert_eq!(second.status, 200);
    assert_eq!(refresh(&first), refresh(&second));
    assert_eq!(
        first.body["tokens"]["refresh"]["jti"],
        second.body["tokens"]["refresh"]["jti"]
    );
}

pub async fn refresh_replay_after_grace_revokes_the_family<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let r = app.refresh(&refresh1).await;
    let (access2, refresh2) = (access(&r), refresh(&r));
    app.clock.advance_secs(11);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    // The whole family is gone: the successor and its access token too.
    assert_eq!(app.refresh(&refresh2).await.status, 401);
    assert_eq!(app.get(Endpoint::Me, &access2).await.status, 401);
}

pub async fn refresh_token_expires<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    app.clock.advance_secs(7 * 24 * 3600);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
}

pub async fn access_token_of_a_revoked_family_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let claims: Claims = {
        let keys = app.state.keys.keys().await.unwrap();
        tokens::verify(
            &keys,
            &app.state.config,
            &access1,
            TokenUse::Access,
            app.clock_now(),
        )
        .unwrap()
    };
    app.state.store.revoke_session(&claims.sid).await.unwrap();
    assert_eq!(app.get(Endpoint::Me, &access1).await.status, 401);
    // Other sessions live on.
    assert_eq!(app.get(Endpoint::Me, &access(&other)).await.status, 200);
}

pub async fn logout_ends_the_current_session_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let r = app.raw(Endpoint::Logout, None, Some(&access1)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Logged out.");
    assert_eq!(app.get(Endpoint::Me, &access1).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.raw(Endpoint::Logout, None, Some(&access1)).await.status, 401);
    // The user's other sessions live on.
    assert_eq!(app.get(Endpoint::Me, &access(&other)).await.status, 200);
    assert_eq!(app.refresh(&refresh(&other)).await.status, 200);
}

pub async fn logout_all_ends_every_session_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    app.make_admin(id).await;
    let other = app.login("john_doe@example.com", STRONG).await;
    app.clock.advance_ms(1);
    let r = app
        .raw(Endpoint::Logout, Some(r#"{"all": true}"#), Some(&access1))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Logged out of every session.");
    for a in [&access1, &access(&other)] {
        assert_eq!(app.get(Endpoint::Me, a).await.status, 401);
        assert_eq!(app.get(Endpoint::ListUsers, a).await.status, 401);
    }
    for t in [&refresh1, &refresh(&other)] {
        assert_eq!(app.refresh(t).await.status, 401);
    }
    // Logging in again works.
    app.clock.advance_ms(1);
    let fresh = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(app.get(Endpoint::Me, &access(&fresh)).await.status, 200);
}

pub async fn logout_needs_an_access_token<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    assert_eq!(app.raw(Endpoint::Logout, None, None).await.status, 401);
    let r = app.raw(Endpoint::Logout, None, Some(&refresh1)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Not authenticated");
}

pub async fn logout_with_a_non_boolean_all_is_422<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    let r = app
        .raw(Endpoint::Logout, Some(r#"{"all": "yes"}"#), Some(&access1))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "all"]));
    // Nothing was ended.
    assert_eq!(app.get(Endpoint::Me, &access1).await.status, 200);
}

pub async fn list_users_finds_one_user_by_exact_email<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let r = app
        .get_query(Endpoint::ListUsers, "email=JOHN%40example.com", &access1)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let found = r.body.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["username"], "john_doe");
    assert_eq!(found[0]["role"], "user");
    let r = app
        .get_query(Endpoint::ListUsers, "email=nobody%40example.com", &access1)
        .await;
    assert_eq!(r.body, json!([]));
    let r = app
        .get_query(Endpoint::ListUsers, "email=not-an-email", &access1)
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["query", "email"]));
}

// ---------------------------------------------------------------- forgot / reset

pub async fn forgot_password_answers_the_same_for_unknown_emails<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let known = app
        .post(Endpoint::ForgotPassword, json!({"email": "john@example.com"}))
        .await;
    let unknown = app
        .post(Endpoint::ForgotPassword, json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(known.status, 200);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(
        known.body["message"],
        "If that email exists, Password reset link has been sent."
    );
    assert!(app.inbox.mails_to("nobody@example.com").await.is_empty());
    assert_422_at(
        &app.post(Endpoint::ForgotPassword, json!({"email": "not-an-email"}))
            .await,
        "email",
    );
}

pub async fn forgot_password_mails_a_link_built_from_configuration<B: Backend>() {
    let app = B::app(with(|c| c.reset_url = "https://app.example.com/reset".into())).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    // A forged Host header has no effect on the link.
    let req = event(
        "POST",
        "/auth/forgot-password",
        "",
        &[
            ("host", "evil.example.net"),
            ("x-forwarded-host", "evil.example.net"),
        ],
        Some(r#"{"email": "john@example.com"}"#),
        "192.0.2.1",
    );
    assert_eq!(app.call(Endpoint::ForgotPassword, req).await.status, 200);
    let mails = app.inbox.mails_to("john@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("https://app.example.com/reset?token="),
        "{}",
        mails[0]
    );
    assert!(!mails[0].contains("evil.example.net"));
    let token = super::token_in(&mails[0]).unwrap();
    assert!(token.len() >= 43, "256-bit token");
}

pub async fn reset_password_changes_the_password<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    let r = app
        .post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": STRONG2}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Password successfully reset.");
    assert_eq!(app.login("john@example.com", STRONG).await.status, 401);
    assert_eq!(app.login("john@example.com", STRONG2).await.status, 200);
}

pub async fn reset_token_is_single_use<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    assert_eq!(
        app.post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": STRONG2})
        )
        .await
        .status,
        200
    );
    let r = app
        .post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": "another fine password 9"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid or expired token.");
}

pub async fn reset_token_expires_after_30_minutes<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    app.clock.advance_secs(30 * 60);
    let r = app
        .post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": STRONG2}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
}

pub async fn newer_reset_request_supersedes_older_tokens<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let old = app.reset_token("john@example.com").await;
    let new = app.reset_token("john@example.com").await;
    assert_ne!(old, new);
    assert_eq!(
        app.post(
            Endpoint::ResetPassword,
            json!({"token": old, "password": STRONG2})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        app.post(
            Endpoint::ResetPassword,
            json!({"token": new, "password": STRONG2})
        )
        .await
        .status,
        200
    );
}

pub async fn reset_ends_every_session_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.user("john_doe").await;
    let second = app.login("john_doe@example.com", STRONG).await;
    let token = app.reset_token("john_doe@example.com").await;
    app.clock.advance_ms(1);
    assert_eq!(
        app.post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": STRONG2})
        )
        .await
        .status,
        200
    );
    assert_eq!(app.get(Endpoint::Me, &access1).await.status, 401);
    assert_eq!(app.get(Endpoint::Me, &access(&second)).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.refresh(&refresh(&second)).await.status, 401);
    // A login after the reset works.
    app.clock.advance_ms(1);
    let fresh = app.login("john_doe@example.com", STRONG2).await;
    assert_eq!(app.get(Endpoint::Me, &access(&fresh)).await.status, 200);
}

pub async fn reset_with_unknown_token_is_400<B: Backend>() {
    let app = app::<B>().await;
    for token in ["", "nope", &"x".repeat(5000)] {
        let r = app
            .post(
                Endpoint::ResetPassword,
                json!({"token": token, "password": STRONG2}),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.detail(), "Invalid or expired token.");
    }
    assert_422_at(
        &app.post(Endpoint::ResetPassword, json!({"password": STRONG2}))
            .await,
        "token",
    );
}

pub async fn reset_with_weak_password_is_422_and_keeps_the_token<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    assert_422_at(
        &app.post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": "password"}),
        )
        .await,
        "password",
    );
    assert_422_at(
        &app.post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": "John_Doe-Quartz-99"}),
        )
        .await,
        "password",
    );
    assert_eq!(
        app.post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": STRONG2})
        )
        .await
        .status,
        200
    );
}

pub async fn disabled_user_cannot_log_in_or_refresh<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    app.clock.advance_ms(1);
    assert!(app
        .state
        .store
        .set_disabled(id, true, app.state.clock.now_ms())
        .await
        .unwrap());
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.get(Endpoint::Me, &access1).await.status, 401);
    assert!(app
        .state
        .store
        .set_disabled(id, false, app.state.clock.now_ms())
        .await
        .unwrap());
    app.clock.advance_ms(1);
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 200);
}

// ---------------------------------------------------------------- races

pub async fn twenty_concurrent_signups_with_one_email_give_one_201<B: Backend>() {
    let app = std::sync::Arc::new(B::app(with(|c| c.ip_limits_enabled = false)).await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.signup(&format!("racer{i}"), "race@example.com", STRONG)
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
}

pub async fn ten_concurrent_refreshes_of_one_token_give_one_successor<B: Backend>() {
    let app = std::sync::Arc::new(app::<B>().await);
    let (_, refresh1, _) = app.user("john_doe").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, token) = (app.clone(), refresh1.clone());
            tokio::spawn(async move {
                let r = app.refresh(&token).await;
                (
                    r.status,
                    r.body["tokens"]["refresh"]["jti"].as_str().map(str::to_string),
                )
            })
        })
        .collect();
    let mut successors = std::collections::HashSet::new();
    for t in tasks {
        let (status, jti) = t.await.unwrap();
        assert!(status == 200 || status == 401, "{status}");
        if let Some(jti) = jti {
            successors.insert(jti);
        }
    }
    assert_eq!(successors.len(), 1, "{successors:?}");
}

pub async fn ten_concurrent_resets_with_one_token_succeed_once<B: Backend>() {
    let app = std::sync::Arc::new(app::<B>().await);
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let password = format!("{STRONG2} racer {i}");
                let r = app
                    .post(
                        Endpoint::ResetPassword,
                        json!({"token": token, "password": password}),
                    )
                    .await;
                (r.status, password)
            })
        })
        .collect();
    let mut winners = vec![];
    for t in tasks {
        let (status, password) = t.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        if status == 200 {
            winners.push(password);
        }
    }
    assert_eq!(winners.len(), 1);
    let r = app.login("john@example.com", &winners[0]).await;
    assert_eq!(
        r.status, 200,
        "the winner's password is the one set: {:?}",
        r.body
    );
}

// ---------------------------------------------------------------- HTTP

pub async fn wrong_method_is_405_json<B: Backend>() {
    let app = app::<B>().await;
    let req = event("DELETE", "/auth/me", "", &[], None, "192.0.2.1");
    let r = app.call(Endpoint::Me, req).await;
    assert_eq!(r.status, 405);
    assert!(r.detail().contains("Method Not Allowed"));
}

pub async fn unknown_path_is_404_json<B: Backend>() {
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

pub async fn cors_headers_only_for_configured_origins<B: Backend>() {
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

pub async fn preflight_is_answered_for_configured_origins<B: Backend>() {
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

pub async fn no_client_input_gives_a_5xx<B: Backend>() {
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
