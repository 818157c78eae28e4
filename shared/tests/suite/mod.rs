//! The endpoint suite, generic over the storage backend: every backend runs the same cases.
#![allow(dead_code)]

pub mod app;
pub mod cases;
pub mod dynamo;
pub mod faults;
pub mod sqlite;

use authyy::config::Config;

pub use app::*;

/// How a backend builds a fresh test application from a configuration.
pub trait Backend {
    fn app(config: Config) -> BoxFut<'static, TestApp>;
}

/// Expands to one `#[tokio::test]` per case of [`cases`], run on `$backend`.
#[macro_export]
macro_rules! endpoint_suite {
    ($backend:ty) => {
        $crate::endpoint_suite!(@cases $backend;
            signup_returns_201_with_integer_id_and_rfc3339_time,
            signup_ids_are_sequential_integers,
            signup_with_registered_email_is_409_whatever_its_case,
            signup_with_taken_username_is_409_case_insensitively,
            signup_with_weak_password_is_422_in_fastapi_shape,
            signup_with_common_password_is_422,
            signup_with_password_containing_username_is_422,
            signup_reports_every_missing_field,
            wrong_types_null_and_arrays_are_422,
            malformed_json_is_422_json_invalid,
            body_that_is_not_an_object_is_422,
            empty_body_is_422,
            body_over_64_kib_is_413,
            ten_thousand_character_password_is_422_before_hashing,
            email_with_control_characters_is_422,
            email_with_look_alike_unicode_is_422,
            login_returns_the_token_envelope_with_no_store,
            login_with_wrong_password_is_401_with_www_authenticate,
            login_with_unknown_email_is_the_same_401,
            login_email_is_case_insensitive,
            login_backs_off_after_five_failures_with_retry_after,
            login_backoff_also_applies_to_unknown_emails,
            login_backoff_lifts_after_retry_after,
            successful_login_clears_the_failure_count,
            per_ip_limit_on_login_gives_429,
            ip_limits_off_keeps_the_account_backoff,
            per_ip_limit_on_signup_gives_429,
            per_ip_limit_on_forgot_password_gives_429,
            me_returns_the_current_user,
            me_without_token_is_401_not_authenticated,
            me_with_refresh_token_is_401,
            me_with_expired_access_token_is_401,
            me_with_alg_none_token_is_401,
            me_with_token_signed_by_another_key_is_401,
            me_with_garbage_token_is_401,
            list_users_needs_a_token,
            list_users_is_403_for_non_admins,
            list_users_pages_with_link_and_cursor,
            list_users_link_keeps_the_stage_prefix,
            list_users_with_bad_cursor_is_400,
            list_users_limit_out_of_range_is_422,
            demoted_admin_is_refused_at_once,
            refresh_rotates_the_pair,
            refresh_with_access_token_is_401,
            refresh_without_token_is_401,
            refresh_within_grace_returns_the_same_successor,
            refresh_replay_after_grace_revokes_the_family,
            refresh_token_expires,
            access_token_of_a_revoked_family_is_refused,
            logout_ends_the_current_session_at_once,
            logout_all_ends_every_session_at_once,
            logout_needs_an_access_token,
            logout_with_a_non_boolean_all_is_422,
            list_users_finds_one_user_by_exact_email,
            forgot_password_answers_the_same_for_unknown_emails,
            forgot_password_mails_a_link_built_from_configuration,
            reset_password_changes_the_password,
            reset_token_is_single_use,
            reset_token_expires_after_30_minutes,
            newer_reset_request_supersedes_older_tokens,
            reset_ends_every_session_at_once,
            reset_with_unknown_token_is_400,
            reset_with_weak_password_is_422_and_keeps_the_token,
            disabled_user_cannot_log_in_or_refresh,
            twenty_concurrent_signups_with_one_email_give_one_201,
            ten_concurrent_refreshes_of_one_token_give_one_successor,
            ten_concurrent_resets_with_one_token_succeed_once,
            wrong_method_is_405_json,
            unknown_path_is_404_json,
            cors_headers_only_for_configured_origins,
            preflight_is_answered_for_configured_origins,
            no_client_input_gives_a_5xx,
        );
    };
    (@cases $backend:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                suite::cases::$case::<$backend>().await;
            }
        )*
    };
}
