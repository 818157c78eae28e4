//! Signing keys from Secrets Manager, cached for the life of the execution environment and
//! fetched again on an invocation once the copy is older than the cache period, so a rotation
//! reaches warm functions without a redeploy. (Lambda freezes background tasks between
//! invocations, so the refresh happens on the request path, at most once per period.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use tokio::sync::Mutex;

use super::sdk_error;
use crate::keys::{KeyError, KeyProvider, KeySet};

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
    max_age: Duration,
    cached: Mutex<Option<(Arc<KeySet>, Instant)>>,
}

impl SecretsManagerKeys {
    pub fn new(client: Client, secret_id: impl Into<String>, max_age: Duration) -> Self {
        SecretsManagerKeys {
            client,
            secret_id: secret_id.into(),
            max_age,
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<KeySet, KeyError> {
        read_key_set(&self.client, &self.secret_id).await
    }
}

/// The key set in the secret's current version.
pub async fn read_key_set(client: &Client, secret_id: &str) -> Result<KeySet, KeyError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| KeyError::Unavailable(sdk_error("get signing keys", e).to_string()))?;
    let text = out
        .secret_string()
        .ok_or_else(|| KeyError::Malformed(format!("the secret {secret_id} has no string value")))?;
    KeySet::from_json(text)
}

/// Writes `keys` as the secret's new current version.
pub async fn write_key_set(client: &Client, secret_id: &str, keys: &KeySet) -> Result<(), KeyError> {
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(keys.to_json())
        .send()
        .await
        .map(drop)
        .map_err(|e| KeyError::Unavailable(sdk_error("put signing keys", e).to_string()))
}

#[async_trait]
impl KeyProvider for SecretsManagerKeys {
    async fn keys(&self) -> Result<Arc<KeySet>, KeyError> {
        // One fetch at a time; callers that waited find the fresh copy.
        let mut cached = self.cached.lock().await;
        if let Some((keys, fetched)) = cached.as_ref() {
            if fetched.elapsed() < self.max_age {
                return Ok(keys.clone());
            }
        }
        match self.fetch().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *cached = Some((keys.clone(), Instant::now()));
                Ok(keys)
            }
            // A stale copy beats an outage; try again on a later invocation.
            Err(e) => match cached.as_mut() {
                Some((keys, fetched)) => {
                    tracing::warn!(error = %e, "signing keys not refreshed; using the cached copy");
                    *fetched = Instant::now() - self.max_age + Duration::from_secs(30).min(self.max_age);
                    Ok(keys.clone())
                }
                None => Err(e),
            },
        }
    }
}
