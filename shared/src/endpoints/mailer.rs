//! The mailer's work, one queued [`MailJob`] at a time: what each kind of job does lives beside
//! the endpoint that queued it ([`deliver_password_reset`]); this module reads the job and
//! hands it there. The mailer function ([`crate::runtime::mailer`]) and local mode's worker
//! both deliver through [`deliver`].

use super::email_change::{deliver_email_change, deliver_email_changed};
use super::password_change::deliver_password_changed;
use super::password_reset::deliver_password_reset;
use super::verify_email::deliver_verification;
use crate::mail::MailError;
use crate::queue::{MailJob, UnreadableJob};
use crate::state::AppState;
use crate::store::StoreError;

/// What became of a job that was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The mail went out.
    Sent,
    /// Nothing was owed (no such account, or a disabled one): done, not to be retried.
    Skipped(&'static str),
}

/// A job that could not be handled now; the queue hands it over again later.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Unreadable(#[from] UnreadableJob),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// Handles the job in a message body.
pub async fn deliver(state: &AppState, body: &str) -> Result<Delivery, DeliveryError> {
    match MailJob::from_json(body)? {
        MailJob::PasswordReset { email } => deliver_password_reset(state, &email).await,
        MailJob::VerifyEmail { email } => deliver_verification(state, &email).await,
        MailJob::ConfirmEmailChange { email, new_email } => {
            deliver_email_change(state, &email, &new_email).await
        }
        MailJob::EmailChanged { email, new_email } => deliver_email_changed(state, &email, &new_email).await,
        MailJob::PasswordChanged { email } => deliver_password_changed(state, &email).await,
    }
}
