//! Passkeys in use: usernameless sign-in and the refusal of each rule of an assertion, passkeys
//! as a second factor beside a password and TOTP, and removal (by the owner, an operator reset or
//! erasure). Credentials come from the software authenticator of `authenticator.py`.

use crate::helpers::*;

async fn signing_in_with_a_passkey_answers_tokens_at_aal2_with_hwk_or_swk<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.verified_user("john_doe").await;
    let mut key = app.add_passkey(&access1).await;
    let r = app.sign_in_with_passkey(&mut key).await;
    assert_eq!(r.body["user"]["id"], id);
    assert!(r.body["device_token"].is_string());
    let claims = claims_of(&access(&r));
    assert_eq!(claims.amr.unwrap(), ["hwk", "mfa"]);
    assert_eq!(claims.aal.as_deref(), Some("aal2"));
    assert_eq!(claims.scope.as_deref(), Some("user aal2 user:aal2"));
    // Kept across a refresh.
    let refreshed = app.refresh(&refresh(&r)).await;
    assert_eq!(claims_of(&access(&refreshed)).amr.unwrap(), ["hwk", "mfa"]);
    // A synced (backup-eligible) passkey says swk; its counter stays 0.
    let aal2 = access(&r);
    let options = app.passkey_options(&aal2).await;
    let made = authenticator(
        "create",
        &creating(&options.body["publicKey"], json!({"flags": 0x4d})),
    );
    let challenge_id = options.body["challenge_id"].as_str().unwrap();
    assert_eq!(
        app.register_passkey(&aal2, challenge_id, &made["credential"])
            .await
            .status,
        201
    );
    for _ in 0..2 {
        let r = app
            .sign_in_with(&made["key"], json!({"flags": 0x0d, "sign_count": 0}))
            .await;
        assert_eq!(r.status, 200, "a zero counter may stay zero: {:?}", r.body);
        assert_eq!(claims_of(&access(&r)).amr.unwrap(), ["swk", "mfa"]);
    }
}

async fn a_passkey_makes_password_login_ask_for_a_second_factor<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let (r, _) = app.add_passkey_with(&access1, json!({})).await;
    let codes = r.body["recovery_codes"].clone();
    let r = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(r.body["mfa_required"], true, "{:?}", r.body);
    assert_eq!(r.body["methods"], json!(["recovery_code", "passkey"]));
    // A recovery code completes it too.
    let token = r.body["mfa_token"].as_str().unwrap();
    let r = app.login_recovery(token, codes[0].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn passkey_sign_in_is_refused_for_each_broken_rule<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let (access2, _, _) = app.verified_user("jane_doe").await;
    let mut key = app.add_passkey(&access1).await;
    let other = app.add_passkey(&access2).await;
    app.sign_in_with_passkey(&mut key).await;
    let mut unknown = key.clone();
    unknown["credential_id"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let cases = [
        ("an unknown credential", unknown, json!({})),
        (
            "another origin",
            key.clone(),
            json!({"origin": "http://localhost:3001"}),
        ),
        ("another rp id", key.clone(), json!({"rp_id": "example.com"})),
        ("a tampered signature", key.clone(), json!({"tamper": true})),
        ("no user verification", key.clone(), json!({"flags": 0x01})),
        ("no user presence", key.clone(), json!({"flags": 0x04})),
        (
            "another challenge",
            key.clone(),
            json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        ),
        (
            "a registration's client data",
            key.clone(),
            json!({"type": "webauthn.create"}),
        ),
        (
            "another user's handle",
            key.clone(),
            json!({"user_handle": other["user_handle"]}),
        ),
        ("no user handle", key.clone(), json!({"user_handle": null})),
        (
            "a counter that did not increase",
            key.clone(),
            json!({"sign_count": 0}),
        ),
    ];
    for (case, key, changes) in cases {
        let r = app.sign_in_with(&key, changes).await;
        assert_eq!((r.status, r.detail()), (401, "Invalid passkey"), "{case}");
    }
    // The passkey itself still works.
    app.sign_in_with_passkey(&mut key).await;
}

async fn a_counter_that_goes_backwards_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let mut key = app.add_passkey(&access1).await;
    app.sign_in_with_passkey(&mut key).await;
    app.sign_in_with_passkey(&mut key).await;
    // A clone still at an older count.
    let r = app.sign_in_with(&key, json!({"sign_count": 0})).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = app.sign_in_with(&key, json!({"sign_count": 1})).await;
    assert_eq!(r.status, 401, "the same count again: {:?}", r.body);
}

