//! JWTs. Access tokens: RS256, `kid` the key's thumbprint, verifiable by anyone holding the
//! public key set (see docs/verifying-tokens.md). Refresh tokens:
//! HS256 with authyy's own HMAC keys, verified only here. On verification the algorithm is
//! pinned per use, and audience, expiry and the token's use are checked (and the issuer, for
//! access tokens).
//!
//! [`sign_access`], [`sign_refresh`] and [`verify`] are the pure operations; the
//! [`TokenIssuer`] owns the keys, the configuration and the clock, and is what the endpoints use
//! to start sessions, issue token pairs and verify presented tokens. Nothing here knows HTTP.

pub mod issuer;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::domain::{Aal, Role, UserId};
use crate::keys::{KeyError, KeySet, PublicKeys, SigningKey};

pub use issuer::{IssuedTokens, TokenIssuer};

/// Presented tokens longer than this are refused unread, and no access token longer is issued:
/// API Gateway's HTTP APIs cap a request line and its headers together at 10,240 bytes, and the
/// token travels in one of them.
pub const MAX_TOKEN_BYTES: usize = 8192;

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
    /// Access tokens: the roles, space-separated (`user`, `user admin`), for API Gateway
    /// route scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Access tokens: whether the user's address is verified (as OpenID Connect names it), so
    /// a service can require it without asking authyy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Access tokens: how the session began (RFC 8176 values: `pwd`, `otp`, `mfa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Access tokens: `aal1`, or `aal2` once a second factor was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aal: Option<String>,
    /// Access tokens: when the session last checked a password or code (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Access tokens: the user's `app_metadata`, when it is not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_metadata: Option<Map<String, Value>>,
    /// Access tokens: the claims the token hook added (never one of the above).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Claims {
    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok()
    }

    /// Whether the token was issued to a session that used a second factor.
    pub fn is_aal2(&self) -> bool {
        self.aal.as_deref() == Some(Aal::Aal2.as_str())
    }
}

/// The `scope` claim of a user with `role` in a session at `aal`: the roles, and at `aal2`
/// also `aal2` and `<role>:aal2` for each (an API Gateway route that needs a role and a second
/// factor lists only `<role>:aal2`). With `admin_requires_mfa`, `admin` is given only at `aal2`.
pub fn scope_of(role: Role, aal: Aal, admin_requires_mfa: bool) -> String {
    let admin = role == Role::Admin && (aal == Aal::Aal2 || !admin_requires_mfa);
    let roles: &[&str] = if admin { &["user", "admin"] } else { &["user"] };
    let mut scope: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    if aal == Aal::Aal2 {
        scope.push("aal2".into());
        scope.extend(roles.iter().map(|r| format!("{r}:aal2")));
    }
    scope.join(" ")
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

fn encode(alg: Algorithm, kid: &str, claims: &Claims, key: &EncodingKey) -> Result<String, TokenError> {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).map_err(|e| TokenError::Signing(e.to_string()))
}

/// An access token: RS256 with `key`.
pub fn sign_access(key: &SigningKey, claims: &Claims) -> Result<String, TokenError> {
    encode(Algorithm::RS256, key.kid(), claims, key.encoding_key())
}

/// A refresh token: HS256 with the signing key of `keys`.
pub fn sign_refresh(keys: &KeySet, claims: &Claims) -> Result<String, TokenError> {
    let (kid, key) = keys.signing();
    encode(Algorithm::HS256, kid, claims, &EncodingKey::from_secret(key))
}

