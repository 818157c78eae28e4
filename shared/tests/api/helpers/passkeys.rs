//! Helpers for passkeys: credentials come from a software authenticator written apart from
//! authyy (`tests/api/authenticator.py`, on PyPI's cryptography and cbor2), never from its code.

use super::*;

/// What `authenticator.py create` made: the credential to register, and the key to sign in with.
#[derive(Debug, Clone)]
pub struct Made {
    pub credential: Value,
    pub key: Value,
}

/// Runs the software authenticator: `create` or `get`, with `request` on its standard input.
pub fn authenticator(command: &str, request: &Value) -> Value {
    use std::io::Write;
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/authenticator.py");
    let mut child = std::process::Command::new(python)
        .args([script, command])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python with cryptography and cbor2 (./infra/test.sh installs them)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "authenticator.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The origin the default configuration allows.
pub const ORIGIN: &str = "http://localhost:3000";

/// A `create` request for `options` from the allowed origin, with `changes` merged in.
pub fn creating(options: &Value, changes: Value) -> Value {
    let mut request = json!({"options": options, "origin": ORIGIN, "alg": -7, "fmt": "none"});
    merge(&mut request, changes);
    request
}

/// A `get` request for `options` with `key`, from the allowed origin, with `changes` merged in.
pub fn getting(options: &Value, key: &Value, changes: Value) -> Value {
    let mut request = json!({"options": options, "origin": ORIGIN, "key": key});
    merge(&mut request, changes);
    request
}

fn merge(into: &mut Value, changes: Value) {
    if let (Some(into), Value::Object(changes)) = (into.as_object_mut(), changes) {
        into.extend(changes);
    }
}

impl TestApp {
    pub async fn passkey_options(&self, access: &str) -> Resp {
        self.raw(Endpoint::PasskeyRegisterOptions, None, Some(access))
            .await
    }

    pub async fn register_passkey(&self, access: &str, challenge_id: &str, credential: &Value) -> Resp {
        let body = json!({"challenge_id": challenge_id, "credential": credential, "password": STRONG});
        let r = self.with_body_of(Endpoint::RegisterPasskey, body, access).await;
        // Sessions that begin at or before a first factor's cut-off end with it: this clock
        // stands still, so it moves past it.
        self.clock.advance_ms(2);
        r
    }

    /// Options, the authenticator's `create` with `changes`, and the registration.
    pub async fn add_passkey_with(&self, access: &str, changes: Value) -> (Resp, Made) {
        let options = self.passkey_options(access).await;
        assert_eq!(options.status, 200, "{:?}", options.body);
        let made = authenticator("create", &creating(&options.body["publicKey"], changes));
        let made = Made {
            credential: made["credential"].clone(),
            key: made["key"].clone(),
        };
        let challenge_id = options.body["challenge_id"].as_str().unwrap();
        let r = self
            .register_passkey(access, challenge_id, &made.credential)
            .await;
        (r, made)
    }

    /// Each registration, its authenticator's `create` changed as its case says, is refused as
    /// `Invalid passkey registration`, and the account is left with no passkey.
    pub async fn refuses_each_registration(&self, access: &str, cases: Vec<(&str, Value)>) {
        for (case, changes) in cases {
            let (r, _) = self.add_passkey_with(access, changes).await;
            assert_eq!(
                (r.status, r.detail()),
                (400, "Invalid passkey registration"),
                "{case}"
            );
        }
        assert_eq!(self.list_passkeys(access).await.body, json!([]));
    }

    /// A passkey registered (ES256, attestation `none`): its key.
    pub async fn add_passkey(&self, access: &str) -> Value {
        let (r, made) = self.add_passkey_with(access, json!({})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        made.key
    }

    pub async fn list_passkeys(&self, access: &str) -> Resp {
        self.get(Endpoint::ListPasskeys, access).await
    }

    pub async fn delete_passkey(&self, access: &str, id: &str) -> Resp {
        let path = format!("/auth/passkeys/{id}");
        let body = json!({"password": STRONG});
        self.call_at(
            Endpoint::DeletePasskey,
            &path,
            Some(body),
            access,
            "192.0.2.1",
            "tests",
        )
        .await
    }

    pub async fn passkey_login_options(&self) -> Resp {
        self.raw(Endpoint::PasskeyLoginOptions, None, None).await
    }

    pub async fn passkey_login(&self, challenge_id: &str, credential: &Value) -> Resp {
        let body = json!({"challenge_id": challenge_id, "credential": credential});
        self.post(Endpoint::PasskeyLogin, body).await
    }

    /// Options, the authenticator's `get` with `key` and `changes`, and the sign-in.
    pub async fn sign_in_with(&self, key: &Value, changes: Value) -> Resp {
        let options = self.passkey_login_options().await;
        assert_eq!(options.status, 200, "{:?}", options.body);
        let made = authenticator("get", &getting(&options.body["publicKey"], key, changes));
        let challenge_id = options.body["challenge_id"].as_str().unwrap();
        self.passkey_login(challenge_id, &made["credential"]).await
    }

    /// A passkey sign-in that works; `key`'s counter moves on.
    pub async fn sign_in_with_passkey(&self, key: &mut Value) -> Resp {
        let r = self.sign_in_with(key, json!({})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        key["sign_count"] = json!(key["sign_count"].as_u64().unwrap() + 1);
        r
    }
}
