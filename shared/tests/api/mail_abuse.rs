//! Abuse of the mail and of self-service: forged or redriven mail jobs, mail bombing past the
//! per-address caps, change-email as an oracle of registered addresses, lockout of a signed-in
//! owner, and what an erased or disabled account leaves behind.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authyy::endpoints::{deliver, Delivery};
use authyy::queue::{MailJob, MailQueue, QueueError};

use crate::helpers::*;

/// A queue that keeps a copy of every job it takes (to hand one over again, as a redrive does).
struct Recording {
    inner: Arc<dyn MailQueue>,
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl MailQueue for Recording {
    async fn enqueue(&self, job: &MailJob) -> Result<(), QueueError> {
        self.seen.lock().unwrap().push(job.to_json());
        self.inner.enqueue(job).await
    }

    async fn enqueue_after(&self, job: &MailJob, delay: std::time::Duration) -> Result<(), QueueError> {
        self.seen.lock().unwrap().push(job.to_json());
        self.inner.enqueue_after(job, delay).await
    }
}

fn recording(app: &mut TestApp) -> Arc<Recording> {
    let queue = Arc::new(Recording {
        inner: app.state.queue.clone(),
        seen: Mutex::new(vec![]),
    });
    app.state.queue = queue.clone();
    queue
}

fn jobs_of(queue: &Recording, kind: &str) -> Vec<String> {
    let kind = format!("\"kind\":\"{kind}\"");
    queue
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|j| j.contains(&kind))
        .cloned()
        .collect()
}

async fn a_hand_made_email_change_job_for_an_account_that_never_asked_mints_nothing<B: Backend>() {
    // Only the mail this test is about: not the new-sign-in notice of its logins.
    let app = B::app(with(|c| c.new_device_mail = false)).await;
    let (a, _, id) = app.user("john_doe").await;
    app.deliver_queued().await;
    // Whoever can write to the queue can name an account, but not an address nor a request.
    let forged = MailJob::ConfirmEmailChange {
        user_id: id,
        request: authyy::randomness::new_id(),
    };
    let delivery = deliver(&app.state, &forged.to_json()).await.unwrap();
    assert!(matches!(delivery, Delivery::Skipped(_)), "{delivery:?}");
    for forged in [
        MailJob::PasswordReset {
            request: authyy::randomness::new_id(),
        },
        MailJob::VerifyEmail {
            request: authyy::randomness::new_id(),
        },
    ] {
        let delivery = deliver(&app.state, &forged.to_json()).await.unwrap();
        assert!(matches!(delivery, Delivery::Skipped(_)), "{delivery:?}");
    }
    assert_eq!(
        app.mails_to("john_doe@example.com").await.len(),
        1,
        "only signup's mail"
    );
    assert_eq!(app.me(&a).await.body["email"], "john_doe@example.com");
}

async fn a_redriven_email_change_job_mints_nothing_after_a_password_change_cancelled_it<B: Backend>() {
    let mut app = app::<B>().await;
    let queue = recording(&mut app);
    let (a, _, _) = app.user("john_doe").await;
    assert_eq!(
        app.change_email(&a, "john.new@example.com", STRONG).await.status,
        202
    );
    assert_eq!(app.mails_to("john.new@example.com").await.len(), 1);
    assert_eq!(app.change_password(&a, STRONG, STRONG2).await.status, 200);
    // The job handed over again (a retry, or a redrive from the dead-letter queue).
    let job = jobs_of(&queue, "confirm_email_change").pop().unwrap();
    let delivery = deliver(&app.state, &job).await.unwrap();
    assert!(matches!(delivery, Delivery::Skipped(_)), "{delivery:?}");
    assert_eq!(
        app.mails_to("john.new@example.com").await.len(),
        1,
        "no fresh link"
    );
    let token = app.email_change_token("john.new@example.com").await;
    assert_eq!(
        app.verify_email(&token).await.status,
        400,
        "the first link died too"
    );
}

