//! authyy as an identity provider: the discovery document and JWKS, access tokens any JWT
//! library verifies from the discovery URL alone, and a key lifecycle in which no valid token is
//! ever refused (two function instances sharing one key store, rotations, a retired key). The
//! rotation function's four steps: key_rotation_aws.rs.

use std::sync::Arc;

use crate::helpers::*;
use authyy::keys::lifecycle::min_published;
use authyy::keys::{rotation, CachedKeys, KeyStore};
use authyy::tokens::TokenIssuer;
use base64::Engine as _;
use lambda_http::Body;

/// The functions' key cache in these tests, as deployed (AUTH_KEY_CACHE_SECONDS).
pub const CACHE: Duration = Duration::from_secs(300);
/// The access-token lifetime (AUTH_ACCESS_TTL_SECONDS, default).
pub const ACCESS_TTL: Duration = Duration::from_secs(900);

fn keys(app: &TestApp) -> Arc<dyn KeyStore> {
    app.keys
        .clone()
        .expect("the test application exposes its key store")
}

/// Another function instance over the same store and clock, with its own key caches.
fn instance(app: &TestApp, cache: Duration) -> AppState {
    let keys = keys(app);
    let clock: Arc<dyn Clock> = app.clock.clone();
    let mut state = app.state.clone();
    state.tokens = Arc::new(TokenIssuer::new(
        CachedKeys::private(keys.clone(), Some(cache), clock.clone()),
        CachedKeys::public(keys, Some(cache), clock.clone()),
        state.config.clone(),
        clock,
    ));
    state
}

/// One scheduled rotation, now.
async fn rotate(app: &TestApp) {
    rotation::rotate(
        keys(app).as_ref(),
        app.clock.now(),
        min_published(CACHE, ACCESS_TTL),
    )
    .await
    .unwrap();
}

async fn call(state: &AppState, endpoint: Endpoint, bearer: &str) -> u16 {
    let auth = format!("Bearer {bearer}");
    let req = event(
        endpoint.method().as_str(),
        endpoint.path(),
        "",
        &[("authorization", auth.as_str())],
        None,
        "192.0.2.1",
    );
    authyy::handle(state, endpoint, req).await.status().as_u16()
}

async fn refreshed(state: &AppState, refresh_token: &str) -> (String, String) {
    let req = event(
        "POST",
        Endpoint::Refresh.path(),
        "",
        &[("authorization", &format!("Bearer {refresh_token}"))],
        None,
        "192.0.2.1",
    );
    let resp = authyy::handle(state, Endpoint::Refresh, req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => panic!("not JSON"),
    };
    (
        body["tokens"]["access"]["access_token"]
            .as_str()
            .unwrap()
            .to_string(),
        body["tokens"]["refresh"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn discovery_document_and_jwks_describe_the_tokens<B: Backend>() {
    let app = app::<B>().await;
    let conf = app.raw(Endpoint::OpenIdConfiguration, None, None).await;
    assert_eq!(conf.status, 200);
    let issuer = conf.body["issuer"].as_str().unwrap().to_string();
    assert!(issuer.ends_with("/auth"));
    assert_eq!(conf.body["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(
        conf.body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert!(conf.header("cache-control").unwrap().contains("max-age"));

    let jwks = app.raw(Endpoint::Jwks, None, None).await;
    assert_eq!(jwks.status, 200);
    assert!(jwks
        .header("cache-control")
        .unwrap()
        .starts_with("public, max-age="));
    let published = jwks.body["keys"].as_array().unwrap();
    assert_eq!(published.len(), 2, "the current and the next key");
    for key in published {
        assert_eq!(
            (key["kty"].as_str(), key["use"].as_str(), key["alg"].as_str()),
            (Some("RSA"), Some("sig"), Some("RS256"))
        );
        assert_eq!(key.as_object().unwrap().len(), 6, "public members only: {key}");
    }

    let (access, _, _) = app.user("john_doe").await;
    let claims = claims_of(&access);
    assert_eq!(claims.iss, issuer);
    assert_eq!(claims.scope.as_deref(), Some("user"));
    assert!(published.iter().any(|k| k["kid"] == kid(&access)));
}

async fn an_admin_token_carries_the_admin_scope<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh_token, id) = app.user("john_doe").await;
    app.make_admin(id).await;
    let r = app.refresh(&refresh_token).await;
    assert_eq!(claims_of(&access(&r)).scope.as_deref(), Some("user admin"));
    let login = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(claims_of(&access(&login)).scope.as_deref(), Some("user admin"));
}

/// A minimal HTTP server on 127.0.0.1 serving the discovery endpoints of `state`.
async fn serve_discovery(listener: tokio::net::TcpListener, state: AppState) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    while let Ok((mut socket, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let endpoint = [Endpoint::OpenIdConfiguration, Endpoint::Jwks]
                .into_iter()
                .find(|e| e.serves(&path));
            let (status, body) = match endpoint {
                Some(e) => {
                    let resp =
                        authyy::handle(&state, e, event("GET", &path, "", &[], None, "127.0.0.1")).await;
                    let body = match resp.body() {
                        Body::Text(t) => t.clone(),
                        _ => String::new(),
                    };
                    (resp.status().as_u16(), body)
                }
                None => (404, "{}".into()),
            };
            let out = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(out.as_bytes()).await;
        });
    }
}

/// PyJWT, given only the discovery URL: fetches the document, then the JWKS it names, and
/// verifies the token's signature, issuer and audience. Prints the claims.
const PYJWT_VERIFY: &str = r#"
import json, sys, urllib.request
import jwt
issuer, audience, token = sys.argv[1:4]
conf = json.load(urllib.request.urlopen(issuer + "/.well-known/openid-configuration"))
assert conf["issuer"] == issuer, conf
key = jwt.PyJWKClient(conf["jwks_uri"]).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=conf["id_token_signing_alg_values_supported"],
                    audience=audience, issuer=conf["issuer"])
