//! Passkey registration: the creation options, the first passkey as the account's first second
//! factor, and the refusal of each WebAuthn and attestation rule. Credentials come from a software
//! authenticator written apart from authyy (`authenticator.py`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::helpers::*;

async fn creation_options_ask_for_a_verified_resident_key_and_exclude_the_accounts_passkeys<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let r = app.passkey_options(&access1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let options = &r.body["publicKey"];
    assert_eq!(options["rp"], json!({"id": "localhost", "name": "authyy"}));
    assert_eq!(options["user"]["name"], "john_doe@example.com");
    assert_eq!(options["user"]["displayName"], "john_doe");
    let handle = options["user"]["id"].as_str().unwrap();
    assert_eq!(handle.len(), 43, "32 random bytes, base64url");
    assert!(!handle.contains("john"));
    assert_eq!(
        options["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}])
    );
    assert_eq!(
        options["authenticatorSelection"],
        json!({"residentKey": "required", "requireResidentKey": true, "userVerification": "required"})
    );
    assert_eq!(options["excludeCredentials"], json!([]));
    assert_eq!(options["challenge"].as_str().unwrap().len(), 43);
    // A registered passkey is excluded, and the handle stays the same.
    let key = app.add_passkey(&access1).await;
    let r = app.passkey_options(&access1).await;
    assert_eq!(r.status, 403, "the account now has a second factor: aal2 needed");
    let mut key = key;
    let signed_in = app.sign_in_with_passkey(&mut key).await;
    let r = app.passkey_options(&access(&signed_in)).await;
    assert_eq!(r.body["publicKey"]["user"]["id"], handle);
    assert_eq!(
        r.body["publicKey"]["excludeCredentials"],
        json!([{"type": "public-key", "id": key["credential_id"], "transports": ["hybrid", "internal"]}])
    );
}

async fn the_first_passkey_brings_recovery_codes_and_ends_every_other_session<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.verified_user("john_doe").await;
    let other = app.login("john_doe@example.com", STRONG).await;
    let (r, _) = app.add_passkey_with(&access1, json!({})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["name"], "Passkey");
    assert!(r.body["last_used_at"].is_null());
    assert_eq!(r.body["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(app.me(&access(&other)).await.status, 401, "other sessions ended");
    let me = app.me(&access1).await;
    assert_eq!(me.status, 200, "the caller's session lives on");
    assert_eq!(
        me.body["mfa"],
        json!({"totp": false, "passkeys": 1, "recovery_codes": 10})
    );
    assert_eq!(app.refresh(&refresh1).await.status, 200);
    let mails = app.mails_to("john_doe@example.com").await;
    assert!(mails.iter().any(|m| m.contains("A passkey was added")));
}

async fn a_second_passkey_brings_no_new_codes_and_is_listed_by_its_name<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let mut key = app.add_passkey(&access1).await;
    let aal2 = access(&app.sign_in_with_passkey(&mut key).await);
    // (Listed oldest first: a second later.)
    app.clock.advance_secs(1);
    let options = app.passkey_options(&aal2).await;
    let made = authenticator(
        "create",
        &creating(&options.body["publicKey"], json!({"alg": -257})),
    );
    let body = json!({"challenge_id": options.body["challenge_id"], "credential": made["credential"],
        "name": "  YubiKey 5  ", "password": STRONG});
    let r = app.with_body_of(Endpoint::RegisterPasskey, body, &aal2).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body.get("recovery_codes").is_none());
    let list = app.list_passkeys(&aal2).await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Passkey", "YubiKey 5"]);
    assert!(list.body[0]["last_used_at"].is_string(), "the first signed in");
    // The RS256 one signs in too.
    let mut rsa = made["key"].clone();
    app.sign_in_with_passkey(&mut rsa).await;
}

