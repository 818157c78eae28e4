//! Talking to the providers users sign in with: building the authorization URL, exchanging the
//! code (with the PKCE verifier), and verifying who signed in: for an OpenID provider from its
//! id token ([`oidc`]), for GitHub from its API ([`github`]). What the service then does with
//! the identity (sign in, link, create) is the endpoints' (`endpoints::oauth`).
//!
//! Identities are keyed by (issuer, subject), never by provider name or email: a provider
//! renamed in the configuration keeps its users, and two providers cannot collide.

pub mod github;
pub mod oidc;

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::aws::LazyClient;
use crate::config::federation::{ClientSecret, Provider, ProviderKind};
use crate::outbound::OutboundError;
pub use crate::outbound::OutboundHttp;

/// How long a provider has to answer one call.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The provider did not answer (in time), or its secret could not be read: worth a retry.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    /// The provider answered, but not with what a sign-in needs (a refused code, a bad token).
    #[error("provider answer refused: {0}")]
    Refused(String),
}

impl From<OutboundError> for FederationError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Unreachable(m) => FederationError::Unreachable(m),
            OutboundError::Refused(m) => FederationError::Refused(m),
        }
    }
}

/// Who signed in at the provider, as the provider vouches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The provider's issuer (GitHub: its API URL).
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider says it verified `email`.
    pub email_verified: bool,
    /// The provider's username (`preferred_username`, GitHub's `login`), a hint for a new
    /// account's.
    pub username_hint: Option<String>,
}

/// The front-channel request to the provider.
pub struct AuthorizeRequest<'a> {
    /// The service's callback URL.
    pub redirect_uri: &'a str,
    pub state: &'a str,
    /// An OpenID provider's nonce (GitHub has none).
    pub nonce: &'a str,
    /// The S256 challenge of the verifier kept with the state.
    pub code_challenge: &'a str,
}

/// The providers, their cached documents and keys, and the client that reaches them.
pub struct Federation {
    providers: Vec<Provider>,
    http: OutboundHttp,
    oidc: oidc::OidcCache,
    secrets: Option<LazyClient<aws_sdk_secretsmanager::Client>>,
    secret_cache: Mutex<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct OidcTokens {
    id_token: Option<String>,
}

impl Federation {
    /// `secrets` reads `client_secret_ref` secrets (the AWS backend).
    pub fn new(
        providers: Vec<Provider>,
        secrets: Option<LazyClient<aws_sdk_secretsmanager::Client>>,
    ) -> Federation {
        Federation {
            providers,
            http: OutboundHttp::new(PROVIDER_TIMEOUT),
            oidc: oidc::OidcCache::default(),
            secrets,
            secret_cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The configured providers' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.iter().map(|p| p.name.as_str())
    }

    /// Where the browser goes to sign in at `provider`.
    pub async fn authorize_url(
        &self,
        provider: &Provider,
        req: &AuthorizeRequest<'_>,
    ) -> Result<String, FederationError> {
        let (endpoint, nonce) = match &provider.kind {
            ProviderKind::Oidc { issuer } => (
                self.oidc
                    .discovery(&self.http, issuer)
                    .await?
                    .authorization_endpoint,
                Some(req.nonce),
            ),
            ProviderKind::Github { authorize_url, .. } => (authorize_url.clone(), None),
        };
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs([
            ("response_type", "code"),
            ("client_id", provider.client_id.as_str()),
            ("redirect_uri", req.redirect_uri),
            ("scope", provider.scopes.as_str()),
            ("state", req.state),
            ("code_challenge", req.code_challenge),
            ("code_challenge_method", "S256"),
        ]);
        if let Some(nonce) = nonce {
            query.append_pair("nonce", nonce);
        }
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{endpoint}{sep}{}", query.finish()))
    }

    async fn client_secret(&self, provider: &Provider) -> Result<String, FederationError> {
        let id = match &provider.client_secret {
            ClientSecret::Value(secret) => return Ok(secret.clone()),
            ClientSecret::Reference(id) => id,
        };
        if let Some(secret) = self.secret_cache.lock().await.get(id) {
            return Ok(secret.clone());
        }
        let client = self.secrets.as_ref().ok_or_else(|| {
            FederationError::Unreachable("client_secret_ref needs the AWS backend: give client_secret".into())
        })?;
        let secret = client
            .get()
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                FederationError::Unreachable(format!("the client secret of {}: {e}", provider.name))
            })?
            .secret_string
            .ok_or_else(|| {
                FederationError::Unreachable(format!("the client secret of {} is empty", provider.name))
            })?;
        self.secret_cache.lock().await.insert(id.clone(), secret.clone());
        Ok(secret)
    }

    /// Exchanges `code` (with the PKCE `verifier`) and verifies who signed in.
    pub async fn sign_in(
        &self,
        provider: &Provider,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        nonce: &str,
        now: i64,
    ) -> Result<ProviderIdentity, FederationError> {
        let secret = self.client_secret(provider).await?;
        let client = (provider.client_id.as_str(), secret.as_str());
        match &provider.kind {
            ProviderKind::Oidc { issuer } => {
                let doc = self.oidc.discovery(&self.http, issuer).await?;
                let form = [
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", verifier),
                ];
                let answer = self.http.post_form(&doc.token_endpoint, &form, client).await?;
                let tokens: OidcTokens = answer.json("token")?;
                let id_token = tokens
                    .id_token
                    .ok_or_else(|| FederationError::Refused("the token answer holds no id token".into()))?;
                let expected = oidc::Expected {
                    issuer,
                    client_id: &provider.client_id,
                    nonce,
                    now,
                };
                let claims =
                    oidc::verified_claims(&self.oidc, &self.http, &doc, &id_token, &expected).await?;
                Ok(ProviderIdentity {
                    issuer: issuer.clone(),
                    subject: claims.sub,
                    email: claims.email,
                    email_verified: claims.email_verified,
                    username_hint: claims.preferred_username,
                })
            }
            ProviderKind::Github {
                token_url, api_url, ..
            } => {
                let endpoints = github::Endpoints { token_url, api_url };
                github::sign_in(&self.http, &endpoints, client, code, redirect_uri, verifier).await
            }
        }
    }
}
