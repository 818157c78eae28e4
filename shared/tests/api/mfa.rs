//! Second factors: TOTP enrolment, login's second step, recovery codes, step-up, and the
//! `amr`/`aal` of tokens. Codes are computed by an independent implementation (pyotp).

use crate::helpers::*;

async fn enrolment_answers_a_base32_secret_and_an_otpauth_uri_naming_issuer_and_email<B: Backend>() {
    let app = B::app(with(|c| c.mfa_issuer = "Acme Co".into())).await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let r = app.start_totp(&access1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        r.body["otpauth_uri"],
        format!(
            "otpauth://totp/Acme%20Co:john_doe%40example.com?secret={secret}&issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        )
    );
    // Nothing changes until it is confirmed: login still needs the password alone.
    let r = app.login("john_doe@example.com", STRONG).await;
    assert!(r.body["tokens"].is_object(), "{:?}", r.body);
    assert_eq!(app.me(&access1).await.body["mfa"]["totp"], false);
    // It can be confirmed for ten minutes.
    app.clock.advance_secs(599);
    let r = app.confirm_totp(&access1, &app.code_now(secret), STRONG).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn confirming_in_the_millisecond_of_a_password_change_still_ends_the_callers_session<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let secret = app.start_totp(&access1).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // The change keeps this session and moves the account's cut-off to now.
    assert_eq!(app.change_password(&access1, STRONG, STRONG2).await.status, 200);
    let r = app.confirm_totp(&access1, &app.code_now(&secret), STRONG2).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.me(&access1).await.status,
        401,
        "the session before the confirmation ended"
    );
    assert_eq!(app.me(&access(&r)).await.status, 200);
}

async fn confirming_turns_totp_on_with_ten_recovery_codes_and_a_new_aal2_session<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.verified_user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let secret = app.start_totp(&access1).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.confirm_totp(&access1, &app.code_now(&secret), STRONG).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let codes = r.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let claims = claims_of(&access(&r));
    assert_eq!(claims.amr.unwrap(), ["pwd", "otp", "mfa"]);
    assert_eq!(claims.aal.as_deref(), Some("aal2"));
    assert_eq!(claims.scope.as_deref(), Some("user aal2 user:aal2"));
    assert_ne!(claims.sid, claims_of(&access1).sid, "a new session");
    // Every earlier session ended, the caller's included; the new one works.
    for a in [&access1, &access(&other)] {
        assert_eq!(app.me(a).await.status, 401);
    }
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    let me = app.me(&access(&r)).await;
    assert_eq!(
        me.body["mfa"],
        json!({"totp": true, "passkeys": 0, "recovery_codes": 10})
    );
    // The address is told.
    let mails = app.mails_to("john_doe@example.com").await;
    assert!(mails.iter().any(|m| m.contains("Two-step sign-in was turned on")));
}

async fn a_wrong_code_or_no_enrolment_does_not_turn_totp_on<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let r = app.confirm_totp(&access1, "123456", STRONG).await;
    assert_eq!((r.status, r.detail()), (404, "No enrollment in progress"));
    let secret = app.start_totp(&access1).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong = totp_at(&secret, app.clock.now() + 300);
    let r = app.confirm_totp(&access1, &wrong, STRONG).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid code"));
    let r = app
        .confirm_totp(&access1, &app.code_now(&secret), "wrong password 1")
        .await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    // An enrolment lasts ten minutes.
    app.clock.advance_secs(601);
    let r = app.confirm_totp(&access1, &app.code_now(&secret), STRONG).await;
    assert_eq!((r.status, r.detail()), (404, "No enrollment in progress"));
    assert_eq!(app.me(&access1).await.body["mfa"]["totp"], false);
}

async fn an_unverified_address_cannot_add_a_factor<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    let r = app.start_totp(&access1).await;
    assert_eq!((r.status, r.detail()), (403, "Email not verified"));
}

async fn login_of_an_account_with_totp_asks_for_a_code_and_gives_no_tokens<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let r = app.login(&user.email, STRONG).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["mfa_required"], true);
    assert_eq!(r.body["methods"], json!(["totp", "recovery_code"]));
    assert!(
        r.body["tokens"].is_null() && r.body["mfa_token"].is_string(),
        "{:?}",
        r.body
    );
    // A wrong password is still the same 401.
    let r = app.login(&user.email, "wrong password 1").await;
    assert_eq!(r.status, 401);
}

