//! SQS batches with partial failures: one bad message never fails its neighbours.
//!
//! Every record is settled. A retryable failure puts the record's id in
//! `batchItemFailures`, so SQS delivers it again (and after the queue's maximum receives,
//! moves it to the dead-letter queue). A permanent failure is written to
//! `ops.process_failures` and the record is acknowledged; if even that write fails, the
//! record is retried rather than lost.
//!
//! A batch runs within its invocation's time ([`BatchPlan`]): a record starts only while
//! the time left before the deadline covers its worst case (from
//! [`crate::ops::time_budget`]); the records never started are reported as
//! `batchItemFailures` too, untouched, instead of the invocation being killed in the
//! middle of one. Records whose order does not matter run side by side, a bounded
//! number at a time.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use sqlx::PgPool;

use crate::ops::errors::{error_chain, ProcessError};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};

/// 2001-09-09 in milliseconds since the epoch: no Lambda deadline is earlier, and no time
/// allowed for one invocation is longer.
const EARLIEST_ABSOLUTE_DEADLINE_MS: u64 = 1_000_000_000_000;

/// How a batch is worked through: when to stop starting records, and how many run at
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// When the invocation ends; `None` sets no limit (a direct call, or a test's
    /// default context).
    pub deadline: Option<Instant>,
    /// What one record needs in the worst case: a record starts only while at least
    /// this much time is left.
    pub record_time: Duration,
    /// Records handled at once (1: one after the other, in the batch's order).
    pub concurrency: usize,
}

impl BatchPlan {
    /// One record after the other, with no deadline.
    pub const SEQUENTIAL: Self = Self {
        deadline: None,
        record_time: Duration::ZERO,
        concurrency: 1,
    };

    /// This plan within an invocation whose deadline is `deadline_epoch_ms` (Lambda's
    /// `Context::deadline`, milliseconds since the Unix epoch); 0, as a default context
    /// has it, sets no deadline.
    ///
    /// A value too small to be a time since the epoch (before 2001) is read as the time
    /// allowed from now: the local Lambda emulator (`cargo lambda watch`) sends a fixed
    /// 600 000, its ten-minute limit, where Lambda sends the absolute deadline. Read as a
    /// date it would lie in 1970, and no record would ever start locally.
    pub fn until(self, deadline_epoch_ms: u64) -> Self {
        if deadline_epoch_ms == 0 {
            return self;
        }
        let left = if deadline_epoch_ms < EARLIEST_ABSOLUTE_DEADLINE_MS {
            Duration::from_millis(deadline_epoch_ms)
        } else {
            (UNIX_EPOCH + Duration::from_millis(deadline_epoch_ms))
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        };
        Self {
            deadline: Some(Instant::now() + left),
            ..self
        }
    }

    /// Whether a record may start now.
    fn may_start(&self) -> bool {
        self.deadline.is_none_or(|deadline| {
            deadline.saturating_duration_since(Instant::now()) >= self.record_time
        })
    }
}

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
    settle_batch_within(pool, process, event, BatchPlan::SEQUENTIAL, handle).await
}

/// Like [`settle_batch`], within `plan`: up to `plan.concurrency` records at once, and
/// none started once less than `plan.record_time` is left before the deadline; those
/// are reported for redelivery, counted as retried.
pub async fn settle_batch_within<F, Fut>(
    pool: &PgPool,
    process: &str,
    event: SqsEvent,
    plan: BatchPlan,
    handle: F,
) -> (SqsBatchResponse, BatchTally)
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), ProcessError>>,
{
    let handle = &handle;
    let outcomes: Vec<RecordOutcome> = stream::iter(event.records)
        .map(|record| async move {
            let message_id = record.message_id.clone().unwrap_or_default();
            let body = record.body.clone();
            // Checked when the record's turn comes, not when the batch starts.
            if !plan.may_start() {
                return (message_id, body, None);
            }
            let outcome = handle(record).await;
            (message_id, body, Some(outcome))
        })
        .buffered(plan.concurrency.max(1))
        .collect()
        .await;

    let mut response = SqsBatchResponse::default();
    let mut tally = BatchTally::default();
    let mut not_started = 0u64;
    for (message_id, body, outcome) in outcomes {
        match outcome {
            None => {
                not_started += 1;
                tally.retried += 1;
                response.batch_item_failures.push(item_failure(message_id));
            }
            Some(Ok(())) => tally.succeeded += 1,
            Some(Err(err @ ProcessError::Retryable { .. })) => {
                tracing::warn!(message_id, error = %error_chain(&err), "will retry message");
                tally.retried += 1;
                response.batch_item_failures.push(item_failure(message_id));
            }
            Some(Err(err @ ProcessError::Permanent { .. })) => {
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
    if not_started > 0 {
        tracing::warn!(
            not_started,
            "the invocation ran short of time; the records not started go back to the queue"
        );
    }
    (response, tally)
}

/// A record's message id and body, and how its handling ended (`None`: not started).
type RecordOutcome = (String, Option<String>, Option<Result<(), ProcessError>>);

fn item_failure(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

/// The message body as JSON when it is JSON, else as a JSON string (written less its
/// personal data by [`record_process_failure`]).
fn payload_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time_left(plan: BatchPlan) -> Duration {
        plan.deadline
            .expect("a deadline")
            .saturating_duration_since(Instant::now())
    }

    #[test]
    fn lambdas_absolute_deadline_leaves_the_time_until_it() {
        let in_30_s = SystemTime::now() + Duration::from_secs(30);
        let epoch_ms = in_30_s.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;

        let left = time_left(BatchPlan::SEQUENTIAL.until(epoch_ms));

        assert!(
            left > Duration::from_secs(28) && left <= Duration::from_secs(30),
            "{left:?}"
        );
    }

    #[test]
    fn the_local_emulators_fixed_600000_leaves_ten_minutes_not_none() {
        let left = time_left(BatchPlan::SEQUENTIAL.until(600_000));

        assert!(
            left > Duration::from_secs(598) && left <= Duration::from_secs(600),
            "{left:?}"
        );
    }

    #[test]
    fn a_deadline_already_past_leaves_nothing() {
        let a_minute_ago = SystemTime::now() - Duration::from_secs(60);
        let epoch_ms = a_minute_ago.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;

        assert_eq!(
            time_left(BatchPlan::SEQUENTIAL.until(epoch_ms)),
            Duration::ZERO
        );
    }
}
