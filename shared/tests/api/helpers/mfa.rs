//! Helpers for second factors: codes come from an independent TOTP implementation (PyPI's
//! `pyotp`, in the test virtualenv `./infra/test.sh` makes), never from authyy's own.

use super::*;

/// The RFC 6238 code of base32 `secret` at `unix` seconds, computed by pyotp.
pub fn totp_at(secret: &str, unix: i64) -> String {
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, pyotp; print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))",
            secret,
            &unix.to_string(),
        ])
        .output()
        .expect("python with pyotp (./infra/test.sh installs it)");
    assert!(
        out.status.success(),
        "pyotp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A signed-in user with a second factor, and what it took.
pub struct Enrolled {
    pub email: String,
    pub id: u64,
    pub secret: String,
    /// The answer of the confirmation (recovery codes and the new session's tokens).
    pub confirmed: Resp,
}

impl Enrolled {
    pub fn access(&self) -> String {
        access(&self.confirmed)
    }
    pub fn recovery_codes(&self) -> Vec<String> {
        self.confirmed.body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    }
}

impl TestApp {
    /// The code of `secret` now (by the app's clock).
    pub fn code_now(&self, secret: &str) -> String {
        totp_at(secret, self.clock.now())
    }

    /// Moves the clock to the next 30-second step and answers its code (a code is accepted only
    /// for a step later than the last accepted one).
    pub fn next_code(&self, secret: &str) -> String {
        self.clock.advance_secs(30);
        self.code_now(secret)
    }

    /// Signs up `username`, verifies the address and logs in: (access, refresh, id).
    pub async fn verified_user(&self, username: &str) -> (String, String, u64) {
        let email = format!("{username}@example.com");
        let r = self.signup(username, &email, STRONG).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let token = self.verification_token(&email).await;
        assert_eq!(self.verify_email(&token).await.status, 200);
        let r = self.login(&email, STRONG).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        (access(&r), refresh(&r), r.body["user"]["id"].as_u64().unwrap())
    }

    pub async fn start_totp(&self, access: &str) -> Resp {
        self.raw(Endpoint::StartTotp, None, Some(access)).await
    }

    pub async fn confirm_totp(&self, access: &str, code: &str, password: &str) -> Resp {
        let body = json!({"code": code, "password": password});
        self.with_body_of(Endpoint::ConfirmTotp, body, access).await
    }

    pub async fn disable_totp(&self, access: &str, password: &str) -> Resp {
        self.with_body_of(Endpoint::DisableTotp, json!({"password": password}), access)
            .await
    }

    pub async fn new_recovery_codes(&self, access: &str, password: &str) -> Resp {
        self.with_body_of(Endpoint::RecoveryCodes, json!({"password": password}), access)
            .await
    }

    /// A verified user `username` with TOTP on (confirmed with the code of the current step).
    pub async fn enrolled(&self, username: &str) -> Enrolled {
        let (access, _, id) = self.verified_user(username).await;
        let started = self.start_totp(&access).await;
        assert_eq!(started.status, 200, "{:?}", started.body);
        let secret = started.body["secret"].as_str().unwrap().to_string();
        let confirmed = self.confirm_totp(&access, &self.code_now(&secret), STRONG).await;
        assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
        // Sessions that begin in the very millisecond of the confirmation's cut-off end with it.
        self.clock.advance_ms(1);
        Enrolled {
            email: format!("{username}@example.com"),
            id,
            secret,
            confirmed,
        }
    }

    /// Login's first step for an account with a second factor: the `mfa_token`.
    pub async fn mfa_token(&self, email: &str) -> String {
        let r = self.login(email, STRONG).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["mfa_required"], true, "{:?}", r.body);
        r.body["mfa_token"].as_str().unwrap().to_string()
    }

    pub async fn login_mfa(&self, mfa_token: &str, code: &str) -> Resp {
        self.post(Endpoint::LoginMfa, json!({"mfa_token": mfa_token, "code": code}))
            .await
    }

    pub async fn login_recovery(&self, mfa_token: &str, recovery_code: &str) -> Resp {
        let body = json!({"mfa_token": mfa_token, "recovery_code": recovery_code});
        self.post(Endpoint::LoginMfa, body).await
    }

    /// Both steps of a login with the next step's code: the token envelope.
    pub async fn login_with_code(&self, email: &str, secret: &str) -> Resp {
        let token = self.mfa_token(email).await;
        let r = self.login_mfa(&token, &self.next_code(secret)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r
    }
}
