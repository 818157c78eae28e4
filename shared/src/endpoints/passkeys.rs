//! The signed-in user's passkeys: `POST /auth/passkeys/register/options`,
//! `POST /auth/passkeys/register`, `GET /auth/passkeys` and `DELETE /auth/passkeys/{id}`.
//! Registering needs a verified address and, while the account has a second factor, a session
//! that used one (`aal2`); registering and removing ask for the password again. The account's
//! first passkey is its first second factor: it brings the recovery codes, and every other
//! session ends.

use super::audit;
use crate::domain::audit::{Details, EventType};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{
    authenticate, authenticate_at_aal2_with_password, reauthenticate, require_aal2_if_enrolled,
    EndpointResult,
};
use super::mfa::{notify, require_verified};
use super::responses::{JsonBodyRefused, NotAuthenticated, TooManyWrongPasswords, Unavailable};
use super::sessions::no_content;
use crate::clock::rfc3339;
use crate::domain::webauthn::authenticator_data::MAX_CREDENTIAL_ID;
use crate::domain::webauthn::{self, RelyingParty, ES256, RS256};
use crate::domain::RecoveryCode;
use crate::error::{
    ApiError, INVALID_PASSKEY_REGISTRATION, NOT_AUTHENTICATED, PASSKEY_LIMIT, PASSKEY_NOT_FOUND,
};
use crate::http;
use crate::queue::FactorNotice;
use crate::randomness;
use crate::state::AppState;
use crate::store::{
    AddEnd, Ceremony, FirstFactor, PasskeyAddition, PasskeyChallenge, StoredPasskey, MAX_PASSKEYS,
};
use crate::wire::passkey::{
    AuthenticatorSelection, CreationOptions, CredentialDescriptor, CredentialParameter, PasskeyCreationOut,
    PasskeyName, PasskeyOut, PasskeyRegisteredOut, RpEntity, UserEntity,
};
use crate::wire::{ErrorOut, PasskeyRegistrationRequest, PasswordConfirmation, ValidationErrorOut};

/// How long a ceremony's challenge works.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);

/// The relying party of the configuration.
pub(super) fn relying_party(state: &AppState) -> RelyingParty<'_> {
    RelyingParty {
        id: &state.config.webauthn_rp_id,
        origins: &state.config.webauthn_origins,
    }
}

/// A new challenge for `ceremony`, stored: its id and its bytes as base64url.
pub(super) async fn new_challenge(
    state: &AppState,
    ceremony: Ceremony,
) -> Result<PasskeyChallenge, ApiError> {
    let now = state.clock.now();
    let challenge = PasskeyChallenge {
        id: randomness::new_id(),
        ceremony,
        challenge: URL_SAFE_NO_PAD.encode(randomness::random_bytes::<32>()),
        expires_at: now + CHALLENGE_TTL.as_secs() as i64,
    };
    state.passkeys.put_passkey_challenge(&challenge, now).await?;
    Ok(challenge)
}

/// The challenge `id` for `ceremony`, spent by this first use whatever comes next: its bytes,
/// or None if it was never issued, is spent, is over 5 minutes old or is another ceremony's.
pub(super) async fn spend_challenge(
    state: &AppState,
    id: &str,
    ceremony: Ceremony,
) -> Result<Option<Vec<u8>>, ApiError> {
    // (Ids are short and URL-safe: anything else names none, and is never sent to the store.)
    if !super::sessions::is_session_id(id) {
        return Ok(None);
    }
    let now = state.clock.now();
    let taken = state.passkeys.take_passkey_challenge(id).await?;
    Ok(taken
        .filter(|c| c.ceremony == ceremony && c.expires_at > now)
        .and_then(|c| URL_SAFE_NO_PAD.decode(&c.challenge).ok()))
}

pub(super) fn passkey_out(p: &StoredPasskey) -> PasskeyOut {
    PasskeyOut {
        id: p.credential_id.clone(),
        name: p.name.clone(),
        created_at: rfc3339(p.created_at),
        last_used_at: p.last_used_at.map(rfc3339),
    }
}

fn refused_registration(user_id: u64, reason: &dyn std::fmt::Display) -> ApiError {
    tracing::info!(user_id, reason = %reason, "passkey registration refused");
    ApiError::BadRequest(INVALID_PASSKEY_REGISTRATION)
}