async fn a_sign_in_challenge_works_once_for_five_minutes<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let mut key = app.add_passkey(&access1).await;
    let options = app.passkey_login_options().await.body;
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let id = options["challenge_id"].as_str().unwrap();
    let made = authenticator("get", &getting(&options["publicKey"], &key, json!({})));
    assert_eq!(app.passkey_login(id, &made["credential"]).await.status, 200);
    key["sign_count"] = json!(1);
    let again = authenticator("get", &getting(&options["publicKey"], &key, json!({})));
    assert_eq!(
        app.passkey_login(id, &again["credential"]).await.status,
        401,
        "spent"
    );
    let options = app.passkey_login_options().await.body;
    app.clock.advance_secs(301);
    let made = authenticator("get", &getting(&options["publicKey"], &key, json!({})));
    let r = app
        .passkey_login(options["challenge_id"].as_str().unwrap(), &made["credential"])
        .await;
    assert_eq!(r.status, 401, "stale");
}

async fn concurrent_uses_of_one_challenge_end_once<B: Backend>() {
    let app = std::sync::Arc::new(app::<B>().await);
    let (access1, _, _) = app.verified_user("john_doe").await;
    let key = app.add_passkey(&access1).await;
    let options = app.passkey_login_options().await.body;
    let id = options["challenge_id"].as_str().unwrap().to_string();
    // Distinct assertions (each a higher count) for the one challenge, sent at once.
    let tasks: Vec<_> = (1..=4)
        .map(|n| {
            let mut k = key.clone();
            k["sign_count"] = json!(n);
            let made = authenticator("get", &getting(&options["publicKey"], &k, json!({})));
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move { app.passkey_login(&id, &made["credential"]).await.status })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401), "{statuses:?}");
}

async fn another_user_cannot_delete_a_passkey_and_aal1_is_refused_first<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let (access2, _, _) = app.verified_user("jane_doe").await;
    let key = app.add_passkey(&access1).await;
    let mut other = app.add_passkey(&access2).await;
    let id = key["credential_id"].as_str().unwrap();
    let r = app.delete_passkey(&access2, id).await;
    assert_eq!(
        (r.status, r.detail()),
        (403, "MFA required"),
        "aal1 comes before any lookup"
    );
    let jane_aal2 = access(&app.sign_in_with_passkey(&mut other).await);
    let r = app.delete_passkey(&jane_aal2, id).await;
    assert_eq!((r.status, r.detail()), (404, "Passkey not found"));
    let r = app.delete_passkey(&jane_aal2, "not*an*id").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.list_passkeys(&access1).await.body.as_array().unwrap().len(),
        1
    );
}

async fn removing_the_last_passkey_removes_the_recovery_codes_and_it_no_longer_signs_in<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let mut key = app.add_passkey(&access1).await;
    let aal2 = access(&app.sign_in_with_passkey(&mut key).await);
    let r = app
        .delete_passkey(&aal2, key["credential_id"].as_str().unwrap())
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let me = app.me(&aal2).await;
    assert_eq!(
        me.body["mfa"],
        json!({"totp": false, "passkeys": 0, "recovery_codes": 0})
    );
    assert_eq!(app.sign_in_with(&key, json!({})).await.status, 401);
    let r = app.login("john_doe@example.com", STRONG).await;
    assert!(
        r.body["tokens"].is_object(),
        "the password alone again: {:?}",
        r.body
    );
    let mails = app.mails_to("john_doe@example.com").await;
    assert!(mails.iter().any(|m| m.contains("A passkey was removed")));
}

