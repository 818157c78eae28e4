//! What every test module uses: a test application (the real state over one backend, a movable
//! clock, the mail it sent) with a helper per flow, the two backends, and [`both_backends!`],
//! which runs a case on SQLite and on DynamoDB over the local AWS server.
//!
//! A case is a private `async fn name<B: Backend>()` in its area's module, listed once in that
//! module's `both_backends!(...)`. A case left off the list is dead code, which the lint run
//! (`cargo clippy --all-targets -D warnings`) refuses, so no case can silently not run.

pub mod admin;
pub mod audit;
pub mod dynamo;
pub mod faults;
pub mod hooks;
pub mod mfa;
pub mod oidc;
pub use mfa::totp_at;
pub mod passkeys;
pub use passkeys::{authenticator, creating, getting};
pub mod self_service;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use std::time::Duration;

pub use authyy::clock::{Clock, ManualClock};
pub use authyy::config::{Config, Env, Limit};
pub use authyy::{AppState, Endpoint};
use lambda_http::{Body, Request};
pub use serde_json::{json, Value};

/// How a backend builds a fresh test application from a configuration.
pub trait Backend {
    fn app(config: Config) -> BoxFut<'static, TestApp>;
    /// A mail queue of this backend that refuses every job (full, or gone).
    fn broken_queue() -> BoxFut<'static, Arc<dyn authyy::queue::MailQueue>>;
}

/// Runs each listed case on both backends: `<module>::sqlite::<case>` and
/// `<module>::dynamo::<case>`.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case::<$crate::helpers::sqlite::Sqlite>().await;
                }
            )*
        }

        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case::<$crate::helpers::dynamo::Dynamo>().await;
                }
            )*
        }
    };
}
pub(crate) use both_backends;

/// The keys every test application starts with: generated once per run (RSA generation is
/// slow in debug builds), as a fresh deploy's first rotation makes them.
pub fn test_keys() -> &'static authyy::keys::PrivateKeys {
    static KEYS: std::sync::OnceLock<authyy::keys::PrivateKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| authyy::keys::PrivateKeys {
        hmac: authyy::keys::KeySet::single("k1", authyy::keys::random_key()).unwrap(),
        rsa: Some(authyy::keys::Lifecycle::start(0).unwrap()),
    })
}

/// Keys nobody published: an attacker's.
pub fn other_keys() -> &'static authyy::keys::Lifecycle {
    static KEYS: std::sync::OnceLock<authyy::keys::Lifecycle> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| authyy::keys::Lifecycle::start(0).unwrap())
}

/// A fresh application on backend `B` with the test configuration.
pub async fn app<B: Backend>() -> TestApp {
    B::app(test_config()).await
}

/// The test configuration changed by `f`.
pub fn with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = test_config();
    f(&mut c);
    c
}

/// A FastAPI-shaped 422 with an error at `body.<field>`.
pub fn assert_422_at(r: &Resp, field: &str) {
    assert_eq!(r.status, 422, "{:?}", r.body);
    let errors = r.body["detail"].as_array().expect("a FastAPI error list");
    assert!(
        errors
            .iter()
            .any(|e| e["loc"] == json!(["body", field]) && e["msg"].is_string() && e["type"].is_string()),
        "no error at body.{field}: {:?}",
        r.body
    );
}

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads back what the mailer sent, and hands it what the endpoints queued.
pub trait Inbox: Send + Sync {
    /// The bodies of every mail sent to `to`, oldest first.
    fn mails_to<'a>(&'a self, to: &'a str) -> BoxFut<'a, Vec<String>>;
    /// Hands every queued mail job to the mailer function's handler with `state`, as SQS does
    /// (batches of up to 10), and returns the bodies of the messages it reported as failed.
    /// Those go back on the queue, to be handed over again by the next call (as SQS does after
    /// the visibility timeout).
    fn deliver<'a>(&'a self, state: &'a AppState) -> BoxFut<'a, Vec<String>>;
}

