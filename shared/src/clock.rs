//! Time as the endpoint logic sees it: injectable so tests can move it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now", in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that starts at the real time and only moves when told to (tests, benchmarks).
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            now_ms: AtomicI64::new(SystemClock.now_ms()),
        }
    }
}

impl ManualClock {
    pub fn advance_secs(&self, secs: i64) {
        self.now_ms.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    pub fn advance_ms(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// RFC 3339 in UTC with a `Z` and whole seconds, as the API contract writes times.
pub fn rfc3339(epoch_secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(epoch_secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_z_and_whole_seconds() {
        assert_eq!(rfc3339(1_754_735_400), "2025-08-09T10:30:00Z");
    }
}