async fn a_redriven_reset_or_verification_job_mints_nothing_once_handled<B: Backend>() {
    let mut app = app::<B>().await;
    let queue = recording(&mut app);
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.forgot("john@example.com").await;
    assert_eq!(app.mails_to("john@example.com").await.len(), 2);
    for kind in ["password_reset", "verify_email"] {
        let job = jobs_of(&queue, kind).pop().unwrap();
        let delivery = deliver(&app.state, &job).await.unwrap();
        assert!(matches!(delivery, Delivery::Skipped(_)), "{kind}: {delivery:?}");
    }
    assert_eq!(app.mails_to("john@example.com").await.len(), 2);
}

async fn a_job_handled_after_its_request_expired_mints_nothing<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.deliver_queued().await;
    app.forgot("john@example.com").await;
    // Redriven from the dead-letter queue a day later: the request lived as long as its link.
    app.clock
        .advance_secs(app.state.config.reset_ttl.as_secs() as i64);
    assert!(app.deliver_queued().await.is_empty());
    assert!(app.reset_mails_to("john@example.com").await.is_empty());
}

async fn ten_password_changes_in_one_window_mail_the_address_at_most_three_times<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let (a, _, _) = app.user("john_doe").await;
    let passwords = [STRONG, STRONG2];
    for i in 0..10 {
        let r = app
            .change_password(&a, passwords[i % 2], passwords[(i + 1) % 2])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let notices = app.mails_to("john_doe@example.com").await;
    let notices = notices
        .iter()
        .filter(|m| m.contains("password was changed"))
        .count();
    assert_eq!(notices, 3);
}

async fn notices_over_their_cap_are_folded_into_one_summary_at_the_end_of_the_window<B: Backend>() {
    let app = B::app(with(|c| {
        c.ip_limits_enabled = false;
        c.notice_per_email_limit = Limit {
            max: 1,
            window_secs: 2,
        };
    }))
    .await;
    let (a, _, _) = app.user("john_doe").await;
    let passwords = [STRONG, STRONG2];
    for i in 0..4 {
        let r = app
            .change_password(&a, passwords[i % 2], passwords[(i + 1) % 2])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let count = |mails: &[String], what: &str| mails.iter().filter(|m| m.contains(what)).count();
    // The window (2 s here) ends: the summary, held back until then, comes once. (Whether it
    // came early is not asserted: that would depend on how fast this machine runs the test.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = app.mails_to("john_doe@example.com").await;
    assert_eq!(count(&later, "Several security changes"), 1, "{later:#?}");
    assert_eq!(count(&later, "password was changed"), 1);
}

async fn email_change_notices_to_one_address_are_capped<B: Backend>() {
    let app = B::app(with(|c| {
        c.ip_limits_enabled = false;
        c.resend_per_email_limit.max = 100;
    }))
    .await;
    let (a, _, _) = app.user("john_doe").await;
    // Move away and back five times: the old address is told at most three times.
    let addresses = ["john.new@example.com", "john_doe@example.com"];
    for i in 0..5 {
        for to in addresses {
            assert_eq!(app.change_email(&a, to, STRONG).await.status, 202);
            let token = app.email_change_token(to).await;
            assert_eq!(app.verify_email(&token).await.status, 200, "round {i}");
        }
    }
    let told = |mails: Vec<String>| mails.iter().filter(|m| m.contains("email was changed")).count();
    assert_eq!(told(app.mails_to("john_doe@example.com").await), 3);
}

async fn change_email_to_a_taken_address_answers_exactly_as_to_a_free_one<B: Backend>() {
    // Only the mail this test is about: not the new-sign-in notice of its logins.
    let app = B::app(with(|c| c.new_device_mail = false)).await;
    let (a, _, _) = app.user("john_doe").await;
    app.user("jane_doe").await;
    let taken = app.change_email(&a, "Jane_Doe@example.com", STRONG).await;
    app.deliver_queued().await;
    let free = app.change_email(&a, "nobody@example.com", STRONG).await;
    assert_eq!((taken.status, &taken.body), (free.status, &free.body));
    assert_eq!(taken.status, 202);
    // The owner of the taken address is told, with no link; the free address gets its link.
    let told = app.mails_to("jane_doe@example.com").await;
    assert_eq!(told.len(), 2, "{told:#?}");
    let notice = told.iter().find(|m| !m.contains("Confirm your email")).unwrap();
    assert!(notice.contains("john_doe asked to move"), "{notice}");
    assert!(
        token_in(notice).is_none(),
        "no link is minted for a taken address"
    );
    assert!(token_in(app.mails_to("nobody@example.com").await.last().unwrap()).is_some());
}

async fn a_verification_link_shows_the_address_and_account_and_the_mail_names_the_account<B: Backend>() {
    // Only the mail this test is about: not the new-sign-in notice of its logins.
    let app = B::app(with(|c| c.new_device_mail = false)).await;
    let (a, _, _) = app.user("john_doe").await;
    let mail = app.mails_to("john_doe@example.com").await.pop().unwrap();
    assert!(mail.contains("#token="), "{mail}");
    assert!(mail.contains("email=john_doe%40example.com"), "{mail}");
    assert!(mail.contains("account=john_doe"), "{mail}");
    app.change_email(&a, "john.new@example.com", STRONG).await;
    let mail = app.mails_to("john.new@example.com").await.pop().unwrap();
    assert!(mail.contains("account john_doe asked to move"), "{mail}");
    assert!(mail.contains("email=john.new%40example.com"), "{mail}");
}

async fn a_disabled_account_cannot_complete_a_pending_email_change_or_verification<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, id) = app.user("john_doe").await;
    let verify = app.verification_token("john_doe@example.com").await;
    app.change_email(&a, "john.new@example.com", STRONG).await;
    let change = app.email_change_token("john.new@example.com").await;
    app.state
        .users
        .set_disabled(id, true, app.clock.now_ms())
        .await
        .unwrap();
    assert_eq!(app.verify_email(&verify).await.status, 400);
    assert_eq!(app.verify_email(&change).await.status, 400);
    app.state
        .users
        .set_disabled(id, false, app.clock.now_ms())
        .await
        .unwrap();
    let user = app.state.users.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (user.email.as_str(), user.email_verified),
        ("john_doe@example.com", false)
    );
}

