//! The AWS backend's settings: the table, the two key secrets, the mail queue, and the SDK's
//! timeouts and retries.

use std::time::Duration;

use super::env::Env;
use super::error::ConfigError;

/// How long a fetched key set is used before it is fetched again (AUTH_KEY_CACHE_SECONDS).
pub const DEFAULT_KEY_CACHE: Duration = Duration::from_secs(300);

/// AUTH_KEY_CACHE_SECONDS: the API functions' key cache, which the rotation function must also
/// know (a new key is published at least that long before it signs).
pub(super) fn key_cache(env: &Env) -> Result<Duration, ConfigError> {
    env.secs("AUTH_KEY_CACHE_SECONDS", DEFAULT_KEY_CACHE)
}

/// Settings of the AWS backend (AUTH_BACKEND=aws).
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub table_name: String,
    /// The private keys (only the signing functions may read it).
    pub signing_secret_id: String,
    /// The public key set, the JWKS (the verifying functions read it).
    pub public_keys_secret_id: String,
    pub configuration_set: Option<String>,
    /// The SQS queue of mail jobs (AUTH_MAIL_QUEUE_URL), which the mailer function drains.
    pub mail_queue_url: String,
    /// How long a fetched key set is used before it is fetched again.
    pub key_cache: Duration,
    pub connect_timeout: Duration,
    /// Limit of one attempt of one SDK call.
    pub attempt_timeout: Duration,
    /// Limit of one SDK call with all its retries: well below the function's own timeout.
    pub operation_timeout: Duration,
    pub max_attempts: u32,
    /// The environment holds the credentials (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`,
    /// as Lambda's always does): the SDK takes them from there without building its default
    /// chain of every other place they can come from.
    pub environment_credentials: bool,
    /// `AWS_REGION`, when set (likewise taken directly).
    pub region: Option<String>,
}

impl AwsSettings {
    /// Reads the AWS settings; every variable the backend cannot do without is named if missing.
    pub fn from_env(env: &Env) -> Result<AwsSettings, ConfigError> {
        let required = |name: &'static str, what: &str| {
            env.get(name)
                .map(str::to_string)
                .ok_or_else(|| ConfigError::Missing {
                    name,
                    reason: format!("AUTH_BACKEND=aws needs {what}"),
                })
        };
        let ms = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(env.parse::<u64>(name)?.unwrap_or(default)))
        };
        if env.get("AUTH_MAIL_FROM").is_none() {
            return Err(ConfigError::Missing {
                name: "AUTH_MAIL_FROM",
                reason: "AUTH_BACKEND=aws needs the SES-verified sender address".into(),
            });
        }
        Ok(AwsSettings {
            table_name: required("AUTH_TABLE_NAME", "the DynamoDB table name")?,
            signing_secret_id: required(
                "AUTH_SIGNING_SECRET_ID",
                "the Secrets Manager secret of the private signing keys",
            )?,
            public_keys_secret_id: required(
                "AUTH_PUBLIC_KEYS_SECRET_ID",
                "the Secrets Manager secret of the public key set",
            )?,
            configuration_set: env.get("AUTH_SES_CONFIGURATION_SET").map(str::to_string),
            mail_queue_url: required("AUTH_MAIL_QUEUE_URL", "the URL of the SQS queue of mail jobs")?,
            key_cache: key_cache(env)?,
            connect_timeout: ms("AUTH_AWS_CONNECT_TIMEOUT_MS", 1000)?,
            attempt_timeout: ms("AUTH_AWS_ATTEMPT_TIMEOUT_MS", 2000)?,
            operation_timeout: ms("AUTH_AWS_OPERATION_TIMEOUT_MS", 5000)?,
            max_attempts: env.parse("AUTH_AWS_MAX_ATTEMPTS")?.unwrap_or(3),
            environment_credentials: env.get("AWS_ACCESS_KEY_ID").is_some()
                && env.get("AWS_SECRET_ACCESS_KEY").is_some(),
            region: env.get("AWS_REGION").map(str::to_string),
        })
    }

    /// Settings for tests and tools, with the default timeouts (and no mail queue).
    pub fn new(
        table_name: impl Into<String>,
        signing_secret_id: impl Into<String>,
        public_keys_secret_id: impl Into<String>,
    ) -> AwsSettings {
        AwsSettings {
            table_name: table_name.into(),
            signing_secret_id: signing_secret_id.into(),
            public_keys_secret_id: public_keys_secret_id.into(),
            configuration_set: None,
            mail_queue_url: String::new(),
            key_cache: DEFAULT_KEY_CACHE,
            connect_timeout: Duration::from_millis(1000),
            attempt_timeout: Duration::from_millis(2000),
            operation_timeout: Duration::from_millis(5000),
            max_attempts: 3,
            environment_credentials: false,
            region: None,
        }
    }
}
