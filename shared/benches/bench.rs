//! `cargo bench -p authyy`: argon2id, JWT, and every handler on the SQLite store.
//!
//! Handler figures are taken with a minimal argon2 cost so they show the endpoint's own work
//! (parsing, store, signing) rather than hashing, which is reported on its own line.

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use authyy::clock::{Clock, ManualClock};
use authyy::config::{Config, HashCost};
use authyy::domain::Password;
use authyy::hashing::Hasher;
use authyy::keys::{random_key, KeySet, Lifecycle, PublicKeys, SigningKey};
use authyy::tokens::{self, Claims, TokenUse, Verifier};
use authyy::{AppState, Endpoint};
use common::{
    admin_tokens, bench_config, body, code_of, event, passkey_sign_ins, provider_callbacks, refresh_chain,
    registered_passkey, second_step_challenge, token_exchange, with_test_provider,
};
use lambda_http::Request;
use serde_json::json;

/// The primitives' mean times in ms, by name, written to target/bench-primitives.json for
/// infra/cost.py (which compares refresh's RS256 signature with an HS256 one).
static MEANS: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());

/// Runs `f` `n` times and prints the mean and the best time per call.
async fn measure<F, Fut>(name: &str, n: u32, mut f: F)
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f(u32::MAX).await; // warm-up
    let mut best = Duration::MAX;
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        best = best.min(t.elapsed());
    }
    let mean = start.elapsed() / n;
    MEANS
        .lock()
        .unwrap()
        .push((name.to_string(), mean.as_secs_f64() * 1000.0));
    println!(
        "{name:<44} mean {:>10.3?}   best {:>10.3?}   ({n} runs)",
        mean, best
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let password = Password::new("correct horse battery staple 42").unwrap();
    let hasher = Hasher::new(HashCost::default()).unwrap();
    let phc = hasher.hash(&password).await.unwrap();
    println!("-- primitives");
    measure("argon2id hash (m=19456 KiB, t=2, p=1)", 20, |_| async {
        hasher.hash(&password).await.unwrap();
    })
    .await;
    measure("argon2id verify", 20, |_| async {
        assert!(hasher.verify(&password, Some(&phc)).await)
    })
    .await;
    let long = Password::new(&"aB3$xY9!".repeat(16)).unwrap();
    measure("password policy, 31 characters (zxcvbn)", 200, |_| async {
        let _ = authyy::domain::check_strength(&password, "john_doe", "john", 3);
    })
    .await;
    measure("password policy, 128 characters (zxcvbn)", 50, |_| async {
        let _ = authyy::domain::check_strength(&long, "john_doe", "john", 3);
    })
    .await;
    let hmac = KeySet::single("k1", random_key()).unwrap();
    let rsa = Lifecycle::start(0).unwrap();
    let public = PublicKeys::of(&rsa);
    let config = Config::default();
    let claims = Claims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        sub: "1".into(),
        exp: i64::MAX / 2,
        iat: 0,
        jti: authyy::randomness::new_id(),
        sid: authyy::randomness::new_id(),
        token_use: TokenUse::Access,
        scope: Some("user".into()),
        email_verified: Some(true),
        amr: Some(vec!["pwd".into()]),
        aal: Some("aal1".into()),
        auth_time: Some(0),
        app_metadata: None,
        extra: Default::default(),
    };
    let refresh_claims = Claims {
        token_use: TokenUse::Refresh,
        scope: None,
        email_verified: None,
        ..claims.clone()
    };
    let jwt = tokens::sign_access(&rsa.current, &claims).unwrap();
    let refresh_jwt = tokens::sign_refresh(&hmac, &refresh_claims).unwrap();
    measure("JWT RS256 sign (access token)", 500, |_| async {
        tokens::sign_access(&rsa.current, &claims).unwrap();
    })
    .await;
    measure("JWT RS256 verify (access token)", 5_000, |_| async {
        tokens::verify(Verifier::Access(&public, &config.issuer), &config, &jwt, 1).unwrap();
    })
    .await;
    measure("JWT HS256 sign (refresh token)", 20_000, |_| async {
        tokens::sign_refresh(&hmac, &refresh_claims).unwrap();
    })
    .await;
    measure("JWT HS256 verify (refresh token)", 20_000, |_| async {
        tokens::verify(Verifier::Refresh(&hmac), &config, &refresh_jwt, 1).unwrap();
    })
    .await;
    measure("RSA-2048 key generation (rotation only)", 5, |_| async {
        SigningKey::generate(0).unwrap();
    })
    .await;

    let means: serde_json::Map<String, serde_json::Value> = MEANS
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-primitives.json");
    std::fs::write(&out, serde_json::to_string_pretty(&means).unwrap()).unwrap();

    println!("-- handlers on SQLite (argon2 at minimal cost, so hashing is excluded)");
    let dir = tempfile::tempdir().unwrap();
    let mut config = bench_config();
    let provider = with_test_provider(&mut config);
    config.sqlite_path = dir.path().join("bench.sqlite3");
    config.outbox_dir = dir.path().join("outbox");
    let clock = Arc::new(ManualClock::default());
    let state = AppState::local(config, clock.clone()).await.unwrap();
    let pw = "correct horse battery staple 42";
    let call = |endpoint: Endpoint, req: Request| {
        let state = state.clone();
        async move { authyy::handle(&state, endpoint, req).await }
    };

    measure("POST /auth/users (signup)", 300, |i| {
        let b =
            json!({"username": format!("user{i}"), "email": format!("user{i}@example.com"), "password": pw});
        let req = event("POST", "/auth/users", None, Some(&b));
        let c = call(Endpoint::Signup, req);
        async move { assert_eq!(c.await.status(), 201) }
    })
    .await;
    let login_body = json!({"email": "user1@example.com", "password": pw});
    measure("POST /auth/login", 300, |_| {
        let c = call(
            Endpoint::Login,
            event("POST", "/auth/login", None, Some(&login_body)),
        );
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
    // The same login with a token hook: an HTTP hook on loopback that answers at once, so the
    // difference is authyy's side of a hook (the user view's reads, signing the request, the
    // call, checking the answer and the token's size).
    let mut hooked = state.clone();
    hooked.hooks = Arc::new(authyy::hooks::Hooks::new(
        authyy::config::hooks::HookSettings {
            token: Some(authyy::config::hooks::HookTarget::Http {
                url: format!("{}/token", loopback_hook().await),
                secret: authyy::config::hooks::WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                    .unwrap(),
            }),
            ..Default::default()
        },
        authyy::hooks::LambdaAccess::Local(String::new()),
    ));
    measure("POST /auth/login + HTTP token hook (loopback)", 300, |_| {
        let (hooked, b) = (hooked.clone(), login_body.clone());
        async move {
            let r = authyy::handle(
                &hooked,
                Endpoint::Login,
                event("POST", "/auth/login", None, Some(&b)),
            )
            .await;
            assert_eq!(r.status(), 200)
        }
    })
    .await;
    let login = body(
        &call(
            Endpoint::Login,
            event("POST", "/auth/login", None, Some(&login_body)),
        )
        .await,
    );
    let (access, refresh) = admin_tokens(&state, &login).await;
    measure("GET /auth/me", 1000, |_| {
        let c = call(Endpoint::Me, event("GET", "/auth/me", Some(&access), None));
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
    measure("GET /auth/users (50 per page)", 300, |_| {
        let c = call(
            Endpoint::ListUsers,
            event("GET", "/auth/users", Some(&access), None),
        );
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
    let start = Instant::now();
    let n = 300;
    refresh_chain(&state, refresh, n).await;
    println!(
        "{:<44} mean {:>10.3?}   ({n} runs)",
        "POST /auth/tokens (refresh, rotating)",
        start.elapsed() / n
    );
    let forgot = json!({"email": "user2@example.com"});
    measure("POST /auth/forgot-password (queues the mail)", 300, |_| {
        let c = call(
            Endpoint::ForgotPassword,
            event("POST", "/auth/forgot-password", None, Some(&forgot)),
        );
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
    // Each job names a request forgot-password recorded (one job per request, as queued).
    // One more than the runs: the warm-up takes one too.
    let mut jobs = vec![];
    for _ in 0..301 {
        jobs.push(reset_job(&state, "user2@example.com").await);
    }
    let jobs = std::sync::Mutex::new(jobs);
    measure("mailer: a reset job (token, mail to outbox)", 300, |_| {
        let state = state.clone();
        let job = jobs.lock().unwrap().pop().unwrap();
        async move {
            let done = authyy::endpoints::deliver(&state, &job).await.unwrap();
            assert_eq!(done, authyy::endpoints::Delivery::Sent);
        }
    })
    .await;
    let reset = json!({"token": "unknown-token", "password": pw});
    measure("POST /auth/reset-password (unknown token)", 1000, |_| {
        let c = call(
            Endpoint::ResetPassword,
            event("POST", "/auth/reset-password", None, Some(&reset)),
        );
        async move { assert_eq!(c.await.status(), 400) }
    })
    .await;

    // Second factors: an enrolment started, and login's second step with a TOTP code.
    let email = authyy::domain::Email::parse("user1@example.com").unwrap();
    let user1 = state.users.user_by_email(&email).await.unwrap().unwrap();
    state.users.set_email_verified(user1.id).await.unwrap();
    let start = || {
        call(
            Endpoint::StartTotp,
            event("POST", "/auth/mfa/totp", Some(&access), None),
        )
    };
    measure("POST /auth/mfa/totp (start an enrolment)", 300, |_| {
        let c = start();
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
    // Login's second step: a code is used once per account and step, so each run is another
    // user's challenge, all answered with the step after the one their confirm used.
    let step = clock.now() as u64 / 30;
    let mut challenges = vec![];
    for i in 10..111 {
        challenges.push(second_step_challenge(&state, &format!("user{i}@example.com"), step, pw).await);
    }
    clock.advance_secs(30);
    let challenges = std::sync::Mutex::new(challenges);
    measure("POST /auth/login/mfa (a TOTP code)", 100, |_| {
        let (token, secret) = challenges.lock().unwrap().pop().unwrap();
        let b = json!({"mfa_token": token, "code": secret.code_at_step(step + 1)});
        let c = call(
            Endpoint::LoginMfa,
            event("POST", "/auth/login/mfa", None, Some(&b)),
        );
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;

    // Passkeys: one registered to user2, then sign-in options, and sign-ins answering them
    // (the assertions made beforehand by the tests' software authenticator, outside the timing).
    let user2 = authyy::domain::Email::parse("user2@example.com").unwrap();
    let user2 = state.users.user_by_email(&user2).await.unwrap().unwrap();
    let b = json!({"email": "user2@example.com", "password": pw});
    let signed = body(&call(Endpoint::Login, event("POST", "/auth/login", None, Some(&b))).await);
    let user2_access = signed["tokens"]["access"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let key = registered_passkey(&state, user2.id, &user2_access, pw).await;
    clock.advance_ms(2);
    let options = std::sync::Mutex::new(vec![]);
    measure("POST /auth/passkeys/login/options", 300, |_| {
        let c = call(
            Endpoint::PasskeyLoginOptions,
            event("POST", "/auth/passkeys/login/options", None, None),
        );
        let options = &options;
        async move {
            let r = c.await;
            assert_eq!(r.status(), 200);
            options.lock().unwrap().push(body(&r));
        }
    })
    .await;
    let mut options = options.into_inner().unwrap();
    options.truncate(101);
    let sign_ins = std::sync::Mutex::new(passkey_sign_ins(&options, &key));
    measure("POST /auth/passkeys/login", 100, |_| {
        let b = sign_ins.lock().unwrap().remove(0);
        let c = call(
            Endpoint::PasskeyLogin,
            event("POST", "/auth/passkeys/login", None, Some(&b)),
        );
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
    // Provider sign-ins: the callback (the provider's token endpoint and keys over loopback
    // HTTP, then the account and a one-time code) and the token exchange.
    if provider {
        let callbacks = std::sync::Mutex::new(provider_callbacks(&state, 31, "sqlite").await);
        let codes = std::sync::Mutex::new(vec![]);
        measure("GET /auth/oauth/{provider}/callback", 30, |_| {
            let c = call(Endpoint::OAuthCallback, callbacks.lock().unwrap().pop().unwrap());
            let codes = &codes;
            async move {
                let code = code_of(&c.await);
                codes.lock().unwrap().push(code);
            }
        })
        .await;
        measure("POST /auth/oauth/token", 30, |_| {
            let code = codes.lock().unwrap().pop().unwrap();
            let c = call(Endpoint::OAuthToken, token_exchange(&code));
            async move { assert_eq!(c.await.status(), 200) }
        })
        .await;
    }
    let admin_get = format!("/auth/admin/users/{}", user2.id);
    measure("GET /auth/admin/users/{id}", 300, |_| {
        let c = call(
            Endpoint::AdminGetUser,
            event("GET", &admin_get, Some(&access), None),
        );
        async move { assert_eq!(c.await.status(), 200) }
    })
    .await;
}

/// A reset job for `email`, with its request stored as forgot-password stores it.
async fn reset_job(state: &AppState, email: &str) -> String {
    let request = authyy::store::MailRequest {
        id: authyy::randomness::new_id(),
        kind: authyy::store::MailRequestKind::PasswordReset,
        email: email.to_string(),
        expires_at: i64::MAX / 2,
    };
    state.mail_requests.put_mail_request(&request).await.unwrap();
    authyy::queue::MailJob::PasswordReset { request: request.id }.to_json()
}

/// An HTTP token hook on 127.0.0.1 that answers every request at once with a claim (keep-alive,
/// as the hook client's pool uses it); its base URL.
async fn loopback_hook() -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let answer = r#"{"claims":{"tenant":"acme"}}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if stream.get_mut().write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}
