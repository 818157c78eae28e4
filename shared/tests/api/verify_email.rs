//! Verified email: signup mails a link, the link's token verifies the address once, resend
//! answers the same for every address, and verification can be required at login.

use crate::helpers::sqlite::{outbox_mails, Sqlite};
use crate::helpers::*;

fn claim_email_verified(access_token: &str) -> Option<bool> {
    claims_of(access_token).email_verified
}

async fn signup_mails_a_verification_link_built_from_configuration<B: Backend>() {
    let app = B::app(with(|c| c.verify_url = "https://app.example.com/verify".into())).await;
    let r = app.signup("john_doe", "john@example.com", STRONG).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["email_verified"], false);
    let mails = app.mails_to("john@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains("https://app.example.com/verify#token="),
        "{}",
        mails[0]
    );
    assert!(token_in(&mails[0]).unwrap().len() >= 43, "256-bit token");
}

async fn me_shows_the_address_unverified_then_verified<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    assert_eq!(app.me(&access1).await.body["email_verified"], false);
    let token = app.verification_token("john_doe@example.com").await;
    let r = app.verify_email(&token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Email verified.");
    assert_eq!(app.me(&access1).await.body["email_verified"], true);
    let login = app.login("john_doe@example.com", STRONG).await;
    assert_eq!(login.body["user"]["email_verified"], true);
}

async fn the_access_token_says_whether_the_address_is_verified<B: Backend>() {
    let app = app::<B>().await;
    let (access1, refresh1, _) = app.user("john_doe").await;
    assert_eq!(claim_email_verified(&access1), Some(false));
    let token = app.verification_token("john_doe@example.com").await;
    assert_eq!(app.verify_email(&token).await.status, 200);
    // The next token the session gets says so.
    let refreshed = app.refresh(&refresh1).await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(claim_email_verified(&access(&refreshed)), Some(true));
    assert_eq!(refreshed.body["user"]["email_verified"], true);
}

async fn list_users_shows_whether_each_address_is_verified<B: Backend>() {
    let app = app::<B>().await;
    let (admin, _, admin_id) = app.user("root").await;
    app.make_admin(admin_id).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.verification_token("john@example.com").await;
    app.verify_email(&token).await;
    let r = app.get(Endpoint::ListUsers, &admin).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let verified: Vec<(Value, Value)> = r.body["items"]
        .as_array()
        .or(r.body.as_array())
        .unwrap()
        .iter()
        .map(|u| (u["email"].clone(), u["email_verified"].clone()))
        .collect();
    assert_eq!(
        verified,
        vec![
            (json!("root@example.com"), json!(false)),
            (json!("john@example.com"), json!(true))
        ]
    );
}

async fn a_verification_token_is_single_use<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.verification_token("john@example.com").await;
    assert_eq!(app.verify_email(&token).await.status, 200);
    let r = app.verify_email(&token).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid or expired token."));
}

async fn a_newer_verification_mail_supersedes_the_older_link<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let old = app.verification_token("john@example.com").await;
    assert_eq!(app.resend("john@example.com").await.status, 200);
    let new = app.verification_token("john@example.com").await;
    assert_ne!(old, new);
    let r = app.verify_email(&old).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid or expired token."));
    assert_eq!(app.verify_email(&new).await.status, 200);
}

async fn a_verification_token_expires_after_24_hours<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.verification_token("john@example.com").await;
    app.clock.advance_secs(24 * 3600);
    let r = app.verify_email(&token).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid or expired token."));
    let login = app.login("john@example.com", STRONG).await;
    assert_eq!(login.body["user"]["email_verified"], false);
}

async fn the_verification_lifetime_comes_from_configuration<B: Backend>() {
    let app = B::app(with(|c| c.verify_ttl = std::time::Duration::from_secs(3600))).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let mails = app.mails_to("john@example.com").await;
    assert!(mails[0].contains("for 1 hour"), "{}", mails[0]);
    let token = token_in(&mails[0]).unwrap();
    app.clock.advance_secs(3600);
    let r = app.verify_email(&token).await;
    assert_eq!((r.status, r.detail()), (400, "Invalid or expired token."));
}

async fn a_verification_token_works_until_its_last_second<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.verification_token("john@example.com").await;
    app.clock.advance_secs(24 * 3600 - 1);
    assert_eq!(app.verify_email(&token).await.status, 200);
}

