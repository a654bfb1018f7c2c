//! The outbox: follow-up work is written in the same transaction as the data that caused
//! it, and published to SQS after commit.
//!
//! [`enqueue`] runs inside the caller's transaction, so the follow-up exists exactly when
//! the data does. [`publish_due`] sends what is waiting; a message whose send fails stays
//! in the outbox with a later `next_attempt_at` and is sent by a later call, never lost.
//! A crash between the send and marking it sent can send a message twice, so every
//! consumer is idempotent; the `dedup_id` travels as a message attribute to help it.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageAttributeValue;
use sqlx::{PgConnection, PgPool};

use crate::ops::config::QueueUrls;
use crate::ops::errors::{error_chain, ProcessError};
use crate::ops::retry::RetryPolicy;
use crate::systems::aws;

/// The work queues follow-up messages go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkQueue {
    /// Orders waiting for acceptance (`accept-orders`).
    Accept,
    /// Accepted orders that need a shipping label (`fetch-shipping-label`).
    Label,
    /// Customer messages that may get an automatic answer (`conversation-auto-reply`).
    Reply,
    /// Changes that may move a price (`evaluate-pricing-rules`).
    Pricing,
}

impl WorkQueue {
    /// The name stored in `ops.outbox.queue_name`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkQueue::Accept => "accept",
            WorkQueue::Label => "label",
            WorkQueue::Reply => "reply",
            WorkQueue::Pricing => "pricing",
        }
    }

    const ALL: [WorkQueue; 4] = [Self::Accept, Self::Label, Self::Reply, Self::Pricing];

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|queue| queue.as_str() == name)
    }

    fn url(self, urls: &QueueUrls) -> Option<&str> {
        match self {
            WorkQueue::Accept => urls.accept.as_deref(),
            WorkQueue::Label => urls.label.as_deref(),
            WorkQueue::Reply => urls.reply.as_deref(),
            WorkQueue::Pricing => urls.pricing.as_deref(),
        }
    }
}

/// What publishes the outbox after commit: an SQS client and the queues it may send to.
#[derive(Debug, Clone)]
pub struct OutboxPublisher {
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// Where each work queue is; only these queues' messages are sent.
    pub queues: QueueUrls,
}

/// The SQS message attribute carrying the outbox deduplication id.
pub const DEDUP_ATTRIBUTE: &str = "sellerops-dedup-id";

/// Writes a follow-up message in the caller's transaction. `dedup_id` names the work
/// (e.g. `accept:bestbuy_ca:ORDER-1`): writing the same id twice keeps one message.
/// Returns whether a new message was written.
pub async fn enqueue(
    tx: &mut PgConnection,
    queue: WorkQueue,
    dedup_id: &str,
    body: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into ops.outbox (queue_name, message_body, dedup_id)
         values ($1, $2, $3)
         on conflict on constraint outbox_dedup_id_key do nothing",
        queue.as_str(),
        body,
        dedup_id,
    )
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// What one publishing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishTally {
    /// Messages sent and marked published.
    pub published: u64,
    /// Messages whose send failed; they wait for a later pass.
    pub deferred: u64,
}

/// Sends up to `limit` due messages, oldest first, for the queues `urls` names: a
/// function allowed to send to one queue only passes that queue's URL, and leaves the
/// other queues' messages to a publisher that may send them. Rows are locked while sent
/// (`for update skip locked`) so two publishers never send the same row at once.
pub async fn publish_due(
    pool: &PgPool,
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    limit: i64,
) -> Result<PublishTally, ProcessError> {
    publish_due_until(pool, sqs, urls, limit, None).await
}

/// Like [`publish_due`], but starts no send once less than one send's worst case (the
/// SDK's operation timeout) is left before `deadline`: the messages not sent stay due,
/// untouched, for a later pass.
pub async fn publish_due_until(
    pool: &PgPool,
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    limit: i64,
    deadline: Option<Instant>,
) -> Result<PublishTally, ProcessError> {
    let db = |err| ProcessError::database("publishing the outbox", err);
    let publishable: Vec<&str> = WorkQueue::ALL
        .into_iter()
        .filter(|queue| queue.url(urls).is_some())
        .map(WorkQueue::as_str)
        .collect();
    let mut tx = pool.begin().await.map_err(db)?;
    // `as _`: the macros type-check a text array only as `&[String]`.
    let due = sqlx::query!(
        "select id, queue_name, message_body, dedup_id, attempts from ops.outbox
         where published_at is null and next_attempt_at <= now()
           and queue_name = any($2)
         order by next_attempt_at, created_at
         limit $1
         for update skip locked",
        limit,
        &publishable as _,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;

    let mut tally = PublishTally::default();
    for message in due {
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left < aws::OPERATION_TIMEOUT) {
            tracing::info!("short of time; the outbox's other due messages wait for a later pass");
            break;
        }
        let (queue_name, dedup_id) = (message.queue_name, message.dedup_id);
        match send(sqs, urls, &queue_name, &message.message_body, &dedup_id).await {
            Ok(()) => {
                sqlx::query!(
                    "update ops.outbox set published_at = now(), attempts = attempts + 1,
                         last_error = null
                     where id = $1",
                    message.id,
                )
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tally.published += 1;
            }
            Err(reason) => {
                tracing::warn!(%dedup_id, queue = %queue_name, error = %reason,
                    "outbox message not sent; will retry");
                sqlx::query!(
                    "update ops.outbox set attempts = attempts + 1, last_error = $2,
                         next_attempt_at = now() + $3 * interval '1 second'
                     where id = $1",
                    message.id,
                    reason,
                    backoff(message.attempts).as_secs_f64(),
                )
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tally.deferred += 1;
            }
        }
    }
    tx.commit().await.map_err(db)?;
    Ok(tally)
}

async fn send(
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    queue_name: &str,
    body: &serde_json::Value,
    dedup_id: &str,
) -> Result<(), String> {
    let queue =
        WorkQueue::parse(queue_name).ok_or_else(|| format!("unknown work queue {queue_name:?}"))?;
    let url = queue
        .url(urls)
        .ok_or_else(|| format!("no URL configured for the {queue_name} queue"))?;
    let attribute = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(dedup_id)
        .build()
        .map_err(|err| err.to_string())?;
    sqs.send_message()
        .queue_url(url)
        .message_body(body.to_string())
        .message_attributes(DEDUP_ATTRIBUTE, attribute)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| error_chain(&err))
}

/// How an unsent message waits for its next pass: 5 seconds after the first failure,
/// doubling up to 15 minutes. The outbox never gives a message up, so the number of
/// attempts is not the policy's to bound.
const SEND_RETRY: RetryPolicy = RetryPolicy {
    attempts: u32::MAX,
    base_delay: Duration::from_secs(5),
    max_delay: Duration::from_secs(15 * 60),
};

/// The wait before the next send of a message whose `attempts` earlier sends failed
/// (this one failing too).
fn backoff(attempts: i32) -> Duration {
    let failures = u32::try_from(attempts).unwrap_or(0).saturating_add(1);
    SEND_RETRY.delay_after(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(50), Duration::from_secs(900));
    }

    #[test]
    fn queue_names_round_trip() {
        for queue in [
            WorkQueue::Accept,
            WorkQueue::Label,
            WorkQueue::Reply,
            WorkQueue::Pricing,
        ] {
            assert_eq!(WorkQueue::parse(queue.as_str()), Some(queue));
        }
        assert_eq!(WorkQueue::parse("ingest"), None);
    }
}
