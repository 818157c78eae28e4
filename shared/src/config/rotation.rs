//! The key rotation's settings: the rotation function's, and the admin tool's `keys rotate`.

use std::time::Duration;

use super::aws::key_cache;
use super::env::Env;
use super::error::ConfigError;
use super::service::Config;

/// The two lifetimes that decide how long a new key is published before it signs: every
/// verifier must have fetched it, and every token a retiring key signed must have expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTiming {
    /// AUTH_KEY_CACHE_SECONDS: how long the API functions keep a key set.
    pub key_cache: Duration,
    /// AUTH_ACCESS_TTL_SECONDS: how long an access token lives.
    pub access_ttl: Duration,
}

impl KeyTiming {
    pub fn from_env(env: &Env) -> Result<KeyTiming, ConfigError> {
        Ok(KeyTiming {
            key_cache: key_cache(env)?,
            access_ttl: Config::from_env(env)?.access_ttl,
        })
    }
}

/// What the rotation function needs: the public key set it keeps in step with the private
/// one, and the key timing.
#[derive(Debug, Clone)]
pub struct RotationSettings {
    /// AUTH_PUBLIC_KEYS_SECRET_ID: the secret of the public key set.
    pub public_keys_secret_id: String,
    pub timing: KeyTiming,
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
            timing: KeyTiming::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_timing_reads_the_key_cache_and_the_access_token_lifetime() {
        let timing = KeyTiming::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(timing.key_cache, Duration::from_secs(300));
        assert_eq!(timing.access_ttl, Duration::from_secs(900));
        let timing = KeyTiming::from_env(&Env::from_pairs([
            ("AUTH_KEY_CACHE_SECONDS", "60"),
            ("AUTH_ACCESS_TTL_SECONDS", "120"),
        ]))
        .unwrap();
        assert_eq!(
            (timing.key_cache, timing.access_ttl),
            (Duration::from_secs(60), Duration::from_secs(120))
        );
    }
}
