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
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use std::sync::{Arc, OnceLock};

use crate::config::AwsSettings;

/// The SDK's shared configuration: rustls with ring, trusting the system's roots as read from
/// its bundle file ([`crate::trust_roots`]), connect and operation timeouts, bounded retries,
/// and the standard region/credential/endpoint chain (AWS_ENDPOINT_URL points it at a local
/// server). Build it once per execution environment.
pub fn config_loader(settings: &AwsSettings) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(HttpOnFirstCall::default()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .operation_timeout(settings.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
}

/// The SDK's own HTTP client (hyper, rustls with ring, the bundle's roots), made when the first
/// call needs a connection, not at cold start: the trust roots are read then (the bundle read
/// and checked, about half a millisecond), and only by a function that calls AWS at all.
///
/// The SDK's client also builds a TLS connector at each service client's construction, to
/// throw it away (the whole trust store decoded, about half a millisecond per client, before
/// the first call builds the one that is kept); that check is not done here. The connector is
/// built once, by the first call, and cached by the SDK's client as it always is.
#[derive(Debug, Default, Clone)]
struct HttpOnFirstCall(Arc<OnceLock<SharedHttpClient>>);

impl HttpOnFirstCall {
    fn client(&self) -> &SharedHttpClient {
        self.0.get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .tls_context(tls_context())
                .build_https()
        })
    }
}

impl HttpClient for HttpOnFirstCall {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client().http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.client().connector_metadata()
    }
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

/// An SDK client built on its first use. Building one parses its service's endpoint rules,
/// about 0.2 ms of a cold start, so a function that never calls a service (most never send
/// mail or queue a job) never builds its client. Clones share the one client.
pub struct LazyClient<C>(Arc<LazyInner<C>>);

struct LazyInner<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        LazyClient(self.0.clone())
    }
}

impl<C: Clone + Send + Sync + 'static> LazyClient<C> {
    /// The client `build` makes from `sdk`, when it is first needed.
    pub fn new(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        let sdk = sdk.clone();
        LazyClient(Arc::new(LazyInner {
            client: OnceLock::new(),
            build: Box::new(move || build(&sdk)),
        }))
    }

    pub fn get(&self) -> &C {
        self.0.client.get_or_init(|| (self.0.build)())
    }
}

/// A client already built (tests, tools).
impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        LazyClient(Arc::new(LazyInner {
            client: OnceLock::from(client.clone()),
            build: Box::new(move || client.clone()),
        }))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::Credentials;

    /// An SDK configuration over `http`, pointed at a closed port of this machine.
    fn sdk_over(http: &HttpOnFirstCall) -> SdkConfig {
        SdkConfig::builder()
            .http_client(SharedHttpClient::new(http.clone()))
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                Credentials::new("key", "secret", None, None, "test"),
            ))
            .endpoint_url("http://127.0.0.1:1")
            .behavior_version(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .build()
    }

    #[tokio::test]
    async fn the_http_client_and_its_trust_roots_are_made_by_the_first_call_not_by_a_service_client() {
        let http = HttpOnFirstCall::default();
        let sdk = sdk_over(&http);
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let _sqs = aws_sdk_sqs::Client::new(&sdk);
        assert!(http.0.get().is_none(), "built at a service client's construction");

        let err = dynamo.list_tables().send().await.unwrap_err();
        assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
        assert!(http.0.get().is_some(), "the first call made no HTTP client");
    }

    #[test]
    fn with_a_bundle_the_sdk_trusts_its_roots_alone() {
        // The machine's own bundle (every test machine has one; without, the generic loading).
        let expected = if crate::trust_roots::bundle().is_some() {
            "enable_native_roots: false"
        } else {
            "enable_native_roots: true"
        };
        let context = format!("{:?}", tls_context());
        assert!(context.contains(expected), "{context}");
    }

    #[test]
    fn the_user_agent_still_names_the_sdks_http_client() {
        let metadata = HttpOnFirstCall::default().connector_metadata();
        assert_eq!(metadata.map(|m| m.name().to_string()), Some("hyper".into()));
    }
}
