//! What endpoints owe by mail: the requests that jobs minting a link name ([`request_mail`]),
//! and notices queued after a change is made ([`queue_notice`]). Every mail also passes a
//! per-address cap ([`super::mail_caps`]).

use std::time::Duration;

use super::mail_caps::MailCap;
use crate::domain::Email;
use crate::error::ApiError;
use crate::queue::MailJob;
use crate::randomness::new_id;
use crate::state::AppState;
use crate::store::{MailRequest, MailRequestKind};

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

/// Queues a notice to `email` within its kind's own cap; a notice never undoes or fails the
/// change it reports: a queue or counter that cannot take it is logged.
pub async fn queue_notice(state: &AppState, email: &Email, job: MailJob) {
    match MailCap::Notice.admits_kind(state, email, job.kind()).await {
        Ok(false) => return,
        Ok(true) => {}
        // A notice is a security message: with the counter unreachable it still goes.
        Err(e) => tracing::warn!(kind = job.kind(), error = %e, "notice cap not counted"),
    }
    if let Err(e) = state.queue.enqueue(&job).await {
        tracing::warn!(kind = job.kind(), error = %e, "notice mail not queued");
    }
}
