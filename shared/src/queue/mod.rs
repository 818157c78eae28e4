//! The mail queue: endpoints that owe someone a mail hand a [`MailJob`] to a [`MailQueue`] and
//! answer at once, the same way for every address; the mailer delivers the job later (looks the
//! account up, writes any token, renders and sends the mail). So nothing an endpoint answers,
//! or how long it takes, depends on whether the account exists or on how fast mail goes out.
//!
//! - [`sqs`]: production, one SQS queue drained by the mailer function (with a dead-letter queue).
//! - [`local`]: local mode, an in-process queue drained by a task of the same process.

pub mod local;
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{Email, UserId};

pub use local::LocalQueue;
pub use sqs::SqsQueue;

/// The version of the job format this code writes; [`MailJob::from_json`] refuses others.
/// Version 1 jobs named addresses; version 2 jobs that mint a link name only a request the
/// API stored.
pub const JOB_VERSION: u32 = 2;

/// A mail owed. A job that mints a link (reset, verification, email change) carries only the
/// id of the request the endpoint stored ([`crate::store::MailRequest`], or the account's
/// pending email change): whoever can put a message on the queue still cannot have a link
/// minted for an account that never asked, nor sent to an address of their choice, and a job
/// handled once (or redriven after its request ended) mints nothing. Notices carry the
/// addresses they tell about and mint nothing. Nothing secret travels: the mailer makes any
/// token itself at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MailJob {
    /// A password reset link for the account of the request's address, if there is one and it
    /// is enabled.
    PasswordReset {
        #[serde(with = "request_id")]
        request: String,
    },
    /// A verification link for the account of the request's address, if there is one, it is
    /// enabled and its address is not verified yet.
    VerifyEmail {
        #[serde(with = "request_id")]
        request: String,
    },
    /// A link to the new address of the account's pending email change, while that change is
    /// still `request` and the account is enabled (if the new address is registered, a notice
    /// to it instead).
    ConfirmEmailChange {
        user_id: UserId,
        #[serde(with = "request_id")]
        request: String,
    },
    /// A notice to `email`, the old address, that the account moved to `new_email`.
    EmailChanged {
        #[serde(with = "email_string")]
        email: Email,
        #[serde(with = "email_string")]
        new_email: Email,
    },
    /// A notice to `email` that the account's password was changed.
    PasswordChanged {
        #[serde(with = "email_string")]
        email: Email,
    },
    /// One mail to `email` at the end of a window in which more security notices were due than
    /// their caps let through: none is dropped unseen.
    NoticeSummary {
        #[serde(with = "email_string")]
        email: Email,
    },
    /// A notice to `email` that the account was signed in to from a new device at `at` (epoch
    /// seconds): `client` is the browser and system named from a fixed list, `ip` the address
    /// API Gateway saw.
    NewSignIn {
        #[serde(with = "email_string")]
        email: Email,
        at: i64,
        client: String,
        ip: String,
    },
    /// A notice to `email` that a second factor of the account changed or was used.
    SecondFactor {
        #[serde(with = "email_string")]
        email: Email,
        notice: FactorNotice,
    },
}

/// What a second-factor notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorNotice {
    TotpEnabled,
    TotpDisabled,
    RecoveryCodeUsed,
    PasskeyAdded,
    PasskeyRemoved,
}

impl FactorNotice {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorNotice::TotpEnabled => "totp_enabled",
            FactorNotice::TotpDisabled => "totp_disabled",
            FactorNotice::RecoveryCodeUsed => "recovery_code_used",
            FactorNotice::PasskeyAdded => "passkey_added",
            FactorNotice::PasskeyRemoved => "passkey_removed",
        }
    }
}

/// The job as it travels: `{"v": 2, "kind": "password_reset", "request": "..."}`.
#[derive(Serialize, Deserialize)]
struct Envelope<J> {
    v: u32,
    #[serde(flatten)]
    job: J,
}

/// A message body the mailer cannot read: another format version, another kind, or no job.
#[derive(Debug, thiserror::Error)]
#[error("unreadable mail job: {0}")]
pub struct UnreadableJob(pub String);

