//! Mail goes through a queue: forgot-password only queues a job naming the address, so its
//! answer (status, body, time) cannot tell a registered address from any other, and the mailer
//! delivers the job later, reporting each failed message alone so that only it is retried.

use std::sync::Arc;
use std::time::Instant;

use crate::helpers::dynamo::{receive_all, Fixture};
use crate::helpers::faults::{dynamo_client, Faults};
use crate::helpers::sqlite::Sqlite;
use crate::helpers::*;
use authyy::mail::{Mail, MailError, MailTransport};
use authyy::runtime::mailer::{handle_batch, SqsEvent, SqsMessage};

const UNAVAILABLE: &str = "Service temporarily unavailable: a backing service did not answer, please retry";

/// A mailer that takes `delay` for every mail (a slow SES), then sends it.
struct Slow {
    inner: Arc<dyn MailTransport>,
    delay: Duration,
}

#[async_trait::async_trait]
impl MailTransport for Slow {
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError> {
        tokio::time::sleep(self.delay).await;
        self.inner.send(mail, link).await
    }
}

/// A mailer that fails for one recipient (SES refusing or down for that message) and sends
/// every other mail.
struct DownFor {
    inner: Arc<dyn MailTransport>,
    to: &'static str,
}

#[async_trait::async_trait]
impl MailTransport for DownFor {
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError> {
        if mail.to == self.to {
            return Err(MailError("SES: ServiceUnavailable".into()));
        }
        self.inner.send(mail, link).await
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// No per-IP or per-address limit gets in the way of repeated calls.
fn unlimited() -> Config {
    with(|c| {
        c.ip_limits_enabled = false;
        c.forgot_per_email_limit.max = 1000;
    })
}

async fn forgot_password_answers_known_and_unknown_addresses_alike_with_a_slow_mailer<B: Backend>() {
    let mut app = B::app(unlimited()).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.state.mail_transport = Arc::new(Slow {
        inner: app.state.mail_transport.clone(),
        delay: Duration::from_millis(200),
    });
    let first = app.forgot("john@example.com").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    app.forgot("nobody@example.com").await;
    // Rounds of one request each, in alternating order; the gap is the median of each round's
    // difference, so a burst of load from tests running beside this one falls on both sides
    // (31 rounds: on a loaded machine, 15 let one long burst move the median past 10 ms).
    const ROUNDS: usize = 31;
    let (mut known, mut gaps) = (vec![], vec![]);
    for round in 0..ROUNDS {
        let mut order = [("john@example.com", true), ("nobody@example.com", false)];
        if round % 2 == 1 {
            order.reverse();
        }
        let mut took = [Duration::ZERO; 2];
        for (address, is_known) in order {
            let t = Instant::now();
            let r = app.forgot(address).await;
            took[usize::from(is_known)] = t.elapsed();
            assert_eq!((r.status, &r.body), (first.status, &first.body), "{address}");
        }
        known.push(took[1]);
        gaps.push(took[1].as_secs_f64() - took[0].as_secs_f64());
    }
    gaps.sort_by(f64::total_cmp);
    let gap = Duration::from_secs_f64(gaps[gaps.len() / 2].abs());
    let known = median(known);
    println!("forgot-password: known median {known:?}, median gap to unknown {gap:?}");
    assert!(
        gap < Duration::from_millis(10),
        "a known address answers {gap:?} later or sooner than an unknown one"
    );
    assert!(
        known < Duration::from_millis(200),
        "the answer waited for the mailer: {known:?}"
    );
    // The slow mailer was in play: delivering takes its 200 ms, and only john gets mail.
    let t = Instant::now();
    assert!(app.deliver_queued().await.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert_eq!(app.reset_mails_to("john@example.com").await.len(), ROUNDS + 1);
    assert!(app.reset_mails_to("nobody@example.com").await.is_empty());
}

async fn a_failed_queue_write_answers_503_for_known_and_unknown_alike<B: Backend>() {
    let mut app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.state.queue = B::broken_queue().await;
    let known = app.forgot("john@example.com").await;
    let unknown = app.forgot("nobody@example.com").await;
    assert_eq!(known.status, 503, "{:?}", known.body);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(known.detail(), UNAVAILABLE);
    assert!(app.reset_mails_to("john@example.com").await.is_empty());
}

async fn the_mailer_reports_a_failed_message_as_a_batch_item_failure<B: Backend>() {
    let mut app = B::app(unlimited()).await;
    for name in ["alice", "bob", "carol"] {
        app.signup(name, &format!("{name}@example.com"), STRONG).await;
        assert_eq!(app.forgot(&format!("{name}@example.com")).await.status, 200);
    }
    let healthy = app.state.mail_transport.clone();
    app.state.mail_transport = Arc::new(DownFor {
        inner: healthy.clone(),
        to: "bob@example.com",
    });
    let failed = app.deliver_queued().await;
    // Signup queued a verification mail for each of them as well: bob's fails alike.
    let failed: Vec<_> = failed
        .into_iter()
        .filter(|f| f.contains("password_reset"))
        .collect();
    assert_eq!(failed.len(), 1, "only bob's message fails: {failed:?}");
    assert_eq!(resets(app.inbox.mails_to("alice@example.com").await).len(), 1);
    assert_eq!(resets(app.inbox.mails_to("carol@example.com").await).len(), 1);
    assert!(resets(app.inbox.mails_to("bob@example.com").await).is_empty());
    // SES is back: bob's message, handed over again, is delivered; nobody gets a second mail.
    app.state.mail_transport = healthy;
    assert!(app.deliver_queued().await.is_empty());
    let token = token_in(&resets(app.inbox.mails_to("bob@example.com").await)[0]).unwrap();
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    assert_eq!(resets(app.inbox.mails_to("alice@example.com").await).len(), 1);
}

async fn a_message_the_mailer_cannot_read_is_reported_alone<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    // A job of the older format (naming an address) is unreadable too; one naming a request
    // nobody made is read, and skipped.
    let old = json!({"v": 1, "kind": "password_reset", "email": "john@example.com"}).to_string();
    let made_up = json!({"v": 2, "kind": "password_reset", "request": "AAAAAAAAAAAAAAAAAAAAAA"}).to_string();
    let event = SqsEvent {
        records: [
            ("m1", made_up),
            ("m2", "{\"v\": 9, \"kind\": \"password_reset\"}".to_string()),
            ("m3", old),
            ("m4", "not json".to_string()),
        ]
        .into_iter()
        .map(|(id, body)| SqsMessage {
            message_id: id.into(),
            body,
        })
        .collect(),
    };
    let response = handle_batch(&app.state, event, Duration::from_secs(20)).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m2", "m3", "m4"]);
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}, {"itemIdentifier": "m4"}]})
    );
    assert!(resets(app.inbox.mails_to("john@example.com").await).is_empty());
}