/// An app whose accounts lock after 6 failures from anywhere.
async fn capped_app<B: Backend>() -> TestApp {
    B::app(with(|c| c.login_account_max_failures = 6)).await
}

async fn with_the_account_locked_by_strangers_a_live_session_still_changes_its_password<B: Backend>() {
    let app = capped_app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    lock_account_from_everywhere(&app, "john_doe@example.com").await;
    let r = app.change_password(&a, STRONG, STRONG2).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.change_email(&a, "john.new@example.com", STRONG2).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
}

async fn a_password_change_made_from_a_device_keeps_that_device_trusted<B: Backend>() {
    let app = capped_app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let first = app.login("john@example.com", STRONG).await;
    let device = first.body["device_token"].as_str().unwrap().to_string();
    let body = serde_json::json!({
        "current_password": STRONG, "new_password": STRONG2, "device_token": device,
    });
    let r = app
        .with_body_of(authyy::Endpoint::ChangePassword, body, &access(&first))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    lock_account_from_everywhere(&app, "john@example.com").await;
    // The device the change was made on logs in through the lock (a reloaded client that kept
    // its device token); it is the only one.
    let with = |device: &str| serde_json::json!({"email": "john@example.com", "password": STRONG2, "device_token": device});
    assert_eq!(app.post(authyy::Endpoint::Login, with(&device)).await.status, 200);
    let stranger = authyy::randomness::new_mail_token();
    assert_eq!(
        app.post(authyy::Endpoint::Login, with(&stranger)).await.status,
        429
    );
}

