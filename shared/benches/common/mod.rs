//! What both benchmarks need: API Gateway events, response bodies, and a chain of refreshes.

use authyy::config::{Config, Env, HashCost};
use authyy::{AppState, Endpoint};
use lambda_http::{Body, Request};
use serde_json::{json, Value};

/// A minimal API Gateway HTTP API (payload 2.0) event from 127.0.0.1.
pub fn event(method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Request {
    let mut headers = json!({"content-type": "application/json"});
    if let Some(t) = bearer {
        headers["authorization"] = format!("Bearer {t}").into();
    }
    let ev = json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}, "timeEpoch": 0},
        "body": body.map(|b| b.to_string()), "isBase64Encoded": false
    });
    lambda_http::request::from_str(&ev.to_string()).expect("event")
}

pub fn body(resp: &lambda_http::Response<Body>) -> Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Refreshes `n` times in a row, each time with the token the previous refresh returned.
pub async fn refresh_chain(state: &AppState, mut refresh: String, n: u32) {
    for _ in 0..n {
        let req = event("POST", "/auth/tokens", Some(&refresh), None);
        let r = authyy::handle(state, Endpoint::Refresh, req).await;
        assert_eq!(r.status(), 200);
        refresh = body(&r)["tokens"]["refresh"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
    }
}

/// The access and refresh tokens of a login response, its user made an admin (for the listing).
pub async fn admin_tokens(state: &AppState, login: &Value) -> (String, String) {
    let token = |kind: &str, field: &str| login["tokens"][kind][field].as_str().unwrap().to_string();
    let id = login["user"]["id"].as_u64().unwrap();
    assert!(state
        .users
        .set_role(id, authyy::domain::Role::Admin, 0)
        .await
        .unwrap());
    (token("access", "access_token"), token("refresh", "refresh_token"))
}

/// The configuration of the handler benchmarks: no per-client limits, no failure backoff or
/// mail cap, and argon2 at minimal cost so the handler's own work is what is measured.
pub fn bench_config() -> Config {
    let mut config = Config::from_env(&Env::from_pairs([("AUTH_IP_LIMITS", "off")])).unwrap();
    config.hash_cost = HashCost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    config.password_min_score = 0;
    config.login_max_failures = u32::MAX;
    config.forgot_per_email_limit.max = u32::MAX;
    config
}

/// Turns TOTP on for `email` (its address verified, the code of `step` confirming) and answers
/// the `mfa_token` of a new login with the secret.
pub async fn second_step_challenge(
    state: &AppState,
    email: &str,
    step: u64,
    pw: &str,
) -> (String, authyy::domain::TotpSecret) {
    let login = |state: AppState| async move {
        let b = json!({"email": email, "password": pw});
        body(
            &authyy::handle(
                &state,
                Endpoint::Login,
                event("POST", "/auth/login", None, Some(&b)),
            )
            .await,
        )
    };
    let parsed = authyy::domain::Email::parse(email).unwrap();
    let user = state.users.user_by_email(&parsed).await.unwrap().unwrap();
    state.users.set_email_verified(user.id).await.unwrap();
    let access = login(state.clone()).await["tokens"]["access"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let start = event("POST", "/auth/mfa/totp", Some(&access), None);
    let started = body(&authyy::handle(state, Endpoint::StartTotp, start).await);
    let secret = authyy::domain::TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let confirm = json!({"code": secret.code_at_step(step), "password": pw});
    let confirm = event("POST", "/auth/mfa/totp/confirm", Some(&access), Some(&confirm));
    assert_eq!(
        authyy::handle(state, Endpoint::ConfirmTotp, confirm)
            .await
            .status(),
        200
    );
    let token = login(state.clone()).await["mfa_token"]
        .as_str()
        .unwrap()
        .to_string();
    (token, secret)
}

/// The tests' software authenticator (shared/tests/api/authenticator.py, written apart from
/// authyy): `create` or `get` for `request`.
pub fn authenticator(command: &str, request: &Value) -> Value {
    use std::io::Write;
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/authenticator.py");
    let mut child = std::process::Command::new(python)
        .args([script, command])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python with cryptography and cbor2 (./infra/bench.sh installs them)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "authenticator.py {command} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The origin the default configuration allows passkeys from.
pub const ORIGIN: &str = "http://localhost:3000";

/// A passkey registered to the account of `access` (its address verified first): its key.
pub async fn registered_passkey(state: &AppState, user_id: u64, access: &str, pw: &str) -> Value {
    state.users.set_email_verified(user_id).await.unwrap();
    let options = event("POST", "/auth/passkeys/register/options", Some(access), None);
    let options = body(&authyy::handle(state, Endpoint::PasskeyRegisterOptions, options).await);
    let request = json!({"options": options["publicKey"], "origin": ORIGIN, "alg": -7, "fmt": "none"});
    let made = authenticator("create", &request);
    let b =
        json!({"challenge_id": options["challenge_id"], "credential": made["credential"], "password": pw});
    let r = authyy::handle(
        state,
        Endpoint::RegisterPasskey,
        event("POST", "/auth/passkeys/register", Some(access), Some(&b)),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", body(&r));
    made["key"].clone()
}

/// The sign-in bodies answering `options` (each a `POST /auth/passkeys/login/options` answer)
/// with `key`, its counter one higher each time.
pub fn passkey_sign_ins(options: &[Value], key: &Value) -> Vec<Value> {
    options
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut key = key.clone();
            key["sign_count"] = json!(i + 1);
            let got = authenticator(
                "get",
                &json!({"options": o["publicKey"], "origin": ORIGIN, "key": key}),
            );
            json!({"challenge_id": o["challenge_id"], "credential": got["credential"]})
        })
        .collect()
}

/// An API Gateway event with a query string.
fn event_query(method: &str, path: &str, query: &str) -> Request {
    let ev = json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": query,
        "headers": {},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}, "timeEpoch": 0},
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&ev.to_string()).expect("event")
}

