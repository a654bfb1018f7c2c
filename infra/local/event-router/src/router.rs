//! The poll → invoke → delete loop of one queue, as Lambda's event source mapping runs
//! it with `ReportBatchItemFailures`:
//!
//! - receive up to `batch_size` messages (with every system and message attribute);
//! - invoke the function once with them as an `SqsEvent`;
//! - delete the messages that succeeded; leave the ones reported as failed (or the
//!   whole batch, on a function error) to reappear after the queue's visibility
//!   timeout, or after `retry_after` when set;
//! - the queue's own RedrivePolicy moves a message to its DLQ once it has been
//!   received `maxReceiveCount` times (moto does this like SQS).

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client as SqsClient;

use crate::event::{sqs_event, EventSource};
use crate::lambda::{BatchOutcome, Invoke, LambdaEndpoint};

/// SQS's largest receive.
pub const MAX_BATCH_SIZE: i32 = 10;

/// One queue and the function that consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub queue_url: String,
    /// The function name (its binary name in the workspace).
    pub function: String,
}

/// A mapping ready to poll: the queue's ARN is known.
#[derive(Debug, Clone)]
pub struct Route {
    /// What it maps.
    pub mapping: Mapping,
    /// Stamped on each record.
    pub source: EventSource,
    /// Messages per invocation (1 to 10).
    pub batch_size: i32,
    /// Whether the function turned out to be missing (no more polling).
    pub disabled: bool,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    /// Messages received.
    pub received: usize,
    /// Deleted after the function succeeded with them.
    pub succeeded: usize,
    /// Left in the queue for redelivery.
    pub failed: usize,
}

impl std::ops::AddAssign for PollReport {
    fn add_assign(&mut self, other: Self) {
        self.received += other.received;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
    }
}

/// Why a poll could not run.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// SQS refused or could not be reached.
    #[error("SQS {operation} on {queue_url} failed: {message}")]
    Sqs {
        /// The SQS call.
        operation: &'static str,
        queue_url: String,
        /// The SDK's error, with its cause chain.
        message: String,
    },
}

fn sqs_error(operation: &'static str, queue_url: &str, err: impl std::error::Error) -> RouterError {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    RouterError::Sqs {
        operation,
        queue_url: queue_url.to_owned(),
        message,
    }
}

/// Polls queues and invokes functions (through the local Lambda endpoint unless told
/// otherwise).
#[derive(Debug, Clone)]
pub struct Router<I = LambdaEndpoint> {
    sqs: SqsClient,
    lambda: I,
    region: String,
    retry_after: Option<Duration>,
}

impl<I: Invoke> Router<I> {
    /// A router; `retry_after` makes failed messages visible again after that long
    /// instead of after the queue's visibility timeout.
    pub fn new(sqs: SqsClient, lambda: I, region: &str, retry_after: Option<Duration>) -> Self {
        Self {
            sqs,
            lambda,
            region: region.to_owned(),
            retry_after,
        }
    }

    /// Looks up the queue's ARN for the records' `eventSourceARN`.
    pub async fn route(&self, mapping: Mapping, batch_size: i32) -> Result<Route, RouterError> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&mapping.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|err| sqs_error("GetQueueAttributes", &mapping.queue_url, err))?;
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        Ok(Route {
            mapping,
            source: EventSource {
                queue_arn,
                region: self.region.clone(),
            },
            batch_size: batch_size.clamp(1, MAX_BATCH_SIZE),
            disabled: false,
        })
    }

    /// Messages in the queue: visible, and in flight (received, not yet deleted).
    pub async fn queue_depth(&self, queue_url: &str) -> Result<(u64, u64), RouterError> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|err| sqs_error("GetQueueAttributes", queue_url, err))?;
        let count = |name: QueueAttributeName| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Receives one batch (waiting up to `wait` for it), invokes the function and
    /// settles every message.
    pub async fn poll(&self, route: &mut Route, wait: Duration) -> Result<PollReport, RouterError> {
        let queue_url = route.mapping.queue_url.clone();
        let received = self
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(route.batch_size)
            .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).unwrap_or(20))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|err| sqs_error("ReceiveMessage", &queue_url, err))?;
        let messages = received.messages().to_vec();
        if messages.is_empty() {
            return Ok(PollReport::default());
        }
        let ids: HashSet<String> = messages
            .iter()
            .filter_map(|m| m.message_id().map(str::to_owned))
            .collect();
        let event = serde_json::to_value(sqs_event(&messages, &route.source))
            .unwrap_or(serde_json::Value::Null);
        tracing::info!(
            queue = %queue_url,
            function = %route.mapping.function,
            messages = messages.len(),
            "invoking"
        );
        let outcome = self
            .lambda
            .invoke_batch(&route.mapping.function, &event, &ids)
            .await;
        let failed: HashSet<String> = match outcome {
            BatchOutcome::Completed { failed } => {
                if !failed.is_empty() {
                    tracing::warn!(
                        function = %route.mapping.function,
                        failed = failed.len(),
                        "the function reported failed messages; they stay in the queue"
                    );
                }
                failed
            }
            BatchOutcome::Failed { reason } => {
                tracing::warn!(
                    function = %route.mapping.function,
                    %reason,
                    "the invocation failed; the whole batch stays in the queue"
                );
                ids.clone()
            }
            BatchOutcome::MissingFunction => {
                tracing::warn!(
                    function = %route.mapping.function,
                    queue = %queue_url,
                    "the Lambda endpoint has no such function; no longer polling this queue"
                );
                route.disabled = true;
                self.change_visibility(&queue_url, &messages, Duration::ZERO)
                    .await?;
                return Ok(PollReport {
                    received: messages.len(),
                    succeeded: 0,
                    failed: messages.len(),
                });
            }
        };
        let (done, retry): (Vec<Message>, Vec<Message>) = messages
            .into_iter()
            .partition(|m| m.message_id().is_some_and(|id| !failed.contains(id)));
        self.delete(&queue_url, &done).await?;
        if let Some(delay) = self.retry_after {
            self.change_visibility(&queue_url, &retry, delay).await?;
        }
        Ok(PollReport {
            received: done.len() + retry.len(),
            succeeded: done.len(),
            failed: retry.len(),
        })
    }

    async fn delete(&self, queue_url: &str, messages: &[Message]) -> Result<(), RouterError> {
        if messages.is_empty() {
            return Ok(());
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter_map(|(index, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        let output = self
            .sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| sqs_error("DeleteMessageBatch", queue_url, err))?;
        for failure in output.failed() {
            tracing::warn!(
                queue = %queue_url,
                code = %failure.code(),
                message = ?failure.message(),
                "a processed message could not be deleted; it will be delivered again"
            );
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue_url: &str,
        messages: &[Message],
        after: Duration,
    ) -> Result<(), RouterError> {
        if messages.is_empty() {
            return Ok(());
        }
        let seconds = i32::try_from(after.as_secs()).unwrap_or(i32::MAX);
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter_map(|(index, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .visibility_timeout(seconds)
                    .build()
                    .ok()
            })
            .collect();
        self.sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| sqs_error("ChangeMessageVisibilityBatch", queue_url, err))?;
        Ok(())
    }

    /// Whether failed messages come back soon (`retry_after` is set), so that a
    /// draining run should wait for them.
    pub fn retries_soon(&self) -> bool {
        self.retry_after.is_some()
    }
}
