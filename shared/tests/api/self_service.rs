//! Self-service: the signed-in user changes the password, sees and ends sessions, changes the
//! email, and erases the account.

use crate::helpers::*;

const NEW: &str = "violet tractor jumps over moon 7";

async fn user_with_two_sessions<B: Backend>(app: &TestApp) -> (Resp, Resp) {
    app.signup("john_doe", "john@example.com", STRONG).await;
    let first = app.login("john@example.com", STRONG).await;
    app.clock.advance_ms(5);
    let second = app.login("john@example.com", STRONG).await;
    assert_eq!((first.status, second.status), (200, 200));
    (first, second)
}

// --- POST /auth/password ---

async fn a_password_change_ends_every_other_session_and_keeps_this_one<B: Backend>() {
    let app = app::<B>().await;
    let (this, other) = user_with_two_sessions::<B>(&app).await;
    app.clock.advance_ms(5);
    let r = app.change_password(&access(&this), STRONG, NEW).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Password changed.");
    // The other session's tokens die at once.
    assert_eq!(app.me(&access(&other)).await.status, 401);
    assert_eq!(app.refresh(&refresh(&other)).await.status, 401);
    // This one lives on, refreshes included.
    assert_eq!(app.me(&access(&this)).await.status, 200);
    let refreshed = app.refresh(&refresh(&this)).await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(app.me(&access(&refreshed)).await.status, 200);
    // The new password logs in, the old one does not.
    app.clock.advance_ms(1);
    assert_eq!(app.login("john@example.com", STRONG).await.status, 401);
    let fresh = app.login("john@example.com", NEW).await;
    assert_eq!(app.me(&access(&fresh)).await.status, 200);
}

async fn a_wrong_current_password_is_400_changes_nothing_and_counts_on_its_session<B: Backend>() {
    let app = app::<B>().await;
    let (this, other) = user_with_two_sessions::<B>(&app).await;
    for _ in 0..5 {
        let r = app.change_password(&access(&this), "not my password", NEW).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(r.detail(), "Current password is incorrect");
    }
    assert_eq!(app.me(&access(&other)).await.status, 200);
    // Five failures from this session: its next attempt waits, even with the right password...
    let r = app.change_password(&access(&this), STRONG, NEW).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.header("retry-after").is_some());
    // ...but the account's other sessions and its logins are not held back.
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
    app.clock.advance_secs(2);
    assert_eq!(app.change_password(&access(&this), STRONG, NEW).await.status, 200);
}

async fn a_right_current_password_costs_no_attempt<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    for _ in 0..4 {
        // A new password the policy refuses is refused before the current one is checked.
        assert_eq!(app.change_password(&a, STRONG, "password1").await.status, 422);
    }
    // Many confirmed changes in a row never lock the owner out.
    let mut current = STRONG.to_string();
    for i in 0..6 {
        let next = format!("{NEW} {i}");
        let r = app.change_password(&a, &current, &next).await;
        assert_eq!(r.status, 200, "change {i}: {:?}", r.body);
        current = next;
    }
    app.clock.advance_ms(1);
    assert_eq!(app.login("john_doe@example.com", &current).await.status, 200);
}

async fn the_new_password_passes_the_signup_policy_and_differs_from_the_current<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    for weak in ["password1", "john_doe_2024!", "short"] {
        let r = app.change_password(&a, STRONG, weak).await;
        assert_422_at(&r, "new_password");
    }
    let r = app.change_password(&a, STRONG, STRONG).await;
    assert_422_at(&r, "new_password");
    assert!(r.body.to_string().contains("differ"), "{:?}", r.body);
    // An account with a password must send it.
    let r = app
        .with_body_of(Endpoint::ChangePassword, json!({"new_password": NEW}), &a)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Current password is incorrect");
    // Nothing changed.
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 200);
}

async fn a_password_change_mails_a_notice_to_the_address<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    assert_eq!(app.change_password(&a, STRONG, NEW).await.status, 200);
    let mails = app.mails_to("john_doe@example.com").await;
    assert!(
        mails.iter().any(|m| m.contains("password of the authyy account")),
        "{mails:?}"
    );
}

