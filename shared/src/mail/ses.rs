//! Mail through SES v2: Simple content with a text and an HTML part.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use super::{Mail, MailError, MailTransport, Sender};
use crate::aws::{sdk_failure, LazyClient};

pub struct SesTransport {
    client: LazyClient<Client>,
    from: String,
    configuration_set: Option<String>,
}

impl SesTransport {
    pub fn new(
        client: impl Into<LazyClient<Client>>,
        from: &Sender,
        configuration_set: Option<String>,
    ) -> Self {
        SesTransport {
            client: client.into(),
            from: from.header_value(),
            configuration_set,
        }
    }
}

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError(e.to_string()))
}

#[async_trait]
impl MailTransport for SesTransport {
    async fn send(&self, mail: &Mail, _link: &str) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.text)?)
                    .html(content(&mail.html)?)
                    .build(),
            )
            .build();
        self.client
            .get()
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| MailError(sdk_failure("send email", e).to_string()))
    }
}
