//! What a login and a refresh bill on DynamoDB, in write request units (counted from the
//! requests the SDK sends, by DynamoDB's pricing rules: a unit per KB written, twice in a
//! transaction), with the default configuration. Each unit is one the login needs (see
//! docs/performance.md): a change that adds one changes these figures on purpose.

use crate::aws_faults::pair;
use crate::helpers::{refresh, STRONG};
use authyy::Endpoint;
use serde_json::json;

/// The write units of the calls since the counter was last reset.
fn written(faults: &crate::helpers::faults::Faults) -> f64 {
    faults.request_units().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_a_new_device_writes_ten_units() {
    let p = pair().await;
    p.healthy.signup("john_doe", "john@example.com", STRONG).await;
    p.faults.fail_from(usize::MAX);
    let r = p.faulty.login("john@example.com", STRONG).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The client's limit 1, the attempt 1, the device's trust 1, the password check and the
    // session with its first refresh token 2 + 2 (a transaction), the counters settled 1, the
    // event 1, the new-device notice's cap 1.
    assert_eq!(written(&p.faults), 10.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_a_known_device_writes_eight_units() {
    let p = pair().await;
    p.healthy.signup("john_doe", "john@example.com", STRONG).await;
    let first = p.healthy.login("john@example.com", STRONG).await;
    let device = first.body["device_token"].as_str().unwrap().to_string();
    p.faults.fail_from(usize::MAX);
    let body = json!({"email": "john@example.com", "password": STRONG, "device_token": device});
    let r = p.faulty.post(Endpoint::Login, body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["device_token"].as_str(), Some(device.as_str()));
    // The client's limit 1, the attempt (on the device's own counter) 1, the check and the
    // session 4, the device's counter cleared with its trust renewed 1, the event 1.
    assert_eq!(written(&p.faults), 8.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_first_refresh_writes_four_units_and_the_next_six() {
    let p = pair().await;
    p.healthy.signup("john_doe", "john@example.com", STRONG).await;
    let login = p.healthy.login("john@example.com", STRONG).await;
    p.faults.fail_from(usize::MAX);
    let r = p.faulty.refresh(&refresh(&login)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The first token is rotated in its session's item (with the session's last use), beside
    // the successor's Put: a transaction of two items.
    assert_eq!(written(&p.faults), 4.0);
    p.faults.fail_from(usize::MAX);
    let r = p.faulty.refresh(&refresh(&r)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A later token has an item of its own: the old one, the successor, the session.
    assert_eq!(written(&p.faults), 6.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_sign_in_from_a_new_device_writes_eleven_units() {
    let p = pair().await;
    let (access, _, _) = p.healthy.verified_user("john_doe").await;
    let mut key = p.healthy.add_passkey(&access).await;
    // Past the cut-off the first factor set (sessions begun before it end).
    p.healthy.clock.advance_ms(2);
    let options = p.faulty.passkey_login_options().await;
    let got = crate::helpers::passkeys::authenticator(
        "get",
        &crate::helpers::passkeys::getting(&options.body["publicKey"], &key, json!({})),
    );
    key["sign_count"] = json!(key["sign_count"].as_u64().unwrap() + 1);
    p.faults.fail_from(usize::MAX);
    let challenge_id = options.body["challenge_id"].as_str().unwrap();
    let r = p.faulty.passkey_login(challenge_id, &got["credential"]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The client's limit 1, the challenge spent 1, the device's trust 1; a transaction of the
    // passkey's counter, the account check and the session with its first refresh token 2 each
    // (the code step's counter only if there is one); the event 1; the new-device notice's cap 1.
    assert_eq!(written(&p.faults), 11.0);
}
