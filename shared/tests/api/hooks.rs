//! Hooks: the before-signup hook allows, refuses or sets metadata; the token hook adds claims at
//! every issuance and cannot change a reserved one; a hook that fails, dawdles or answers
//! nonsense fails the request closed (503) with nothing created. The receiver verifies every
//! signature with the Standard Webhooks reference library, and stands in for the Lambda Invoke
//! API for the Lambda kind.

use crate::helpers::hooks::*;
use crate::helpers::*;

/// `name` made unique to this run of a case (both backends share one receiver).
fn unique(name: &str) -> String {
    format!("{name}{:06x}", rand::random::<u32>() & 0xff_ffff)
}

/// `name`'s signup, and what the hook received for it.
async fn signup_seen(app: &TestApp, name: &str) -> (Resp, Vec<Value>) {
    let email = format!("{name}@example.com");
    let r = app.signup(name, &email, STRONG).await;
    (r, received(&email).await)
}

async fn the_before_signup_hook_is_signed_and_told_the_attempt<B: Backend>() {
    let app = B::app(hooks_config(Some("/allow"), None)).await;
    let name = unique("hook_told");
    let (r, seen) = signup_seen(&app, &name).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["verified"], true, "the signature verifies");
    assert_eq!(
        seen[0]["event"],
        json!({
            "event": "before_signup",
            "email": format!("{name}@example.com"),
            "username": name,
            "ip": "192.0.2.1",
            "user_agent": "",
            "method": "password",
            "email_verified": false,
        })
    );
}

async fn a_refusing_before_signup_hook_is_403_with_its_detail_and_creates_nothing<B: Backend>() {
    let app = B::app(hooks_config(Some("/deny"), None)).await;
    let (r, _) = signup_seen(&app, "hook_denied").await;
    assert_eq!((r.status, r.detail()), (403, "Sign up with your work address"));
    assert!(!app.exists("hook_denied@example.com").await);
    assert_eq!(app.login("hook_denied@example.com", STRONG).await.status, 401);
}

async fn the_before_signup_hook_sets_the_new_accounts_metadata<B: Backend>() {
    let app = B::app(hooks_config(Some("/metadata"), None)).await;
    let (r, _) = signup_seen(&app, "hook_meta").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let login = app.login("hook_meta@example.com", STRONG).await;
    let metadata = json!({"plan": "trial", "source": "hook"});
    assert_eq!(app.me(&access(&login)).await.body["app_metadata"], metadata);
    assert_eq!(
        Value::Object(claims_of(&access(&login)).app_metadata.unwrap()),
        metadata
    );
}

async fn a_failing_slow_or_nonsense_signup_hook_is_503_and_creates_nothing<B: Backend>() {
    for path in ["/fail", "/slow", "/garbage", "/redirect", "/reserved", "/nowhere"] {
        let app = B::app(hooks_config(Some(path), None)).await;
        let name = format!("hook_broken{}", path.trim_start_matches('/'));
        let (r, _) = signup_seen(&app, &name).await;
        assert_eq!(r.status, 503, "{path}: {:?}", r.body);
        assert!(r.detail().contains("hook"), "{path}: {}", r.detail());
        assert!(!app.exists(&format!("{name}@example.com")).await, "{path}");
    }
    let app = B::app(with(|c| {
        c.hooks = hook_settings(None, None);
        c.hooks.before_signup = Some(authyy::config::hooks::HookTarget::Http {
            url: "http://127.0.0.1:9/unreachable".into(),
            secret: authyy::config::hooks::WebhookSecret::parse(HOOK_SECRET).unwrap(),
        });
    }))
    .await;
    let (r, _) = signup_seen(&app, "hook_unreachable").await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(!app.exists("hook_unreachable@example.com").await);
}

