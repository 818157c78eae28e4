//! The admin API for one user: read it, change its role, `disabled`, `email_verified` and
//! `app_metadata`, erase it, end its sessions; and who may.

use crate::helpers::*;

async fn every_admin_route_needs_a_token<B: Backend>() {
    let app = app::<B>().await;
    for (endpoint, r) in app.every_admin_route("not-a-token", 1).await {
        assert_eq!(r.status, 401, "{endpoint:?}");
    }
}

async fn every_admin_route_refuses_a_user_who_is_not_an_admin<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("john_doe").await;
    let (_, other) = app.admin("root").await;
    for target in [id, other] {
        for (endpoint, r) in app.every_admin_route(&access, target).await {
            assert_eq!(
                (r.status, r.detail()),
                (403, "Admin privileges required"),
                "{endpoint:?}"
            );
        }
    }
    assert_eq!(
        app.admin_get(&access, 999).await.status,
        403,
        "refused before any lookup"
    );
}

async fn with_admin_requires_mfa_an_aal1_admin_is_refused_before_any_lookup<B: Backend>() {
    let app = B::app(with(|c| c.admin_requires_mfa = true)).await;
    let (access, _) = app.admin("root").await;
    let (_, _, id) = app.user("john_doe").await;
    for target in [id, 999] {
        for (endpoint, r) in app.every_admin_route(&access, target).await {
            assert_eq!((r.status, r.detail()), (403, "MFA required"), "{endpoint:?}");
        }
    }
}

async fn an_admin_with_a_second_factor_is_served_in_a_session_that_used_it<B: Backend>() {
    let app = app::<B>().await;
    let admin = app.enrolled("root").await;
    app.make_admin(admin.id).await;
    let (_, _, id) = app.user("john_doe").await;
    let aal2 = access(&app.login_with_code(&admin.email, &admin.secret).await);
    assert_eq!(app.admin_get(&aal2, id).await.status, 200);
}

async fn an_unknown_user_is_404_on_every_admin_route<B: Backend>() {
    let app = app::<B>().await;
    let (access, _) = app.admin("root").await;
    for target in ["999", "abc", "+1", "1x"] {
        for (endpoint, r) in app.every_admin_route(&access, target).await {
            assert_eq!(
                (r.status, r.detail()),
                (404, "User not found"),
                "{endpoint:?} {target}"
            );
        }
    }
}

async fn get_shows_the_role_status_metadata_factors_and_identities<B: Backend>() {
    let app = app::<B>().await;
    let (access, _) = app.admin("root").await;
    let user = app.enrolled("john_doe").await;
    let r = app.admin_get(&access, user.id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["id"], user.id);
    assert_eq!(r.body["username"], "john_doe");
    assert_eq!(r.body["email"], "john_doe@example.com");
    assert_eq!(r.body["role"], "user");
    assert_eq!(r.body["disabled"], false);
    assert_eq!(r.body["email_verified"], true);
    assert_eq!(r.body["app_metadata"], json!({}));
    assert_eq!(
        r.body["mfa"],
        json!({"totp": true, "passkeys": 0, "recovery_codes": 10})
    );
    assert_eq!(r.body["identities"], json!([]));
    assert!(r.body.get("password_hash").is_none());
}

async fn metadata_set_by_an_admin_shows_in_me_and_in_the_next_access_token<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    assert!(
        claims_of(&access1).app_metadata.is_none(),
        "empty metadata is no claim"
    );
    let metadata = json!({"plan": "pro", "tenant": "acme", "roles": ["billing"]});
    let r = app
        .admin_patch(&admin, id, json!({"app_metadata": metadata}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["app_metadata"], metadata);
    assert_eq!(app.me(&access1).await.body["app_metadata"], metadata);
    let refreshed = app.refresh(&refresh1).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    let claims = claims_of(&access(&refreshed));
    assert_eq!(Value::Object(claims.app_metadata.unwrap()), metadata);
    let login = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(
        Value::Object(claims_of(&access(&login)).app_metadata.unwrap()),
        metadata
    );
    // `{}` clears it, and the claim goes with it.
    let r = app.admin_patch(&admin, id, json!({"app_metadata": {}})).await;
    assert_eq!(r.body["app_metadata"], json!({}));
    let login = app.login("john_doe@example.com", STRONG).await;
    assert!(claims_of(&access(&login)).app_metadata.is_none());
}

async fn metadata_must_be_an_object_of_at_most_2_kib<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (_, _, id) = app.user("john_doe").await;
    // {"k":"..."} is 8 bytes around the value.
    let at_limit = json!({"k": "x".repeat(2048 - 8)});
    let r = app
        .admin_patch(&admin, id, json!({"app_metadata": at_limit}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let over = json!({"k": "x".repeat(2048 - 7)});
    for refused in [over, json!([1]), json!("pro"), json!(null), json!(7)] {
        let r = app
            .admin_patch(&admin, id, json!({"app_metadata": refused}))
            .await;
        assert_422_at(&r, "app_metadata");
    }
    assert_eq!(
        app.admin_get(&admin, id).await.body["app_metadata"],
        at_limit,
        "nothing changed"
    );
}

async fn a_patch_with_a_wrong_field_changes_nothing<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (_, _, id) = app.user("john_doe").await;
    for (field, value) in [
        ("role", json!("root")),
        ("role", json!(1)),
        ("disabled", json!("yes")),
        ("email_verified", json!(null)),
    ] {
        let body = json!({field: value, "app_metadata": {"plan": "pro"}});
        let r = app.admin_patch(&admin, id, body).await;
        assert_422_at(&r, field);
    }
    let r = app.admin_get(&admin, id).await;
    assert_eq!(
        (r.body["role"].clone(), r.body["app_metadata"].clone()),
        (json!("user"), json!({}))
    );
}