async fn a_reset_made_from_a_device_keeps_that_device_trusted<B: Backend>() {
    let app = capped_app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let first = app.login("john@example.com", STRONG).await;
    let device = first.body["device_token"].as_str().unwrap().to_string();
    let token = app.reset_token("john@example.com").await;
    let body = serde_json::json!({"token": token, "password": STRONG2, "device_token": device});
    assert_eq!(app.post(authyy::Endpoint::ResetPassword, body).await.status, 200);
    lock_account_from_everywhere(&app, "john@example.com").await;
    let body = serde_json::json!({"email": "john@example.com", "password": STRONG2, "device_token": device});
    assert_eq!(app.post(authyy::Endpoint::Login, body).await.status, 200);
}

both_backends!(
    a_hand_made_email_change_job_for_an_account_that_never_asked_mints_nothing,
    a_redriven_email_change_job_mints_nothing_after_a_password_change_cancelled_it,
    a_redriven_reset_or_verification_job_mints_nothing_once_handled,
    a_job_handled_after_its_request_expired_mints_nothing,
    ten_password_changes_in_one_window_mail_the_address_at_most_three_times,
    notices_over_their_cap_are_folded_into_one_summary_at_the_end_of_the_window,
    email_change_notices_to_one_address_are_capped,
    change_email_to_a_taken_address_answers_exactly_as_to_a_free_one,
    a_verification_link_shows_the_address_and_account_and_the_mail_names_the_account,
    a_disabled_account_cannot_complete_a_pending_email_change_or_verification,
    with_the_account_locked_by_strangers_a_live_session_still_changes_its_password,
    a_password_change_made_from_a_device_keeps_that_device_trusted,
    a_reset_made_from_a_device_keeps_that_device_trusted,
);

/// DynamoDB keeps what SQLite deletes unless it is keyed where erasure looks: after `DELETE
/// /auth/me`, a Scan of the table finds no item holding the address or its hash (the mail caps
/// hold a digest of their own, and outlive the account by design).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erasure_no_dynamodb_item_holds_the_address_or_its_hash() {
    use crate::helpers::dynamo::Fixture;
    let fixture = Fixture::new().await;
    let clock = Arc::new(authyy::clock::ManualClock::default());
    let app = TestApp {
        state: fixture.state(test_config(), clock.clone()),
        clock,
        inbox: Arc::new(fixture.inbox()),
        keys: None,
        _guard: Box::new(()),
    };
    let email = "john_doe@example.com";
    let (a, _, _) = app.user("john_doe").await;
    let trusted = app.login(email, STRONG).await;
    let device = trusted.body["device_token"].as_str().unwrap().to_string();
    // Everything an address leaves: failures from another network and from a trusted device,
    // a wrong password in a session, superseded and pending reset and verification tokens, a
    // pending email change, a trusted device.
    assert_eq!(app.login_from("198.51.100.1", email, STRONG2).await.status, 401);
    let guess = serde_json::json!({"email": email, "password": STRONG2, "device_token": device});
    assert_eq!(app.post(authyy::Endpoint::Login, guess).await.status, 401);
    assert_eq!(
        app.change_password(&a, STRONG2, "a brand new passphrase 77")
            .await
            .status,
        400
    );
    for _ in 0..2 {
        app.forgot(email).await;
        app.resend(email).await;
        app.deliver_queued().await;
    }
    app.change_email(&a, "john.new@example.com", STRONG).await;
    app.deliver_queued().await;
    assert_eq!(app.delete_me(&a, STRONG).await.status, 204);
    app.deliver_queued().await;

    let items = aws_sdk_dynamodb::Client::new(&fixture.sdk)
        .scan()
        .table_name(&fixture.settings.table_name)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let hash = authyy::randomness::token_hash(email);
    let left: Vec<_> = items
        .iter()
        .map(|item| format!("{item:?}"))
        .filter(|item| item.contains(email) || item.contains(&hash))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    assert!(
        items.iter().any(|i| format!("{i:?}").contains("THROTTLE#mail#")),
        "the caps are kept"
    );
}
