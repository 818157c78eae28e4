//! Linking identities at another provider to a signed-in account, and removing them, against
//! the real OpenID provider of `federation`'s tests.

use crate::helpers::oidc::{self, fragment, VERIFIER};
use crate::helpers::*;

/// Links `login`'s identity to the account of `access`; the link/complete answer.
async fn link(app: &TestApp, access: &str, login: &str) -> Resp {
    let back = app.oauth_link_front_channel(access, login).await;
    let code = fragment(&back, "code").unwrap_or_else(|| panic!("no code: {:?}", back.header("location")));
    app.complete_link(access, &code).await
}

async fn a_signed_in_account_links_an_identity_and_signs_in_with_it<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let (access, _, id) = app.verified_user("linker").await;
    let linked = link(&app, &access, "elsewhere@example.com").await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    assert_eq!(linked.body["provider"], "local");
    assert_eq!(linked.body["email"], "elsewhere@example.com");
    let listed = app.get(Endpoint::ListIdentities, &access).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let signed_in = app.oauth_sign_in("elsewhere@example.com").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["id"], id);
}

async fn an_identity_of_another_account_is_not_linked<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    assert_eq!(app.oauth_sign_in("first@example.com").await.status, 200);
    let (access, _, _) = app.verified_user("second").await;
    let back = app.oauth_link_front_channel(&access, "first@example.com").await;
    assert_eq!(fragment(&back, "error").as_deref(), Some("identity_taken"));
    assert_eq!(app.get(Endpoint::ListIdentities, &access).await.body, json!([]));
}

async fn an_identity_taken_between_the_callback_and_the_completion_is_a_409<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let (access, _, _) = app.verified_user("slowpoke").await;
    let back = app.oauth_link_front_channel(&access, "raced@example.com").await;
    let code = fragment(&back, "code").unwrap();
    // Meanwhile the identity signs in on its own, and an account is made for it.
    assert_eq!(app.oauth_sign_in("raced@example.com").await.status, 200);
    let r = app.complete_link(&access, &code).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.detail(), "Identity already linked to another account");
    assert_eq!(app.get(Endpoint::ListIdentities, &access).await.body, json!([]));
}

async fn linking_needs_a_verified_address<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let (access, _, _) = app.user("unverified").await;
    let r = app.oauth_link(&access, Some(STRONG)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.detail(), "Email not verified");
}

async fn linking_needs_the_password<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let (access, _, _) = app.verified_user("careful").await;
    for password in [Some("not the password"), None] {
        let r = app.oauth_link(&access, password).await;
        assert_eq!(r.status, 400, "{password:?}");
        assert_eq!(r.detail(), "Current password is incorrect");
    }
}

async fn a_link_code_works_only_for_its_own_account_and_only_to_link<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let (mine, _, _) = app.verified_user("owner").await;
    let (theirs, _, _) = app.verified_user("thief").await;
    let back = app.oauth_link_front_channel(&mine, "mine@example.com").await;
    let code = fragment(&back, "code").unwrap();
    let r = app.complete_link(&theirs, &code).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid or expired code");
    let back = app.oauth_link_front_channel(&mine, "mine@example.com").await;
    let code = fragment(&back, "code").unwrap();
    let r = app.oauth_token(&code, VERIFIER).await;
    assert_eq!(r.status, 400, "a link's code signs nobody in");
    assert_eq!(app.get(Endpoint::ListIdentities, &mine).await.body, json!([]));
}

async fn the_last_way_to_sign_in_cannot_be_removed<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let r = app.oauth_sign_in("only@example.com").await;
    let access = access(&r);
    let listed = app.get(Endpoint::ListIdentities, &access).await;
    let id = listed.body[0]["id"].as_str().unwrap().to_string();
    let refused = app.unlink(&access, &id, json!({})).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.detail(), "Cannot remove the last way to sign in");
    // With a password, the identity can go.
    let body = json!({"new_password": "violet tractor jumps over moon 7"});
    assert_eq!(
        app.with_body_of(Endpoint::ChangePassword, body, &access)
            .await
            .status,
        200
    );
    let removed = app
        .unlink(
            &access,
            &id,
            json!({"password": "violet tractor jumps over moon 7"}),
        )
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    assert_eq!(app.get(Endpoint::ListIdentities, &access).await.body, json!([]));
}

async fn a_removed_identity_no_longer_signs_in_to_the_account<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let (access, _, id) = app.verified_user("leaver").await;
    let linked = link(&app, &access, "gone@example.com").await;
    let identity = linked.body["id"].as_str().unwrap().to_string();
    let removed = app.unlink(&access, &identity, json!({"password": STRONG})).await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    let signed_in = app.oauth_sign_in("gone@example.com").await;
    assert_ne!(
        signed_in.body["user"]["id"], id,
        "a new account, not the one it left"
    );
}

async fn another_accounts_identity_is_not_found<B: Backend>() {
    let app = B::app(oidc::config(false)).await;
    let r = app.oauth_sign_in("someone@example.com").await;
    let theirs = app.get(Endpoint::ListIdentities, &access(&r)).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (access, _, _) = app.verified_user("nosy").await;
    let r = app.unlink(&access, &theirs, json!({"password": STRONG})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.detail(), "Identity not found");
}

async fn provider_sign_ins_links_and_removals_are_in_the_account_s_log<B: Backend>() {
    use crate::helpers::audit::types;
    let app = B::app(oidc::config(false)).await;
    // An account made by a provider's first sign-in.
    let made = app.oauth_sign_in("arrival@example.com").await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    let events = app.my_events(&access(&made)).await;
    assert_eq!(types(&events), ["login_succeeded", "signup"]);
    assert_eq!(
        events[0]["details"],
        json!({"method": "provider", "new_device": true})
    );
    assert_eq!(events[1]["details"]["method"], "provider");
    assert_eq!(events[1]["details"]["provider"], "local");
    // A password account links an identity, then removes it.
    let (access, _, _) = app.verified_user("collector").await;
    let linked = link(&app, &access, "collected@example.com").await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    let id = linked.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.unlink(&access, &id, json!({"password": STRONG})).await.status,
        204
    );
    let events = app.my_events(&access).await;
    assert_eq!(types(&events)[..2], ["identity_unlinked", "identity_linked"]);
    assert_eq!(
        events[1]["details"],
        json!({"provider": "local", "credential": id})
    );
    assert_eq!(events[0]["details"], json!({"credential": id}));
    assert!(events[..2]
        .iter()
        .all(|e| e["session_id"] == TestApp::sid_of(&access).as_str()));
}

both_backends!(
    provider_sign_ins_links_and_removals_are_in_the_account_s_log,
    a_signed_in_account_links_an_identity_and_signs_in_with_it,
    an_identity_of_another_account_is_not_linked,
    an_identity_taken_between_the_callback_and_the_completion_is_a_409,
    linking_needs_a_verified_address,
    linking_needs_the_password,
    a_link_code_works_only_for_its_own_account_and_only_to_link,
    the_last_way_to_sign_in_cannot_be_removed,
    a_removed_identity_no_longer_signs_in_to_the_account,
    another_accounts_identity_is_not_found,
);