async fn an_unknown_or_malformed_verification_token_is_400<B: Backend>() {
    let app = app::<B>().await;
    for token in ["", "nope", &"x".repeat(5000)] {
        let r = app.verify_email(token).await;
        assert_eq!((r.status, r.detail()), (400, "Invalid or expired token."));
    }
    assert_422_at(&app.post(Endpoint::VerifyEmail, json!({})).await, "token");
    assert_422_at(
        &app.post(Endpoint::VerifyEmail, json!({"token": 7})).await,
        "token",
    );
}

async fn resend_answers_the_same_for_unknown_verified_and_unverified_addresses<B: Backend>() {
    let app = app::<B>().await;
    app.signup("ann", "ann@example.com", STRONG).await;
    app.signup("bob", "bob@example.com", STRONG).await;
    let token = app.verification_token("bob@example.com").await;
    assert_eq!(app.verify_email(&token).await.status, 200);
    let unverified = app.resend("ann@example.com").await;
    let verified = app.resend("bob@example.com").await;
    let unknown = app.resend("nobody@example.com").await;
    assert_eq!(unverified.status, 200);
    assert_eq!(
        unverified.body["message"],
        "If that email exists and is unverified, a verification link has been sent."
    );
    for other in [&verified, &unknown] {
        assert_eq!((other.status, &other.body), (unverified.status, &unverified.body));
    }
    // Only the unverified address got a second mail.
    assert_eq!(app.mails_to("ann@example.com").await.len(), 2);
    assert_eq!(app.mails_to("bob@example.com").await.len(), 1);
    assert!(app.mails_to("nobody@example.com").await.is_empty());
    assert_422_at(&app.resend("not-an-email").await, "email");
}

async fn resend_mails_an_address_at_most_three_times_per_window_and_answers_the_same<B: Backend>() {
    let app = B::app(with(|c| c.ip_limits_enabled = false)).await;
    app.signup("ann", "ann@example.com", STRONG).await;
    let first = app.resend("ann@example.com").await;
    for _ in 0..4 {
        let r = app.resend("ann@example.com").await;
        assert_eq!((r.status, &r.body), (first.status, &first.body));
    }
    // The signup's mail counts: it and two resends; the other three sent nothing.
    assert_eq!(app.mails_to("ann@example.com").await.len(), 3);
    // A new window mails again.
    app.clock.advance_secs(900);
    app.resend("ann@example.com").await;
    assert_eq!(app.mails_to("ann@example.com").await.len(), 4);
}

async fn resend_is_limited_per_client_address<B: Backend>() {
    let app = app::<B>().await;
    for i in 0..5 {
        let r = app.resend(&format!("user{i}@example.com")).await;
        assert_eq!(r.status, 200);
    }
    let r = app.resend("user9@example.com").await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
}

async fn required_verification_refuses_an_unverified_login_only_with_the_right_password<B: Backend>() {
    let app = B::app(with(|c| c.require_verified_email = true)).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let wrong = app.login("john@example.com", STRONG2).await;
    assert_eq!((wrong.status, wrong.detail()), (401, "Invalid email or password"));
    let right = app.login("john@example.com", STRONG).await;
    assert_eq!((right.status, right.detail()), (403, "Email not verified"));
    assert!(right.body.get("tokens").is_none());
    let token = app.verification_token("john@example.com").await;
    assert_eq!(app.verify_email(&token).await.status, 200);
    let after = app.login("john@example.com", STRONG).await;
    assert_eq!(after.status, 200, "{:?}", after.body);
}

async fn unverified_accounts_log_in_when_verification_is_not_required<B: Backend>() {
    let app = app::<B>().await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let r = app.login("john@example.com", STRONG).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["user"]["email_verified"], false);
}

async fn a_completed_reset_verifies_the_address<B: Backend>() {
    let app = B::app(with(|c| c.require_verified_email = true)).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    let r = app.login("john@example.com", STRONG2).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["email_verified"], true);
    // The signup's link still works (it proves the same address again), harmlessly.
    let verify = app.verification_token("john@example.com").await;
    assert_eq!(app.verify_email(&verify).await.status, 200);
}

async fn a_disabled_account_is_sent_no_verification_mail<B: Backend>() {
    let app = app::<B>().await;
    let r = app.signup("john_doe", "john@example.com", STRONG).await;
    let id = r.body["id"].as_u64().unwrap();
    app.deliver_queued().await;
    assert!(app.state.users.set_disabled(id, true, 1).await.unwrap());
    app.resend("john@example.com").await;
    assert_eq!(app.mails_to("john@example.com").await.len(), 1);
    // Enabled again, the same request mails.
    assert!(app.state.users.set_disabled(id, false, 2).await.unwrap());
    app.resend("john@example.com").await;
    assert_eq!(app.mails_to("john@example.com").await.len(), 2);
}

