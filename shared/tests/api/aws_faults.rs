//! The AWS backends when their dependencies fail: clean 503s that leak nothing, and no step of
//! a request leaves half its work behind. Also mail that cannot be sent (retried, never told). (Key rotation through
//! Secrets Manager: key_lifecycle.rs.)

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::dynamo::{sdk_config, Fixture, MotoInbox};
use crate::helpers::faults::{closed_port, dynamo_client, Faults};
use crate::helpers::{access, refresh, test_config, test_keys, Resp, TestApp, STRONG, STRONG2};
use authyy::clock::ManualClock;
use authyy::config::AwsSettings;
use authyy::store::dynamo::DynamoStore;
use authyy::{AppState, Endpoint};
use serde_json::json;

const UNAVAILABLE: &str = "Service temporarily unavailable: a backing service did not answer, please retry";

pub(crate) fn app_of(inbox: MotoInbox, state: AppState, clock: Arc<ManualClock>) -> TestApp {
    TestApp {
        state,
        clock,
        inbox: Arc::new(inbox),
        keys: None,
        _guard: Box::new(()),
    }
}

/// Two views of one table: `faulty` goes through the fault interceptor, `healthy` does not.
pub(crate) struct Pair {
    pub healthy: TestApp,
    pub faulty: TestApp,
    pub faults: Arc<Faults>,
}

pub(crate) async fn pair() -> Pair {
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let faults = Faults::new(0);
    let healthy = fixture.state(test_config(), clock.clone());
    let faulty =
        fixture.state_with_dynamo(test_config(), clock.clone(), dynamo_client(&fixture.sdk, &faults));
    Pair {
        healthy: app_of(fixture.inbox(), healthy, clock.clone()),
        faulty: app_of(fixture.inbox(), faulty, clock),
        faults,
    }
}

