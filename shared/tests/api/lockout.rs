//! Login lockout as a weapon: failures count per (email, client network), so a stranger's
//! guesses back off the stranger's network, not the owner; a much higher cap per email from
//! every network bounds a guessing attack spread over many networks, and a device that logged in
//! before (its device token) is held back by nobody's failures but its own. (Racing guesses:
//! races.rs.)

use crate::helpers::*;

const ATTACKER: &str = "198.51.100.7";
const OWNER: &str = "203.0.113.9";

fn retry_after(r: &Resp) -> i64 {
    assert_eq!(r.status, 429, "{:?}", r.body);
    r.header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .unwrap()
}

async fn six_wrong_passwords_from_one_network_do_not_lock_out_the_owner_on_another<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let statuses: Vec<u16> = {
        let mut s = vec![];
        for _ in 0..6 {
            s.push(app.login_from(ATTACKER, "john@example.com", STRONG2).await.status);
        }
        s
    };
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let owner = app.login_from(OWNER, "john@example.com", STRONG).await;
    assert_eq!(owner.status, 200, "{:?}", owner.body);
    // The attacker's network still waits, even with the right password.
    let attacker = app.login_from(ATTACKER, "john@example.com", STRONG).await;
    assert!(retry_after(&attacker) >= 1);
}

async fn retry_after_equals_the_remaining_backoff<B: Backend>() {
    let app = B::app(with(|c| c.login_backoff_max = Duration::from_secs(4))).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let config = app.state.config.clone();
    for _ in 0..config.login_max_failures {
        assert_eq!(
            app.login_from(ATTACKER, "john@example.com", STRONG2).await.status,
            401
        );
    }
    // After the 5th failure 1 s, then 2, 4, and capped at 4: counted down by the clock.
    for failures in config.login_max_failures..config.login_max_failures + 4 {
        let backoff = config.login_backoff_secs(failures);
        for elapsed in 0..backoff {
            let r = app.login_from(ATTACKER, "john@example.com", STRONG).await;
            assert_eq!(
                retry_after(&r),
                backoff - elapsed,
                "after {failures} failures, {elapsed} s"
            );
            app.clock.advance_secs(1);
        }
        assert_eq!(
            app.login_from(ATTACKER, "john@example.com", STRONG2).await.status,
            401
        );
    }
    assert_eq!(config.login_backoff_secs(config.login_max_failures + 3), 4);
}

async fn the_account_wide_cap_holds_across_many_networks<B: Backend>() {
    let app = B::app(with(|c| c.login_account_max_failures = 12)).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let network = |i: u32| format!("198.51.{}.{}", 100 + i / 250, 1 + i % 250);
    // Two guesses from each of six networks: no network is near its own limit.
    for i in 0..12 {
        let r = app.login_from(&network(i / 2), "john@example.com", STRONG2).await;
        assert_eq!(r.status, 401, "guess {i}");
    }
    // Every network now waits, a fresh one too, and so (the price of the cap) does the owner.
    assert_eq!(
        retry_after(&app.login_from(&network(50), "john@example.com", STRONG2).await),
        1
    );
    assert_eq!(
        retry_after(&app.login_from(OWNER, "john@example.com", STRONG).await),
        1
    );
    // The account's own backoff doubles from there, whichever network guesses.
    app.clock.advance_secs(1);
    assert_eq!(
        app.login_from(&network(51), "john@example.com", STRONG2)
            .await
            .status,
        401
    );
    assert_eq!(
        retry_after(&app.login_from(&network(52), "john@example.com", STRONG2).await),
        2
    );
    app.clock.advance_secs(2);
    assert_eq!(
        app.login_from(OWNER, "john@example.com", STRONG).await.status,
        200
    );
}