async fn registration_is_refused_for_each_broken_rule<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let cases = [
        ("another origin", json!({"origin": "http://localhost:3001"})),
        (
            "an origin on another scheme",
            json!({"origin": "https://localhost:3000"}),
        ),
        ("another rp id", json!({"rp_id": "example.com"})),
        ("no user verification", json!({"flags": 0x41})),
        ("no user presence", json!({"flags": 0x44})),
        (
            "another challenge",
            json!({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        ),
        ("a sign-in's client data", json!({"type": "webauthn.get"})),
        ("a cross-origin frame", json!({"cross_origin": true})),
        (
            "a tampered self attestation",
            json!({"fmt": "packed", "tamper": true}),
        ),
        (
            "a full attestation of a CA",
            json!({"fmt": "packed-full", "cert_ca": true}),
        ),
        (
            "a full attestation certificate of another unit",
            json!({"fmt": "packed-full", "cert_unit": "Other"}),
        ),
    ];
    app.refuses_each_registration(&access1, cases.into()).await;
}

async fn an_attestation_statement_is_refused_for_each_broken_rule<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let full = |changes: Value| {
        let mut c = json!({"fmt": "packed-full"});
        c.as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        c
    };
    let cases = [
        (
            "a none statement that is not empty",
            json!({"fmt": "none", "none_statement": {"alg": -7}}),
        ),
        ("a format not offered", json!({"fmt": "tpm"})),
        (
            "a self attestation naming another algorithm",
            json!({"fmt": "packed", "statement_alg": -257}),
        ),
        (
            "a tampered self attestation",
            json!({"fmt": "packed", "tamper": true}),
        ),
        ("a tampered full attestation", full(json!({"tamper": true}))),
        ("a certificate of a CA", full(json!({"cert_ca": true}))),
        (
            "a certificate with no basic constraints",
            full(json!({"cert_basic_constraints": false})),
        ),
        (
            "a certificate of another unit",
            full(json!({"cert_unit": "Other"})),
        ),
        (
            "a certificate with no unit",
            full(json!({"cert_names": ["C", "O", "CN"]})),
        ),
        (
            "a certificate with no common name",
            full(json!({"cert_names": ["C", "O", "OU"]})),
        ),
        (
            "a certificate with no country",
            full(json!({"cert_names": ["O", "OU", "CN"]})),
        ),
        (
            "a certificate of another AAGUID",
            full(json!({"cert_aaguid": "11".repeat(16)})),
        ),
        (
            "a critical AAGUID extension",
            full(json!({"cert_aaguid_critical": true})),
        ),
        (
            "an RSA certificate claiming ES256",
            full(json!({"cert_key": "rsa", "statement_alg": -7})),
        ),
        (
            "a P-384 certificate claiming ES256",
            full(json!({"cert_key": "p384"})),
        ),
    ];
    app.refuses_each_registration(&access1, cases.into()).await;
}

async fn packed_attestations_that_hold_are_accepted<B: Backend>() {
    let app = app::<B>().await;
    // Each on an account of its own: a second passkey would need aal2.
    for (n, changes) in [
        json!({"fmt": "packed"}),
        json!({"fmt": "packed", "alg": -257}),
        json!({"fmt": "packed-full"}),
        json!({"fmt": "packed-full", "cert_key": "rsa"}),
    ]
    .into_iter()
    .enumerate()
    {
        let (access1, _, _) = app.verified_user(&format!("user_{n}")).await;
        let (r, mut made) = app.add_passkey_with(&access1, changes.clone()).await;
        assert_eq!(r.status, 201, "{changes}: {:?}", r.body);
        app.sign_in_with_passkey(&mut made.key).await;
    }
}

