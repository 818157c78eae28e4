//! The life of an RSA signing key: *next* (published, not yet signing), *current* (signs), then
//! *previous* (published until every token it signed has expired), then gone.
//!
//! Rotation moves every key one step. A key signs only after it has been published for
//! [`min_published`]: longer than API Gateway's JWKS cache (up to 2 hours) plus the functions'
//! own cache, so no verifier anywhere meets a token whose key it has not seen. The scheduled
//! rotation runs every 30 days, so in practice a key is published a whole period before it
//! signs, and stays published a whole period after (access tokens live 15 minutes).
//!
//! Retiring a key removes it at once (a compromised key): its tokens are refused as soon as the
//! verifiers' caches expire, and the next key takes over if it was the current one.

use std::time::Duration;

use super::signing::SigningKey;
use super::KeyError;

/// How long API Gateway's JWT authorizer may keep a key set (its documented maximum).
pub const API_GATEWAY_JWKS_CACHE: Duration = Duration::from_secs(2 * 3600);

/// Safety margin on top of every cache.
const MARGIN: Duration = Duration::from_secs(30 * 60);

/// How long a key must have been published before it may sign, given how long the functions
/// keep a key set (`function_cache`) and how long access tokens live (`access_ttl`). The same
/// time separates two rotations, so it also keeps the previous key published until every token
/// it signed has expired (a signer may use it for one more `function_cache` after a rotation).
pub fn min_published(function_cache: Duration, access_ttl: Duration) -> Duration {
    API_GATEWAY_JWKS_CACHE.max(access_ttl) + function_cache + MARGIN
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Previous,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Previous => "previous",
        }
    }
}