async fn disabling_ends_every_session_at_once_and_enabling_lets_the_user_back_in<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    app.clock.advance_ms(1);
    let r = app.admin_patch(&admin, id, json!({"disabled": true})).await;
    assert_eq!(
        (r.status, r.body["disabled"].clone()),
        (200, json!(true)),
        "{:?}",
        r.body
    );
    assert_eq!(app.me(&access1).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 401);
    let r = app.admin_patch(&admin, id, json!({"disabled": false})).await;
    assert_eq!(r.body["disabled"], false);
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 200);
    assert_eq!(app.me(&access1).await.status, 401, "ended sessions stay ended");
}

async fn demoting_an_admin_ends_its_sessions_and_promoting_does_not<B: Backend>() {
    let app = app::<B>().await;
    let (root, _) = app.admin("root").await;
    let (other, _, id) = app.user("jane").await;
    app.clock.advance_ms(1);
    let r = app.admin_patch(&root, id, json!({"role": "admin"})).await;
    assert_eq!(r.body["role"], "admin", "{:?}", r.body);
    assert_eq!(app.me(&other).await.status, 200, "promoting ends nothing");
    assert_eq!(
        app.get(Endpoint::ListUsers, &other).await.status,
        200,
        "the stored role counts"
    );
    app.clock.advance_ms(1);
    let r = app.admin_patch(&root, id, json!({"role": "user"})).await;
    assert_eq!(r.body["role"], "user");
    assert_eq!(app.me(&other).await.status, 401, "demoting ends the sessions");
    app.clock.advance_ms(1);
    let again = access(&app.login("jane@example.com", STRONG).await);
    assert_eq!(app.get(Endpoint::ListUsers, &again).await.status, 403);
}

async fn an_admin_cannot_change_their_own_role_or_status_or_erase_themselves<B: Backend>() {
    let app = app::<B>().await;
    let (access, id) = app.admin("root").await;
    for change in [json!({"role": "user"}), json!({"disabled": true})] {
        let r = app.admin_patch(&access, id, change.clone()).await;
        assert_eq!(
            (r.status, r.detail()),
            (409, "Cannot change your own account here"),
            "{change}"
        );
    }
    let r = app.admin_delete(&access, id).await;
    assert_eq!(
        (r.status, r.detail()),
        (409, "Cannot change your own account here")
    );
    // What would change nothing, and their own metadata, are theirs to set.
    let same = json!({"role": "admin", "disabled": false, "app_metadata": {"team": "ops"}});
    let r = app.admin_patch(&access, id, same).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["role"].clone(), r.body["app_metadata"].clone()),
        (json!("admin"), json!({"team": "ops"}))
    );
    assert_eq!(app.me(&access).await.status, 200);
}

async fn an_admin_marks_an_address_verified_or_unverified<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (access1, _, id) = app.user("john_doe").await;
    let r = app.admin_patch(&admin, id, json!({"email_verified": true})).await;
    assert_eq!(r.body["email_verified"], true);
    assert_eq!(app.me(&access1).await.body["email_verified"], true);
    let r = app
        .admin_patch(&admin, id, json!({"email_verified": false}))
        .await;
    assert_eq!(r.body["email_verified"], false);
    assert_eq!(app.me(&access1).await.body["email_verified"], false);
}

async fn an_admin_erases_a_user_and_its_address_is_free_again<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (access1, refresh1, id) = app.user("john_doe").await;
    let r = app.admin_delete(&admin, id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(app.me(&access1).await.status, 401);
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 401);
    assert_eq!(app.admin_get(&admin, id).await.status, 404);
    assert_eq!(app.admin_delete(&admin, id).await.status, 404);
    let again = app.signup("john_doe", "john_doe@example.com", STRONG).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
}

async fn ending_a_users_sessions_ends_every_one_of_them<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _) = app.admin("root").await;
    let (first, refresh1, id) = app.user("john_doe").await;
    let second = access(&app.login("john_doe@example.com", STRONG).await);
    app.clock.advance_ms(1);
    assert_eq!(app.admin_end_sessions(&admin, id).await.status, 204);
    for token in [&first, &second] {
        assert_eq!(app.me(token).await.status, 401);
    }
    assert_eq!(app.refresh(&refresh1).await.status, 401);
    assert_eq!(
        app.login("john_doe@example.com", STRONG).await.status,
        200,
        "not disabled"
    );
    assert_eq!(app.me(&admin).await.status, 200, "the admin's own sessions go on");
}

both_backends!(
    every_admin_route_needs_a_token,
    every_admin_route_refuses_a_user_who_is_not_an_admin,
    with_admin_requires_mfa_an_aal1_admin_is_refused_before_any_lookup,
    an_admin_with_a_second_factor_is_served_in_a_session_that_used_it,
    an_unknown_user_is_404_on_every_admin_route,
    get_shows_the_role_status_metadata_factors_and_identities,
    metadata_set_by_an_admin_shows_in_me_and_in_the_next_access_token,
    metadata_must_be_an_object_of_at_most_2_kib,
    a_patch_with_a_wrong_field_changes_nothing,
    disabling_ends_every_session_at_once_and_enabling_lets_the_user_back_in,
    demoting_an_admin_ends_its_sessions_and_promoting_does_not,
    an_admin_cannot_change_their_own_role_or_status_or_erase_themselves,
    an_admin_marks_an_address_verified_or_unverified,
    an_admin_erases_a_user_and_its_address_is_free_again,
    ending_a_users_sessions_ends_every_one_of_them,
);
