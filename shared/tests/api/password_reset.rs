//! Forgot and reset password: one answer for every address, single-use expiring tokens,
//! and a reset that ends every session.

use crate::helpers::*;

async fn forgot_password_answers_the_same_for_unknown_emails<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let known = app.forgot("john@example.com").await;
    let unknown = app.forgot("nobody@example.com").await;
    assert_eq!(known.status, 200);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(
        known.body["message"],
        "If that email exists, Password reset link has been sent."
    );
    assert!(app.mails_to("nobody@example.com").await.is_empty());
    assert_422_at(&app.forgot("not-an-email").await, "email");
}

async fn forgot_password_mails_a_link_built_from_configuration<B: Backend>() {
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
    let mails = app.reset_mails_to("john@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("https://app.example.com/reset#token="),
        "{}",
        mails[0]
    );
    assert!(!mails[0].contains("evil.example.net"));
    let token = token_in(&mails[0]).unwrap();
    assert!(token.len() >= 43, "256-bit token");
}

async fn reset_password_changes_the_password<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    let r = app.reset(&token, STRONG2).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Password successfully reset.");
    assert_eq!(app.login("john@example.com", STRONG).await.status, 401);
    assert_eq!(app.login("john@example.com", STRONG2).await.status, 200);
}

async fn reset_token_is_single_use<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    let r = app.reset(&token, "another fine password 9").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid or expired token.");
}

async fn reset_token_expires_after_30_minutes<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    app.clock.advance_secs(30 * 60);
    let r = app.reset(&token, STRONG2).await;
    assert_eq!(r.status, 400);
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
}

async fn newer_reset_request_supersedes_older_tokens<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let old = app.reset_token("john@example.com").await;
    let new = app.reset_token("john@example.com").await;
    assert_ne!(old, new);
    assert_eq!(app.reset(&old, STRONG2).await.status, 400);
    assert_eq!(app.reset(&new, STRONG2).await.status, 200);
}

async fn reset_ends_every_session_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.user("john_doe").await;
    let second = app.login("john_doe@example.com", STRONG).await;
    let token = app.reset_token("john_doe@example.com").await;
    app.clock.advance_ms(1);
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    assert_eq!(app.me(&access1).await.status, 401);
    assert_eq!(app.me(&access(&second)).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.refresh(&refresh(&second)).await.status, 401);
    // A login after the reset works.
    app.clock.advance_ms(1);
    let fresh = app.login("john_doe@example.com", STRONG2).await;
    assert_eq!(app.me(&access(&fresh)).await.status, 200);
}

async fn reset_with_unknown_token_is_400<B: Backend>() {
    let app = app::<B>().await;
    for token in ["", "nope", &"x".repeat(5000)] {
        let r = app.reset(token, STRONG2).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.detail(), "Invalid or expired token.");
    }
    assert_422_at(
        &app.post(Endpoint::ResetPassword, json!({"password": STRONG2}))
            .await,
        "token",
    );
}

async fn reset_with_weak_password_is_422_and_keeps_the_token<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    assert_422_at(&app.reset(&token, "password").await, "password");
    assert_422_at(&app.reset(&token, "John_Doe-Quartz-99").await, "password");
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
}

both_backends!(
    forgot_password_answers_the_same_for_unknown_emails,
    forgot_password_mails_a_link_built_from_configuration,
    reset_password_changes_the_password,
    reset_token_is_single_use,
    reset_token_expires_after_30_minutes,
    newer_reset_request_supersedes_older_tokens,
    reset_ends_every_session_at_once,
    reset_with_unknown_token_is_400,
    reset_with_weak_password_is_422_and_keeps_the_token,
);
