//! The rotation function's four steps (createSecret, setSecret, testSecret, finishSecret)
//! against the local server's Secrets Manager: the first keys of a fresh deploy or an upgrade
//! (which logs nobody out), a run that comes too early, and a rotation overtaken by a retire.

use std::sync::Arc;

use crate::helpers::dynamo::{create_key_secrets, Fixture};
use crate::helpers::*;
use crate::key_lifecycle::{ACCESS_TTL, CACHE};
use authyy::keys::lifecycle::min_published;
use authyy::keys::secrets_manager::{rotation_step, RotationEvent};
use authyy::keys::{rotation, KeySet, KeyStore, PrivateKeys};
use authyy::tokens::{Claims, TokenUse};

fn rotation_event(fixture: &Fixture, token: &str, step: &str) -> RotationEvent {
    RotationEvent {
        secret_id: fixture.settings.signing_secret_id.clone(),
        client_request_token: token.to_string(),
        step: step.into(),
    }
}

/// Runs the four steps as Secrets Manager does, each twice (a retried step changes nothing).
async fn rotate_through_secrets_manager(fixture: &Fixture, now: i64) {
    let store = fixture.key_store();
    let token = format!("{}{}", authyy::randomness::new_id(), authyy::randomness::new_id());
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        for _ in 0..2 {
            rotation_step(
                &store,
                &rotation_event(fixture, &token, step),
                now,
                min_published(CACHE, ACCESS_TTL),
            )
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_function_makes_the_first_keys_and_an_upgrade_logs_nobody_out() {
    // A stack deployed before RS256 access tokens: only the refresh-token HMAC key, no public keys.
    let fixture = Fixture::new_empty().await;
    let hmac = KeySet::single("k1", authyy::keys::random_key()).unwrap();
    create_key_secrets(
        &fixture.sdk,
        &fixture.settings,
        &PrivateKeys {
            hmac: hmac.clone(),
            rsa: None,
        },
    )
    .await;
    let clock = Arc::new(ManualClock::default());
    let state = fixture.state(test_config(), clock.clone());
    let app = TestApp {
        state,
        clock: clock.clone(),
        inbox: Arc::new(fixture.inbox()),
        keys: Some(Arc::new(fixture.key_store())),
        _guard: Box::new(()),
    };
    let signup = app.signup("john_doe", "john@example.com", STRONG).await;
    let id = signup.body["id"].as_u64().unwrap();
    // Before the first rotation: logins cannot be signed (503, nothing half done).
    assert_eq!(app.login("john@example.com", STRONG).await.status, 503);
    // A refresh token as HS256-only releases issued it (iss "authyy"), whose session is in the table.
    let session = app.state.tokens.new_session(
        id,
        Default::default(),
        authyy::domain::Authentication::password(0),
    );
    let first = app.state.tokens.new_refresh_token(&session);
    let email = authyy::domain::Email::parse("john@example.com").unwrap();
    let attempt = authyy::store::LoginAttempt {
        email: &email,
        network: "192.0.2.1",
        device: None,
        now: app.state.clock.now(),
    };
    let rules = app.state.config.login_rules();
    let start = app.state.sessions.begin_login(&attempt, &rules).await.unwrap();
    let authyy::store::LoginStart::Reserved {
        credentials: Some(creds),
        ..
    } = start
    else {
        panic!("{start:?}")
    };
    let login = authyy::store::VerifiedLogin {
        attempt: &attempt,
        verified_hash: &creds.password_hash,
        trusted_device: false,
        device: "first-round-device",
        device_expires_at: attempt.now + 3600,
    };
    assert!(app
        .state
        .sessions
        .start_session(&login, &session, &first)
        .await
        .unwrap());
    let old_refresh = authyy::tokens::sign_refresh(
        &hmac,
        &Claims {
            iss: "authyy".into(),
            aud: app.state.config.audience.clone(),
            sub: id.to_string(),
            exp: first.expires_at,
            iat: first.issued_at,
            jti: first.jti.clone(),
            sid: first.sid.clone(),
            token_use: TokenUse::Refresh,
            scope: None,
            email_verified: None,
            amr: None,
            aal: None,
            auth_time: None,
            app_metadata: None,
            extra: Default::default(),
        },
    )
    .unwrap();

    // Until the first rotation has run, a refresh cannot be answered: 503, and the refresh token
    // is not spent (a retry after the rotation must not look like a replay).
    assert_eq!(app.refresh(&old_refresh).await.status, 503);
    clock.advance_secs(11);

    // The rotation CloudFormation starts at deploy.
    rotate_through_secrets_manager(&fixture, clock.now()).await;
    // The function read the keys before the rotation; it looks again 30 s later at most.
    clock.advance_secs(30);
    let store = fixture.key_store();
    let keys = store.load().await.unwrap();
    let lifecycle = keys.lifecycle().unwrap();
    assert_eq!(keys.hmac.signing().0, "k1", "the refresh-token key is kept");
    assert_eq!(
        store.load_public().await.unwrap().kids(),
        vec![lifecycle.current.kid(), lifecycle.next.kid()]
    );
    let r = app.refresh(&old_refresh).await;
    assert_eq!(
        r.status, 200,
        "a refresh token from before the upgrade still works: {:?}",
        r.body
    );
    assert_eq!(app.me(&access(&r)).await.status, 200);

    // A scheduled run while the next key is too young keeps the keys.
    rotate_through_secrets_manager(&fixture, clock.now() + 60).await;
    assert_eq!(
        store.load().await.unwrap().lifecycle().unwrap().current.kid(),
        lifecycle.current.kid()
    );
    // The next run promotes the next key and trims the public set to three keys.
    rotate_through_secrets_manager(
        &fixture,
        clock.now() + min_published(CACHE, ACCESS_TTL).as_secs() as i64,
    )
    .await;
    let after = store.load().await.unwrap();
    let rotated = after.lifecycle().unwrap();
    assert_eq!(rotated.current.kid(), lifecycle.next.kid());
    assert_eq!(rotated.previous.as_ref().unwrap().kid(), lifecycle.current.kid());
    assert_eq!(store.load_public().await.unwrap().kids().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_begun_before_a_key_was_retired_cannot_bring_it_back() {
    let fixture = Fixture::new().await;
    let store = fixture.key_store();
    let now = authyy::clock::SystemClock.now() + min_published(CACHE, ACCESS_TTL).as_secs() as i64;
    let token = format!("{}{}", authyy::randomness::new_id(), authyy::randomness::new_id());
    for step in ["createSecret", "setSecret"] {
        rotation_step(
            &store,
            &rotation_event(&fixture, &token, step),
            now,
            min_published(CACHE, ACCESS_TTL),
        )
        .await
        .unwrap();
    }
    // The operator retires the current key while that rotation is under way.
    let compromised = store
        .load()
        .await
        .unwrap()
        .lifecycle()
        .unwrap()
        .current
        .kid()
        .to_string();
    rotation::retire(&store, &compromised, now).await.unwrap();
    for step in ["setSecret", "testSecret", "finishSecret"] {
        let r = rotation_step(
            &store,
            &rotation_event(&fixture, &token, step),
            now,
            min_published(CACHE, ACCESS_TTL),
        )
        .await;
        assert!(r.is_err(), "{step} of the abandoned rotation must fail");
    }
    let keys = store.load().await.unwrap();
    assert!(keys
        .lifecycle()
        .unwrap()
        .keys()
        .iter()
        .all(|(_, k)| k.kid() != compromised));
    assert!(store
        .load_public()
        .await
        .unwrap()
        .decoding(&compromised)
        .is_none());
    // The next rotation starts from the current keys.
    rotate_through_secrets_manager(&fixture, now + min_published(CACHE, ACCESS_TTL).as_secs() as i64).await;
    let after = store.load().await.unwrap();
    assert!(after
        .lifecycle()
        .unwrap()
        .keys()
        .iter()
        .all(|(_, k)| k.kid() != compromised));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_steps_refuse_an_unknown_step() {
    let fixture = Fixture::new().await;
    let store = fixture.key_store();
    let token = format!("{}{}", authyy::randomness::new_id(), authyy::randomness::new_id());
    let r = rotation_step(&store, &rotation_event(&fixture, &token, "dropSecret"), 0, CACHE).await;
    assert!(r.is_err());
}
