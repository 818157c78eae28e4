//! The service's settings: what each one means and its default. They are read from the
//! environment in [`super::service_env`].

use std::path::PathBuf;
use std::time::Duration;

use super::limit::Limit;
use super::links;
use crate::domain::backoff::{Backoff, LoginRules};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    /// OWASP's recommendation for argon2id: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        HashCost {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// JWT `iss` of access tokens (AUTH_ISSUER): the API's URL ending in `/auth`, so that
    /// `issuer + "/.well-known/openid-configuration"` is the discovery document.
    pub issuer: String,
    /// The issuer is the URL the request came to (`https://<API domain>[/<stage>]/auth`), for a
    /// deployed API without a configured issuer (the AWS backend and no AUTH_ISSUER). The
    /// template cannot pass the API's own URL to its functions: it would be a circular reference.
    pub issuer_from_request: bool,
    /// JWT `aud` (AUTH_AUDIENCE).
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session family, however often it is refreshed.
    pub session_ttl: Duration,
    pub refresh_grace: Duration,
    pub reset_ttl: Duration,
    /// Link put in reset mail: `{token}` is replaced by the token, else `#token=` is appended
    /// (to a URL that already has a fragment, a hash router's `#/reset`, `?token=` or `&token=`).
    pub reset_url: String,
    /// How long a verification link works.
    pub verify_ttl: Duration,
    /// Link put in verification mail, built as [`Config::reset_url`] is.
    pub verify_url: String,
    /// Whether login refuses an account whose address is not verified (403).
    pub require_verified_email: bool,
    pub cors_origins: Vec<String>,
    pub ip_limits_enabled: bool,
    pub signup_limit: Limit,
    pub login_limit: Limit,
    pub forgot_limit: Limit,
    /// Reset mails sent per address (silently capped, so it cannot reveal accounts).
    pub forgot_per_email_limit: Limit,
    /// Verification resends per client address (like [`Config::forgot_limit`]).
    pub resend_limit: Limit,
    /// Verification mails per address: past it, resend answers the same and sends nothing.
    pub resend_per_email_limit: Limit,
    /// Notices of each kind per address: past it the change is made and the notices are folded
    /// into one summary mail at the end of the window.
    pub notice_per_email_limit: Limit,
    /// Failures allowed per (email, client network) before that network backs off.
    pub login_max_failures: u32,
    pub login_backoff_base: Duration,
    pub login_backoff_max: Duration,
    /// Failures allowed per email from all networks together before every network backs off:
    /// the cap on a guessing attack spread over many networks.
    pub login_account_max_failures: u32,
    pub login_account_backoff_base: Duration,
    pub login_account_backoff_max: Duration,
    /// How long a device token (returned by login) keeps its device trusted.
    pub login_device_ttl: Duration,
    /// How long each account's security log keeps an event (AUTH_AUDIT_RETENTION_DAYS).
    pub audit_retention: Duration,
    /// Whether a sign-in from a new device mails the address (AUTH_NEW_DEVICE_MAIL).
    pub new_device_mail: bool,
    /// The frontend page that lists the account's sessions, linked from the new sign-in mail
    /// (AUTH_SESSIONS_URL; empty for no link).
    pub sessions_url: Option<String>,
    pub password_min_score: u8,
    pub hash_cost: HashCost,
    pub mail_from: String,
    /// The name mail signs with and speaks of ("Confirm your email for ...").
    pub product_name: String,
    /// The display name of the sender (the product's name unless set).
    pub mail_sender_name: String,
    /// The issuer authenticator apps show for a TOTP enrolment (the product's name unless set).
    pub mfa_issuer: String,
    /// Whether the `admin` scope (and the admin routes) need a session that used a second factor.
    pub admin_requires_mfa: bool,
    /// The passkeys' relying party: the domain they are bound to, the name authenticators show,
    /// and the web origins allowed to use them (each on the domain or a subdomain of it).
    pub webauthn_rp_id: String,
    pub webauthn_rp_name: String,
    pub webauthn_origins: Vec<String>,
    /// The providers users can sign in with (AUTH_OIDC_PROVIDERS), by name.
    pub oauth_providers: Vec<super::federation::Provider>,
    /// The frontend pages a provider sign-in may end at (AUTH_OAUTH_REDIRECT_URLS), compared
    /// with `redirect_to` as strings.
    pub oauth_redirect_urls: Vec<String>,
    /// The hooks that run the team's own code (AUTH_HOOK_*), and their budget.
    pub hooks: super::hooks::HookSettings,
    /// Passkey option requests (registration and sign-in) per client address.
    pub passkey_options_limit: Limit,
    pub sqlite_path: PathBuf,
    pub outbox_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: "http://localhost:9000/auth".into(),
            issuer_from_request: false,
            audience: "authyy-clients".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            reset_ttl: Duration::from_secs(30 * 60),
            reset_url: "http://localhost:3000/reset-password".into(),
            verify_ttl: Duration::from_secs(24 * 3600),
            verify_url: "http://localhost:3000/verify-email".into(),
            require_verified_email: false,
            cors_origins: vec![],
            ip_limits_enabled: true,
            signup_limit: Limit {
                max: 10,
                window_secs: 3600,
            },
            login_limit: Limit {
                max: 30,
                window_secs: 60,
            },
            forgot_limit: Limit {
                max: 5,
                window_secs: 900,
            },
            forgot_per_email_limit: Limit {
                max: 3,
                window_secs: 900,
            },
            resend_limit: Limit {
                max: 5,
                window_secs: 900,
            },
            resend_per_email_limit: Limit {
                max: 3,
                window_secs: 900,
            },
            notice_per_email_limit: Limit {
                max: 3,
                window_secs: 900,
            },
            login_max_failures: 5,
            login_backoff_base: Duration::from_secs(1),
            login_backoff_max: Duration::from_secs(15 * 60),
            login_account_max_failures: 100,
            login_account_backoff_base: Duration::from_secs(1),
            login_account_backoff_max: Duration::from_secs(15 * 60),
            login_device_ttl: Duration::from_secs(90 * 24 * 3600),
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            new_device_mail: true,
            sessions_url: Some("http://localhost:3000/account".into()),
            password_min_score: 3,
            hash_cost: HashCost::default(),
            mail_from: "no-reply@localhost".into(),
            product_name: "authyy".into(),
            mfa_issuer: "authyy".into(),
            admin_requires_mfa: false,
            webauthn_rp_id: "localhost".into(),
            webauthn_rp_name: "authyy".into(),
            webauthn_origins: vec!["http://localhost:3000".into(), "http://localhost:5173".into()],
            oauth_providers: vec![],
            oauth_redirect_urls: vec![
                "http://localhost:3000/callback".into(),
                "http://localhost:5173/callback".into(),
            ],
            hooks: super::hooks::HookSettings::default(),
            passkey_options_limit: Limit {
                max: 30,
                window_secs: 60,
            },
            mail_sender_name: "authyy".into(),
            sqlite_path: PathBuf::from(".local/authyy.sqlite3"),
            outbox_dir: PathBuf::from(".local/outbox"),
        }
    }
}

