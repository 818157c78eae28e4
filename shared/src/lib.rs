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
pub use routes::Endpoint;
