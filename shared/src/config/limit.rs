//! Rate limits as configured: `MAX/SECONDS`.

/// A rate limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u64,
}

impl std::str::FromStr for Limit {
    type Err = String;
    /// `"10/60"` means at most 10 per 60 seconds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (max, window) = s
            .split_once('/')
            .ok_or_else(|| format!("expected MAX/SECONDS, got {s:?}"))?;
        let max = max.trim().parse().map_err(|_| format!("bad count in {s:?}"))?;
        let window_secs: u64 = window
            .trim()
            .parse()
            .map_err(|_| format!("bad seconds in {s:?}"))?;
        if window_secs == 0 {
            return Err("the window must be at least one second".into());
        }
        Ok(Limit { max, window_secs })
    }
}
