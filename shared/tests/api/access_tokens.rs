//! Access tokens: `/me`, and every token that must be refused (refresh tokens, expired,
//! forged, foreign, of an ended session).

use authyy::tokens::{self, Claims};
use base64::Engine as _;

use crate::helpers::*;

async fn me_returns_the_current_user<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("john_doe").await;
    let r = app.me(&access).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["email"], "john_doe@example.com");
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
}

async fn me_without_token_is_401_not_authenticated<B: Backend>() {
    let app = app::<B>().await;
    let r = app.raw(Endpoint::Me, None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Not authenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let basic = event(
        "GET",
        "/auth/me",
        "",
        &[("authorization", "Basic dXNlcjpwYXNz")],
        None,
        "192.0.2.1",
    );
    assert_eq!(app.call(Endpoint::Me, basic).await.status, 401);
}

async fn me_with_refresh_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh, _) = app.user("john_doe").await;
    assert_eq!(app.me(&refresh).await.status, 401);
}

async fn me_with_expired_access_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    app.clock.advance_secs(15 * 60);
    let r = app.me(&access).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.detail(), "Not authenticated");
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn me_with_alg_none_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let payload = access.split('.').nth(1).unwrap();
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    for alg in ["none", "None", "HS512", "RS256"] {
        let forged = format!(
            "{}.{payload}.",
            b64(&json!({"alg": alg, "typ": "JWT", "kid": kid}))
        );
        assert_eq!(app.me(&forged).await.status, 401, "{alg}");
    }
}

async fn me_with_token_signed_by_another_key_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let claims: Claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    // The attacker's own RSA key, under the published kid.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    let mut elevated = claims.clone();
    elevated.sub = "1".into();
    let forged = jsonwebtoken::encode(&header, &elevated, other_keys().current.encoding_key()).unwrap();
    assert_eq!(app.me(&forged).await.status, 401);
    // And under its own kid, which no JWKS lists.
    let unknown = tokens::sign_access(&other_keys().current, &elevated).unwrap();
    assert_eq!(app.me(&unknown).await.status, 401);
    // A token with the payload changed but the signature kept.
    let parts: Vec<&str> = access.split('.').collect();
    let mut tampered = claims;
    tampered.exp += 3600;
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_value(&tampered).unwrap()),
        parts[2]
    );
    assert_eq!(app.me(&spliced).await.status, 401);
}

async fn me_with_garbage_token_is_401<B: Backend>() {
    let app = app::<B>().await;
    let long = "a".repeat(100_000);
    for t in ["x", "a.b.c", "....", "Bearer", "é.é.é", long.as_str()] {
        assert_eq!(app.me(t).await.status, 401, "{}", &t[..t.len().min(20)]);
    }
}

async fn access_token_of_a_revoked_family_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let claims = app
        .state
        .tokens
        .verify_access(&access1, &app.state.config.issuer)
        .await
        .unwrap();
    app.state.sessions.revoke_session(id, &claims.sid).await.unwrap();
    assert_eq!(app.me(&access1).await.status, 401);
    // Other sessions live on.
    assert_eq!(app.me(&access(&other)).await.status, 200);
}

/// The claims of `access`, changed by `f`, signed with the app's own current key: a valid
/// signature, so only the claim checks can refuse it.
fn resigned(access: &str, f: impl FnOnce(&mut Claims)) -> String {
    let mut claims: Claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    f(&mut claims);
    tokens::sign_access(&test_keys().lifecycle().unwrap().current, &claims).unwrap()
}

async fn me_with_a_validly_signed_token_of_another_issuer_or_audience_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    assert_eq!(
        app.me(&resigned(&access, |_| {})).await.status,
        200,
        "the control"
    );
    let other_issuer = resigned(&access, |c| c.iss = "https://evil.example/auth".into());
    assert_eq!(app.me(&other_issuer).await.status, 401);
    let other_audience = resigned(&access, |c| c.aud = "another-api".into());
    assert_eq!(app.me(&other_audience).await.status, 401);
    let expired = resigned(&access, |c| c.exp = app.clock.now());
    assert_eq!(app.me(&expired).await.status, 401);
}

async fn me_with_an_hs256_token_keyed_with_the_public_key_is_401<B: Backend>() {
    // Algorithm confusion: the published key used as an HMAC secret.
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let jwks = app.raw(Endpoint::Jwks, None, None).await.body;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == jsonwebtoken::decode_header(&access).unwrap().kid.unwrap())
        .unwrap()
        .clone();
    let claims: Claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = jwk["kid"].as_str().map(str::to_string);
    for secret in [jwk.to_string(), jwk["n"].as_str().unwrap().to_string()] {
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert_eq!(app.me(&forged).await.status, 401);
    }
}

async fn me_with_a_tampered_or_unknown_kid_is_401<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let parts: Vec<&str> = access.split('.').collect();
    let next = test_keys().lifecycle().unwrap().next.kid().to_string();
    for kid in [next.as_str(), "A".repeat(43).as_str(), "../../etc/passwd", ""] {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        let swapped = format!(
            "{}.{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(app.me(&swapped).await.status, 401, "kid {kid:?}");
    }
}

both_backends!(
    me_with_a_validly_signed_token_of_another_issuer_or_audience_is_401,
    me_with_an_hs256_token_keyed_with_the_public_key_is_401,
    me_with_a_tampered_or_unknown_kid_is_401,
    me_returns_the_current_user,
    me_without_token_is_401_not_authenticated,
    me_with_refresh_token_is_401,
    me_with_expired_access_token_is_401,
    me_with_alg_none_token_is_401,
    me_with_token_signed_by_another_key_is_401,
    me_with_garbage_token_is_401,
    access_token_of_a_revoked_family_is_refused,
);