/// The `kid` in a token's header, if it has one (nothing is verified).
pub fn kid_of(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// Where the key that verifies a token comes from.
pub enum Verifier<'a> {
    /// Access tokens: RS256, by `kid` in the public set; the issuer must be `issuer`.
    Access(&'a PublicKeys, &'a str),
    /// Refresh tokens: HS256, by `kid` among authyy's HMAC keys. The issuer is not checked:
    /// nobody else holds these keys, and a changed issuer (a custom domain) must not log
    /// anyone out.
    Refresh(&'a KeySet),
}

/// Verifies signature (the algorithm pinned by the token's use, the key chosen by `kid`),
/// audience, issuer (access tokens), expiry against `now` and the token's use. Every failure is
/// the same [`TokenError::Rejected`].
pub fn verify(verifier: Verifier<'_>, config: &Config, token: &str, now: i64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Rejected);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Rejected)?;
    let kid = header.kid.as_deref().ok_or(TokenError::Rejected)?;
    let (alg, expected) = match verifier {
        Verifier::Access(..) => (Algorithm::RS256, TokenUse::Access),
        Verifier::Refresh(_) => (Algorithm::HS256, TokenUse::Refresh),
    };
    if header.alg != alg {
        return Err(TokenError::Rejected);
    }
    let mut validation = Validation::new(alg);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked below against the injectable clock.
    validation.validate_exp = false;
    validation.leeway = 0;
    let secret;
    let key = match verifier {
        Verifier::Access(public, issuer) => {
            validation.set_issuer(&[issuer]);
            public.decoding(kid).ok_or(TokenError::Rejected)?
        }
        Verifier::Refresh(hmac) => {
            secret = DecodingKey::from_secret(hmac.verifying(kid).ok_or(TokenError::Rejected)?);
            &secret
        }
    };
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|_| TokenError::Rejected)?
        .claims;
    if claims.token_use != expected || claims.exp <= now || claims.user_id().is_none() {
        return Err(TokenError::Rejected);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::keys::{random_key, Lifecycle};
    use base64::Engine as _;
    use serde_json::json;

    fn config() -> Config {
        Config::default()
    }

    fn claims(token_use: TokenUse, exp: i64) -> Claims {
        let c = config();
        Claims {
            iss: c.issuer,
            aud: c.audience,
            sub: "1".into(),
            exp,
            iat: 0,
            jti: crate::randomness::new_id(),
            sid: crate::randomness::new_id(),
            token_use,
            scope: (token_use == TokenUse::Access).then(|| scope_of(Role::User, Aal::Aal1, false)),
            email_verified: (token_use == TokenUse::Access).then_some(false),
            amr: None,
            aal: None,
            auth_time: None,
            app_metadata: None,
            extra: Map::new(),
        }
    }

    /// Two lifecycles, generated once (RSA generation is slow in debug builds).
    fn lifecycles() -> &'static (Lifecycle, Lifecycle) {
        static KEYS: OnceLock<(Lifecycle, Lifecycle)> = OnceLock::new();
        KEYS.get_or_init(|| (Lifecycle::start(0).unwrap(), Lifecycle::start(0).unwrap()))
    }

    fn access(c: &Claims) -> (String, PublicKeys) {
        let l = &lifecycles().0;
        (sign_access(&l.current, c).unwrap(), PublicKeys::of(l))
    }

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// A header naming `kid`, then filler up to `len` bytes in all (nothing but the header is
    /// read for the kid).
    fn token_of_length(kid: &str, len: usize) -> String {
        let header = b64(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}));
        let filler = len - header.len() - 2;
        format!("{header}.{}.", "A".repeat(filler))
    }

    #[test]
    fn the_largest_token_metadata_and_a_hook_can_make_fits_a_request_header() {
        // 2 KiB of app_metadata and 2 KiB of hook claims (their bounds, as compact JSON), every
        // other claim at its longest likely (a 255-character issuer and audience, admin at aal2).
        let mut c = claims(TokenUse::Access, 2000);
        c.iss = format!("https://{}/auth", "i".repeat(242));
        c.aud = "a".repeat(255);
        c.scope = Some(scope_of(Role::Admin, Aal::Aal2, false));
        c.amr = Some(vec!["pwd".into(), "otp".into(), "mfa".into()]);
        c.aal = Some("aal2".into());
        c.auth_time = Some(1_800_000_000);
        let metadata = json!({"k": "m".repeat(crate::domain::MAX_APP_METADATA_BYTES - 8)});
        c.app_metadata = metadata.as_object().cloned();
        let added = json!({"k2": "h".repeat(crate::hooks::token::MAX_ADDED_CLAIMS_BYTES - 9)});
        c.extra = added.as_object().cloned().unwrap();
        assert_eq!(
            serde_json::to_string(&c.extra).unwrap().len(),
            crate::hooks::token::MAX_ADDED_CLAIMS_BYTES
        );
        let (token, _) = access(&c);
        assert!(token.len() <= MAX_TOKEN_BYTES, "{} bytes", token.len());
    }

    #[test]
    fn the_kid_is_read_from_tokens_of_up_to_8192_bytes_and_not_from_longer_ones() {
        // A longer token is refused unread: it cannot make a verifier read the key set again.
        let kid = "k".repeat(43);
        assert_eq!(
            kid_of(&token_of_length(&kid, MAX_TOKEN_BYTES)).as_deref(),
            Some(kid.as_str())
        );
        assert_eq!(kid_of(&token_of_length(&kid, MAX_TOKEN_BYTES + 1)), None);
    }

    #[test]
    fn a_validly_signed_token_over_8192_bytes_is_refused() {
        // No token authyy issues comes near the bound; a longer one is refused before its
        // signature is checked, whoever signed it.
        let mut c = claims(TokenUse::Access, 2000);
        c.jti = "j".repeat(MAX_TOKEN_BYTES);
        let (token, public) = access(&c);
        assert!(token.len() > MAX_TOKEN_BYTES);
        let verifier = Verifier::Access(&public, &config().issuer);
        assert!(matches!(
            verify(verifier, &config(), &token, 1000),
            Err(TokenError::Rejected)
        ));
        // The same claims with a jti of the usual length verify.
        c.jti = crate::randomness::new_id();
        let (token, public) = access(&c);
        assert!(verify(
            Verifier::Access(&public, &config().issuer),
            &config(),
            &token,
            1000
        )
        .is_ok());
    }

    #[test]
    fn a_token_of_exactly_8192_bytes_is_still_read_and_verified() {
        // A refresh token made exactly that long, by trying kid and jti lengths.
        for kid_len in 1..=4 {
            let keys = KeySet::single("k".repeat(kid_len), random_key()).unwrap();
            // base64url makes 4 characters of 3 bytes; the rest of the token is under 400.
            for jti_len in MAX_TOKEN_BYTES * 3 / 4 - 400..MAX_TOKEN_BYTES * 3 / 4 {
                let mut c = claims(TokenUse::Refresh, 2000);
                c.jti = "j".repeat(jti_len);
                let token = sign_refresh(&keys, &c).unwrap();
                if token.len() == MAX_TOKEN_BYTES {
                    assert!(verify(Verifier::Refresh(&keys), &config(), &token, 1000).is_ok());
                    assert_eq!(kid_of(&token), Some("k".repeat(kid_len)));
                    return;
                }
            }
        }
        panic!("no token of exactly {MAX_TOKEN_BYTES} bytes was made");
    }

    #[test]
    fn an_access_token_is_rs256_with_the_thumbprint_as_kid_and_verifies_with_the_public_set() {
        let c = claims(TokenUse::Access, 2000);
        let (t, public) = access(&c);
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(lifecycles().0.current.kid()));
        assert_eq!(
            verify(Verifier::Access(&public, &config().issuer), &config(), &t, 1000).unwrap(),
            c
        );
    }

    #[test]
    fn a_refresh_token_is_not_an_access_token_and_vice_versa() {
        let hmac = KeySet::single("k1", random_key()).unwrap();
        let r = sign_refresh(&hmac, &claims(TokenUse::Refresh, 2000)).unwrap();
        let (a, public) = access(&claims(TokenUse::Access, 2000));
        assert!(verify(Verifier::Access(&public, &config().issuer), &config(), &r, 1000).is_err());
        assert!(verify(Verifier::Refresh(&hmac), &config(), &a, 1000).is_err());
        // Even with the use claim forged to match, the algorithm is pinned per use.
        let forged = sign_refresh(&hmac, &claims(TokenUse::Access, 2000)).unwrap();
        assert!(verify(
            Verifier::Access(&public, &config().issuer),
            &config(),
            &forged,
            1000
        )
        .is_err());
    }

    #[test]
    fn an_expired_token_is_rejected() {
        let (t, public) = access(&claims(TokenUse::Access, 1000));
        assert!(verify(Verifier::Access(&public, &config().issuer), &config(), &t, 1000).is_err());
    }

    #[test]
    fn an_alg_none_token_is_rejected() {
        let (_, public) = access(&claims(TokenUse::Access, 2000));
        let header = json!({"alg": "none", "typ": "JWT", "kid": lifecycles().0.current.kid()});
        let body = serde_json::to_value(claims(TokenUse::Access, 2000)).unwrap();
        let forged = format!("{}.{}.", b64(&header), b64(&body));
        assert!(verify(
            Verifier::Access(&public, &config().issuer),
            &config(),
            &forged,
            1000
        )
        .is_err());
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_rejected() {
        // Algorithm confusion: the attacker knows the public key and uses it as an HMAC secret.
        let (_, public) = access(&claims(TokenUse::Access, 2000));
        let jwk = &public.jwks().keys[0];
        for secret in [jwk.n.as_bytes().to_vec(), serde_json::to_vec(jwk).unwrap()] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(jwk.kid.clone());
            let forged = jsonwebtoken::encode(
                &header,
                &claims(TokenUse::Access, 2000),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert!(verify(
                Verifier::Access(&public, &config().issuer),
                &config(),
                &forged,
                1000
            )
            .is_err());
        }
    }

    #[test]
    fn a_token_signed_by_a_key_outside_the_public_set_is_rejected() {
        let c = claims(TokenUse::Access, 2000);
        let other = &lifecycles().1;
        let t = sign_access(&other.current, &c).unwrap();
        let (_, public) = access(&c);
        assert!(verify(Verifier::Access(&public, &config().issuer), &config(), &t, 1000).is_err());
    }

    #[test]
    fn a_token_whose_kid_names_another_published_key_is_rejected() {
        let c = claims(TokenUse::Access, 2000);
        let (t, public) = access(&c);
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[0] = b64(&json!({"alg": "RS256", "typ": "JWT", "kid": lifecycles().0.next.kid()}));
        assert!(verify(
            Verifier::Access(&public, &config().issuer),
            &config(),
            &parts.join("."),
            1000
        )
        .is_err());
    }

    #[test]
    fn a_wrong_issuer_or_audience_is_rejected() {
        let mut c = claims(TokenUse::Access, 2000);
        c.aud = "someone-else".into();
        let (t, public) = access(&c);
        assert!(verify(Verifier::Access(&public, &config().issuer), &config(), &t, 1000).is_err());
        let mut c = claims(TokenUse::Access, 2000);
        c.iss = "https://evil.example/auth".into();
        let (t, public) = access(&c);
        assert!(verify(Verifier::Access(&public, &config().issuer), &config(), &t, 1000).is_err());
    }

    #[test]
    fn a_refresh_token_of_an_earlier_issuer_still_verifies() {
        // Upgrading (HS256-only releases used the issuer "authyy") or moving to a custom domain must
        // not log anyone out.
        let hmac = KeySet::single("k1", random_key()).unwrap();
        let mut c = claims(TokenUse::Refresh, 2000);
        c.iss = "authyy".into();
        let t = sign_refresh(&hmac, &c).unwrap();
        assert_eq!(verify(Verifier::Refresh(&hmac), &config(), &t, 1000).unwrap(), c);
    }

    #[test]
    fn the_scope_lists_the_roles_and_at_aal2_each_role_with_aal2() {
        assert_eq!(scope_of(Role::User, Aal::Aal1, false), "user");
        assert_eq!(scope_of(Role::Admin, Aal::Aal1, false), "user admin");
        assert_eq!(scope_of(Role::User, Aal::Aal2, false), "user aal2 user:aal2");
        assert_eq!(
            scope_of(Role::Admin, Aal::Aal2, false),
            "user admin aal2 user:aal2 admin:aal2"
        );
    }

    #[test]
    fn when_admin_requires_mfa_the_admin_scope_is_given_only_at_aal2() {
        assert_eq!(scope_of(Role::Admin, Aal::Aal1, true), "user");
        assert_eq!(
            scope_of(Role::Admin, Aal::Aal2, true),
            "user admin aal2 user:aal2 admin:aal2"
        );
        assert_eq!(scope_of(Role::User, Aal::Aal2, true), "user aal2 user:aal2");
    }
}
