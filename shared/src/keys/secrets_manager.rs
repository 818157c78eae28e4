//! Signing keys in a Secrets Manager secret: read as the secret's current version, written as
//! a new version (rotation).

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use super::{KeyError, KeySet, KeyStore};
use crate::aws::sdk_failure;

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
}

impl SecretsManagerKeys {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerKeys {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl KeyStore for SecretsManagerKeys {
    async fn load(&self) -> Result<KeySet, KeyError> {
        read_key_set(&self.client, &self.secret_id).await
    }

    async fn save(&self, keys: &KeySet) -> Result<(), KeyError> {
        write_key_set(&self.client, &self.secret_id, keys).await
    }
}

/// The key set in the secret's current version.
async fn read_key_set(client: &Client, secret_id: &str) -> Result<KeySet, KeyError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| KeyError::Unavailable(sdk_failure("get signing keys", e).to_string()))?;
    let text = out
        .secret_string()
        .ok_or_else(|| KeyError::Malformed(format!("the secret {secret_id} has no string value")))?;
    KeySet::from_json(text)
}

/// Writes `keys` as the secret's new current version.
async fn write_key_set(client: &Client, secret_id: &str, keys: &KeySet) -> Result<(), KeyError> {
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(keys.to_json())
        .send()
        .await
        .map(drop)
        .map_err(|e| KeyError::Unavailable(sdk_failure("put signing keys", e).to_string()))
}
