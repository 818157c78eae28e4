//! The production queue: one SQS message per job, read by the mailer function's event source
//! mapping (failed messages come back after the visibility timeout and, after five receives,
//! wait in the dead-letter queue).

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use super::{MailJob, MailQueue, QueueError};
use crate::aws::{sdk_failure, LazyClient};

pub struct SqsQueue {
    client: LazyClient<Client>,
    url: String,
}

impl SqsQueue {
    /// The queue at `url` (AUTH_MAIL_QUEUE_URL).
    pub fn new(client: impl Into<LazyClient<Client>>, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client: client.into(),
            url: url.into(),
        }
    }
}

#[async_trait]
impl MailQueue for SqsQueue {
    async fn enqueue(&self, job: &MailJob) -> Result<(), QueueError> {
        self.enqueue_after(job, std::time::Duration::ZERO).await
    }

    async fn enqueue_after(&self, job: &MailJob, delay: std::time::Duration) -> Result<(), QueueError> {
        if self.url.is_empty() {
            return Err(QueueError("no queue URL (AUTH_MAIL_QUEUE_URL)".into()));
        }
        let delay = delay.min(super::MAX_DELAY).as_secs() as i32;
        self.client
            .get()
            .send_message()
            .queue_url(&self.url)
            .message_body(job.to_json())
            .set_delay_seconds((delay > 0).then_some(delay))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError(sdk_failure("send message", e).to_string()))
    }
}