async fn the_code_step_answers_tokens_whose_amr_and_aal_survive_a_refresh<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let r = app.login_with_code(&user.email, &user.secret).await;
    assert!(r.body["device_token"].is_string());
    let claims = claims_of(&access(&r));
    assert_eq!(claims.amr.as_deref().unwrap(), ["pwd", "otp", "mfa"]);
    assert_eq!(claims.aal.as_deref(), Some("aal2"));
    let auth_time = claims.auth_time.unwrap();
    app.clock.advance_secs(60);
    let refreshed = app.refresh(&refresh(&r)).await;
    assert_eq!(refreshed.status, 200);
    let again = claims_of(&access(&refreshed));
    assert_eq!(again.amr, claims.amr);
    assert_eq!(again.aal, claims.aal);
    assert_eq!(again.auth_time, Some(auth_time));
    assert_eq!(again.scope.as_deref(), Some("user aal2 user:aal2"));
}

async fn a_password_login_is_aal1_with_amr_pwd<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.user("john_doe").await;
    let claims = claims_of(&access1);
    assert_eq!(claims.amr.unwrap(), ["pwd"]);
    assert_eq!(claims.aal.as_deref(), Some("aal1"));
    assert_eq!(claims.auth_time, Some(app.clock.now()));
    assert_eq!(claims.scope.as_deref(), Some("user"));
    let r = app.refresh(&refresh1).await;
    assert_eq!(claims_of(&access(&r)).aal.as_deref(), Some("aal1"));
}

async fn a_code_is_accepted_once<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    // The confirming code counts as used.
    let token = app.mfa_token(&user.email).await;
    let r = app.login_mfa(&token, &app.code_now(&user.secret)).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid code"));
    let code = app.next_code(&user.secret);
    assert_eq!(app.login_mfa(&token, &code).await.status, 200);
    let token = app.mfa_token(&user.email).await;
    let r = app.login_mfa(&token, &code).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid code"), "a replayed code");
    // Nor is an earlier step's code (still within the window) accepted after a later one.
    let earlier = totp_at(&user.secret, app.clock.now() - 30);
    assert_eq!(app.login_mfa(&token, &earlier).await.status, 400);
}

async fn a_code_one_step_either_side_is_accepted_and_two_steps_off_is_not<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    app.clock.advance_secs(300);
    let now = app.clock.now();
    let token = app.mfa_token(&user.email).await;
    for off in [-60, 60] {
        let r = app.login_mfa(&token, &totp_at(&user.secret, now + off)).await;
        assert_eq!(r.status, 400, "{off}");
    }
    assert_eq!(
        app.login_mfa(&token, &totp_at(&user.secret, now - 30))
            .await
            .status,
        200
    );
    let token = app.mfa_token(&user.email).await;
    assert_eq!(
        app.login_mfa(&token, &totp_at(&user.secret, now + 30))
            .await
            .status,
        200
    );
}

async fn a_recovery_code_signs_in_once_as_pwd_mfa_and_the_address_is_told<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let code = user.recovery_codes()[3].clone();
    let token = app.mfa_token(&user.email).await;
    // Case, dashes and spaces do not matter.
    let typed = code.to_uppercase().replace('-', " ");
    let r = app.login_recovery(&token, &typed).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let claims = claims_of(&access(&r));
    assert_eq!(claims.amr.unwrap(), ["pwd", "mfa"]);
    assert_eq!(claims.aal.as_deref(), Some("aal2"));
    assert_eq!(app.me(&access(&r)).await.body["mfa"]["recovery_codes"], 9);
    let token = app.mfa_token(&user.email).await;
    let r = app.login_recovery(&token, &code).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid code"), "spent");
    let mails = app.mails_to(&user.email).await;
    assert!(mails.iter().any(|m| m.contains("A recovery code was used")));
}

async fn an_mfa_token_is_single_use_and_expires_after_five_minutes<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let token = app.mfa_token(&user.email).await;
    assert_eq!(
        app.login_mfa(&token, &app.next_code(&user.secret)).await.status,
        200
    );
    let r = app.login_mfa(&token, &app.next_code(&user.secret)).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid or expired MFA token"));
    let token = app.mfa_token(&user.email).await;
    app.clock.advance_secs(301);
    let r = app.login_mfa(&token, &app.code_now(&user.secret)).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid or expired MFA token"));
    let r = app.login_mfa("never-issued", &app.code_now(&user.secret)).await;
    assert_eq!(r.status, 401);
}

