//! What a mail job's delivery can come to, shared by the mailer's dispatch ([`super::mail_jobs`])
//! and the endpoints' `deliver_*` halves it calls.

use crate::mail::MailError;
use crate::queue::UnreadableJob;
use crate::store::StoreError;

/// What became of a job that was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The mail went out.
    Sent,
    /// Nothing was owed (no such request or account, or a disabled one): done, not to be
    /// retried.
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
    /// The user-migration hook (or the account it asked for) failed.
    #[error("user migration failed: {0}")]
    Migration(String),
}
