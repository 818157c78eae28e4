//! The records and steps a provider flow shares, whether it signs in (`oauth`) or links an
//! identity to a signed-in account (`identities`): the `state` (our PKCE verifier, the nonce,
//! the frontend's page and challenge, and for a link the account), the frontend's one-time code
//! (who signed in, or the identity to link), and the redirects.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use super::common::EndpointResult;
use crate::config::federation::Provider;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::federation::{AuthorizeRequest, FederationError};
use crate::http;
use crate::randomness;
use crate::state::AppState;
use crate::store::{Handoff, Identity};

/// How long a `state` works: the time to sign in at the provider.
pub const STATE_TTL_SECS: i64 = 600;
/// How long the frontend's one-time code works.
pub const CODE_TTL_SECS: i64 = 60;

pub const UNKNOWN_PROVIDER: &str = "Unknown provider";
pub const REDIRECT_NOT_ALLOWED: &str = "redirect_to not allowed";
pub const INVALID_STATE: &str = "Invalid or expired state";
pub const INVALID_CODE: &str = "Invalid or expired code";

/// What the state keeps between the authorize route and the callback.
#[derive(Serialize, Deserialize)]
pub struct StateRecord {
    pub provider: String,
    pub redirect_to: String,
    /// Our PKCE verifier (the provider saw its challenge).
    pub verifier: String,
    pub nonce: String,
    /// The frontend's S256 challenge: the code is traded only with its verifier.
    pub frontend_challenge: String,
    /// A link flow's account (none: a sign-in).
    #[serde(default)]
    pub link_user: Option<UserId>,
}

/// What the frontend's one-time code stands for.
#[derive(Serialize, Deserialize)]
pub struct CodeRecord {
    pub provider: String,
    /// Who signed in, or the account a link is for.
    pub user_id: UserId,
    pub frontend_challenge: String,
    pub auth_time: i64,
    /// A link flow's identity (none: a sign-in).
    #[serde(default)]
    pub link: Option<LinkedIdentity>,
}

/// An identity to link, as the code carries it.
#[derive(Serialize, Deserialize)]
pub struct LinkedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
}

/// The `{provider}` of `/auth/oauth/{provider}/...`.
pub fn provider_segment(req: &Request) -> &str {
    let path = req.uri().path();
    path.split_once("/oauth/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .unwrap_or("")
}

pub fn provider<'a>(state: &'a AppState, req: &Request) -> Result<&'a Provider, ApiError> {
    state
        .federation
        .provider(provider_segment(req))
        .ok_or(ApiError::BadRequest(UNKNOWN_PROVIDER))
}

/// The service's callback URL for `provider` (registered at the provider).
pub fn callback_url(state: &AppState, req: &Request, provider: &Provider) -> Result<String, ApiError> {
    Ok(format!(
        "{}/oauth/{}/callback",
        http::issuer(&state.config, req)?,
        provider.name
    ))
}

/// An S256 challenge of RFC 7636: 43 characters of base64url (a SHA-256).
pub fn is_s256_challenge(value: &str) -> bool {
    value.len() == 43 && URL_SAFE_NO_PAD.decode(value).is_ok_and(|b| b.len() == 32)
}