/// Options to create a passkey in the browser (`PublicKeyCredential.parseCreationOptionsFromJSON`).
#[utoipa::path(post, path = "/auth/passkeys/register/options", tag = "passkeys", operation_id = "passkey_registration_options", security(("bearer" = [])),
    responses(
        (status = 200, description = "`challenge_id` and the creation options (the challenge works once, for 5 minutes)", body = PasskeyCreationOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required` (the account has a second factor and the token's session did not use it), or `Email not verified`", body = ErrorOut),
        (status = 429, description = "Too many option requests from this client address", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        JsonBodyRefused, Unavailable))]
pub async fn registration_options(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    require_verified(&user)?;
    let candidate = URL_SAFE_NO_PAD.encode(randomness::random_bytes::<32>());
    let handle = state.passkeys.user_handle(user.id, &candidate).await?;
    let existing = state.passkeys.passkeys(user.id).await?;
    let challenge = new_challenge(state, Ceremony::Registration { user_id: user.id }).await?;
    let param = |alg| CredentialParameter {
        kind: "public-key".into(),
        alg,
    };
    let body = PasskeyCreationOut {
        challenge_id: challenge.id,
        public_key: CreationOptions {
            rp: RpEntity {
                id: state.config.webauthn_rp_id.clone(),
                name: state.config.webauthn_rp_name.clone(),
            },
            user: UserEntity {
                id: handle,
                name: user.email.clone(),
                display_name: user.username.clone(),
            },
            challenge: challenge.challenge,
            pub_key_cred_params: vec![param(ES256), param(RS256)],
            timeout: CHALLENGE_TTL.as_millis() as u64,
            exclude_credentials: existing
                .iter()
                .map(|p| CredentialDescriptor {
                    kind: "public-key".into(),
                    id: p.credential_id.clone(),
                    transports: p.transports.clone(),
                })
                .collect(),
            authenticator_selection: AuthenticatorSelection {
                resident_key: "required".into(),
                require_resident_key: true,
                user_verification: "required".into(),
            },
            attestation: "none".into(),
        },
    };
    http::json(StatusCode::OK, &body)
}

/// Register the passkey the browser created for the options.
#[utoipa::path(post, path = "/auth/passkeys/register", tag = "passkeys", operation_id = "register_passkey", security(("bearer" = [])), request_body = PasskeyRegistrationRequest,
    responses(
        (status = 201, description = "The passkey; with `recovery_codes` (shown once) when it is the account's first second factor, which also ends every other session", body = PasskeyRegisteredOut),
        (status = 400, description = "`Invalid passkey registration` (signature, origin, rp id, a challenge spent, another ceremony's or over 5 minutes old, no user verification or presence, a credential registered already), or `Current password is incorrect`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required`, or `Email not verified`; or `Reauthentication required` (no password, and a sign-in over 5 minutes old)", body = ErrorOut),
        (status = 409, description = "`Passkey limit reached` (20 per account)", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error (a credential that is not `PublicKeyCredential.toJSON()`'s shape)", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn register(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate(state, req).await?;
    let PasskeyRegistrationRequest {
        challenge_id,
        credential,
        name,
        password,
    } = http::body(req)?;
    require_aal2_if_enrolled(state, &user, &claims).await?;
    require_verified(&user)?;
    // The first attempt spends the challenge, whatever its outcome.
    let challenge =
        spend_challenge(state, &challenge_id, Ceremony::Registration { user_id: user.id }).await?;
    reauthenticate(state, req, &user, &claims, password.as_ref()).await?;
    let challenge = challenge
        .ok_or_else(|| refused_registration(user.id, &"challenge unknown, spent, stale or another's"))?;
    let decoded = credential
        .decode()
        .map_err(|e| refused_registration(user.id, &e))?;
    let verified = webauthn::verify_registration(
        relying_party(state),
        &challenge,
        &decoded.credential_id,
        &decoded.client_data_json,
        &decoded.attestation_object,
    )
    .map_err(|e| refused_registration(user.id, &e))?;
    let now = state.clock.now();
    let passkey = StoredPasskey {
        credential_id: URL_SAFE_NO_PAD.encode(&verified.credential_id),
        user_id: user.id,
        public_key: verified.public_key,
        sign_count: verified.sign_count,
        backup_eligible: verified.backup_eligible,
        transports: credential.response.known_transports(),
        name: name
            .and_then(|PasskeyName(n)| n)
            .unwrap_or_else(|| "Passkey".to_string()),
        created_at: now,
        last_used_at: None,
    };
    // Whether it is the first second factor is decided on the factors as read, and holds
    // only while they are unchanged (else read again).
    let mut recovery_codes = None;
    let mut added = false;
    for _ in 0..3 {
        let record = state.mfa.second_factors(user.id).await?;
        if record.passkeys >= MAX_PASSKEYS {
            return Err(ApiError::Conflict(PASSKEY_LIMIT));
        }
        let codes = (!record.factors().any()).then(RecoveryCode::generate_set);
        let hashes: Vec<String> = codes.iter().flatten().map(|c| c.hash(user.id)).collect();
        let first = codes.as_ref().map(|_| FirstFactor {
            recovery_codes: &hashes,
            keep_sid: &claims.sid,
            seen_cutoff_ms: user.sessions_valid_after_ms,
            cut_ms: state.clock.now_ms().max(user.sessions_valid_after_ms + 1),
        });
        let addition = PasskeyAddition {
            passkey: &passkey,
            first,
        };
        match state.passkeys.add_passkey(&addition).await? {
            AddEnd::Added => {
                recovery_codes = codes;
                added = true;
                break;
            }
            AddEnd::Duplicate => {
                return Err(refused_registration(user.id, &"credential id registered already"))
            }
            AddEnd::TooMany => return Err(ApiError::Conflict(PASSKEY_LIMIT)),
            AddEnd::SessionsEnded => return Err(ApiError::Unauthenticated(NOT_AUTHENTICATED)),
            AddEnd::FactorsChanged => continue,
        }
    }
    if !added {
        return Err(ApiError::Unavailable("second factors kept changing".into()));
    }
    tracing::info!(
        user_id = user.id,
        first_factor = recovery_codes.is_some(),
        "passkey registered"
    );
    let event = audit::by_owner(state, req, EventType::PasskeyAdded)
        .session(&claims.sid)
        .details(Details {
            credential: Some(passkey.credential_id.clone()),
            ..Details::default()
        });
    audit::record(state, user.id, event).await;
    notify(state, &user, FactorNotice::PasskeyAdded).await;
    let body = PasskeyRegisteredOut {
        passkey: passkey_out(&passkey),
        recovery_codes: recovery_codes.map(|set| set.iter().map(RecoveryCode::display).collect()),
    };
    http::json(StatusCode::CREATED, &body)
}

/// The signed-in user's passkeys, oldest first.
#[utoipa::path(get, path = "/auth/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's passkeys", body = [PasskeyOut]),
        NotAuthenticated, Unavailable))]
