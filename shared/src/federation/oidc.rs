//! An OpenID provider: its discovery document and key set (both cached; the keys fetched again,
//! once, for a key id they do not hold), and the id token's checks (OpenID Connect Core
//! §3.1.3.7): the signature by one of the provider's keys with an asymmetric algorithm, `iss`,
//! `aud` holding our client id, `azp` when present (required with several audiences), `exp`,
//! `iat` not in the future, and `nonce`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::FederationError;
use crate::outbound::OutboundHttp;

/// How long a discovery document and a key set are trusted before they are read again. (The
/// cache's times change how often a provider is asked, never what is accepted: mutating their
/// comparisons goes unseen by the tests, which check what is accepted.)
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// A key set is fetched again for an unknown key id at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// The clock difference tolerated on `exp` and `iat`.
pub const SKEW_SECS: i64 = 60;

/// What authyy uses of a discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

struct Cached<T> {
    value: T,
    at: Instant,
}

/// The cached documents and keys of every OpenID provider, by issuer.
#[derive(Default)]
pub struct OidcCache {
    discovery: Mutex<HashMap<String, Cached<Discovery>>>,
    keys: Mutex<HashMap<String, Cached<JwkSet>>>,
}

impl OidcCache {
    /// The provider's discovery document, whose `issuer` must be the configured one exactly.
    pub async fn discovery(&self, http: &OutboundHttp, issuer: &str) -> Result<Discovery, FederationError> {
        if let Some(c) = self.discovery.lock().await.get(issuer) {
            if c.at.elapsed() < CACHE_FOR {
                return Ok(c.value.clone());
            }
        }
        let url = format!("{issuer}/.well-known/openid-configuration");
        let doc: Discovery = http.get(&url, None).await?.json("discovery document")?;
        if doc.issuer.trim_end_matches('/') != issuer {
            return Err(FederationError::Refused(format!(
                "the discovery document names issuer {:?}, not {issuer:?}",
                doc.issuer
            )));
        }
        self.discovery.lock().await.insert(
            issuer.to_string(),
            Cached {
                value: doc.clone(),
                at: Instant::now(),
            },
        );
        Ok(doc)
    }

    /// The key of id `kid` (or the only signing key, when the token names none).
    async fn key(
        &self,
        http: &OutboundHttp,
        doc: &Discovery,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, FederationError> {
        let pick = |set: &JwkSet| signing_key(set, kid);
        let mut keys = self.keys.lock().await;
        if let Some(c) = keys.get(&doc.issuer) {
            if c.at.elapsed() < CACHE_FOR {
                if let Some(key) = pick(&c.value) {
                    return Ok(key);
                }
                if c.at.elapsed() < REFETCH_AFTER {
                    return Err(FederationError::Refused(
                        "the id token's key is not the provider's".into(),
                    ));
                }
            }
        }
        let set: JwkSet = http.get(&doc.jwks_uri, None).await?.json("key set")?;
        let key = pick(&set);
        keys.insert(
            doc.issuer.clone(),
            Cached {
                value: set,
                at: Instant::now(),
            },
        );
        key.ok_or_else(|| FederationError::Refused("the id token's key is not the provider's".into()))
    }
}

/// The signing key of id `kid` in `set`, or, for a token that names none, the set's only
/// signing key (never an encryption key).
fn signing_key(set: &JwkSet, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
    let signing = set.keys.iter().filter(|k| {
        !matches!(
            k.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        )
    });
    match kid {
        Some(kid) => signing
            .clone()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None => match signing.collect::<Vec<_>>().as_slice() {
            [only] => Some((*only).clone()),
            _ => None,
        },
    }
}

/// The claims of an id token that authyy reads.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    #[serde(default)]
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub nonce: Option<String>,
    pub azp: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: bool,
    pub preferred_username: Option<String>,
}

/// `aud`: one string or several.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn list(&self) -> Vec<&str> {
        match self {
            Audience::None => vec![],
            Audience::One(a) => vec![a],
            Audience::Many(all) => all.iter().map(String::as_str).collect(),
        }
    }
}

/// `email_verified` as a boolean, or the string some providers send ("true").
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        S(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::B(b)) => b,
        Some(B::S(s)) => s == "true",
        None => false,
    })
}

/// What an id token must be, besides well signed.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
}

