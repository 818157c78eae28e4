//! Sign-in with a passkey and no username: `POST /auth/passkeys/login/options` (a challenge,
//! with no credentials listed: the browser offers the site's passkeys) and
//! `POST /auth/passkeys/login` (the assertion finds the account by its credential id and user
//! handle). A passkey with user verification is two factors at once: `aal2`, as login's second
//! step, which it also completes for an account whose password login asks for a second factor.

use super::audit;
use super::new_device::{self, SignedIn};
use crate::domain::audit::{Details, EventType, Method, Reason};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{envelope, envelope_user, EndpointResult};
use super::issuance;
use super::passkeys::{new_challenge, relying_party, spend_challenge, CHALLENGE_TTL};
use super::responses::{JsonBodyRefused, Unavailable};
use crate::domain::webauthn::{self, Assertion, StoredCredential, WebauthnError};
use crate::domain::Authentication;
use crate::error::{ApiError, EMAIL_NOT_VERIFIED, INVALID_PASSKEY};
use crate::http;
use crate::randomness;
use crate::state::AppState;
use crate::store::{Ceremony, PasskeyUse, UseEnd};
use crate::wire::passkey::{PasskeyRequestOut, RequestOptions};
use crate::wire::{ErrorOut, PasskeyLoginRequest, TokenEnvelope, ValidationErrorOut};

fn refused(reason: &dyn std::fmt::Display) -> ApiError {
    tracing::info!(reason = %reason, "passkey sign-in refused");
    ApiError::Unauthenticated(INVALID_PASSKEY)
}

/// Options to sign in with a passkey (`PublicKeyCredential.parseRequestOptionsFromJSON`).
#[utoipa::path(post, path = "/auth/passkeys/login/options", tag = "passkeys", operation_id = "passkey_login_options",
    responses(
        (status = 200, description = "`challenge_id` and the request options (the challenge works once, for 5 minutes)", body = PasskeyRequestOut),
        (status = 429, description = "Too many option requests from this client address", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        JsonBodyRefused, Unavailable))]
pub async fn login_options(state: &AppState, _req: &Request) -> EndpointResult {
    let challenge = new_challenge(state, Ceremony::Authentication).await?;
    let body = PasskeyRequestOut {
        challenge_id: challenge.id,
        public_key: RequestOptions {
            challenge: challenge.challenge,
            rp_id: state.config.webauthn_rp_id.clone(),
            timeout: CHALLENGE_TTL.as_millis() as u64,
            user_verification: "required".into(),
            allow_credentials: vec![],
        },
    };
    http::json(StatusCode::OK, &body)
}

