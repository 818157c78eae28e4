//! The mailer's work, one queued [`MailJob`] at a time: what each kind of job does lives beside
//! the endpoint that queued it ([`deliver_password_reset`]); this module reads the job and
//! hands it there. The mailer function ([`crate::runtime::mailer`]) and local mode's worker
//! both deliver through [`deliver`]. What a delivery can come to is in [`super::delivery`], below
//! the endpoints, so that they and this module depend one way.

use super::delivery::{Delivery, DeliveryError};
use super::email_change::{deliver_email_change, deliver_email_changed};
use super::mfa::deliver_factor_notice;
use super::new_device::deliver_new_sign_in;
use super::owed_mail::deliver_notice_summary;
use super::password_change::deliver_password_changed;
use super::password_reset::deliver_password_reset;
use super::verify_email::deliver_verification;
use crate::domain::Email;
use crate::queue::MailJob;
use crate::state::AppState;
use crate::store::MailRequestKind;

/// Handles the job in a message body.
pub async fn deliver(state: &AppState, body: &str) -> Result<Delivery, DeliveryError> {
    match MailJob::from_json(body)? {
        MailJob::PasswordReset { request } => {
            deliver_requested(state, &request, MailRequestKind::PasswordReset).await
        }
        MailJob::VerifyEmail { request } => deliver_requested(state, &request, MailRequestKind::Verify).await,
        MailJob::ConfirmEmailChange { user_id, request } => {
            deliver_email_change(state, user_id, &request).await
        }
        MailJob::EmailChanged { email, new_email } => deliver_email_changed(state, &email, &new_email).await,
        MailJob::PasswordChanged { email } => deliver_password_changed(state, &email).await,
        MailJob::SecondFactor { email, notice } => deliver_factor_notice(state, &email, notice).await,
        MailJob::NoticeSummary { email } => deliver_notice_summary(state, &email).await,
        MailJob::NewSignIn {
            email,
            at,
            client,
            ip,
        } => deliver_new_sign_in(state, &email, at, &client, &ip).await,
    }
}

/// The mail of the stored, unexpired request `id` of `kind`; a job naming no such request
/// (made up, or handled before) mints nothing. Once handled the request is forgotten, so a
/// redriven copy mints nothing either; should forgetting fail, the request still ends with its
/// lifetime (logged; the mail went out).
async fn deliver_requested(
    state: &AppState,
    id: &str,
    kind: MailRequestKind,
) -> Result<Delivery, DeliveryError> {
    let request = state.mail_requests.mail_request(id, state.clock.now()).await?;
    let Some(email) = request
        .filter(|r| r.kind == kind)
        .and_then(|r| Email::parse(&r.email).ok())
    else {
        return Ok(Delivery::Skipped("no such request"));
    };
    let delivery = match kind {
        MailRequestKind::PasswordReset => deliver_password_reset(state, &email).await?,
        MailRequestKind::Verify => deliver_verification(state, &email).await?,
    };
    if let Err(e) = state.mail_requests.forget_mail_request(id).await {
        tracing::warn!(error = %e, "mail request not forgotten; it ends with its lifetime");
    }
    Ok(delivery)
}
