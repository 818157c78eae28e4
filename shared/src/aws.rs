//! The AWS SDK as every production backend uses it: settings from the environment, one shared
//! SDK configuration (TLS, timeouts, retries), and one mapping of SDK failures. The backends
//! themselves live beside their traits: [`crate::store::dynamo`], [`crate::mail::ses`],
//! [`crate::queue::sqs`] and [`crate::keys::secrets_manager`].

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::config::{ConfigError, Env};

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
            key_cache: Duration::from_secs(env.parse("AUTH_KEY_CACHE_SECONDS")?.unwrap_or(300)),
            connect_timeout: ms("AUTH_AWS_CONNECT_TIMEOUT_MS", 1000)?,
            attempt_timeout: ms("AUTH_AWS_ATTEMPT_TIMEOUT_MS", 2000)?,
            operation_timeout: ms("AUTH_AWS_OPERATION_TIMEOUT_MS", 5000)?,
            max_attempts: env.parse("AUTH_AWS_MAX_ATTEMPTS")?.unwrap_or(3),
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
            key_cache: Duration::from_secs(300),
            connect_timeout: Duration::from_millis(1000),
            attempt_timeout: Duration::from_millis(2000),
            operation_timeout: Duration::from_millis(5000),
            max_attempts: 3,
        }
    }
}

/// The SDK's shared configuration: rustls with ring, connect and operation timeouts, bounded
/// retries, and the standard region/credential/endpoint chain (AWS_ENDPOINT_URL points it at
/// a local server). Build it once per execution environment.
pub fn config_loader(settings: &AwsSettings) -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .operation_timeout(settings.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
}

pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    config_loader(settings).load().await
}

const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TooManyRequestsException",
    "LimitExceededException",
];

/// An SDK call that failed, described without any request data.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SdkFailure {
    /// Timed out, unreachable or throttled: worth a retry (503), not a fault of ours (500).
    pub transient: bool,
    pub message: String,
}

/// Describes an SDK failure of `operation`: timeouts, connection failures and throttling are
/// transient; anything else is a backend fault. Never carries request data.
pub fn sdk_failure<E, R>(operation: &str, err: SdkError<E, R>) -> SdkFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (transient, message) = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            (true, format!("{operation}: {}", DisplayErrorContext(&err)))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            let message = format!("{operation}: {code}: {}", service.err().message().unwrap_or(""));
            (TRANSIENT_CODES.contains(&code), message)
        }
        _ => (false, format!("{operation}: {}", DisplayErrorContext(&err))),
    };
    SdkFailure { transient, message }
}