async fn an_mfa_token_is_dead_after_five_wrong_codes<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let token = app.mfa_token(&user.email).await;
    for _ in 0..5 {
        assert_eq!(app.login_mfa(&token, "000000").await.status, 400);
    }
    let r = app.login_mfa(&token, &app.code_now(&user.secret)).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid or expired MFA token"));
}

async fn wrong_codes_back_off_across_mfa_tokens_and_a_right_password_does_not_clear_them<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let user = app.enrolled("john_doe").await;
    let free = app.state.config.login_max_failures;
    for i in 0..free {
        // A fresh mfa_token (a right password) for each wrong code.
        let token = app.mfa_token(&user.email).await;
        assert_eq!(app.login_mfa(&token, "000000").await.status, 400, "attempt {i}");
    }
    // Even the right code (of the next step: the clock stays) waits now.
    let token = app.mfa_token(&user.email).await;
    let r = app
        .login_mfa(&token, &totp_at(&user.secret, app.clock.now() + 30))
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.header("retry-after").is_some());
}

async fn after_a_hundred_wrong_codes_codes_are_refused_until_a_password_reset<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let user = app.enrolled("john_doe").await;
    for i in 0..100 {
        // Past each backoff, with a fresh mfa_token.
        app.clock.advance_secs(86_400);
        let token = app.mfa_token(&user.email).await;
        assert_eq!(app.login_mfa(&token, "000000").await.status, 400, "attempt {i}");
    }
    app.clock.advance_secs(86_400 * 30);
    let token = app.mfa_token(&user.email).await;
    let r = app.login_mfa(&token, &app.code_now(&user.secret)).await;
    assert_eq!(r.status, 429, "a right code is refused too");
    // A reset lets codes through again; it keeps the factor.
    let reset = app.reset_token(&user.email).await;
    assert_eq!(app.reset(&reset, STRONG2).await.status, 200);
    let r = app.login(&user.email, STRONG2).await;
    assert_eq!(r.body["mfa_required"], true, "a reset never removes a factor");
    let token = r.body["mfa_token"].as_str().unwrap();
    assert_eq!(
        app.login_mfa(token, &app.next_code(&user.secret)).await.status,
        200
    );
}

async fn with_a_second_factor_sensitive_changes_need_an_aal2_token<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    app.make_admin(user.id).await;
    // An aal1 token of this account: minted as a password login would be.
    let aal1 = aal1_token(&app, user.id).await;
    assert_eq!(app.me(&aal1).await.status, 200);
    let refused = [
        app.change_password(&aal1, STRONG, STRONG2).await,
        app.change_email(&aal1, "new@example.com", STRONG).await,
        app.delete_me(&aal1, STRONG).await,
        app.start_totp(&aal1).await,
        app.confirm_totp(&aal1, "123456", STRONG).await,
        app.disable_totp(&aal1, STRONG).await,
        app.new_recovery_codes(&aal1, STRONG).await,
        app.get(Endpoint::ListUsers, &aal1).await,
    ];
    for r in refused {
        assert_eq!((r.status, r.detail()), (403, "MFA required"));
    }
    // At aal2 they work.
    let aal2 = access(&app.login_with_code(&user.email, &user.secret).await);
    assert_eq!(app.get(Endpoint::ListUsers, &aal2).await.status, 200);
    assert_eq!(app.new_recovery_codes(&aal2, STRONG).await.status, 200);
}

/// An access token of a new password-only session of user `id` (the login a second factor
/// would have stopped at).
async fn aal1_token(app: &TestApp, id: u64) -> String {
    use authyy::domain::Authentication;
    let user = app.state.users.user_by_id(id).await.unwrap().unwrap();
    let session =
        app.state
            .tokens
            .new_session(id, Default::default(), Authentication::password(app.clock.now()));
    let first = app.state.tokens.new_refresh_token(&session);
    let hash = app
        .state
        .sessions
        .begin_login(
            &authyy::store::LoginAttempt {
                email: &authyy::domain::Email::parse(&user.email).unwrap(),
                network: "192.0.2.9",
                device: None,
                now: app.clock.now(),
            },
            &app.state.config.login_rules(),
        )
        .await
        .unwrap();
    let authyy::store::LoginStart::Reserved {
        credentials: Some(c), ..
    } = hash
    else {
        panic!("reserved")
    };
    let attempt = authyy::store::LoginAttempt {
        email: &authyy::domain::Email::parse(&user.email).unwrap(),
        network: "192.0.2.9",
        device: None,
        now: app.clock.now(),
    };
    let verified = authyy::store::VerifiedLogin {
        attempt: &attempt,
        verified_hash: &c.password_hash,
        trusted_device: false,
        device: "d",
        device_expires_at: app.clock.now() + 60,
    };
    assert!(app
        .state
        .sessions
        .start_session(&verified, &session, &first)
        .await
        .unwrap());
    let issued = app
        .state
        .tokens
        .issue(&app.state.config.issuer, &user, &first, &session.auth)
        .await
        .unwrap();
    issued.access_token
}

