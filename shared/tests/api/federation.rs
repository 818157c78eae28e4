//! Sign-in with another provider, against a real OpenID provider (node's oidc-provider, driven
//! through its own login and consent pages): the front channel's rules, and who an identity
//! signs in as (the account-takeover rules).

use crate::helpers::oidc::{self, fragment, FRONTEND, VERIFIER};
use crate::helpers::*;

async fn a_new_verified_identity_makes_an_account_with_no_password_and_signs_in<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let r = app.oauth_sign_in("newcomer@example.com").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["email"], "newcomer@example.com");
    assert_eq!(
        r.body["user"]["email_verified"], true,
        "the provider vouched for it"
    );
    assert_eq!(r.body["user"]["username"], "newcomer");
    let access = r.body["tokens"]["access"]["access_token"].as_str().unwrap();
    let claims = claims_of(access);
    assert_eq!(claims.amr, Some(vec!["fed".to_string()]));
    assert_eq!(claims.aal.as_deref(), Some("aal1"));
    let login = app.login("newcomer@example.com", "").await;
    assert_ne!(login.status, 200, "no password signs in to it");
    let listed = app.get(Endpoint::ListIdentities, access).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["provider"], "local");
    assert_eq!(listed.body[0]["email"], "newcomer@example.com");
}

async fn a_second_sign_in_finds_the_same_account<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let first = app.oauth_sign_in("twice@example.com").await;
    let second = app.oauth_sign_in("twice@example.com").await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(first.body["user"]["id"], second.body["user"]["id"]);
}

async fn a_state_works_once<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let started = app.oauth_authorize(FRONTEND).await;
    let at_provider = started.header("location").unwrap().to_string();
    let back = tokio::task::spawn_blocking(move || oidc::drive(&at_provider, "once@example.com", "consent"))
        .await
        .unwrap();
    assert_eq!(app.oauth_callback(&back).await.status, 302);
    let replayed = app.oauth_callback(&back).await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.detail(), "Invalid or expired state");
}

async fn a_state_older_than_ten_minutes_is_refused<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let started = app.oauth_authorize(FRONTEND).await;
    let at_provider = started.header("location").unwrap().to_string();
    let back = tokio::task::spawn_blocking(move || oidc::drive(&at_provider, "slow@example.com", "consent"))
        .await
        .unwrap();
    app.clock.advance_secs(601);
    let r = app.oauth_callback(&back).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid or expired state");
}

async fn a_redirect_to_on_a_foreign_origin_is_refused<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    for foreign in [
        "https://evil.example/callback",
        "http://localhost:3000/callback/../x",
        "",
    ] {
        let r = app.oauth_authorize(foreign).await;
        assert_eq!(r.status, 400, "{foreign}");
        assert_eq!(r.detail(), "redirect_to not allowed");
    }
}

async fn an_unknown_provider_is_refused<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let req = event(
        "GET",
        "/auth/oauth/nope/authorize",
        &format!(
            "redirect_to={FRONTEND}&code_challenge={}",
            oidc::challenge(VERIFIER)
        ),
        &[],
        None,
        "192.0.2.1",
    );
    let r = app.call(Endpoint::OAuthAuthorize, req).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Unknown provider");
}

async fn declined_consent_ends_at_the_frontend_as_access_denied<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let started = app.oauth_authorize(FRONTEND).await;
    let at_provider = started.header("location").unwrap().to_string();
    let back = tokio::task::spawn_blocking(move || oidc::drive(&at_provider, "shy@example.com", "deny"))
        .await
        .unwrap();
    let r = app.oauth_callback(&back).await;
    assert_eq!(r.status, 302);
    assert!(r.header("location").unwrap().starts_with(FRONTEND));
    assert_eq!(fragment(&r, "error").as_deref(), Some("access_denied"));
}

async fn the_code_needs_the_frontends_verifier_and_works_once<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let back = app.oauth_front_channel("pkce@example.com").await;
    let code = fragment(&back, "code").unwrap();
    let wrong = app.oauth_token(&code, &"x".repeat(43)).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.detail(), "Invalid or expired code");
    let back = app.oauth_front_channel("pkce@example.com").await;
    let code = fragment(&back, "code").unwrap();
    assert_eq!(app.oauth_token(&code, VERIFIER).await.status, 200);
    assert_eq!(app.oauth_token(&code, VERIFIER).await.status, 400, "spent");
}

async fn a_code_older_than_a_minute_is_refused<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let back = app.oauth_front_channel("late@example.com").await;
    let code = fragment(&back, "code").unwrap();
    app.clock.advance_secs(61);
    let r = app.oauth_token(&code, VERIFIER).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid or expired code");
}

async fn an_unverified_provider_email_makes_no_account<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let back = app.oauth_front_channel("unverified:ghost@example.com").await;
    assert_eq!(fragment(&back, "error").as_deref(), Some("email_not_verified"));
}

async fn an_existing_account_is_not_joined_unless_the_provider_links_by_email<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    app.signup("owner", "owner@example.com", "correct horse battery staple 42")
        .await;
    let back = app.oauth_front_channel("owner@example.com").await;
    assert_eq!(fragment(&back, "error").as_deref(), Some("account_exists"));
}

