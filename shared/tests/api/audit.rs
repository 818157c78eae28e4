//! The audit trail: each security event recorded by its action with its actor, the caller's own
//! log and an admin's view of a user's, paging, erasure, a failing audit write, no secret in any
//! event or log line, and the new-device mail.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authyy::domain::audit::{AuditEvent, EventPage};
use authyy::domain::UserId;
use authyy::store::audit::AuditStore;
use authyy::store::{StoreError, StoreResult};
use serde_json::{json, Value};

use crate::helpers::audit::{types, Captured};
use crate::helpers::*;

/// The event of `kind`, newest first, in `events`.
fn find<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", types(events)))
}

async fn a_password_account_s_own_actions_are_each_recorded_as_self<B: Backend>() {
    let app = app::<B>().await;
    let (access, refresh_token, id) = app.verified_user("john").await;
    assert_eq!(app.login("john@example.com", "wrong password").await.status, 401);
    let sid = crate::helpers::TestApp::sid_of(&access);
    // Another session, ended from this one; then a password change, an email change, logout.
    let other = app.login("john@example.com", STRONG).await;
    let other_sid = crate::helpers::TestApp::sid_of(&crate::helpers::access(&other));
    assert_eq!(app.end_session(&access, &other_sid).await.status, 204);
    assert_eq!(app.refresh(&refresh_token).await.status, 200);
    assert_eq!(app.change_password(&access, STRONG, STRONG2).await.status, 200);
    // Sessions that begin in the very millisecond of a cut-off end with it.
    app.clock.advance_ms(1);
    assert_eq!(
        app.change_email(&access, "john.new@example.com", STRONG2)
            .await
            .status,
        202
    );
    let token = app.email_change_token("john.new@example.com").await;
    assert_eq!(app.verify_email(&token).await.status, 200);
    assert_eq!(app.logout(&access).await.status, 200);

    let (access, _, _) = {
        let r = app.login("john.new@example.com", STRONG2).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        (crate::helpers::access(&r), (), ())
    };
    assert_eq!(app.logout_all(&access).await.status, 200);
    app.clock.advance_ms(1);
    let r = app.login("john.new@example.com", STRONG2).await;
    let events = app.my_events(&crate::helpers::access(&r)).await;
    assert_eq!(
        types(&events),
        [
            "login_succeeded",
            "logout_all",
            "login_succeeded",
            "logout",
            "email_changed",
            "email_change_requested",
            "password_changed",
            "session_ended",
            "login_succeeded",
            "login_failed",
            "login_succeeded",
            "email_verified",
            "signup",
        ]
    );
    assert!(events.iter().all(|e| e["actor"] == "self"), "{events:?}");
    assert_eq!(
        find(&events, "login_failed")["details"],
        json!({"reason": "wrong_password"})
    );
    assert_eq!(find(&events, "signup")["details"], json!({"method": "password"}));
    let ended = find(&events, "session_ended");
    assert_eq!(ended["session_id"], sid.as_str());
    assert_eq!(ended["details"]["ended_session"], other_sid.as_str());
    assert_eq!(find(&events, "password_changed")["session_id"], sid.as_str());
    let first_login = &events[events.len() - 3];
    assert_eq!(
        first_login["details"],
        json!({"method": "password", "new_device": true})
    );
    assert_eq!(first_login["ip"], "192.0.2.1");
    // Each event once, with its own id and a time.
    let mut ids: Vec<_> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
    assert!(events.iter().all(|e| e["at"].as_str().unwrap().ends_with('Z')));
    let _ = id;
}

async fn a_wrong_current_password_in_a_session_is_a_failed_sign_in_of_it<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("forgetful").await;
    let r = app.change_password(&access, "wrong password", STRONG2).await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    let events = app.my_events(&access).await;
    let failed = find(&events, "login_failed");
    assert_eq!(failed["details"], json!({"reason": "wrong_password"}));
    assert_eq!(failed["session_id"], TestApp::sid_of(&access).as_str());
}

