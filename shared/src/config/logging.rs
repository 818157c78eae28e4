//! How the functions log: the level and the format.

use super::env::Env;

/// The log settings of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The filter asked for: RUST_LOG, else Lambda's AWS_LAMBDA_LOG_LEVEL (lowercased), else
    /// `info`.
    pub spec: String,
    /// JSON lines when Lambda's advanced logging asks for them (AWS_LAMBDA_LOG_FORMAT=JSON).
    pub json: bool,
}

impl LogSettings {
    pub fn from_env(env: &Env) -> LogSettings {
        LogSettings {
            spec: env
                .get("RUST_LOG")
                .map(str::to_string)
                .or_else(|| env.get("AWS_LAMBDA_LOG_LEVEL").map(str::to_lowercase))
                .unwrap_or_else(|| "info".into()),
            json: env
                .get("AWS_LAMBDA_LOG_FORMAT")
                .is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_lambdas_level_and_info_is_the_default() {
        let settings =
            |pairs: &[(&str, &str)]| LogSettings::from_env(&Env::from_pairs(pairs.iter().copied()));
        assert_eq!(settings(&[]).spec, "info");
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).spec, "debug");
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "warn")]).spec,
            "warn"
        );
        assert!(!settings(&[]).json);
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "json")]).json);
    }
}
