//! SQS batches with partial failures: one bad message never fails its neighbours.
//!
//! Every record is processed. A retryable failure puts the record's id in
//! `batchItemFailures`, so SQS delivers it again (and after the queue's maximum receives,
//! moves it to the dead-letter queue). A permanent failure is written to
//! `ops.process_failures` and the record is acknowledged; if even that write fails, the
//! record is retried rather than lost.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use sqlx::PgPool;

use crate::ops::errors::{error_chain, ProcessError};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};

/// How a batch went, for logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchTally {
    /// Records processed successfully.
    pub succeeded: u64,
    /// Records left for redelivery.
    pub retried: u64,
    /// Records given up on and recorded in `ops.process_failures`.
    pub gave_up: u64,
}

/// Processes every record of `event` with `handle`, one at a time, and reports which
/// records SQS must deliver again. `process` names the work in `ops.process_failures`.
pub async fn settle_batch<F, Fut>(
    pool: &PgPool,
    process: &str,
    event: SqsEvent,
    handle: F,
) -> (SqsBatchResponse, BatchTally)
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), ProcessError>>,
{
    let mut response = SqsBatchResponse::default();
    let mut tally = BatchTally::default();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let body = record.body.clone();
        match handle(record).await {
            Ok(()) => tally.succeeded += 1,
            Err(err @ ProcessError::Retryable { .. }) => {
                tracing::warn!(message_id, error = %error_chain(&err), "will retry message");
                tally.retried += 1;
                response.batch_item_failures.push(item_failure(message_id));
            }
            Err(err @ ProcessError::Permanent { .. }) => {
                let reason = error_chain(&err);
                tracing::error!(message_id, error = %reason, "giving up on message");
                let failure = ProcessFailure {
                    process,
                    entity_type: "sqs_message",
                    entity_ref: &message_id,
                    reason: &reason,
                    payload: body.as_deref().map(payload_of),
                };
                match record_process_failure(pool, &failure).await {
                    Ok(_) => tally.gave_up += 1,
                    Err(db_err) => {
                        tracing::error!(message_id, error = %error_chain(&db_err),
                            "could not record the failure; will retry message");
                        tally.retried += 1;
                        response.batch_item_failures.push(item_failure(message_id));
                    }
                }
            }
        }
    }
    (response, tally)
}

fn item_failure(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

/// The message body as JSON when it is JSON, else as a JSON string.
fn payload_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.to_owned()))
}