async fn a_pending_reset_link_dies_with_a_password_change<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    let token = app.reset_token("john_doe@example.com").await;
    assert_eq!(app.change_password(&a, STRONG, NEW).await.status, 200);
    let r = app.reset(&token, "a third password for john 99").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    app.clock.advance_ms(1);
    assert_eq!(app.login("john_doe@example.com", NEW).await.status, 200);
}

async fn self_service_needs_an_access_token<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    for token in ["", "garbage", refresh1.as_str()] {
        assert_eq!(app.change_password(token, STRONG, NEW).await.status, 401);
        assert_eq!(app.sessions(token).await.status, 401);
        assert_eq!(app.end_session(token, "abc").await.status, 401);
        assert_eq!(
            app.change_email(token, "new@example.com", STRONG).await.status,
            401
        );
        assert_eq!(app.delete_me(token, STRONG).await.status, 401);
    }
}

// --- GET /auth/sessions, DELETE /auth/sessions/{id} ---

async fn sessions_lists_the_live_sessions_newest_first_with_where_they_were_used<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let mut tokens = vec![];
    for (ip, agent) in [("198.51.100.7", "Firefox/140"), ("2001:db8::1", "curl/8.5")] {
        let body = json!({"email": "john@example.com", "password": STRONG}).to_string();
        let req = event(
            "POST",
            "/auth/login",
            "",
            &[("user-agent", agent)],
            Some(&body),
            ip,
        );
        let r = app.call(Endpoint::Login, req).await;
        assert_eq!(r.status, 200);
        tokens.push(r);
        app.clock.advance_secs(60);
    }
    let r = app.sessions(&access(&tokens[1])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], TestApp::sid_of(&access(&tokens[1])));
    assert_eq!(
        (
            list[0]["ip"].as_str(),
            list[0]["user_agent"].as_str(),
            list[0]["current"].as_bool()
        ),
        (Some("2001:db8::1"), Some("curl/8.5"), Some(true))
    );
    assert_eq!(
        (
            list[1]["ip"].as_str(),
            list[1]["user_agent"].as_str(),
            list[1]["current"].as_bool()
        ),
        (Some("198.51.100.7"), Some("Firefox/140"), Some(false))
    );
    let created = list[1]["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    assert_eq!(list[1]["last_used_at"], list[1]["created_at"]);
}

async fn a_refresh_updates_when_and_where_the_session_was_last_used<B: Backend>() {
    let app = app::<B>().await;
    let (_, refresh1, _) = app.user("john_doe").await;
    app.clock.advance_secs(3600);
    let req = event(
        "POST",
        "/auth/tokens",
        "",
        &[
            ("authorization", &format!("Bearer {refresh1}")),
            ("user-agent", "Safari/18"),
        ],
        None,
        "203.0.113.99",
    );
    let r = app.call(Endpoint::Refresh, req).await;
    assert_eq!(r.status, 200);
    let list = app.sessions(&access(&r)).await.body;
    let s = &list[0];
    assert_eq!(
        (s["ip"].as_str(), s["user_agent"].as_str()),
        (Some("203.0.113.99"), Some("Safari/18"))
    );
    assert_ne!(s["last_used_at"], s["created_at"]);
}

async fn ending_a_session_kills_its_access_and_refresh_tokens_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (this, other) = user_with_two_sessions::<B>(&app).await;
    let sid = TestApp::sid_of(&access(&other));
    let r = app.end_session(&access(&this), &sid).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(app.me(&access(&other)).await.status, 401);
    assert_eq!(app.refresh(&refresh(&other)).await.status, 401);
    let list = app.sessions(&access(&this)).await.body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["current"], true);
    // Ended once: the second time it is not found.
    let r = app.end_session(&access(&this), &sid).await;
    assert_eq!((r.status, r.detail()), (404, "Session not found"));
    // Ending the current session is a logout.
    let own = TestApp::sid_of(&access(&this));
    assert_eq!(app.end_session(&access(&this), &own).await.status, 204);
    assert_eq!(app.me(&access(&this)).await.status, 401);
}

async fn another_users_or_an_unknown_session_is_not_found<B: Backend>() {
    let app = app::<B>().await;
    let (ann, _, _) = app.user("ann_doe").await;
    let (bob, _, _) = app.user("bob_doe").await;
    let long = "a".repeat(5000);
    for id in [
        TestApp::sid_of(&bob),
        "unknown".into(),
        long,
        "a.b".into(),
        "%41bc".into(),
    ] {
        let r = app.end_session(&ann, &id).await;
        assert_eq!((r.status, r.detail()), (404, "Session not found"), "{id:.20}");
    }
    assert_eq!(app.me(&bob).await.status, 200, "bob's session lives on");
}

