//! What other services need to verify authyy's access tokens with nothing but a URL: the OpenID
//! discovery document and the public key set (JWKS). Both are public and cacheable.

use lambda_http::http::header::{self, HeaderValue};
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::EndpointResult;
use crate::http;
use crate::keys::Jwks;
use crate::state::AppState;
use crate::wire::{ErrorOut, OpenIdConfigurationOut};

/// How long clients may cache the discovery document.
const DISCOVERY_MAX_AGE: &str = "public, max-age=3600";
/// How long clients may cache the key set. A new key is published hours before it signs (see
/// [`crate::keys::lifecycle`]); a retired key disappears from clients that honour this within
/// this time (API Gateway's JWT authorizer keeps a set up to 2 hours whatever it says).
const JWKS_MAX_AGE: &str = "public, max-age=900";

fn cacheable(mut resp: EndpointResult, policy: &'static str) -> EndpointResult {
    if let Ok(r) = resp.as_mut() {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    resp
}

#[utoipa::path(get, path = "/auth/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "The discovery document; `issuer` equals the `iss` of every access token. Cacheable for an hour.", body = OpenIdConfigurationOut,
        headers(("Cache-Control" = String, description = "`public, max-age=3600`")))))]
/// GET /auth/.well-known/openid-configuration: where the keys are and how tokens are signed.
pub async fn openid_configuration(state: &AppState, req: &Request) -> EndpointResult {
    let issuer = http::issuer(&state.config, req)?;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let doc = OpenIdConfigurationOut {
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        service_documentation: format!("{issuer}/docs"),
        id_token_signing_alg_values_supported: strings(&["RS256"]),
        subject_types_supported: strings(&["public"]),
        response_types_supported: strings(&["token"]),
        scopes_supported: strings(&["user", "admin"]),
        claims_supported: strings(&[
            "iss",
            "aud",
            "sub",
            "exp",
            "iat",
            "jti",
            "sid",
            "scope",
            "token_use",
            "email_verified",
        ]),
        issuer,
    };
    cacheable(http::json(StatusCode::OK, &doc), DISCOVERY_MAX_AGE)
}

#[utoipa::path(get, path = "/auth/.well-known/jwks.json", tag = "discovery",
    responses(
        (status = 200, description = "The public keys that verify access tokens (RS256), by `kid`: the current key, the next one (published before it signs) and the previous one (until its tokens have expired). Cacheable for 15 minutes.", body = Jwks,
            headers(("Cache-Control" = String, description = "`public, max-age=900`"))),
        (status = 503, description = "The key set could not be read; retry", body = ErrorOut)))]
/// GET /auth/.well-known/jwks.json: the public key set.
pub async fn jwks(state: &AppState, _req: &Request) -> EndpointResult {
    let keys = state.tokens.public_keys().await?;
    cacheable(http::json(StatusCode::OK, keys.jwks()), JWKS_MAX_AGE)
}