async fn a_reset_its_request_and_a_replayed_refresh_token_are_recorded<B: Backend>() {
    let app = app::<B>().await;
    let (access, refresh_token, _) = app.verified_user("jane").await;
    let rotated = app.refresh(&refresh_token).await;
    assert_eq!(rotated.status, 200);
    app.clock.advance_secs(60);
    // The first token again, past the grace period: the session is revoked by authyy.
    assert_eq!(app.refresh(&refresh_token).await.status, 401);
    let token = app.reset_token("jane@example.com").await;
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    app.clock.advance_ms(1);
    let r = app.login("jane@example.com", STRONG2).await;
    let events = app.my_events(&crate::helpers::access(&r)).await;
    assert_eq!(
        types(&events)[..4],
        [
            "login_succeeded",
            "password_reset",
            "password_reset_requested",
            "refresh_reuse_detected"
        ]
    );
    let reuse = find(&events, "refresh_reuse_detected");
    assert_eq!(reuse["actor"], "system");
    assert_eq!(reuse["session_id"], TestApp::sid_of(&access).as_str());
    // The mailer made the reset: no request, so no client.
    assert_eq!(find(&events, "password_reset_requested")["ip"], "");
}

async fn second_factor_events_are_recorded_with_their_method<B: Backend>() {
    let app = app::<B>().await;
    let user = app.enrolled("mia").await;
    let token = app.mfa_token(&user.email).await;
    assert_eq!(app.login_mfa(&token, "000000").await.status, 400);
    let code = user.recovery_codes()[0].clone();
    let r = app.login_recovery(&token, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let access = crate::helpers::access(&r);
    assert_eq!(app.new_recovery_codes(&access, STRONG).await.status, 200);
    assert_eq!(app.disable_totp(&access, STRONG).await.status, 204);
    let events = app.my_events(&access).await;
    assert_eq!(
        types(&events)[..6],
        [
            "mfa_disabled",
            "recovery_codes_regenerated",
            "login_succeeded",
            "recovery_code_used",
            "mfa_failed",
            "mfa_enabled",
        ]
    );
    assert_eq!(
        find(&events, "mfa_failed")["details"],
        json!({"reason": "wrong_code", "method": "totp"})
    );
    let signed_in = find(&events, "login_succeeded");
    assert_eq!(signed_in["details"]["method"], "password");
    assert_eq!(signed_in["details"]["second_factor"], "recovery_code");
    assert_eq!(
        find(&events, "recovery_code_used")["session_id"],
        signed_in["session_id"]
    );
    assert_eq!(find(&events, "mfa_enabled")["details"], json!({"method": "totp"}));
}

async fn passkey_events_are_recorded_with_the_passkey_s_id<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.verified_user("pat").await;
    let mut key = app.add_passkey(&access).await;
    let r = app.sign_in_with_passkey(&mut key).await;
    let passkey_access = crate::helpers::access(&r);
    let listed = app.list_passkeys(&passkey_access).await;
    let id = listed.body[0]["id"].as_str().unwrap().to_string();
    assert_eq!(app.delete_passkey(&passkey_access, &id).await.status, 204);
    let events = app.my_events(&passkey_access).await;
    assert_eq!(
        types(&events)[..3],
        ["passkey_removed", "login_succeeded", "passkey_added"]
    );
    assert_eq!(
        find(&events, "passkey_added")["details"]["credential"],
        id.as_str()
    );
    assert_eq!(
        find(&events, "passkey_removed")["details"]["credential"],
        id.as_str()
    );
    assert_eq!(find(&events, "login_succeeded")["details"]["method"], "passkey");
}

