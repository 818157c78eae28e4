//! The AWS SDK as every production backend uses it: one shared SDK configuration (TLS, and the
//! timeouts and retries of [`AwsSettings`]), and one mapping of SDK failures. The backends
//! themselves live beside their traits: [`crate::store::dynamo`], [`crate::mail::ses`],
//! [`crate::queue::sqs`] and [`crate::keys::secrets_manager`].

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::config::AwsSettings;

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
