//! Sign-in with other providers (OpenID Connect, GitHub): `GET /auth/oauth/{provider}/authorize`
//! sends the browser to the provider with a single-use `state` (bound to the frontend's
//! `redirect_to` and `code_challenge`, and to our own PKCE verifier and nonce, all kept here);
//! `GET /auth/oauth/{provider}/callback` exchanges the provider's code, verifies who signed in,
//! finds, links or creates the account, and sends the browser back to `redirect_to#code=...`
//! (never a token in a URL); `POST /auth/oauth/token` trades that code, with the frontend's PKCE
//! verifier, for the token envelope.
//!
//! Who an identity joins (the account-takeover rules):
//! - a known identity (issuer, subject) signs in its own account;
//! - a new identity joins an account with the same address only when the provider's entry sets
//!   `link_by_email`, the provider says it verified the address, the account verified it too,
//!   and the account has no second factor and is not an admin's; otherwise `account_exists`;
//! - else, with an address the provider verified, a new account is made (no password);
//!   otherwise `email_not_verified`.

use super::audit;
use super::new_device::{self, SignedIn};
use crate::domain::audit::{Actor, AuditEvent, Details, EventType, Method, Reason};
use lambda_http::http::StatusCode;
use lambda_http::Request;

use super::common::{envelope, envelope_user, EndpointResult};
use super::issuance;
use super::login_mfa::MFA_TOKEN_TTL;
use super::oauth_flow::{
    callback_url, new_state, provider, put_code, redirect, start, take_code, to_frontend, CodeRecord,
    LinkedIdentity, StateRecord, INVALID_CODE, INVALID_STATE,
};
use super::responses::{JsonBodyRefused, Unavailable};
use crate::config::federation::Provider;
use crate::domain::SeenFrom;
use crate::domain::{Authentication, Email, Role, User, Username};
use crate::error::ApiError;
use crate::federation::{FederationError, ProviderIdentity};
use crate::hooks::signup::{SignupAttempt, SignupMethod, Verdict};
use crate::http;
use crate::randomness;
use crate::state::AppState;
use crate::store::{CreateEnd, Handoff, Identity, MfaChallenge, NewUser};
use crate::wire::{ErrorOut, LoginOut, MfaRequiredOut, OAuthTokenRequest, ValidationErrorOut};

/// Start signing in with a provider.
#[utoipa::path(get, path = "/auth/oauth/{provider}/authorize", tag = "federation", operation_id = "oauth_authorize",
    params(
        ("provider" = String, Path, description = "A configured provider's name"),
        ("redirect_to" = String, Query, description = "The frontend page to come back to: one of AUTH_OAUTH_REDIRECT_URLS, exactly"),
        ("code_challenge" = String, Query, description = "The frontend's PKCE challenge (S256, 43 characters of base64url); `POST /auth/oauth/token` needs its verifier"),
    ),
    responses(
        (status = 302, description = "To the provider's sign-in page (`state` works once, for 10 minutes); when the provider cannot be reached, to `redirect_to#error=temporarily_unavailable`", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "`Unknown provider`, or `redirect_to not allowed`", body = ErrorOut),
        (status = 422, description = "Validation error (no or a malformed `code_challenge`)", body = ValidationErrorOut),
        Unavailable))]
pub async fn authorize(state: &AppState, req: &Request) -> EndpointResult {
    let provider = provider(state, req)?;
    let record = new_state(
        state,
        provider,
        http::query(req, "redirect_to"),
        http::query(req, "code_challenge"),
        None,
        "query",
    )?;
    match start(state, req, provider, &record).await? {
        Ok(url) => redirect(&url),
        Err(_) => to_frontend(&record.redirect_to, "error", "temporarily_unavailable"),
    }
}

/// Why a provider sign-in ends at the frontend with `#error=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    AccessDenied,
    InvalidResponse,
    InvalidState,
    AccountExists,
    EmailNotVerified,
    IdentityTaken,
    Unavailable,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::AccessDenied => "access_denied",
            Refusal::InvalidResponse => "invalid_response",
            Refusal::InvalidState => "invalid_state",
            Refusal::AccountExists => "account_exists",
            Refusal::EmailNotVerified => "email_not_verified",
            Refusal::IdentityTaken => "identity_taken",
            Refusal::Unavailable => "temporarily_unavailable",
        }
    }
}