async fn an_admin_s_actions_are_in_the_target_s_log_and_the_owner_sees_only_admin<B: Backend>() {
    let app = app::<B>().await;
    let (root, root_id) = app.admin("root").await;
    let (access, _, id) = app.verified_user("target").await;
    let patch = app
        .admin_patch(&root, id, json!({"app_metadata": {"plan": "pro"}}))
        .await;
    assert_eq!(patch.status, 200, "{:?}", patch.body);
    assert_eq!(app.admin_end_sessions(&root, id).await.status, 204);
    app.clock.advance_ms(1);
    let as_admin = app.admin_events(&root, id).await;
    assert_eq!(types(&as_admin)[..2], ["logout_all", "user_updated"]);
    let actor = format!("admin:{root_id}");
    assert!(
        as_admin[..2].iter().all(|e| e["actor"] == actor.as_str()),
        "{as_admin:?}"
    );
    assert_eq!(
        find(&as_admin, "user_updated")["details"],
        json!({"changed": ["app_metadata"]})
    );
    // The admin's own log holds none of it.
    assert!(!types(&app.admin_events(&root, root_id).await).contains(&"user_updated"));
    // The owner sees an administrator, not which one, and not what was changed.
    let r = app.login("target@example.com", STRONG).await;
    let own = app.my_events(&crate::helpers::access(&r)).await;
    let updated = find(&own, "user_updated");
    assert_eq!(
        (updated["actor"].clone(), updated["details"].clone()),
        (json!("admin"), json!({}))
    );
    let _ = access;
    // An unknown user is 404; a plain user may not read another's log.
    assert_eq!(app.admin_events_page(&root, 999_999, "").await.status, 404);
    let r = app
        .admin_events_page(&crate::helpers::access(&r), root_id, "")
        .await;
    assert_eq!((r.status, r.detail()), (403, "Admin privileges required"));
}

async fn the_log_pages_newest_first_with_a_link_and_refuses_bad_cursors_and_limits<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("pager").await;
    for _ in 0..4 {
        assert_eq!(app.login("pager@example.com", "wrong password").await.status, 401);
        app.clock.advance_ms(1);
    }
    let all = app.my_events(&access).await;
    assert_eq!(all.len(), 6);
    let mut seen = vec![];
    let mut query = "limit=4".to_string();
    loop {
        let r = app.my_events_page(&access, &query).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let page = r.body.as_array().unwrap().clone();
        assert!(page.len() <= 4);
        seen.extend(page);
        let Some(link) = r.header("link") else { break };
        assert!(link.starts_with("</auth/me/events?limit=4&cursor="), "{link}");
        let url = &link[link.find('<').unwrap() + 1..link.find('>').unwrap()];
        query = url.split_once('?').unwrap().1.to_string();
    }
    assert_eq!(seen, all);
    let times: Vec<_> = all
        .iter()
        .map(|e| e["at"].as_str().unwrap().to_string())
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
    for bad in ["cursor=abc", "cursor=dTox", "cursor="] {
        let r = app.my_events_page(&access, bad).await;
        assert_eq!((r.status, r.detail()), (400, "Invalid cursor"), "{bad}");
    }
    for bad in ["limit=0", "limit=201", "limit=x"] {
        let r = app.my_events_page(&access, bad).await;
        assert_eq!(r.status, 422, "{bad}");
        assert_eq!(r.body["detail"][0]["loc"], json!(["query", "limit"]), "{bad}");
    }
    assert_eq!(app.my_events_page("not a token", "").await.status, 401);
}

async fn a_user_sees_only_their_own_events<B: Backend>() {
    let app = app::<B>().await;
    let (alice, _, _) = app.user("alice").await;
    let (bob, _, _) = app.user("bob").await;
    assert_eq!(app.login("bob@example.com", "wrong password").await.status, 401);
    let alices = app.my_events(&alice).await;
    assert_eq!(types(&alices), ["login_succeeded", "signup"]);
    let bobs = app.my_events(&bob).await;
    assert_eq!(types(&bobs), ["login_failed", "login_succeeded", "signup"]);
    // Bob's cursor on Alice's log names nothing of Bob's.
    let r = app.my_events_page(&bob, "limit=1").await;
    let link = r.header("link").unwrap().to_string();
    let query = &link[link.find('?').unwrap() + 1..link.find('>').unwrap()];
    let r = app.my_events_page(&alice, query).await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_array().unwrap().iter().all(|e| !bobs.contains(e)));
}

