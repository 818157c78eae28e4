//! authyy: the shared library of the authyy Lambda functions.
//!
//! Every function binary builds an [`app::AppState`] once per execution environment and hands
//! each request to [`app::handle`] with its [`routes::Endpoint`]. Everything else lives here:
//! domain types and rules ([`domain`], [`password`]), tokens ([`tokens`]), the endpoint logic
//! ([`endpoints`]), the storage/mail/key traits ([`store`], [`mail`], [`keys`]) and their
//! implementations, and the HTTP helpers ([`http`]).

pub mod admin;
pub mod api;
pub mod app;
pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod endpoints;
pub mod error;
pub mod http;
pub mod keys;
pub mod mail;
pub mod password;
pub mod routes;
pub mod sqlite;
pub mod store;
pub mod tokens;

pub use app::{handle, AppState};
pub use lambda_http;

/// The whole `main` of a function binary: `authyy::lambda_main!(Login => authyy::endpoints::login);`
/// builds the state once and serves the listed endpoints. Dispatching only to its own endpoints
/// lets the linker leave every other endpoint's code (and dependencies) out of the binary.
#[macro_export]
macro_rules! lambda_main {
    ($($endpoint:ident => $handler:path),+ $(,)?) => {
        fn dispatch<'a>(
            state: &'a $crate::AppState,
            endpoint: $crate::Endpoint,
            req: &'a $crate::lambda_http::Request,
        ) -> $crate::app::BoxFuture<'a, $crate::endpoints::EndpointResult> {
            match endpoint {
                $($crate::Endpoint::$endpoint => Box::pin($handler(state, req)),)+
                #[allow(unreachable_patterns)]
                _ => Box::pin(async { Err($crate::error::ApiError::NotFound) }),
            }
        }

        #[tokio::main]
        async fn main() -> Result<(), $crate::lambda_http::Error> {
            $crate::app::run(&[$($crate::Endpoint::$endpoint),+], dispatch).await
        }
    };
}
pub use routes::Endpoint;
