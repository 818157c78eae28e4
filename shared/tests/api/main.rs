//! The integration tests, in one binary (one build, one link): a module per area of the API,
//! each endpoint case written once and run on both backends (SQLite, and DynamoDB/SES/Secrets
//! Manager over the local AWS server `./infra/test.sh` starts), plus the AWS-only fault and
//! permission tests and the checks that keep local mode, events/ and the OpenAPI honest.

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

mod access_tokens;
mod admin_api;
mod audit;
mod bad_input;
mod client_limits;
mod hardening;
mod hooks;
mod http;
mod key_lifecycle;
mod list_users;
mod lockout;
mod login;
mod logout;
mod mail_abuse;
mod mail_queue;
mod mfa;
mod migration;
mod passkey_registration;
mod passkey_sign_in;
mod password_reset;
mod races;
mod refresh;
mod self_service;
mod signup;
mod verify_email;

mod architecture;
mod aws_faults;
mod aws_interleavings;
mod aws_permissions;
mod aws_throttling;
mod aws_units;
mod federation;
mod federation_linking;
mod fuzz;
mod key_retire_races;
mod key_rotation_aws;
mod local_mode;
mod openapi;
mod repository;
