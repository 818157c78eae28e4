//! Reading the service's settings ([`Config`]) from the environment, each value checked.

use std::path::PathBuf;

use super::backend::BackendKind;
use super::env::Env;
use super::error::ConfigError;
use super::service::{Config, HashCost};
use super::{federation, links, origins, webauthn};

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let d = Config::default();
        let cors_origins = env
            .get("AUTH_CORS_ORIGINS")
            .map(origins::parse)
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                name: "AUTH_CORS_ORIGINS",
                reason,
            })?
            .unwrap_or_default();
        let password_min_score: u8 = env
            .parse("AUTH_PASSWORD_MIN_SCORE")?
            .unwrap_or(d.password_min_score);
        if password_min_score > 4 {
            return Err(ConfigError::Invalid {
                name: "AUTH_PASSWORD_MIN_SCORE",
                reason: "the score runs from 0 to 4".into(),
            });
        }
        let reset_url = env
            .get("AUTH_RESET_URL")
            .map(str::to_string)
            .unwrap_or(d.reset_url);
        if !links::is_absolute_http(&reset_url) {
            return Err(ConfigError::Invalid {
                name: "AUTH_RESET_URL",
                reason: "must be an absolute http(s) URL of the frontend's reset page".into(),
            });
        }
        let verify_url = env
            .get("AUTH_VERIFY_URL")
            .map(str::to_string)
            .unwrap_or(d.verify_url);
        if !links::is_absolute_http(&verify_url) {
            return Err(ConfigError::Invalid {
                name: "AUTH_VERIFY_URL",
                reason: "must be an absolute http(s) URL of the frontend's verification page".into(),
            });
        }
        let sessions_url = match env.get("AUTH_SESSIONS_URL") {
            None => d.sessions_url,
            Some("") => None,
            Some(url) if links::is_absolute_http(url) => Some(url.to_string()),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "AUTH_SESSIONS_URL",
                    reason: "must be empty or an absolute http(s) URL of the frontend's sessions page".into(),
                })
            }
        };
        let product_name = env
            .get("AUTH_PRODUCT_NAME")
            .map(str::to_string)
            .unwrap_or(d.product_name);
        let mail_sender_name = env
            .get("AUTH_MAIL_SENDER_NAME")
            .map(str::to_string)
            .unwrap_or_else(|| product_name.clone());
        let mfa_issuer = env
            .get("AUTH_MFA_ISSUER")
            .map(str::to_string)
            .unwrap_or_else(|| product_name.clone());
        if mfa_issuer.contains(':') || mfa_issuer.trim().is_empty() {
            // The issuer is the label's prefix in an otpauth URI (`issuer:account`).
            return Err(ConfigError::Invalid {
                name: "AUTH_MFA_ISSUER",
                reason: "a non-empty name without a colon".into(),
            });
        }
        for (name, value) in [
            ("AUTH_PRODUCT_NAME", &product_name),
            ("AUTH_MAIL_SENDER_NAME", &mail_sender_name),
            ("AUTH_MFA_ISSUER", &mfa_issuer),
        ] {
            if value.chars().any(char::is_control) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "a name without control characters".into(),
                });
            }
        }
        if env.get("AUTH_JWT_SECRET").is_some() {
            return Err(ConfigError::Invalid {
                name: "AUTH_JWT_SECRET",
                reason: "is no longer used: access tokens are RS256 with keys kept (and generated) in \
                         the SQLite file; unset it"
                    .into(),
            });
        }
        let issuer = env.get("AUTH_ISSUER").map(str::to_string).unwrap_or(d.issuer);
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) || !issuer.ends_with("/auth") {
            return Err(ConfigError::Invalid {
                name: "AUTH_ISSUER",
                reason: format!(
                    "must be the API's absolute URL ending in /auth, like https://api.example.com/auth (got {issuer:?})"
                ),
            });
        }
        let webauthn_rp_id = env
            .get("AUTH_WEBAUTHN_RP_ID")
            .map(webauthn::rp_id)
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                name: "AUTH_WEBAUTHN_RP_ID",
                reason,
            })?
            .unwrap_or(d.webauthn_rp_id);
        let webauthn_origins = match env.get("AUTH_WEBAUTHN_ORIGINS") {
            Some(list) => webauthn::origins_for(list, &webauthn_rp_id),
            None => webauthn::origins_for(&d.webauthn_origins.join(","), &webauthn_rp_id),
        }
        .map_err(|reason| ConfigError::Invalid {
            name: "AUTH_WEBAUTHN_ORIGINS",
            reason,
        })?;
        let webauthn_rp_name = env
            .get("AUTH_WEBAUTHN_RP_NAME")
            .map(str::to_string)
            .unwrap_or_else(|| product_name.clone());
        if webauthn_rp_name.trim().is_empty() || webauthn_rp_name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid {
                name: "AUTH_WEBAUTHN_RP_NAME",
                reason: "a non-empty name without control characters".into(),
            });
        }
        let oauth_providers = env
            .get("AUTH_OIDC_PROVIDERS")
            .map(federation::providers)
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                name: "AUTH_OIDC_PROVIDERS",
                reason,
            })?
            .unwrap_or_default();
        // Local mode's frontends by default; a deployment names its own.
        let oauth_redirect_urls = match env.get("AUTH_OAUTH_REDIRECT_URLS") {
            Some(list) => federation::redirect_urls(list).map_err(|reason| ConfigError::Invalid {
                name: "AUTH_OAUTH_REDIRECT_URLS",
                reason,
            })?,
            None if BackendKind::from_env(env)? == BackendKind::Aws => vec![],
            None => d.oauth_redirect_urls,
        };
        let config = Config {
            issuer_from_request: env.get("AUTH_ISSUER").is_none()
                && BackendKind::from_env(env)? == BackendKind::Aws,
            issuer,
            audience: env.get("AUTH_AUDIENCE").map(str::to_string).unwrap_or(d.audience),
            access_ttl: env.secs("AUTH_ACCESS_TTL_SECONDS", d.access_ttl)?,
            refresh_ttl: env.secs("AUTH_REFRESH_TTL_SECONDS", d.refresh_ttl)?,
            session_ttl: env.secs("AUTH_SESSION_TTL_SECONDS", d.session_ttl)?,
            refresh_grace: env.secs("AUTH_REFRESH_GRACE_SECONDS", d.refresh_grace)?,
            reset_ttl: env.secs("AUTH_RESET_TTL_SECONDS", d.reset_ttl)?,
            reset_url,
            verify_ttl: env.secs("AUTH_VERIFY_TTL_SECONDS", d.verify_ttl)?,
            verify_url,
            require_verified_email: env.on_off("AUTH_REQUIRE_VERIFIED_EMAIL", d.require_verified_email)?,
            cors_origins,
            ip_limits_enabled: env.on_off("AUTH_IP_LIMITS", d.ip_limits_enabled)?,
            signup_limit: env.parse("AUTH_SIGNUP_LIMIT")?.unwrap_or(d.signup_limit),
            login_limit: env.parse("AUTH_LOGIN_LIMIT")?.unwrap_or(d.login_limit),
            forgot_limit: env.parse("AUTH_FORGOT_LIMIT")?.unwrap_or(d.forgot_limit),
            forgot_per_email_limit: env
                .parse("AUTH_FORGOT_PER_EMAIL_LIMIT")?
                .unwrap_or(d.forgot_per_email_limit),
            resend_limit: env.parse("AUTH_VERIFY_RESEND_LIMIT")?.unwrap_or(d.resend_limit),
            resend_per_email_limit: env
                .parse("AUTH_VERIFY_RESEND_PER_EMAIL_LIMIT")?
                .unwrap_or(d.resend_per_email_limit),
            notice_per_email_limit: env
                .parse("AUTH_NOTICE_PER_EMAIL_LIMIT")?
                .unwrap_or(d.notice_per_email_limit),
            login_max_failures: env
                .parse("AUTH_LOGIN_MAX_FAILURES")?
                .unwrap_or(d.login_max_failures),
            login_backoff_base: env.secs("AUTH_LOGIN_BACKOFF_BASE_SECONDS", d.login_backoff_base)?,
            login_backoff_max: env.secs("AUTH_LOGIN_BACKOFF_MAX_SECONDS", d.login_backoff_max)?,
            login_account_max_failures: env
                .parse("AUTH_LOGIN_ACCOUNT_MAX_FAILURES")?
                .unwrap_or(d.login_account_max_failures),
            login_account_backoff_base: env.secs(
                "AUTH_LOGIN_ACCOUNT_BACKOFF_BASE_SECONDS",
                d.login_account_backoff_base,
            )?,
            login_account_backoff_max: env.secs(
                "AUTH_LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS",
                d.login_account_backoff_max,
            )?,
            login_device_ttl: env.secs("AUTH_LOGIN_DEVICE_TTL_SECONDS", d.login_device_ttl)?,
            audit_retention: audit_retention(env, d.audit_retention)?,
            new_device_mail: env.on_off("AUTH_NEW_DEVICE_MAIL", d.new_device_mail)?,
            sessions_url,
            password_min_score,
            hash_cost: HashCost {
                memory_kib: env
                    .parse("AUTH_ARGON2_MEMORY_KIB")?
                    .unwrap_or(d.hash_cost.memory_kib),
                iterations: env
                    .parse("AUTH_ARGON2_ITERATIONS")?
                    .unwrap_or(d.hash_cost.iterations),
                parallelism: env
                    .parse("AUTH_ARGON2_PARALLELISM")?
                    .unwrap_or(d.hash_cost.parallelism),
            },
            mail_from: env
                .get("AUTH_MAIL_FROM")
                .map(str::to_string)
                .unwrap_or(d.mail_from),
            product_name,
            mail_sender_name,
            mfa_issuer,
            admin_requires_mfa: env.on_off("AUTH_ADMIN_REQUIRES_MFA", d.admin_requires_mfa)?,
            webauthn_rp_id,
            webauthn_rp_name,
            webauthn_origins,
            oauth_providers,
            oauth_redirect_urls,
            hooks: super::hooks::from_env(env)?,
            passkey_options_limit: env
                .parse("AUTH_PASSKEY_OPTIONS_LIMIT")?
                .unwrap_or(d.passkey_options_limit),
            sqlite_path: env
                .get("AUTH_SQLITE_PATH")
                .map(PathBuf::from)
                .unwrap_or(d.sqlite_path),
            outbox_dir: env
                .get("AUTH_OUTBOX_DIR")
                .map(PathBuf::from)
                .unwrap_or(d.outbox_dir),
        };
        if config.access_ttl.is_zero()
            || config.refresh_ttl.is_zero()
            || config.reset_ttl.is_zero()
            || config.verify_ttl.is_zero()
        {
            return Err(ConfigError::Invalid {
                name: "AUTH_*_TTL_SECONDS",
                reason: "token lifetimes must be at least one second".into(),
            });
        }
        Ok(config)
    }
}

