//! Local mode's mailer: every mail is written as an RFC 5322 `.eml` file, and its link logged.
//!
//! The message is rendered by hand (a dozen lines) rather than with `lettre`: measured, lettre's
//! builder added about 55 KB to every function binary and five crates, saved no code, and its
//! 8bit encoding refuses lines over 76 characters, which the reset link is (quoted-printable
//! instead would make the link unreadable in the file).

use std::path::PathBuf;

use async_trait::async_trait;

use super::{Mail, MailError, Mailer};

/// Local mode: every mail is written to `dir` as an RFC 5322 `.eml` file.
pub struct FileOutbox {
    pub dir: PathBuf,
    pub from: String,
}

impl FileOutbox {
    pub fn render(&self, mail: &Mail, date: &str, id: &str) -> String {
        let boundary = format!("authyy-{id}");
        format!(
            "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}@authyy.local>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
             --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n\
             --{boundary}--\r\n",
            from = self.from,
            to = mail.to,
            subject = mail.subject,
            text = mail.text.replace('\n', "\r\n"),
            html = mail.html,
        )
    }
}

#[async_trait]
impl Mailer for FileOutbox {
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError> {
        let now = time::OffsetDateTime::now_utc();
        let date = now
            .format(&time::format_description::well_known::Rfc2822)
            .map_err(|e| MailError(e.to_string()))?;
        let id = crate::secrets::new_id();
        let name = format!("{}-{}.eml", now.unix_timestamp_nanos(), id);
        let body = self.render(mail, &date, &id);
        let path = self.dir.join(name);
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MailError(format!("cannot create outbox {}: {e}", self.dir.display())))?;
        tokio::fs::write(&path, body)
            .await
            .map_err(|e| MailError(format!("cannot write {}: {e}", path.display())))?;
        // Local development only: the outbox is the developer's inbox.
        tracing::info!(to = %mail.to, file = %path.display(), link = %link, "mail written to the local outbox");
        Ok(())
    }
}