/// The asymmetric algorithms an id token may be signed with (never `none`, never HMAC).
fn allowed(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Checks an id token's signature with `key`, then its claims against `expected`.
pub fn verify_id_token(
    token: &str,
    key: &jsonwebtoken::jwk::Jwk,
    expected: &Expected<'_>,
) -> Result<IdClaims, FederationError> {
    let bad = |why: String| FederationError::Refused(format!("id token: {why}"));
    let header = jsonwebtoken::decode_header(token).map_err(|e| bad(e.to_string()))?;
    if !allowed(header.alg) {
        return Err(bad(format!("algorithm {:?} is not allowed", header.alg)));
    }
    let decoding = DecodingKey::from_jwk(key).map_err(|e| bad(format!("the provider's key: {e}")))?;
    // The times are checked below against the service's clock; the rest by hand too, so each
    // refusal says what it was.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<IdClaims>(token, &decoding, &validation)
        .map_err(|e| bad(e.to_string()))?
        .claims;
    if claims.iss.trim_end_matches('/') != expected.issuer {
        return Err(bad(format!("issued by {:?}", claims.iss)));
    }
    let audiences = claims.aud.list();
    if !audiences.contains(&expected.client_id) {
        return Err(bad("not for this client (aud)".into()));
    }
    match &claims.azp {
        Some(azp) if azp != expected.client_id => return Err(bad("authorized another party (azp)".into())),
        None if audiences.len() > 1 => return Err(bad("several audiences and no azp".into())),
        _ => {}
    }
    if claims.exp + SKEW_SECS <= expected.now {
        return Err(bad("expired".into()));
    }
    if claims.iat > expected.now + SKEW_SECS {
        return Err(bad("issued in the future".into()));
    }
    if claims.nonce.as_deref() != Some(expected.nonce) {
        return Err(bad("the nonce is not this sign-in's".into()));
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(bad("no usable subject".into()));
    }
    Ok(claims)
}

/// The id token's key, then [`verify_id_token`].
pub async fn verified_claims(
    cache: &OidcCache,
    http: &OutboundHttp,
    doc: &Discovery,
    token: &str,
    expected: &Expected<'_>,
) -> Result<IdClaims, FederationError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| FederationError::Refused(format!("id token: {e}")))?;
    let key = cache.key(http, doc, header.kid.as_deref()).await?;
    verify_id_token(token, &key, expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{json, Value};

    const ISSUER: &str = "https://id.example.com";
    const NOW: i64 = 1_800_000_000;

    fn signer() -> &'static SigningKey {
        static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate(0).unwrap())
    }

    fn jwk(key: &SigningKey) -> jsonwebtoken::jwk::Jwk {
        serde_json::from_value(serde_json::to_value(key.jwk()).unwrap()).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "sub": "248289761001", "aud": "client", "exp": NOW + 300, "iat": NOW,
               "nonce": "n-0S6_WzA2Mj", "email": "jane@example.com", "email_verified": true})
    }

    fn signed(claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(signer().kid().to_string());
        jsonwebtoken::encode(&header, claims, signer().encoding_key()).unwrap()
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: "client",
            nonce: "n-0S6_WzA2Mj",
            now: NOW,
        }
    }

    fn verify(claims: &Value) -> Result<IdClaims, FederationError> {
        verify_id_token(&signed(claims), &jwk(signer()), &expected())
    }

    fn with(change: impl FnOnce(&mut Value)) -> Value {
        let mut c = claims();
        change(&mut c);
        c
    }

    /// A key set of `(kid, use)` entries, each the test signer's public key.
    fn set(entries: &[(&str, &str)]) -> JwkSet {
        let keys = entries
            .iter()
            .map(|(kid, use_)| {
                let mut k = serde_json::to_value(signer().jwk()).unwrap();
                k["kid"] = json!(kid);
                k["use"] = json!(use_);
                k
            })
            .collect::<Vec<_>>();
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn a_token_names_its_signing_key_and_never_an_encryption_key() {
        let keys = set(&[("enc1", "enc"), ("sig1", "sig"), ("sig2", "sig")]);
        let kid = |k: Option<jsonwebtoken::jwk::Jwk>| k.and_then(|k| k.common.key_id);
        assert_eq!(kid(signing_key(&keys, Some("sig2"))).as_deref(), Some("sig2"));
        assert_eq!(kid(signing_key(&keys, Some("enc1"))), None);
        assert_eq!(kid(signing_key(&keys, Some("nope"))), None);
    }

    #[test]
    fn a_token_naming_no_key_takes_the_only_signing_key() {
        let one = set(&[("enc1", "enc"), ("sig1", "sig")]);
        let kid = |k: Option<jsonwebtoken::jwk::Jwk>| k.and_then(|k| k.common.key_id);
        assert_eq!(kid(signing_key(&one, None)).as_deref(), Some("sig1"));
        let two = set(&[("sig1", "sig"), ("sig2", "sig")]);
        assert_eq!(kid(signing_key(&two, None)), None, "which one would be a guess");
    }

    #[test]
    fn a_well_formed_id_token_is_accepted() {
        let c = verify(&claims()).unwrap();
        assert_eq!(c.sub, "248289761001");
        assert_eq!(c.email.as_deref(), Some("jane@example.com"));
        assert!(c.email_verified);
    }

    #[test]
    fn another_issuer_is_refused() {
        assert!(verify(&with(|c| c["iss"] = json!("https://evil.example.com"))).is_err());
    }

    #[test]
    fn a_token_for_another_client_is_refused() {
        assert!(verify(&with(|c| c["aud"] = json!("other"))).is_err());
        assert!(verify(&with(|c| c["aud"] = json!(["other"]))).is_err());
        assert!(verify(&with(|c| c
            .as_object_mut()
            .unwrap()
            .remove("aud")
            .map(|_| ())
            .unwrap()))
        .is_err());
    }

    #[test]
    fn several_audiences_need_this_client_as_the_authorized_party() {
        assert!(verify(&with(|c| c["aud"] = json!(["client", "other"]))).is_err());
        assert!(verify(&with(|c| {
            c["aud"] = json!(["client", "other"]);
            c["azp"] = json!("client");
        }))
        .is_ok());
        assert!(verify(&with(|c| c["azp"] = json!("other"))).is_err());
    }

    #[test]
    fn an_expired_token_is_refused_past_a_minute_of_skew() {
        assert!(verify(&with(|c| c["exp"] = json!(NOW - SKEW_SECS))).is_err());
        assert!(verify(&with(|c| c["exp"] = json!(NOW - SKEW_SECS + 1))).is_ok());
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_past_a_minute_of_skew() {
        assert!(verify(&with(|c| c["iat"] = json!(NOW + SKEW_SECS + 1))).is_err());
        assert!(verify(&with(|c| c["iat"] = json!(NOW + SKEW_SECS))).is_ok());
    }

    #[test]
    fn another_sign_ins_nonce_or_none_is_refused() {
        assert!(verify(&with(|c| c["nonce"] = json!("another"))).is_err());
        assert!(verify(&with(|c| c
            .as_object_mut()
            .unwrap()
            .remove("nonce")
            .map(|_| ())
            .unwrap()))
        .is_err());
    }

    #[test]
    fn a_token_without_a_usable_subject_is_refused() {
        assert!(verify(&with(|c| c["sub"] = json!(""))).is_err());
        assert!(verify(&with(|c| c["sub"] = json!("x".repeat(256)))).is_err());
        assert!(verify(&with(|c| c["sub"] = json!("x".repeat(255)))).is_ok());
    }

    #[test]
    fn a_token_signed_with_a_shared_secret_is_refused() {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"the client secret"),
        )
        .unwrap();
        let err = verify_id_token(&token, &jwk(signer()), &expected()).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let other = SigningKey::generate(0).unwrap();
        assert!(verify_id_token(&signed(&claims()), &jwk(&other), &expected()).is_err());
    }

    #[test]
    fn email_verified_may_be_the_string_true_and_is_false_when_absent() {
        assert!(
            verify(&with(|c| c["email_verified"] = json!("true")))
                .unwrap()
                .email_verified
        );
        assert!(
            !verify(&with(|c| c["email_verified"] = json!("false")))
                .unwrap()
                .email_verified
        );
        let c = verify(&with(|c| {
            c.as_object_mut()
                .unwrap()
                .remove("email_verified")
                .map(|_| ())
                .unwrap()
        }));
        assert!(!c.unwrap().email_verified);
    }
}
