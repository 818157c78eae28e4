//! Mail: the message type and the [`Mailer`] trait, the messages themselves ([`templates`]),
//! and the two mailers: the local `.eml` [`outbox`] and [`ses`].

pub mod outbox;
pub mod ses;
pub mod templates;

use async_trait::async_trait;

pub use outbox::FileOutbox;
pub use ses::SesMailer;

#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `mail`; `link` is the action link it carries (the outbox logs it for developers).
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError>;
}
