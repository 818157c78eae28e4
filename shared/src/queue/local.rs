//! Local mode's queue: jobs wait in memory, in the process that queued them, and a task of that
//! process delivers them a moment later (see `runtime::mailer::spawn_local`), so the answer
//! does not wait for the mail and `.local/outbox` still gets it at once. Jobs are kept as the
//! same JSON the SQS queue carries. Nothing survives a restart: local mode is for development.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{MailJob, MailQueue, QueueError};

/// How many jobs may wait before the queue refuses more (memory stays bounded).
pub const DEFAULT_CAPACITY: usize = 1000;

/// An in-process queue of job bodies; clones share the queue.
#[derive(Clone)]
pub struct LocalQueue {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Mutex<VecDeque<String>>,
    ready: Notify,
    capacity: usize,
}

impl Default for LocalQueue {
    fn default() -> Self {
        LocalQueue::with_capacity(DEFAULT_CAPACITY)
    }
}

impl LocalQueue {
    /// A queue that refuses jobs once `capacity` are waiting.
    pub fn with_capacity(capacity: usize) -> LocalQueue {
        LocalQueue {
            inner: Arc::new(Inner {
                jobs: Mutex::new(VecDeque::new()),
                ready: Notify::new(),
                capacity,
            }),
        }
    }

    /// Every waiting job body, oldest first; the queue is empty afterwards.
    pub fn take_all(&self) -> Vec<String> {
        match self.inner.jobs.lock() {
            Ok(mut jobs) => jobs.drain(..).collect(),
            Err(poisoned) => poisoned.into_inner().drain(..).collect(),
        }
    }

    /// Waits until at least one job is there, then takes every waiting job.
    pub async fn next_batch(&self) -> Vec<String> {
        loop {
            let ready = self.inner.ready.notified();
            let jobs = self.take_all();
            if !jobs.is_empty() {
                return jobs;
            }
            ready.await;
        }
    }
}

#[async_trait]
impl MailQueue for LocalQueue {
    async fn enqueue(&self, job: &MailJob) -> Result<(), QueueError> {
        self.push(job.to_json())
    }

    /// Held back by a task of this process (lost if it stops first: local mode is for
    /// development).
    async fn enqueue_after(&self, job: &MailJob, delay: std::time::Duration) -> Result<(), QueueError> {
        let (queue, body) = (self.clone(), job.to_json());
        tokio::spawn(async move {
            tokio::time::sleep(delay.min(super::MAX_DELAY)).await;
            if let Err(e) = queue.push(body) {
                tracing::warn!(error = %e, "a delayed mail job was not queued");
            }
        });
        Ok(())
    }
}

impl LocalQueue {
    fn push(&self, body: String) -> Result<(), QueueError> {
        {
            let mut jobs = self
                .inner
                .jobs
                .lock()
                .map_err(|_| QueueError("local queue poisoned".into()))?;
            if jobs.len() >= self.inner.capacity {
                return Err(QueueError(format!(
                    "local queue full ({} jobs waiting)",
                    self.inner.capacity
                )));
            }
            jobs.push_back(body);
        }
        self.inner.ready.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    fn job() -> MailJob {
        MailJob::PasswordChanged {
            email: Email::parse("a@example.com").unwrap(),
        }
    }

    #[tokio::test]
    async fn a_waiting_worker_gets_the_job_queued_after_it_started_waiting() {
        let queue = LocalQueue::default();
        let worker = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next_batch().await }
        });
        tokio::task::yield_now().await;
        queue.enqueue(&job()).await.unwrap();
        let batch = tokio::time::timeout(std::time::Duration::from_secs(5), worker)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch, vec![job().to_json()]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_the_job() {
        let queue = LocalQueue::with_capacity(1);
        queue.enqueue(&job()).await.unwrap();
        assert!(queue.enqueue(&job()).await.is_err());
        assert_eq!(queue.take_all().len(), 1);
        queue.enqueue(&job()).await.unwrap();
    }
}