pub fn s256(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A 302 to `location`, neither cached nor leaking the URL it came from.
pub fn redirect(location: &str) -> EndpointResult {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::FOUND;
    let headers = resp.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(location).map_err(|e| ApiError::Internal(format!("redirect URL: {e}")))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(resp)
}

/// The frontend's page with `name=value` in its fragment.
pub fn to_frontend(redirect_to: &str, name: &str, value: &str) -> EndpointResult {
    let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    redirect(&format!("{redirect_to}#{name}={value}"))
}

/// A new state for `record`: stored, and the provider's URL to send the browser to (or why the
/// provider could not be reached).
pub async fn start(
    state: &AppState,
    req: &Request,
    provider: &Provider,
    record: &StateRecord,
) -> Result<Result<String, FederationError>, ApiError> {
    let state_value = randomness::random_token::<32>();
    let redirect_uri = callback_url(state, req, provider)?;
    let authorize = AuthorizeRequest {
        redirect_uri: &redirect_uri,
        state: &state_value,
        nonce: &record.nonce,
        code_challenge: &s256(&record.verifier),
    };
    let url = match state.federation.authorize_url(provider, &authorize).await {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(provider = %provider.name, error = %e, "provider flow not started");
            return Ok(Err(e));
        }
    };
    let payload = serde_json::to_string(record).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = state.clock.now() + STATE_TTL_SECS;
    state
        .identities
        .put_handoff(
            Handoff::State,
            &randomness::token_hash(&state_value),
            &payload,
            expires_at,
        )
        .await?;
    Ok(Ok(url))
}

/// A state record for a new flow to `redirect_to` (checked against the allowed pages) with the
/// frontend's `challenge` (checked to be S256's).
pub fn new_state(
    state: &AppState,
    provider: &Provider,
    redirect_to: Option<String>,
    challenge: Option<String>,
    link_user: Option<UserId>,
    loc: &str,
) -> Result<StateRecord, ApiError> {
    let redirect_to = redirect_to
        .filter(|r| state.config.oauth_redirect_urls.contains(r))
        .ok_or(ApiError::BadRequest(REDIRECT_NOT_ALLOWED))?;
    let frontend_challenge = challenge.unwrap_or_default();
    if !is_s256_challenge(&frontend_challenge) {
        return Err(ApiError::validation(
            "value_error",
            &[loc, "code_challenge"],
            "Value error, code_challenge must be the S256 challenge of a PKCE verifier: 43 characters of base64url",
        ));
    }
    Ok(StateRecord {
        provider: provider.name.clone(),
        redirect_to,
        verifier: randomness::random_token::<32>(),
        nonce: randomness::random_token::<16>(),
        frontend_challenge,
        link_user,
    })
}

/// Spends the frontend's one-time `code`: its record, if it is stored, unexpired, and
/// `verifier` is the verifier of its challenge (400 `Invalid or expired code` otherwise; the
/// first attempt spends it whatever its outcome).
pub async fn take_code(state: &AppState, code: &str, verifier: &str) -> Result<CodeRecord, ApiError> {
    let now = state.clock.now();
    let record: CodeRecord = state
        .identities
        .take_handoff(Handoff::Code, &randomness::token_hash(code), now)
        .await?
        .and_then(|p| serde_json::from_str(&p).ok())
        .ok_or(ApiError::BadRequest(INVALID_CODE))?;
    if s256(verifier) != record.frontend_challenge {
        return Err(ApiError::BadRequest(INVALID_CODE));
    }
    Ok(record)
}

/// Stores `record` under a new one-time code for the frontend (60 seconds); the code.
pub async fn put_code(state: &AppState, record: &CodeRecord) -> Result<String, ApiError> {
    let code = randomness::random_token::<32>();
    let payload = serde_json::to_string(record).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = state.clock.now() + CODE_TTL_SECS;
    state
        .identities
        .put_handoff(
            Handoff::Code,
            &randomness::token_hash(&code),
            &payload,
            expires_at,
        )
        .await?;
    Ok(code)
}

/// The identity a link code carries, as stored for `provider`.
pub fn identity_of(link: &LinkedIdentity, provider: &str, now: i64) -> Identity {
    Identity {
        id: randomness::random_token::<16>(),
        provider: provider.to_string(),
        issuer: link.issuer.clone(),
        subject: link.subject.clone(),
        email: link.email.clone(),
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_43_characters_of_base64url_of_32_bytes() {
        assert!(is_s256_challenge(&s256("a verifier")));
        assert!(!is_s256_challenge(""));
        assert!(!is_s256_challenge(&"a".repeat(42)));
        assert!(!is_s256_challenge(&"+".repeat(43)));
    }

    #[test]
    fn s256_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
