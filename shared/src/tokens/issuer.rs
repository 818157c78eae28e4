//! The token issuer: starts sessions, issues access and refresh tokens, and verifies them, with
//! the keys, configuration and clock it owns.

use std::sync::Arc;

use std::time::Duration;

use super::{
    kid_of, scope_of, sign_access, sign_refresh, verify, Claims, TokenError, TokenUse, Verifier,
    MAX_TOKEN_BYTES,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Authentication, RefreshToken, SeenFrom, Session, User, UserId};
use crate::keys::{CachedKeys, KeyError, PrivateKeys, PublicKeys};
use crate::randomness::new_id;
use serde_json::Map;

/// A verifier meeting a `kid` it does not know reads the public set again, at most this often
/// (and a signer whose copy has no RSA key yet reads the private set again).
pub const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(30);

/// A signed pair, with what the client is told about the refresh token.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub refresh_jti: String,
    /// Epoch seconds.
    pub refresh_expires_at: i64,
}

/// Each key set is read on first use: a function that only verifies access tokens never reads
/// the private keys (and its IAM role cannot).
pub struct TokenIssuer {
    private: CachedKeys<PrivateKeys>,
    public: CachedKeys<PublicKeys>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
}

impl TokenIssuer {
    pub fn new(
        private: CachedKeys<PrivateKeys>,
        public: CachedKeys<PublicKeys>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TokenIssuer {
            private,
            public,
            config,
            clock,
        }
    }

    /// The private keys (the first call reads them from their store).
    pub async fn private_keys(&self) -> Result<Arc<PrivateKeys>, KeyError> {
        self.private.get().await
    }

    /// The private keys, once they hold an RSA key to sign with. Endpoints that change state
    /// before signing (refresh rotates the token) ask first, so a missing key cannot spend a
    /// refresh token it then fails to answer with.
    pub async fn signing_keys(&self) -> Result<Arc<PrivateKeys>, KeyError> {
        let keys = self.private_keys().await?;
        if keys.rsa.is_some() {
            return Ok(keys);
        }
        // Read before the first rotation finished (a fresh deploy or an upgrade): look again
        // (rate-limited) rather than wait out the cache.
        let keys = self.private.refetch(UNKNOWN_KID_REFETCH).await?;
        keys.signing_key()?;
        Ok(keys)
    }

    /// The public key set, as the JWKS endpoint serves it.
    pub async fn public_keys(&self) -> Result<Arc<PublicKeys>, KeyError> {
        self.public.get().await
    }

    /// A new session of `user_id`, ending at its absolute lifetime however often it is refreshed.
    /// `seen` says where the login came from, `auth` how it was authenticated.
    pub fn new_session(&self, user_id: UserId, seen: SeenFrom, auth: Authentication) -> Session {
        let now_ms = self.clock.now_ms();
        Session {
            sid: new_id(),
            user_id,
            created_ms: now_ms,
            expires_at: now_ms.div_euclid(1000) + self.config.session_ttl.as_secs() as i64,
            revoked: false,
            valid_from_ms: now_ms,
            last_used_ms: now_ms,
            seen,
            auth,
        }
    }

    /// The first refresh token of a new `session`: its `jti` is the session's id (see
    /// [`RefreshToken::is_first_of_session`]).
    pub fn first_refresh_token(&self, session: &Session) -> RefreshToken {
        RefreshToken {
            jti: session.sid.clone(),
            ..self.new_refresh_token(session)
        }
    }

    /// A new refresh token of `session` (a successor: a random `jti`), never outliving it.
    pub fn new_refresh_token(&self, session: &Session) -> RefreshToken {
        let now = self.clock.now();
        RefreshToken {
            jti: new_id(),
            sid: session.sid.clone(),
            user_id: session.user_id,
            issued_at: now,
            expires_at: (now + self.config.refresh_ttl.as_secs() as i64).min(session.expires_at),
            rotated_at_ms: None,
            successor: None,
        }
    }

    /// The claims of a new access token for `user` in session `sid`: `issuer` is its `iss` (see
    /// [`crate::http::issuer`]), `auth` how the session began (its `amr`, `aal` and
    /// `auth_time`). Nothing is signed yet: the token hook may add claims first.
    pub fn access_claims(&self, issuer: &str, user: &User, sid: &str, auth: &Authentication) -> Claims {
        let now = self.clock.now();
        Claims {
            iss: issuer.to_string(),
            aud: self.config.audience.clone(),
            sub: user.id.to_string(),
            iat: now,
            exp: now + self.config.access_ttl.as_secs() as i64,
            jti: new_id(),
            sid: sid.to_string(),
            token_use: TokenUse::Access,
            scope: Some(scope_of(user.role, auth.aal(), self.config.admin_requires_mfa)),
            email_verified: Some(user.email_verified),
            amr: Some(auth.methods().iter().map(|m| m.as_str().to_string()).collect()),
            aal: Some(auth.aal().as_str().to_string()),
            auth_time: Some(auth.auth_time),
            app_metadata: (!user.app_metadata.is_empty()).then(|| user.app_metadata.as_map().clone()),
            extra: Map::new(),
        }
    }

