//! Sign-in with other providers: AUTH_OIDC_PROVIDERS (a JSON object, name -> provider) and
//! AUTH_OAUTH_REDIRECT_URLS (the frontend pages a provider sign-in may end at), each checked at
//! startup so that a typo is an error naming the variable, never a sign-in failing later.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A provider users can sign in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Its name in the API's paths (`/auth/oauth/<name>/...`).
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// The scopes asked for, space-separated.
    pub scopes: String,
    /// Whether a new identity of this provider joins an existing account with the same verified
    /// email (never an account with a second factor, or an admin's).
    pub link_by_email: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// An OpenID provider: its endpoints come from `<issuer>/.well-known/openid-configuration`.
    Oidc { issuer: String },
    /// GitHub's OAuth (no id token): its endpoints, settable for GitHub Enterprise and tests.
    Github {
        authorize_url: String,
        token_url: String,
        api_url: String,
    },
}

/// How the client secret is given.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecret {
    Value(String),
    /// A Secrets Manager secret id: the secret string is the client secret.
    Reference(String),
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientSecret::Value(_) => f.write_str("Value(..)"),
            ClientSecret::Reference(id) => write!(f, "Reference({id:?})"),
        }
    }
}

impl Provider {
    /// What identities of this provider are keyed by, with the provider's subject: an OpenID
    /// provider's issuer, or GitHub's API URL.
    pub fn identity_issuer(&self) -> &str {
        match &self.kind {
            ProviderKind::Oidc { issuer } => issuer,
            ProviderKind::Github { api_url, .. } => api_url,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    kind: String,
    issuer: Option<String>,
    client_id: String,
    client_secret: Option<String>,
    client_secret_ref: Option<String>,
    scopes: Option<String>,
    #[serde(default)]
    link_by_email: bool,
    authorize_url: Option<String>,
    token_url: Option<String>,
    api_url: Option<String>,
}

/// Whether `url` (its trailing slashes trimmed, so never a bare `https://`) may be a provider's
/// endpoint or issuer: https, or http on a loopback host (a provider beside a test or a local
/// setup).
fn is_provider_url(url: &str) -> bool {
    url.starts_with("https://") || is_loopback_http(url)
}

/// `http://localhost`, `http://127.0.0.1` or `http://[::1]`, with any port and path.
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority
            .split_once(']')
            .map_or("", |(h, _)| h)
            .trim_start_matches('[')
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The providers of AUTH_OIDC_PROVIDERS, by name.
pub fn providers(json: &str) -> Result<Vec<Provider>, String> {
    let raw: BTreeMap<String, RawProvider> =
        serde_json::from_str(json).map_err(|e| format!("not a JSON object of providers: {e}"))?;
    raw.into_iter().map(|(name, raw)| provider(name, raw)).collect()
}

fn provider(name: String, raw: RawProvider) -> Result<Provider, String> {
    if !is_name(&name) {
        return Err(format!(
            "provider name {name:?}: 1 to 32 of a-z, 0-9, - and _ (it is a path segment)"
        ));
    }
    let url = |field: &str, value: Option<String>, default: &str| -> Result<String, String> {
        let value = value.unwrap_or_else(|| default.to_string());
        let value = value.trim_end_matches('/').to_string();
        if is_provider_url(&value) {
            Ok(value)
        } else {
            Err(format!(
                "provider {name}: {field} {value:?} must be an https URL (http only on a loopback host)"
            ))
        }
    };
    let (kind, default_scopes) = match raw.kind.as_str() {
        "oidc" => {
            if raw.authorize_url.is_some() || raw.token_url.is_some() || raw.api_url.is_some() {
                return Err(format!(
                    "provider {name}: an oidc provider's endpoints come from its discovery document; \
                     give only its issuer"
                ));
            }
            let issuer = raw
                .issuer
                .ok_or_else(|| format!("provider {name}: an oidc provider needs its issuer"))?;
            (
                ProviderKind::Oidc {
                    issuer: url("issuer", Some(issuer), "")?,
                },
                "openid email profile",
            )
        }
        "github" => {
            if raw.issuer.is_some() {
                return Err(format!("provider {name}: a github provider has no issuer"));
            }
            (
                ProviderKind::Github {
                    authorize_url: url(
                        "authorize_url",
                        raw.authorize_url,
                        "https://github.com/login/oauth/authorize",
                    )?,
                    token_url: url(
                        "token_url",
                        raw.token_url,
                        "https://github.com/login/oauth/access_token",
                    )?,
                    api_url: url("api_url", raw.api_url, "https://api.github.com")?,
                },
                "read:user user:email",
            )
        }
        other => return Err(format!("provider {name}: kind {other:?} is not oidc or github")),
    };
    let client_secret = match (raw.client_secret, raw.client_secret_ref) {
        (Some(secret), None) if !secret.is_empty() => ClientSecret::Value(secret),
        (None, Some(id)) if !id.is_empty() => ClientSecret::Reference(id),
        _ => {
            return Err(format!(
                "provider {name}: give exactly one of client_secret and client_secret_ref"
            ))
        }
    };
    if raw.client_id.is_empty() || raw.client_id.chars().any(char::is_control) {
        return Err(format!("provider {name}: client_id is empty"));
    }
    let scopes = raw.scopes.unwrap_or_else(|| default_scopes.to_string());
    let scopes = scopes.split_whitespace().collect::<Vec<_>>().join(" ");
    if matches!(kind, ProviderKind::Oidc { .. }) && !scopes.split(' ').any(|s| s == "openid") {
        return Err(format!(
            "provider {name}: an oidc provider's scopes must include openid"
        ));
    }
    Ok(Provider {
        name,
        kind,
        client_id: raw.client_id,
        client_secret,
        scopes,
        link_by_email: raw.link_by_email,
    })
}

/// The frontend pages of AUTH_OAUTH_REDIRECT_URLS (comma-separated): absolute URLs without a
/// fragment, https or http on a loopback host.
pub fn redirect_urls(list: &str) -> Result<Vec<String>, String> {
    let mut urls = vec![];
    for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let host_and_path = url
            .strip_prefix("https://")
            .filter(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if host_and_path.is_none() && !is_loopback_http(url) {
            return Err(format!(
                "{url:?}: an https URL of the frontend's page (http only on localhost)"
            ));
        }
        if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{url:?}: no fragment or spaces (the answer goes in the fragment)"
            ));
        }
        urls.push(url.to_string());
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oidc_provider_reads_its_issuer_and_defaults_its_scopes() {
        let p = providers(
            r#"{"google": {"kind": "oidc", "issuer": "https://accounts.google.com/", "client_id": "c", "client_secret": "s"}}"#,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "google");
        assert_eq!(
            p[0].kind,
            ProviderKind::Oidc {
                issuer: "https://accounts.google.com".into()
            }
        );
        assert_eq!(p[0].scopes, "openid email profile");
        assert!(!p[0].link_by_email, "linking by email is off unless asked for");
        assert_eq!(p[0].client_secret, ClientSecret::Value("s".into()));
    }

    #[test]
    fn a_github_provider_has_githubs_endpoints_unless_given() {
        let p = providers(
            r#"{"github": {"kind": "github", "client_id": "c", "client_secret_ref": "authyy/github"}}"#,
        )
        .unwrap();
        assert_eq!(
            p[0].kind,
            ProviderKind::Github {
                authorize_url: "https://github.com/login/oauth/authorize".into(),
                token_url: "https://github.com/login/oauth/access_token".into(),
                api_url: "https://api.github.com".into(),
            }
        );
        assert_eq!(p[0].identity_issuer(), "https://api.github.com");
        assert_eq!(p[0].scopes, "read:user user:email");
        assert_eq!(
            p[0].client_secret,
            ClientSecret::Reference("authyy/github".into())
        );
    }

    #[test]
    fn malformed_providers_are_refused_with_a_reason() {
        for (bad, reason) in [
            ("[]", "JSON object"),
            (
                r#"{"Bad Name": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s"}}"#,
                "a-z",
            ),
            (
                r#"{"x": {"kind": "saml", "client_id": "c", "client_secret": "s"}}"#,
                "not oidc or github",
            ),
            (
                r#"{"x": {"kind": "oidc", "client_id": "c", "client_secret": "s"}}"#,
                "needs its issuer",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "http://example.com", "client_id": "c", "client_secret": "s"}}"#,
                "https",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c"}}"#,
                "exactly one",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": ""}}"#,
                "exactly one",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret_ref": ""}}"#,
                "exactly one",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https:///", "client_id": "c", "client_secret": "s"}}"#,
                "https",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s", "client_secret_ref": "r"}}"#,
                "exactly one",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "", "client_secret": "s"}}"#,
                "client_id",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s", "scopes": "email"}}"#,
                "openid",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s", "token_url": "https://y"}}"#,
                "discovery",
            ),
            (
                r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s", "extra": 1}}"#,
                "unknown field",
            ),
        ] {
            let err = providers(bad).unwrap_err();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn a_provider_name_is_a_path_segment_of_lowercase_digits_dashes_and_underscores() {
        let entry = r#"{"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s"}"#;
        for ok in ["google", "okta-2", "my_idp", "a"] {
            assert!(providers(&format!(r#"{{"{ok}": {entry}}}"#)).is_ok(), "{ok}");
        }
        for bad in ["", "Google", "my idp", "a/b", "é", &"a".repeat(33)] {
            assert!(providers(&format!(r#"{{"{bad}": {entry}}}"#)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_secret_never_shows_in_debug_output() {
        let p = providers(
            r#"{"x": {"kind": "oidc", "issuer": "https://x", "client_id": "c", "client_secret": "s3cr3t-value"}}"#,
        )
        .unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("Value(..)"), "{shown}");
        let by_ref = format!("{:?}", ClientSecret::Reference("authyy/x".into()));
        assert_eq!(by_ref, r#"Reference("authyy/x")"#);
    }

    #[test]
    fn http_is_allowed_only_on_loopback_hosts() {
        for ok in [
            "http://localhost:3000/cb",
            "http://127.0.0.1/x",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback_http(ok), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://localhost.evil.com/",
            "http://127.0.0.2",
            "https://localhost",
        ] {
            assert!(!is_loopback_http(bad), "{bad}");
        }
    }

    #[test]
    fn redirect_urls_are_absolute_without_a_fragment() {
        assert_eq!(
            redirect_urls("https://app.example.com/callback, http://localhost:5173/callback").unwrap(),
            [
                "https://app.example.com/callback",
                "http://localhost:5173/callback"
            ]
        );
        for bad in [
            "/callback",
            "http://app.example.com/cb",
            "https://app.example.com/#/cb",
            "https://",
            "https://app.example.com/a b",
            "https://app.example.com/\u{7}",
        ] {
            assert!(redirect_urls(bad).is_err(), "{bad}");
        }
    }
}