async fn sessions_ended_by_logout_or_cut_off_are_not_listed<B: Backend>() {
    let app = app::<B>().await;
    let (this, other) = user_with_two_sessions::<B>(&app).await;
    assert_eq!(app.logout(&access(&other)).await.status, 200);
    let list = app.sessions(&access(&this)).await.body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    app.clock.advance_ms(1);
    assert_eq!(app.logout_all(&access(&this)).await.status, 200);
    app.clock.advance_ms(1);
    let fresh = app.login("john@example.com", STRONG).await;
    let list = app.sessions(&access(&fresh)).await.body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["current"], true);
}

// --- POST /auth/email ---

async fn an_email_change_applies_only_once_the_new_address_confirms_it<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    let r = app.change_email(&a, "john.new@example.com", STRONG).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["message"], "Check your new address to confirm the change.");
    // Until confirmed, the old address is the account's.
    let token = app.email_change_token("john.new@example.com").await;
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 200);
    assert_eq!(app.login("john.new@example.com", STRONG).await.status, 401);

    let r = app.verify_email(&token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let me = app.me(&a).await;
    assert_eq!(me.body["email"], "john.new@example.com");
    assert_eq!(me.body["email_verified"], true);
    assert_eq!(app.login("john_doe@example.com", STRONG).await.status, 401);
    assert_eq!(app.login("john.new@example.com", STRONG).await.status, 200);
    // The old address is told, and is free for someone else.
    let notices = app.mails_to("john_doe@example.com").await;
    assert!(
        notices.iter().any(|m| m.contains("was changed from")),
        "{notices:?}"
    );
    assert_eq!(
        app.signup("jane_doe", "john_doe@example.com", STRONG)
            .await
            .status,
        201
    );
    // The link works once.
    assert_eq!(app.verify_email(&token).await.status, 400);
}

async fn an_email_change_with_a_wrong_password_changes_nothing_and_mails_nothing<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    let r = app
        .change_email(&a, "john.new@example.com", "not my password")
        .await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    assert!(app.mails_to("john.new@example.com").await.is_empty());
    assert_eq!(app.me(&a).await.body["email"], "john_doe@example.com");
}

async fn an_email_change_to_the_same_or_no_address_is_refused<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    let r = app.change_email(&a, "john_doe@example.com", STRONG).await;
    assert_422_at(&r, "new_email");
    let r = app.change_email(&a, "not an address", STRONG).await;
    assert_422_at(&r, "new_email");
}

async fn an_email_change_racing_a_signup_for_the_address_ends_with_one_owner<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    assert_eq!(
        app.change_email(&a, "contested@example.com", STRONG).await.status,
        202
    );
    let token = app.email_change_token("contested@example.com").await;
    let (signup, verify) = tokio::join!(
        app.signup("jane_doe", "contested@example.com", STRONG2),
        app.verify_email(&token)
    );
    let outcome = (signup.status, verify.status);
    assert!(
        outcome == (201, 409) || outcome == (409, 200),
        "{outcome:?}: {:?}",
        verify.body
    );
    if verify.status == 409 {
        assert_eq!(verify.detail(), "Email already registered");
    }
    let owner = app
        .state
        .users
        .user_by_email(&authyy::domain::Email::parse("contested@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let expected = if signup.status == 201 {
        "jane_doe"
    } else {
        "john_doe"
    };
    assert_eq!(owner.username, expected);
    // The loser keeps what it had: john's old address, or no account for jane.
    if signup.status == 201 {
        assert_eq!(app.me(&a).await.body["email"], "john_doe@example.com");
    }
}

async fn a_later_email_change_or_resend_supersedes_an_earlier_link<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    app.change_email(&a, "first@example.com", STRONG).await;
    let first = app.email_change_token("first@example.com").await;
    app.change_email(&a, "second@example.com", STRONG).await;
    let second = app.email_change_token("second@example.com").await;
    assert_eq!(app.verify_email(&first).await.status, 400);
    assert_eq!(app.verify_email(&second).await.status, 200);
    assert_eq!(app.me(&a).await.body["email"], "second@example.com");
}