pub(crate) fn assert_unavailable(r: &Resp, step: usize) {
    assert_eq!(r.status, 503, "step {step}: {:?}", r.body);
    assert_eq!(r.detail(), UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_failing_at_any_step_leaves_no_half_created_user() {
    for step in 1.. {
        let p = pair().await;
        p.faults.fail_from(step);
        let r = p.faulty.signup("john_doe", "john@example.com", STRONG).await;
        if r.status == 201 {
            assert!(step > 2, "signup makes several calls");
            break;
        }
        assert_unavailable(&r, step);
        // Nothing of the failed signup is left: email and username are free, and it works.
        assert_eq!(
            p.healthy
                .signup("john_doe", "john@example.com", STRONG)
                .await
                .status,
            201
        );
        assert_eq!(p.healthy.login("john@example.com", STRONG).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_failing_at_any_step_changes_nothing() {
    for step in 1.. {
        let p = pair().await;
        let (access1, _, _) = p.healthy.user("john_doe").await;
        let token = p.healthy.reset_token("john_doe@example.com").await;
        p.clock_tick();
        p.faults.fail_from(step);
        let body = json!({"token": token, "password": STRONG2});
        let r = p.faulty.post(Endpoint::ResetPassword, body.clone()).await;
        if r.status == 200 {
            assert!(step > 2);
            break;
        }
        assert_unavailable(&r, step);
        // No password changed, no session ended, no token spent.
        assert_eq!(p.healthy.me(&access1).await.status, 200, "step {step}");
        assert_eq!(
            p.healthy.login("john_doe@example.com", STRONG).await.status,
            200,
            "step {step}"
        );
        assert_eq!(
            p.healthy.post(Endpoint::ResetPassword, body).await.status,
            200,
            "step {step}"
        );
        // ...and the retried reset did all of it at once.
        assert_eq!(p.healthy.me(&access1).await.status, 401);
        assert_eq!(p.healthy.login("john_doe@example.com", STRONG2).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_email_failing_at_any_step_verifies_nothing_and_keeps_the_token() {
    for step in 1.. {
        let p = pair().await;
        p.healthy.signup("john_doe", "john@example.com", STRONG).await;
        let token = p.healthy.verification_token("john@example.com").await;
        p.faults.fail_from(step);
        let r = p.faulty.verify_email(&token).await;
        if r.status == 200 {
            assert!(step > 1);
            break;
        }
        assert_unavailable(&r, step);
        let me = p.healthy.login("john@example.com", STRONG).await;
        assert_eq!(me.body["user"]["email_verified"], false, "step {step}");
        // The link still works, and does all of it at once.
        assert_eq!(p.healthy.verify_email(&token).await.status, 200, "step {step}");
        let me = p.healthy.login("john@example.com", STRONG).await;
        assert_eq!(me.body["user"]["email_verified"], true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failing_at_any_step_starts_no_session_and_recovers() {
    for step in 1.. {
        let p = pair().await;
        p.healthy.signup("john_doe", "john@example.com", STRONG).await;
        p.faults.fail_from(step);
        let r = p.faulty.login("john@example.com", STRONG).await;
        if r.status == 200 {
            assert!(step > 2);
            break;
        }
        assert_unavailable(&r, step);
        assert_eq!(p.healthy.login("john@example.com", STRONG).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_whose_attempt_cannot_be_reserved_is_503_and_verifies_nothing() {
    let p = pair().await;
    p.healthy.signup("john_doe", "john@example.com", STRONG).await;
    // Calls: the per-client limit, the credentials and counters read, then the reservation.
    let reservation = 3;
    p.faults.fail_from(reservation);
    let r = p.faulty.login("john@example.com", STRONG).await;
    assert_unavailable(&r, reservation);
    // A verified password would have gone on to read the role and start the session.
    assert_eq!(
        p.faults.calls(),
        reservation,
        "no call after the failed reservation"
    );
    assert_eq!(p.healthy.login("john@example.com", STRONG).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_failing_at_any_step_keeps_the_token_usable() {
    for step in 1.. {
        let p = pair().await;
        let (_, refresh1, _) = p.healthy.user("john_doe").await;
        p.faults.fail_from(step);
        let r = p.faulty.refresh(&refresh1).await;
        if r.status == 200 {
            assert!(step > 1);
            break;
        }
        assert_unavailable(&r, step);
        // Not mistaken for a replay: the same token refreshes once the store is back.
        p.clock_tick_secs(60);
        let again = p.healthy.refresh(&refresh1).await;
        assert_eq!(again.status, 200, "step {step}: {:?}", again.body);
        assert_eq!(p.healthy.me(&access(&again)).await.status, 200);
        assert_eq!(p.healthy.refresh(&refresh(&again)).await.status, 200);
    }
}

impl Pair {
    fn clock_tick(&self) {
        self.healthy.clock.advance_ms(1);
    }
    fn clock_tick_secs(&self, s: i64) {
        self.healthy.clock.advance_secs(s);
    }
}

/// Settings with short limits, so tests of unreachable or hung servers end quickly.
fn impatient() -> AwsSettings {
    let mut s = AwsSettings::new(
        "authyy-unreachable",
        "authyy-unreachable-keys",
        "authyy-unreachable-public-keys",
    );
    s.connect_timeout = Duration::from_millis(200);
    s.attempt_timeout = Duration::from_millis(300);
    s.operation_timeout = Duration::from_millis(800);
    s.max_attempts = 2;
    s
}

async fn app_at(endpoint: &str) -> TestApp {
    let settings = impatient();
    let sdk = sdk_config(endpoint, &settings).await;
    let clock = Arc::new(ManualClock::default());
    let mut config = test_config();
    config.mail_from = "sender@authyy.test".into();
    let state = AppState::aws(config, &settings, &sdk, clock.clone()).unwrap();
    app_of(MotoInbox::ses_only("sender@authyy.test"), state, clock)
}

/// A request for every endpoint that reaches the store (tokens are well-formed but unknown).
async fn every_endpoint(app: &TestApp) -> Vec<(Endpoint, Resp)> {
    let keys = test_keys();
    let claims = |token_use| authyy::tokens::Claims {
        iss: test_config().issuer,
        aud: "authyy-clients".into(),
        sub: "1".into(),
        exp: i64::MAX / 4,
        iat: 0,
        jti: "j".into(),
        sid: "s".into(),
        token_use,
        scope: None,
        email_verified: None,
        amr: None,
        aal: None,
        auth_time: None,
        app_metadata: None,
        extra: Default::default(),
    };
    let rsa = keys.lifecycle().unwrap();
    let a = authyy::tokens::sign_access(&rsa.current, &claims(authyy::tokens::TokenUse::Access)).unwrap();
    let r = authyy::tokens::sign_refresh(&keys.hmac, &claims(authyy::tokens::TokenUse::Refresh)).unwrap();
    vec![
        (
            Endpoint::Signup,
            app.signup("john_doe", "john@example.com", STRONG).await,
        ),
        (Endpoint::Login, app.login("john@example.com", STRONG).await),
        (Endpoint::Me, app.me(&a).await),
        (Endpoint::ListUsers, app.get(Endpoint::ListUsers, &a).await),
        (Endpoint::Refresh, app.refresh(&r).await),
        (Endpoint::ForgotPassword, app.forgot("john@example.com").await),
        (Endpoint::ResetPassword, app.reset("t", STRONG2).await),
        (Endpoint::VerifyEmail, app.verify_email("t").await),
        (Endpoint::ResendVerification, app.resend("john@example.com").await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_aws_gives_a_clean_503_on_every_endpoint() {
    let app = app_at(&format!("http://127.0.0.1:{}", closed_port())).await;
    for (endpoint, r) in every_endpoint(&app).await {
        assert_eq!(r.status, 503, "{endpoint:?}: {:?}", r.body);
        assert_eq!(r.detail(), UNAVAILABLE, "{endpoint:?} leaks nothing");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_aws_call_ends_in_503_within_the_operation_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let app = app_at(&format!("http://127.0.0.1:{port}")).await;
    // The bound here only keeps a broken timeout from hanging the suite.
    let answered = tokio::time::timeout(Duration::from_secs(30), app.login("john@example.com", STRONG)).await;
    let r = answered.expect("a hung call must end at the operation timeout");
    assert_eq!(r.status, 503);
    assert_eq!(r.detail(), UNAVAILABLE);
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_that_cannot_be_sent_is_retried_not_reported() {
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let mut state = fixture.state(test_config(), clock.clone());
    state.mail_transport = Arc::new(authyy::mail::SesTransport::new(
        aws_sdk_sesv2::Client::new(&fixture.sdk),
        &authyy::mail::Sender::new("authyy", "nobody@unverified.example").unwrap(),
        None,
    ));
    let mut inbox = fixture.inbox();
    inbox.sender = "nobody@unverified.example".into();
    let app = app_of(inbox, state, clock);
    app.signup("john_doe", "john@example.com", STRONG).await;
    let known = app.forgot("john@example.com").await;
    let unknown = app.forgot("ghost@example.com").await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    // SES refuses the sender: the mailer reports john's job for a retry; ghost's needs no mail.
    // (Signup's verification job fails alike.)
    let failed: Vec<_> = app
        .deliver_queued()
        .await
        .into_iter()
        .filter(|f| f.contains("password_reset"))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(crate::helpers::resets(app.inbox.mails_to("john@example.com").await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_failing_at_any_step_changes_all_or_nothing() {
    for step in 1.. {
        let p = pair().await;
        let (this, _, _) = p.healthy.user("john_doe").await;
        p.clock_tick();
        let other = p.healthy.login("john_doe@example.com", STRONG).await;
        p.clock_tick();
        p.faults.fail_from(step);
        let r = p.faulty.change_password(&this, STRONG, STRONG2).await;
        if r.status == 200 {
            assert!(step > 3, "a password change makes several calls");
            assert_eq!(p.healthy.me(&access(&other)).await.status, 401);
            break;
        }
        assert_unavailable(&r, step);
        // Fully before: the old password, and every session.
        assert_eq!(p.healthy.me(&access(&other)).await.status, 200, "step {step}");
        assert_eq!(p.healthy.me(&this).await.status, 200, "step {step}");
        p.clock_tick();
        assert_eq!(p.healthy.login("john_doe@example.com", STRONG2).await.status, 401);
        assert_eq!(p.healthy.login("john_doe@example.com", STRONG).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_change_failing_at_any_step_of_its_confirmation_changes_all_or_nothing() {
    for step in 1.. {
        let p = pair().await;
        let (a, _, _) = p.healthy.user("john_doe").await;
        assert_eq!(
            p.healthy
                .change_email(&a, "john.new@example.com", STRONG)
                .await
                .status,
            202
        );
        let token = p.healthy.email_change_token("john.new@example.com").await;
        p.faults.fail_from(step);
        let r = p.faulty.verify_email(&token).await;
        if r.status == 200 {
            assert!(step > 3);
            break;
        }
        assert_unavailable(&r, step);
        // Fully before: the old address signs in, the new one is free and unknown.
        assert_eq!(
            p.healthy.me(&a).await.body["email"],
            "john_doe@example.com",
            "step {step}"
        );
        assert_eq!(p.healthy.login("john.new@example.com", STRONG).await.status, 401);
        assert_eq!(p.healthy.login("john_doe@example.com", STRONG).await.status, 200);
        // The link still works, and does all of it at once.
        assert_eq!(p.healthy.verify_email(&token).await.status, 200, "step {step}");
        assert_eq!(p.healthy.login("john.new@example.com", STRONG).await.status, 200);
        assert_eq!(p.healthy.login("john_doe@example.com", STRONG).await.status, 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_deletion_failing_at_any_step_erases_all_or_nothing() {
    for step in 1.. {
        let p = pair().await;
        let (a, r1, _) = p.healthy.user("john_doe").await;
        p.faults.fail_from(step);
        let r = p.faulty.delete_me(&a, STRONG).await;
        if r.status == 204 {
            assert!(step > 3);
            assert_eq!(p.healthy.me(&a).await.status, 401);
            break;
        }
        assert_unavailable(&r, step);
        // Fully before: the account, its tokens, its email and username.
        assert_eq!(p.healthy.me(&a).await.status, 200, "step {step}");
        assert_eq!(
            p.healthy
                .signup("john_doe", "other@example.com", STRONG)
                .await
                .status,
            409
        );
        assert_eq!(p.healthy.refresh(&r1).await.status, 200, "step {step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_owning_more_items_than_one_transaction_holds_is_erased_whole() {
    // A transaction of 10 items stands in for DynamoDB's 100: the profile, email and username,
    // the counters, two sessions and a chain of refresh tokens make more.
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let mut state = fixture.state(test_config(), clock.clone());
    let client = aws_sdk_dynamodb::Client::new(&fixture.sdk);
    let store =
        DynamoStore::new(client.clone(), fixture.settings.table_name.clone()).with_max_transaction_items(10);
    state.set_store(Arc::new(store));
    let app = app_of(fixture.inbox(), state, clock);
    let (a, _, id) = app.user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let mut token = refresh(&other);
    for _ in 0..12 {
        app.clock.advance_secs(11);
        let r = app.refresh(&token).await;
        assert_eq!(r.status, 200);
        token = refresh(&r);
    }
    assert_eq!(app.delete_me(&a, STRONG).await.status, 204);
    assert_eq!(app.refresh(&token).await.status, 401);
    // Nothing of the account is left in its partitions.
    for pk in [format!("USER#{id}"), format!("SESSIONS#{id}")] {
        let left = client
            .query()
            .table_name(&fixture.settings.table_name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .send()
            .await
            .unwrap();
        assert_eq!(left.count, 0, "{:?}", left.items);
    }
    assert_eq!(
        app.signup("john_doe", "john_doe@example.com", STRONG)
            .await
            .status,
        201
    );
}