    /// Signs `access` (claims from [`TokenIssuer::access_claims`]) and `refresh` (signing a
    /// stored refresh token again gives the very same JWT, so a grace-window answer matches).
    /// An access token over [`MAX_TOKEN_BYTES`] is refused: no request header could carry it.
    pub async fn sign(&self, access: &Claims, refresh: &RefreshToken) -> Result<IssuedTokens, TokenError> {
        let keys = self.signing_keys().await?;
        let refresh_claims = Claims {
            iss: access.iss.clone(),
            aud: self.config.audience.clone(),
            sub: refresh.user_id.to_string(),
            iat: refresh.issued_at,
            exp: refresh.expires_at,
            jti: refresh.jti.clone(),
            sid: refresh.sid.clone(),
            token_use: TokenUse::Refresh,
            scope: None,
            email_verified: None,
            amr: None,
            aal: None,
            auth_time: None,
            app_metadata: None,
            extra: Map::new(),
        };
        let access_token = sign_access(keys.signing_key()?, access)?;
        if access_token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Signing(format!(
                "an access token of {} bytes is over the {MAX_TOKEN_BYTES} a request header can carry",
                access_token.len()
            )));
        }
        Ok(IssuedTokens {
            access_token,
            refresh_token: sign_refresh(&keys.hmac, &refresh_claims)?,
            refresh_jti: refresh.jti.clone(),
            refresh_expires_at: refresh.expires_at,
        })
    }

    /// [`TokenIssuer::access_claims`] and [`TokenIssuer::sign`] in one, with no hook: for tests
    /// and tools. Endpoints go through `endpoints::issuance`, which asks the token hook.
    pub async fn issue(
        &self,
        issuer: &str,
        user: &User,
        refresh: &RefreshToken,
        auth: &Authentication,
    ) -> Result<IssuedTokens, TokenError> {
        let access = self.access_claims(issuer, user, &refresh.sid, auth);
        self.sign(&access, refresh).await
    }

    /// The claims of `token` if it is a valid, unexpired access token of `issuer`.
    pub async fn verify_access(&self, token: &str, issuer: &str) -> Result<Claims, TokenError> {
        let mut keys = self.public.get().await?;
        // A key published since this copy was read: read the set again (rate-limited) before
        // refusing.
        if let Some(kid) = kid_of(token).filter(|k| is_thumbprint(k)) {
            if keys.decoding(&kid).is_none() {
                keys = self.public.refetch(UNKNOWN_KID_REFETCH).await?;
            }
        }
        verify(
            Verifier::Access(&keys, issuer),
            &self.config,
            token,
            self.clock.now(),
        )
    }

    /// The claims of `token` if it is a valid, unexpired refresh token.
    pub async fn verify_refresh(&self, token: &str) -> Result<Claims, TokenError> {
        let keys = self.private_keys().await?;
        verify(
            Verifier::Refresh(&keys.hmac),
            &self.config,
            token,
            self.clock.now(),
        )
    }
}

/// Whether `kid` has the form of authyy's kids (a base64url SHA-256): only such a kid can be a
/// key published since the set was read, so no other token makes a verifier read it again.
fn is_thumbprint(kid: &str) -> bool {
    kid.len() == 43
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_thumbprint;

    #[test]
    fn only_a_kid_of_43_base64url_characters_can_make_a_verifier_read_the_keys_again() {
        let thumbprint = "de4mLBWP-jBMB7Qqzq219dWfGleT0wezwWOHmYOieXc";
        assert_eq!(thumbprint.len(), 43);
        assert!(is_thumbprint(thumbprint));
        assert!(is_thumbprint(&"_".repeat(43)));
        // One character fewer or more, or one outside base64url, and the token is judged by
        // the keys at hand.
        assert!(!is_thumbprint(&thumbprint[..42]));
        assert!(!is_thumbprint(&format!("{thumbprint}A")));
        for odd in ["+", "/", "=", ".", " ", "é"] {
            let kid = format!("{}{odd}", &thumbprint[..43 - odd.len()]);
            assert!(!is_thumbprint(&kid), "{kid:?}");
        }
        assert!(!is_thumbprint(""));
        assert!(!is_thumbprint("k1"));
    }
}
