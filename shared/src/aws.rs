//! The AWS SDK as every production backend uses it: one shared SDK configuration (TLS, and the
//! timeouts and retries of [`AwsSettings`]), and one mapping of SDK failures. The backends
//! themselves live beside their traits: [`crate::store::dynamo`], [`crate::mail::ses`],
//! [`crate::queue::sqs`] and [`crate::keys::secrets_manager`].

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};

use crate::config::AwsSettings;

/// The SDK's shared configuration: rustls with ring, trusting the system's roots as read from
/// its bundle file ([`crate::trust_roots`]), connect and operation timeouts, bounded retries,
/// and the standard region/credential/endpoint chain (AWS_ENDPOINT_URL points it at a local
/// server). Build it once per execution environment.
pub fn config_loader(settings: &AwsSettings) -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context())
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

/// The SDK's TLS settings: the bundle's roots only, or the SDK's own way of reading the
/// system's store when there is no bundle to read.
fn tls_context() -> TlsContext {
    let Some(bundle) = crate::trust_roots::bundle() else {
        return TlsContext::default();
    };
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(bundle.pem.clone()))
        .build()
        .unwrap_or_default()
}

/// [`config_loader`], loaded. Where the environment holds the credentials and region (as
/// Lambda's always does: the function role's keys and its region; see
/// [`AwsSettings::environment_credentials`]), they are taken from it directly, the first place
/// the SDK's default chains look, without building the rest of those chains (profile files,
/// SSO, web identity, containers, instance metadata): that took about 4 ms of every cold start.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = config_loader(settings);
    if settings.environment_credentials {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
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