async fn a_queued_reset_mail_carries_a_working_token<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    assert_eq!(app.forgot("john@example.com").await.status, 200);
    // Nothing is sent before the mailer runs: the endpoint only queued a job.
    assert!(resets(app.inbox.mails_to("john@example.com").await).is_empty());
    assert!(app.deliver_queued().await.is_empty());
    let mails = resets(app.inbox.mails_to("john@example.com").await);
    assert_eq!(mails.len(), 1);
    let token = token_in(&mails[0]).unwrap();
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    assert_eq!(app.login("john@example.com", STRONG2).await.status, 200);
}

async fn the_per_address_cap_sends_no_fourth_mail_and_answers_alike<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let first = app.forgot("john@example.com").await;
    for address in ["john@example.com", "nobody@example.com"] {
        for _ in 0..4 {
            let r = app.forgot(address).await;
            assert_eq!((r.status, &r.body), (first.status, &first.body), "{address}");
        }
    }
    // Five asked for john within the window; three mails went out.
    assert_eq!(app.reset_mails_to("john@example.com").await.len(), 3);
    app.clock.advance_secs(900);
    assert_eq!(app.forgot("john@example.com").await.status, 200);
    assert_eq!(app.reset_mails_to("john@example.com").await.len(), 4);
}

async fn unknown_and_disabled_addresses_get_no_mail<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "john@example.com", STRONG).await;
    let id = r.body["id"].as_u64().unwrap();
    assert!(app.state.users.set_disabled(id, true, 0).await.unwrap());
    assert_eq!(app.forgot("john@example.com").await.status, 200);
    assert_eq!(app.forgot("nobody@example.com").await.status, 200);
    assert!(app.deliver_queued().await.is_empty(), "nothing to retry");
    assert!(resets(app.inbox.mails_to("john@example.com").await).is_empty());
    assert!(resets(app.inbox.mails_to("nobody@example.com").await).is_empty());
    // Enabled again, the account gets its mail.
    assert!(app.state.users.set_disabled(id, false, 0).await.unwrap());
    assert_eq!(app.forgot("john@example.com").await.status, 200);
    assert_eq!(app.reset_mails_to("john@example.com").await.len(), 1);
}