impl MailJob {
    /// The message body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Envelope {
            v: JOB_VERSION,
            job: self,
        })
        // A struct of strings always serialises; the fallback is never sent.
        .unwrap_or_default()
    }

    /// Reads a message body; the address is validated again, as on any input.
    pub fn from_json(body: &str) -> Result<MailJob, UnreadableJob> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version = serde_json::from_str(body).map_err(|e| UnreadableJob(e.to_string()))?;
        if version.v != JOB_VERSION {
            return Err(UnreadableJob(format!(
                "format version {} (this mailer reads {JOB_VERSION})",
                version.v
            )));
        }
        let envelope: Envelope<MailJob> =
            serde_json::from_str(body).map_err(|e| UnreadableJob(e.to_string()))?;
        Ok(envelope.job)
    }

    /// The kind, for logs (never the address).
    pub fn kind(&self) -> &'static str {
        match self {
            MailJob::PasswordReset { .. } => "password_reset",
            MailJob::VerifyEmail { .. } => "verify_email",
            MailJob::ConfirmEmailChange { .. } => "confirm_email_change",
            MailJob::EmailChanged { .. } => "email_changed",
            MailJob::PasswordChanged { .. } => "password_changed",
            MailJob::SecondFactor { notice, .. } => notice.as_str(),
            MailJob::NoticeSummary { .. } => "notice_summary",
            MailJob::NewSignIn { .. } => "new_sign_in",
        }
    }
}

/// A request id as the API makes them ([`crate::randomness::new_id`]): 22 URL-safe characters.
/// Anything else is refused before it reaches a store key.
mod request_id {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let raw = String::deserialize(d)?;
        let well_formed = raw.len() == 22
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(raw)
        } else {
            Err(serde::de::Error::custom("not a request id"))
        }
    }
}

mod email_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::Email;

    pub fn serialize<S: Serializer>(email: &Email, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(email.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Email, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(|e| serde::de::Error::custom(e.to_string()))
    }
}

/// The queue could not take the job (unreachable, throttled, gone, or full).
#[derive(Debug, thiserror::Error)]
#[error("mail queue unavailable: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Queues `job` for the mailer. Costs the same whatever the job names.
    async fn enqueue(&self, job: &MailJob) -> Result<(), QueueError>;
    /// Queues `job` for the mailer to see only after `delay` (at most [`MAX_DELAY`]).
    async fn enqueue_after(&self, job: &MailJob, delay: std::time::Duration) -> Result<(), QueueError>;
}

/// The longest a job can be held back (SQS's limit on a message's delay).
pub const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(900);

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn reset() -> MailJob {
        MailJob::PasswordReset {
            request: REQUEST.into(),
        }
    }

    #[test]
    fn a_job_that_mints_a_link_travels_as_versioned_json_naming_only_its_request() {
        let json = reset().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"v": 2, "kind": "password_reset", "request": REQUEST})
        );
        assert_eq!(MailJob::from_json(&json).unwrap(), reset());
        let change = MailJob::ConfirmEmailChange {
            user_id: 7,
            request: REQUEST.into(),
        };
        assert_eq!(MailJob::from_json(&change.to_json()).unwrap(), change);
    }

    #[test]
    fn a_jobs_kind_in_logs_is_the_kind_it_travels_as() {
        let email = || Email::parse("a@example.com").unwrap();
        for job in [
            reset(),
            MailJob::VerifyEmail {
                request: REQUEST.into(),
            },
            MailJob::ConfirmEmailChange {
                user_id: 1,
                request: REQUEST.into(),
            },
            MailJob::EmailChanged {
                email: email(),
                new_email: email(),
            },
            MailJob::PasswordChanged { email: email() },
        ] {
            let value: serde_json::Value = serde_json::from_str(&job.to_json()).unwrap();
            assert_eq!(value["kind"], job.kind());
        }
    }

    #[test]
    fn a_job_of_another_version_kind_or_shape_is_unreadable() {
        for body in [
            r#"{"v": 1, "kind": "password_reset", "email": "a@example.com"}"#,
            r#"{"v": 3, "kind": "password_reset", "request": "AAAAAAAAAAAAAAAAAAAAAA"}"#,
            r#"{"v": 2, "kind": "launch_missiles", "request": "AAAAAAAAAAAAAAAAAAAAAA"}"#,
            r#"{"v": 2, "kind": "password_reset", "email": "a@example.com"}"#,
            r#"{"v": 2, "kind": "password_reset", "request": "short"}"#,
            r#"{"v": 2, "kind": "password_reset", "request": "AAAAAAAAAAAAAAAAAAAA#A"}"#,
            r#"{"v": 2, "kind": "confirm_email_change", "email": "a@example.com", "new_email": "b@example.com"}"#,
            r#"{"v": 2, "kind": "password_changed", "email": "not an address"}"#,
            r#"{"v": 2, "kind": "password_reset", "request": "AAAAAAAAAAAAAAAAAAAAAA", "token": "x"}"#,
            r#"{"kind": "password_reset", "request": "AAAAAAAAAAAAAAAAAAAAAA"}"#,
            "not json",
        ] {
            assert!(MailJob::from_json(body).is_err(), "{body}");
        }
    }
}
