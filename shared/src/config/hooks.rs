//! Hooks: the team's own code, called at signup (`AUTH_HOOK_BEFORE_SIGNUP`), at every token
//! issuance (`AUTH_HOOK_TOKEN`) and for an email authyy does not know (`AUTH_HOOK_USER_MIGRATION`). Each value is `lambda:<function name or ARN>` (the Lambda Invoke
//! API) or an `https://` URL (`http://` only on a loopback host) called with a Standard Webhooks
//! signature under `AUTH_HOOK_<NAME>_SECRET`, else `AUTH_HOOK_SECRET` (`whsec_` and base64).
//! `AUTH_HOOK_TIMEOUT_MS` (default 2000) bounds every call. All of it is checked at startup.

use std::time::Duration;

use base64::Engine as _;

use super::federation::is_loopback_http;

/// Where a hook runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookTarget {
    /// A Lambda function, by name or ARN (optionally with a `:qualifier`).
    Lambda(String),
    /// An HTTP endpoint, called with a Standard Webhooks signature.
    Http { url: String, secret: WebhookSecret },
}

/// A Standard Webhooks signing secret: the bytes after `whsec_`, base64-decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// `whsec_` and the base64 of at least 24 bytes (the Standard Webhooks recommendation).
    pub fn parse(text: &str) -> Result<WebhookSecret, String> {
        let encoded = text
            .strip_prefix("whsec_")
            .ok_or("a secret starts with whsec_ (then base64)")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "the part after whsec_ is not base64")?;
        if key.len() < 24 {
            return Err(format!(
                "a secret of {} bytes is too short: 24 at least",
                key.len()
            ));
        }
        Ok(WebhookSecret(key))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The hooks that are set, and their budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    pub before_signup: Option<HookTarget>,
    pub token: Option<HookTarget>,
    pub user_migration: Option<HookTarget>,
    /// Where local mode reaches the Lambda Invoke API: `AWS_ENDPOINT_URL_LAMBDA` if set, else the
    /// emulator that runs the function (`cargo lambda watch` serves the Invoke API where it
    /// serves its runtime API, which it names in `AWS_LAMBDA_RUNTIME_API`), else
    /// `http://127.0.0.1:9000`. Unused on AWS.
    pub local_lambda_endpoint: String,
    /// How long one call may take, all of it (connecting, the hook's work, reading the answer).
    pub timeout: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            before_signup: None,
            token: None,
            user_migration: None,
            local_lambda_endpoint: DEFAULT_LOCAL_LAMBDA_ENDPOINT.into(),
            timeout: Duration::from_millis(2000),
        }
    }
}

/// Where `cargo lambda watch` serves by default.
pub const DEFAULT_LOCAL_LAMBDA_ENDPOINT: &str = "http://127.0.0.1:9000";

/// [`HookSettings::local_lambda_endpoint`] from those two variables.
pub fn local_lambda_endpoint(endpoint: Option<&str>, runtime_api: Option<&str>) -> String {
    if let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) {
        return endpoint.trim_end_matches('/').to_string();
    }
    runtime_api
        .and_then(|api| {
            let rest = api.strip_prefix("http://")?;
            let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
            Some(format!("http://{authority}"))
        })
        .unwrap_or_else(|| DEFAULT_LOCAL_LAMBDA_ENDPOINT.into())
}

/// The most a hook may be given: past it a user waits too long, and API Gateway gives up at 30 s.
pub const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// A hook's value: `lambda:<name or ARN>`, or a URL, https or http on a loopback host (whose
/// secret `secret` then gives, or an error naming what is missing).
pub fn target(value: &str, secret: Option<&str>) -> Result<HookTarget, String> {
    if let Some(function) = value.strip_prefix("lambda:") {
        let valid = !function.is_empty()
            && function.len() <= 170
            && function
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
        if !valid {
            return Err(format!(
                "lambda:{function:?} names no function: a name or ARN of letters, digits, - _ : ."
            ));
        }
        return Ok(HookTarget::Lambda(function.to_string()));
    }
    let url_ok = (value.starts_with("https://") && value.len() > "https://".len()) || is_loopback_http(value);
    if !url_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{value:?} is neither lambda:<function> nor an https URL (http only on a loopback host)"
        ));
    }
    let secret = secret.ok_or("an HTTP hook needs its signing secret (AUTH_HOOK_SECRET)")?;
    Ok(HookTarget::Http {
        url: value.to_string(),
        secret: WebhookSecret::parse(secret)?,
    })
}