pub async fn list_passkeys(state: &AppState, req: &Request) -> EndpointResult {
    let (user, _) = authenticate(state, req).await?;
    let passkeys = state.passkeys.passkeys(user.id).await?;
    let body: Vec<PasskeyOut> = passkeys.iter().map(passkey_out).collect();
    http::json(StatusCode::OK, &body)
}

/// Remove one of the signed-in user's passkeys (the recovery codes go with the last factor).
#[utoipa::path(delete, path = "/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), request_body = PasswordConfirmation,
    params(("id" = String, Path, description = "The passkey's `id`, from `GET /auth/passkeys`")),
    responses(
        (status = 204, description = "The passkey no longer signs in"),
        (status = 400, description = "`Current password is incorrect`", body = ErrorOut),
        NotAuthenticated,
        (status = 403, description = "`MFA required`: the token's session did not use a second factor; or `Reauthentication required` (no password, and a sign-in over 5 minutes old)", body = ErrorOut),
        (status = 404, description = "`Passkey not found` (another user's is not found either)", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        TooManyWrongPasswords, Unavailable))]
pub async fn delete_passkey(state: &AppState, req: &Request) -> EndpointResult {
    let (user, claims) = authenticate_at_aal2_with_password(state, req).await?;
    let id = http::last_path_segment(req);
    // Credential ids are base64url of at most 1,023 bytes: anything else names none, and is
    // never sent to the store.
    let plausible = !id.is_empty()
        && id.len() <= (MAX_CREDENTIAL_ID * 4).div_ceil(3)
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible || !state.passkeys.remove_passkey(user.id, id).await? {
        return Err(ApiError::Missing(PASSKEY_NOT_FOUND));
    }
    tracing::info!(user_id = user.id, "passkey removed");
    let event = audit::by_owner(state, req, EventType::PasskeyRemoved)
        .session(&claims.sid)
        .details(Details {
            credential: Some(id.to_string()),
            ..Details::default()
        });
    audit::record(state, user.id, event).await;
    notify(state, &user, FactorNotice::PasskeyRemoved).await;
    Ok(no_content())
}