/// The provider sends the browser back here.
#[utoipa::path(get, path = "/auth/oauth/{provider}/callback", tag = "federation", operation_id = "oauth_callback",
    params(
        ("provider" = String, Path, description = "A configured provider's name"),
        ("code" = Option<String>, Query, description = "The provider's authorization code"),
        ("state" = Option<String>, Query, description = "The state the authorize route made"),
        ("error" = Option<String>, Query, description = "The provider's error (`access_denied` when the user declined)"),
    ),
    responses(
        (status = 302, description = "To `redirect_to#code=<one-time code>` (60 seconds, once), or `redirect_to#error=<access_denied|account_exists|email_not_verified|identity_taken|invalid_response|invalid_state|temporarily_unavailable>` (`identity_taken`: a link's identity is another account's)", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "`Unknown provider`, or `Invalid or expired state` (an unknown, spent or stale state: there is no page to go back to)", body = ErrorOut),
        Unavailable))]
pub async fn callback(state: &AppState, req: &Request) -> EndpointResult {
    let provider = provider(state, req)?;
    let now = state.clock.now();
    let state_value = http::query(req, "state").unwrap_or_default();
    let payload = match state_value.is_empty() {
        true => None,
        false => {
            state
                .identities
                .take_handoff(Handoff::State, &randomness::token_hash(&state_value), now)
                .await?
        }
    };
    let record: StateRecord = payload
        .and_then(|p| serde_json::from_str(&p).ok())
        .ok_or(ApiError::BadRequest(INVALID_STATE))?;
    let redirect_to = record.redirect_to.clone();
    match sign_in(state, req, provider, &record, now).await {
        Ok(code) => to_frontend(&redirect_to, "code", &code),
        Err(Outcome::Refused(refusal)) => {
            tracing::info!(provider = %provider.name, refusal = refusal.code(), "provider sign-in refused");
            to_frontend(&redirect_to, "error", refusal.code())
        }
        Err(Outcome::Failed(e)) => Err(e),
    }
}

enum Outcome {
    Refused(Refusal),
    Failed(ApiError),
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Self {
        match e {
            // A store or a hook that cannot be reached ends the flow at the frontend too.
            ApiError::Unavailable(_) | ApiError::HookFailed(_) => Outcome::Refused(Refusal::Unavailable),
            e => Outcome::Failed(e),
        }
    }
}

