//! An HTTP hook for the hook tests (shared/tests/api/hook_receiver.py): started once per test
//! run on 127.0.0.1, it verifies each request's signature with the Standard Webhooks reference
//! library and answers by path.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use authyy::config::hooks::{HookSettings, HookTarget, WebhookSecret};
use authyy::hooks::{Hooks, LambdaAccess};

use super::*;

/// The secret the receiver verifies with (the Standard Webhooks specification's example).
pub const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The receiver's base URL, started on first use; it ends with the test process.
pub fn receiver() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/hook_receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(HOOK_SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs the hook receiver (with the standardwebhooks library: ./infra/test.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut line)
            .expect("it says where it listens");
        let said: Value = serde_json::from_str(&line).expect("a JSON line: is standardwebhooks installed?");
        std::mem::forget(child.stdin.take());
        std::mem::forget(child);
        said["base"].as_str().expect("a base URL").to_string()
    })
}

/// The receiver's hook at `path` (`/allow`, `/deny`, ...), signed with [`HOOK_SECRET`].
pub fn http_hook(path: &str) -> HookTarget {
    HookTarget::Http {
        url: format!("{}{path}", receiver()),
        secret: WebhookSecret::parse(HOOK_SECRET).expect("a secret"),
    }
}

/// Hook settings with these hooks (receiver paths) and a budget of 500 ms.
pub fn hook_settings(before_signup: Option<&str>, token: Option<&str>) -> HookSettings {
    settings_of(before_signup.map(http_hook), token.map(http_hook))
}

/// Hook settings with these targets and a budget of 500 ms.
fn settings_of(before_signup: Option<HookTarget>, token: Option<HookTarget>) -> HookSettings {
    HookSettings {
        before_signup,
        token,
        timeout: Duration::from_millis(500),
        ..HookSettings::default()
    }
}

/// A configuration with these hooks.
pub fn hooks_config(before_signup: Option<&str>, token: Option<&str>) -> Config {
    with(|c| c.hooks = hook_settings(before_signup, token))
}

/// What the receiver got whose body contains `text`: `[{path, event, verified}]`.
pub async fn received(text: &str) -> Vec<Value> {
    let http = authyy::outbound::OutboundHttp::new(Duration::from_secs(5));
    let encoded: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let answer = http
        .get(&format!("{}/received?contains={encoded}", receiver()), None)
        .await
        .expect("the receiver answers");
    serde_json::from_slice::<Vec<Value>>(&answer.body).expect("a JSON list")
}

impl TestApp {
    /// Runs the app's requests from now on with these hooks.
    pub fn set_hooks(&mut self, before_signup: Option<&str>, token: Option<&str>) {
        self.state.hooks = Arc::new(Hooks::new(
            hook_settings(before_signup, token),
            LambdaAccess::Local(String::new()),
        ));
    }

    /// Runs the app's requests from now on with these Lambda hooks (function names the
    /// receiver answers as the Lambda Invoke API: `metadata`, `deny`, `claims`, `crash`).
    pub fn set_lambda_hooks(&mut self, before_signup: Option<&str>, token: Option<&str>) {
        let lambda = |name: &str| HookTarget::Lambda(name.to_string());
        let settings = settings_of(before_signup.map(lambda), token.map(lambda));
        self.state.hooks = Arc::new(Hooks::new(settings, LambdaAccess::Local(receiver().to_string())));
    }

    /// Whether an account with `email` exists.
    pub async fn exists(&self, email: &str) -> bool {
        let email = authyy::domain::Email::parse(email).unwrap();
        self.state.users.user_by_email(&email).await.unwrap().is_some()
    }
}
