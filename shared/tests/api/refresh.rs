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

async fn a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed<B: Backend>() {
    let app = app::<B>().await;
    let (_, mut token, _) = app.user("john_doe").await;
    // Refreshed every 6 days (inside the 7-day refresh lifetime) up to day 30.
    for day in (6..30).step_by(6) {
        app.clock.advance_secs(6 * 24 * 3600);
        let r = app.refresh(&token).await;
        assert_eq!(r.status, 200, "day {day}: {:?}", r.body);
        token = refresh(&r);
    }
    // Day 24 now; the last refresh token never outlives the session's 30 days.
    app.clock.advance_secs(6 * 24 * 3600 - 1);
    let last = app.refresh(&token).await;
    assert_eq!(last.status, 200, "the last second of day 30");
    app.clock.advance_secs(1);
    let r = app.refresh(&refresh(&last)).await;
    assert_eq!((r.status, r.detail()), (401, "Missing or invalid refresh token"));
    assert_eq!(app.me(&access(&last)).await.status, 401);
}

async fn the_grace_window_includes_its_last_millisecond<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let first = app.refresh(&refresh1).await;
    app.clock.advance_ms(10_000);
    let again = app.refresh(&refresh1).await;
    assert_eq!(again.status, 200);
    assert_eq!(refresh(&again), refresh(&first));
}

async fn a_replay_one_millisecond_after_the_grace_window_revokes_the_family<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    let first = app.refresh(&refresh1).await;
    app.clock.advance_ms(10_001);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.refresh(&refresh(&first)).await.status, 401);
}

/// The claims of `token` after `edit`, re-signed with the suite's refresh key: what an
/// attacker holding the key (or a bug that mixed claims up) could send.
fn forged(token: &str, edit: impl FnOnce(&mut authyy::tokens::Claims)) -> String {
    let mut claims = claims_of(token);
    edit(&mut claims);
    authyy::tokens::sign_refresh(&test_keys().hmac, &claims).unwrap()
}

async fn a_refresh_token_naming_another_session_than_its_record_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (_, a, _) = app.user("john_doe").await;
    let b = refresh(&app.login("john_doe@example.com", STRONG).await);
    let sid_b = claims_of(&b).sid;
    let mixed = forged(&a, |c| c.sid = sid_b);
    assert_eq!(app.refresh(&mixed).await.status, 401);
    // Neither genuine token was spent by it.
    assert_eq!(app.refresh(&a).await.status, 200);
    assert_eq!(app.refresh(&b).await.status, 200);
}

async fn a_refresh_token_naming_another_user_than_its_record_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (_, john, _) = app.user("john_doe").await;
    let (_, _, ann_id) = app.user("ann").await;
    let as_ann = forged(&john, |c| c.sub = ann_id.to_string());
    assert_eq!(app.refresh(&as_ann).await.status, 401);
    assert_eq!(app.refresh(&john).await.status, 200);
}

async fn a_refresh_token_whose_expiry_was_extended_past_its_record_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (_, token, _) = app.user("john_doe").await;
    let extended = forged(&token, |c| c.exp += 3 * 24 * 3600);
    app.clock.advance_secs(7 * 24 * 3600);
    assert_eq!(app.refresh(&extended).await.status, 401);
}

both_backends!(
    a_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed,
    the_grace_window_includes_its_last_millisecond,
    a_replay_one_millisecond_after_the_grace_window_revokes_the_family,
    a_refresh_token_naming_another_session_than_its_record_is_refused,
    a_refresh_token_naming_another_user_than_its_record_is_refused,
    a_refresh_token_whose_expiry_was_extended_past_its_record_is_refused,
    refresh_rotates_the_pair,
    refresh_with_access_token_is_401,
    refresh_without_token_is_401,
    refresh_within_grace_returns_the_same_successor,
    refresh_replay_after_grace_revokes_the_family,
    refresh_token_expires,
);
