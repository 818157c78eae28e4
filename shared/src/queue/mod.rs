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

use crate::domain::Email;

pub use local::LocalQueue;
pub use sqs::SqsQueue;

/// The version of the job format this code writes; [`MailJob::from_json`] refuses others.
pub const JOB_VERSION: u32 = 1;

/// A mail owed to an address. It names the address only: no token, nothing secret, since
/// the mailer makes any token itself at delivery. New kinds (the verification mail) are new
/// variants; `kind` tells them apart on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MailJob {
    /// A password reset link for the account of `email`, if there is one and it is enabled.
    PasswordReset {
        #[serde(with = "email_string")]
        email: Email,
    },
    /// A verification link for the account of `email`, if there is one, it is enabled and its
    /// address is not verified yet.
    VerifyEmail {
        #[serde(with = "email_string")]
        email: Email,
    },
    /// A link to `new_email` that moves the account of `email` there, if that account is
    /// enabled and the new address is still free.
    ConfirmEmailChange {
        #[serde(with = "email_string")]
        email: Email,
        #[serde(with = "email_string")]
        new_email: Email,
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
}

/// The job as it travels: `{"v": 1, "kind": "password_reset", "email": "..."}`.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset(email: &str) -> MailJob {
        MailJob::PasswordReset {
            email: Email::parse(email).unwrap(),
        }
    }

    #[test]
    fn a_job_travels_as_versioned_json_naming_only_the_address() {
        let json = reset("John@Example.com").to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"v": 1, "kind": "password_reset", "email": "john@example.com"})
        );
        assert_eq!(MailJob::from_json(&json).unwrap(), reset("john@example.com"));
    }

    #[test]
    fn a_job_of_another_version_kind_or_shape_is_unreadable() {
        for body in [
            r#"{"v": 2, "kind": "password_reset", "email": "a@example.com"}"#,
            r#"{"v": 1, "kind": "launch_missiles", "email": "a@example.com"}"#,
            r#"{"v": 1, "kind": "password_reset", "email": "not an address"}"#,
            r#"{"v": 1, "kind": "password_reset", "email": "a@example.com", "token": "x"}"#,
            r#"{"kind": "password_reset", "email": "a@example.com"}"#,
            "not json",
        ] {
            assert!(MailJob::from_json(body).is_err(), "{body}");
        }
    }
}