/// The hooks the environment sets, each checked: an error names the variable.
pub fn from_env(env: &super::Env) -> Result<HookSettings, super::ConfigError> {
    let invalid = |name: &'static str| move |reason: String| super::ConfigError::Invalid { name, reason };
    let shared_secret = env.get("AUTH_HOOK_SECRET");
    let hook =
        |name: &'static str, secret_name: &'static str| -> Result<Option<HookTarget>, super::ConfigError> {
            let Some(value) = env.get(name) else {
                return Ok(None);
            };
            let secret = env.get(secret_name).or(shared_secret);
            target(value, secret).map(Some).map_err(invalid(name))
        };
    let timeout = match env.parse::<u64>("AUTH_HOOK_TIMEOUT_MS")? {
        None => HookSettings::default().timeout,
        Some(ms) if (1..=MAX_HOOK_TIMEOUT.as_millis() as u64).contains(&ms) => Duration::from_millis(ms),
        Some(ms) => {
            return Err(invalid("AUTH_HOOK_TIMEOUT_MS")(format!(
                "{ms} ms: from 1 to {} ms",
                MAX_HOOK_TIMEOUT.as_millis()
            )))
        }
    };
    Ok(HookSettings {
        before_signup: hook("AUTH_HOOK_BEFORE_SIGNUP", "AUTH_HOOK_BEFORE_SIGNUP_SECRET")?,
        token: hook("AUTH_HOOK_TOKEN", "AUTH_HOOK_TOKEN_SECRET")?,
        user_migration: hook("AUTH_HOOK_USER_MIGRATION", "AUTH_HOOK_USER_MIGRATION_SECRET")?,
        local_lambda_endpoint: local_lambda_endpoint(
            env.get("AWS_ENDPOINT_URL_LAMBDA"),
            env.get("AWS_LAMBDA_RUNTIME_API"),
        ),
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_hook_is_a_lambda_function_or_an_https_url_with_its_secret() {
        assert_eq!(
            target("lambda:my-hook", None),
            Ok(HookTarget::Lambda("my-hook".into()))
        );
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:my-hook:live";
        assert_eq!(
            target(&format!("lambda:{arn}"), None),
            Ok(HookTarget::Lambda(arn.into()))
        );
        let http = target("https://hooks.example.com/signup", Some(SECRET)).unwrap();
        assert!(
            matches!(http, HookTarget::Http { ref url, .. } if url == "https://hooks.example.com/signup")
        );
        assert!(target("http://127.0.0.1:8080/hook", Some(SECRET)).is_ok());
    }

    #[test]
    fn a_hook_that_names_nothing_usable_is_refused_at_startup() {
        for bad in [
            "",
            "lambda:",
            "lambda:a b",
            "lambda:x/y",
            "ftp://x",
            "https://",
            "http://hooks.example.com/x",
            "my-hook",
            "https://hooks.example.com/a b",
            "https://hooks.example.com/\u{1}",
        ] {
            assert!(target(bad, Some(SECRET)).is_err(), "{bad:?}");
        }
        assert!(target("https://hooks.example.com/x", None)
            .unwrap_err()
            .contains("AUTH_HOOK_SECRET"));
    }

    #[test]
    fn each_hook_takes_its_own_secret_before_the_shared_one() {
        let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let env = super::super::Env::from_pairs([
            ("AUTH_HOOK_BEFORE_SIGNUP", "https://hooks.example.com/signup"),
            ("AUTH_HOOK_TOKEN", "https://hooks.example.com/token"),
            ("AUTH_HOOK_TOKEN_SECRET", other),
            ("AUTH_HOOK_USER_MIGRATION", "https://hooks.example.com/migrate"),
            ("AUTH_HOOK_USER_MIGRATION_SECRET", other),
            ("AUTH_HOOK_SECRET", SECRET),
            ("AUTH_HOOK_TIMEOUT_MS", "500"),
        ]);
        let settings = from_env(&env).unwrap();
        let secret_of = |t: Option<HookTarget>| match t {
            Some(HookTarget::Http { secret, .. }) => secret,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            secret_of(settings.before_signup),
            WebhookSecret::parse(SECRET).unwrap()
        );
        assert_eq!(secret_of(settings.token), WebhookSecret::parse(other).unwrap());
        assert_eq!(
            secret_of(settings.user_migration),
            WebhookSecret::parse(other).unwrap()
        );
        assert_eq!(settings.timeout, Duration::from_millis(500));
    }

    #[test]
    fn a_bad_hook_setting_is_an_error_naming_its_variable() {
        for (name, value) in [
            ("AUTH_HOOK_BEFORE_SIGNUP", "https://hooks.example.com/x"),
            ("AUTH_HOOK_TOKEN", "ftp://x"),
            ("AUTH_HOOK_TIMEOUT_MS", "0"),
            ("AUTH_HOOK_TIMEOUT_MS", "10001"),
            ("AUTH_HOOK_TIMEOUT_MS", "soon"),
            ("AUTH_HOOK_USER_MIGRATION", "http://hooks.example.com/migrate"),
        ] {
            let err = from_env(&super::super::Env::from_pairs([(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
        assert_eq!(
            from_env(&super::super::Env::from_pairs([])).unwrap(),
            HookSettings::default()
        );
    }

    #[test]
    fn the_local_invoke_api_is_the_emulator_that_runs_the_function() {
        let endpoint = local_lambda_endpoint;
        assert_eq!(
            endpoint(None, Some("http://127.0.0.1:9123/.rt/signup")),
            "http://127.0.0.1:9123"
        );
        assert_eq!(
            endpoint(
                Some("http://127.0.0.1:7000/"),
                Some("http://127.0.0.1:9123/.rt/x")
            ),
            "http://127.0.0.1:7000"
        );
        // On AWS the runtime API is host:port with no scheme: no emulator there.
        assert_eq!(
            endpoint(None, Some("127.0.0.1:9001")),
            DEFAULT_LOCAL_LAMBDA_ENDPOINT
        );
        assert_eq!(endpoint(None, Some("http://")), DEFAULT_LOCAL_LAMBDA_ENDPOINT);
        assert_eq!(endpoint(Some(""), None), DEFAULT_LOCAL_LAMBDA_ENDPOINT);
        let env =
            super::super::Env::from_pairs([("AWS_LAMBDA_RUNTIME_API", "http://127.0.0.1:9555/.rt/login")]);
        assert_eq!(
            from_env(&env).unwrap().local_lambda_endpoint,
            "http://127.0.0.1:9555"
        );
    }

    #[test]
    fn a_secret_is_whsec_and_the_base64_of_24_bytes_or_more() {
        assert_eq!(WebhookSecret::parse(SECRET).unwrap().key().len(), 24);
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_!!!!",
            "whsec_c2hvcnQ=",
        ] {
            assert!(WebhookSecret::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            format!("{:?}", WebhookSecret::parse(SECRET).unwrap()),
            "WebhookSecret(..)"
        );
    }
}