async fn turning_totp_off_needs_aal2_and_removes_the_recovery_codes<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let r = app.disable_totp(&user.access(), "wrong password 1").await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    let r = app.disable_totp(&user.access(), STRONG).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        app.me(&user.access()).await.body["mfa"],
        json!({"totp": false, "passkeys": 0, "recovery_codes": 0})
    );
    let r = app.disable_totp(&user.access(), STRONG).await;
    assert_eq!((r.status, r.detail()), (404, "TOTP is not enabled"));
    let r = app.new_recovery_codes(&user.access(), STRONG).await;
    assert_eq!((r.status, r.detail()), (404, "No second factor"));
    // Login asks for the password alone again.
    assert!(app.login(&user.email, STRONG).await.body["tokens"].is_object());
    let mails = app.mails_to(&user.email).await;
    assert!(mails
        .iter()
        .any(|m| m.contains("Two-step sign-in was turned off")));
    // Without a factor an aal1 token may not call the aal2 routes either.
    let aal1 = access(&app.login(&user.email, STRONG).await);
    assert_eq!(app.disable_totp(&aal1, STRONG).await.status, 403);
}

async fn new_recovery_codes_replace_the_old_ones<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let r = app.new_recovery_codes(&user.access(), STRONG).await;
    assert_eq!(r.status, 200);
    let fresh: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fresh.len(), 10);
    let token = app.mfa_token(&user.email).await;
    assert_eq!(
        app.login_recovery(&token, &user.recovery_codes()[0]).await.status,
        400
    );
    assert_eq!(app.login_recovery(&token, &fresh[0]).await.status, 200);
}

async fn a_replaced_totp_keeps_the_recovery_codes_and_the_old_secret_stops_working<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let started = app.start_totp(&user.access()).await;
    assert_eq!(started.status, 200);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let r = app
        .confirm_totp(&user.access(), &app.next_code(&secret), STRONG)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["recovery_codes"], json!([]));
    assert_eq!(app.me(&access(&r)).await.body["mfa"]["recovery_codes"], 10);
    let token = app.mfa_token(&user.email).await;
    assert_eq!(
        app.login_mfa(&token, &app.next_code(&user.secret)).await.status,
        400
    );
    assert_eq!(app.login_mfa(&token, &app.code_now(&secret)).await.status, 200);
}

async fn with_admin_requires_mfa_the_admin_scope_comes_only_at_aal2<B: Backend>() {
    let app = B::app(with(|c| c.admin_requires_mfa = true)).await;
    let (access1, _, id) = app.verified_user("john_doe").await;
    app.make_admin(id).await;
    let aal1 = access(&app.login("john_doe@example.com", STRONG).await);
    assert_eq!(claims_of(&aal1).scope.as_deref(), Some("user"));
    let r = app.get(Endpoint::ListUsers, &aal1).await;
    assert_eq!((r.status, r.detail()), (403, "MFA required"));
    let secret = app.start_totp(&access1).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.confirm_totp(&access1, &app.code_now(&secret), STRONG).await;
    assert_eq!(
        claims_of(&access(&r)).scope.as_deref(),
        Some("user admin aal2 user:aal2 admin:aal2")
    );
    assert_eq!(app.get(Endpoint::ListUsers, &access(&r)).await.status, 200);
}

async fn an_operator_reset_removes_every_factor_and_ends_the_sessions<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    app.clock.advance_ms(1);
    let reset = authyy::admin::reset_mfa(
        app.state.users.as_ref(),
        app.state.mfa.as_ref(),
        &user.email,
        app.clock.now_ms(),
        authyy::admin::OperatorLog {
            audit: app.state.audit.as_ref(),
            retention: app.state.config.audit_retention,
        },
    )
    .await
    .unwrap();
    assert_eq!(reset.id, user.id);
    assert_eq!(app.me(&user.access()).await.status, 401);
    app.clock.advance_ms(1);
    let r = app.login(&user.email, STRONG).await;
    assert!(r.body["tokens"].is_object(), "{:?}", r.body);
    assert_eq!(
        app.me(&access(&r)).await.body["mfa"],
        json!({"totp": false, "passkeys": 0, "recovery_codes": 0})
    );
}

