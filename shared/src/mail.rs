//! Mail: the reset message, the mailer trait and the local file outbox.

use std::path::PathBuf;

use async_trait::async_trait;

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

/// The password reset message for `link`, valid for `minutes`.
pub fn reset_mail(to: &str, link: &str, minutes: u64) -> Mail {
    let text = format!(
        "Someone asked to reset the password of your account.\n\n\
         To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
         If it was not you, ignore this message: your password stays as it is.\n"
    );
    let html = format!(
        "<p>Someone asked to reset the password of your account.</p>\
         <p>To choose a new password, open this link within {minutes} minutes:</p>\
         <p><a href=\"{href}\">Reset your password</a></p>\
         <p>If it was not you, ignore this message: your password stays as it is.</p>",
        href = html_escape(link)
    );
    Mail {
        to: to.to_string(),
        subject: "Reset your password".into(),
        text,
        html,
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `mail`; `link` is the action link it carries (the outbox logs it for developers).
    async fn send(&self, mail: &Mail, link: &str) -> Result<(), MailError>;
}

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
        let id = crate::tokens::new_id();
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