both_backends!(
    forgot_password_answers_known_and_unknown_addresses_alike_with_a_slow_mailer,
    a_failed_queue_write_answers_503_for_known_and_unknown_alike,
    the_mailer_reports_a_failed_message_as_a_batch_item_failure,
    a_message_the_mailer_cannot_read_is_reported_alone,
    a_queued_reset_mail_carries_a_working_token,
    the_per_address_cap_sends_no_fourth_mail_and_answers_alike,
    unknown_and_disabled_addresses_get_no_mail,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mailer_reports_a_message_whose_store_write_failed_and_delivers_the_others() {
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let faults = Faults::new(0);
    let healthy = TestApp {
        state: fixture.state(unlimited(), clock.clone()),
        clock: clock.clone(),
        inbox: Arc::new(fixture.inbox()),
        keys: None,
        _guard: Box::new(()),
    };
    for name in ["alice", "bob", "carol"] {
        healthy.signup(name, &format!("{name}@example.com"), STRONG).await;
    }
    // Signup's verification mails go out first; then each asks for a reset.
    assert!(healthy.deliver_queued().await.is_empty());
    for name in ["alice", "bob", "carol"] {
        healthy.forgot(&format!("{name}@example.com")).await;
    }
    // DynamoDB unreachable for every call about bob (his lookup and his token write).
    faults.fail_matching("bob@example.com");
    let faulty = fixture.state_with_dynamo(unlimited(), clock.clone(), dynamo_client(&fixture.sdk, &faults));
    let failed = healthy.inbox.deliver(&faulty).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let inbox = healthy.inbox.clone();
    let reset_mails = |to| {
        let inbox = inbox.clone();
        async move { resets(inbox.mails_to(to).await).len() }
    };
    assert_eq!(reset_mails("alice@example.com").await, 1);
    assert_eq!(reset_mails("carol@example.com").await, 1);
    assert_eq!(reset_mails("bob@example.com").await, 0);
    // The store is back: the retried message goes out.
    assert!(healthy.deliver_queued().await.is_empty());
    assert_eq!(reset_mails("bob@example.com").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_waits_in_the_dead_letter_queue() {
    let fixture = Fixture::new().await;
    let clock = Arc::new(ManualClock::default());
    let mut app = TestApp {
        state: fixture.state(test_config(), clock.clone()),
        clock,
        inbox: Arc::new(fixture.inbox()),
        keys: None,
        _guard: Box::new(()),
    };
    app.signup("john_doe", "john@example.com", STRONG).await;
    // Signup's verification mail goes out; the reset mail is the one that keeps failing.
    assert!(app.deliver_queued().await.is_empty());
    app.forgot("john@example.com").await;
    app.state.mail_transport = Arc::new(DownFor {
        inner: app.state.mail_transport.clone(),
        to: "john@example.com",
    });
    for attempt in 1..=crate::helpers::dynamo::MAX_RECEIVE_COUNT {
        assert_eq!(app.deliver_queued().await.len(), 1, "attempt {attempt}");
    }
    // The next receive moves it to the dead-letter queue instead of handing it over again.
    assert!(app.deliver_queued().await.is_empty());
    let sqs = aws_sdk_sqs::Client::new(&fixture.sdk);
    let waiting = receive_all(&sqs, &fixture.dead_letter_url).await;
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0].1.contains("password_reset"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_delivers_queued_mail_to_the_outbox_at_once() {
    let app = Sqlite::app(test_config()).await;
    let outbox = app.state.config.outbox_dir.clone();
    let queue = authyy::queue::LocalQueue::default();
    let mut state = app.state.clone();
    state.queue = Arc::new(queue.clone());
    let worker = authyy::runtime::mailer::spawn_local(state.clone(), queue);
    let app = TestApp { state, ..app };
    app.signup("john_doe", "john@example.com", STRONG).await;
    assert_eq!(app.forgot("john@example.com").await.status, 200);
    let t = Instant::now();
    let mail = loop {
        let reset = crate::helpers::sqlite::outbox_mails(&outbox)
            .into_iter()
            .find(|m| m.subject.starts_with("Reset"));
        if let Some(mail) = reset {
            break mail.text;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no mail in the outbox");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!(
        "local mode: mail in the outbox {:?} after the answer",
        t.elapsed()
    );
    let token = token_in(&mail).unwrap();
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    worker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mailer_event_file_is_delivered_by_the_mailer() {
    let app = Sqlite::app(test_config()).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("mailer.") {
            continue;
        }
        let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("events/{name}: {e}"));
        // The request each job names, as the endpoint that queued it stored it.
        for record in &event.records {
            let job: serde_json::Value = serde_json::from_str(&record.body).unwrap();
            let kind = match job["kind"].as_str() {
                Some("password_reset") => authyy::store::MailRequestKind::PasswordReset,
                Some("verify_email") => authyy::store::MailRequestKind::Verify,
                other => panic!("events/{name}: a job of kind {other:?}"),
            };
            let request = authyy::store::MailRequest {
                id: job["request"].as_str().unwrap().to_string(),
                kind,
                email: "john@example.com".into(),
                expires_at: app.clock.now() + 3600,
            };
            app.state.mail_requests.put_mail_request(&request).await.unwrap();
        }
        let response = handle_batch(&app.state, event, Duration::from_secs(20)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "events/{name}: {response:?}"
        );
        seen += 1;
    }
    assert!(seen > 0, "no events/mailer.*.json");
    assert_eq!(app.inbox.mails_to("john@example.com").await.len(), seen);
}