impl From<crate::store::StoreError> for Outcome {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The callback's work: the provider's answer checked, the account found, linked or made, and
/// the frontend's one-time code stored.
async fn sign_in(
    state: &AppState,
    req: &Request,
    provider: &Provider,
    record: &StateRecord,
    now: i64,
) -> Result<String, Outcome> {
    if record.provider != provider.name {
        return Err(Outcome::Refused(Refusal::InvalidState));
    }
    if let Some(error) = http::query(req, "error") {
        return Err(Outcome::Refused(match error.as_str() {
            "access_denied" => Refusal::AccessDenied,
            "temporarily_unavailable" | "server_error" => Refusal::Unavailable,
            _ => Refusal::InvalidResponse,
        }));
    }
    let code = http::query(req, "code")
        .filter(|c| !c.is_empty())
        .ok_or(Outcome::Refused(Refusal::InvalidResponse))?;
    let redirect_uri = callback_url(state, req, provider)?;
    let identity = state
        .federation
        .sign_in(
            provider,
            &code,
            &redirect_uri,
            &record.verifier,
            &record.nonce,
            now,
        )
        .await
        .map_err(|e| {
            tracing::warn!(provider = %provider.name, error = %e, "provider sign-in failed");
            Outcome::Refused(match e {
                FederationError::Unreachable(_) => Refusal::Unavailable,
                FederationError::Refused(_) => Refusal::InvalidResponse,
            })
        })?;
    if let Some(user_id) = record.link_user {
        // A link: the identity goes in the code, and is linked when the account's own session
        // completes it (`POST /auth/oauth/{provider}/link/complete`, which checks again). One
        // that is another account's already ends here.
        let owner = state
            .identities
            .identity(&identity.issuer, &identity.subject)
            .await?;
        if owner.is_some_and(|(owner, _)| owner != user_id) {
            return Err(Outcome::Refused(Refusal::IdentityTaken));
        }
        let grant = CodeRecord {
            provider: provider.name.clone(),
            user_id,
            frontend_challenge: record.frontend_challenge.clone(),
            auth_time: now,
            link: Some(LinkedIdentity {
                issuer: identity.issuer,
                subject: identity.subject,
                email: identity.email,
            }),
        };
        return Ok(put_code(state, &grant).await?);
    }
    let user = account_for(state, provider, &identity, &http::seen_from(req), now).await?;
    let grant = CodeRecord {
        provider: provider.name.clone(),
        user_id: user.id,
        frontend_challenge: record.frontend_challenge.clone(),
        auth_time: now,
        link: None,
    };
    Ok(put_code(state, &grant).await?)
}

/// The account `identity` signs in: its own, one it joins, or a new one (see the module's rules).
async fn account_for(
    state: &AppState,
    provider: &Provider,
    identity: &ProviderIdentity,
    seen: &SeenFrom,
    now: i64,
) -> Result<User, Outcome> {
    if let Some((user_id, _)) = state
        .identities
        .identity(&identity.issuer, &identity.subject)
        .await?
    {
        return match state.users.user_by_id(user_id).await? {
            Some(user) if !user.disabled => {
                tracing::info!(user_id, provider = %provider.name, "sign-in with a provider");
                Ok(user)
            }
            _ => Err(Outcome::Refused(Refusal::AccessDenied)),
        };
    }
    let email = identity
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or(Outcome::Refused(Refusal::EmailNotVerified))?;
    let linked = Identity {
        id: randomness::random_token::<16>(),
        provider: provider.name.clone(),
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        email: Some(email.as_str().to_string()),
        created_at: now,
    };
    if let Some(existing) = state.users.user_by_email(&email).await? {
        let joins = provider.link_by_email
            && identity.email_verified
            && existing.email_verified
            && !existing.disabled
            && existing.role != Role::Admin
            && !state.mfa.second_factors(existing.id).await?.factors().any();
        if !joins {
            return Err(Outcome::Refused(Refusal::AccountExists));
        }
        return match state.identities.link_identity(existing.id, &linked).await? {
            crate::store::LinkEnd::Linked | crate::store::LinkEnd::AlreadyLinked => {
                tracing::info!(user_id = existing.id, provider = %provider.name, "provider identity linked by its verified email");
                let event = AuditEvent::new(
                    EventType::IdentityLinked,
                    Actor::Owner,
                    state.clock.now_ms(),
                    seen,
                )
                .details(Details {
                    provider: Some(provider.name.clone()),
                    credential: Some(linked.id.clone()),
                    ..Details::default()
                });
                audit::record(state, existing.id, event).await;
                Ok(existing)
            }
            crate::store::LinkEnd::Taken | crate::store::LinkEnd::Gone => {
                Err(Outcome::Refused(Refusal::AccountExists))
            }
        };
    }
    if !identity.email_verified {
        return Err(Outcome::Refused(Refusal::EmailNotVerified));
    }
    create_account(state, provider, identity, &email, &linked, seen, now).await
}

/// A new account for `identity`, its username made from the provider's (or the address's),
/// made unique with a random suffix when taken; the before-signup hook is asked first (a refusal
/// ends at the frontend as `access_denied`, a failure as `temporarily_unavailable`).
async fn create_account(
    state: &AppState,
    provider: &Provider,
    identity: &ProviderIdentity,
    email: &Email,
    linked: &Identity,
    seen: &SeenFrom,
    now: i64,
) -> Result<User, Outcome> {
    let hint = identity
        .username_hint
        .clone()
        .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or("").to_string());
    let username = Username::derived(&hint, "");
    let attempt = SignupAttempt {
        email: email.as_str(),
        username: username.as_str(),
        ip: &seen.ip,
        user_agent: &seen.user_agent,
        method: SignupMethod::Oauth,
        email_verified: true,
    };
    let app_metadata = match state
        .hooks
        .before_signup(&attempt)
        .await
        .map_err(ApiError::from)?
    {
        Verdict::Allow { app_metadata } => app_metadata,
        Verdict::Deny { .. } => {
            tracing::info!(provider = %provider.name, "provider sign-in refused by the before-signup hook");
            return Err(Outcome::Refused(Refusal::AccessDenied));
        }
    };
    for attempt in 0..5 {
        let new = NewUser {
            username: if attempt == 0 {
                Username::derived(&hint, "")
            } else {
                Username::with_random_suffix(&hint)
            },
            email: email.clone(),
            password_hash: String::new(),
            created_at: now,
            app_metadata: app_metadata.clone(),
            role: Role::User,
            email_verified: true,
        };
        match state.identities.create_federated_user(&new, linked).await? {
            CreateEnd::Created(user) => {
                tracing::info!(user_id = user.id, provider = %provider.name, "account created by a provider sign-in");
                let event = AuditEvent::new(EventType::Signup, Actor::Owner, state.clock.now_ms(), seen)
                    .details(Details {
                        method: Some(Method::Provider),
                        provider: Some(provider.name.clone()),
                        credential: Some(linked.id.clone()),
                        ..Details::default()
                    });
                audit::record(state, user.id, event).await;
                return Ok(user);
            }
            CreateEnd::UsernameTaken => continue,
            // Made meanwhile by a racing callback, or the address registered meanwhile.
            CreateEnd::IdentityTaken | CreateEnd::EmailTaken => {
                return Err(Outcome::Refused(Refusal::AccountExists))
            }
        }
    }
    Err(Outcome::Failed(ApiError::Unavailable(
        "no free username found".into(),
    )))
}

