//! The login backoff schedule: how long a run of failed logins makes the next attempt wait.

/// An exponential backoff: no wait for the first `free` failures, then `base_secs` doubling
/// with each further failure, at most `max_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub free: u32,
    pub base_secs: u64,
    pub max_secs: u64,
}

impl Backoff {
    /// Seconds to wait after `failures` failures in a row, counted from the last.
    pub fn secs(&self, failures: u32) -> i64 {
        if failures < self.free {
            return 0;
        }
        let doublings = (failures - self.free).min(30);
        let secs = self.base_secs.saturating_mul(1u64 << doublings);
        secs.min(self.max_secs) as i64
    }
}

/// How failed logins are counted: per (email, client network) with `network`'s schedule, and
/// per email from every network with `account`'s much looser one. Counters are forgotten
/// `keep_secs` after their last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRules {
    pub network: Backoff,
    pub account: Backoff,
    pub keep_secs: i64,
}
