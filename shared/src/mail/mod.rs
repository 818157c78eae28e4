//! Mail: the message type and the [`MailTransport`] trait, the messages themselves ([`templates`]),
//! and the two transports: the local `.eml` [`outbox`] and [`ses`].

pub mod outbox;
pub mod ses;
pub mod templates;

use async_trait::async_trait;
use lettre::message::header::{From, Headers};
use lettre::message::{Mailbox, Mailboxes};

pub use outbox::FileOutbox;
pub use ses::SesTransport;

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

/// Who mail is from: a display name and an address, checked once, at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender(Mailbox);

impl Sender {
    /// `name <address>`; an `address` that already has a display name (`Name <address>`) keeps
    /// its own. Refused if the address is not one a mail header can carry.
    pub fn new(name: &str, address: &str) -> Result<Sender, MailError> {
        let refused = |e| MailError(format!("sender {address:?} is not a usable address: {e}"));
        let mailbox = if address.contains('<') {
            address.parse::<Mailbox>().map_err(refused)?
        } else {
            Mailbox::new(Some(name.trim().to_string()), address.parse().map_err(refused)?)
        };
        Ok(Sender(mailbox))
    }

    pub fn mailbox(&self) -> &Mailbox {
        &self.0
    }

    /// The From header's value as it goes on the wire: the name as it is when it can be, quoted
    /// when it has specials (`"Acme, Inc." <...>`), RFC 2047-encoded when it is not ASCII.
    pub fn header_value(&self) -> String {
        let mut headers = Headers::new();
        headers.set(From::from(Mailboxes::from(self.0.clone())));
        let line = headers.to_string();
        // "From: <value>\r\n", possibly folded: unfold it.
        line.strip_prefix("From: ")
            .unwrap_or(&line)
            .trim_end()
            .replace("\r\n", "")
    }
}

/// How mail leaves: through SES in production, into the `.eml` outbox in local mode.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends `mail`; `link` is the action link it carries (the outbox logs it for developers).
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_sender_name_goes_as_it_is() {
        let s = Sender::new("Acme", "no-reply@acme.test").unwrap();
        assert_eq!(s.header_value(), "Acme <no-reply@acme.test>");
    }

    /// The header value as a mail reader shows it.
    fn decoded(value: &str) -> String {
        let raw = format!("From: {value}");
        mailparse::parse_header(raw.as_bytes()).unwrap().0.get_value()
    }

    #[test]
    fn a_sender_name_with_specials_or_not_ascii_is_encoded_and_reads_back() {
        for name in ["Acme, Inc. (EU)", "Café Crème", "\"Quoted\" <odd>"] {
            let value = Sender::new(name, "no-reply@acme.test").unwrap().header_value();
            assert!(value.is_ascii(), "{value}");
            assert!(value.ends_with(" <no-reply@acme.test>"), "{value}");
            assert_eq!(decoded(&value), format!("{name} <no-reply@acme.test>"));
        }
    }

    #[test]
    fn an_address_with_its_own_name_keeps_it() {
        let s = Sender::new("ignored", "Acme Accounts <no-reply@acme.test>").unwrap();
        assert_eq!(
            decoded(&s.header_value()),
            "\"Acme Accounts\" <no-reply@acme.test>"
        );
    }

    #[test]
    fn an_unusable_sender_address_is_refused() {
        assert!(Sender::new("Acme", "not an address").is_err());
    }
}
