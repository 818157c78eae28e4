//! The mailer's runtime. In AWS, the `mailer` function: SQS invokes it with a batch of queued
//! mail jobs and it answers which ones failed (`ReportBatchItemFailures`), so only those come
//! back, after the visibility timeout, and after five receives wait in the dead-letter queue.
//! In local mode, a task in the process that queued the job delivers it a moment later.
//! The work itself: [`crate::endpoints::mail_jobs`].

use std::time::Duration;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::service_fn;
use serde::{Deserialize, Serialize};

use crate::endpoints::delivery::Delivery;
use crate::endpoints::mail_jobs::deliver;
use crate::queue::LocalQueue;
use crate::state::AppState;

/// The part of an SQS event the mailer reads.
#[derive(Debug, Clone, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsMessage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SqsMessage {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(default)]
    pub body: String,
}

/// The answer of a function with `FunctionResponseTypes: [ReportBatchItemFailures]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsBatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Time kept back from the invocation's deadline to answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);
/// The budget when the deadline is no use: local emulators pass a duration (600000) there.
const FALLBACK_BUDGET: Duration = Duration::from_secs(25);

/// How long each message of an invocation may take: up to the deadline (epoch ms), less the
/// margin to answer in.
fn message_budget(deadline_ms: u64, now: std::time::SystemTime) -> Duration {
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    match deadline.duration_since(now) {
        Ok(left) if left > ANSWER_MARGIN => left - ANSWER_MARGIN,
        _ => FALLBACK_BUDGET,
    }
}

/// Delivers every message of `event` at once, each within `budget`; the answer names the
/// messages that failed (unreadable, store or mail failure, or out of time), and only those.
pub async fn handle_batch(state: &AppState, event: SqsEvent, budget: Duration) -> SqsBatchResponse {
    let mut tasks = tokio::task::JoinSet::new();
    for message in event.records {
        let state = state.clone();
        tasks.spawn(async move {
            let outcome = tokio::time::timeout(budget, deliver(&state, &message.body)).await;
            let failed = match outcome {
                Ok(Ok(Delivery::Sent)) => false,
                Ok(Ok(Delivery::Skipped(reason))) => {
                    tracing::info!(message_id = %message.message_id, reason, "mail job needs no mail");
                    false
                }
                Ok(Err(e)) => {
                    tracing::error!(message_id = %message.message_id, error = %e, "mail job failed; it will be retried");
                    true
                }
                Err(_) => {
                    tracing::error!(message_id = %message.message_id, "mail job ran out of time; it will be retried");
                    true
                }
            };
            (message.message_id, failed)
        });
    }
    let mut failures = vec![];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((id, true)) => failures.push(BatchItemFailure { item_identifier: id }),
            Ok((_, false)) => {}
            // A task that died cannot name its message: fail the whole batch, so nothing is lost.
            Err(e) => {
                tracing::error!(error = %e, "mail job task failed");
                return SqsBatchResponse::whole_batch_failed();
            }
        }
    }
    failures.sort_by(|a, b| a.item_identifier.cmp(&b.item_identifier));
    SqsBatchResponse {
        batch_item_failures: failures,
    }
}

impl SqsBatchResponse {
    /// An answer that SQS takes as the whole batch failed (an empty item identifier), so it
    /// retries every message of it.
    pub fn whole_batch_failed() -> SqsBatchResponse {
        SqsBatchResponse {
            batch_item_failures: vec![BatchItemFailure {
                item_identifier: String::new(),
            }],
        }
    }
}

/// Runs the mailer function: the state as the environment describes it, then every SQS batch
/// through [`handle_batch`] within the invocation's deadline.
pub async fn run() -> Result<(), lambda_http::Error> {
    let state = super::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move {
            let budget = message_budget(event.context.deadline, std::time::SystemTime::now());
            Ok::<_, lambda_http::Error>(handle_batch(&state, event.payload, budget).await)
        }
    }))
    .await
}

/// Local mode: a task that delivers every job of `queue` as it arrives, one at a time, for as
/// long as the process runs. There is no dead-letter queue here: a job that fails is logged.
pub fn spawn_local(state: AppState, queue: LocalQueue) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for body in queue.next_batch().await {
                match deliver(&state, &body).await {
                    Ok(Delivery::Sent) => {}
                    Ok(Delivery::Skipped(reason)) => tracing::info!(reason, "mail job needs no mail"),
                    Err(e) => tracing::error!(error = %e, "mail job failed (local mode does not retry)"),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_may_take_until_the_deadline_less_the_margin_to_answer() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let deadline = 1_800_000_000_000 + 30_000;
        assert_eq!(message_budget(deadline, now), Duration::from_secs(28));
        // cargo lambda watch passes the timeout itself, not a time: the fallback applies.
        assert_eq!(message_budget(600_000, now), FALLBACK_BUDGET);
    }
}
