//! The key rotation function's settings.

use std::time::Duration;

use super::aws::key_cache;
use super::env::Env;
use super::error::ConfigError;
use super::service::Config;

/// What the rotation function needs: the public key set it keeps in step with the private
/// one, and the two lifetimes that decide how long a new key is published before it signs.
#[derive(Debug, Clone)]
pub struct RotationSettings {
    /// AUTH_PUBLIC_KEYS_SECRET_ID: the secret of the public key set.
    pub public_keys_secret_id: String,
    /// AUTH_KEY_CACHE_SECONDS: how long the API functions keep a key set.
    pub key_cache: Duration,
    /// AUTH_ACCESS_TTL_SECONDS: how long an access token lives.
    pub access_ttl: Duration,
}

impl RotationSettings {
    pub fn from_env(env: &Env) -> Result<RotationSettings, ConfigError> {
        Ok(RotationSettings {
            public_keys_secret_id: env
                .get("AUTH_PUBLIC_KEYS_SECRET_ID")
                .ok_or_else(|| ConfigError::Missing {
                    name: "AUTH_PUBLIC_KEYS_SECRET_ID",
                    reason: "the rotation function needs the secret of the public key set".into(),
                })?
                .to_string(),
            key_cache: key_cache(env)?,
            access_ttl: Config::from_env(env)?.access_ttl,
        })
    }
}