async fn a_pending_email_change_dies_with_a_password_change_or_reset<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    app.change_email(&a, "thief@example.com", STRONG).await;
    let link = app.email_change_token("thief@example.com").await;
    assert_eq!(app.change_password(&a, STRONG, NEW).await.status, 200);
    assert_eq!(app.verify_email(&link).await.status, 400);

    app.change_email(&a, "thief@example.com", NEW).await;
    let link = app.email_change_token("thief@example.com").await;
    let reset = app.reset_token("john_doe@example.com").await;
    assert_eq!(app.reset(&reset, STRONG2).await.status, 200);
    assert_eq!(app.verify_email(&link).await.status, 400);
    app.clock.advance_ms(1);
    let fresh = app.login("john_doe@example.com", STRONG2).await;
    assert_eq!(
        app.me(&access(&fresh)).await.body["email"],
        "john_doe@example.com"
    );
}

async fn a_reset_link_mailed_to_the_old_address_dies_with_an_email_change<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    let reset = app.reset_token("john_doe@example.com").await;
    app.change_email(&a, "john.new@example.com", STRONG).await;
    let link = app.email_change_token("john.new@example.com").await;
    assert_eq!(app.verify_email(&link).await.status, 200);
    assert_eq!(app.reset(&reset, STRONG2).await.status, 400);
    assert_eq!(app.login("john.new@example.com", STRONG).await.status, 200);
}

async fn account_changes_are_under_the_per_client_login_limit<B: Backend>() {
    let app = B::app(with(|c| {
        c.login_limit = Limit {
            max: 3,
            window_secs: 60,
        }
    }))
    .await;
    app.signup("john_doe", "john_doe@example.com", STRONG).await;
    let a = access(&app.login("john_doe@example.com", STRONG).await);
    // The changes that check a password share one counter per client address, at login's limit.
    assert_eq!(app.change_password(&a, "wrong one", NEW).await.status, 400);
    assert_eq!(app.delete_me(&a, "wrong one").await.status, 400);
    assert_eq!(
        app.change_email(&a, "x@example.com", "wrong one").await.status,
        400
    );
    let r = app.change_password(&a, STRONG, NEW).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert!(r.header("retry-after").is_some());
    // The rest of the account's routes are not limited.
    assert_eq!(app.sessions(&a).await.status, 200);
}

async fn one_account_mails_at_most_three_email_change_links_per_window<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    for i in 0..5 {
        let r = app.change_email(&a, &format!("new{i}@example.com"), STRONG).await;
        assert_eq!(r.status, 202, "the answer is the same every time");
        // Each change mailed before the next replaces it.
        app.deliver_queued().await;
    }
    let mut sent = 0;
    for i in 0..5 {
        sent += app.inbox.mails_to(&format!("new{i}@example.com")).await.len();
    }
    assert_eq!(sent, 3);
}

async fn a_queued_email_change_is_not_mailed_once_its_address_is_taken_or_its_account_disabled<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, id) = app.user("john_doe").await;
    app.deliver_queued().await;
    assert_eq!(
        app.change_email(&a, "taken@example.com", STRONG).await.status,
        202
    );
    assert_eq!(
        app.signup("jane_doe", "taken@example.com", STRONG2).await.status,
        201
    );
    let mails = app.mails_to("taken@example.com").await;
    assert!(
        !mails.iter().any(|m| m.contains("Confirm your new email")),
        "{mails:?}"
    );

    assert_eq!(
        app.change_email(&a, "later@example.com", STRONG).await.status,
        202
    );
    assert!(app
        .state
        .users
        .set_disabled(id, true, app.clock.now_ms())
        .await
        .unwrap());
    assert!(app.mails_to("later@example.com").await.is_empty());
}

async fn an_email_change_link_works_for_the_verification_lifetime_only<B: Backend>() {
    let app = app::<B>().await;
    let (a, _, _) = app.user("john_doe").await;
    app.change_email(&a, "late@example.com", STRONG).await;
    let link = app.email_change_token("late@example.com").await;
    app.clock.advance_secs(24 * 3600);
    assert_eq!(app.verify_email(&link).await.status, 400);
    let again = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(again.body["user"]["email"], "john_doe@example.com");
}

// --- DELETE /auth/me ---

