//! The key set as the functions see it: read from its [`KeyStore`] on first use, kept for the
//! life of the execution environment, and read again on an invocation once older than its
//! maximum age, so a rotation reaches warm functions without a redeploy. (Lambda freezes
//! background tasks between invocations, so the refresh happens on the request path, at most
//! once per period.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::{KeyError, KeySet, KeyStore};

type Load = dyn Fn() -> Pin<Box<dyn Future<Output = Result<KeySet, KeyError>> + Send>> + Send + Sync;

/// After a failed refresh the cached copy is used for this long before the next attempt.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

pub struct CachedKeys {
    /// The store's `load` alone: holding the store as `dyn KeyStore` would link its `save`
    /// (the rotation code, with its SDK call) into every function binary.
    load: Box<Load>,
    /// None: read once and kept (local mode, whose keys change only at restart).
    max_age: Option<Duration>,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    keys: Arc<KeySet>,
    /// When this copy must be read again.
    stale_at: Option<Instant>,
}

impl CachedKeys {
    pub fn new<S: KeyStore + ?Sized + 'static>(store: Arc<S>, max_age: Option<Duration>) -> Self {
        CachedKeys {
            load: Box::new(move || {
                let store = store.clone();
                Box::pin(async move { store.load().await })
            }),
            max_age,
            cached: Mutex::new(None),
        }
    }

    /// The current key set, read from the store if there is no fresh copy.
    pub async fn keys(&self) -> Result<Arc<KeySet>, KeyError> {
        // One read at a time; callers that waited find the fresh copy.
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if c.stale_at.is_none_or(|at| Instant::now() < at) {
                return Ok(c.keys.clone());
            }
        }
        match (self.load)().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *cached = Some(Cached {
                    keys: keys.clone(),
                    stale_at: self.max_age.map(|age| Instant::now() + age),
                });
                Ok(keys)
            }
            // A stale copy beats an outage; try again a little later.
            Err(e) => match cached.as_mut() {
                Some(c) => {
                    tracing::warn!(error = %e, "signing keys not refreshed; using the cached copy");
                    let wait = self
                        .max_age
                        .map_or(RETRY_AFTER_FAILURE, |a| a.min(RETRY_AFTER_FAILURE));
                    c.stale_at = Some(Instant::now() + wait);
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

    use async_trait::async_trait;

    use super::*;
    use crate::keys::random_key;

    /// A key store that counts its reads and can be made to fail.
    #[derive(Default)]
    struct Flaky {
        reads: AtomicUsize,
        failing: AtomicBool,
    }

    #[async_trait]
    impl KeyStore for Flaky {
        async fn load(&self) -> Result<KeySet, KeyError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(KeyError::Unavailable("down".into()));
            }
            KeySet::single("k1", random_key())
        }

        async fn save(&self, _keys: &KeySet) -> Result<(), KeyError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn without_a_maximum_age_keys_are_read_once() {
        let store = Arc::new(Flaky::default());
        let keys = CachedKeys::new(store.clone(), None);
        for _ in 0..3 {
            keys.keys().await.unwrap();
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stale_keys_are_read_again() {
        let store = Arc::new(Flaky::default());
        let keys = CachedKeys::new(store.clone(), Some(Duration::ZERO));
        for _ in 0..3 {
            keys.keys().await.unwrap();
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_cached_copy() {
        let store = Arc::new(Flaky::default());
        let keys = CachedKeys::new(store.clone(), Some(Duration::ZERO));
        let first = keys.keys().await.unwrap();
        store.failing.store(true, Ordering::SeqCst);
        let again = keys.keys().await.unwrap();
        assert_eq!(again.signing().1, first.signing().1);
    }

    #[tokio::test]
    async fn with_no_copy_a_failed_read_is_an_error() {
        let store = Arc::new(Flaky::default());
        store.failing.store(true, Ordering::SeqCst);
        let keys = CachedKeys::new(store, None);
        assert!(keys.keys().await.is_err());
    }
}
