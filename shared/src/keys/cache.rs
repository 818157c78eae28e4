//! The key set as the functions see it: read from its [`KeyStore`] on first use, kept for the
//! life of the execution environment, and read again on an invocation once older than its
//! maximum age, so a rotation reaches warm functions without a redeploy. (Lambda freezes
//! background tasks between invocations, so the refresh happens on the request path, at most
//! once per period.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::{KeyError, KeySet, KeyStore};

/// After a failed refresh the cached copy is used for this long before the next attempt.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

pub struct CachedKeys {
    store: Arc<dyn KeyStore>,
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
    pub fn new(store: Arc<dyn KeyStore>, max_age: Option<Duration>) -> Self {
        CachedKeys {
            store,
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
        match self.store.load().await {
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
