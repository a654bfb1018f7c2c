//! The outbox: follow-up work is written in the same transaction as the data that caused
//! it, and published to SQS after commit.
//!
//! [`enqueue`] runs inside the caller's transaction, so the follow-up exists exactly when
//! the data does. [`publish_due`] sends what is waiting, holding no transaction open
//! across a send: it claims due rows for a while (a lease in `next_attempt_at`), sends
//! each claim's messages for one queue in one `SendMessageBatch` (ten at most), and
//! marks each sent in a statement of its own. A message whose send fails stays
//! in the outbox with a later `next_attempt_at` and is sent by a later call, never lost.
//! A crash between the send and marking it sent sends the message again once the claim
//! runs out, so every consumer is idempotent; the `dedup_id` travels as a message
//! attribute to help it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ops::config::QueueUrls;
use crate::ops::crash_points::crash_point;
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

/// Writes many follow-up messages for one queue in the caller's transaction, in one
/// statement: `messages` are (dedup id, body) pairs, with [`enqueue`]'s deduplication.
/// Returns how many new messages were written.
pub async fn enqueue_many(
    tx: &mut PgConnection,
    queue: WorkQueue,
    messages: &[(String, serde_json::Value)],
) -> Result<u64, sqlx::Error> {
    if messages.is_empty() {
        return Ok(0);
    }
    let (dedup_ids, bodies): (Vec<String>, Vec<serde_json::Value>) =
        messages.iter().cloned().unzip();
    let inserted = sqlx::query!(
        "insert into ops.outbox (queue_name, message_body, dedup_id)
         select $1, m.body, m.dedup_id
         from unnest($2::text[], $3::jsonb[]) as m(dedup_id, body)
         on conflict on constraint outbox_dedup_id_key do nothing",
        queue.as_str(),
        &dedup_ids,
        &bodies,
    )
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected())
}

/// What one publishing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishTally {
    /// Messages sent and marked published.
    pub published: u64,
    /// Messages whose send failed; they wait for a later pass.
    pub deferred: u64,
}

/// Rows one claim takes: the lease below is sized for them.
const CLAIM_SIZE: i64 = 10;

/// How long a claim keeps its rows from other publishers: a claim's sends, each with
/// the SDK's operation timeout, and their marks, as usually take milliseconds. A send
/// starts only while the lease has one send and its mark left ([`SEND_AND_MARK`]);
/// the rows left over go back for the next claim. A publisher that dies holding a
/// claim has its rows sent by another once the lease runs out.
const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// The longest one send and marking its row may take: the SDK's operation timeout,
/// then a wait for a connection and one short update. A mark later than this may find
/// the row claimed and sent again by another publisher, which consumers tolerate.
const SEND_AND_MARK: Duration = aws::OPERATION_TIMEOUT.saturating_add(Duration::from_secs(20));

/// Sends up to `limit` due messages, oldest first, for the queues `urls` names: a
/// function allowed to send to one queue only passes that queue's URL, and leaves the
/// other queues' messages to a publisher that may send them.
///
/// No transaction stays open across a send. Rows are claimed a few at a time in a short
/// transaction (`for update skip locked`), which pushes their `next_attempt_at` past
/// the claim's lease (`CLAIM_LEASE`), so another publisher skips them; each is then
/// sent and marked sent, or failed with its next attempt's time, in a statement of
/// its own. A publisher that dies between a send and its mark leaves the row claimed:
/// when the lease runs out it is sent again. Delivery is at least once, which is why
/// every consumer is idempotent.
pub async fn publish_due(
    pool: &PgPool,
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    limit: i64,
) -> Result<PublishTally, ProcessError> {
    publish_due_until(pool, sqs, urls, limit, None).await
}

/// Like [`publish_due`], but starts no send once less than one send's worst case (the
/// SDK's operation timeout) is left before `deadline`: the messages not sent stay due
/// for a later pass, their claim given back.
pub async fn publish_due_until(
    pool: &PgPool,
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    limit: i64,
    deadline: Option<Instant>,
) -> Result<PublishTally, ProcessError> {
    let last_start = deadline.map(|deadline| {
        deadline
            .checked_sub(aws::OPERATION_TIMEOUT)
            .unwrap_or_else(Instant::now)
    });
    publish(pool, sqs, urls, limit, last_start).await
}

/// Like [`publish_due`], for a caller someone is waiting on (the webhook's answer):
/// sends start only within `window` from now, and one started may take the SDK's
/// operation timeout. What is left stays due for the outbox sweep.
pub async fn publish_due_within(
    pool: &PgPool,
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    limit: i64,
    window: Duration,
) -> Result<PublishTally, ProcessError> {
    publish(pool, sqs, urls, limit, Some(Instant::now() + window)).await
}

