//! The S3 and SQS clients against the local stack's moto server.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use sellerops::systems::aws::decode_notification_key;
use sellerops_tests::{create_local_bucket, local_aws, stack_var, unique_name};

#[tokio::test]
async fn an_object_round_trips_through_local_s3() {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_local_bucket(&aws, "roundtrip").await;
    let body = "order_ref,sku\nA-1,SKU-1\n";

    // Act
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key("incoming/2026/orders file.csv")
        .body(ByteStream::from_static(body.as_bytes()))
        .send()
        .await
        .expect("put object");
    let fetched = aws
        .s3
        .get_object()
        .bucket(&bucket)
        .key("incoming/2026/orders file.csv")
        .send()
        .await
        .expect("get object");
    let bytes = fetched
        .body
        .collect()
        .await
        .expect("read body")
        .into_bytes();

    // Assert
    assert_eq!(bytes.as_ref(), body.as_bytes());
}

#[tokio::test]
async fn a_message_round_trips_through_local_sqs() {
    // Arrange
    let aws = local_aws().await;
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(unique_name("roundtrip"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let body = serde_json::json!({ "order_id": "BB-123-A", "step": "accept" }).to_string();

    // Act
    aws.sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body(&body)
        .send()
        .await
        .expect("send");
    let received = aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(5)
        .send()
        .await
        .expect("receive");

    // Assert
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body.as_deref(), Some(body.as_str()));
    aws.sqs
        .delete_message()
        .queue_url(&queue_url)
        .receipt_handle(
            messages[0]
                .receipt_handle
                .as_deref()
                .expect("receipt handle"),
        )
        .send()
        .await
        .expect("delete");
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .expect("delete queue");
}

#[tokio::test]
async fn every_work_queue_redrives_to_its_dead_letter_queue() {
    let aws = local_aws().await;
    for var in [
        "INGEST_QUEUE_URL",
        "ACCEPT_QUEUE_URL",
        "LABEL_QUEUE_URL",
        "REPLY_QUEUE_URL",
        "PRICING_QUEUE_URL",
    ] {
        let queue_url = stack_var(var);
        let attributes = aws
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{var}: {err:?}"))
            .attributes
            .unwrap_or_default();
        let policy: serde_json::Value = serde_json::from_str(
            attributes
                .get(&QueueAttributeName::RedrivePolicy)
                .unwrap_or_else(|| panic!("{var} has no redrive policy")),
        )
        .expect("redrive policy is JSON");
        let queue_name = queue_url.rsplit('/').next().expect("queue name");
        assert!(
            policy["deadLetterTargetArn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(&format!(":{queue_name}-dlq"))),
            "{var}: {policy}"
        );
        assert_eq!(
            policy["maxReceiveCount"].to_string().trim_matches('"'),
            "5",
            "{var}"
        );
    }
}

#[tokio::test]
async fn an_order_file_dropped_in_the_orders_bucket_notifies_the_ingest_queue() {
    // Arrange: the provisioned wiring, orders bucket → ingest queue.
    let aws = local_aws().await;
    let bucket = stack_var("ORDERS_BUCKET");
    let queue_url = stack_var("INGEST_QUEUE_URL");
    let key = format!("{}/orders.csv", unique_name("notification-check"));

    // Act
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(ByteStream::from_static(b"order_ref\n"))
        .send()
        .await
        .expect("put object");

    // Assert: the notification for this key arrives (other tests may leave others).
    let mut found = false;
    for _ in 0..10 {
        let received = aws
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for message in received.messages.unwrap_or_default() {
            let body: serde_json::Value =
                serde_json::from_str(message.body.as_deref().unwrap_or("{}")).expect("json");
            let notified_key = body["Records"][0]["s3"]["object"]["key"]
                .as_str()
                .unwrap_or("");
            let ours = decode_notification_key(notified_key).ok().as_deref() == Some(key.as_str());
            if ours {
                assert_eq!(body["Records"][0]["s3"]["bucket"]["name"], bucket.as_str());
                assert!(body["Records"][0]["eventName"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("ObjectCreated")));
                aws.sqs
                    .delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(message.receipt_handle.as_deref().expect("receipt"))
                    .send()
                    .await
                    .expect("delete");
                found = true;
            }
        }
        if found {
            break;
        }
    }
    assert!(
        found,
        "no S3 notification for {key} reached the ingest queue"
    );
    aws.s3
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("delete object");
}