async fn an_unverified_email_at_the_provider_does_not_join_an_existing_account<B: Backend>() {
    let app = B::app(oidc::config(true)).await;
    let (_, _, id) = app.user("victim").await;
    assert!(app.state.users.set_email_verified(id).await.unwrap());
    let back = app.oauth_front_channel("unverified:victim@example.com").await;
    assert_eq!(fragment(&back, "error").as_deref(), Some("account_exists"));
}

async fn an_unverified_local_account_is_not_joined<B: Backend>() {
    let app = B::app(oidc::config(true)).await;
    app.signup(
        "squatter",
        "squatted@example.com",
        "correct horse battery staple 42",
    )
    .await;
    let back = app.oauth_front_channel("squatted@example.com").await;
    assert_eq!(fragment(&back, "error").as_deref(), Some("account_exists"));
}

async fn a_verified_account_is_joined_when_the_provider_links_by_email<B: Backend>() {
    let app = B::app(oidc::config(true)).await;
    let (_, _, id) = app.user("joiner").await;
    assert!(app.state.users.set_email_verified(id).await.unwrap());
    let r = app.oauth_sign_in("joiner@example.com").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"], id);
}

async fn a_provider_sign_in_to_an_account_with_a_second_factor_asks_for_it<B: Backend>() {
    let app = B::app(oidc::config(true)).await;
    let (_, _, id) = app.verified_user("twofactor").await;
    let joined = app.oauth_sign_in("twofactor@example.com").await;
    assert_eq!(joined.body["user"]["id"], id, "{:?}", joined.body);
    let started = app.start_totp(&access(&joined)).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let confirmed = app
        .confirm_totp(&access(&joined), &app.code_now(&secret), STRONG)
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    app.clock.advance_ms(1);

    let r = app.oauth_sign_in("twofactor@example.com").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["mfa_required"], true);
    assert!(
        r.body.get("tokens").is_none(),
        "no tokens before the second factor"
    );
    let token = r.body["mfa_token"].as_str().unwrap();
    let done = app.login_mfa(token, &app.next_code(&secret)).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let claims = claims_of(&access(&done));
    assert_eq!(claims.amr.unwrap(), ["fed", "otp", "mfa"]);
    assert_eq!(claims.aal.as_deref(), Some("aal2"));
}

async fn an_account_with_no_password_sets_one_from_a_recent_sign_in<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let r = app.oauth_sign_in("nopassword@example.com").await;
    let body = json!({"new_password": "violet tractor jumps over moon 7"});
    let changed = app
        .with_body_of(Endpoint::ChangePassword, body, &access(&r))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let login = app
        .login("nopassword@example.com", "violet tractor jumps over moon 7")
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}

async fn an_account_with_no_password_needs_a_sign_in_under_five_minutes_old<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let r = app.oauth_sign_in("stale@example.com").await;
    // At 4:59 the sign-in still stands for the password (the removal gets as far as its own rule).
    app.clock.advance_secs(299);
    let id = app.get(Endpoint::ListIdentities, &access(&r)).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r2 = app.unlink(&access(&r), &id, json!({})).await;
    assert_eq!(r2.detail(), "Cannot remove the last way to sign in");
    // At 5:00 it no longer does.
    app.clock.advance_secs(1);
    let body = json!({"new_password": "violet tractor jumps over moon 7"});
    let refused = app
        .with_body_of(Endpoint::ChangePassword, body, &access(&r))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.detail(), "Reauthentication required");
    let erase = app
        .with_body_of(Endpoint::DeleteAccount, json!({}), &access(&r))
        .await;
    assert_eq!(erase.status, 403);
    assert_eq!(erase.detail(), "Reauthentication required");
}

async fn a_github_sign_in_uses_the_primary_verified_address_and_the_numeric_id<B: Backend>() {
    let app = B::app(with(|c| c.oauth_providers = vec![oidc::github_provider()])).await;
    let r = app.oauth_sign_in_at("gh", "octo@example.com").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["user"]["email"], "octo@example.com",
        "the primary address, not a secondary"
    );
    assert_eq!(r.body["user"]["username"], "octo");
    let again = app.oauth_sign_in_at("gh", "octo@example.com").await;
    assert_eq!(again.body["user"]["id"], r.body["user"]["id"]);
    let id = r.body["user"]["id"].as_u64().unwrap();
    let identities = app.state.identities.identities(id).await.unwrap();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].provider, "gh");
    assert_eq!(identities[0].issuer, oidc::github_base(), "keyed by the API URL");
    assert!(
        identities[0].subject.bytes().all(|b| b.is_ascii_digit()),
        "and the numeric id"
    );
}

async fn a_github_account_whose_primary_address_is_unverified_makes_no_account<B: Backend>() {
    let app = B::app(with(|c| c.oauth_providers = vec![oidc::github_provider()])).await;
    let back = app
        .oauth_front_channel_at("gh", "unverified:hub@example.com")
        .await;
    assert_eq!(fragment(&back, "error").as_deref(), Some("email_not_verified"));
}

