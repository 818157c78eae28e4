//! DynamoDB throttling as it comes on a busy table: a transaction cancelled because one of its
//! items was throttled is a 503 that changes nothing (never mistaken for a refusal: a spent
//! token, a taken address), and a batch write that fails after an erasure leaves nothing
//! personal behind. Also the lifetime of the rate-limit records TTL deletes.

use std::sync::Arc;

use crate::aws_faults::{app_of, assert_unavailable, pair};
use crate::helpers::dynamo::Fixture;
use crate::helpers::faults::{dynamo_client, Faults};
use crate::helpers::{access, refresh, test_config, STRONG, STRONG2};
use authyy::clock::{Clock, ManualClock};
use authyy::store::dynamo::DynamoStore;
use aws_sdk_dynamodb::types::AttributeValue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_transaction_is_503_and_the_same_request_works_once_it_passes() {
    let p = pair().await;
    let (_, r1, _) = p.healthy.user("john_doe").await;
    p.faults.throttle_transactions(true);
    let throttled = |step: &str, status: u16, r: &crate::helpers::Resp| {
        assert_ne!(r.status, status, "{step} went through a throttled transaction");
        assert_unavailable(r, 0);
    };

    throttled(
        "signup",
        201,
        &p.faulty.signup("jane_doe", "jane@example.com", STRONG).await,
    );
    assert_eq!(
        p.healthy
            .signup("jane_doe", "jane@example.com", STRONG)
            .await
            .status,
        201
    );

    throttled(
        "login",
        200,
        &p.faulty.login("john_doe@example.com", STRONG).await,
    );
    assert_eq!(p.healthy.login("john_doe@example.com", STRONG).await.status, 200);

    // A refresh token whose rotation was throttled is not spent (nor taken for a replay).
    throttled("refresh", 200, &p.faulty.refresh(&r1).await);
    let r = p.healthy.refresh(&r1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // A link whose use was throttled still works: its holder is not told it is dead.
    let token = p.healthy.verification_token("jane@example.com").await;
    throttled("verify", 200, &p.faulty.verify_email(&token).await);
    assert_eq!(p.healthy.verify_email(&token).await.status, 200);

    let token = p.healthy.reset_token("john_doe@example.com").await;
    throttled("reset", 200, &p.faulty.reset(&token, STRONG2).await);
    assert_eq!(p.healthy.login("john_doe@example.com", STRONG).await.status, 200);
    assert_eq!(p.healthy.reset(&token, STRONG2).await.status, 200);
    p.healthy.clock.advance_ms(1);
    let a = access(&p.healthy.login("john_doe@example.com", STRONG2).await);

    // An email change throttled at its confirmation is not told the address is taken.
    let change = p.healthy.change_email(&a, "john.new@example.com", STRONG2).await;
    assert_eq!(change.status, 202);
    let token = p.healthy.email_change_token("john.new@example.com").await;
    throttled("change email", 200, &p.faulty.verify_email(&token).await);
    assert_eq!(p.healthy.verify_email(&token).await.status, 200);
    let a = access(&p.healthy.login("john.new@example.com", STRONG2).await);

    throttled(
        "change password",
        200,
        &p.faulty.change_password(&a, STRONG2, STRONG).await,
    );
    assert_eq!(p.healthy.me(&a).await.status, 200);
    assert_eq!(p.healthy.change_password(&a, STRONG2, STRONG).await.status, 200);
    p.healthy.clock.advance_ms(1);
    let a = access(&p.healthy.login("john.new@example.com", STRONG).await);

    throttled("delete account", 204, &p.faulty.delete_me(&a, STRONG).await);
    assert_eq!(p.healthy.me(&a).await.status, 200);
    assert_eq!(p.healthy.delete_me(&a, STRONG).await.status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_throttled_as_its_session_starts_is_503_not_wrong_credentials() {
    let p = pair().await;
    p.healthy.user("john_doe").await;
    p.faults.throttle_transactions_naming("SESSION#");
    let r = p.faulty.login("john_doe@example.com", STRONG).await;
    assert_unavailable(&r, 0);
    assert_eq!(p.healthy.login("john_doe@example.com", STRONG).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_throttled_in_its_transaction_is_503_not_a_wrong_password() {
    let p = pair().await;
    let (a, _, _) = p.healthy.user("john_doe").await;
    // Only the erasure's own transaction names the username's item.
    p.faults.throttle_transactions_naming("USERNAME#john_doe");
    let r = p.faulty.delete_me(&a, STRONG).await;
    assert_unavailable(&r, 0);
    assert_eq!(p.healthy.delete_me(&a, STRONG).await.status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_too_big_for_one_transaction_erases_the_sessions_in_it() {
    // A transaction of 12 items stands in for DynamoDB's 100: the account's three items, its
    // counters and pending link, and its two sessions fit; its refresh tokens do not, and the
    // batch write that was to delete them after fails.
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let faults = Faults::new(0);
    let mut state = fixture.state(test_config(), clock.clone());
    let client = dynamo_client(&fixture.sdk, &faults);
    let table = fixture.settings.table_name.clone();
    state.set_store(Arc::new(
        DynamoStore::new(client, table.clone()).with_max_transaction_items(12),
    ));
    let app = app_of(fixture.inbox(), state, clock);
    let (a, _, id) = app.user("john_doe").await;
    let mut token = refresh(&app.login("john_doe@example.com", STRONG).await);
    for _ in 0..12 {
        app.clock.advance_secs(11);
        token = refresh(&app.refresh(&token).await);
    }
    faults.fail_operation("BatchWriteItem");
    assert_eq!(app.delete_me(&a, STRONG).await.status, 204);
    assert_eq!(app.refresh(&token).await.status, 401);

    // Where and how the account signed in is gone with it; what is left is refresh tokens
    // that belong to nobody, each with its TTL.
    let left = aws_sdk_dynamodb::Client::new(&fixture.sdk)
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("SESSIONS#{id}")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(
        !left.is_empty(),
        "the batch write failed, so some refresh tokens are left"
    );
    for item in &left {
        let sk = item["sk"].as_s().unwrap();
        assert!(sk.starts_with("REFRESH#"), "{sk} outlived its account");
        assert!(item.contains_key("expires_at"), "{sk} has no TTL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_record_expires_when_its_window_ends() {
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let app = app_of(
        fixture.inbox(),
        fixture.state(test_config(), clock.clone()),
        clock.clone(),
    );
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.forgot("john@example.com").await;
    let now = clock.now();

    let items = aws_sdk_dynamodb::Client::new(&fixture.sdk)
        .scan()
        .table_name(&fixture.settings.table_name)
        .filter_expression("sk = :t")
        .expression_attribute_values(":t", AttributeValue::S("THROTTLE".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(items.len() >= 2, "signup and the reset request count: {items:?}");
    for item in &items {
        // `THROTTLE#<key>#<window number>`: window n of w seconds is [n·w, (n+1)·w).
        let pk = item["pk"].as_s().unwrap();
        let n: i64 = pk.rsplit('#').next().unwrap().parse().unwrap();
        let expires_at: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert_eq!(
            expires_at % (n + 1),
            0,
            "{pk} expires at {expires_at}, not a window's end"
        );
        let window = expires_at / (n + 1);
        assert!(
            n * window <= now && now < expires_at,
            "{pk} expires at {expires_at}, now {now}"
        );
    }
}
