//! Per-client limits on signup, login and forgot-password (429 with `Retry-After`).

use crate::helpers::*;

async fn per_ip_limit_on_login_gives_429<B: Backend>() {
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

async fn ip_limits_off_keeps_the_account_backoff<B: Backend>() {
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

async fn per_ip_limit_on_signup_gives_429<B: Backend>() {
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

async fn per_ip_limit_on_forgot_password_gives_429<B: Backend>() {
    let app = B::app(with(|c| {
        c.forgot_limit = Limit {
            max: 2,
            window_secs: 900,
        }
    }))
    .await;
    for _ in 0..2 {
        assert_eq!(app.forgot("a@example.com").await.status, 200);
    }
    let r = app.forgot("a@example.com").await;
    assert_eq!(r.status, 429);
    app.clock.advance_secs(900);
    assert_eq!(app.forgot("a@example.com").await.status, 200);
}

async fn a_clients_retry_after_is_the_time_left_in_its_window<B: Backend>() {
    let app = B::app(with(|c| {
        c.login_limit = Limit {
            max: 1,
            window_secs: 60,
        }
    }))
    .await;
    // 15 s into a window of 60: the next starts in 45.
    let now = app.clock.now();
    app.clock.advance_secs(15 - now.rem_euclid(60) + 60);
    assert_eq!(app.login("u1@example.com", STRONG).await.status, 401);
    let r = app.login("u2@example.com", STRONG).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("45"));
    app.clock.advance_secs(44);
    assert_eq!(
        app.login("u2@example.com", STRONG).await.header("retry-after"),
        Some("1")
    );
    app.clock.advance_secs(1);
    assert_eq!(app.login("u3@example.com", STRONG).await.status, 401);
}

both_backends!(
    a_clients_retry_after_is_the_time_left_in_its_window,
    per_ip_limit_on_login_gives_429,
    ip_limits_off_keeps_the_account_backoff,
    per_ip_limit_on_signup_gives_429,
    per_ip_limit_on_forgot_password_gives_429,
);
