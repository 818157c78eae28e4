//! JWTs: HS256 with a `kid` header, algorithm pinned, iss/aud/exp/token_use checked.
//!
//! [`sign`] and [`verify`] are the pure operations; the [`TokenIssuer`] owns the keys, the
//! configuration and the clock, and is what the endpoints use to start sessions, issue token
//! pairs and verify presented tokens. Nothing here knows about HTTP.

pub mod issuer;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::UserId;
use crate::keys::{KeyError, KeySet};

pub use issuer::{IssuedTokens, TokenIssuer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id, as a string (RFC 7519).
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The session family.
    pub sid: String,
    pub token_use: TokenUse,
}

impl Claims {
    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token rejected")]
    Rejected,
    #[error("token signing failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

pub fn sign(keys: &KeySet, claims: &Claims) -> Result<String, TokenError> {
    let (kid, key) = keys.signing();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key))
        .map_err(|e| TokenError::Signing(e.to_string()))
}

/// Verifies signature (HS256 only, key chosen by `kid`), issuer, audience, expiry against
/// `now` and the token's use. Every failure is the same [`TokenError::Rejected`].
pub fn verify(
    keys: &KeySet,
    config: &Config,
    token: &str,
    expected: TokenUse,
    now: i64,
) -> Result<Claims, TokenError> {
    if token.len() > 4096 {
        return Err(TokenError::Rejected);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Rejected)?;
    if header.alg != Algorithm::HS256 {
        return Err(TokenError::Rejected);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.verifying(kid))
        .ok_or(TokenError::Rejected)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked below against the injectable clock.
    validation.validate_exp = false;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key), &validation)
        .map_err(|_| TokenError::Rejected)?;
    let claims = data.claims;
    if claims.token_use != expected || claims.exp <= now || claims.user_id().is_none() {
        return Err(TokenError::Rejected);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::random_key;
    use base64::Engine as _;
    use serde_json::{json, Value};

    fn claims(token_use: TokenUse, exp: i64) -> Claims {
        Claims {
            iss: "authyy".into(),
            aud: "authyy-clients".into(),
            sub: "1".into(),
            exp,
            iat: 0,
            jti: crate::secrets::new_id(),
            sid: crate::secrets::new_id(),
            token_use,
        }
    }

    fn keys() -> KeySet {
        KeySet::single("k1", random_key()).unwrap()
    }

    #[test]
    fn signed_token_verifies_and_carries_kid() {
        let k = keys();
        let c = claims(TokenUse::Access, 2000);
        let t = sign(&k, &c).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&t).unwrap().kid.as_deref(),
            Some("k1")
        );
        assert_eq!(
            verify(&k, &Config::default(), &t, TokenUse::Access, 1000).unwrap(),
            c
        );
    }

    #[test]
    fn refresh_token_is_not_an_access_token_and_vice_versa() {
        let k = keys();
        let r = sign(&k, &claims(TokenUse::Refresh, 2000)).unwrap();
        let a = sign(&k, &claims(TokenUse::Access, 2000)).unwrap();
        assert!(verify(&k, &Config::default(), &r, TokenUse::Access, 1000).is_err());
        assert!(verify(&k, &Config::default(), &a, TokenUse::Refresh, 1000).is_err());
    }

    #[test]
    fn expired_token_is_rejected() {
        let k = keys();
        let t = sign(&k, &claims(TokenUse::Access, 1000)).unwrap();
        assert!(verify(&k, &Config::default(), &t, TokenUse::Access, 1000).is_err());
    }

    #[test]
    fn alg_none_token_is_rejected() {
        let k = keys();
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let header = json!({"alg": "none", "typ": "JWT", "kid": "k1"});
        let body = serde_json::to_value(claims(TokenUse::Access, 2000)).unwrap();
        let forged = format!("{}.{}.", b64(&header), b64(&body));
        assert!(verify(&k, &Config::default(), &forged, TokenUse::Access, 1000).is_err());
    }

    #[test]
    fn token_signed_with_another_key_is_rejected() {
        let t = sign(&keys(), &claims(TokenUse::Access, 2000)).unwrap();
        assert!(verify(&keys(), &Config::default(), &t, TokenUse::Access, 1000).is_err());
    }

    #[test]
    fn wrong_issuer_or_audience_is_rejected() {
        let k = keys();
        let mut c = claims(TokenUse::Access, 2000);
        c.aud = "someone-else".into();
        let t = sign(&k, &c).unwrap();
        assert!(verify(&k, &Config::default(), &t, TokenUse::Access, 1000).is_err());
    }
}