async fn erasure_leaves_only_a_deletion_record_holding_the_id<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("gone").await;
    assert_eq!(app.login("gone@example.com", "wrong password").await.status, 401);
    assert_eq!(app.delete_me(&access, STRONG).await.status, 204);
    let (root, root_id) = app.admin("root").await;
    let (_, _, other) = app.user("removed").await;
    assert_eq!(app.admin_delete(&root, other).await.status, 204);
    for (user, actor) in [(id, "self".to_string()), (other, format!("admin:{root_id}"))] {
        let page = app
            .state
            .audit
            .list_events(user, None, 50, app.clock.now())
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1, "{:?}", page.events);
        let record = serde_json::to_value(&page.events[0]).unwrap();
        assert_eq!(record["type"], "account_deleted");
        assert_eq!(record["actor"], actor.as_str());
        assert_eq!(
            (record["ip"].clone(), record["user_agent"].clone()),
            (json!(""), json!(""))
        );
        assert_eq!(record.get("session_id"), None);
        assert_eq!(record["details"], json!({}));
    }
    // The admin route no longer finds the user.
    assert_eq!(app.admin_events_page(&root, other, "").await.status, 404);
}

async fn events_older_than_the_retention_are_not_shown<B: Backend>() {
    let app = B::app(with(|c| {
        c.audit_retention = std::time::Duration::from_secs(86_400)
    }))
    .await;
    let (access, _, _) = app.user("old").await;
    app.clock.advance_secs(86_400 + 1);
    let r = app.login("old@example.com", STRONG).await;
    assert_eq!(
        types(&app.my_events(&crate::helpers::access(&r)).await),
        ["login_succeeded"]
    );
    let _ = access;
}

/// An audit store whose writes all fail, and that counts them.
struct FailingAudit {
    inner: Arc<dyn AuditStore>,
    refused: Mutex<u32>,
}

#[async_trait]
impl AuditStore for FailingAudit {
    async fn record_event(&self, _: UserId, _: &AuditEvent, _: i64) -> StoreResult<()> {
        *self.refused.lock().unwrap() += 1;
        Err(StoreError::Unavailable("throttled".into()))
    }
    async fn list_events(
        &self,
        user_id: UserId,
        before: Option<&str>,
        limit: u32,
        now: i64,
    ) -> StoreResult<EventPage> {
        self.inner.list_events(user_id, before, limit, now).await
    }
}

async fn a_failing_audit_write_never_fails_the_request_it_records<B: Backend>() {
    let mut app = app::<B>().await;
    let failing = Arc::new(FailingAudit {
        inner: app.state.audit.clone(),
        refused: Mutex::new(0),
    });
    app.state.audit = failing.clone();
    let lost_before = authyy::endpoints::audit::lost_events();
    let (access, _, _) = app.user("resilient").await;
    assert_eq!(
        app.login("resilient@example.com", "wrong password").await.status,
        401
    );
    assert_eq!(app.change_password(&access, STRONG, STRONG2).await.status, 200);
    assert_eq!(app.logout(&access).await.status, 200);
    app.clock.advance_ms(1);
    let refused = *failing.refused.lock().unwrap();
    assert_eq!(refused, 5, "signup, login, failed login, password change, logout");
    assert!(authyy::endpoints::audit::lost_events() >= lost_before + u64::from(refused));
    let r = app.login("resilient@example.com", STRONG2).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.my_events(&crate::helpers::access(&r)).await,
        Vec::<Value>::new()
    );
}

async fn a_new_device_is_mailed_once_and_a_known_one_is_not<B: Backend>() {
    let app = app::<B>().await;
    let (_, _, _) = app.verified_user("traveller").await;
    let mails = |m: &[String]| m.iter().filter(|m| m.contains("New sign-in to your")).count();
    let first = mails(&app.mails_to("traveller@example.com").await);
    assert_eq!(first, 1, "the first sign-in is from a new device");
    let device = app.login("traveller@example.com", STRONG).await.body["device_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        mails(&app.mails_to("traveller@example.com").await),
        2,
        "no token: new again"
    );
    let known = json!({"email": "traveller@example.com", "password": STRONG, "device_token": device});
    let r = app.post(Endpoint::Login, known).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let all = app.mails_to("traveller@example.com").await;
    assert_eq!(mails(&all), 2, "the device is known");
    let notice = all
        .iter()
        .rev()
        .find(|m| m.contains("New sign-in to your"))
        .unwrap();
    assert!(
        notice.contains("192.0.2.1") && notice.contains("http://localhost:3000/account"),
        "{notice}"
    );
    let events = app.my_events(&access(&r)).await;
    assert_eq!(
        find(&events, "login_succeeded")["details"],
        json!({"method": "password"})
    );
}