async fn a_queue_that_is_down_at_signup_does_not_undo_the_signup_and_resend_mails_later<B: Backend>() {
    let mut app = app::<B>().await;
    let working = app.state.queue.clone();
    app.state.queue = B::broken_queue().await;
    let r = app.signup("john_doe", "john@example.com", STRONG).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(app.login("john@example.com", STRONG).await.status, 200);
    assert!(app.mails_to("john@example.com").await.is_empty());
    // The queue is back: the user asks again and gets a working link.
    app.state.queue = working;
    assert_eq!(app.resend("john@example.com").await.status, 200);
    let token = app.verification_token("john@example.com").await;
    assert_eq!(app.verify_email(&token).await.status, 200);
}

async fn ten_concurrent_uses_of_one_verification_token_verify_once<B: Backend>() {
    let app = std::sync::Arc::new(app::<B>().await);
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.verification_token("john@example.com").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.verify_email(&token).await.status })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 9, "{statuses:?}");
    let login = app.login("john@example.com", STRONG).await;
    assert_eq!(login.body["user"]["email_verified"], true);
}

both_backends!(
    signup_mails_a_verification_link_built_from_configuration,
    me_shows_the_address_unverified_then_verified,
    the_access_token_says_whether_the_address_is_verified,
    list_users_shows_whether_each_address_is_verified,
    a_verification_token_is_single_use,
    a_newer_verification_mail_supersedes_the_older_link,
    a_verification_token_expires_after_24_hours,
    a_verification_token_works_until_its_last_second,
    the_verification_lifetime_comes_from_configuration,
    an_unknown_or_malformed_verification_token_is_400,
    resend_answers_the_same_for_unknown_verified_and_unverified_addresses,
    resend_mails_an_address_at_most_three_times_per_window_and_answers_the_same,
    resend_is_limited_per_client_address,
    required_verification_refuses_an_unverified_login_only_with_the_right_password,
    unverified_accounts_log_in_when_verification_is_not_required,
    a_completed_reset_verifies_the_address,
    a_disabled_account_is_sent_no_verification_mail,
    a_queue_that_is_down_at_signup_does_not_undo_the_signup_and_resend_mails_later,
    ten_concurrent_uses_of_one_verification_token_verify_once,
);

/// The `.eml` of local mode, read with a MIME parser: multipart/alternative, a text and an
/// HTML part carrying the same link, from the product's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_is_multipart_text_and_html_with_the_same_link() {
    let app = Sqlite::app(with(|c| {
        c.product_name = "Acme".into();
        c.mail_sender_name = "Acme Accounts".into();
        c.mail_from = "no-reply@acme.test".into();
    }))
    .await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    app.forgot("john@example.com").await;
    app.deliver_queued().await;
    let mut mails = outbox_mails(&app.state.config.outbox_dir);
    assert_eq!(mails.len(), 2, "{mails:?}");
    // Both jobs went out in one batch, delivered concurrently: in no set order.
    mails.sort_by(|a, b| a.subject.cmp(&b.subject));
    for (mail, subject) in mails
        .iter()
        .zip(["Confirm your email for Acme", "Reset your Acme password"])
    {
        assert_eq!(mail.content_type, "multipart/alternative");
        assert_eq!(mail.from, "\"Acme Accounts\" <no-reply@acme.test>");
        assert_eq!(mail.to, "john@example.com");
        assert_eq!(mail.subject, subject);
        let text_token = token_in(&mail.text).expect("a link in the text part");
        let html_token = token_in(&mail.html).expect("a link in the HTML part");
        assert_eq!(text_token, html_token);
        let link_line = mail.text.lines().find(|l| l.contains("token=")).unwrap();
        assert!(
            mail.html
                .contains(&format!("href=\"{}\"", link_line.trim().replace('&', "&amp;"))),
            "{}",
            mail.html
        );
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("Acme"));
            assert!(part.contains("The link works once, for"));
            assert!(part.contains("If "), "an if-this-wasn't-you line");
        }
    }
    assert!(mails[0].text.contains("for 24 hours"));
    assert!(mails[1].text.contains("for 30 minutes"));

    // The documented way of reading a token out of the outbox (infra/outbox.py) gives the same tokens.
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/outbox.py");
    for (subject, mail) in [("Confirm", &mails[0]), ("Reset", &mails[1])] {
        let out = std::process::Command::new(&python)
            .arg(&script)
            .args(["--token", "--subject", subject, "--dir"])
            .arg(&app.state.config.outbox_dir)
            .output()
            .expect("python runs infra/outbox.py");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            token_in(&mail.text).unwrap()
        );
    }
}
