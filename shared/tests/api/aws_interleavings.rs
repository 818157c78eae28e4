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