/// Sign in with a passkey.
#[utoipa::path(post, path = "/auth/passkeys/login", tag = "passkeys", operation_id = "passkey_login", request_body = PasskeyLoginRequest,
    responses(
        (status = 200, description = "The token envelope, as login's (`amr` `[\"hwk\", \"mfa\"]`, or `[\"swk\", \"mfa\"]` for a synced passkey; `aal2`)", body = TokenEnvelope),
        (status = 401, description = "`Invalid passkey`: an unknown credential, a bad signature, another origin or rp id, a challenge spent, stale or another ceremony's, no user presence or verification, a user handle not the owner's, a signature counter that did not increase, a disabled account", body = ErrorOut, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 403, description = "`Email not verified` (when the service requires a verified address)", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error (a credential that is not `PublicKeyCredential.toJSON()`'s shape)", body = ValidationErrorOut),
        (status = 429, description = "Too many sign-in attempts from this client address", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        Unavailable))]
pub async fn login(state: &AppState, req: &Request) -> EndpointResult {
    let PasskeyLoginRequest {
        challenge_id,
        credential,
        device_token,
    } = http::body(req)?;
    // The first attempt spends the challenge, whatever its outcome.
    let challenge = spend_challenge(state, &challenge_id, Ceremony::Authentication)
        .await?
        .ok_or_else(|| refused(&"challenge unknown, spent, stale or another ceremony's"))?;
    let decoded = credential.decode().map_err(|e| refused(&e))?;
    let credential_id = URL_SAFE_NO_PAD.encode(&decoded.credential_id);
    let Some((passkey, handle)) = state.passkeys.passkey(&credential_id).await? else {
        return Err(refused(&"unknown credential"));
    };
    let user_id = passkey.user_id;
    let handle = URL_SAFE_NO_PAD
        .decode(&handle)
        .map_err(|_| ApiError::Internal("stored user handle unreadable".into()))?;
    let assertion = Assertion {
        client_data_json: &decoded.client_data_json,
        authenticator_data: &decoded.authenticator_data,
        signature: &decoded.signature,
        user_handle: decoded.user_handle.as_deref(),
    };
    let stored = StoredCredential {
        public_key: &passkey.public_key,
        sign_count: passkey.sign_count,
        user_handle: &handle,
    };
    let verified = match webauthn::verify_assertion(relying_party(state), &challenge, assertion, stored) {
        Ok(v) => v,
        Err(WebauthnError::CounterRegressed) => {
            tracing::warn!(
                user_id,
                stored = passkey.sign_count,
                "passkey signature counter did not increase: possibly a cloned authenticator"
            );
            return Err(ApiError::Unauthenticated(INVALID_PASSKEY));
        }
        Err(e) => {
            tracing::info!(user_id, reason = %e, "passkey sign-in refused");
            return Err(ApiError::Unauthenticated(INVALID_PASSKEY));
        }
    };
    let user = match state.users.user_by_id(user_id).await? {
        Some(user) if !user.disabled => user,
        Some(user) => {
            let event = audit::by_owner(state, req, EventType::LoginFailed).details(Details {
                reason: Some(Reason::AccountDisabled),
                method: Some(Method::Passkey),
                ..Details::default()
            });
            audit::record(state, user.id, event).await;
            return Err(refused(&"account disabled"));
        }
        None => return Err(refused(&"account gone")),
    };
    if state.config.require_verified_email && !user.email_verified {
        let event = audit::by_owner(state, req, EventType::LoginFailed).details(Details {
            reason: Some(Reason::EmailNotVerified),
            method: Some(Method::Passkey),
            ..Details::default()
        });
        audit::record(state, user.id, event).await;
        return Err(ApiError::Forbidden(EMAIL_NOT_VERIFIED));
    }
    // Start a session only if the answer can be signed.
    state.tokens.signing_keys().await?;
    let now = state.clock.now();
    let auth = Authentication::passkey(now, verified.backup_eligible);
    let session = state
        .tokens
        .new_session(user.id, http::seen_from(req), auth.clone());
    let first = state.tokens.first_refresh_token(&session);
    // Decided (with the token hook) before anything is written.
    let access = issuance::access_claims(state, req, &user, &session.sid, &auth).await?;
    // The device is trusted from now on (as after a login): a device the account knows keeps
    // its token (renewed), any other gets a new one.
    let known = match device_token.as_deref().map(randomness::token_hash) {
        Some(hash) => state.devices.knows_device(&user.email, &hash, now).await?,
        None => false,
    };
    let device_token = match device_token {
        Some(token) if known => token,
        _ => randomness::random_token::<32>(),
    };
    let device = randomness::token_hash(&device_token);
    let sign_in = PasskeyUse {
        passkey: &passkey,
        sign_count: verified.sign_count,
        email: &user.email,
        session: &session,
        first: &first,
        device: &device,
        device_expires_at: now + state.config.login_device_ttl.as_secs() as i64,
        trusted_device: known,
        now,
    };
    match state.passkeys.use_passkey(&sign_in).await? {
        UseEnd::Started => {}
        UseEnd::Refused => return Err(refused(&"passkey used or removed meanwhile")),
        UseEnd::Gone => return Err(refused(&"account disabled or gone")),
    }
    tracing::info!(user_id, "login with a passkey");
    let signed_in = SignedIn {
        user: &user,
        sid: &session.sid,
        method: Method::Passkey,
        second: None,
        new_device: !known,
    };
    new_device::signed_in(state, req, &signed_in).await;
    let issued = issuance::sign(state, &access, &first).await?;
    let mut body = envelope(issued, envelope_user(&user));
    body.device_token = Some(device_token);
    http::json(StatusCode::OK, &body)
}