async fn failure_records_expire_and_counting_starts_afresh<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    for _ in 0..5 {
        assert_eq!(
            app.login_from(ATTACKER, "john@example.com", STRONG2).await.status,
            401
        );
    }
    retry_after(&app.login_from(ATTACKER, "john@example.com", STRONG2).await);
    app.clock.advance_secs(app.state.config.login_rules().keep_secs);
    // Forgotten: five more failures before the first wait, as for a stranger never seen.
    for i in 0..5 {
        let r = app.login_from(ATTACKER, "john@example.com", STRONG2).await;
        assert_eq!(r.status, 401, "failure {i} after expiry");
    }
    assert_eq!(
        retry_after(&app.login_from(ATTACKER, "john@example.com", STRONG2).await),
        1
    );
}

async fn a_success_clears_only_its_own_networks_failures<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    for _ in 0..4 {
        assert_eq!(
            app.login_from(OWNER, "john@example.com", STRONG2).await.status,
            401
        );
        assert_eq!(
            app.login_from(ATTACKER, "john@example.com", STRONG2).await.status,
            401
        );
    }
    assert_eq!(
        app.login_from(OWNER, "john@example.com", STRONG).await.status,
        200
    );
    for _ in 0..4 {
        assert_eq!(
            app.login_from(OWNER, "john@example.com", STRONG2).await.status,
            401
        );
    }
    // The attacker's four still count: the fifth starts the wait.
    assert_eq!(
        app.login_from(ATTACKER, "john@example.com", STRONG2).await.status,
        401
    );
    assert_eq!(
        retry_after(&app.login_from(ATTACKER, "john@example.com", STRONG2).await),
        1
    );
}

async fn unknown_emails_back_off_exactly_like_known_ones<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let mut seen = vec![];
    for email in ["john@example.com", "ghost@example.com"] {
        let mut answers = vec![];
        for step in 0..9 {
            let r = app.login_from(ATTACKER, email, STRONG2).await;
            answers.push((r.status, r.header("retry-after").map(str::to_string), r.body));
            if step % 3 == 2 {
                app.clock.advance_secs(1);
            }
        }
        seen.push(answers);
        app.clock.advance_secs(3600);
    }
    assert_eq!(seen[0], seen[1]);
    assert!(seen[0].iter().any(|(status, _, _)| *status == 429));
}

/// `POST /auth/login` from `ip`, presenting `device` if given.
async fn login_with_device(app: &TestApp, ip: &str, email: &str, password: &str, device: &str) -> Resp {
    let body = json!({"email": email, "password": password, "device_token": device}).to_string();
    let req = event("POST", Endpoint::Login.path(), "", &[], Some(&body), ip);
    app.call(Endpoint::Login, req).await
}

fn device_token(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["device_token"]
        .as_str()
        .expect("login returns a device token")
        .to_string()
}

/// An app whose accounts lock after 6 failures from anywhere, with john_doe signed up.
async fn capped_app<B: Backend>() -> TestApp {
    let app = B::app(with(|c| c.login_account_max_failures = 6)).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    app
}

async fn a_device_that_logged_in_before_is_not_held_back_by_the_account_wide_lock<B: Backend>() {
    let app = capped_app::<B>().await;
    let first = app.login_from(OWNER, "john@example.com", STRONG).await;
    let device = device_token(&first);
    assert!(app
        .refresh(&refresh(&first))
        .await
        .body
        .get("device_token")
        .is_none());
    lock_account_from_everywhere(&app, "john@example.com").await;
    // Without its token the owner waits like everyone else; with it, from anywhere, not.
    retry_after(&app.login_from(OWNER, "john@example.com", STRONG).await);
    let r = login_with_device(&app, OWNER, "john@example.com", STRONG, &device).await;
    assert_eq!(device_token(&r), device, "a trusted device keeps its token");
    let r = login_with_device(&app, "192.0.2.77", "john@example.com", STRONG, &device).await;
    assert_eq!(r.status, 200);
}

async fn a_login_presenting_an_untrusted_device_token_gets_a_new_random_one<B: Backend>() {
    let app = capped_app::<B>().await;
    for presented in ["made-up", ""] {
        let r = login_with_device(&app, OWNER, "john@example.com", STRONG, presented).await;
        let issued = device_token(&r);
        assert_ne!(issued, presented, "a client cannot choose its device token");
        assert!(issued.len() >= 43, "256-bit: {issued}");
    }
}