/// Starts the test provider (node's oidc-provider, infra/oidc, on 127.0.0.1; it ends with this
/// process) and names it `local` in `config`; false (and nothing changed) when it is not
/// installed (./infra/test.sh and ./infra/bench.sh install it).
pub fn with_test_provider(config: &mut Config) -> bool {
    use authyy::config::federation::{ClientSecret, Provider, ProviderKind};
    use std::io::BufRead;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/oidc");
    if !dir.join("node_modules/oidc-provider").exists() {
        return false;
    }
    let mut child = std::process::Command::new("node")
        .arg(dir.join("provider.mjs"))
        .args(["0", "http://localhost:9000/auth/oauth/local/callback"])
        .env("AUTHYY_EXIT_WITH_STDIN", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs the test provider");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    std::mem::forget(child.stdin.take());
    std::mem::forget(child);
    let said: Value = serde_json::from_str(&line).unwrap();
    config.oauth_providers = vec![Provider {
        name: "local".into(),
        kind: ProviderKind::Oidc {
            issuer: said["issuer"].as_str().unwrap().to_string(),
        },
        client_id: "authyy".into(),
        client_secret: ClientSecret::Value("authyy-test-secret".into()),
        scopes: "openid email profile".into(),
        link_by_email: false,
    }];
    true
}

/// The frontend's PKCE verifier of the provider sign-ins, and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The front channels of `count` provider sign-ins (`GET .../authorize`, then the provider's
/// pages gone through by infra/oidc/drive.mjs as new users named after `tag`): the callback
/// requests the provider sent the browser back with.
pub async fn provider_callbacks(state: &AppState, count: u32, tag: &str) -> Vec<Request> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/oidc/drive.mjs");
    let mut callbacks = vec![];
    for i in 0..count {
        let query =
            format!("redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fcallback&code_challenge={CHALLENGE}");
        let req = event_query("GET", "/auth/oauth/local/authorize", &query);
        let r = authyy::handle(state, Endpoint::OAuthAuthorize, req).await;
        assert_eq!(r.status(), 302, "{:?}", body(&r));
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let login = format!("fed{i}-{tag}@example.com");
        let out = std::process::Command::new("node")
            .args([script, &location, &login, "consent"])
            .output()
            .expect("node drives the provider's pages");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let back = String::from_utf8(out.stdout).unwrap();
        let (path, query) = back
            .trim()
            .trim_start_matches("http://localhost:9000")
            .split_once('?')
            .unwrap();
        callbacks.push(event_query("GET", path, query));
    }
    callbacks
}

/// A callback's answer: the frontend's one-time code, from its redirect's fragment.
pub fn code_of(resp: &lambda_http::Response<Body>) -> String {
    assert_eq!(resp.status(), 302, "{:?}", body(resp));
    let location = resp.headers()["location"].to_str().unwrap();
    let fragment = location.split_once('#').unwrap().1;
    form_urlencoded::parse(fragment.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// The token exchange of a provider sign-in's code.
pub fn token_exchange(code: &str) -> Request {
    event(
        "POST",
        "/auth/oauth/token",
        None,
        Some(&json!({"code": code, "code_verifier": VERIFIER})),
    )
}
