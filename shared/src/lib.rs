//! authyy: the shared library of the authyy Lambda functions.
//!
//! Layers depend one way, top to bottom:
//!
//! - [`runtime`]: the request pipeline (path and method, preflight, per-client limits, error
//!   mapping, CORS and cache headers) and the function's `main` ([`lambda_main!`]), which builds
//!   the [`state::AppState`] once per execution environment.
//! - [`endpoints`]: the endpoint logic, over the state.
//! - [`state`], [`http`], [`error`], [`wire`]: what an endpoint works with: the state, request
//!   and response helpers, the one error type, and the request/response types.
//! - [`federation`], [`hooks`]: calls out of the service, to the providers users sign in with
//!   and to the team's own hooks, over [`outbound`] (an HTTP client bounded in time and size).
//! - [`tokens`], [`hashing`], [`mail`], [`queue`], [`keys`], [`store`]: token issuing and
//!   verification, password hashing, and the mail, mail queue, key and storage traits, each with
//!   its backends beside it (`store::sqlite`, `store::dynamo`, `mail::ses`, `queue::sqs`,
//!   `keys::secrets_manager`, ...).
//! - [`domain`], [`config`], [`clock`], [`randomness`], [`routes`], [`aws`]: the values and rules
//!   everything else uses.
//!
//! [`admin`] holds the operator actions of the `authyy-admin` tool.

pub mod admin;
pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod endpoints;
pub mod error;
pub mod federation;
pub mod hashing;
pub mod hooks;
pub mod http;
pub mod import;
pub mod keys;
pub mod mail;
pub mod outbound;
pub mod queue;
pub mod randomness;
pub mod routes;
pub mod runtime;
pub mod state;
pub mod store;
pub mod tokens;
pub mod trust_roots;
pub mod wire;

pub use lambda_http;
pub use routes::Endpoint;
pub use runtime::handle;
pub use state::AppState;

/// The whole `main` of a function binary, naming the endpoints it serves:
/// `authyy::lambda_main!(Login);` builds the state once and serves them. Dispatching only to its
/// own endpoints (their [`endpoints::handler`]s) lets the linker leave every other endpoint's
/// code (and dependencies) out of the binary.
#[macro_export]
macro_rules! lambda_main {
    ($($endpoint:ident),+ $(,)?) => {
        fn dispatch<'a>(
            state: &'a $crate::AppState,
            endpoint: $crate::Endpoint,
            req: &'a $crate::lambda_http::Request,
        ) -> $crate::endpoints::HandlerFuture<'a> {
            match endpoint {
                $($crate::Endpoint::$endpoint => $crate::endpoints::handler::$endpoint(state, req),)+
                #[allow(unreachable_patterns)]
                _ => Box::pin(async { Err($crate::error::ApiError::NotFound) }),
            }
        }

        // One thread: Lambda hands a function one event at a time, so worker threads would
        // only be made at every cold start (password hashing uses tokio's blocking threads).
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), $crate::lambda_http::Error> {
            $crate::runtime::run(&[$($crate::Endpoint::$endpoint),+], dispatch).await
        }
    };
}
