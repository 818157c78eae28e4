//! Keys in two Secrets Manager secrets: the private set (read by the signing functions) and the
//! public set (the JWKS, read by the verifying functions), and the rotation function's four
//! steps (createSecret, setSecret, testSecret, finishSecret) that move the lifecycle on schedule.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use serde::Deserialize;

use super::rotation::rotated;
use super::{KeyError, KeyStore, LifecycleError, PrivateKeys, PublicKeys};
use crate::aws::sdk_failure;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
/// In a pending version: the id of the current version it was built on.
const ROTATED_FROM: &str = "rotated_from";

pub struct SecretsManagerKeys {
    client: Client,
    private_id: String,
    public_id: String,
}

impl SecretsManagerKeys {
    pub fn new(client: Client, private_id: impl Into<String>, public_id: impl Into<String>) -> Self {
        SecretsManagerKeys {
            client,
            private_id: private_id.into(),
            public_id: public_id.into(),
        }
    }

    /// The text of a version of a secret: by stage, or by version id and stage.
    async fn read(&self, secret_id: &str, version_id: Option<&str>, stage: &str) -> Result<String, KeyError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_string))
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(sdk_failure("get keys", e).to_string()))?;
        out.secret_string()
            .map(str::to_string)
            .ok_or_else(|| KeyError::Malformed(format!("the secret {secret_id} has no string value")))
    }

    /// Writes `text` as a new version of a secret, staged `stage` (with `token` as its id).
    async fn write(
        &self,
        secret_id: &str,
        text: String,
        token: Option<&str>,
        stage: &str,
    ) -> Result<(), KeyError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(text)
            .set_client_request_token(token.map(str::to_string))
            .version_stages(stage)
            .send()
            .await
            .map(drop)
            .map_err(|e| KeyError::Unavailable(sdk_failure("put keys", e).to_string()))
    }
}

#[async_trait]
impl KeyStore for SecretsManagerKeys {
    async fn load(&self) -> Result<PrivateKeys, KeyError> {
        PrivateKeys::from_json(&self.read(&self.private_id, None, CURRENT).await?)
    }

    /// A new current version (the admin tool); a rotation under way is abandoned.
    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError> {
        self.write(&self.private_id, keys.to_json(), None, CURRENT)
            .await?;
        self.abandon_pending().await
    }

    async fn load_public(&self) -> Result<PublicKeys, KeyError> {
        PublicKeys::from_json(&self.read(&self.public_id, None, CURRENT).await?)
    }

    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError> {
        self.write(&self.public_id, keys.to_json(), None, CURRENT).await
    }
}

/// What Secrets Manager sends the rotation function.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub secret_id: String,
    pub client_request_token: String,
    pub step: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("unknown rotation step {0:?}")]
    UnknownStep(String),
    #[error(
        "the keys changed since this rotation began (authyy-admin keys rotate or retire): \
         this rotation is abandoned, the next one starts from the current keys"
    )]
    Superseded,
    #[error("test of the pending keys failed: {0}")]
    Test(String),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl SecretsManagerKeys {
    /// The stages of each version of the private secret.
    async fn versions(&self) -> Result<HashMap<String, Vec<String>>, KeyError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(&self.private_id)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(sdk_failure("describe keys", e).to_string()))?;
        Ok(out.version_ids_to_stages().cloned().unwrap_or_default())
    }

    /// The AWSPENDING version `token`, and the version it was built on.
    async fn pending(&self, token: &str) -> Result<(PrivateKeys, Option<String>), KeyError> {
        let text = self.read(&self.private_id, Some(token), PENDING).await?;
        let from = super::parse_object(&text)?
            .get(ROTATED_FROM)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        Ok((PrivateKeys::from_json(&text)?, from))
    }

    /// Takes AWSPENDING off every version that is not current: a rotation under way was built
    /// on keys that have just changed, and must not publish them again.
    async fn abandon_pending(&self) -> Result<(), KeyError> {
        for (id, stages) in self.versions().await? {
            if stages.iter().any(|s| s == PENDING) && !stages.iter().any(|s| s == CURRENT) {
                self.client
                    .update_secret_version_stage()
                    .secret_id(&self.private_id)
                    .version_stage(PENDING)
                    .remove_from_version_id(id)
                    .send()
                    .await
                    .map_err(|e| KeyError::Unavailable(sdk_failure("stage keys", e).to_string()))?;
            }
        }
        Ok(())
    }
}

