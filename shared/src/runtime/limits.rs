//! Per-client limits: signup, login, forgot-password, verification resends and the account
//! changes that check a password are counted per client address in fixed windows, before the endpoint runs; over the limit is 429 with `Retry-After`.

use lambda_http::Request;

use crate::config::{Config, Limit};
use crate::error::ApiError;
use crate::http;
use crate::routes::{ClientLimit, Endpoint};
use crate::state::AppState;

/// The limit `endpoint` is under, with the name its counters are kept by.
pub fn limit_of(endpoint: Endpoint, config: &Config) -> Option<(&'static str, Limit)> {
    let limit = endpoint.client_limit()?;
    let numbers = match limit {
        ClientLimit::Signup => config.signup_limit,
        ClientLimit::Login => config.login_limit,
        ClientLimit::Forgot => config.forgot_limit,
        ClientLimit::Resend => config.resend_limit,
        // Each checks a password (argon2) as login does, under login's numbers.
        ClientLimit::Reauth => config.login_limit,
        ClientLimit::PasskeyOptions => config.passkey_options_limit,
    };
    Some((limit.name(), numbers))
}

/// Counts this request against the client address's limit for `endpoint`; 429 when over.
pub async fn limit_client(state: &AppState, endpoint: Endpoint, req: &Request) -> Result<(), ApiError> {
    let Some((action, limit)) = limit_of(endpoint, &state.config) else {
        return Ok(());
    };
    if !state.config.ip_limits_enabled {
        return Ok(());
    }
    let now = state.clock.now();
    let key = format!("ip#{action}#{}", http::client_ip(req));
    let count = state.throttle.hit(&key, limit.window_secs, now).await?;
    if count > limit.max {
        let window = limit.window_secs as i64;
        let retry_after = (now.div_euclid(window) + 1) * window - now;
        return Err(ApiError::TooManyRequests {
            retry_after: retry_after.max(1) as u64,
        });
    }
    Ok(())
}