/// The three keys of the lifecycle. Debug never prints key material.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub next: SigningKey,
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(
        "the next key {kid} was published {published_secs} s ago; it may sign only after \
         {required_secs} s (every verifier's cache must have seen it first)"
    )]
    TooSoon {
        kid: String,
        published_secs: i64,
        required_secs: u64,
    },
    #[error("no key with the kid {0:?}")]
    UnknownKid(String),
    #[error(
        "the key {0} is retired (no longer published) but still in the private key set: a \
         `keys retire` is under way or was interrupted; run `authyy-admin keys retire {0}` again \
         to finish it"
    )]
    RetiredKeyInUse(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl Lifecycle {
    /// The first keys: one to sign now and the next one. Only for a store with no keys at all,
    /// when no token exists that any verifier could meet.
    pub fn start(now: i64) -> Result<Lifecycle, KeyError> {
        Ok(Lifecycle {
            current: SigningKey::generate(now)?,
            next: SigningKey::generate(now)?,
            previous: None,
        })
    }

    /// Every key with its state: current, next, previous.
    pub fn keys(&self) -> Vec<(KeyState, &SigningKey)> {
        let mut keys = vec![(KeyState::Current, &self.current), (KeyState::Next, &self.next)];
        if let Some(previous) = &self.previous {
            keys.push((KeyState::Previous, previous));
        }
        keys
    }

    /// One step: the next key signs, the current one becomes previous, the previous one goes,
    /// and a `fresh` key is published as next. Refused while the next key is younger than
    /// `min_published`.
    pub fn rotate(
        &self,
        now: i64,
        min_published: Duration,
        fresh: impl FnOnce() -> Result<SigningKey, KeyError>,
    ) -> Result<Lifecycle, LifecycleError> {
        let published_secs = now - self.next.published_at;
        if published_secs < min_published.as_secs() as i64 {
            return Err(LifecycleError::TooSoon {
                kid: self.next.kid().to_string(),
                published_secs,
                required_secs: min_published.as_secs(),
            });
        }
        Ok(Lifecycle {
            previous: Some(self.current.clone()),
            current: self.next.clone(),
            next: fresh()?,
        })
    }

    /// Removes the key `kid` at once. A retired current key is replaced by the next one (it
    /// has been published since the last rotation) and a `fresh` key becomes next; a retired
    /// next key is replaced by a `fresh` one; a retired previous key is simply dropped.
    pub fn retire(
        &self,
        kid: &str,
        fresh: impl FnOnce() -> Result<SigningKey, KeyError>,
    ) -> Result<Lifecycle, LifecycleError> {
        let mut out = self.clone();
        if self.previous.as_ref().is_some_and(|k| k.kid() == kid) {
            out.previous = None;
        } else if self.current.kid() == kid {
            out.current = self.next.clone();
            out.next = fresh()?;
        } else if self.next.kid() == kid {
            out.next = fresh()?;
        } else {
            return Err(LifecycleError::UnknownKid(kid.to_string()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    const HOUR: i64 = 3600;

    /// RSA generation is slow in debug builds: the tests share a few keys.
    fn key(i: usize, published_at: i64) -> SigningKey {
        static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| (0..4).map(|_| SigningKey::generate(0).unwrap()).collect());
        let mut key = keys[i].clone();
        key.published_at = published_at;
        key
    }

    fn lifecycle() -> Lifecycle {
        Lifecycle {
            current: key(0, 0),
            next: key(1, 0),
            previous: None,
        }
    }

    #[test]
    fn a_key_must_be_published_longer_than_every_cache_before_it_signs() {
        let (cache, ttl) = (Duration::from_secs(300), Duration::from_secs(900));
        assert!(min_published(cache, ttl) > API_GATEWAY_JWKS_CACHE + cache);
    }

    #[test]
    fn a_previous_key_outlives_the_longest_access_token_it_signed() {
        let (cache, ttl) = (Duration::from_secs(300), Duration::from_secs(6 * 3600));
        assert!(min_published(cache, ttl) > ttl + cache);
    }

    #[test]
    fn rotation_moves_every_key_one_step() {
        let l = lifecycle();
        let r = l
            .rotate(3 * HOUR, Duration::from_secs(3 * HOUR as u64), || {
                Ok(key(2, 3 * HOUR))
            })
            .unwrap();
        assert_eq!(r.current.kid(), l.next.kid());
        assert_eq!(r.previous.as_ref().unwrap().kid(), l.current.kid());
        assert_eq!(r.next.kid(), key(2, 0).kid());
        let again = r
            .rotate(6 * HOUR, Duration::from_secs(3 * HOUR as u64), || {
                Ok(key(3, 6 * HOUR))
            })
            .unwrap();
        assert!(again.keys().iter().all(|(_, k)| k.kid() != l.current.kid()));
    }

    #[test]
    fn a_next_key_younger_than_the_minimum_does_not_sign() {
        let err = lifecycle()
            .rotate(HOUR, Duration::from_secs(3 * HOUR as u64), || Ok(key(2, HOUR)))
            .unwrap_err();
        assert!(matches!(
            err,
            LifecycleError::TooSoon {
                published_secs: 3600,
                ..
            }
        ));
    }

    #[test]
    fn retiring_the_current_key_lets_the_next_one_sign() {
        let l = lifecycle();
        let r = l.retire(l.current.kid(), || Ok(key(2, 5))).unwrap();
        assert_eq!(r.current.kid(), l.next.kid());
        assert!(r.keys().iter().all(|(_, k)| k.kid() != l.current.kid()));
    }

    #[test]
    fn retiring_the_next_or_previous_key_keeps_the_current_one() {
        let l = lifecycle()
            .rotate(10 * HOUR, Duration::ZERO, || Ok(key(2, 10 * HOUR)))
            .unwrap();
        let previous = l.previous.as_ref().unwrap().kid().to_string();
        let r = l.retire(&previous, || unreachable!()).unwrap();
        assert!(r.previous.is_none());
        assert_eq!(r.current.kid(), l.current.kid());
        let r = l.retire(l.next.kid(), || Ok(key(3, 11 * HOUR))).unwrap();
        assert_eq!(r.next.kid(), key(3, 0).kid());
        assert_eq!(r.current.kid(), l.current.kid());
    }

    #[test]
    fn retiring_an_unknown_kid_is_an_error() {
        assert!(matches!(
            lifecycle().retire("nope", || unreachable!()),
            Err(LifecycleError::UnknownKid(_))
        ));
    }
}
