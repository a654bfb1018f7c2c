//! The outbox against a real PostgreSQL and the local SQS.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::Message;
use sellerops::ops::config::QueueUrls;
use sellerops::ops::crash_points::{Crash, CrashPoint, Crashed};
use sellerops::ops::outbox::{
    enqueue, publish_due, publish_due_until, PublishTally, WorkQueue, DEDUP_ATTRIBUTE,
};
use sellerops::systems::aws::AwsClients;
use sellerops_tests::{local_aws, unique_name};
use sqlx::PgPool;

async fn create_queue(aws: &AwsClients, prefix: &str) -> String {
    aws.sqs
        .create_queue()
        .queue_name(unique_name(prefix))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

/// Every message the queue holds, read until it answers empty.
async fn drain(aws: &AwsClients, queue_url: &str) -> Vec<Message> {
    let mut messages = Vec::new();
    loop {
        let batch = aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(600)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            return messages;
        }
        messages.extend(batch);
    }
}

fn dedup_id(message: &Message) -> String {
    message.message_attributes().unwrap()[DEDUP_ATTRIBUTE]
        .string_value()
        .unwrap()
        .to_owned()
}

async fn enqueue_labels(pool: &PgPool, orders: impl IntoIterator<Item = String>) {
    let mut tx = pool.begin().await.unwrap();
    for order in orders {
        let body = serde_json::json!({ "order": order });
        enqueue(&mut tx, WorkQueue::Label, &format!("label:{order}"), &body)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_follow_up_exists_only_if_its_transaction_commits(pool: PgPool) {
    let body = serde_json::json!({ "order": "BB-1" });

    let mut rolled_back = pool.begin().await.unwrap();
    enqueue(&mut rolled_back, WorkQueue::Accept, "accept:BB-1", &body)
        .await
        .unwrap();
    rolled_back.rollback().await.unwrap();

    let mut committed = pool.begin().await.unwrap();
    assert!(
        enqueue(&mut committed, WorkQueue::Accept, "accept:BB-2", &body)
            .await
            .unwrap()
    );
    assert!(
        !enqueue(&mut committed, WorkQueue::Accept, "accept:BB-2", &body)
            .await
            .unwrap()
    );
    committed.commit().await.unwrap();

    let ids: Vec<String> = sqlx::query_scalar("select dedup_id from ops.outbox")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ids, ["accept:BB-2"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_failed_publish_is_kept_and_sent_by_a_later_pass(pool: PgPool) {
    // Arrange: a real queue, but the publisher first runs without its URL configured.
    let aws = local_aws().await;
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(unique_name("outbox"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let body = serde_json::json!({ "order": "BB-7", "reason": "accepted" });
    let mut tx = pool.begin().await.unwrap();
    enqueue(&mut tx, WorkQueue::Label, "label:BB-7", &body)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Act 1: the send fails (the configured queue does not exist yet).
    let missing_queue = format!("{}-not-created", queue_url);
    let broken = QueueUrls {
        label: Some(missing_queue),
        ..QueueUrls::default()
    };
    let first = publish_due(&pool, &aws.sqs, &broken, 10).await.unwrap();

    // Assert 1: kept, with the reason and a later attempt time.
    assert_eq!(
        first,
        PublishTally {
            published: 0,
            deferred: 1
        }
    );
    let (attempts, last_error, waits): (i32, Option<String>, bool) =
        sqlx::query_as("select attempts, last_error, next_attempt_at > now() from ops.outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(last_error.is_some_and(|reason| !reason.is_empty()));
    assert!(waits);
    let not_due_yet = publish_due(&pool, &aws.sqs, &broken, 10).await.unwrap();
    assert_eq!(not_due_yet, PublishTally::default());

    // Act 2: the retry time comes and the queue is configured.
    sqlx::query("update ops.outbox set next_attempt_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let urls = QueueUrls {
        label: Some(queue_url.clone()),
        ..QueueUrls::default()
    };
    let second = publish_due(&pool, &aws.sqs, &urls, 10).await.unwrap();

    // Assert 2: sent once, marked published, carrying its dedup id.
    assert_eq!(
        second,
        PublishTally {
            published: 1,
            deferred: 0
        }
    );
    let again = publish_due(&pool, &aws.sqs, &urls, 10).await.unwrap();
    assert_eq!(again, PublishTally::default());
    let received = aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    let sent: serde_json::Value = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert_eq!(sent, body);
    let attribute = &received[0].message_attributes().unwrap()[DEDUP_ATTRIBUTE];
    assert_eq!(attribute.string_value(), Some("label:BB-7"));
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_publisher_sends_only_to_the_queues_it_is_given(pool: PgPool) {
    // Arrange: a label and a reply message; this publisher only knows the label queue.
    let aws = local_aws().await;
    let label_queue = aws
        .sqs
        .create_queue()
        .queue_name(unique_name("outbox-label"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let body = serde_json::json!({ "order": "BB-9" });
    enqueue(&mut tx, WorkQueue::Label, "label:BB-9", &body)
        .await
        .unwrap();
    enqueue(&mut tx, WorkQueue::Reply, "reply:M-9", &body)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let label_only = QueueUrls {
        label: Some(label_queue.clone()),
        ..QueueUrls::default()
    };

    // Act
    let tally = publish_due(&pool, &aws.sqs, &label_only, 10).await.unwrap();

    // Assert: the reply waits untouched for a publisher that may send it.
    assert_eq!(
        tally,
        PublishTally {
            published: 1,
            deferred: 0
        }
    );
    let (reply_attempts, reply_published): (i32, bool) = sqlx::query_as(
        "select attempts, published_at is not null from ops.outbox where dedup_id = 'reply:M-9'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((reply_attempts, reply_published), (0, false));
    aws.sqs
        .delete_queue()
        .queue_url(&label_queue)
        .send()
        .await
        .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_crash_between_the_send_and_its_mark_sends_the_message_again_once_the_claim_runs_out(
    pool: PgPool,
) {
    // Arrange
    let aws = local_aws().await;
    let queue_url = create_queue(&aws, "outbox-crash").await;
    let urls = QueueUrls {
        label: Some(queue_url.clone()),
        ..QueueUrls::default()
    };
    enqueue_labels(&pool, ["BB-21".to_owned()]).await;

    // Act 1: the publisher dies after SQS took the message, before marking it sent.
    let crashed = Crash::at(CrashPoint::OutboxSent)
        .during(publish_due(&pool, &aws.sqs, &urls, 10))
        .await;

    // Assert 1: sent, still unpublished, and claimed: a publisher running now skips it.
    assert_eq!(crashed.unwrap_err(), Crashed(CrashPoint::OutboxSent));
    let (published, claimed): (bool, bool) = sqlx::query_as(
        "select published_at is not null, next_attempt_at > now() + interval '1 minute'
         from ops.outbox",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((published, claimed), (false, true));
    let while_claimed = publish_due(&pool, &aws.sqs, &urls, 10).await.unwrap();
    assert_eq!(while_claimed, PublishTally::default());

    // Act 2: the claim runs out.
    sqlx::query("update ops.outbox set next_attempt_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let after_the_claim = publish_due(&pool, &aws.sqs, &urls, 10).await.unwrap();

    // Assert 2: sent a second time (at least once), now marked sent and left alone.
    assert_eq!(
        after_the_claim,
        PublishTally {
            published: 1,
            deferred: 0
        }
    );
    assert_eq!(
        publish_due(&pool, &aws.sqs, &urls, 10).await.unwrap(),
        PublishTally::default()
    );
    let received: Vec<String> = drain(&aws, &queue_url).await.iter().map(dedup_id).collect();
    assert_eq!(received, ["label:BB-21", "label:BB-21"]);
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn two_publishers_at_once_never_send_the_same_message_twice(pool: PgPool) {
    // Arrange: more messages than one claim takes, so both publishers claim, send and
    // claim again side by side.
    let aws = local_aws().await;
    let queue_url = create_queue(&aws, "outbox-race").await;
    let urls = QueueUrls {
        label: Some(queue_url.clone()),
        ..QueueUrls::default()
    };
    let orders: Vec<String> = (1..=35).map(|n| format!("BB-{n}")).collect();
    enqueue_labels(&pool, orders.clone()).await;

    // Act
    let (first, second) = tokio::join!(
        publish_due(&pool, &aws.sqs, &urls, 100),
        publish_due(&pool, &aws.sqs, &urls, 100),
    );
    let (first, second) = (first.unwrap(), second.unwrap());

    // Assert: each message sent once, by one of the two, and both took part.
    assert!(
        first.published > 0 && second.published > 0,
        "{first:?} {second:?}"
    );
    assert_eq!(first.published + second.published, 35);
    assert_eq!(first.deferred + second.deferred, 0);
    let received: Vec<String> = drain(&aws, &queue_url).await.iter().map(dedup_id).collect();
    let distinct: HashSet<&String> = received.iter().collect();
    assert_eq!((received.len(), distinct.len()), (35, 35));
    let unpublished: i64 =
        sqlx::query_scalar("select count(*) from ops.outbox where published_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(unpublished, 0);
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_pass_short_of_time_sends_nothing_and_leaves_the_messages_due(pool: PgPool) {
    // Arrange: less than one send's worst case left.
    let aws = local_aws().await;
    let queue_url = create_queue(&aws, "outbox-late").await;
    let urls = QueueUrls {
        label: Some(queue_url.clone()),
        ..QueueUrls::default()
    };
    enqueue_labels(&pool, ["BB-31".to_owned()]).await;
    let deadline = Instant::now() + Duration::from_secs(3);

    // Act
    let tally = publish_due_until(&pool, &aws.sqs, &urls, 10, Some(deadline))
        .await
        .unwrap();

    // Assert: nothing sent, nothing claimed: the next pass sends it at once.
    assert_eq!(tally, PublishTally::default());
    let (attempts, due): (i32, bool) =
        sqlx::query_as("select attempts, next_attempt_at <= now() from ops.outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((attempts, due), (0, true));
    assert!(drain(&aws, &queue_url).await.is_empty());
    let next = publish_due(&pool, &aws.sqs, &urls, 10).await.unwrap();
    assert_eq!(next.published, 1);
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}