async fn a_passkey_sign_in_with_a_known_device_token_is_not_a_new_device<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.verified_user("keyholder").await;
    let mut key = app.add_passkey(&access).await;
    let first = app.sign_in_with_passkey(&mut key).await;
    let device = first.body["device_token"].as_str().unwrap().to_string();
    let options = app.passkey_login_options().await;
    let made = crate::helpers::passkeys::authenticator(
        "get",
        &crate::helpers::passkeys::getting(&options.body["publicKey"], &key, json!({})),
    );
    let body = json!({
        "challenge_id": options.body["challenge_id"],
        "credential": made["credential"],
        "device_token": device,
    });
    let again = app.post(Endpoint::PasskeyLogin, body).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(
        again.body["device_token"],
        device.as_str(),
        "a known device keeps its token"
    );
    let events = app.my_events(&crate::helpers::access(&again)).await;
    let sign_ins: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "login_succeeded" && e["details"]["method"] == "passkey")
        .map(|e| e["details"]["new_device"].clone())
        .collect();
    assert_eq!(sign_ins, [Value::Null, json!(true)]);
}

async fn no_new_device_mail_when_it_is_turned_off<B: Backend>() {
    let app = B::app(with(|c| c.new_device_mail = false)).await;
    app.verified_user("quiet").await;
    let mails = app.mails_to("quiet@example.com").await;
    assert!(!mails.iter().any(|m| m.contains("New sign-in")), "{mails:?}");
}

