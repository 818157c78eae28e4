//! What endpoints owe by mail: the requests that jobs minting a link name ([`request_mail`]),
//! and notices queued after a change is made ([`queue_notice`]). Every mail also passes a
//! per-address cap ([`super::mail_caps`]).

use std::time::Duration;

use super::delivery::{Delivery, DeliveryError};
use super::mail_caps::MailCap;
use crate::domain::Email;
use crate::error::ApiError;
use crate::mail::templates::notice_summary_mail;
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
/// change it reports: a queue or counter that cannot take it is logged. A notice over its cap
/// is folded into one summary mail at the end of the cap's window ([`fold_into_summary`]).
pub async fn queue_notice(state: &AppState, email: &Email, job: MailJob) {
    match MailCap::Notice.admits_kind(state, email, job.kind()).await {
        Ok(false) => return fold_into_summary(state, email).await,
        Ok(true) => {}
        // A notice is a security message: with the counter unreachable it still goes.
        Err(e) => tracing::warn!(kind = job.kind(), error = %e, "notice cap not counted"),
    }
    if let Err(e) = state.queue.enqueue(&job).await {
        tracing::warn!(kind = job.kind(), error = %e, "notice mail not queued");
    }
}

/// A security notice over its cap is not dropped: the first of a window schedules one summary
/// mail to the address for the end of that window (the notice counters' window, at most 15
/// minutes: within a queue's longest delay); the others of the window are in it.
async fn fold_into_summary(state: &AppState, email: &Email) {
    let limit = MailCap::Notice.limit(&state.config);
    let window = limit.window_secs.max(1);
    let now = state.clock.now();
    let key = format!("summary:{}", MailCap::Notice.key(email.as_str()));
    match state.throttle.hit(&key, window, now).await {
        Ok(1) => {}
        Ok(_) => return,
        Err(e) => tracing::warn!(error = %e, "notice summary not counted; scheduling one anyway"),
    }
    let delay = Duration::from_secs(window - now.rem_euclid(window as i64) as u64);
    let job = MailJob::NoticeSummary { email: email.clone() };
    if let Err(e) = state.queue.enqueue_after(&job, delay).await {
        tracing::warn!(error = %e, "notice summary not queued");
    }
}

/// The mailer's half of [`fold_into_summary`]: the summary to the address.
pub async fn deliver_notice_summary(state: &AppState, email: &Email) -> Result<Delivery, DeliveryError> {
    let mail = notice_summary_mail(&state.config.product_name, email.as_str());
    state.mail_transport.send(&mail, "").await?;
    tracing::info!("notice summary sent");
    Ok(Delivery::Sent)
}