/// Trade the callback's one-time code for tokens.
#[utoipa::path(post, path = "/auth/oauth/token", tag = "federation", operation_id = "oauth_token", request_body = OAuthTokenRequest,
    responses(
        (status = 200, description = "The token envelope (`amr` `[\"fed\"]`, `aal1`); for an account with a second factor, `{\"mfa_required\": true, \"mfa_token\", \"methods\"}` and no tokens (then `POST /auth/login/mfa`, whose session has `amr` `[\"fed\", \"otp\", \"mfa\"]`)", body = LoginOut),
        (status = 400, description = "`Invalid or expired code`: unknown, spent, older than 60 seconds, or not the verifier of its challenge", body = ErrorOut),
        (status = 403, description = "`Email not verified` (when the service requires a verified address)", body = ErrorOut),
        JsonBodyRefused,
        (status = 422, description = "Validation error", body = ValidationErrorOut),
        (status = 429, description = "Too many attempts from this client address", body = ErrorOut, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        Unavailable))]
pub async fn token(state: &AppState, req: &Request) -> EndpointResult {
    let OAuthTokenRequest {
        code,
        code_verifier,
        device_token,
    } = http::body(req)?;
    let now = state.clock.now();
    let record = take_code(state, &code, &code_verifier).await?;
    if record.link.is_some() {
        // A link's code completes only the link, in its account's session.
        return Err(ApiError::BadRequest(INVALID_CODE));
    }
    let user = match state.users.user_by_id(record.user_id).await? {
        Some(user) if !user.disabled => user,
        _ => return Err(ApiError::BadRequest(INVALID_CODE)),
    };
    if state.config.require_verified_email && !user.email_verified {
        let event = audit::by_owner(state, req, EventType::LoginFailed).details(Details {
            reason: Some(Reason::EmailNotVerified),
            method: Some(Method::Provider),
            ..Details::default()
        });
        audit::record(state, user.id, event).await;
        return Err(ApiError::Forbidden(crate::error::EMAIL_NOT_VERIFIED));
    }
    // A provider sign-in writes no device token, but a device the account knows (from a login)
    // is not a new device.
    let device = device_token.as_deref().map(randomness::token_hash);
    let known_device = match &device {
        Some(hash) => state.devices.knows_device(&user.email, hash, now).await?,
        None => false,
    };
    let factors = state.mfa.second_factors(user.id).await?.factors();
    if factors.any() {
        // A provider is one factor: the account's second completes the sign-in, as after a
        // password (`POST /auth/login/mfa`).
        let mfa_token = randomness::random_token::<32>();
        let challenge = MfaChallenge {
            hash: randomness::token_hash(&mfa_token),
            user_id: user.id,
            email: user.email.clone(),
            verified_hash: String::new(),
            device,
            trusted_device: known_device,
            attempts: 0,
            expires_at: now + MFA_TOKEN_TTL.as_secs() as i64,
            federated: true,
        };
        if !state.mfa.begin_federated_second_step(&challenge).await? {
            return Err(ApiError::BadRequest(INVALID_CODE));
        }
        tracing::info!(user_id = user.id, "provider sign-in waits for a second factor");
        let body = MfaRequiredOut {
            mfa_required: true,
            mfa_token,
            methods: factors.methods(),
        };
        return http::json(StatusCode::OK, &body);
    }
    state.tokens.signing_keys().await?;
    let auth = Authentication::federated(record.auth_time);
    let session = state
        .tokens
        .new_session(user.id, http::seen_from(req), auth.clone());
    let first = state.tokens.first_refresh_token(&session);
    // Decided (with the token hook) before anything is written.
    let access = issuance::access_claims(state, req, &user, &session.sid, &auth).await?;
    if !state.identities.start_federated_session(&session, &first).await? {
        return Err(ApiError::BadRequest(INVALID_CODE));
    }
    tracing::info!(user_id = user.id, "session started by a provider sign-in");
    let signed_in = SignedIn {
        user: &user,
        sid: &session.sid,
        method: Method::Provider,
        second: None,
        new_device: !known_device,
    };
    new_device::signed_in(state, req, &signed_in).await;
    let issued = issuance::sign(state, &access, &first).await?;
    http::json(StatusCode::OK, &envelope(issued, envelope_user(&user)))
}
