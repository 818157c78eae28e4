//! Issuing a token pair: the access token's claims are decided first, with the token hook (when
//! one is set), before the request writes anything, so a hook that fails (503) leaves no session,
//! rotation or factor behind; the pair is signed once the writes are done. Every route that
//! answers with tokens goes through here: login, its second step, TOTP confirmation, passkey
//! sign-in, a provider sign-in, refresh.

use crate::clock::rfc3339;
use crate::domain::{Authentication, RefreshToken, User};
use crate::error::ApiError;
use crate::hooks::token::{HookIdentity, HookMfa, HookUser};
use crate::http;
use crate::state::AppState;
use crate::tokens::{Claims, IssuedTokens};
use lambda_http::Request;

/// The claims of `user`'s next access token in session `sid` (begun as `auth` says), with what
/// the token hook adds.
pub async fn access_claims(
    state: &AppState,
    req: &Request,
    user: &User,
    sid: &str,
    auth: &Authentication,
) -> Result<Claims, ApiError> {
    let issuer = http::issuer(&state.config, req)?;
    let mut claims = state.tokens.access_claims(&issuer, user, sid, auth);
    if !state.hooks.has_token_hook() {
        return Ok(claims);
    }
    // At most 2 KiB of claims beside at most 2 KiB of metadata: the token stays within what a
    // request header carries (a test in `tokens` signs the largest such token).
    claims.extra = state
        .hooks
        .token_claims(&hook_user(state, user).await?, &claims)
        .await?;
    Ok(claims)
}

/// Signs `access` (from [`access_claims`]) and `refresh`.
pub async fn sign(
    state: &AppState,
    access: &Claims,
    refresh: &RefreshToken,
) -> Result<IssuedTokens, ApiError> {
    Ok(state.tokens.sign(access, refresh).await?)
}

/// The user as the token hook is shown it: never a hash, secret, code or token.
async fn hook_user(state: &AppState, user: &User) -> Result<HookUser, ApiError> {
    let (factors, identities) = tokio::join!(
        state.mfa.second_factors(user.id),
        state.identities.identities(user.id)
    );
    let factors = factors?.factors();
    Ok(HookUser {
        id: user.id,
        username: user.username.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        role: user.role.as_str(),
        created_at: rfc3339(user.created_at),
        app_metadata: user.app_metadata.as_map().clone(),
        mfa: HookMfa {
            totp: factors.totp,
            passkeys: factors.passkeys,
            recovery_codes: factors.recovery_codes,
        },
        identities: identities?
            .into_iter()
            .map(|i| HookIdentity {
                provider: i.provider,
                email: i.email,
                created_at: rfc3339(i.created_at),
            })
            .collect(),
    })
}