/// One step of Secrets Manager's rotation protocol for the private secret of `keys` (whose id
/// must be the event's secret), keeping the public set in step:
///   * createSecret: the next lifecycle is written as the AWSPENDING version `token` (a set
///     with no RSA keys gets its first ones; a next key younger than `min_published` is not
///     promoted, and the version repeats the current keys, so an early run changes nothing);
///   * setSecret: the public set becomes every key of the current and the pending version, so
///     verifiers know the new keys before anything signs with them;
///   * testSecret: every pending key signs, and the signature verifies with the published set;
///   * finishSecret: AWSCURRENT moves to `token`, and the public set is trimmed to its keys.
///
/// Every step can run again after a failure without harm. A pending version built on keys that
/// have changed since (the admin tool rotated or retired one) is refused at every step, so a
/// retired key can never come back through a rotation that began before it was retired.
pub async fn rotation_step(
    keys: &SecretsManagerKeys,
    event: &RotationEvent,
    now: i64,
    min_published: Duration,
) -> Result<(), RotationError> {
    let token = event.client_request_token.as_str();
    let versions = keys.versions().await?;
    let has = |id: &str, stage: &str| versions.get(id).is_some_and(|s| s.iter().any(|s| s == stage));
    let current_id = versions.keys().find(|id| has(id, CURRENT)).cloned();
    if has(token, CURRENT) {
        // Done before; a retried finishSecret makes sure the public set was trimmed.
        if event.step == "finishSecret" {
            keys.publish(&PublicKeys::of(keys.load().await?.lifecycle()?))
                .await?;
        }
        tracing::info!(step = %event.step, "version already current; nothing to do");
        return Ok(());
    }
    if versions.contains_key(token) && !has(token, PENDING) {
        // authyy-admin changed the keys and dropped this rotation's pending version.
        return Err(RotationError::Superseded);
    }
    // The pending version, checked to be built on the current one.
    let pending = || async {
        let (keys_of, from) = keys.pending(token).await?;
        if from.is_none() || from != current_id {
            return Err(RotationError::Superseded);
        }
        Ok(keys_of)
    };
    match event.step.as_str() {
        "createSecret" => {
            if keys.pending(token).await.is_ok() {
                return pending().await.map(drop);
            }
            let current = keys.load().await?;
            let next = match rotated(&current, now, min_published) {
                Ok(next) => next,
                Err(LifecycleError::TooSoon { .. }) => {
                    tracing::warn!("the next key is too young to sign; this rotation keeps the keys");
                    current
                }
                Err(e) => return Err(e.into()),
            };
            let mut doc = super::parse_object(&next.to_json())?;
            doc.insert(ROTATED_FROM.into(), current_id.clone().into());
            let text = serde_json::Value::Object(doc).to_string();
            keys.write(&keys.private_id, text, Some(token), PENDING).await?;
        }
        "setSecret" => {
            let pending = pending().await?;
            let mut public = PublicKeys::of(pending.lifecycle()?);
            if let Some(l) = keys.load().await?.rsa.as_ref() {
                public = PublicKeys::of(l).union(&public);
            }
            keys.publish(&public).await?;
        }
        "testSecret" => {
            let pending = pending().await?;
            let published = keys.load_public().await?;
            for (state, key) in pending.lifecycle()?.keys() {
                test_key(key, &published)
                    .map_err(|e| RotationError::Test(format!("{} key {}: {e}", state.as_str(), key.kid())))?;
            }
        }
        "finishSecret" => {
            let pending = pending().await?;
            keys.client
                .update_secret_version_stage()
                .secret_id(&keys.private_id)
                .version_stage(CURRENT)
                .move_to_version_id(token)
                .set_remove_from_version_id(current_id)
                .send()
                .await
                .map_err(|e| KeyError::Unavailable(sdk_failure("stage keys", e).to_string()))?;
            keys.publish(&PublicKeys::of(pending.lifecycle()?)).await?;
        }
        other => return Err(RotationError::UnknownStep(other.to_string())),
    }
    Ok(())
}

/// The key signs, and the signature verifies with its published public key.
fn test_key(key: &super::SigningKey, published: &PublicKeys) -> Result<(), String> {
    use jsonwebtoken::{crypto, Algorithm};
    let public = published.decoding(key.kid()).ok_or("not in the published set")?;
    let message = b"authyy rotation test";
    let signature = crypto::sign(message, key.encoding_key(), Algorithm::RS256).map_err(|e| e.to_string())?;
    match crypto::verify(&signature, message, public, Algorithm::RS256) {
        Ok(true) => Ok(()),
        Ok(false) => Err("the published key does not verify its signature".into()),
        Err(e) => Err(e.to_string()),
    }
}