async fn the_token_hook_adds_its_claims_at_login_and_refresh<B: Backend>() {
    let app = B::app(hooks_config(None, Some("/claims"))).await;
    let name = unique("hook_claims");
    let email = format!("{name}@example.com");
    let (_, _, id) = app.user(&name).await;
    let tagged = authyy::store::UserUpdate {
        app_metadata: Some(authyy::domain::AppMetadata::new(json!({"tenant": "acme"})).unwrap()),
        ..Default::default()
    };
    app.state.users.update_user(id, &tagged, 0).await.unwrap();
    let login = app.login(&email, STRONG).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let claims = claims_of(&access(&login));
    assert_eq!(claims.extra.get("tenant"), Some(&json!("acme")));
    assert_eq!(
        claims.sub,
        id.to_string(),
        "an echoed reserved claim is kept as it was"
    );
    let refreshed = app.refresh(&refresh(&login)).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(
        claims_of(&access(&refreshed)).extra.get("tenant"),
        Some(&json!("acme"))
    );
    // What the hook is shown of the user: exactly these fields, never a hash or a token.
    let seen = received(&email).await;
    let last = &seen.last().unwrap()["event"];
    assert_eq!(last["event"], "token");
    let mut fields: Vec<&str> = last["user"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "app_metadata",
            "created_at",
            "email",
            "email_verified",
            "id",
            "identities",
            "mfa",
            "role",
            "username"
        ]
    );
    assert_eq!(last["claims"]["sub"], id.to_string());
    assert!(!last.to_string().contains(STRONG));
}

async fn the_token_hook_runs_at_the_second_factor_and_at_a_passkey_sign_in<B: Backend>() {
    let mut app = app::<B>().await;
    let user = app.enrolled("hook_mfa").await;
    let (added, made) = app.add_passkey_with(&access(&user.confirmed), json!({})).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    app.set_hooks(None, Some("/claims"));
    let tenant_claim = |r: &Resp| claims_of(&access(r)).extra.contains_key("tenant");
    let coded = app.login_with_code(&user.email, &user.secret).await;
    assert!(tenant_claim(&coded), "the second step's token");
    let mut key = made.key.clone();
    let signed_in = app.sign_in_with_passkey(&mut key).await;
    assert!(tenant_claim(&signed_in), "the passkey sign-in's token");
}

async fn a_token_hook_changing_a_reserved_claim_or_too_large_is_503_and_starts_no_session<B: Backend>() {
    for path in ["/reserved", "/large", "/fail", "/garbage"] {
        let mut app = app::<B>().await;
        let (_, _, id) = app.user("hook_token_broken").await;
        let before = app.state.sessions.list_sessions(id).await.unwrap().len();
        app.set_hooks(None, Some(path));
        let r = app.login("hook_token_broken@example.com", STRONG).await;
        assert_eq!(r.status, 503, "{path}: {:?}", r.body);
        let after = app.state.sessions.list_sessions(id).await.unwrap().len();
        assert_eq!(after, before, "{path}: no session was started");
    }
}

async fn a_refresh_whose_token_hook_fails_spends_nothing<B: Backend>() {
    let mut app = app::<B>().await;
    let (_, first, _) = app.user("hook_refresh").await;
    app.set_hooks(None, Some("/fail"));
    assert_eq!(app.refresh(&first).await.status, 503);
    app.set_hooks(None, None);
    let again = app.refresh(&first).await;
    assert_eq!(
        again.status, 200,
        "the refresh token was not spent: {:?}",
        again.body
    );
}

async fn a_totp_confirmation_whose_token_hook_fails_turns_nothing_on<B: Backend>() {
    let mut app = app::<B>().await;
    let (access1, _, id) = app.verified_user("hook_totp").await;
    let secret = app.start_totp(&access1).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    app.set_hooks(None, Some("/fail"));
    let r = app.confirm_totp(&access1, &app.code_now(&secret), STRONG).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(
        !app.state.mfa.second_factors(id).await.unwrap().factors().any(),
        "no factor half-enrolled"
    );
    assert_eq!(app.me(&access1).await.status, 200, "the session lives on");
}

/// The provider test configuration, with these hooks.
fn provider_and_hooks(before_signup: Option<&str>, token: Option<&str>) -> Config {
    let mut config = crate::helpers::oidc::config(false);
    config.hooks = hook_settings(before_signup, token);
    config
}

async fn a_provider_sign_in_asks_the_before_signup_hook_then_the_token_hook<B: Backend>() {
    let app = B::app(provider_and_hooks(Some("/metadata"), Some("/claims"))).await;
    let email = format!("{}@example.com", unique("fedhook"));
    let r = app.oauth_sign_in(&email).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let claims = claims_of(&access(&r));
    assert!(claims.extra.contains_key("tenant"), "the token hook's claim");
    assert_eq!(
        Value::Object(claims.app_metadata.unwrap()),
        json!({"plan": "trial", "source": "hook"})
    );
    let seen = received(&email).await;
    let signup = seen
        .iter()
        .find(|s| s["event"]["event"] == "before_signup")
        .expect("asked at signup");
    assert_eq!(
        (
            signup["event"]["method"].clone(),
            signup["event"]["email_verified"].clone()
        ),
        (json!("oauth"), json!(true))
    );
}

