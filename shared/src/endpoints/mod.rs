//! The endpoint logic: plain async Rust over the state's traits. Each handler takes the state
//! and the request, reads a typed body or token, and answers with a wire type or an
//! [`ApiError`](crate::error::ApiError); the pipeline ([`crate::runtime`]) does the rest.
//!
//! - [`signup`](mod@signup), [`login`](mod@login), [`refresh`](mod@refresh): accounts and sessions.
//! - [`account`]: the signed-in user (`/me`, logout).
//! - [`password_change`], [`sessions`](mod@sessions), [`email_change`], [`account_deletion`]:
//!   self-service (change the password, see and end sessions, change the email, erase the
//!   account); the ones that change the account ask for the password again
//!   ([`common::reauthenticate`]).
//! - [`users`]: the admin listing.
//! - [`password_reset`]: forgot and reset; forgot only queues the mail.
//! - [`verify_email`](mod@verify_email): verify an address and resend the link; signup queues the first.
//! - [`mailer`]: delivers queued mail jobs (the mailer function, local mode's worker);
//!   [`delivery`]: what a delivery comes to.
//! - [`docs`]: the OpenAPI description, assembled from every handler's annotation.
//! - [`discovery`]: the OpenID discovery document and the public key set (JWKS).
//! - [`common`]: what several endpoints share (authentication, the token envelope, views).
//! - [`owed_mail`]: the per-address mail caps, and the requests behind mail jobs.

pub mod account;
pub mod account_deletion;
pub mod common;
pub mod delivery;
pub mod discovery;
pub mod docs;
pub mod email_change;
pub mod login;
pub mod mailer;
pub mod owed_mail;
pub mod password_change;
pub mod password_reset;
pub mod refresh;
pub mod sessions;
pub mod signup;
pub mod users;
pub mod verify_email;

use lambda_http::Request;

pub use account::{logout, me};
pub use account_deletion::delete_account;
pub use common::EndpointResult;
pub use delivery::{Delivery, DeliveryError};
pub use discovery::{jwks, openid_configuration};
pub use docs::{docs_page, openapi_json};
pub use email_change::change_email;
pub use login::login;
pub use mailer::deliver;
pub use password_change::change_password;
pub use password_reset::{forgot_password, reset_password};
pub use refresh::refresh;
pub use sessions::{end_session, list_sessions};
pub use signup::signup;
pub use users::list_users;
pub use verify_email::{resend_verification, verify_email};

use crate::routes::Endpoint;
use crate::state::AppState;

/// Every endpoint's logic, by endpoint. (A function binary dispatches only to its own endpoints,
/// see [`crate::lambda_main`], so the others' code is not linked into it.)
pub async fn dispatch(state: &AppState, endpoint: Endpoint, req: &Request) -> EndpointResult {
    match endpoint {
        Endpoint::Signup => signup(state, req).await,
        Endpoint::Login => login(state, req).await,
        Endpoint::Me => me(state, req).await,
        Endpoint::ListUsers => list_users(state, req).await,
        Endpoint::Refresh => refresh(state, req).await,
        Endpoint::ForgotPassword => forgot_password(state, req).await,
        Endpoint::ResetPassword => reset_password(state, req).await,
        Endpoint::VerifyEmail => verify_email(state, req).await,
        Endpoint::ResendVerification => resend_verification(state, req).await,
        Endpoint::Logout => logout(state, req).await,
        Endpoint::ChangePassword => change_password(state, req).await,
        Endpoint::ListSessions => list_sessions(state, req).await,
        Endpoint::EndSession => end_session(state, req).await,
        Endpoint::ChangeEmail => change_email(state, req).await,
        Endpoint::DeleteAccount => delete_account(state, req).await,
        Endpoint::OpenApi => openapi_json(state, req).await,
        Endpoint::Docs => docs_page(state, req).await,
        Endpoint::OpenIdConfiguration => openid_configuration(state, req).await,
        Endpoint::Jwks => jwks(state, req).await,
    }
}
