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

/// The GitHub stand-in's base URL (shared/tests/api/github_standin.py), started on first use;
/// it ends with the test process.
pub fn github_base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/github_standin.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["authyy-github", "github-test-secret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs the GitHub stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut line)
            .expect("it says where it listens");
        let said: Value = serde_json::from_str(&line).expect("a JSON line");
        std::mem::forget(child.stdin.take());
        std::mem::forget(child);
        said["base"].as_str().expect("a base URL").to_string()
    })
}

/// The GitHub stand-in as authyy's configuration names it (`gh`).
pub fn github_provider() -> Provider {
    let base = github_base();
    Provider {
        name: "gh".into(),
        kind: ProviderKind::Github {
            authorize_url: format!("{base}/login/oauth/authorize"),
            token_url: format!("{base}/login/oauth/access_token"),
            api_url: base.to_string(),
        },
        client_id: "authyy-github".into(),
        client_secret: ClientSecret::Value("github-test-secret".into()),
        scopes: "read:user user:email".into(),
        link_by_email: false,
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
        self.oauth_authorize_at("local", redirect_to).await
    }

    /// `GET /auth/oauth/{provider}/authorize` for `redirect_to` with the test challenge.
    pub async fn oauth_authorize_at(&self, provider: &str, redirect_to: &str) -> Resp {
        let query = format!(
            "redirect_to={}&code_challenge={}",
            form_urlencoded::byte_serialize(redirect_to.as_bytes()).collect::<String>(),
            challenge(VERIFIER)
        );
        let path = format!("/auth/oauth/{provider}/authorize");
        let req = event("GET", &path, &query, &[], None, "192.0.2.1");
        self.call(Endpoint::OAuthAuthorize, req).await
    }

    /// `GET` the callback URL the provider sent the browser to.
    pub async fn oauth_callback(&self, url: &str) -> Resp {
        let (path, query) = url
            .trim_start_matches("http://localhost:9000")
            .split_once('?')
            .unwrap_or((url, ""));
        let req = event("GET", path, query, &[], None, "192.0.2.1");
        self.call(Endpoint::OAuthCallback, req).await
    }

    /// The whole front channel as `login`: authorize, the provider's pages, the callback. The
    /// callback's answer (a 302 to the frontend).
    pub async fn oauth_front_channel(&self, login: &str) -> Resp {
        self.oauth_front_channel_at("local", login).await
    }

    /// [`TestApp::oauth_front_channel`] at `provider`.
    pub async fn oauth_front_channel_at(&self, provider: &str, login: &str) -> Resp {
        let started = self.oauth_authorize_at(provider, FRONTEND).await;
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
        self.oauth_sign_in_at("local", login).await
    }

    /// [`TestApp::oauth_sign_in`] at `provider`.
    pub async fn oauth_sign_in_at(&self, provider: &str, login: &str) -> Resp {
        let back = self.oauth_front_channel_at(provider, login).await;
        let code =
            fragment(&back, "code").unwrap_or_else(|| panic!("no code: {:?}", back.header("location")));
        self.oauth_token(&code, VERIFIER).await
    }
}

impl TestApp {
    /// `POST /auth/oauth/local/link` for the test frontend, with `password` when given.
    pub async fn oauth_link(&self, access: &str, password: Option<&str>) -> Resp {
        let mut body = json!({"redirect_to": FRONTEND, "code_challenge": challenge(VERIFIER)});
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        self.call_at(
            Endpoint::LinkIdentity,
            "/auth/oauth/local/link",
            Some(body),
            access,
            "192.0.2.1",
            "tests",
        )
        .await
    }

    /// The link's front channel as `login` (the provider's pages, the callback): the callback's
    /// answer.
    pub async fn oauth_link_front_channel(&self, access: &str, login: &str) -> Resp {
        let started = self.oauth_link(access, Some(STRONG)).await;
        assert_eq!(started.status, 200, "{:?}", started.body);
        let at_provider = started.body["authorize_url"].as_str().unwrap().to_string();
        let login = login.to_string();
        let back = tokio::task::spawn_blocking(move || drive(&at_provider, &login, "consent"))
            .await
            .expect("the driver ran");
        self.oauth_callback(&back).await
    }

    /// `POST /auth/oauth/local/link/complete`.
    pub async fn complete_link(&self, access: &str, code: &str) -> Resp {
        let body = json!({"code": code, "code_verifier": VERIFIER});
        self.call_at(
            Endpoint::CompleteLink,
            "/auth/oauth/local/link/complete",
            Some(body),
            access,
            "192.0.2.1",
            "tests",
        )
        .await
    }

    /// `DELETE /auth/identities/{id}` with `body`.
    pub async fn unlink(&self, access: &str, id: &str, body: Value) -> Resp {
        let path = format!("/auth/identities/{id}");
        self.call_at(
            Endpoint::DeleteIdentity,
            &path,
            Some(body),
            access,
            "192.0.2.1",
            "tests",
        )
        .await
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