/// Runs `messages` (id, body) through the mailer function's handler in batches of 10, as SQS
/// invokes it; returns the ids it reported as failed, each checked to be one of the batch's.
pub async fn mailer_batches(state: &AppState, messages: &[(String, String)]) -> Vec<String> {
    use authyy::runtime::mailer::{handle_batch, SqsEvent, SqsMessage};
    let mut failed = vec![];
    for batch in messages.chunks(10) {
        let event = SqsEvent {
            records: batch
                .iter()
                .map(|(id, body)| SqsMessage {
                    message_id: id.clone(),
                    body: body.clone(),
                })
                .collect(),
        };
        let response = handle_batch(state, event, Duration::from_secs(20)).await;
        for f in response.batch_item_failures {
            assert!(
                batch.iter().any(|(id, _)| *id == f.item_identifier),
                "the mailer reported {:?}, which is no message of its batch",
                f.item_identifier
            );
            failed.push(f.item_identifier);
        }
    }
    failed
}

pub struct TestApp {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub inbox: Arc<dyn Inbox>,
    /// The key store the state reads (to start a second instance over it, or rotate keys).
    pub keys: Option<Arc<dyn authyy::keys::KeyStore>>,
    /// Kept alive for the test's duration (temporary files and the like).
    pub _guard: Box<dyn Send + Sync>,
}