print(json.dumps(claims))
"#;

fn python() -> String {
    std::env::var("AUTHYY_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

async fn an_independent_jwt_library_verifies_a_token_from_the_discovery_url_alone<B: Backend>() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}/auth", listener.local_addr().unwrap().port());
    let app = B::app(with(|c| c.issuer = issuer.clone())).await;
    let server = tokio::spawn(serve_discovery(listener, app.state.clone()));
    let (access, _, id) = app.user("john_doe").await;
    let audience = app.state.config.audience.clone();
    let run = |token: String| {
        let (issuer, audience) = (issuer.clone(), audience.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(python())
                .args(["-c", PYJWT_VERIFY, &issuer, &audience, &token])
                .output()
                .expect("run python with PyJWT (./infra/test.sh installs it into .venv)")
        })
    };
    let out = run(access.clone()).await.unwrap();
    assert!(
        out.status.success(),
        "PyJWT refused the token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(claims["iss"], issuer);
    // And it refuses a token whose payload was changed.
    let mut parts: Vec<String> = access.split('.').map(str::to_string).collect();
    let mut forged = claims_of(&access);
    forged.sub = "999".into();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let out = run(parts.join(".")).await.unwrap();
    assert!(!out.status.success(), "PyJWT accepted a forged token");
    server.abort();
}

async fn a_token_of_a_newly_promoted_key_is_accepted_by_an_instance_with_an_old_cache<B: Backend>() {
    let app = app::<B>().await;
    let (access0, refresh0, _) = app.user("john_doe").await;
    // An instance that read the key sets before the rotation and keeps them for an hour.
    let old = instance(&app, Duration::from_secs(3600));
    assert_eq!(call(&old, Endpoint::Me, &access0).await, 200);

    app.clock
        .advance_secs(min_published(CACHE, ACCESS_TTL).as_secs() as i64);
    let before = keys(&app).load().await.unwrap();
    rotate(&app).await;
    let signer = instance(&app, CACHE);
    let (access1, _) = refreshed(&signer, &refresh0).await;
    assert_eq!(
        kid(&access1),
        before.lifecycle().unwrap().next.kid(),
        "the next key signs now"
    );
    assert_eq!(
        call(&old, Endpoint::Me, &access1).await,
        200,
        "published before it signed"
    );
    assert_eq!(
        call(&signer, Endpoint::Me, &access0).await,
        401,
        "access0 expired long ago"
    );
}

