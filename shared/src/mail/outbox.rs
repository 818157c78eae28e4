//! Local mode's mail transport: every mail is written as an RFC 5322 `.eml` file (multipart text +
//! HTML, built by `lettre`), and its link logged.

use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::{Mail, MailError, MailTransport, Sender};

/// Local mode: every mail is written to `dir` as an RFC 5322 `.eml` file.
pub struct FileOutbox {
    pub dir: PathBuf,
    pub from: Sender,
}

/// `mail` as a MIME message from `from`: multipart/alternative with the text part first (the
/// fallback) and the HTML part last (the preferred), each transfer-encoded as its content needs.
pub fn mime_message(mail: &Mail, from: &Sender, date: SystemTime, id: &str) -> Result<Vec<u8>, MailError> {
    let to = mail
        .to
        .parse::<Mailbox>()
        .map_err(|e| MailError(format!("recipient address not usable in mail: {e}")))?;
    let message = Message::builder()
        .from(from.mailbox().clone())
        .to(to)
        .subject(&mail.subject)
        .date(date)
        .message_id(Some(format!("<{id}@authyy.local>")))
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError(format!("cannot build the message: {e}")))?;
    Ok(message.formatted())
}

#[async_trait]
impl MailTransport for FileOutbox {
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError> {
        let now = SystemTime::now();
        let id = crate::randomness::new_id();
        let nanos = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("{nanos}-{id}.eml");
        let body = mime_message(mail, &self.from, now, &id)?;
        let path = self.dir.join(name);
        // One trip to a blocking thread for both steps (each tokio::fs call is one).
        let (dir, file) = (self.dir.clone(), path.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| MailError(format!("cannot create outbox {}: {e}", dir.display())))?;
            std::fs::write(&file, body)
                .map_err(|e| MailError(format!("cannot write {}: {e}", file.display())))
        })
        .await
        .map_err(|e| MailError(format!("the outbox write did not finish: {e}")))??;
        // Local development only: the outbox is the developer's inbox.
        tracing::info!(to = %mail.to, file = %path.display(), link = %link, "mail written to the local outbox");
        Ok(())
    }
}