async fn erasing_the_account_forgets_its_factors<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let aal2 = user.access();
    assert_eq!(app.delete_me(&aal2, STRONG).await.status, 204);
    let record = app.state.mfa.second_factors(user.id).await.unwrap();
    assert_eq!(record, Default::default());
}

/// Runs `n` copies of `f` at once and counts the statuses.
async fn concurrently<F, Fut>(n: usize, f: F) -> Vec<u16>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = u16> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

async fn concurrent_uses_of_one_code_sign_in_once<B: Backend>() {
    let app = std::sync::Arc::new(B::app(with(|c| c.ip_limits_enabled = false)).await);
    let user = app.enrolled("john_doe").await;
    let mut tokens = vec![];
    for _ in 0..5 {
        tokens.push(app.mfa_token(&user.email).await);
    }
    let code = app.next_code(&user.secret);
    let statuses = concurrently(5, |i| {
        let (app, token, code) = (app.clone(), tokens[i].clone(), code.clone());
        async move { app.login_mfa(&token, &code).await.status }
    })
    .await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
}

async fn concurrent_uses_of_one_recovery_code_sign_in_once<B: Backend>() {
    let app = std::sync::Arc::new(B::app(with(|c| c.ip_limits_enabled = false)).await);
    let user = app.enrolled("john_doe").await;
    let mut tokens = vec![];
    for _ in 0..5 {
        tokens.push(app.mfa_token(&user.email).await);
    }
    let code = user.recovery_codes()[0].clone();
    let statuses = concurrently(5, |i| {
        let (app, token, code) = (app.clone(), tokens[i].clone(), code.clone());
        async move { app.login_recovery(&token, &code).await.status }
    })
    .await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
}

async fn concurrent_confirmations_turn_totp_on_once<B: Backend>() {
    let app = std::sync::Arc::new(B::app(with(|c| c.ip_limits_enabled = false)).await);
    let (access1, _, _) = app.verified_user("john_doe").await;
    let secret = app.start_totp(&access1).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.code_now(&secret);
    let statuses = concurrently(4, |_| {
        let (app, access1, code) = (app.clone(), access1.clone(), code.clone());
        async move { app.confirm_totp(&access1, &code, STRONG).await.status }
    })
    .await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
}

async fn a_trusted_device_keeps_its_device_token_through_the_code_step_and_a_stranger_gets_a_new_one<
    B: Backend,
>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let first = app.login_with_code(&user.email, &user.secret).await;
    let device = first.body["device_token"].as_str().unwrap().to_string();
    for (presented, kept) in [
        (device.clone(), true),
        ("not-a-device-of-this-account".to_string(), false),
    ] {
        let body = json!({"email": user.email, "password": STRONG, "device_token": presented});
        let token = app.post(Endpoint::Login, body).await.body["mfa_token"]
            .as_str()
            .unwrap()
            .to_string();
        let code = app.next_code(&user.secret);
        let body = json!({"mfa_token": token, "code": code, "device_token": presented});
        let r = app.post(Endpoint::LoginMfa, body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let answered = r.body["device_token"].as_str().unwrap();
        assert_eq!(answered == presented, kept, "{presented}");
    }
    // The trust the code step gave lasts AUTH_LOGIN_DEVICE_TTL, as login's.
    let r = app.login_with_code(&user.email, &user.secret).await;
    let device = r.body["device_token"].as_str().unwrap().to_string();
    app.clock
        .advance_secs(app.state.config.login_device_ttl.as_secs() as i64 + 1);
    let body = json!({"email": user.email, "password": STRONG, "device_token": device});
    let token = app.post(Endpoint::Login, body).await.body["mfa_token"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"mfa_token": token, "code": app.next_code(&user.secret), "device_token": device});
    let r = app.post(Endpoint::LoginMfa, body).await;
    assert_ne!(
        r.body["device_token"].as_str().unwrap(),
        device,
        "an expired trust"
    );
}