async fn a_device_is_trusted_for_90_days_after_its_last_login<B: Backend>() {
    let app = capped_app::<B>().await;
    let device = device_token(&app.login_from(OWNER, "john@example.com", STRONG).await);
    // The last second of its 90 days: still trusted (and the login renews it).
    app.clock.advance_secs(90 * 24 * 3600 - 1);
    lock_account_from_everywhere(&app, "john@example.com").await;
    let r = login_with_device(&app, OWNER, "john@example.com", STRONG, &device).await;
    assert_eq!(device_token(&r), device);
    // 90 days after that login, it is a stranger again.
    app.clock.advance_secs(90 * 24 * 3600);
    lock_account_from_everywhere(&app, "john@example.com").await;
    let r = login_with_device(&app, OWNER, "john@example.com", STRONG, &device).await;
    assert!(retry_after(&r) >= 1, "{:?}", r.body);
}

async fn a_stolen_device_token_is_capped_by_its_own_counter<B: Backend>() {
    let app = capped_app::<B>().await;
    let device = device_token(&app.login_from(OWNER, "john@example.com", STRONG).await);
    for i in 0..5 {
        let ip = format!("198.51.100.{}", 10 + i);
        let r = login_with_device(&app, &ip, "john@example.com", STRONG2, &device).await;
        assert_eq!(r.status, 401, "guess {i}");
    }
    let r = login_with_device(&app, "192.0.2.77", "john@example.com", STRONG, &device).await;
    assert_eq!(retry_after(&r), 1);
    // Those guesses were the device's: the account and the owner's network are untouched.
    assert_eq!(
        app.login_from(OWNER, "john@example.com", STRONG).await.status,
        200
    );
}

async fn a_device_token_of_another_account_or_made_up_is_not_trusted<B: Backend>() {
    let app = capped_app::<B>().await;
    app.signup("alice", "alice@example.com", STRONG).await;
    let alices = device_token(&app.login_from(OWNER, "alice@example.com", STRONG).await);
    lock_account_from_everywhere(&app, "john@example.com").await;
    for device in [alices.as_str(), "made-up", ""] {
        let r = login_with_device(&app, OWNER, "john@example.com", STRONG, device).await;
        assert!(retry_after(&r) >= 1, "{device:?}");
    }
}

async fn a_password_reset_ends_the_trust_of_every_device<B: Backend>() {
    // Someone who once had the password (a compromise, an ex-sharer) keeps the device tokens
    // they collected; after the owner resets it, none of them skips the lock any more.
    let app = capped_app::<B>().await;
    let device = device_token(&app.login_from(OWNER, "john@example.com", STRONG).await);
    let token = app.reset_token("john@example.com").await;
    let new_password = "plum crayon orbit seventeen 9";
    assert_eq!(app.reset(&token, new_password).await.status, 200);
    lock_account_from_everywhere(&app, "john@example.com").await;
    let r = login_with_device(&app, OWNER, "john@example.com", new_password, &device).await;
    assert!(retry_after(&r) >= 1, "{:?}", r.body);
}

both_backends!(
    a_password_reset_ends_the_trust_of_every_device,
    a_device_that_logged_in_before_is_not_held_back_by_the_account_wide_lock,
    a_device_is_trusted_for_90_days_after_its_last_login,
    a_login_presenting_an_untrusted_device_token_gets_a_new_random_one,
    a_stolen_device_token_is_capped_by_its_own_counter,
    a_device_token_of_another_account_or_made_up_is_not_trusted,
    six_wrong_passwords_from_one_network_do_not_lock_out_the_owner_on_another,
    retry_after_equals_the_remaining_backoff,
    the_account_wide_cap_holds_across_many_networks,
    failure_records_expire_and_counting_starts_afresh,
    a_success_clears_only_its_own_networks_failures,
    unknown_emails_back_off_exactly_like_known_ones,
);
