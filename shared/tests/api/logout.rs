//! Logout: one session or every session, ended at once.

use crate::helpers::*;

async fn logout_ends_the_current_session_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let r = app.logout(&access1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Logged out.");
    assert_eq!(app.me(&access1).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.logout(&access1).await.status, 401);
    // The user's other sessions live on.
    assert_eq!(app.me(&access(&other)).await.status, 200);
    assert_eq!(app.refresh(&refresh(&other)).await.status, 200);
}

async fn logout_all_ends_every_session_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    app.make_admin(id).await;
    let other = app.login("john_doe@example.com", STRONG).await;
    app.clock.advance_ms(1);
    let r = app.logout_all(&access1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Logged out of every session.");
    for a in [&access1, &access(&other)] {
        assert_eq!(app.me(a).await.status, 401);
        assert_eq!(app.get(Endpoint::ListUsers, a).await.status, 401);
    }
    for t in [&refresh1, &refresh(&other)] {
        assert_eq!(app.refresh(t).await.status, 401);
    }
    // Logging in again works.
    app.clock.advance_ms(1);
    let fresh = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(app.me(&access(&fresh)).await.status, 200);
}

async fn logout_needs_an_access_token<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    assert_eq!(app.raw(Endpoint::Logout, None, None).await.status, 401);
    let r = app.logout(&refresh1).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Not authenticated");
}

async fn logout_with_a_non_boolean_all_is_422<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    let r = app
        .raw(Endpoint::Logout, Some(r#"{"all": "yes"}"#), Some(&access1))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "all"]));
    // Nothing was ended.
    assert_eq!(app.me(&access1).await.status, 200);
}

both_backends!(
    logout_ends_the_current_session_at_once,
    logout_all_ends_every_session_at_once,
    logout_needs_an_access_token,
    logout_with_a_non_boolean_all_is_422,
);
