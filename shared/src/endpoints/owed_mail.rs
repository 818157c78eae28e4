//! What endpoints owe by mail, and the limits on it: the quiet per-address caps every mail
//! passes ([`MailCap`]), and the requests that jobs minting a link name ([`request_mail`]).

use std::time::Duration;

use crate::config::{Config, Limit};
use crate::domain::Email;
use crate::error::ApiError;
use crate::queue::MailJob;
use crate::secrets::{new_id, token_hash};
use crate::state::AppState;
use crate::store::{MailRequest, MailRequestKind};

/// A per-address cap on one kind of mail. Past it the endpoint answers as usual and sends
/// nothing: mail bombing one inbox stops there, without a telling 429. Each counter is keyed by
/// a digest of the address (never the address) and ends with its window; erasing the account
/// keeps it, so signing up again does not reset it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailCap {
    /// Reset links to an address.
    Reset,
    /// Verification links to an address (signup's first, and resends).
    Verify,
    /// Email-change links (or taken-address notices) to a new address.
    ChangeTo,
    /// Email changes asked for by the account of an address.
    ChangeFrom,
    /// Notices to an address (password changed, email changed).
    Notice,
}

impl MailCap {
    pub const ALL: [MailCap; 5] = [
        MailCap::Reset,
        MailCap::Verify,
        MailCap::ChangeTo,
        MailCap::ChangeFrom,
        MailCap::Notice,
    ];

    fn name(self) -> &'static str {
        match self {
            MailCap::Reset => "mail",
            MailCap::Verify => "verify",
            MailCap::ChangeTo => "change",
            MailCap::ChangeFrom => "change-from",
            MailCap::Notice => "notice",
        }
    }

    /// How many mails of this kind an address gets per window.
    pub fn limit(self, config: &Config) -> Limit {
        match self {
            MailCap::Reset => config.forgot_per_email_limit,
            MailCap::Verify | MailCap::ChangeTo | MailCap::ChangeFrom => config.resend_per_email_limit,
            MailCap::Notice => config.notice_per_email_limit,
        }
    }

    /// The throttle key of this cap for `email`: a digest of the address under a label of its
    /// own, so the counter holds neither the address nor the hash other items could be
    /// matched with.
    pub fn key(self, email: &str) -> String {
        format!("{}#{}", self.name(), token_hash(&format!("mail cap\0{email}")))
    }

    /// Counts one mail to `email`; true while it is within the cap.
    pub async fn admits(self, state: &AppState, email: &Email) -> Result<bool, ApiError> {
        let limit = self.limit(&state.config);
        let sent = state
            .throttle
            .hit(&self.key(email.as_str()), limit.window_secs, state.clock.now())
            .await?;
        Ok(sent <= limit.max)
    }
}

/// Records a request for a mail of `kind` to `email` (any address: the mailer finds out whether
/// an account has it) and queues the job that names it. The request lives as long as the link
/// it asks for, so a job redriven later mints nothing.
pub async fn request_mail(state: &AppState, kind: MailRequestKind, email: &Email) -> Result<(), ApiError> {
    let lifetime: Duration = match kind {
        MailRequestKind::PasswordReset => state.config.reset_ttl,
        MailRequestKind::Verify => state.config.verify_ttl,
    };
    let request = MailRequest {
        id: new_id(),
        kind,
        email: email.as_str().to_string(),
        expires_at: state.clock.now() + lifetime.as_secs() as i64,
    };
    state.mail_requests.put_mail_request(&request).await?;
    let job = match kind {
        MailRequestKind::PasswordReset => MailJob::PasswordReset { request: request.id },
        MailRequestKind::Verify => MailJob::VerifyEmail { request: request.id },
    };
    state.queue.enqueue(&job).await?;
    Ok(())
}

/// Queues a notice to `email` within its cap; a notice never undoes or fails the change it
/// reports: a queue or counter that cannot take it is logged.
pub async fn queue_notice(state: &AppState, email: &Email, job: MailJob) {
    match MailCap::Notice.admits(state, email).await {
        Ok(false) => return,
        Ok(true) => {}
        // A notice is a security message: with the counter unreachable it still goes.
        Err(e) => tracing::warn!(kind = job.kind(), error = %e, "notice cap not counted"),
    }
    if let Err(e) = state.queue.enqueue(&job).await {
        tracing::warn!(kind = job.kind(), error = %e, "notice mail not queued");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_has_its_own_key_and_none_holds_the_address_or_its_plain_hash() {
        let email = "john@example.com";
        let keys: std::collections::BTreeSet<_> = MailCap::ALL.iter().map(|c| c.key(email)).collect();
        assert_eq!(keys.len(), MailCap::ALL.len());
        for key in keys {
            assert!(!key.contains(email) && !key.contains(&token_hash(email)), "{key}");
        }
    }
}
