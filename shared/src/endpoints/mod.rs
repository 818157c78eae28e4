//! The endpoint logic: plain async Rust over the state's traits. Each handler takes the state
//! and the request, reads a typed body or token, and answers with a wire type or an
//! [`ApiError`](crate::error::ApiError); the pipeline ([`crate::runtime`]) does the rest.
//!
//! - [`signup`](mod@signup), [`login`](mod@login), [`refresh`](mod@refresh): accounts and sessions;
//!   [`migration`]: accounts moving over from a team's old system (the user-migration hook).
//! - [`account`]: the signed-in user (`/me`, logout).
//! - [`password_change`], [`sessions`](mod@sessions), [`email_change`], [`account_deletion`]:
//!   self-service (change the password, see and end sessions, change the email, erase the
//!   account); the ones that change the account ask for the password again
//!   ([`common::reauthenticate`]).
//! - [`mfa`]: second factors (TOTP enrolment, recovery codes); [`login_mfa`]: login's second
//!   step.
//! - [`passkeys`]: the signed-in user's passkeys (register, list, remove); [`passkey_login`]:
//!   sign-in with a passkey and no username.
//! - [`oauth`]: sign-in with other providers (OpenID Connect, GitHub); [`identities`]: the
//!   identities linked to the account.
//! - [`users`]: the admin listing; [`admin_users`]: the admin API for one user.
//! - [`password_reset`]: forgot and reset; forgot only queues the mail.
//! - [`verify_email`](mod@verify_email): verify an address and resend the link; signup queues the first.
//! - [`mail_jobs`]: delivers queued mail jobs (the mailer function, local mode's worker);
//!   [`delivery`]: what a delivery comes to.
//! - [`docs`]: the OpenAPI description, assembled from every handler's annotation.
//! - [`discovery`]: the OpenID discovery document and the public key set (JWKS).
//! - [`common`]: what several endpoints share (authentication, the token envelope, views);
//!   [`issuance`]: every token pair's claims (with the token hook) and signature.
//! - [`mail_caps`]: the per-address mail caps; [`owed_mail`]: the requests behind mail jobs.

pub mod account;
pub mod account_deletion;
pub mod admin_users;
pub mod audit;
pub mod common;
pub mod delivery;
pub mod discovery;
pub mod docs;
pub mod email_change;
pub mod events;
pub mod identities;
pub mod issuance;
pub mod login;
pub mod login_mfa;
pub mod mail_caps;
pub mod mail_jobs;
pub mod mfa;
pub mod migration;
pub mod new_device;
pub mod oauth;
pub mod oauth_flow;
pub mod owed_mail;
pub mod passkey_login;
pub mod passkeys;
pub mod password_change;
pub mod password_reset;
pub mod refresh;
pub mod responses;
pub mod sessions;
pub mod signup;
pub mod users;
pub mod verify_email;

use lambda_http::Request;

pub use common::{EndpointResult, HandlerFuture};
pub use delivery::{Delivery, DeliveryError};
pub use mail_jobs::deliver;

use crate::routes::{route_table, Endpoint};
use crate::state::AppState;

macro_rules! define_dispatch {
    ($(($endpoint:ident, $method:ident, $path:literal, $function:literal, $body:ident, $limit:expr,
        $reauth:literal, $module:ident :: $handler:ident)),+ $(,)?) => {
        /// Each endpoint's handler under the endpoint's name, as the one type a function's
        /// dispatch takes: `handler::Login(state, req)`. A function binary names only its own
        /// (see [`crate::lambda_main`]), so the others' code is not linked into it.
        #[allow(non_snake_case)]
        pub mod handler {
            use super::*;
            $(
                pub fn $endpoint<'a>(state: &'a AppState, req: &'a Request) -> HandlerFuture<'a> {
                    Box::pin($module::$handler(state, req))
                }
            )+
        }

        /// Every endpoint's logic, by endpoint.
        pub async fn dispatch(state: &AppState, endpoint: Endpoint, req: &Request) -> EndpointResult {
            match endpoint {
                $(Endpoint::$endpoint => handler::$endpoint(state, req).await,)+
            }
        }
    };
}
route_table!(define_dispatch);
