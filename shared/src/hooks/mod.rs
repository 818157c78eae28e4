//! Hooks: the team's own code, run by the service at signup ([`signup`]: allow, deny, or set the
//! new account's `app_metadata`), at every token issuance ([`token`]: claims of its own in the
//! access token) and for an email it does not know ([`migration`]: the user moves over from the
//! team's old system). A hook is a Lambda function, called through the Lambda Invoke API, or an HTTP
//! endpoint, called with a Standard Webhooks signature ([`call`]). Settings: `config::hooks`.
//!
//! Every call is bounded by `AUTH_HOOK_TIMEOUT_MS` and never retried (a retry could run a
//! signup's side effects twice). A hook that errs, times out or answers anything but what its
//! contract says fails the request closed: 503, and the request has written nothing (each caller
//! asks its hook before any write). What a hook was sent is never logged: it holds addresses.

mod call;
pub mod migration;
pub mod signup;
pub mod token;

use serde_json::{Map, Value};

pub use crate::config::hooks::{HookSettings, HookTarget};
use crate::outbound::OutboundHttp;
pub use call::LambdaAccess;

/// Why a hook gave no answer to use. Either way the request fails with 503 and writes nothing.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Not reached, or no answer within the budget.
    #[error("hook {hook} did not answer: {reason}")]
    Unreachable { hook: &'static str, reason: String },
    /// It answered with an error, or with something its contract does not allow.
    #[error("hook {hook} answered what cannot be used: {reason}")]
    Refused { hook: &'static str, reason: String },
}

impl HookError {
    pub(crate) fn refused(hook: &'static str, reason: impl Into<String>) -> HookError {
        HookError::Refused {
            hook,
            reason: reason.into(),
        }
    }
}

/// The configured hooks and what calls them.
pub struct Hooks {
    settings: HookSettings,
    http: OutboundHttp,
    lambda: call::LambdaClient,
}

impl Hooks {
    /// `lambda` says how to reach the Lambda Invoke API (AWS, or the local emulator).
    pub fn new(settings: HookSettings, lambda: LambdaAccess) -> Hooks {
        let timeout = settings.timeout;
        Hooks {
            http: OutboundHttp::new(timeout),
            lambda: call::LambdaClient::new(lambda, timeout),
            settings,
        }
    }

    /// Calls `target` (the hook called `name`) with `event`: its answer, a JSON object.
    async fn ask(
        &self,
        name: &'static str,
        target: &HookTarget,
        event: &Value,
    ) -> Result<Map<String, Value>, HookError> {
        let answer = match target {
            HookTarget::Lambda(function) => self.lambda.invoke(name, function, event).await,
            HookTarget::Http { url, secret } => call::post(&self.http, name, url, secret, event).await,
        };
        if let Err(e) = &answer {
            // The error names the hook and what went wrong, never what it was sent.
            tracing::warn!(hook = name, error = %e, "hook failed: the request fails closed");
        }
        answer
    }
}