pub struct Resp {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The configuration tests start from; each test may change it before building its app.
pub fn test_config() -> Config {
    Config::from_env(&Env::from_pairs([])).unwrap()
}

/// An API Gateway HTTP API (payload 2.0) event, parsed by lambda_http as the runtime does.
pub fn event(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    ip: &str,
) -> Request {
    let mut hdrs = serde_json::Map::new();
    for (k, v) in headers {
        hdrs.insert(k.to_lowercase(), Value::from(*v));
    }
    if body.is_some() {
        hdrs.entry("content-type").or_insert("application/json".into());
    }
    let mut qs = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // API Gateway hands the function decoded parameters.
        qs.insert(k.to_string(), Value::from(percent_decode(v)));
    }
    let ev = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "queryStringParameters": if qs.is_empty() { Value::Null } else { Value::Object(qs) },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "test",
            "domainName": "test.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "test",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": ip, "userAgent": "tests" },
            "requestId": "r1",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "09/Aug/2025:10:30:00 +0000",
            "timeEpoch": 1754735400000i64
        },
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&ev.to_string()).expect("a valid API Gateway event")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TestApp {
    pub async fn call(&self, endpoint: Endpoint, req: Request) -> Resp {
        let resp = authyy::handle(&self.state, endpoint, req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A request to `endpoint` with a raw body, from 192.0.2.1.
    pub async fn raw(&self, endpoint: Endpoint, body: Option<&str>, bearer: Option<&str>) -> Resp {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let req = event(
            endpoint.method().as_str(),
            endpoint.path(),
            "",
            &headers,
            body,
            "192.0.2.1",
        );
        self.call(endpoint, req).await
    }

    pub async fn post(&self, endpoint: Endpoint, body: Value) -> Resp {
        self.raw(endpoint, Some(&body.to_string()), None).await
    }

    pub async fn get(&self, endpoint: Endpoint, bearer: &str) -> Resp {
        self.raw(endpoint, None, Some(bearer)).await
    }

    pub async fn get_query(&self, endpoint: Endpoint, query: &str, bearer: &str) -> Resp {
        let auth = format!("Bearer {bearer}");
        let req = event(
            "GET",
            endpoint.path(),
            query,
            &[("authorization", &auth)],
            None,
            "192.0.2.1",
        );
        self.call(endpoint, req).await
    }

    pub async fn signup(&self, username: &str, email: &str, password: &str) -> Resp {
        self.post(
            Endpoint::Signup,
            json!({"username": username, "email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post(Endpoint::Login, json!({"email": email, "password": password}))
            .await
    }

    /// `POST /auth/login` from the client address `ip`.
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> Resp {
        let body = json!({"email": email, "password": password}).to_string();
        let req = event("POST", Endpoint::Login.path(), "", &[], Some(&body), ip);
        self.call(Endpoint::Login, req).await
    }

    /// Signs up and logs in; returns (access, refresh, user id).
    pub async fn user(&self, username: &str) -> (String, String, u64) {
        let email = format!("{username}@example.com");
        let r = self.signup(username, &email, STRONG).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = self.login(&email, STRONG).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        (access(&r), refresh(&r), r.body["user"]["id"].as_u64().unwrap())
    }

    pub async fn refresh(&self, token: &str) -> Resp {
        self.raw(Endpoint::Refresh, None, Some(token)).await
    }

    pub async fn make_admin(&self, id: u64) {
        assert!(self
            .state
            .users
            .set_role(id, authyy::domain::Role::Admin, 0)
            .await
            .unwrap());
    }

    /// `GET /auth/me` with `access`.
    pub async fn me(&self, access: &str) -> Resp {
        self.get(Endpoint::Me, access).await
    }

    /// `POST /auth/logout` with `access`: this session only.
    pub async fn logout(&self, access: &str) -> Resp {
        self.raw(Endpoint::Logout, None, Some(access)).await
    }

    /// `POST /auth/logout {"all": true}` with `access`: every session of the user.
    pub async fn logout_all(&self, access: &str) -> Resp {
        self.raw(Endpoint::Logout, Some(r#"{"all": true}"#), Some(access))
            .await
    }

    /// `POST /auth/forgot-password` for `email`.
    pub async fn forgot(&self, email: &str) -> Resp {
        self.post(Endpoint::ForgotPassword, json!({"email": email})).await
    }

    /// `POST /auth/reset-password` with `token` and the new `password`.
    pub async fn reset(&self, token: &str, password: &str) -> Resp {
        self.post(
            Endpoint::ResetPassword,
            json!({"token": token, "password": password}),
        )
        .await
    }

    /// Delivers every queued mail job, as the mailer function does; returns the bodies of the
    /// jobs that failed (they stay queued).
    pub async fn deliver_queued(&self) -> Vec<String> {
        self.inbox.deliver(&self.state).await
    }

    /// Delivers what is queued, then reads every mail sent to `to`, oldest first.
    pub async fn mails_to(&self, to: &str) -> Vec<String> {
        self.deliver_queued().await;
        self.inbox.mails_to(to).await
    }

    /// `POST /auth/verify-email` with `token`.
    pub async fn verify_email(&self, token: &str) -> Resp {
        self.post(Endpoint::VerifyEmail, json!({"token": token})).await
    }

    /// `POST /auth/verify-email/resend` for `email`.
    pub async fn resend(&self, email: &str) -> Resp {
        self.post(Endpoint::ResendVerification, json!({"email": email}))
            .await
    }

    /// The token of the newest verification mail to `email` (signup queues one).
    pub async fn verification_token(&self, email: &str) -> String {
        let mails = self.mails_to(email).await;
        let last = mails
            .iter()
            .rev()
            .find(|m| m.contains("Confirm your email"))
            .expect("a verification mail");
        token_in(last).expect("a token in the mail")
    }

    /// Delivers what is queued, then reads the reset mails sent to `to`, oldest first.
    pub async fn reset_mails_to(&self, to: &str) -> Vec<String> {
        resets(self.mails_to(to).await)
    }

    /// Asks for a reset of `email` and returns the token from the newest mail.
    pub async fn reset_token(&self, email: &str) -> String {
        // Jobs queued before go out first: the mailer delivers a batch concurrently, in no set
        // order, so this request's mail is surely the newest only if it goes out alone.
        self.deliver_queued().await;
        let r = self.forgot(email).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mails = self.reset_mails_to(email).await;
        let last = mails.last().expect("a reset mail");
        token_in(last).expect("a token in the mail")
    }
}

/// The reset mails among `mails` (signup also mails, a verification link).
pub fn resets(mails: Vec<String>) -> Vec<String> {
    mails
        .into_iter()
        .filter(|m| m.contains("Choose a new password"))
        .collect()
}

/// The reset token in a mail body (from the link `...#token=<token>`).
pub fn token_in(mail: &str) -> Option<String> {
    let start = mail.find("token=")? + "token=".len();
    Some(
        mail[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// Six wrong guesses at `email`, one from each of six networks: the account-wide lock of an app
/// whose accounts lock after 6 failures from anywhere.
pub async fn lock_account_from_everywhere(app: &TestApp, email: &str) {
    for i in 0..6 {
        let r = app
            .login_from(&format!("198.51.100.{}", 10 + i), email, "a wrong guess 123")
            .await;
        assert_eq!(r.status, 401, "guess {i}");
    }
}

pub const STRONG: &str = "correct horse battery staple 42";
pub const STRONG2: &str = "violet tractor jumps over moon 7";

/// The claims a token carries (read, not verified).
pub fn claims_of(token: &str) -> authyy::tokens::Claims {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    serde_json::from_slice(&json).expect("JSON claims")
}

pub fn access(r: &Resp) -> String {
    r.body["tokens"]["access"]["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn refresh(r: &Resp) -> String {
    r.body["tokens"]["refresh"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string()
}
