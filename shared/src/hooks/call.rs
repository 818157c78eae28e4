//! How a hook is called: the Lambda Invoke API (RequestResponse, no retries), or an HTTP POST
//! signed as Standard Webhooks sign (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
//! `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes). Either way
//! the answer must be a JSON object; an HTTP hook's must come with a 2xx status (a redirect is
//! never followed: a 3xx is a failure).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::HookError;
use crate::config::hooks::WebhookSecret;
use crate::outbound::{OutboundError, OutboundHttp};

/// How the Lambda Invoke API is reached.
#[derive(Clone)]
pub enum LambdaAccess {
    /// AWS, with the function's own SDK configuration (credentials, region).
    Aws(Box<aws_config::SdkConfig>),
    /// The local emulator (`cargo lambda watch` serves the Invoke API on its own port), at this
    /// endpoint (see `HookSettings::local_lambda_endpoint`), with placeholder credentials, which
    /// the emulator does not check.
    Local(String),
}

/// The Lambda client, built on the first call of a Lambda hook.
pub(super) struct LambdaClient {
    access: LambdaAccess,
    timeout: Duration,
    client: OnceCell<aws_sdk_lambda::Client>,
}

impl LambdaClient {
    pub(super) fn new(access: LambdaAccess, timeout: Duration) -> LambdaClient {
        LambdaClient {
            access,
            timeout,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_lambda::Client {
        self.client
            .get_or_init(|| async {
                use aws_sdk_lambda::config::retry::RetryConfig;
                use aws_sdk_lambda::config::timeout::TimeoutConfig;
                // One attempt: a retried invoke could run a signup's side effects twice.
                let timeouts = TimeoutConfig::builder().operation_timeout(self.timeout).build();
                let config = match &self.access {
                    LambdaAccess::Aws(sdk) => aws_sdk_lambda::config::Builder::from(sdk.as_ref()),
                    LambdaAccess::Local(endpoint) => {
                        let http = aws_smithy_http_client::Builder::new()
                            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                            ))
                            .build_https();
                        aws_sdk_lambda::config::Builder::new()
                            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
                            .http_client(http)
                            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
                            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                                "local",
                                "local",
                                None,
                                None,
                                "authyy-local",
                            ))
                            .endpoint_url(endpoint.clone())
                    }
                };
                aws_sdk_lambda::Client::from_conf(
                    config
                        .retry_config(RetryConfig::disabled())
                        .timeout_config(timeouts)
                        .build(),
                )
            })
            .await
    }

    pub(super) async fn invoke(
        &self,
        hook: &'static str,
        function: &str,
        event: &Value,
    ) -> Result<Map<String, Value>, HookError> {
        let unreachable = |reason: String| HookError::Unreachable { hook, reason };
        let body = serde_json::to_vec(event).map_err(|e| unreachable(e.to_string()))?;
        let call = self
            .client()
            .await
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(body))
            .send();
        let out = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| unreachable(format!("no answer in {:?}", self.timeout)))?
            .map_err(|e| {
                let failure = crate::aws::sdk_failure("invoke", e);
                unreachable(failure.message)
            })?;
        if let Some(error) = out.function_error() {
            return Err(HookError::refused(hook, format!("the function failed ({error})")));
        }
        let payload = out.payload().map(|p| p.as_ref()).unwrap_or_default();
        object(hook, payload)
    }
}

/// The answer as a JSON object.
fn object(hook: &'static str, body: &[u8]) -> Result<Map<String, Value>, HookError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(HookError::refused(hook, "the answer is not a JSON object")),
        Err(e) => Err(HookError::refused(hook, format!("the answer is not JSON: {e}"))),
    }
}

/// The `webhook-signature` of a message: `v1,` and the base64 HMAC-SHA256 of
/// `<id>.<timestamp>.<body>` under the secret's bytes.
pub(super) fn signature(secret: &WebhookSecret, id: &str, timestamp: u64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.key());
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(format!("{id}.{timestamp}.").as_bytes());
    context.update(body);
    let tag = context.sign();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// POSTs `event` to an HTTP hook, signed.
pub(super) async fn post(
    http: &OutboundHttp,
    hook: &'static str,
    url: &str,
    secret: &WebhookSecret,
    event: &Value,
) -> Result<Map<String, Value>, HookError> {
    let body = serde_json::to_vec(event).map_err(|e| HookError::refused(hook, e.to_string()))?;
    let id = format!("msg_{}", crate::randomness::new_id());
    // The receiver checks the timestamp against its own clock: the machine's, not a test's.
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let signature = signature(secret, &id, timestamp, &body);
    let timestamp = timestamp.to_string();
    let headers = [
        ("webhook-id", id.as_str()),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let answer = http.post_json(url, body, &headers).await.map_err(|e| match e {
        OutboundError::Unreachable(reason) => HookError::Unreachable { hook, reason },
        OutboundError::Refused(reason) => HookError::refused(hook, reason),
    })?;
    if !(200..300).contains(&answer.status) {
        return Err(HookError::refused(hook, format!("status {}", answer.status)));
    }
    object(hook, &answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_example() {
        // The Standard Webhooks specification's example message, secret and signature.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn only_a_json_object_is_an_answer() {
        assert!(object("t", br#"{"allow": true}"#).is_ok());
        for bad in [&b"[]"[..], b"null", b"\"yes\"", b"", b"{"] {
            assert!(object("t", bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