async fn a_provider_sign_in_the_hook_refuses_ends_in_access_denied_with_no_account<B: Backend>() {
    let app = B::app(provider_and_hooks(Some("/deny"), None)).await;
    let email = format!("{}@example.com", unique("fedhookno"));
    let back = app.oauth_front_channel(&email).await;
    assert_eq!(
        crate::helpers::oidc::fragment(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert!(!app.exists(&email).await);
    let app = B::app(provider_and_hooks(Some("/fail"), None)).await;
    let back = app.oauth_front_channel(&email).await;
    assert_eq!(
        crate::helpers::oidc::fragment(&back, "error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert!(!app.exists(&email).await);
}

async fn a_lambda_hook_is_invoked_through_the_invoke_api<B: Backend>() {
    let mut app = B::app(test_config()).await;
    app.set_lambda_hooks(Some("metadata"), Some("claims"));
    let name = unique("hook_lambda");
    let email = format!("{name}@example.com");
    assert_eq!(app.signup(&name, &email, STRONG).await.status, 201);
    let login = app.login(&email, STRONG).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let claims = claims_of(&access(&login));
    assert_eq!(claims.extra.get("via"), Some(&json!("lambda")));
    assert_eq!(
        claims.app_metadata.map(Value::Object),
        Some(json!({"plan": "trial", "source": "lambda"}))
    );
    let seen = received(&email).await;
    let called: Vec<_> = seen.iter().map(|r| r["path"].as_str().unwrap_or("")).collect();
    assert_eq!(called, ["lambda:metadata", "lambda:claims"], "{seen:?}");
    assert!(
        seen.iter().all(|r| r["verified"] == true),
        "SigV4-signed: {seen:?}"
    );
    assert_eq!(seen[0]["event"]["event"], "before_signup");
    assert_eq!(seen[1]["event"]["user"]["email"], json!(email));
}

async fn a_lambda_hook_that_refuses_crashes_or_is_missing_creates_nothing<B: Backend>() {
    let mut app = B::app(test_config()).await;
    let other = unique("hook_lambda_tok");
    app.user(&other).await;
    app.set_lambda_hooks(Some("deny"), None);
    let name = unique("hook_lambda_no");
    let email = format!("{name}@example.com");
    let r = app.signup(&name, &email, STRONG).await;
    assert_eq!((r.status, r.detail()), (403, "Sign up with your work address"));
    for function in ["crash", "missing"] {
        app.set_lambda_hooks(Some(function), None);
        let r = app.signup(&name, &email, STRONG).await;
        assert_eq!(r.status, 503, "{function}: {:?}", r.body);
        assert!(r.detail().contains("hook"), "{function}: {}", r.detail());
    }
    assert!(!app.exists(&email).await);
    app.set_lambda_hooks(None, Some("crash"));
    let login = app.login(&format!("{other}@example.com"), STRONG).await;
    assert_eq!(login.status, 503, "{:?}", login.body);
}

both_backends!(
    a_lambda_hook_is_invoked_through_the_invoke_api,
    a_lambda_hook_that_refuses_crashes_or_is_missing_creates_nothing,
    a_provider_sign_in_asks_the_before_signup_hook_then_the_token_hook,
    a_provider_sign_in_the_hook_refuses_ends_in_access_denied_with_no_account,
    the_before_signup_hook_is_signed_and_told_the_attempt,
    a_refusing_before_signup_hook_is_403_with_its_detail_and_creates_nothing,
    the_before_signup_hook_sets_the_new_accounts_metadata,
    a_failing_slow_or_nonsense_signup_hook_is_503_and_creates_nothing,
    the_token_hook_adds_its_claims_at_login_and_refresh,
    the_token_hook_runs_at_the_second_factor_and_at_a_passkey_sign_in,
    a_token_hook_changing_a_reserved_claim_or_too_large_is_503_and_starts_no_session,
    a_refresh_whose_token_hook_fails_spends_nothing,
    a_totp_confirmation_whose_token_hook_fails_turns_nothing_on,
);