/// AUTH_AUDIT_RETENTION_DAYS: whole days, 1 to 3653 (ten years, CloudWatch's longest).
fn audit_retention(env: &Env, default: std::time::Duration) -> Result<std::time::Duration, ConfigError> {
    const NAME: &str = "AUTH_AUDIT_RETENTION_DAYS";
    match env.parse::<u64>(NAME)? {
        None => Ok(default),
        Some(days @ 1..=3653) => Ok(std::time::Duration::from_secs(days * 86_400)),
        Some(_) => Err(ConfigError::Invalid {
            name: NAME,
            reason: "must be a number of days from 1 to 3653".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn audit_retention_is_whole_days_from_one_to_ten_years() {
        let days = |v: &str| Config::from_env(&Env::from_pairs([("AUTH_AUDIT_RETENTION_DAYS", v)]));
        assert_eq!(days("1").unwrap().audit_retention, Duration::from_secs(86400));
        assert_eq!(
            days("3653").unwrap().audit_retention,
            Duration::from_secs(3653 * 86400)
        );
        for bad in ["0", "3654", "-1", "1.5", "ninety"] {
            assert!(days(bad).is_err(), "{bad}");
        }
        let off = Config::from_env(&Env::from_pairs([("AUTH_NEW_DEVICE_MAIL", "off")])).unwrap();
        assert!(!off.new_device_mail);
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = Config::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(c.access_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(c.refresh_grace, Duration::from_secs(10));
        assert_eq!(c.reset_ttl, Duration::from_secs(1800));
        assert_eq!(c.login_max_failures, 5);
        assert_eq!(c.audit_retention, Duration::from_secs(90 * 86400));
        assert!(c.new_device_mail);
        assert!(c.ip_limits_enabled);
        assert_eq!(
            c.hash_cost,
            HashCost {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn verification_settings_are_read_and_checked() {
        let c = Config::from_env(&Env::from_pairs([
            ("AUTH_VERIFY_URL", "https://app.example.com/verify"),
            ("AUTH_VERIFY_TTL_SECONDS", "3600"),
            ("AUTH_REQUIRE_VERIFIED_EMAIL", "on"),
            ("AUTH_PRODUCT_NAME", "Acme"),
        ]))
        .unwrap();
        assert_eq!(
            c.verify_link("t", "a@example.com", "al"),
            "https://app.example.com/verify#token=t&email=a%40example.com&account=al"
        );
        assert_eq!(c.verify_ttl, Duration::from_secs(3600));
        assert!(c.require_verified_email);
        assert_eq!(
            c.mail_sender_name, "Acme",
            "the sender name defaults to the product's"
        );
        for (name, value) in [
            ("AUTH_VERIFY_URL", "app.example.com/verify"),
            ("AUTH_VERIFY_TTL_SECONDS", "0"),
            ("AUTH_REQUIRE_VERIFIED_EMAIL", "sometimes"),
            ("AUTH_MAIL_SENDER_NAME", "Acme\r\nBcc: x@example.com"),
        ] {
            let err = Config::from_env(&Env::from_pairs([(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name) || err.contains("TTL"), "{name}: {err}");
        }
    }

    #[test]
    fn the_issuer_comes_from_the_request_on_the_aws_backend_without_auth_issuer() {
        let from_request = |pairs: &[(&str, &str)]| {
            Config::from_env(&Env::from_pairs(pairs.iter().copied()))
                .unwrap()
                .issuer_from_request
        };
        assert!(!from_request(&[]));
        assert!(from_request(&[("AUTH_BACKEND", "aws")]));
        assert!(
            from_request(&[("AUTH_TABLE_NAME", "authyy")]),
            "a table name means the AWS backend"
        );
        assert!(!from_request(&[
            ("AUTH_BACKEND", "local"),
            ("AUTH_TABLE_NAME", "authyy")
        ]));
        assert!(!from_request(&[
            ("AUTH_BACKEND", "aws"),
            ("AUTH_ISSUER", "https://api.example.com/auth")
        ]));
    }

    #[test]
    fn the_passkey_relying_party_is_read_and_its_origins_checked_at_start() {
        let c = Config::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(c.webauthn_rp_id, "localhost");
        assert_eq!(c.webauthn_rp_name, "authyy");
        assert_eq!(
            c.webauthn_origins,
            ["http://localhost:3000", "http://localhost:5173"]
        );
        let c = Config::from_env(&Env::from_pairs([
            ("AUTH_WEBAUTHN_RP_ID", "Example.com"),
            (
                "AUTH_WEBAUTHN_ORIGINS",
                "https://example.com,https://app.example.com",
            ),
            ("AUTH_PRODUCT_NAME", "Acme"),
        ]))
        .unwrap();
        assert_eq!(c.webauthn_rp_id, "example.com");
        assert_eq!(c.webauthn_rp_name, "Acme", "the product's name unless set");
        assert_eq!(
            c.webauthn_origins,
            ["https://example.com", "https://app.example.com"]
        );
        // The default origins are localhost's: another rp id needs its own.
        let err = Config::from_env(&Env::from_pairs([("AUTH_WEBAUTHN_RP_ID", "example.com")])).unwrap_err();
        assert!(err.to_string().contains("AUTH_WEBAUTHN_ORIGINS"), "{err}");
        let err =
            Config::from_env(&Env::from_pairs([("AUTH_WEBAUTHN_RP_ID", "https://example.com")])).unwrap_err();
        assert!(err.to_string().contains("AUTH_WEBAUTHN_RP_ID"), "{err}");
    }

    #[test]
    fn ip_limits_can_be_turned_off() {
        let c = Config::from_env(&Env::from_pairs([("AUTH_IP_LIMITS", "off")])).unwrap();
        assert!(!c.ip_limits_enabled);
    }

    #[test]
    fn a_malformed_value_names_its_variable() {
        let err = Config::from_env(&Env::from_pairs([("AUTH_ACCESS_TTL_SECONDS", "soon")])).unwrap_err();
        assert!(err.to_string().contains("AUTH_ACCESS_TTL_SECONDS"), "{err}");
        let err = Config::from_env(&Env::from_pairs([("AUTH_LOGIN_LIMIT", "10")])).unwrap_err();
        assert!(err.to_string().contains("AUTH_LOGIN_LIMIT"), "{err}");
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        let c = Config::from_env(&Env::from_pairs([(
            "AUTH_CORS_ORIGINS",
            "http://localhost:5173, https://app.example.com/",
        )]))
        .unwrap();
        assert_eq!(
            c.cors_origins,
            vec!["http://localhost:5173", "https://app.example.com"]
        );
    }

    #[test]
    fn login_backoff_doubles_after_the_allowed_failures_and_is_capped() {
        let c = Config::default();
        assert_eq!(c.login_backoff_secs(4), 0);
        assert_eq!(c.login_backoff_secs(5), 1);
        assert_eq!(c.login_backoff_secs(6), 2);
        assert_eq!(c.login_backoff_secs(8), 8);
        assert_eq!(c.login_backoff_secs(500), 900);
    }

    #[test]
    fn the_account_wide_login_cap_is_much_looser_than_the_per_network_one() {
        let rules = Config::from_env(&Env::from_pairs([])).unwrap().login_rules();
        assert_eq!(rules.account.secs(99), 0);
        assert_eq!(rules.account.secs(100), 1);
        assert_eq!(rules.account.secs(102), 4);
        assert_eq!(rules.account.secs(10_000), 900);
        let c = Config::from_env(&Env::from_pairs([("AUTH_LOGIN_ACCOUNT_MAX_FAILURES", "20")])).unwrap();
        assert_eq!(c.login_rules().account.free, 20);
    }
}
