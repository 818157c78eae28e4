//! Which backend the environment asks for, decided here once.

use super::env::Env;
use super::error::ConfigError;

/// Local mode (SQLite, `.eml` outbox, in-process mail queue) or the AWS backend (DynamoDB,
/// SES, SQS, Secrets Manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Local,
    Aws,
}

impl BackendKind {
    /// AUTH_BACKEND (`local` or `aws`); unset, the AWS backend when AUTH_TABLE_NAME is set and
    /// local mode otherwise.
    pub fn from_env(env: &Env) -> Result<BackendKind, ConfigError> {
        match env.get("AUTH_BACKEND").map(str::to_ascii_lowercase).as_deref() {
            Some("local") => Ok(BackendKind::Local),
            Some("aws") => Ok(BackendKind::Aws),
            Some(other) => Err(ConfigError::Invalid {
                name: "AUTH_BACKEND",
                reason: format!("must be local or aws, not {other:?}"),
            }),
            None if env.get("AUTH_TABLE_NAME").is_some() => Ok(BackendKind::Aws),
            None => Ok(BackendKind::Local),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_is_named_or_follows_from_a_table_name() {
        let kind = |pairs: &[(&str, &str)]| BackendKind::from_env(&Env::from_pairs(pairs.iter().copied()));
        assert_eq!(kind(&[]).unwrap(), BackendKind::Local);
        assert_eq!(kind(&[("AUTH_BACKEND", "AWS")]).unwrap(), BackendKind::Aws);
        assert_eq!(kind(&[("AUTH_TABLE_NAME", "t")]).unwrap(), BackendKind::Aws);
        assert_eq!(
            kind(&[("AUTH_BACKEND", "local"), ("AUTH_TABLE_NAME", "t")]).unwrap(),
            BackendKind::Local
        );
        let err = kind(&[("AUTH_BACKEND", "postgres")]).unwrap_err().to_string();
        assert!(err.contains("AUTH_BACKEND"), "{err}");
    }
}