/// Every secret the scenario of [`no_event_or_log_line_carries_a_secret`] handles, and the id of
/// its account.
async fn scenario_secrets(app: &TestApp) -> (Vec<String>, u64) {
    let mut secrets = vec![
        STRONG.to_string(),
        STRONG2.to_string(),
        "wrong password".to_string(),
    ];
    let user = app.enrolled("secretive").await;
    secrets.push(user.secret.clone());
    secrets.extend(user.recovery_codes());
    let token = app.mfa_token(&user.email).await;
    secrets.push(token.clone());
    let code = app.next_code(&user.secret);
    secrets.push(code.clone());
    let r = app.login_mfa(&token, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    secrets.push(access(&r));
    secrets.push(crate::helpers::refresh(&r));
    secrets.push(r.body["device_token"].as_str().unwrap().to_string());
    assert_eq!(app.login(&user.email, "wrong password").await.status, 401);
    // An address with no account, until the backoff refuses it before looking (429).
    for _ in 0..5 {
        assert_eq!(
            app.login("nobody@example.com", "wrong password").await.status,
            401
        );
    }
    assert_eq!(
        app.login("nobody@example.com", "wrong password").await.status,
        429
    );
    assert_eq!(
        app.login("nobody2@example.com", "wrong password").await.status,
        401
    );
    let reset = app.reset_token(&user.email).await;
    secrets.push(reset.clone());
    assert_eq!(app.reset(&reset, STRONG2).await.status, 200);
    (secrets, user.id)
}

async fn no_event_or_log_line_carries_a_secret<B: Backend>() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let app = app::<B>().await;
    let logs = Captured::default();
    let writer = logs.clone();
    // The scenario runs on a thread of its own, under the very layer every function installs: all
    // it logs is caught, and nothing other tests log at the same time.
    let (app, (secrets, id)) = std::thread::spawn(move || {
        let layer = authyy::runtime::log_layer("info", true, move || writer.clone());
        let _logging = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        // With a single dispatcher registered, tracing decides whether a log line is wanted by
        // asking the thread that reaches it first, which may be another test's, with none: a
        // second one (that wants nothing) makes it ask them all, and the lines decided before
        // are decided again.
        let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        tracing::callsite::rebuild_interest_cache();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let found = runtime.block_on(scenario_secrets(&app));
        (app, found)
    })
    .join()
    .unwrap();
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let audit_lines: Vec<&str> = text.lines().filter(|l| l.contains("\"audit\":\"v1\"")).collect();
    assert!(audit_lines.len() >= 8, "{text}");
    // The unknown address is logged as a keyed digest, never in clear.
    assert!(audit_lines.iter().any(|l| l.contains("email_hmac")), "{text}");
    assert!(!text.contains("nobody@example.com"), "{text}");
    // ... and written, as a wrong password is, to the log of no account (the same write: the
    // answer takes as long).
    let none = app
        .state
        .audit
        .list_events(authyy::endpoints::audit::NO_ACCOUNT, None, 10, app.clock.now())
        .await
        .unwrap();
    assert_eq!(none.events.len(), 6, "{:?}", none.events);
    let digests: Vec<String> = none
        .events
        .iter()
        .map(|e| e.details.email_hmac.clone().unwrap())
        .collect();
    assert!(none
        .events
        .iter()
        .all(|e| e.details.reason == Some(authyy::domain::audit::Reason::WrongPassword)));
    // `<kid>.<64 hex digits>`: the same for one address, another for another.
    let (kid, hex) = digests[0].split_once('.').unwrap();
    assert!(!kid.is_empty() && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(digests[0], digests[1], "newest first: nobody2, then nobody");
    assert!(digests[1..].iter().all(|d| *d == digests[1]));
    assert!(audit_lines.iter().any(|l| l.contains(&digests[1])), "{text}");
    assert!(!serde_json::to_string(&none.events).unwrap().contains("nobody"));
    // The refusal before any account is looked at is only a log line, by digest too.
    let locked: Vec<_> = audit_lines.iter().filter(|l| l.contains("locked")).collect();
    assert_eq!(locked.len(), 1, "{text}");
    assert!(locked[0].contains(&digests[1]), "{}", locked[0]);
    let page = app
        .state
        .audit
        .list_events(id, None, 200, app.clock.now())
        .await
        .unwrap();
    assert!(page.events.len() >= 8, "{:?}", page.events);
    let events = serde_json::to_string(&page.events).unwrap();
    for secret in secrets.iter().filter(|s| s.len() >= 6) {
        // Local mode's outbox names the link of the mail it wrote, for the developer to click
        // (the mail itself is the secret's channel there); no other line may hold a secret.
        let line = text
            .lines()
            .filter(|l| !l.contains("mail written to the local outbox"))
            .find(|l| l.contains(secret.as_str()));
        assert_eq!(line, None, "a log line holds {secret:?}");
        assert!(!events.contains(secret.as_str()), "an event holds {secret:?}");
    }
}

both_backends!(
    a_password_account_s_own_actions_are_each_recorded_as_self,
    a_reset_its_request_and_a_replayed_refresh_token_are_recorded,
    a_wrong_current_password_in_a_session_is_a_failed_sign_in_of_it,
    second_factor_events_are_recorded_with_their_method,
    passkey_events_are_recorded_with_the_passkey_s_id,
    an_admin_s_actions_are_in_the_target_s_log_and_the_owner_sees_only_admin,
    the_log_pages_newest_first_with_a_link_and_refuses_bad_cursors_and_limits,
    a_user_sees_only_their_own_events,
    erasure_leaves_only_a_deletion_record_holding_the_id,
    events_older_than_the_retention_are_not_shown,
    a_failing_audit_write_never_fails_the_request_it_records,
    a_new_device_is_mailed_once_and_a_known_one_is_not,
    a_passkey_sign_in_with_a_known_device_token_is_not_a_new_device,
    no_new_device_mail_when_it_is_turned_off,
    no_event_or_log_line_carries_a_secret,
);
