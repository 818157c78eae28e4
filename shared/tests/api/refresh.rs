//! Refresh: rotation, the grace window for concurrent refreshes, and replay detection.

use crate::helpers::*;

async fn refresh_rotates_the_pair<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let r = app.refresh(&refresh1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let refresh2 = refresh(&r);
    assert_ne!(refresh1, refresh2);
    assert_eq!(app.me(&access(&r)).await.status, 200);
    assert_eq!(app.refresh(&refresh2).await.status, 200);
}

async fn refresh_with_access_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let r = app.refresh(&access).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Missing or invalid refresh token");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

async fn refresh_without_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let r = app.raw(Endpoint::Refresh, None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Missing or invalid refresh token");
}

async fn refresh_within_grace_returns_the_same_successor<B: Backend>() {
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

async fn refresh_replay_after_grace_revokes_the_family<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let r = app.refresh(&refresh1).await;
    let (access2, refresh2) = (access(&r), refresh(&r));
    app.clock.advance_secs(11);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    // The whole family is gone: the successor and its access token too.
    assert_eq!(app.refresh(&refresh2).await.status, 401);
    assert_eq!(app.me(&access2).await.status, 401);
}

async fn refresh_token_expires<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    app.clock.advance_secs(7 * 24 * 3600);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
}

both_backends!(
    refresh_rotates_the_pair,
    refresh_with_access_token_is_401,
    refresh_without_token_is_401,
    refresh_within_grace_returns_the_same_successor,
    refresh_replay_after_grace_revokes_the_family,
    refresh_token_expires,
);