async fn a_retired_key_is_refused_once_the_caches_expire_and_the_next_key_takes_over<B: Backend>() {
    let app = app::<B>().await;
    let verifier = instance(&app, CACHE);
    let (access0, refresh0, _) = app.user("john_doe").await;
    assert_eq!(call(&verifier, Endpoint::Me, &access0).await, 200);

    rotation::retire(keys(&app).as_ref(), &kid(&access0), app.clock.now())
        .await
        .unwrap();
    app.clock.advance_secs(CACHE.as_secs() as i64);
    assert_eq!(
        call(&verifier, Endpoint::Me, &access0).await,
        401,
        "its tokens die with the key"
    );
    let signer = instance(&app, CACHE);
    let (access1, _) = refreshed(&signer, &refresh0).await;
    assert_ne!(kid(&access1), kid(&access0));
    assert_eq!(call(&verifier, Endpoint::Me, &access1).await, 200);
}

async fn no_unexpired_token_is_refused_across_two_scheduled_rotations<B: Backend>() {
    let app = app::<B>().await;
    let (_, mut refresh_token, _) = app.user("john_doe").await;
    // Two verifiers and a signer, each with the deployed cache, read at different times.
    let (verifier, late_verifier, signer) = (
        instance(&app, CACHE),
        instance(&app, CACHE),
        instance(&app, CACHE),
    );
    let period = min_published(CACHE, ACCESS_TTL).as_secs() as i64; // the shortest the lifecycle allows
    let step = 240; // seconds between requests: caches go stale between some, not others
    let mut live: Vec<(i64, String)> = Vec::new(); // (expires at, access token)
    let mut kids = std::collections::BTreeSet::new();
    let mut since_rotation = 0;
    for i in 0..(2 * period / step + 20) {
        app.clock.advance_secs(step);
        since_rotation += step;
        if since_rotation >= period {
            rotate(&app).await;
            since_rotation = 0;
        }
        let (access_token, next) = refreshed(&signer, &refresh_token).await;
        refresh_token = next;
        kids.insert(kid(&access_token));
        live.push((claims_of(&access_token).exp, access_token));
        live.retain(|(exp, _)| *exp > app.clock.now());
        for (_, token) in &live {
            assert_eq!(call(&verifier, Endpoint::Me, token).await, 200, "request {i}");
            if i % 3 == 0 {
                assert_eq!(
                    call(&late_verifier, Endpoint::Me, token).await,
                    200,
                    "request {i}"
                );
            }
        }
    }
    assert_eq!(kids.len(), 3, "two rotations: three keys signed in turn");
}

async fn a_verifier_meeting_an_unknown_kid_reads_the_key_set_again<B: Backend>() {
    let app = app::<B>().await;
    let (access0, refresh0, _) = app.user("john_doe").await;
    // A verifier whose copy is older than two rotations (it would keep it for a day).
    let stale = instance(&app, Duration::from_secs(24 * 3600));
    assert_eq!(call(&stale, Endpoint::Me, &access0).await, 200);
    for _ in 0..2 {
        app.clock
            .advance_secs(min_published(CACHE, ACCESS_TTL).as_secs() as i64);
        rotate(&app).await;
    }
    let (access2, _) = refreshed(&instance(&app, CACHE), &refresh0).await;
    assert_eq!(call(&stale, Endpoint::Me, &access2).await, 200);
}

both_backends!(
    discovery_document_and_jwks_describe_the_tokens,
    an_admin_token_carries_the_admin_scope,
    an_independent_jwt_library_verifies_a_token_from_the_discovery_url_alone,
    a_token_of_a_newly_promoted_key_is_accepted_by_an_instance_with_an_old_cache,
    a_retired_key_is_refused_once_the_caches_expire_and_the_next_key_takes_over,
    no_unexpired_token_is_refused_across_two_scheduled_rotations,
    a_verifier_meeting_an_unknown_kid_reads_the_key_set_again,
);