/// Sends due messages a claim at a time, each claim's messages of one queue in one
/// `SendMessageBatch` (a claim is at most [`CLAIM_SIZE`], SQS's batch limit), starting
/// no send after `last_start`.
async fn publish(
    pool: &PgPool,
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    limit: i64,
    last_start: Option<Instant>,
) -> Result<PublishTally, ProcessError> {
    let publishable: Vec<String> = WorkQueue::ALL
        .into_iter()
        .filter(|queue| queue.url(urls).is_some())
        .map(|queue| queue.as_str().to_owned())
        .collect();
    let short_of_time = || last_start.is_some_and(|last| Instant::now() >= last);

    let mut tally = PublishTally::default();
    let mut left = limit;
    while left > 0 {
        if short_of_time() {
            tracing::info!("short of time; the outbox's other due messages wait for a later pass");
            break;
        }
        let claim = Claim::take(pool, &publishable, left.min(CLAIM_SIZE)).await?;
        if claim.rows.is_empty() {
            break;
        }
        left -= i64::try_from(claim.rows.len()).unwrap_or(left);
        let mut unsent: Vec<&ClaimedRow> = Vec::new();
        for batch in claim.batches() {
            if !unsent.is_empty()
                || short_of_time()
                || claim.ends.saturating_duration_since(Instant::now()) < SEND_AND_MARK
            {
                unsent.extend(batch);
                continue;
            }
            let outcomes = send_batch(sqs, urls, &batch).await;
            if outcomes.iter().any(Result::is_ok) {
                crash_point!(OutboxSent);
            }
            for (row, outcome) in batch.into_iter().zip(outcomes) {
                match outcome {
                    Ok(()) => {
                        mark_sent(pool, row.id).await?;
                        tally.published += 1;
                    }
                    Err(reason) => {
                        tracing::warn!(dedup_id = %row.dedup_id, queue = %row.queue_name,
                            error = %reason, "outbox message not sent; will retry");
                        claim.mark_failed(pool, row, &reason).await?;
                        tally.deferred += 1;
                    }
                }
            }
        }
        if !unsent.is_empty() {
            claim.give_back(pool, &unsent).await?;
            if short_of_time() {
                tracing::info!(
                    "short of time; the outbox's other due messages wait for a later pass"
                );
                break;
            }
            // The lease ran short: what was not sent is claimed afresh.
            left += i64::try_from(unsent.len()).unwrap_or(0);
        }
    }
    Ok(tally)
}

/// Due rows this publisher holds until the lease ends.
struct Claim {
    rows: Vec<ClaimedRow>,
    /// The lease's end as stored in the rows' `next_attempt_at`: a row still carrying
    /// it is still this claim's.
    lease_until: DateTime<Utc>,
    /// The lease's end on this process's clock, reckoned from before the claim began,
    /// so never later than the database's.
    ends: Instant,
}

struct ClaimedRow {
    id: Uuid,
    queue_name: String,
    message_body: serde_json::Value,
    dedup_id: String,
    attempts: i32,
    /// When the row was due before the claim: given back, it keeps its place.
    due_at: DateTime<Utc>,
}

