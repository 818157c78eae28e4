//! The token issuer: starts sessions, issues access and refresh tokens, and verifies them, with
//! the keys, configuration and clock it owns.

use std::sync::Arc;

use super::{sign, verify, Claims, TokenError, TokenUse};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{RefreshToken, Session, UserId};
use crate::keys::{CachedKeys, KeyError, KeySet};
use crate::secrets::new_id;

/// A signed pair, with what the client is told about the refresh token.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub refresh_jti: String,
    /// Epoch seconds.
    pub refresh_expires_at: i64,
}

pub struct TokenIssuer {
    keys: CachedKeys,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
}

impl TokenIssuer {
    pub fn new(keys: CachedKeys, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        TokenIssuer { keys, config, clock }
    }

    /// The current key set (the first call reads it from its store).
    pub async fn keys(&self) -> Result<Arc<KeySet>, KeyError> {
        self.keys.keys().await
    }

    /// A new session of `user_id`, ending at its absolute lifetime however often it is refreshed.
    pub fn new_session(&self, user_id: UserId) -> Session {
        let now_ms = self.clock.now_ms();
        Session {
            sid: new_id(),
            user_id,
            created_ms: now_ms,
            expires_at: now_ms.div_euclid(1000) + self.config.session_ttl.as_secs() as i64,
            revoked: false,
        }
    }

    /// A new refresh token of `session`, never outliving it.
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

    /// Signs a new access token for the session of `refresh`, and `refresh` itself (signing a
    /// stored refresh token again gives the very same JWT, so a grace-window answer matches).
    pub async fn issue(&self, user_id: UserId, refresh: &RefreshToken) -> Result<IssuedTokens, TokenError> {
        let keys = self.keys().await?;
        let now = self.clock.now();
        let access = Claims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.config.access_ttl.as_secs() as i64,
            jti: new_id(),
            sid: refresh.sid.clone(),
            token_use: TokenUse::Access,
        };
        let refresh_claims = Claims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: refresh.user_id.to_string(),
            iat: refresh.issued_at,
            exp: refresh.expires_at,
            jti: refresh.jti.clone(),
            sid: refresh.sid.clone(),
            token_use: TokenUse::Refresh,
        };
        Ok(IssuedTokens {
            access_token: sign(&keys, &access)?,
            refresh_token: sign(&keys, &refresh_claims)?,
            refresh_jti: refresh.jti.clone(),
            refresh_expires_at: refresh.expires_at,
        })
    }

    /// The claims of `token` if it is a valid, unexpired token of the `expected` use.
    pub async fn verify(&self, token: &str, expected: TokenUse) -> Result<Claims, TokenError> {
        let keys = self.keys().await?;
        verify(&keys, &self.config, token, expected, self.clock.now())
    }
}
