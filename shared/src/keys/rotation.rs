//! Moving the key lifecycle in any [`KeyStore`], always publishing a key before anything signs
//! with it: what `authyy-admin keys rotate | retire | republish` runs on both backends. (On AWS
//! the scheduled rotation runs the same steps through Secrets Manager's four-step protocol:
//! [`super::secrets_manager::rotation_step`].)
//!
//! Rotations and retires may run at the same time (the scheduled rotation, an operator's
//! command, two operators). So that none undoes another's change, every write is conditional on
//! the version of the set it was computed from, and a write that finds the set changed starts
//! again from a fresh read. And so that a retired key can never be published again, even by a
//! writer holding keys read before the retire, the public set records the retired kids and every
//! publication keeps the record and leaves their keys out ([`PublicKeys::with_retired_of`]).

use std::time::Duration;

use super::lifecycle::{Lifecycle, LifecycleError};
use super::signing::SigningKey;
use super::{KeyError, KeyStore, PrivateKeys, PublicKeys, Version};

/// How many times a change that lost a race to another writer starts again from a fresh read.
pub(crate) const ATTEMPTS: usize = 8;

fn gave_up(set: &'static str) -> LifecycleError {
    LifecycleError::Keys(KeyError::Conflict(set))
}

/// The private keys one rotation step after `keys`. A set without RSA keys (an older HS256-only
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

/// Refuses to build on keys of which one is retired: a retire is under way (it has published
/// and not yet saved), or was interrupted between the two.
pub fn check_not_retired(keys: &PrivateKeys, published: &PublicKeys) -> Result<(), LifecycleError> {
    match keys
        .rsa
        .iter()
        .flat_map(Lifecycle::keys)
        .find(|(_, k)| published.is_retired(k.kid()))
    {
        Some((_, key)) => Err(LifecycleError::RetiredKeyInUse(key.kid().to_string())),
        None => Ok(()),
    }
}

/// Writes `new` as the public set read as `read` (version `version`), keeping its record of
/// retired kids. `Ok(None)` when the set changed since it was read.
pub(crate) async fn write_public(
    store: &dyn KeyStore,
    read: &PublicKeys,
    version: &Version,
    new: PublicKeys,
) -> Result<Option<PublicKeys>, KeyError> {
    let new = new.with_retired_of(read);
    if new.same_as(read) {
        return Ok(Some(new));
    }
    match store.publish_if(&new, version).await {
        Ok(()) => Ok(Some(new)),
        Err(KeyError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Publishes what `change` makes of the public set, conditionally, from a fresh read until no
/// other writer comes between the read and the write.
async fn update_public(
    store: &dyn KeyStore,
    mut change: impl FnMut(&PublicKeys) -> Result<PublicKeys, LifecycleError> + Send,
) -> Result<PublicKeys, LifecycleError> {
    for _ in 0..ATTEMPTS {
        let (read, version) = store.load_public_versioned().await?;
        let new = change(&read)?;
        if let Some(done) = write_public(store, &read, &version, new).await? {
            return Ok(done);
        }
    }
    Err(gave_up("public"))
}

/// Publishes exactly the keys of the current lifecycle (less any retired one): after a change
/// of the private set, and `authyy-admin keys republish`. The public set is read before the
/// private one, so a retire that publishes in between makes this write fail and start again,
/// and one that published before is in the record this write keeps.
pub async fn republish(store: &dyn KeyStore) -> Result<PublicKeys, LifecycleError> {
    for _ in 0..ATTEMPTS {
        let (read, version) = store.load_public_versioned().await?;
        let private = store.load().await?;
        let new = PublicKeys::of(private.lifecycle()?);
        if let Some(done) = write_public(store, &read, &version, new).await? {
            return Ok(done);
        }
    }
    Err(gave_up("public"))
}

/// The kids the public set publishes that are not in the lifecycle (next, current, previous):
/// a key still accepted by every verifier though nothing should sign with it.
pub fn published_outside_lifecycle(keys: &PrivateKeys, published: &PublicKeys) -> Vec<String> {
    let lifecycle: Vec<&str> = keys
        .rsa
        .iter()
        .flat_map(Lifecycle::keys)
        .map(|(_, k)| k.kid())
        .collect();
    published
        .kids()
        .into_iter()
        .filter(|kid| !lifecycle.contains(kid))
        .map(str::to_string)
        .collect()
}

/// One lifecycle step: the new keys are published (beside the old ones) before the private
/// set changes, then the public set is trimmed to the new lifecycle. The private set is written
/// only if it is still the one the step was computed from; otherwise the step starts again.
/// Refused while a retire is under way (or was interrupted): see [`check_not_retired`].
pub async fn rotate(
    store: &dyn KeyStore,
    now: i64,
    min_published: Duration,
) -> Result<PrivateKeys, LifecycleError> {
    for _ in 0..ATTEMPTS {
        // The public set first: a key it records as retired while the private set still holds
        // it is a retire under way, not one that finished between the two reads.
        let before = store.load_public().await?;
        let (old, version) = store.load_versioned().await?;
        check_not_retired(&old, &before)?;
        let new = rotated(&old, now, min_published)?;
        let new_public = PublicKeys::of(new.lifecycle()?);
        let published = update_public(store, |published| {
            check_not_retired(&old, published)?;
            Ok(published.union(&new_public))
        })
        .await;
        match published {
            // A retire since the private set was read: start again from its keys.
            Err(LifecycleError::RetiredKeyInUse(_)) => continue,
            other => other?,
        };
        match store.save_if(&new, &version).await {
            Ok(()) => {
                republish(store).await?;
                return Ok(new);
            }
            Err(KeyError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(gave_up("private"))
}

/// Removes the key `kid` from both sets at once (a compromised key): the public set first, so
/// verifiers drop it as their caches expire, recording the kid as retired so that nothing
/// publishes it again; then the private set, only if it is still the one read (otherwise the
/// retire starts again from the keys now current). A kid published but not in the lifecycle (a
/// rotation's new key published early, or one left by hand) is removed from the public set and
/// recorded, and the private set is written again unchanged, so that a rotation under way,
/// built on the keys before, is abandoned. A kid retired before is retired again (done).
pub async fn retire(store: &dyn KeyStore, kid: &str, now: i64) -> Result<PrivateKeys, LifecycleError> {
    for _ in 0..ATTEMPTS {
        let (old, version) = store.load_versioned().await?;
        let new = match &old.rsa {
            Some(l) if l.keys().iter().any(|(_, k)| k.kid() == kid) => Some(PrivateKeys {
                hmac: old.hmac.clone(),
                rsa: Some(l.retire(kid, || SigningKey::generate(now))?),
            }),
            _ => None,
        };
        let new_public = new
            .as_ref()
            .map(|n| n.lifecycle().map(PublicKeys::of))
            .transpose()?;
        update_public(store, |published| match &new_public {
            Some(p) => Ok(p.retire(kid)),
            None if published.decoding(kid).is_some() || published.is_retired(kid) => {
                Ok(published.retire(kid))
            }
            None => Err(LifecycleError::UnknownKid(kid.to_string())),
        })
        .await?;
        let new = new.unwrap_or(old);
        match store.save_if(&new, &version).await {
            Ok(()) => {
                if new.rsa.is_some() {
                    republish(store).await?;
                }
                return Ok(new);
            }
            Err(KeyError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(gave_up("private"))
}
