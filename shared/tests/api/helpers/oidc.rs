//! A real OpenID provider for the federation tests: node's `oidc-provider` (infra/oidc), started
//! once per test run on 127.0.0.1, with a client registered for authyy; and a driver that goes
//! through its login and consent pages as a browser would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use authyy::config::federation::{ClientSecret, Provider, ProviderKind};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::*;

/// The callback the provider sends the browser back to (the test issuer's).
pub const CALLBACK: &str = "http://localhost:9000/auth/oauth/local/callback";
/// A frontend page sign-ins may end at (local mode's default).
pub const FRONTEND: &str = "http://localhost:3000/callback";
/// The frontend's PKCE verifier in these tests, and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The provider's issuer, started on first use (it ends with the test process: it exits when
/// its standard input closes).
pub fn issuer() -> &'static str {
    static ISSUER: OnceLock<String> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let dir = repo_root().join("infra/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the test provider is not installed: run ./infra/test.sh (or npm ci in infra/oidc)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg("0")
            .arg(CALLBACK)
            .env("AUTHYY_EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the test provider");
        let stdout = child.stdout.take().expect("its output");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("it says where it listens");
        let said: Value = serde_json::from_str(&line).expect("a JSON line");
        // Kept open for the life of the process; when the process ends, the provider does.
        std::mem::forget(child.stdin.take());
        std::mem::forget(child);
        said["issuer"].as_str().expect("an issuer").to_string()
    })
}

/// The provider as authyy's configuration names it (`local`).
pub fn provider(link_by_email: bool) -> Provider {
    Provider {
        name: "local".into(),
        kind: ProviderKind::Oidc {
            issuer: issuer().to_string(),
        },
        client_id: "authyy".into(),
        client_secret: ClientSecret::Value("authyy-test-secret".into()),
        scopes: "openid email profile".into(),
        link_by_email,
    }
}

/// A configuration with the test provider.
pub fn config(link_by_email: bool) -> Config {
    with(|c| c.oauth_providers = vec![provider(link_by_email)])
}

/// Signs in at the provider's pages as `login` from `authorize_url`; the URL the provider sent
/// the browser back to (the callback with `code` and `state`).
pub fn drive(authorize_url: &str, login: &str, choice: &str) -> String {
    let out = Command::new("node")
        .arg(repo_root().join("infra/oidc/drive.mjs"))
        .args([authorize_url, login, choice])
        .output()
        .expect("node drives the provider's pages");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("a URL").trim().to_string()
}

impl TestApp {
    /// `GET /auth/oauth/local/authorize` for `redirect_to` with the test challenge.
    pub async fn oauth_authorize(&self, redirect_to: &str) -> Resp {
        let query = format!(
            "redirect_to={}&code_challenge={}",
            form_urlencoded::byte_serialize(redirect_to.as_bytes()).collect::<String>(),
            challenge(VERIFIER)
        );
        let req = event(
            "GET",
            "/auth/oauth/local/authorize",
            &query,
            &[],
            None,
            "192.0.2.1",
        );
        self.call(Endpoint::OAuthAuthorize, req).await
    }

    /// `GET` the callback URL the provider sent the browser to.
    pub async fn oauth_callback(&self, url: &str) -> Resp {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let req = event("GET", "/auth/oauth/local/callback", query, &[], None, "192.0.2.1");
        self.call(Endpoint::OAuthCallback, req).await
    }

    /// The whole front channel as `login`: authorize, the provider's pages, the callback. The
    /// callback's answer (a 302 to the frontend).
    pub async fn oauth_front_channel(&self, login: &str) -> Resp {
        let started = self.oauth_authorize(FRONTEND).await;
        assert_eq!(started.status, 302, "{:?}", started.body);
        let at_provider = started.header("location").expect("a location").to_string();
        let back = tokio::task::spawn_blocking({
            let login = login.to_string();
            move || drive(&at_provider, &login, "consent")
        })
        .await
        .expect("the driver ran");
        self.oauth_callback(&back).await
    }

    /// `POST /auth/oauth/token`.
    pub async fn oauth_token(&self, code: &str, verifier: &str) -> Resp {
        self.post(
            Endpoint::OAuthToken,
            json!({"code": code, "code_verifier": verifier}),
        )
        .await
    }

    /// A provider sign-in as `login`, to the token answer.
    pub async fn oauth_sign_in(&self, login: &str) -> Resp {
        let back = self.oauth_front_channel(login).await;
        let code =
            fragment(&back, "code").unwrap_or_else(|| panic!("no code: {:?}", back.header("location")));
        self.oauth_token(&code, VERIFIER).await
    }
}

/// The value of `name` in the fragment of a redirect's location.
pub fn fragment(resp: &Resp, name: &str) -> Option<String> {
    let location = resp.header("location")?;
    let (_, fragment) = location.split_once('#')?;
    form_urlencoded::parse(fragment.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
