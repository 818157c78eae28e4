//! `./infra/bench.sh`: every handler on the AWS backends against the local AWS server (moto),
//! with the number of DynamoDB calls each request makes.
//!
//! Times against moto measure our code plus moto's Python, not DynamoDB's latency; the call
//! counts are what carries over to production.

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/api/helpers/faults.rs"]
#[allow(dead_code)]
mod faults;

mod common;

use std::sync::Arc;
use std::time::Instant;

use authyy::clock::{Clock, ManualClock};
use authyy::config::AwsSettings;
use authyy::{AppState, Endpoint};
use common::{
    admin_tokens, bench_config, body, code_of, event, passkey_sign_ins, provider_callbacks, refresh_chain,
    registered_passkey, second_step_challenge, token_exchange, with_test_provider,
};
use lambda_http::Request;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Ok(endpoint) = std::env::var("AUTHYY_MOTO_URL") else {
        println!("aws bench skipped: run ./infra/bench.sh (it starts the local AWS server)");
        return;
    };
    let table = std::env::var("AUTHYY_BENCH_TABLE").unwrap_or_else(|_| "authyy-bench".into());
    let mut settings = AwsSettings::new(table.clone(), "authyy-bench-keys", "authyy-bench-public-keys");
    // moto copies the whole table for every item of a transaction, so its transactions slow
    // down as the bench fills the table. An attempt that timed out would be retried, and moto,
    // unlike DynamoDB, ignores the retry's idempotency token: patient limits, one attempt.
    settings.attempt_timeout = std::time::Duration::from_secs(60);
    settings.operation_timeout = std::time::Duration::from_secs(120);
    settings.max_attempts = 1;
    let sdk = authyy::aws::config_loader(&settings)
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "t", "t", None, None, "bench",
        ))
        .load()
        .await;
    settings.mail_queue_url = aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name(format!("{table}-mail"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut config = bench_config();
    config.mail_from = "bench@authyy.test".into();
    // Units as production bills them: the per-client limits count each request (one counter
    // write where a route has a limit), with maxima no bench reaches.
    config.ip_limits_enabled = true;
    // Sign-in with another provider: the test provider on loopback, when it is installed.
    let provider = with_test_provider(&mut config);
    for limit in [
        &mut config.signup_limit,
        &mut config.login_limit,
        &mut config.forgot_limit,
        &mut config.resend_limit,
        &mut config.passkey_options_limit,
    ] {
        limit.max = u32::MAX;
    }
    let counter = faults::Faults::new(0);
    let clock = Arc::new(ManualClock::default());
    // As a fresh deploy does: the rotation function runs once and creates the RSA keys.
    let keys = authyy::keys::secrets_manager::SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        &settings.signing_secret_id,
        &settings.public_keys_secret_id,
    );
    authyy::keys::rotation::rotate(&keys, 0, std::time::Duration::ZERO)
        .await
        .unwrap();
    let mut state = AppState::aws(config, &settings, &sdk, clock.clone()).unwrap();
    state.set_store(Arc::new(authyy::store::dynamo::DynamoStore::new(
        faults::dynamo_client(&sdk, &counter),
        table,
    )));

    println!("-- handlers on DynamoDB/SES/Secrets Manager over moto (argon2 at minimal cost)");
    println!(
        "{:<40} {:>12} {:>16} {:>8} {:>8}",
        "request", "mean", "DynamoDB calls", "RRU", "WRU"
    );
    let pw = "correct horse battery staple 42";
    let run = std::env::var("AUTHYY_BENCH_RUN").unwrap_or_else(|_| authyy::randomness::new_id());
    let n = 50u32;
    // Per request: calls and the request units DynamoDB on demand would bill (what
    // infra/cost.py prices), also written to target/bench-dynamodb.json.
    let units = std::cell::RefCell::new(serde_json::Map::new());
    let report_of = |name: &str, total: std::time::Duration, calls: usize, n: u32| {
        let per = |x: f64| x / f64::from(n);
        let (read, write) = counter.request_units();
        println!(
            "{name:<40} {:>12.3?} {:>16.1} {:>8.2} {:>8.2}",
            total / n,
            per(calls as f64),
            per(read),
            per(write)
        );
        units.borrow_mut().insert(
            name.to_string(),
            json!({"calls": per(calls as f64), "read_units": per(read), "write_units": per(write)}),
        );
    };
    let report = |name: &str, total: std::time::Duration, calls: usize| report_of(name, total, calls, n);
    let call = |endpoint: Endpoint, req: Request| {
        let state = state.clone();
        async move { authyy::handle(&state, endpoint, req).await }
    };

    counter.fail_from(0);
    let t = Instant::now();
    for i in 0..n {
        let b = json!({"username": format!("u{i}{run}"), "email": format!("u{i}-{run}@example.com"), "password": pw});
        assert_eq!(
            call(Endpoint::Signup, event("POST", "/auth/users", None, Some(&b)))
                .await
                .status(),
            201
        );
    }
    report("POST /auth/users (signup)", t.elapsed(), counter.calls());

    // A login from a new device: each of the n accounts signs in once (one account signing in
    // again and again would also fold its new-device notices into a summary, past their cap).
    counter.fail_from(0);
    let t = Instant::now();
    for i in 0..n {
        let b = json!({"email": format!("u{i}-{run}@example.com"), "password": pw});
        let r = call(Endpoint::Login, event("POST", "/auth/login", None, Some(&b))).await;
        assert_eq!(r.status(), 200);
    }
    report("POST /auth/login", t.elapsed(), counter.calls());
    let login_body = json!({"email": format!("u1-{run}@example.com"), "password": pw});
    let login = body(
        &call(
            Endpoint::Login,
            event("POST", "/auth/login", None, Some(&login_body)),
        )
        .await,
    );

    // The same login from a device the account knows (its token presented): no new-device
    // notice (its cap counter and queue send).
    let device = login["device_token"].as_str().unwrap_or_default().to_string();
    let known_body =
        json!({"email": format!("u1-{run}@example.com"), "password": pw, "device_token": device});
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::Login,
            event("POST", "/auth/login", None, Some(&known_body)),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("POST /auth/login (known device)", t.elapsed(), counter.calls());

    // What recording one event costs any request: one PutItem of about 400 bytes.
    let event_at = authyy::domain::audit::AuditEvent::new(
        authyy::domain::audit::EventType::LoginSucceeded,
        authyy::domain::audit::Actor::Owner,
        0,
        &authyy::domain::SeenFrom::new(
            "203.0.113.7",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
    );
    counter.fail_from(0);
    let t = Instant::now();
    for i in 0..n {
        let mut e = event_at.clone();
        e.at_ms = i64::from(i);
        state.audit.record_event(1, &e, i64::MAX / 2).await.unwrap();
    }
    report(
        "an audit event (recorded by each route)",
        t.elapsed(),
        counter.calls(),
    );

    let (access, refresh) = admin_tokens(&state, &login).await;

    // Second factors: an enrolment started, and login's second step with a TOTP code (each
    // of `m` users its own challenge: a code is spent once per account and step).
    let m = 20u32;
    let admin_id = login["user"]["id"].as_u64().unwrap();
    state.users.set_email_verified(admin_id).await.unwrap();
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::StartTotp,
            event("POST", "/auth/mfa/totp", Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("POST /auth/mfa/totp (start)", t.elapsed(), counter.calls());
    let step = clock.now() as u64 / 30;
    let mut challenges = vec![];
    for i in 10..10 + m {
        challenges.push(second_step_challenge(&state, &format!("u{i}-{run}@example.com"), step, pw).await);
    }
    clock.advance_secs(30);
    counter.fail_from(0);
    let t = Instant::now();
    for (token, secret) in &challenges {
        let b = json!({"mfa_token": token, "code": secret.code_at_step(step + 1)});
        let r = call(
            Endpoint::LoginMfa,
            event("POST", "/auth/login/mfa", None, Some(&b)),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", body(&r));
    }
    report_of("POST /auth/login/mfa (TOTP)", t.elapsed(), counter.calls(), m);

    // Passkeys: one registered to user u2; its list; sign-in options, and sign-ins with them.
    let u2 = json!({"email": format!("u2-{run}@example.com"), "password": pw});
    let u2 = body(&call(Endpoint::Login, event("POST", "/auth/login", None, Some(&u2))).await);
    let u2_access = u2["tokens"]["access"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let key = registered_passkey(&state, u2["user"]["id"].as_u64().unwrap(), &u2_access, pw).await;
    clock.advance_ms(2);
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::ListPasskeys,
            event("GET", "/auth/passkeys", Some(&u2_access), None),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("GET /auth/passkeys", t.elapsed(), counter.calls());
    counter.fail_from(0);
    let t = Instant::now();
    let mut options = vec![];
    for _ in 0..n {
        let r = call(
            Endpoint::PasskeyLoginOptions,
            event("POST", "/auth/passkeys/login/options", None, None),
        )
        .await;
        assert_eq!(r.status(), 200);
        options.push(body(&r));
    }
    report("POST /auth/passkeys/login/options", t.elapsed(), counter.calls());
    let sign_ins = passkey_sign_ins(&options, &key);
    counter.fail_from(0);
    let t = Instant::now();
    for b in &sign_ins {
        let r = call(
            Endpoint::PasskeyLogin,
            event("POST", "/auth/passkeys/login", None, Some(b)),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", body(&r));
    }
    report("POST /auth/passkeys/login", t.elapsed(), counter.calls());
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::ListIdentities,
            event("GET", "/auth/identities", Some(&u2_access), None),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("GET /auth/identities", t.elapsed(), counter.calls());

    // The admin API: a user read, and `m` accounts deleted.
    let u2_path = format!("/auth/admin/users/{}", u2["user"]["id"]);
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::AdminGetUser,
            event("GET", &u2_path, Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", body(&r));
    }
    report("GET /auth/admin/users/{id}", t.elapsed(), counter.calls());
    let mut gone = vec![];
    for i in 0..m {
        let b = json!({"username": format!("g{i}{run}"), "email": format!("g{i}-{run}@example.com"), "password": pw});
        let r = call(Endpoint::Signup, event("POST", "/auth/users", None, Some(&b))).await;
        gone.push(body(&r)["id"].as_u64().unwrap());
    }
    counter.fail_from(0);
    let t = Instant::now();
    for id in &gone {
        let path = format!("/auth/admin/users/{id}");
        let r = call(
            Endpoint::AdminDeleteUser,
            event("DELETE", &path, Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 204, "{:?}", body(&r));
    }
    report_of("DELETE /auth/admin/users/{id}", t.elapsed(), counter.calls(), m);

    // Provider sign-ins of `m` new users: the provider's pages gone through first, then the
    // callbacks (each reads its state, calls the provider's token endpoint and keys, makes the
    // account and its one-time code), then the token exchanges.
    if provider {
        let callbacks = provider_callbacks(&state, m, &run).await;
        counter.fail_from(0);
        let t = Instant::now();
        let mut codes = vec![];
        for req in callbacks {
            codes.push(code_of(&call(Endpoint::OAuthCallback, req).await));
        }
        report_of(
            "GET /auth/oauth/{provider}/callback",
            t.elapsed(),
            counter.calls(),
            m,
        );
        counter.fail_from(0);
        let t = Instant::now();
        for code in &codes {
            let r = call(Endpoint::OAuthToken, token_exchange(code)).await;
            assert_eq!(r.status(), 200, "{:?}", body(&r));
        }
        report_of("POST /auth/oauth/token", t.elapsed(), counter.calls(), m);
    } else {
        println!("(provider sign-ins skipped: infra/oidc is not installed; npm ci there)");
    }
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        assert_eq!(
            call(Endpoint::Me, event("GET", "/auth/me", Some(&access), None))
                .await
                .status(),
            200
        );
    }
    report("GET /auth/me", t.elapsed(), counter.calls());

    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::MyEvents,
            event("GET", "/auth/me/events", Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("GET /auth/me/events (50 per page)", t.elapsed(), counter.calls());

    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::ListUsers,
            event("GET", "/auth/users", Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("GET /auth/users (50 per page)", t.elapsed(), counter.calls());

    counter.fail_from(0);
    let t = Instant::now();
    refresh_chain(&state, refresh, n).await;
    report("POST /auth/tokens (refresh)", t.elapsed(), counter.calls());

    let forgot = json!({"email": format!("u2-{run}@example.com")});
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::ForgotPassword,
            event("POST", "/auth/forgot-password", None, Some(&forgot)),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report(
        "POST /auth/forgot-password (+1 SQS call)",
        t.elapsed(),
        counter.calls(),
    );

    // Each job names a request forgot-password recorded (one job per request, as queued).
    let mut jobs = vec![];
    for _ in 0..n {
        let request = authyy::store::MailRequest {
            id: authyy::randomness::new_id(),
            kind: authyy::store::MailRequestKind::PasswordReset,
            email: format!("u2-{run}@example.com"),
            expires_at: i64::MAX / 2,
        };
        state.mail_requests.put_mail_request(&request).await.unwrap();
        jobs.push(authyy::queue::MailJob::PasswordReset { request: request.id }.to_json());
    }
    counter.fail_from(0);
    let t = Instant::now();
    for job in &jobs {
        let done = authyy::endpoints::deliver(&state, job).await.unwrap();
        assert_eq!(done, authyy::endpoints::Delivery::Sent);
    }
    report(
        "mailer: a reset job (+2 DynamoDB calls for its request, +1 SES call)",
        t.elapsed(),
        counter.calls(),
    );

    // A full reset needs a fresh token each time: read it back from moto's SES store.
    let reset = json!({"token": "unknown", "password": pw});
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::ResetPassword,
            event("POST", "/auth/reset-password", None, Some(&reset)),
        )
        .await;
        assert_eq!(r.status(), 400);
    }
    report(
        "POST /auth/reset-password (bad token)",
        t.elapsed(),
        counter.calls(),
    );

    // Self-service, as user u1 (signed in above).
    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::ListSessions,
            event("GET", "/auth/sessions", Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("GET /auth/sessions", t.elapsed(), counter.calls());

    counter.fail_from(0);
    let t = Instant::now();
    for _ in 0..n {
        let r = call(
            Endpoint::EndSession,
            event("DELETE", "/auth/sessions/unknown", Some(&access), None),
        )
        .await;
        assert_eq!(r.status(), 404);
    }
    report(
        "DELETE /auth/sessions/{id} (unknown)",
        t.elapsed(),
        counter.calls(),
    );

    // Logout: n sessions of u1, each ended with its own access token.
    let mut sessions = vec![];
    for _ in 0..n {
        let r = call(
            Endpoint::Login,
            event("POST", "/auth/login", None, Some(&login_body)),
        )
        .await;
        assert_eq!(r.status(), 200);
        let access = body(&r)["tokens"]["access"]["access_token"].clone();
        sessions.push(access.as_str().unwrap().to_string());
    }
    counter.fail_from(0);
    let t = Instant::now();
    for a in &sessions {
        let r = call(Endpoint::Logout, event("POST", "/auth/logout", Some(a), None)).await;
        assert_eq!(r.status(), 200);
    }
    report("POST /auth/logout", t.elapsed(), counter.calls());

    counter.fail_from(0);
    let t = Instant::now();
    for i in 0..n {
        let b = json!({"new_email": format!("moved{i}-{run}@example.com"), "password": pw});
        let r = call(
            Endpoint::ChangeEmail,
            event("POST", "/auth/email", Some(&access), Some(&b)),
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    report("POST /auth/email (+1 SQS call)", t.elapsed(), counter.calls());

    let other = "violet tractor jumps over moon 7";
    counter.fail_from(0);
    let t = Instant::now();
    for i in 0..n {
        let (from, to) = if i % 2 == 0 { (pw, other) } else { (other, pw) };
        let b = json!({"current_password": from, "new_password": to});
        let r = call(
            Endpoint::ChangePassword,
            event("POST", "/auth/password", Some(&access), Some(&b)),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    report("POST /auth/password (+1 SQS call)", t.elapsed(), counter.calls());

    // Erasure: n fresh accounts, each with one session.
    let mut doomed = vec![];
    for i in 0..n {
        let email = format!("d{i}-{run}@example.com");
        let b = json!({"username": format!("d{i}{run}"), "email": email, "password": pw});
        let r = call(Endpoint::Signup, event("POST", "/auth/users", None, Some(&b))).await;
        assert_eq!(r.status(), 201, "{:?}", body(&r));
        let b = json!({"email": email, "password": pw});
        let r = call(Endpoint::Login, event("POST", "/auth/login", None, Some(&b))).await;
        let login = body(&r);
        assert_eq!(r.status(), 200, "{login:?}");
        doomed.push(
            login["tokens"]["access"]["access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    counter.fail_from(0);
    let t = Instant::now();
    for a in &doomed {
        let b = json!({"password": pw});
        let r = call(
            Endpoint::DeleteAccount,
            event("DELETE", "/auth/me", Some(a), Some(&b)),
        )
        .await;
        assert_eq!(r.status(), 204, "{:?}", body(&r));
    }
    report("DELETE /auth/me (one session)", t.elapsed(), counter.calls());
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-dynamodb.json");
    std::fs::write(&out, serde_json::to_string_pretty(&*units.borrow()).unwrap()).unwrap();
    println!("(per request: written to {})", out.display());
}
