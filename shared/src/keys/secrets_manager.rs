//! Keys in two Secrets Manager secrets: the private set (read by the signing functions) and the
//! public set (the JWKS, read by the verifying functions), and the rotation function's four
//! steps (createSecret, setSecret, testSecret, finishSecret) that move the lifecycle on schedule.
//!
//! Writes are conditional on the version read ([`KeyStore::save_if`], [`KeyStore::publish_if`]):
//!   * the private set: the new version is put under a label of its own, then AWSCURRENT moves
//!     to it from the version read (`UpdateSecretVersionStage` refuses to move a label from a
//!     version that no longer has it), as the rotation's finishSecret moves it;
//!   * the public set: the new version's id (its `ClientRequestToken`) is derived from the id of
//!     the version read, so of two writers that read the same version only the first can put
//!     its successor (Secrets Manager refuses a token already used for other contents). This
//!     needs nothing but `PutSecretValue`, all the rotation function may do to the public set.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use aws_sdk_secretsmanager::Client;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::rotation::{self, check_not_retired, rotated, write_public, ATTEMPTS};
use super::{KeyError, KeyStore, LifecycleError, PrivateKeys, PublicKeys, Version};
use crate::aws::{sdk_failure, LazyClient};

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
/// The label of a private-set version put by [`KeyStore::save_if`], until AWSCURRENT moves to it
/// (an abandoned one loses it to the next, and Secrets Manager deletes unlabelled versions).
const STAGED: &str = "AUTHYY_STAGED";
/// In a pending version: the id of the current version it was built on.
const ROTATED_FROM: &str = "rotated_from";

/// The id of the public-set version that follows the version `read`: 64 hex digits.
fn successor_token(read: &str) -> String {
    Sha256::digest(format!("authyy public key set after {read}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct SecretsManagerKeys {
    client: LazyClient<Client>,
    private_id: String,
    public_id: String,
}

impl SecretsManagerKeys {
    pub fn new(
        client: impl Into<LazyClient<Client>>,
        private_id: impl Into<String>,
        public_id: impl Into<String>,
    ) -> Self {
        SecretsManagerKeys {
            client: client.into(),
            private_id: private_id.into(),
            public_id: public_id.into(),
        }
    }

    /// The text and version id of a version of a secret: by stage, or by version id and stage.
    async fn read(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: &str,
    ) -> Result<(String, Version), KeyError> {
        let out = self
            .client
            .get()
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_string))
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(sdk_failure("get keys", e).to_string()))?;
        let text = out
            .secret_string()
            .map(str::to_string)
            .ok_or_else(|| KeyError::Malformed(format!("the secret {secret_id} has no string value")))?;
        let id = out
            .version_id()
            .map(str::to_string)
            .ok_or_else(|| KeyError::Malformed(format!("the secret {secret_id} has no version id")))?;
        Ok((text, Version(id)))
    }

    /// Puts `text` as the version `token` of a secret, staged `stage`.
    async fn put(
        &self,
        secret_id: &str,
        text: String,
        token: &str,
        stage: &str,
    ) -> Result<(), SdkError<PutSecretValueError>> {
        self.client
            .get()
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(text)
            .client_request_token(token)
            .version_stages(stage)
            .send()
            .await
            .map(drop)
    }
}

fn new_token() -> String {
    format!("{}{}", crate::randomness::new_id(), crate::randomness::new_id())
}

#[async_trait]
impl KeyStore for SecretsManagerKeys {
    async fn load(&self) -> Result<PrivateKeys, KeyError> {
        Ok(self.load_versioned().await?.0)
    }

    /// A new current version (the admin tool), over whichever is current; a rotation under way
    /// is abandoned.
    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError> {
        let (_, current) = self.read(&self.private_id, None, CURRENT).await?;
        self.save_if(keys, &current).await
    }

    async fn load_public(&self) -> Result<PublicKeys, KeyError> {
        Ok(self.load_public_versioned().await?.0)
    }

    /// Writes `keys`, keeping the record of retired kids (whose keys it never publishes).
    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError> {
        super::publish_keeping_retired(self, keys).await
    }