async fn a_passkey_kept_beside_totp_keeps_the_codes_when_totp_goes<B: Backend>() {
    let app = app::<B>().await;
    let enrolled = app.enrolled("john_doe").await;
    let key = app.add_passkey(&enrolled.access()).await;
    let r = app.disable_totp(&enrolled.access(), STRONG).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let me = app.me(&enrolled.access()).await;
    assert_eq!(
        me.body["mfa"],
        json!({"totp": false, "passkeys": 1, "recovery_codes": 10})
    );
    assert_eq!(
        app.login(&enrolled.email, STRONG).await.body["methods"],
        json!(["recovery_code", "passkey"])
    );
    assert!(key.is_object());
}

async fn a_disabled_account_or_an_unverified_one_where_required_cannot_sign_in_with_a_passkey<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.verified_user("john_doe").await;
    let key = app.add_passkey(&access1).await;
    assert!(app
        .state
        .users
        .set_disabled(id, true, app.clock.now_ms())
        .await
        .unwrap());
    assert_eq!(app.sign_in_with(&key, json!({})).await.status, 401);
}

async fn erasing_the_account_removes_its_passkeys<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let mut key = app.add_passkey(&access1).await;
    let aal2 = access(&app.sign_in_with_passkey(&mut key).await);
    assert_eq!(app.delete_me(&aal2, STRONG).await.status, 204);
    assert_eq!(app.sign_in_with(&key, json!({})).await.status, 401);
    // The credential id is free again.
    let (access2, _, _) = app.verified_user("jane_doe").await;
    let (r, _) = app
        .add_passkey_with(&access2, json!({"credential_id": key["credential_id"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn an_operator_reset_removes_passkeys<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.verified_user("john_doe").await;
    let key = app.add_passkey(&access1).await;
    assert!(app
        .state
        .mfa
        .reset_second_factors(id, app.clock.now_ms())
        .await
        .unwrap());
    app.clock.advance_ms(1);
    assert_eq!(app.sign_in_with(&key, json!({})).await.status, 401);
    let r = app.login("john_doe@example.com", STRONG).await;
    assert!(r.body["tokens"].is_object(), "{:?}", r.body);
    assert_eq!(app.list_passkeys(&access(&r)).await.body, json!([]));
}

async fn an_operator_reset_removes_the_factors_even_when_the_cut_off_is_already_later<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.verified_user("john_doe").await;
    let key = app.add_passkey(&access1).await;
    // The first passkey cut the sessions off at about now: a reset stamped earlier (another
    // machine's clock) keeps that cut-off and still removes every factor.
    let earlier = app.clock.now_ms() - 60_000;
    assert!(app.state.mfa.reset_second_factors(id, earlier).await.unwrap());
    assert!(!app.state.mfa.second_factors(id).await.unwrap().factors().any());
    assert_eq!(app.sign_in_with(&key, json!({})).await.status, 401);
}

async fn the_option_routes_are_limited_per_client_address<B: Backend>() {
    let app = B::app(with(|c| {
        c.passkey_options_limit = Limit {
            max: 2,
            window_secs: 60,
        }
    }))
    .await;
    for _ in 0..2 {
        assert_eq!(app.passkey_login_options().await.status, 200);
    }
    let r = app.passkey_login_options().await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
}

both_backends!(
    signing_in_with_a_passkey_answers_tokens_at_aal2_with_hwk_or_swk,
    a_passkey_makes_password_login_ask_for_a_second_factor,
    passkey_sign_in_is_refused_for_each_broken_rule,
    a_counter_that_goes_backwards_is_refused,
    a_sign_in_challenge_works_once_for_five_minutes,
    concurrent_uses_of_one_challenge_end_once,
    another_user_cannot_delete_a_passkey_and_aal1_is_refused_first,
    removing_the_last_passkey_removes_the_recovery_codes_and_it_no_longer_signs_in,
    a_passkey_kept_beside_totp_keeps_the_codes_when_totp_goes,
    a_disabled_account_or_an_unverified_one_where_required_cannot_sign_in_with_a_passkey,
    erasing_the_account_removes_its_passkeys,
    an_operator_reset_removes_passkeys,
    an_operator_reset_removes_the_factors_even_when_the_cut_off_is_already_later,
    the_option_routes_are_limited_per_client_address,
);
