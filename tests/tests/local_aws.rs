//! The S3, SQS and Secrets Manager clients against the local stack's moto server.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use secrecy::ExposeSecret;
use sellerops::ops::config::{FetchShippingLabelSettings, FromEnvironment};
use sellerops::systems::aws::{decode_notification_key, load_sdk_config, SecretsManager};
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

/// Creates a secret of the test's own in the local Secrets Manager; returns its ARN.
async fn create_local_secret(
    client: &aws_sdk_secretsmanager::Client,
    prefix: &str,
    value: &str,
) -> String {
    client
        .create_secret()
        .name(format!("sellerops-tests/{}", unique_name(prefix)))
        .secret_string(value)
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("secret ARN")
}

#[tokio::test]
async fn a_function_reads_its_secrets_from_local_secrets_manager_at_cold_start() {
    // Arrange: the Mirakl key as a plain secret, the Canada Post credentials as one JSON
    // secret, both named by ARN as the template names them.
    let endpoint = stack_var("AWS_ENDPOINT_URL");
    let aws_config = load_sdk_config().await;
    let admin = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&aws_config)
            .endpoint_url(&endpoint)
            .build(),
    );
    let mirakl_arn = create_local_secret(&admin, "mirakl-api-key", "mirakl-key-from-moto").await;
    let canadapost_arn = create_local_secret(
        &admin,
        "canadapost",
        r#"{"username":"cp-user-from-moto","password":"cp-password-from-moto"}"#,
    )
    .await;
    let username_ref = format!("{canadapost_arn}#username");
    let password_ref = format!("{canadapost_arn}#password");
    let vars: HashMap<&str, &str> = HashMap::from([
        (
            "DATABASE_URL",
            "postgres://app:db-password@db.internal/sellerops",
        ),
        ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
        ("MIRAKL_API_KEY_SECRET_ARN", mirakl_arn.as_str()),
        ("CANADAPOST_BASE_URL", "https://ct.soa-gw.canadapost.ca"),
        ("CANADAPOST_USERNAME_SECRET_ARN", username_ref.as_str()),
        ("CANADAPOST_PASSWORD_SECRET_ARN", password_ref.as_str()),
        ("CANADAPOST_CUSTOMER_NUMBER", "0001234567"),
        ("LABELS_BUCKET", "labels"),
        ("SENDER_COMPANY", "Northern Refurb Ltd"),
        ("SENDER_PHONE", "613-555-0142"),
        ("SENDER_ADDRESS_LINE1", "88 Bank Street"),
        ("SENDER_CITY", "Ottawa"),
        ("SENDER_PROVINCE", "ON"),
        ("SENDER_POSTAL_CODE", "K1P5N2"),
        ("SENDER_EMAIL", "shipping@northernrefurb.example"),
    ]);
    let secrets_manager = SecretsManager::from_sdk_config(&aws_config, Some(&endpoint));

    // Act
    let settings = FetchShippingLabelSettings::from_lookup_fetching(
        |name| vars.get(name).map(|value| (*value).to_owned()),
        &secrets_manager,
    )
    .await
    .expect("settings from Secrets Manager");

    // Assert
    assert_eq!(
        settings.mirakl.api_key.expose_secret(),
        "mirakl-key-from-moto"
    );
    assert_eq!(
        settings.canadapost.username.expose_secret(),
        "cp-user-from-moto"
    );
    assert_eq!(
        settings.canadapost.password.expose_secret(),
        "cp-password-from-moto"
    );
    let shown = format!("{settings:?}");
    for value in [
        "mirakl-key-from-moto",
        "cp-user-from-moto",
        "cp-password-from-moto",
    ] {
        assert!(!shown.contains(value), "{value} shown in {shown}");
    }
    for arn in [mirakl_arn, canadapost_arn] {
        admin
            .delete_secret()
            .secret_id(arn)
            .force_delete_without_recovery(true)
            .send()
            .await
            .expect("delete secret");
    }
}

#[tokio::test]
async fn a_secret_missing_from_secrets_manager_is_named_in_the_configuration_error() {
    // Arrange
    let endpoint = stack_var("AWS_ENDPOINT_URL");
    let aws_config = load_sdk_config().await;
    let secrets_manager = SecretsManager::from_sdk_config(&aws_config, Some(&endpoint));
    let missing = format!("sellerops-tests/{}", unique_name("never-created"));
    let vars: HashMap<&str, &str> = HashMap::from([
        ("DATABASE_URL", "postgres://app@db.internal/sellerops"),
        ("DATABASE_PASSWORD_SECRET_ARN", missing.as_str()),
    ]);

    // Act
    let err = sellerops::ops::config::DatabaseSettings::from_lookup_fetching(
        |name| vars.get(name).map(|value| (*value).to_owned()),
        &secrets_manager,
    )
    .await
    .expect_err("a missing secret stops the cold start");

    // Assert
    assert_eq!(err.variables(), ["DATABASE_PASSWORD_SECRET_ARN"]);
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
}
