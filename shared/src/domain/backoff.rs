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

/// One failure counter as stored: attempts since the last success, the time before which no
/// attempt may be made (set when the attempt is reserved, from its count), and the time the
/// counter is forgotten (DynamoDB's TTL attribute; expiry is also checked in code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub locked_until: i64,
    pub expires_at: i64,
}

impl LoginFailures {
    /// The counter as it stands at `now`: an expired one counts nothing.
    pub fn live(self, now: i64) -> LoginFailures {
        if self.expires_at > now {
            self
        } else {
            LoginFailures::default()
        }
    }

    /// Seconds until an attempt may be made (0: now).
    pub fn wait(self, now: i64) -> i64 {
        (self.live(now).locked_until - now).max(0)
    }

    /// The counter with one more attempt reserved at `now`.
    pub fn reserve(self, now: i64, backoff: Backoff, keep_secs: i64) -> LoginFailures {
        let count = self.live(now).count.saturating_add(1);
        LoginFailures {
            count,
            locked_until: now + backoff.secs(count),
            expires_at: now + keep_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        free: 5,
        base_secs: 1,
        max_secs: 900,
    };

    #[test]
    fn a_reservation_counts_on_and_locks_from_its_own_count() {
        let mut f = LoginFailures::default();
        for _ in 0..4 {
            f = f.reserve(100, BACKOFF, 4500);
        }
        assert_eq!((f.count, f.wait(100)), (4, 0));
        f = f.reserve(100, BACKOFF, 4500);
        assert_eq!((f.count, f.locked_until, f.expires_at), (5, 101, 4600));
        assert_eq!(f.wait(100), 1);
        assert_eq!(f.reserve(101, BACKOFF, 4500).locked_until, 103);
    }

    #[test]
    fn an_expired_counter_counts_nothing_and_starts_again() {
        let f = LoginFailures {
            count: 40,
            locked_until: 200,
            expires_at: 150,
        };
        assert_eq!(f.wait(150), 0);
        assert_eq!(f.reserve(150, BACKOFF, 4500).count, 1);
    }
}
