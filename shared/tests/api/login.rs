//! Login: the token envelope, one answer for unknown emails and wrong passwords, the
//! failure backoff, and disabled accounts.

use crate::helpers::*;
use authyy::domain::Email;
use authyy::store::{LoginAttempt, LoginStart, VerifiedLogin};

async fn login_returns_the_token_envelope_with_no_store<B: Backend>() {
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
        json!({"id": id, "username": "john_doe", "email": "john@example.com", "email_verified": false})
    );
    let header = jsonwebtoken::decode_header(&access(&r)).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert!(header.kid.is_some());
    let refresh_header = jsonwebtoken::decode_header(&refresh(&r)).unwrap();
    assert_eq!(refresh_header.alg, jsonwebtoken::Algorithm::HS256);
}

async fn login_with_wrong_password_is_401_with_www_authenticate<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let r = app.login("john@example.com", STRONG2).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Invalid email or password");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

async fn login_with_unknown_email_is_the_same_401<B: Backend>() {
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

async fn login_email_is_case_insensitive<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    assert_eq!(app.login(" JOHN@Example.com", STRONG).await.status, 200);
}

async fn login_backs_off_after_five_failures_with_retry_after<B: Backend>() {
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

async fn login_backoff_also_applies_to_unknown_emails<B: Backend>() {
    let app = app::<B>().await;
    for _ in 0..5 {
        assert_eq!(app.login("ghost@example.com", STRONG2).await.status, 401);
    }
    assert_eq!(app.login("ghost@example.com", STRONG2).await.status, 429);
}

async fn login_backoff_lifts_after_retry_after<B: Backend>() {
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

async fn successful_login_clears_the_failure_count<B: Backend>() {
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

async fn disabled_user_cannot_log_in_or_refresh<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    app.clock.advance_ms(1);
    assert!(app
        .state
        .users
        .set_disabled(id, true, app.state.clock.now_ms())
        .await
        .unwrap());
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.me(&access1).await.status, 401);
    assert!(app
        .state
        .users
        .set_disabled(id, false, app.state.clock.now_ms())
        .await
        .unwrap());
    app.clock.advance_ms(1);
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 200);
}

/// The stored credentials of `email`, read as a login from 192.0.2.1 reads them.
async fn stored_credentials(app: &TestApp, email: &str) -> (authyy::store::Credentials, Email) {
    let email = Email::parse(email).unwrap();
    let attempt = LoginAttempt {
        email: &email,
        network: "192.0.2.1",
        device: None,
        now: app.state.clock.now(),
    };
    let rules = app.state.config.login_rules();
    match app.state.sessions.begin_login(&attempt, &rules).await.unwrap() {
        LoginStart::Reserved {
            credentials: Some(credentials),
            ..
        } => (credentials, email.clone()),
        other => panic!("{other:?}"),
    }
}

async fn login_rehashes_a_hash_of_older_parameters<B: Backend>() {
    let mut app = app::<B>().await;
    let cost = app.state.config.hash_cost;
    let older = authyy::config::HashCost {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
    };
    app.state.hasher = authyy::hashing::Hasher::new(older).unwrap();
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.state.hasher = authyy::hashing::Hasher::new(cost).unwrap();
    let (before, _) = stored_credentials(&app, "john@example.com").await;
    assert!(app.state.hasher.needs_rehash(&before.password_hash));
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
    let (after, _) = stored_credentials(&app, "john@example.com").await;
    assert!(!app.state.hasher.needs_rehash(&after.password_hash));
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
}

/// Argon2 parameters cheaper than the configured ones: a hash made with them is re-hashed at
/// the next login.
fn older_cost() -> authyy::config::HashCost {
    authyy::config::HashCost {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
    }
}

async fn a_login_that_rehashes_completes_its_second_step<B: Backend>() {
    let mut app = app::<B>().await;
    let cost = app.state.config.hash_cost;
    app.state.hasher = authyy::hashing::Hasher::new(older_cost()).unwrap();
    let enrolled = app.enrolled("john_doe").await;
    app.state.hasher = authyy::hashing::Hasher::new(cost).unwrap();
    // The re-hash is written before the second step begins, which is bound to the new hash.
    let r = app.login_with_code(&enrolled.email, &enrolled.secret).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (after, _) = stored_credentials(&app, &enrolled.email).await;
    assert!(!app.state.hasher.needs_rehash(&after.password_hash));
}

async fn a_login_that_rehashes_keeps_its_device_trusted<B: Backend>() {
    let mut app = app::<B>().await;
    let cost = app.state.config.hash_cost;
    app.state.hasher = authyy::hashing::Hasher::new(older_cost()).unwrap();
    app.signup("john_doe", "john@example.com", STRONG).await;
    let first = app.login("john@example.com", STRONG).await;
    let device = first.body["device_token"].as_str().unwrap().to_string();
    app.state.hasher = authyy::hashing::Hasher::new(cost).unwrap();
    // This login re-hashes: the device it presents stays trusted with the new hash, as the
    // device token it answers says (a device no longer trusted is given a new one).
    let body = json!({"email": "john@example.com", "password": STRONG, "device_token": device});
    let rehashed = app.post(Endpoint::Login, body.clone()).await;
    assert_eq!(rehashed.status, 200, "{:?}", rehashed.body);
    assert_eq!(rehashed.body["device_token"], device.as_str());
    let again = app.post(Endpoint::Login, body).await;
    assert_eq!(again.body["device_token"], device.as_str(), "still trusted");
}

async fn a_password_changed_while_verifying_starts_no_session<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let (verified, email) = stored_credentials(&app, "john@example.com").await;
    // The password is reset between the read and the start of the session.
    let token = app.reset_token("john@example.com").await;
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    let session = app.state.tokens.new_session(
        verified.user_id,
        Default::default(),
        authyy::domain::Authentication::password(0),
    );
    let first = app.state.tokens.new_refresh_token(&session);
    let attempt = LoginAttempt {
        email: &email,
        network: "192.0.2.1",
        device: None,
        now: app.state.clock.now(),
    };
    let login = VerifiedLogin {
        attempt: &attempt,
        verified_hash: &verified.password_hash,
        trusted_device: false,
        device: "a-device",
        device_expires_at: attempt.now + 3600,
    };
    let started = app
        .state
        .sessions
        .start_session(&login, &session, &first)
        .await
        .unwrap();
    assert!(
        !started,
        "a session started with a password that is no longer the account's"
    );
    assert_eq!(app.login("john@example.com", STRONG2).await.status, 200);
}

both_backends!(
    login_rehashes_a_hash_of_older_parameters,
    a_login_that_rehashes_completes_its_second_step,
    a_login_that_rehashes_keeps_its_device_trusted,
    a_password_changed_while_verifying_starts_no_session,
    login_returns_the_token_envelope_with_no_store,
    login_with_wrong_password_is_401_with_www_authenticate,
    login_with_unknown_email_is_the_same_401,
    login_email_is_case_insensitive,
    login_backs_off_after_five_failures_with_retry_after,
    login_backoff_also_applies_to_unknown_emails,
    login_backoff_lifts_after_retry_after,
    successful_login_clears_the_failure_count,
    disabled_user_cannot_log_in_or_refresh,
);
