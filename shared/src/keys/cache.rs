//! The key set as the functions see it: read from its [`KeyStore`] on first use, kept for the
//! life of the execution environment, and read again on an invocation once older than its
//! maximum age, so a rotation reaches warm functions without a redeploy. (Lambda freezes
//! background tasks between invocations, so the refresh happens on the request path, at most
//! once per period.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::{KeyError, KeyStore, PrivateKeys, PublicKeys};
use crate::clock::Clock;

type Load<T> = dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, KeyError>> + Send>> + Send + Sync;

/// After a failed refresh the cached copy is used for this long before the next attempt.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

pub struct CachedKeys<T> {
    /// The store's one read this cache needs: holding the store as `dyn KeyStore` would link
    /// its writes (the rotation code, with its SDK calls) into every function binary.
    load: Box<Load<T>>,
    /// None: read once and kept.
    max_age: Option<Duration>,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<Cached<T>>>,
}

struct Cached<T> {
    keys: Arc<T>,
    /// When (epoch ms) the store was last read for this copy, successfully or not.
    fetched_ms: i64,
    /// When (epoch ms) this copy must be read again.
    stale_ms: Option<i64>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl CachedKeys<PrivateKeys> {
    /// The private keys of `store` (only the signing functions read them).
    pub fn private<S: KeyStore + ?Sized + 'static>(
        store: Arc<S>,
        max_age: Option<Duration>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        CachedKeys::new(
            move || {
                let store = store.clone();
                Box::pin(async move { store.load().await })
            },
            max_age,
            clock,
        )
    }
}

impl CachedKeys<PublicKeys> {
    /// The public key set of `store` (what verifying functions and the JWKS endpoint read).
    pub fn public<S: KeyStore + ?Sized + 'static>(
        store: Arc<S>,
        max_age: Option<Duration>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        CachedKeys::new(
            move || {
                let store = store.clone();
                Box::pin(async move { store.load_public().await })
            },
            max_age,
            clock,
        )
    }
}

impl<T: Send + Sync + 'static> CachedKeys<T> {
    pub fn new(
        load: impl Fn() -> Pin<Box<dyn Future<Output = Result<T, KeyError>> + Send>> + Send + Sync + 'static,
        max_age: Option<Duration>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        CachedKeys {
            load: Box::new(load),
            max_age,
            clock,
            cached: Mutex::new(None),
        }
    }

    /// The keys, read from the store if there is no fresh copy.
    pub async fn get(&self) -> Result<Arc<T>, KeyError> {
        self.read(|c, now| c.stale_ms.is_none_or(|at| now < at)).await
    }

    /// The keys read again, unless the cached copy was read less than `min_interval` ago
    /// (a verifier meeting an unknown `kid`: a key published since it last read the set).
    pub async fn refetch(&self, min_interval: Duration) -> Result<Arc<T>, KeyError> {
        self.read(|c, now| now - c.fetched_ms < ms(min_interval)).await
    }

    async fn read(&self, fresh: impl Fn(&Cached<T>, i64) -> bool) -> Result<Arc<T>, KeyError> {
        // One read at a time; callers that waited find the fresh copy.
        let mut cached = self.cached.lock().await;
        let now = self.clock.now_ms();
        if let Some(c) = cached.as_ref().filter(|c| fresh(c, now)) {
            return Ok(c.keys.clone());
        }
        match (self.load)().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *cached = Some(Cached {
                    keys: keys.clone(),
                    fetched_ms: now,
                    stale_ms: self.max_age.map(|age| now.saturating_add(ms(age))),
                });
                Ok(keys)
            }
            // A stale copy beats an outage; try again a little later.
            Err(e) => match cached.as_mut() {
                Some(c) => {
                    tracing::warn!(error = %e, "keys not refreshed; using the cached copy");
                    let wait = self
                        .max_age
                        .map_or(RETRY_AFTER_FAILURE, |a| a.min(RETRY_AFTER_FAILURE));
                    c.stale_ms = Some(now.saturating_add(ms(wait)));
                    // A failed read counts against the refetch limit too, so an outage is not
                    // hammered by every request that carries an unknown kid.
                    c.fetched_ms = now;
                    Ok(c.keys.clone())
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::clock::ManualClock;

    /// A source that counts its reads (and returns the count) and can be made to fail.
    #[derive(Default)]
    struct Flaky {
        reads: AtomicUsize,
        failing: AtomicBool,
    }

    fn cache(source: &Arc<Flaky>, max_age: Option<Duration>, clock: &Arc<ManualClock>) -> CachedKeys<usize> {
        let source = source.clone();
        CachedKeys::new(
            move || {
                let source = source.clone();
                Box::pin(async move {
                    let n = source.reads.fetch_add(1, Ordering::SeqCst) + 1;
                    if source.failing.load(Ordering::SeqCst) {
                        return Err(KeyError::Unavailable("down".into()));
                    }
                    Ok(n)
                })
            },
            max_age,
            clock.clone(),
        )
    }

    #[tokio::test]
    async fn without_a_maximum_age_keys_are_read_once() {
        let (source, clock) = (Arc::new(Flaky::default()), Arc::new(ManualClock::default()));
        let keys = cache(&source, None, &clock);
        for _ in 0..3 {
            keys.get().await.unwrap();
            clock.advance_secs(3600);
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keys_are_read_again_once_older_than_their_maximum_age() {
        let (source, clock) = (Arc::new(Flaky::default()), Arc::new(ManualClock::default()));
        let keys = cache(&source, Some(Duration::from_secs(300)), &clock);
        assert_eq!(*keys.get().await.unwrap(), 1);
        clock.advance_secs(299);
        assert_eq!(*keys.get().await.unwrap(), 1);
        clock.advance_secs(1);
        assert_eq!(*keys.get().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_refetch_is_limited_to_one_per_interval() {
        let (source, clock) = (Arc::new(Flaky::default()), Arc::new(ManualClock::default()));
        let keys = cache(&source, None, &clock);
        keys.get().await.unwrap();
        assert_eq!(*keys.refetch(Duration::from_secs(30)).await.unwrap(), 1);
        clock.advance_secs(30);
        assert_eq!(*keys.refetch(Duration::from_secs(30)).await.unwrap(), 2);
        assert_eq!(*keys.refetch(Duration::from_secs(30)).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_cached_copy() {
        let (source, clock) = (Arc::new(Flaky::default()), Arc::new(ManualClock::default()));
        let keys = cache(&source, Some(Duration::ZERO), &clock);
        let first = keys.get().await.unwrap();
        source.failing.store(true, Ordering::SeqCst);
        assert_eq!(keys.get().await.unwrap(), first);
    }

    #[tokio::test]
    async fn with_no_copy_a_failed_read_is_an_error() {
        let (source, clock) = (Arc::new(Flaky::default()), Arc::new(ManualClock::default()));
        source.failing.store(true, Ordering::SeqCst);
        assert!(cache(&source, None, &clock).get().await.is_err());
    }
}