    async fn load_versioned(&self) -> Result<(PrivateKeys, Version), KeyError> {
        let (text, version) = self.read(&self.private_id, None, CURRENT).await?;
        Ok((PrivateKeys::from_json(&text)?, version))
    }

    /// A new current version if `read` is still current; a rotation under way is abandoned.
    async fn save_if(&self, keys: &PrivateKeys, read: &Version) -> Result<(), KeyError> {
        let token = new_token();
        self.put(&self.private_id, keys.to_json(), &token, STAGED)
            .await
            .map_err(|e| KeyError::Unavailable(sdk_failure("put keys", e).to_string()))?;
        let moved = self
            .client
            .get()
            .update_secret_version_stage()
            .secret_id(&self.private_id)
            .version_stage(CURRENT)
            .move_to_version_id(&token)
            .remove_from_version_id(&read.0)
            .send()
            .await;
        if let Err(e) = moved {
            let still_current = self
                .versions()
                .await?
                .get(&read.0)
                .is_some_and(|stages| stages.iter().any(|s| s == CURRENT));
            return Err(match still_current {
                false => KeyError::Conflict("private"),
                true => KeyError::Unavailable(sdk_failure("stage keys", e).to_string()),
            });
        }
        self.abandon_pending().await
    }

    async fn load_public_versioned(&self) -> Result<(PublicKeys, Version), KeyError> {
        let (text, version) = self.read(&self.public_id, None, CURRENT).await?;
        Ok((PublicKeys::from_json(&text)?, version))
    }