async fn the_providers_own_errors_end_at_the_frontend_as_codes_it_knows<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    for (error, expected) in [
        ("server_error", "temporarily_unavailable"),
        ("temporarily_unavailable", "temporarily_unavailable"),
        ("access_denied", "access_denied"),
        ("invalid_scope", "invalid_response"),
    ] {
        let started = app.oauth_authorize(oidc::FRONTEND).await;
        let location = started.header("location").unwrap().to_string();
        let state = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let back = app
            .oauth_callback(&format!("{}?error={error}&state={state}", oidc::CALLBACK))
            .await;
        assert_eq!(back.status, 302, "{error}");
        assert_eq!(fragment(&back, "error").as_deref(), Some(expected), "{error}");
    }
}

async fn a_service_that_requires_verified_addresses_signs_in_a_provider_verified_one<B: Backend>() {
    let mut config = oidc::config(false);
    config.require_verified_email = true;
    let app = B::app(config).await;
    let r = app.oauth_sign_in("strict@example.com").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

both_backends!(
    the_providers_own_errors_end_at_the_frontend_as_codes_it_knows,
    a_service_that_requires_verified_addresses_signs_in_a_provider_verified_one,
    an_unreachable_provider_ends_at_the_frontend_or_as_a_503,
    a_github_sign_in_uses_the_primary_verified_address_and_the_numeric_id,
    a_github_account_whose_primary_address_is_unverified_makes_no_account,
    an_account_with_no_password_sets_one_from_a_recent_sign_in,
    an_account_with_no_password_needs_a_sign_in_under_five_minutes_old,
    a_provider_sign_in_to_an_account_with_a_second_factor_asks_for_it,
    a_new_verified_identity_makes_an_account_with_no_password_and_signs_in,
    a_second_sign_in_finds_the_same_account,
    a_state_works_once,
    a_state_older_than_ten_minutes_is_refused,
    a_redirect_to_on_a_foreign_origin_is_refused,
    an_unknown_provider_is_refused,
    declined_consent_ends_at_the_frontend_as_access_denied,
    the_code_needs_the_frontends_verifier_and_works_once,
    a_code_older_than_a_minute_is_refused,
    an_unverified_provider_email_makes_no_account,
    an_existing_account_is_not_joined_unless_the_provider_links_by_email,
    an_unverified_email_at_the_provider_does_not_join_an_existing_account,
    an_unverified_local_account_is_not_joined,
    a_verified_account_is_joined_when_the_provider_links_by_email,
);

async fn an_unreachable_provider_ends_at_the_frontend_or_as_a_503<B: Backend>() {
    // A provider whose issuer nothing listens on.
    let mut provider = oidc::provider(false);
    provider.kind = authyy::config::federation::ProviderKind::Oidc {
        issuer: "http://127.0.0.1:9".into(),
    };
    let app = B::app(with(|c| c.oauth_providers = vec![provider])).await;
    let r = app.oauth_authorize(oidc::FRONTEND).await;
    assert_eq!(r.status, 302, "{:?}", r.body);
    assert!(r.header("location").unwrap().starts_with(oidc::FRONTEND));
    assert_eq!(fragment(&r, "error").as_deref(), Some("temporarily_unavailable"));
    let (access, _, _) = app.verified_user("linking").await;
    let r = app.oauth_link(&access, Some(STRONG)).await;
    assert_eq!(r.status, 503, "no page to go back to: a clean 503");
    assert!(!r.detail().contains("127.0.0.1"), "no internals: {}", r.detail());
}

/// On the AWS backend, a client secret given by reference is read from Secrets Manager.
mod client_secret_reference {
    use super::*;
    use crate::helpers::dynamo::{create_secret, unique, Fixture};
    use authyy::config::federation::ClientSecret;
    use std::sync::Arc;

    /// An app on the AWS backend whose provider's secret is the Secrets Manager secret `id`,
    /// created holding `value` when given.
    async fn app_with_secret_ref(value: Option<&str>) -> TestApp {
        let fixture = Fixture::new().await;
        let id = unique("oauth-client-secret");
        if let Some(value) = value {
            create_secret(&fixture.sdk, &id, value.to_string()).await;
        }
        let mut provider = oidc::provider(false);
        provider.client_secret = ClientSecret::Reference(id);
        let clock = Arc::new(ManualClock::default());
        let state = fixture.state(with(|c| c.oauth_providers = vec![provider]), clock.clone());
        TestApp {
            state,
            clock,
            inbox: Arc::new(fixture.inbox()),
            keys: None,
            _guard: Box::new(()),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_secret_in_secrets_manager_signs_in() {
        let app = app_with_secret_ref(Some("authyy-test-secret")).await;
        let r = app.oauth_sign_in("by-reference@example.com").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_secret_that_cannot_be_read_ends_at_the_frontend() {
        let app = app_with_secret_ref(None).await;
        let back = app.oauth_front_channel("nosecret@example.com").await;
        assert_eq!(
            fragment(&back, "error").as_deref(),
            Some("temporarily_unavailable")
        );
    }
}
