//! Moving the key lifecycle in any [`KeyStore`], always publishing a key before anything signs
//! with it: what `authyy-admin keys rotate | retire` runs on both backends. (On AWS the
//! scheduled rotation runs the same steps through Secrets Manager's four-step protocol:
//! [`super::secrets_manager::rotation_step`].)

use std::time::Duration;

use super::lifecycle::{Lifecycle, LifecycleError};
use super::signing::SigningKey;
use super::{KeyStore, PrivateKeys, PublicKeys};

/// The private keys one rotation step after `keys`. A set without RSA keys (a first-round
/// secret, or a fresh deploy) gets its first current and next key; the HMAC keys are kept.
pub fn rotated(keys: &PrivateKeys, now: i64, min_published: Duration) -> Result<PrivateKeys, LifecycleError> {
    let rsa = match &keys.rsa {
        None => Lifecycle::start(now)?,
        Some(l) => l.rotate(now, min_published, || SigningKey::generate(now))?,
    };
    Ok(PrivateKeys {
        hmac: keys.hmac.clone(),
        rsa: Some(rsa),
    })
}

/// One lifecycle step: the new keys are published (beside the old ones) before the private
/// set changes, then the public set is trimmed to the new lifecycle.
pub async fn rotate(
    store: &dyn KeyStore,
    now: i64,
    min_published: Duration,
) -> Result<PrivateKeys, LifecycleError> {
    let old = store.load().await?;
    let new = rotated(&old, now, min_published)?;
    let new_public = PublicKeys::of(new.lifecycle()?);
    let published = store.load_public().await?;
    store.publish(&published.union(&new_public)).await?;
    store.save(&new).await?;
    store.publish(&new_public).await?;
    Ok(new)
}

/// Removes the key `kid` from both sets at once (a compromised key): the public set first, so
/// verifiers drop it as their caches expire, then the private set.
pub async fn retire(store: &dyn KeyStore, kid: &str, now: i64) -> Result<PrivateKeys, LifecycleError> {
    let old = store.load().await?;
    let rsa = old.lifecycle()?.retire(kid, || SigningKey::generate(now))?;
    let new = PrivateKeys {
        hmac: old.hmac.clone(),
        rsa: Some(rsa),
    };
    if let Some(l) = &new.rsa {
        store.publish(&PublicKeys::of(l)).await?;
    }
    store.save(&new).await?;
    Ok(new)
}
