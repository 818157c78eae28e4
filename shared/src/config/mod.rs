//! Configuration: every environment variable the service reads is read here, in one place,
//! with its default written once. Every variable is optional unless its backend needs it; a
//! value that is present but malformed is a startup error that names the variable, so a typo
//! never silently falls back to a default.
//!
//! - [`Config`] (`service.rs`): the settings every function uses, read by `service_env.rs`.
//! - [`BackendKind`] (`backend.rs`): local mode or the AWS backend, decided once.
//! - [`AwsSettings`] (`aws.rs`): the AWS backend's table, secrets, queue and SDK limits.
//! - [`RotationSettings`], [`KeyTiming`] (`rotation.rs`): the key rotation's (the function's, and
//!   the admin tool's `keys rotate`).
//! - [`LogSettings`] (`logging.rs`): the log level and format.
//! - [`Env`], [`ConfigError`], [`Limit`], [`links`], `origins`: how values are read and checked.

mod aws;
mod backend;
mod env;
mod error;
pub mod federation;
pub mod hooks;
mod limit;
pub mod links;
mod logging;
mod origins;
mod rotation;
mod service;
mod service_env;
mod webauthn;

pub use crate::domain::backoff::{Backoff, LoginRules};
pub use aws::AwsSettings;
pub use backend::BackendKind;
pub use env::Env;
pub use error::ConfigError;
pub use limit::Limit;
pub use logging::LogSettings;
pub use rotation::{KeyTiming, RotationSettings};
pub use service::{Config, HashCost};