impl Config {
    /// Seconds a client network must wait after `failures` failed logins in a row from it.
    pub fn login_backoff_secs(&self, failures: u32) -> i64 {
        self.login_rules().network.secs(failures)
    }

    /// The failed-login counters and their schedules.
    pub fn login_rules(&self) -> LoginRules {
        let network = Backoff {
            free: self.login_max_failures,
            base_secs: self.login_backoff_base.as_secs(),
            max_secs: self.login_backoff_max.as_secs(),
        };
        let account = Backoff {
            free: self.login_account_max_failures,
            base_secs: self.login_account_backoff_base.as_secs(),
            max_secs: self.login_account_backoff_max.as_secs(),
        };
        LoginRules {
            network,
            account,
            // Kept an hour past the longest wait, so a count is forgotten only after quiet.
            keep_secs: network.max_secs.max(account.max_secs) as i64 + 3600,
        }
    }

    /// The reset link for `token`, built from configuration only (never from request headers).
    pub fn reset_link(&self, token: &str) -> String {
        links::action_link(&self.reset_url, token)
    }

    /// The verification link for `token`, built from configuration only, with the address it
    /// confirms and the account's username for the page to show before the user confirms.
    pub fn verify_link(&self, token: &str, email: &str, account: &str) -> String {
        links::action_link_showing(&self.verify_url, token, &[("email", email), ("account", account)])
    }
}