async fn a_registration_challenge_works_once_for_five_minutes_and_for_its_user_only<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let (access2, _, _) = app.verified_user("jane_doe").await;
    let create = |options: &Value| authenticator("create", &creating(&options["publicKey"], json!({})));
    // Stale.
    let options = app.passkey_options(&access1).await.body;
    app.clock.advance_secs(301);
    let r = app
        .register_passkey(
            &access1,
            options["challenge_id"].as_str().unwrap(),
            &create(&options)["credential"],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // Another user's.
    let options = app.passkey_options(&access1).await.body;
    let r = app
        .register_passkey(
            &access2,
            options["challenge_id"].as_str().unwrap(),
            &create(&options)["credential"],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // ...which that attempt spent, though it was not its owner's.
    let r = app
        .register_passkey(
            &access1,
            options["challenge_id"].as_str().unwrap(),
            &create(&options)["credential"],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // A sign-in challenge.
    let login = app.passkey_login_options().await.body;
    let mut borrowed = app.passkey_options(&access1).await.body;
    borrowed["publicKey"]["challenge"] = login["publicKey"]["challenge"].clone();
    let r = app
        .register_passkey(
            &access1,
            login["challenge_id"].as_str().unwrap(),
            &create(&borrowed)["credential"],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // A failed attempt spends it: the same challenge again is refused.
    let options = app.passkey_options(&access1).await.body;
    let id = options["challenge_id"].as_str().unwrap();
    let bad = authenticator(
        "create",
        &creating(&options["publicKey"], json!({"origin": "http://evil.test"})),
    );
    assert_eq!(
        app.register_passkey(&access1, id, &bad["credential"])
            .await
            .status,
        400
    );
    assert_eq!(
        app.register_passkey(&access1, id, &create(&options)["credential"])
            .await
            .status,
        400
    );
    assert_eq!(app.list_passkeys(&access1).await.body, json!([]));
}

async fn a_credential_id_is_registered_once_across_accounts<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let (access2, _, _) = app.verified_user("jane_doe").await;
    let key = app.add_passkey(&access1).await;
    let (r, _) = app
        .add_passkey_with(&access2, json!({"credential_id": key["credential_id"]}))
        .await;
    assert_eq!((r.status, r.detail()), (400, "Invalid passkey registration"));
    assert_eq!(app.list_passkeys(&access2).await.body, json!([]));
}

async fn a_credential_id_of_the_longest_length_registers_signs_in_and_is_removed<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    // 1,023 bytes: the most WebAuthn allows, 1,364 characters of base64url.
    let long_id = URL_SAFE_NO_PAD.encode([7u8; 1023]);
    let (r, mut made) = app
        .add_passkey_with(&access1, json!({"credential_id": long_id}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let aal2 = access(&app.sign_in_with_passkey(&mut made.key).await);
    let listed = app.list_passkeys(&aal2).await.body;
    assert_eq!(listed[0]["id"], json!(long_id));
    assert_eq!(app.delete_passkey(&aal2, &long_id).await.status, 204);
    assert_eq!(app.list_passkeys(&aal2).await.body, json!([]));
    // An id longer still names no passkey: 404, whatever the store's key limits.
    let longer = "A".repeat(1400);
    assert_eq!(app.delete_passkey(&aal2, &longer).await.status, 404);
}

async fn registering_needs_a_verified_address_the_password_and_aal2_with_a_factor<B: Backend>() {
    let app = app::<B>().await;
    let (unverified, _, _) = app.user("john_doe").await;
    let r = app.passkey_options(&unverified).await;
    assert_eq!((r.status, r.detail()), (403, "Email not verified"));
    let (access1, _, _) = app.verified_user("jane_doe").await;
    let options = app.passkey_options(&access1).await.body;
    let made = authenticator("create", &creating(&options["publicKey"], json!({})));
    let body = json!({"challenge_id": options["challenge_id"], "credential": made["credential"], "password": "wrong password 1"});
    let r = app.with_body_of(Endpoint::RegisterPasskey, body, &access1).await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    // With TOTP on, an aal1 session may not add one.
    let enrolled = app.enrolled("jim_doe").await;
    let password_only = app.login(&enrolled.email, STRONG).await;
    assert_eq!(password_only.body["mfa_required"], true);
    let r = app.login_with_code(&enrolled.email, &enrolled.secret).await;
    let (r2, _) = app.add_passkey_with(&access(&r), json!({})).await;
    assert_eq!(r2.status, 201, "{:?}", r2.body);
    assert!(
        r2.body.get("recovery_codes").is_none(),
        "TOTP brought them already"
    );
}

async fn a_credential_of_another_shape_is_422_and_unreadable_contents_are_a_refusal<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.verified_user("john_doe").await;
    let options = app.passkey_options(&access1).await.body;
    let made = authenticator("create", &creating(&options["publicKey"], json!({})));
    let id = options["challenge_id"].clone();
    let register = |credential: Value, name: Value| json!({"challenge_id": id, "credential": credential, "name": name, "password": STRONG});
    let mut wrong_type = made["credential"].clone();
    wrong_type["type"] = json!("password");
    let mut no_response = made["credential"].clone();
    no_response.as_object_mut().unwrap().remove("response");
    for (case, credential, name) in [
        ("another type", wrong_type, json!("x")),
        ("no response", no_response, json!("x")),
        ("not an object", json!("credential"), json!("x")),
        (
            "a name over 64 characters",
            made["credential"].clone(),
            json!("n".repeat(65)),
        ),
        (
            "a name with a control character",
            made["credential"].clone(),
            json!("a\u{7}b"),
        ),
    ] {
        let r = app
            .with_body_of(Endpoint::RegisterPasskey, register(credential, name), &access1)
            .await;
        assert_eq!(r.status, 422, "{case}: {:?}", r.body);
    }
    // Not base64url, or an id that is not the rawId: the credential is refused, not malformed.
    let mut not_base64 = made["credential"].clone();
    not_base64["rawId"] = json!("not base64!");
    not_base64["id"] = json!("not base64!");
    let r = app
        .with_body_of(
            Endpoint::RegisterPasskey,
            register(not_base64, json!("x")),
            &access1,
        )
        .await;
    assert_eq!((r.status, r.detail()), (400, "Invalid passkey registration"));
    // A name of spaces is no name; unknown transports are not kept.
    let options = app.passkey_options(&access1).await.body;
    let mut made = authenticator("create", &creating(&options["publicKey"], json!({})));
    made["credential"]["response"]["transports"] = json!(["internal", "carrier-pigeon", "internal"]);
    let body = json!({"challenge_id": options["challenge_id"], "credential": made["credential"], "name": "   ", "password": STRONG});
    let r = app.with_body_of(Endpoint::RegisterPasskey, body, &access1).await;
    assert_eq!(
        (r.status, &r.body["name"]),
        (201, &json!("Passkey")),
        "{:?}",
        r.body
    );
    app.clock.advance_ms(2); // past the first factor's cut-off
    let mut key = made["key"].clone();
    let aal2 = access(&app.sign_in_with_passkey(&mut key).await);
    let options = app.passkey_options(&aal2).await.body;
    assert_eq!(
        options["publicKey"]["excludeCredentials"][0]["transports"],
        json!(["internal"])
    );
}

both_backends!(
    creation_options_ask_for_a_verified_resident_key_and_exclude_the_accounts_passkeys,
    the_first_passkey_brings_recovery_codes_and_ends_every_other_session,
    a_second_passkey_brings_no_new_codes_and_is_listed_by_its_name,
    registration_is_refused_for_each_broken_rule,
    an_attestation_statement_is_refused_for_each_broken_rule,
    packed_attestations_that_hold_are_accepted,
    a_registration_challenge_works_once_for_five_minutes_and_for_its_user_only,
    a_credential_id_is_registered_once_across_accounts,
    a_credential_id_of_the_longest_length_registers_signs_in_and_is_removed,
    registering_needs_a_verified_address_the_password_and_aal2_with_a_factor,
    a_credential_of_another_shape_is_422_and_unreadable_contents_are_a_refusal,
);
