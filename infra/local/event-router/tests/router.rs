//! The router against the local stack's SQS (moto) with wiremock standing in for the
//! Lambda endpoint. Each test makes its own queues.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client as SqsClient;
use sellerops_event_router::drain;
use sellerops_event_router::lambda::LambdaEndpoint;
use sellerops_event_router::router::{Mapping, Router};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FUNCTION: &str = "accept-orders";

async fn sqs() -> SqsClient {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: start the local stack with `infra/local/up.sh` and \
         `source infra/local/env.sh` (or run `make test`)"
    );
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    SqsClient::new(&config)
}

/// A queue with a DLQ after `max_receives`; returns (queue URL, DLQ URL).
async fn queue_with_dlq(sqs: &SqsClient, max_receives: u32) -> (String, String) {
    let name = format!("router-{}", uuid::Uuid::new_v4().simple());
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    (queue, dlq)
}

async fn send(sqs: &SqsClient, queue: &str, body: &str) {
    sqs.send_message()
        .queue_url(queue)
        .message_body(body)
        .message_attributes(
            "channel",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("bestbuy_ca")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Bodies of the messages in a queue (making them visible again at once).
async fn bodies(sqs: &SqsClient, queue: &str) -> Vec<(String, String)> {
    let received = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap();
    received
        .messages()
        .iter()
        .map(|m| {
            (
                m.body().unwrap_or("").to_owned(),
                m.attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// A Lambda stand-in that fails every record whose body contains "fail".
struct FailBodiesContainingFail;

impl Respond for FailBodiesContainingFail {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let event: Value = serde_json::from_slice(&request.body).unwrap();
        let failures: Vec<Value> = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["body"].as_str().unwrap().contains("fail"))
            .map(|r| json!({"itemIdentifier": r["messageId"]}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"batchItemFailures": failures}))
    }
}

async fn router(lambda: &MockServer, retry_after: Option<Duration>) -> Router {
    Router::new(
        sqs().await,
        LambdaEndpoint::new(&lambda.uri(), Duration::from_secs(10)).unwrap(),
        "ca-central-1",
        retry_after,
    )
}

#[tokio::test]
async fn succeeded_messages_are_deleted_and_reported_failures_stay_for_redelivery() {
    // Arrange
    let sqs = sqs().await;
    let (queue, _) = queue_with_dlq(&sqs, 5).await;
    send(&sqs, &queue, "ok-1").await;
    send(&sqs, &queue, "please fail").await;
    send(&sqs, &queue, "ok-2").await;
    let lambda = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/2015-03-31/functions/{FUNCTION}/invocations"
        )))
        .respond_with(FailBodiesContainingFail)
        .mount(&lambda)
        .await;
    let router = router(&lambda, None).await;
    let mut route = router
        .route(
            Mapping {
                queue_url: queue.clone(),
                function: FUNCTION.to_owned(),
            },
            10,
        )
        .await
        .unwrap();

    // Act
    let report = router
        .poll(&mut route, Duration::from_secs(1))
        .await
        .unwrap();

    // Assert
    assert_eq!(
        (report.received, report.succeeded, report.failed),
        (3, 2, 1)
    );
    let (visible, in_flight) = router.queue_depth(&queue).await.unwrap();
    assert_eq!(
        (visible, in_flight),
        (0, 1),
        "the failed message waits out its visibility timeout"
    );
    let requests = lambda.received_requests().await.unwrap();
    let event: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let record = &event["Records"][0];
    assert_eq!(record["eventSource"], json!("aws:sqs"));
    assert!(record["eventSourceARN"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:sqs:"));
    assert!(record["eventSourceARN"]
        .as_str()
        .unwrap()
        .ends_with(queue.rsplit('/').next().unwrap()));
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], json!("1"));
    assert_eq!(
        record["messageAttributes"]["channel"]["stringValue"],
        json!("bestbuy_ca")
    );
    assert_eq!(record["awsRegion"], json!("ca-central-1"));
    assert!(record["receiptHandle"].is_string());
}

#[tokio::test]
async fn a_function_error_leaves_the_whole_batch() {
    // Arrange
    let sqs = sqs().await;
    let (queue, _) = queue_with_dlq(&sqs, 5).await;
    send(&sqs, &queue, "a").await;
    send(&sqs, &queue, "b").await;
    let lambda = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                json!({"errorType": "Error", "errorMessage": "database unavailable"}),
            ),
        )
        .mount(&lambda)
        .await;
    let router = router(&lambda, Some(Duration::ZERO)).await;
    let mut route = router
        .route(
            Mapping {
                queue_url: queue.clone(),
                function: FUNCTION.to_owned(),
            },
            10,
        )
        .await
        .unwrap();

    // Act
    let report = router
        .poll(&mut route, Duration::from_secs(1))
        .await
        .unwrap();

    // Assert
    assert_eq!((report.succeeded, report.failed), (0, 2));
    let left: HashSet<String> = bodies(&sqs, &queue)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(left, HashSet::from(["a".to_owned(), "b".to_owned()]));
}

#[tokio::test]
async fn a_message_that_keeps_failing_ends_in_the_dlq_after_the_maximum_receives() {
    // Arrange
    let sqs = sqs().await;
    let (queue, dlq) = queue_with_dlq(&sqs, 3).await;
    send(&sqs, &queue, "always fail").await;
    send(&sqs, &queue, "fine").await;
    let lambda = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(FailBodiesContainingFail)
        .mount(&lambda)
        .await;
    let router = router(&lambda, Some(Duration::ZERO)).await;
    let route = router
        .route(
            Mapping {
                queue_url: queue.clone(),
                function: FUNCTION.to_owned(),
            },
            10,
        )
        .await
        .unwrap();

    // Act
    let summary = drain(&router, &mut [route], Duration::from_secs(60))
        .await
        .unwrap();

    // Assert
    assert!(summary.finished);
    let report = summary.routes[0].1;
    assert_eq!(report.succeeded, 1);
    assert_eq!(
        report.failed, 3,
        "one failure per receive, up to maxReceiveCount"
    );
    assert!(bodies(&sqs, &queue).await.is_empty());
    let dead = bodies(&sqs, &dlq).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "always fail");
}

#[tokio::test]
async fn a_function_the_endpoint_does_not_have_stops_its_route_and_releases_the_messages() {
    // Arrange
    let sqs = sqs().await;
    let (queue, _) = queue_with_dlq(&sqs, 5).await;
    send(&sqs, &queue, "waiting for its function").await;
    let lambda = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"title": "Missing function", "detail": "that function doesn't exist as a binary in your project"}),
        ))
        .mount(&lambda)
        .await;
    let router = router(&lambda, None).await;
    let mut route = router
        .route(
            Mapping {
                queue_url: queue.clone(),
                function: "not-built".to_owned(),
            },
            10,
        )
        .await
        .unwrap();

    // Act
    router
        .poll(&mut route, Duration::from_secs(1))
        .await
        .unwrap();

    // Assert
    assert!(route.disabled);
    assert_eq!(
        bodies(&sqs, &queue).await.len(),
        1,
        "the message is visible again at once"
    );
}
