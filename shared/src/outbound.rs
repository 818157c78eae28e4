//! The HTTP client for calls out of the service: to the providers users sign in with (their
//! discovery documents, keys, token and user endpoints) and to the team's HTTP hooks. TLS
//! verified against the machine's roots ([`crate::trust_roots`]), built on first use (a function that never calls out
//! never reads the roots), every call bounded in time and size, redirects never followed.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::OnceCell;

/// Why a call out did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// No answer (in time): worth a retry.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// An answer, but not one to use (a status, a body that is not the JSON expected).
    #[error("answer refused: {0}")]
    Refused(String),
}

/// No answer we read is larger (a JWKS, a discovery document, a user's emails, a hook's).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How long an idle connection is kept for the next call.
const POOL_IDLE: Duration = Duration::from_secs(4);

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The outbound HTTP client.
pub struct OutboundHttp {
    client: OnceCell<Client<Https, Full<Bytes>>>,
    timeout: Duration,
}

/// An answer: its status and body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON of type `T`, or why not (naming `what`).
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, OutboundError> {
        if !(200..300).contains(&self.status) {
            return Err(OutboundError::Refused(format!("{what}: status {}", self.status)));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| OutboundError::Refused(format!("{what}: not the JSON expected: {e}")))
    }
}

impl OutboundHttp {
    pub fn new(timeout: Duration) -> OutboundHttp {
        OutboundHttp {
            client: OnceCell::new(),
            timeout,
        }
    }

    async fn client(&self) -> Result<&Client<Https, Full<Bytes>>, OutboundError> {
        self.client
            .get_or_try_init(|| async {
                let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
                let builder = hyper_rustls::HttpsConnectorBuilder::new();
                let builder = match crate::trust_roots::bundle() {
                    Some(bundle) => builder.with_tls_config(
                        rustls::ClientConfig::builder_with_provider(provider)
                            .with_safe_default_protocol_versions()
                            .map_err(|e| OutboundError::Unreachable(format!("TLS: {e}")))?
                            .with_root_certificates(bundle.root_store())
                            .with_no_client_auth(),
                    ),
                    None => builder
                        .with_provider_and_native_roots(provider)
                        .map_err(|e| OutboundError::Unreachable(format!("TLS roots: {e}")))?,
                };
                let connector = builder.https_or_http().enable_http1().build();
                // Idle connections are dropped before a typical server closes them (Node's
                // default is 5 s), so a reused one is not found closed mid-request.
                Ok(Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(POOL_IDLE)
                    .pool_timer(TokioTimer::new())
                    .build(connector))
            })
            .await
    }

    /// GET `url` with `accept` and, when given, a bearer token.
    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Answer, OutboundError> {
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(url)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "authyy");
        if let Some(token) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(req, Full::default()).await
    }

    /// POST `body` (JSON) to `url` with `headers`.
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, OutboundError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "authyy")
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.send(req, Full::new(Bytes::from(body))).await
    }

    /// POST a form to `url`, authenticated with HTTP Basic as `client_id:client_secret`
    /// (`client_secret_basic`, each part form-encoded as RFC 6749 §2.3.1 says).
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: (&str, &str),
    ) -> Result<Answer, OutboundError> {
        use base64::Engine;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(basic.0),
            encode(basic.1)
        ));
        let req = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "authyy")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, format!("Basic {credentials}"));
        self.send(req, Full::new(Bytes::from(body))).await
    }

    async fn send(
        &self,
        req: hyper::http::request::Builder,
        body: Full<Bytes>,
    ) -> Result<Answer, OutboundError> {
        let req = req
            .body(body)
            .map_err(|e| OutboundError::Refused(format!("a URL is unusable: {e}")))?;
        let host = req.uri().host().unwrap_or("").to_string();
        let client = self.client().await?;
        let call = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| OutboundError::Unreachable(format!("{host}: {e}")))?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| OutboundError::Unreachable(format!("{host}: reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| OutboundError::Unreachable(format!("{host}: no answer in {:?}", self.timeout)))?
    }
}
