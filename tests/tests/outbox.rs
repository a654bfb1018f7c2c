//! The outbox against a real PostgreSQL and the local SQS.

use sellerops::ops::config::QueueUrls;
use sellerops::ops::outbox::{enqueue, publish_due, PublishTally, WorkQueue, DEDUP_ATTRIBUTE};
use sellerops_tests::{local_aws, unique_name};
use sqlx::PgPool;

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