async fn a_confirmation_after_the_sessions_were_ended_meanwhile_changes_nothing<B: Backend>() {
    use authyy::store::{ConfirmEnd, TotpConfirmation};
    let app = app::<B>().await;
    let (access1, _, id) = app.verified_user("john_doe").await;
    assert_eq!(app.start_totp(&access1).await.status, 200);
    let record = app.state.mfa.second_factors(id).await.unwrap();
    let pending = record.pending.clone().unwrap();
    let user = app.state.users.user_by_id(id).await.unwrap().unwrap();
    let auth = authyy::domain::Authentication::password_and_code(app.clock.now());
    let session = app.state.tokens.new_session(id, Default::default(), auth);
    let first = app.state.tokens.new_refresh_token(&session);
    // As read before a logout everywhere that came between the check and the write.
    let confirmation = TotpConfirmation {
        user_id: id,
        pending: &pending,
        step: 1,
        recovery_codes: None,
        seen_cutoff_ms: user.sessions_valid_after_ms - 1,
        cut_ms: app.clock.now_ms(),
        session: &session,
        first: &first,
        now: app.clock.now(),
    };
    let end = app.state.mfa.confirm_totp(&confirmation).await.unwrap();
    assert_eq!(end, ConfirmEnd::SessionsEnded);
    // Nothing was written: the enrolment still waits, TOTP is off, the session was not stored.
    assert_eq!(app.state.mfa.second_factors(id).await.unwrap(), record);
    assert_eq!(app.me(&access1).await.body["mfa"]["totp"], false);
}

async fn an_mfa_token_dies_with_the_password_it_was_earned_with<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let token = app.mfa_token(&user.email).await;
    let reset = app.reset_token(&user.email).await;
    assert_eq!(app.reset(&reset, STRONG2).await.status, 200);
    let r = app.login_mfa(&token, &app.next_code(&user.secret)).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid or expired MFA token"));
    // The new password earns a token that works.
    let r = app.login(&user.email, STRONG2).await;
    let token = r.body["mfa_token"].as_str().unwrap();
    assert_eq!(
        app.login_mfa(token, &app.next_code(&user.secret)).await.status,
        200
    );
}

async fn the_second_step_needs_exactly_one_of_code_and_recovery_code<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("john_doe").await;
    let token = app.mfa_token(&user.email).await;
    for body in [
        json!({"mfa_token": token}),
        json!({"mfa_token": token, "code": "123456", "recovery_code": "abcd-efgh-ijkm-npqr"}),
    ] {
        assert_eq!(app.post(Endpoint::LoginMfa, body).await.status, 422);
    }
    let r = app.post(Endpoint::LoginMfa, json!({"code": "123456"})).await;
    assert_422_at(&r, "mfa_token");
}

both_backends!(
    enrolment_answers_a_base32_secret_and_an_otpauth_uri_naming_issuer_and_email,
    confirming_turns_totp_on_with_ten_recovery_codes_and_a_new_aal2_session,
    a_wrong_code_or_no_enrolment_does_not_turn_totp_on,
    an_unverified_address_cannot_add_a_factor,
    login_of_an_account_with_totp_asks_for_a_code_and_gives_no_tokens,
    the_code_step_answers_tokens_whose_amr_and_aal_survive_a_refresh,
    a_password_login_is_aal1_with_amr_pwd,
    a_code_is_accepted_once,
    a_code_one_step_either_side_is_accepted_and_two_steps_off_is_not,
    a_recovery_code_signs_in_once_as_pwd_mfa_and_the_address_is_told,
    an_mfa_token_is_single_use_and_expires_after_five_minutes,
    an_mfa_token_is_dead_after_five_wrong_codes,
    wrong_codes_back_off_across_mfa_tokens_and_a_right_password_does_not_clear_them,
    after_a_hundred_wrong_codes_codes_are_refused_until_a_password_reset,
    with_a_second_factor_sensitive_changes_need_an_aal2_token,
    turning_totp_off_needs_aal2_and_removes_the_recovery_codes,
    new_recovery_codes_replace_the_old_ones,
    a_replaced_totp_keeps_the_recovery_codes_and_the_old_secret_stops_working,
    with_admin_requires_mfa_the_admin_scope_comes_only_at_aal2,
    an_operator_reset_removes_every_factor_and_ends_the_sessions,
    erasing_the_account_forgets_its_factors,
    concurrent_uses_of_one_code_sign_in_once,
    concurrent_uses_of_one_recovery_code_sign_in_once,
    concurrent_confirmations_turn_totp_on_once,
    the_second_step_needs_exactly_one_of_code_and_recovery_code,
    a_trusted_device_keeps_its_device_token_through_the_code_step_and_a_stranger_gets_a_new_one,
    confirming_in_the_millisecond_of_a_password_change_still_ends_the_callers_session,
    a_confirmation_after_the_sessions_were_ended_meanwhile_changes_nothing,
    an_mfa_token_dies_with_the_password_it_was_earned_with,
);