    async fn publish_if(&self, keys: &PublicKeys, read: &Version) -> Result<(), KeyError> {
        let token = successor_token(&read.0);
        match self.put(&self.public_id, keys.to_json(), &token, CURRENT).await {
            Ok(()) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutSecretValueError::is_resource_exists_exception) =>
            {
                Err(KeyError::Conflict("public"))
            }
            Err(e) => Err(KeyError::Unavailable(sdk_failure("put keys", e).to_string())),
        }
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
            .get()
            .describe_secret()
            .secret_id(&self.private_id)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(sdk_failure("describe keys", e).to_string()))?;
        Ok(out.version_ids_to_stages().cloned().unwrap_or_default())
    }

    /// The AWSPENDING version `token`, and the version it was built on.
    async fn pending(&self, token: &str) -> Result<(PrivateKeys, Option<String>), KeyError> {
        let (text, _) = self.read(&self.private_id, Some(token), PENDING).await?;
        let from = super::parse_object(&text)?
            .get(ROTATED_FROM)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        Ok((PrivateKeys::from_json(&text)?, from))
    }

    /// The AWSPENDING version `token`, checked (now) to be built on the current version, and
    /// the id of that version; [`RotationError::Superseded`] if the keys changed since.
    async fn checked_pending(&self, token: &str) -> Result<(PrivateKeys, String), RotationError> {
        let versions = self.versions().await?;
        let has = |id: &str, stage: &str| versions.get(id).is_some_and(|s| s.iter().any(|s| s == stage));
        let current_id = versions.keys().find(|id| has(id, CURRENT)).cloned();
        if !has(token, PENDING) {
            return Err(RotationError::Superseded);
        }
        let (keys, from) = match self.pending(token).await {
            Ok(pending) => pending,
            // Abandoned since the versions were read (a save takes AWSPENDING off)?
            Err(e) => {
                let versions = self.versions().await?;
                let still = versions
                    .get(token)
                    .is_some_and(|s| s.iter().any(|s| s == PENDING));
                return Err(if still {
                    e.into()
                } else {
                    RotationError::Superseded
                });
            }
        };
        match (from, current_id) {
            (Some(from), Some(current)) if from == current => Ok((keys, current)),
            _ => Err(RotationError::Superseded),
        }
    }

    /// Takes AWSPENDING off every version that is not current: a rotation under way was built
    /// on keys that have just changed, and must not publish them again.
    async fn abandon_pending(&self) -> Result<(), KeyError> {
        for (id, stages) in self.versions().await? {
            if stages.iter().any(|s| s == PENDING) && !stages.iter().any(|s| s == CURRENT) {
                self.client
                    .get()
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
///   * finishSecret: AWSCURRENT moves to `token`, and the public set is trimmed to the keys
///     then current.
///
/// Every step can run again after a failure without harm. A pending version built on keys that
/// have changed since (the admin tool rotated or retired one) is refused at every step, and
/// every write of the public set is conditional on the version read (checked with the pending
/// version after that read) and leaves out every retired kid, so a retired key can never come
/// back through a rotation that began, or read the keys, before it was retired.
pub async fn rotation_step(
    keys: &SecretsManagerKeys,
    event: &RotationEvent,
    now: i64,
    min_published: Duration,
) -> Result<(), RotationError> {
    let token = event.client_request_token.as_str();
    let versions = keys.versions().await?;
    let has = |id: &str, stage: &str| versions.get(id).is_some_and(|s| s.iter().any(|s| s == stage));
    if has(token, CURRENT) {
        // Done before; a retried finishSecret makes sure the public set was trimmed.
        if event.step == "finishSecret" {
            rotation::republish(keys).await?;
        }
        tracing::info!(step = %event.step, "version already current; nothing to do");
        return Ok(());
    }
    if versions.contains_key(token) && !has(token, PENDING) {
        // authyy-admin changed the keys and dropped this rotation's pending version.
        return Err(RotationError::Superseded);
    }
    match event.step.as_str() {
        "createSecret" => {
            if keys.pending(token).await.is_ok() {
                return keys.checked_pending(token).await.map(drop);
            }
            // The public set first, as rotation::rotate reads it.
            let published = keys.load_public().await?;
            let (current, version) = keys.load_versioned().await?;
            check_not_retired(&current, &published)?;
            let next = match rotated(&current, now, min_published) {
                Ok(next) => next,
                Err(LifecycleError::TooSoon { .. }) => {
                    tracing::warn!("the next key is too young to sign; this rotation keeps the keys");
                    current
                }
                Err(e) => return Err(e.into()),
            };
            let mut doc = super::parse_object(&next.to_json())?;
            doc.insert(ROTATED_FROM.into(), version.0.into());
            let text = serde_json::Value::Object(doc).to_string();
            keys.put(&keys.private_id, text, token, PENDING)
                .await
                .map_err(|e| KeyError::Unavailable(sdk_failure("put keys", e).to_string()))?;
        }
        "setSecret" => {
            for _ in 0..ATTEMPTS {
                // The public set first: a retire that publishes after this read makes the write
                // below fail; one that published before is in the record the write keeps.
                let (published, version) = keys.load_public_versioned().await?;
                let (pending, _) = keys.checked_pending(token).await?;
                check_not_retired(&pending, &published)?;
                let mut public = PublicKeys::of(pending.lifecycle()?);
                if let Some(l) = keys.load().await?.rsa.as_ref() {
                    public = PublicKeys::of(l).union(&public);
                }
                if write_public(keys, &published, &version, public).await?.is_some() {
                    return Ok(());
                }
            }
            return Err(KeyError::Conflict("public").into());
        }
        "testSecret" => {
            let (pending, _) = keys.checked_pending(token).await?;
            let published = keys.load_public().await?;
            for (state, key) in pending.lifecycle()?.keys() {
                if let Err(e) = test_key(key, &published) {
                    // A retire since the check above republishes without the pending keys.
                    keys.checked_pending(token).await?;
                    return Err(RotationError::Test(format!(
                        "{} key {}: {e}",
                        state.as_str(),
                        key.kid()
                    )));
                }
            }
        }
        "finishSecret" => {
            let (_, current_id) = keys.checked_pending(token).await?;
            // Refused if AWSCURRENT is no longer on the version the pending one was built on.
            let moved = keys
                .client
                .get()
                .update_secret_version_stage()
                .secret_id(&keys.private_id)
                .version_stage(CURRENT)
                .move_to_version_id(token)
                .remove_from_version_id(&current_id)
                .send()
                .await;
            if let Err(e) = moved {
                keys.checked_pending(token).await?;
                return Err(KeyError::Unavailable(sdk_failure("stage keys", e).to_string()).into());
            }
            // From the keys current now, not the pending version read before: a retire may have
            // come in between.
            rotation::republish(keys).await?;
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
