//! DynamoDB operations that read, then write in one transaction: another request's write that
//! lands between the two is caught by the transaction's conditions, and the operation reads
//! again instead of leaving that write's items behind. (SQLite runs each such operation in one
//! immediate transaction, so nothing can land between its read and its write.)

use std::sync::{Arc, Mutex};

use crate::aws_faults::{pair, Pair};
use crate::helpers::*;

/// A first passkey for `access`, its options and credential made now and its registration
/// left to the returned work; the registration's status lands in the returned slot.
async fn first_passkey_to_register(
    app: Arc<TestApp>,
    access: String,
) -> (impl FnOnce() + Send + 'static, Arc<Mutex<Option<u16>>>, String) {
    let options = app.passkey_options(&access).await.body;
    let made = authenticator("create", &creating(&options["publicKey"], json!({})));
    let credential_id = made["key"]["credential_id"].as_str().unwrap().to_string();
    let status = Arc::new(Mutex::new(None));
    let slot = status.clone();
    let work = move || {
        let challenge_id = options["challenge_id"].as_str().unwrap().to_string();
        let r = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(app.register_passkey(
                &access,
                &challenge_id,
                &made["credential"],
            ))
        });
        *slot.lock().unwrap() = Some(r.status);
    };
    (work, status, credential_id)
}

/// Work that runs `future` to its end on the test's runtime, from inside a store's call.
fn meanwhile<F: std::future::Future + Send + 'static>(future: F) -> impl FnOnce() + Send + 'static {
    move || {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future));
    }
}

/// Neither the account's passkeys, nor the claim on `credential_id`, nor any factor is left.
async fn no_passkey_is_left(app: &TestApp, user_id: u64, credential_id: &str) {
    assert!(app.state.passkeys.passkeys(user_id).await.unwrap().is_empty());
    assert!(app.state.passkeys.passkey(credential_id).await.unwrap().is_none());
    let factors = app.state.mfa.second_factors(user_id).await.unwrap();
    assert!(!factors.factors().any(), "{factors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reset_removes_a_passkey_registered_between_its_read_and_its_write() {
    let Pair {
        healthy,
        faulty,
        faults,
    } = pair().await;
    let healthy = Arc::new(healthy);
    let (access, _, id) = healthy.verified_user("john_doe").await;
    let (register, status, credential_id) = first_passkey_to_register(healthy.clone(), access).await;
    // The reset's transaction is the first call to set a cut-off.
    faults.before_call_naming("SET sessions_valid_after_ms", register);
    let now = healthy.clock.now_ms();
    assert!(faulty.state.mfa.reset_second_factors(id, now).await.unwrap());
    assert_eq!(
        *status.lock().unwrap(),
        Some(201),
        "the registration came between"
    );
    no_passkey_is_left(&healthy, id, &credential_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_removes_a_passkey_registered_between_its_read_and_its_write() {
    let Pair {
        healthy,
        faulty,
        faults,
    } = pair().await;
    let healthy = Arc::new(healthy);
    let (access, _, id) = healthy.verified_user("john_doe").await;
    let (register, status, credential_id) = first_passkey_to_register(healthy.clone(), access.clone()).await;
    // The erasure's transaction is the first call to name the username's item.
    faults.before_call_naming("USERNAME#john_doe", register);
    let r = faulty.delete_me(&access, STRONG).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        *status.lock().unwrap(),
        Some(201),
        "the registration came between"
    );
    no_passkey_is_left(&healthy, id, &credential_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reset_reads_again_when_the_sessions_were_ended_between_its_read_and_its_write() {
    let Pair {
        healthy,
        faulty,
        faults,
    } = pair().await;
    let healthy = Arc::new(healthy);
    let (access, _, id) = healthy.verified_user("john_doe").await;
    let key = healthy.add_passkey(&access).await;
    let now = healthy.clock.now_ms();
    // A logout everywhere (its cut-off later than the reset's instant) and nothing else.
    let app = healthy.clone();
    let logout_everywhere = async move { app.state.sessions.revoke_all_sessions(id, now + 5).await.unwrap() };
    faults.before_call_naming("SET sessions_valid_after_ms", meanwhile(logout_everywhere));
    assert!(faulty.state.mfa.reset_second_factors(id, now).await.unwrap());
    no_passkey_is_left(&healthy, id, key["credential_id"].as_str().unwrap()).await;
    let user = healthy.state.users.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(user.sessions_valid_after_ms, now + 5, "the later cut-off is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_is_refused_when_the_password_changed_between_its_read_and_its_write() {
    let Pair {
        healthy,
        faulty,
        faults,
    } = pair().await;
    let healthy = Arc::new(healthy);
    let (access, _, _) = healthy.verified_user("john_doe").await;
    let app = healthy.clone();
    let token = access.clone();
    let change = async move {
        let r = app.change_password(&token, STRONG, STRONG2).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    };
    faults.before_call_naming("USERNAME#john_doe", meanwhile(change));
    let r = faulty.delete_me(&access, STRONG).await;
    assert_eq!((r.status, r.detail()), (400, "Current password is incorrect"));
    let r = healthy.login("john_doe@example.com", STRONG2).await;
    assert_eq!(r.status, 200, "the account is still there: {:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_skips_an_address_registered_between_its_lookup_and_its_write() {
    let Pair {
        healthy,
        faulty,
        faults,
    } = pair().await;
    let healthy = Arc::new(healthy);
    let lines: Vec<String> = ["ann", "racer", "cat"]
        .iter()
        .map(|name| json!({"email": format!("{name}@example.com"), "username": name}).to_string())
        .collect();
    let plan = authyy::import::check(&lines.join("\n"), healthy.clock.now()).unwrap();
    // The import's one transaction (after its lookup found none of the three) meets a signup.
    let signup = healthy.clone();
    faults.before_call_naming(
        "TransactItems",
        meanwhile(async move {
            assert_eq!(
                signup.signup("racer", "racer@example.com", STRONG).await.status,
                201
            );
        }),
    );
    let summary = authyy::import::write(faulty.state.users.as_ref(), plan, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(summary.created, 2);
    assert_eq!(summary.skipped.len(), 1);
    assert_eq!(
        (summary.skipped[0].line, summary.skipped[0].reason.as_str()),
        (2, "email already registered")
    );
    // The signup's account is the one that stands; the two others were written on their own.
    assert_eq!(healthy.login("racer@example.com", STRONG).await.status, 200);
    for name in ["ann", "cat"] {
        assert!(healthy.exists(&format!("{name}@example.com")).await, "{name}");
    }
}