async fn erasing_and_signing_up_again_does_not_reset_the_mail_caps_of_an_address<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    let (a, _, _) = app.user("john_doe").await;
    for _ in 0..3 {
        app.forgot("john_doe@example.com").await;
    }
    assert_eq!(app.reset_mails_to("john_doe@example.com").await.len(), 3);
    assert_eq!(app.delete_me(&a, STRONG).await.status, 204);
    // Sign up again with the address, ask three more times: the window's cap still holds.
    app.signup("john_doe", "john_doe@example.com", STRONG).await;
    for _ in 0..3 {
        assert_eq!(app.forgot("john_doe@example.com").await.status, 200);
    }
    assert_eq!(app.reset_mails_to("john_doe@example.com").await.len(), 3);
    // The cap ends with its window.
    app.clock.advance_secs(900);
    app.forgot("john_doe@example.com").await;
    assert_eq!(app.reset_mails_to("john_doe@example.com").await.len(), 4);
}

async fn deleting_the_account_erases_it_and_frees_its_email_and_username<B: Backend>() {
    let app = app::<B>().await;
    let (this, other) = user_with_two_sessions::<B>(&app).await;
    let reset = app.reset_token("john@example.com").await;
    let r = app.delete_me(&access(&this), STRONG).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    for t in [&this, &other] {
        assert_eq!(app.me(&access(t)).await.status, 401);
        assert_eq!(app.refresh(&refresh(t)).await.status, 401);
    }
    assert_eq!(app.login("john@example.com", STRONG).await.status, 401);
    assert_eq!(app.reset(&reset, NEW).await.status, 400);
    // Both the email and the username sign up again, as a new account.
    let again = app.signup("john_doe", "john@example.com", STRONG2).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["email_verified"], false);
    assert_eq!(app.refresh(&refresh(&other)).await.status, 401);
    let fresh = app.login("john@example.com", STRONG2).await;
    assert_eq!(app.me(&access(&fresh)).await.status, 200);
    assert_eq!(
        app.me(&access(&this)).await.status,
        401,
        "the old tokens stay dead"
    );
}

async fn a_wrong_password_on_delete_changes_nothing<B: Backend>() {
    let app = app::<B>().await;
    let (a, r1, _) = app.user("john_doe").await;
    let r = app.delete_me(&a, "not my password").await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    assert_eq!(app.me(&a).await.status, 200);
    assert_eq!(app.refresh(&r1).await.status, 200);
    let r = app.delete_me(&a, "").await;
    assert_422_at(&r, "password");
}

both_backends!(
    a_password_change_ends_every_other_session_and_keeps_this_one,
    a_wrong_current_password_is_400_changes_nothing_and_counts_on_its_session,
    a_right_current_password_costs_no_attempt,
    the_new_password_passes_the_signup_policy_and_differs_from_the_current,
    a_password_change_mails_a_notice_to_the_address,
    a_pending_reset_link_dies_with_a_password_change,
    self_service_needs_an_access_token,
    sessions_lists_the_live_sessions_newest_first_with_where_they_were_used,
    a_refresh_updates_when_and_where_the_session_was_last_used,
    ending_a_session_kills_its_access_and_refresh_tokens_at_once,
    another_users_or_an_unknown_session_is_not_found,
    sessions_ended_by_logout_or_cut_off_are_not_listed,
    an_email_change_applies_only_once_the_new_address_confirms_it,
    an_email_change_with_a_wrong_password_changes_nothing_and_mails_nothing,
    an_email_change_to_the_same_or_no_address_is_refused,
    an_email_change_racing_a_signup_for_the_address_ends_with_one_owner,
    a_later_email_change_or_resend_supersedes_an_earlier_link,
    a_pending_email_change_dies_with_a_password_change_or_reset,
    a_reset_link_mailed_to_the_old_address_dies_with_an_email_change,
    account_changes_are_under_the_per_client_login_limit,
    one_account_mails_at_most_three_email_change_links_per_window,
    a_queued_email_change_is_not_mailed_once_its_address_is_taken_or_its_account_disabled,
    an_email_change_link_works_for_the_verification_lifetime_only,
    erasing_and_signing_up_again_does_not_reset_the_mail_caps_of_an_address,
    deleting_the_account_erases_it_and_frees_its_email_and_username,
    a_wrong_password_on_delete_changes_nothing,
);