impl Claim {
    /// Claims up to `limit` due rows of the `queues`, oldest first, in one short
    /// transaction.
    async fn take(pool: &PgPool, queues: &[String], limit: i64) -> Result<Self, ProcessError> {
        let ends = Instant::now() + CLAIM_LEASE;
        let rows = sqlx::query!(
            r#"with due as (
                   select id, next_attempt_at, created_at from ops.outbox
                   where published_at is null and next_attempt_at <= now()
                     and queue_name = any($2)
                   order by next_attempt_at, created_at
                   limit $1
                   for update skip locked
               )
               update ops.outbox as claimed
               set next_attempt_at = now() + $3 * interval '1 second', updated_at = now()
               from due
               where claimed.id = due.id
               returning claimed.id, claimed.queue_name, claimed.message_body,
                   claimed.dedup_id, claimed.attempts,
                   claimed.next_attempt_at as "lease_until!",
                   due.next_attempt_at as "due_at!", due.created_at as "created_at!""#,
            limit,
            queues,
            CLAIM_LEASE.as_secs_f64(),
        )
        .fetch_all(pool)
        .await
        .map_err(|err| ProcessError::database("claiming outbox messages", err))?;
        let lease_until = rows.first().map_or_else(Utc::now, |row| row.lease_until);
        let mut rows: Vec<_> = rows
            .into_iter()
            .map(|row| {
                (
                    row.created_at,
                    ClaimedRow {
                        id: row.id,
                        queue_name: row.queue_name,
                        message_body: row.message_body,
                        dedup_id: row.dedup_id,
                        attempts: row.attempts,
                        due_at: row.due_at,
                    },
                )
            })
            .collect();
        rows.sort_by_key(|(created_at, row)| (row.due_at, *created_at));
        Ok(Self {
            rows: rows.into_iter().map(|(_, row)| row).collect(),
            lease_until,
            ends,
        })
    }

    /// Records a failed send: the next attempt waits by the retry schedule. A row whose
    /// lease ran out and that another publisher claimed is left to that one.
    async fn mark_failed(
        &self,
        pool: &PgPool,
        row: &ClaimedRow,
        reason: &str,
    ) -> Result<(), ProcessError> {
        sqlx::query!(
            "update ops.outbox set attempts = attempts + 1, last_error = $3,
                 next_attempt_at = now() + $4 * interval '1 second', updated_at = now()
             where id = $1 and published_at is null and next_attempt_at = $2",
            row.id,
            self.lease_until,
            reason,
            backoff(row.attempts).as_secs_f64(),
        )
        .execute(pool)
        .await
        .map_err(|err| ProcessError::database("marking an outbox message failed", err))?;
        Ok(())
    }

    /// Gives back rows not sent: they are due again when they were before the claim.
    async fn give_back(&self, pool: &PgPool, rows: &[&ClaimedRow]) -> Result<(), ProcessError> {
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let due_at: Vec<DateTime<Utc>> = rows.iter().map(|row| row.due_at).collect();
        sqlx::query!(
            "update ops.outbox as given
             set next_attempt_at = back.due_at, updated_at = now()
             from unnest($1::uuid[], $2::timestamptz[]) as back (id, due_at)
             where given.id = back.id and given.published_at is null
               and given.next_attempt_at = $3",
            &ids,
            &due_at,
            self.lease_until,
        )
        .execute(pool)
        .await
        .map_err(|err| ProcessError::database("giving back outbox messages", err))?;
        Ok(())
    }
}

impl Claim {
    /// The claimed rows grouped by queue, oldest group first: one `SendMessageBatch`
    /// each.
    fn batches(&self) -> Vec<Vec<&ClaimedRow>> {
        let mut batches: Vec<Vec<&ClaimedRow>> = Vec::new();
        for row in &self.rows {
            match batches
                .iter_mut()
                .find(|batch| batch[0].queue_name == row.queue_name)
            {
                Some(batch) => batch.push(row),
                None => batches.push(vec![row]),
            }
        }
        batches
    }
}

/// Records a message as sent, whoever holds its claim now: it has left.
async fn mark_sent(pool: &PgPool, id: Uuid) -> Result<(), ProcessError> {
    sqlx::query!(
        "update ops.outbox set published_at = now(), attempts = attempts + 1,
             last_error = null, updated_at = now()
         where id = $1 and published_at is null",
        id,
    )
    .execute(pool)
    .await
    .map_err(|err| ProcessError::database("marking an outbox message sent", err))?;
    Ok(())
}

/// Sends `rows` (one queue's, at most ten) in one `SendMessageBatch`; the outcome of
/// each, in order. SQS answers per entry, so one refused message never fails the others.
async fn send_batch(
    sqs: &aws_sdk_sqs::Client,
    urls: &QueueUrls,
    rows: &[&ClaimedRow],
) -> Vec<Result<(), String>> {
    let all = |reason: String| rows.iter().map(|_| Err(reason.clone())).collect();
    let Some(queue_name) = rows.first().map(|row| row.queue_name.as_str()) else {
        return Vec::new();
    };
    let Some(queue) = WorkQueue::parse(queue_name) else {
        return all(format!("unknown work queue {queue_name:?}"));
    };
    let Some(url) = queue.url(urls) else {
        return all(format!("no URL configured for the {queue_name} queue"));
    };
    let mut entries = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let entry = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&row.dedup_id)
            .build()
            .and_then(|attribute| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{index}"))
                    .message_body(row.message_body.to_string())
                    .message_attributes(DEDUP_ATTRIBUTE, attribute)
                    .build()
            });
        match entry {
            Ok(entry) => entries.push(entry),
            Err(err) => return all(err.to_string()),
        }
    }
    let answer = match sqs
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(err) => return all(error_chain(&err)),
    };
    let failed: HashMap<&str, String> = answer
        .failed()
        .iter()
        .map(|entry| {
            let reason = format!(
                "{}: {}",
                entry.code(),
                entry.message().unwrap_or("refused by SQS")
            );
            (entry.id(), reason)
        })
        .collect();
    let sent: HashSet<&str> = answer.successful().iter().map(|entry| entry.id()).collect();
    (0..rows.len())
        .map(|index| {
            let id = format!("m{index}");
            match failed.get(id.as_str()) {
                Some(reason) => Err(reason.clone()),
                None if sent.contains(id.as_str()) => Ok(()),
                None => Err("SQS did not answer for this message".to_owned()),
            }
        })
        .collect()
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
